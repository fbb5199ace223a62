// pop3/tls.hpp: a TLS client context with safe defaults.
#ifndef POP3_TLS_HPP
#define POP3_TLS_HPP

#include <pop3/detail/asio.hpp>
#include <pop3/error.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <string>
#include <system_error>

namespace pop3 {

/// Where to find the certificates that may sign a server's certificate.
struct tls_options {
    /// A PEM file of trusted CA certificates. Empty: the system trust store.
    std::string ca_file;
    /// A directory of hashed CA certificates (as made by `openssl rehash`).
    std::string ca_directory;
};

/// A client context for `client<net::ssl::stream<net::ip::tcp::socket>>`: TLS 1.2 or
/// newer, trusting the system store (or the given CA file/directory). Certificate chain
/// and host name are verified by `client::connect` on every connection.
/// @throws std::system_error when a CA file or directory cannot be loaded.
inline net::ssl::context make_tls_context(const tls_options& options = {})
{
    net::ssl::context context(net::ssl::context::tls_client);
    context.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                        net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                        net::ssl::context::no_tlsv1_1);
    if (options.ca_file.empty() && options.ca_directory.empty()) context.set_default_verify_paths();
    if (!options.ca_file.empty()) context.load_verify_file(options.ca_file);
    if (!options.ca_directory.empty()) context.add_verify_path(options.ca_directory);
    context.set_verify_mode(net::ssl::verify_peer);
    return context;
}

namespace detail {

/// The pop3 error for OpenSSL's verdict on a server certificate (`SSL_get_verify_result`).
inline std::error_code certificate_failure(long verify_result)
{
    switch (verify_result) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH: return errc::certificate_name_mismatch;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID: return errc::certificate_expired;
    default: return errc::certificate_untrusted;
    }
}

/// Asks OpenSSL to check the certificate against `host` (an IP address or a DNS name, no
/// partial wildcards such as `w*.example.com`) during the handshake; false if it cannot.
inline bool verify_host_during_handshake(SSL* ssl, const std::string& host)
{
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    // Each call replaces what an earlier connect on the same stream asked for.
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1)
        return X509_VERIFY_PARAM_set1_host(param, nullptr, 0) == 1;
    return X509_VERIFY_PARAM_set1_ip(param, nullptr, 0) == 1 &&
           X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) == 1;
}

} // namespace detail

/// Whether `connect` checks the server's certificate.
enum class certificate_check {
    verify,                 ///< chain and host name are verified (the default)
    insecure_do_not_verify, ///< anyone can impersonate the server: for tests only
};

} // namespace pop3

#endif // POP3_TLS_HPP
