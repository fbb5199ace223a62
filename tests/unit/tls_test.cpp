// TLS helpers that need no network: how OpenSSL's verdict on a certificate becomes a pop3 error,
// and how the expected host is handed to OpenSSL. The handshakes themselves are tested against
// Dovecot (tests/integration/dovecot_auth_test.cpp).
#include "../catch.hpp"

#include <pop3/detail/tls_layer.hpp>
#include <pop3/tls.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <memory>
#include <string>

TEST_CASE("OpenSSL's certificate verdicts become pop3 errors that say what is wrong")
{
    using pop3::detail::certificate_failure;
    CHECK(certificate_failure(X509_V_ERR_HOSTNAME_MISMATCH) ==
          pop3::errc::certificate_name_mismatch);
    CHECK(certificate_failure(X509_V_ERR_IP_ADDRESS_MISMATCH) ==
          pop3::errc::certificate_name_mismatch);
    CHECK(certificate_failure(X509_V_ERR_CERT_HAS_EXPIRED) == pop3::errc::certificate_expired);
    CHECK(certificate_failure(X509_V_ERR_CERT_NOT_YET_VALID) == pop3::errc::certificate_expired);
    for (long untrusted :
         {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
          X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, X509_V_ERR_CERT_REVOKED, X509_V_ERR_UNSPECIFIED}) {
        INFO(X509_verify_cert_error_string(untrusted));
        CHECK(certificate_failure(untrusted) == pop3::errc::certificate_untrusted);
    }
    const std::string message =
        pop3::make_error_code(pop3::errc::certificate_name_mismatch).message();
    CHECK(message.find("host name") != std::string::npos);
}

TEST_CASE("the expected host goes to OpenSSL as an IP address or a DNS name")
{
    const std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                                &SSL_CTX_free);
    REQUIRE(ctx);
    const std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), &SSL_free);
    REQUIRE(ssl);
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());

    const auto expected_ip = [&]() -> std::string {
        char* ip = X509_VERIFY_PARAM_get1_ip_asc(param);
        const std::string text = ip ? ip : "";
        OPENSSL_free(ip);
        return text;
    };
    const auto expected_host = [&]() -> std::string {
        const char* host = X509_VERIFY_PARAM_get0_host(param, 0);
        return host ? host : "";
    };

    REQUIRE(pop3::detail::verify_host_during_handshake(ssl.get(), "127.0.0.1"));
    CHECK(expected_ip() == "127.0.0.1");
    CHECK(expected_host().empty());
    CHECK((X509_VERIFY_PARAM_get_hostflags(param) & X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS) != 0);

    // A later connect to a name replaces the address (and the other way round).
    REQUIRE(pop3::detail::verify_host_during_handshake(ssl.get(), "pop.example.com"));
    CHECK(expected_host() == "pop.example.com");
    CHECK(expected_ip().empty());

    REQUIRE(pop3::detail::verify_host_during_handshake(ssl.get(), "::1"));
    CHECK(expected_ip() == "0:0:0:0:0:0:0:1"); // OpenSSL spells IPv6 out in full
    CHECK(expected_host().empty());
}
