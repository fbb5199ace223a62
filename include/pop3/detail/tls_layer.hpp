// pop3/detail/tls_layer.hpp: every TLS decision of a session, in one place.
//
// The drivers call this adaptor at the three moments TLS matters: before a new connection
// (a used OpenSSL session is replaced by a fresh one), at the handshake action (SNI, host
// name, verify mode; or a refusal), and when a handshake fails (which certificate check
// ended it, and OpenSSL's reason). Streams without TLS get the primary template, which
// does nothing.
#ifndef POP3_DETAIL_TLS_LAYER_HPP
#define POP3_DETAIL_TLS_LAYER_HPP

#include <pop3/detail/asio.hpp>
#include <pop3/detail/stream_traits.hpp>
#include <pop3/error.hpp>
#include <pop3/tls.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <new>
#include <system_error>
#include <type_traits>
#include <utility>

namespace pop3::detail {

/// The pop3 error for OpenSSL's verdict on a server certificate (`SSL_get_verify_result`).
inline error_code certificate_failure(long verify_result)
{
    switch (verify_result) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH: return errc::certificate_name_mismatch;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID: return errc::certificate_expired;
    default: return errc::certificate_untrusted;
    }
}

/// True when `host` is an IPv4 or IPv6 literal rather than a DNS name.
inline bool is_ip_literal(const std::string& host)
{
    const std::unique_ptr<ASN1_OCTET_STRING, decltype(&ASN1_OCTET_STRING_free)> ip(
        a2i_IPADDRESS(host.c_str()), &ASN1_OCTET_STRING_free);
    return ip != nullptr;
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

/// After a handshake someone else did: is the peer's certificate trusted and for `host`?
inline error_code check_peer_after_handshake(SSL* ssl, const std::string& host)
{
    const std::unique_ptr<X509, decltype(&X509_free)> peer(SSL_get1_peer_certificate(ssl),
                                                           &X509_free);
    if (!peer) return errc::certificate_untrusted;
    // OpenSSL verifies the chain even under SSL_VERIFY_NONE and records its verdict.
    const long verdict = SSL_get_verify_result(ssl);
    if (verdict != X509_V_OK) return certificate_failure(verdict);
    const int matched =
        is_ip_literal(host)
            ? X509_check_ip_asc(peer.get(), host.c_str(), 0)
            : X509_check_host(peer.get(), host.c_str(), host.size(),
                              X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr);
    return matched == 1 ? error_code{} : make_error_code(errc::certificate_name_mismatch);
}

/// What a client without TLS takes where a TLS-capable one takes a `tls_mode`: it only means
/// "none", and giving it a `tls_mode` (even `none`) fails to compile with the reason.
struct no_tls_mode {
    constexpr no_tls_mode() noexcept = default;
    template <class Mode, class = std::enable_if_t<std::is_same_v<Mode, tls_mode>>>
    constexpr no_tls_mode(Mode) noexcept // NOLINT: implicit, so that the assertion explains
    {
        static_assert(!std::is_same_v<Mode, tls_mode>,
                      "a tls_mode needs a TLS-capable client, "
                      "pop3::client<ssl::stream<tcp::socket>>; a plain TCP client has no TLS: "
                      "call connect(host, service) or read_greeting() without a mode");
    }
    constexpr operator tls_mode() const noexcept { return tls_mode::none; }
};

/// True for the types a client's `mode` argument may have: a completion token never is one.
template <class T>
inline constexpr bool is_tls_mode_argument_v =
    std::is_same_v<std::decay_t<T>, tls_mode> || std::is_same_v<std::decay_t<T>, no_tls_mode>;

/// No TLS on this stream type: nothing to decide.
template <class Stream> class tls_layer {
public:
    static constexpr bool available = false;
    void set_check(certificate_check) noexcept {}
    void before_connect(Stream&) {}
    bool established(Stream&) const noexcept { return false; }
    error_code before_handshake(Stream&, const std::string&, bool& already_done)
    {
        already_done = false;
        return errc::not_supported;
    }
    error_code handshake_failure(Stream&, error_code ec) const { return ec; }
    std::string failure_reason(Stream&, const error_code&) const { return {}; }
};

/// TLS over `Next`: SNI, host name and chain verification, and fresh state per connection.
template <class Next> class tls_layer<net::ssl::stream<Next>> {
    using stream_type = net::ssl::stream<Next>;

public:
    static constexpr bool available = true;

    void set_check(certificate_check check) noexcept { check_ = check; }

    /// A stream that already carried a TLS session gets a fresh OpenSSL session from the same
    /// context (and keeps its next layer): reusing the old one would skip the handshake.
    void before_connect(stream_type& stream)
    {
        SSL* used = stream.native_handle();
        if (SSL_in_before(used)) return;
        SSL_CTX* context = SSL_get_SSL_CTX(used);
        SSL_CTX_up_ref(context);                  // the owner below releases this reference
        net::ssl::context owner(context);         // SSL_new in the stream takes its own
        stream_type fresh(std::move(stream.next_layer()), owner);
        // Not move assignment: Asio 1.22's ssl engine overwrites its SSL* without freeing it
        // (a leak per reconnect, caught by LeakSanitizer), and Asio before 1.19 (Boost 1.74)
        // has none. Destroying and move-constructing in place works with every version;
        // the move constructor only moves a socket and pointers, so it cannot throw.
        static_assert(std::is_nothrow_move_constructible_v<Next>);
        stream.~stream_type();
        ::new (static_cast<void*>(std::addressof(stream))) stream_type(std::move(fresh));
    }

    /// True when a TLS session is up on the stream (a handshake the caller did).
    bool established(stream_type& stream) const noexcept
    {
        return SSL_is_init_finished(stream.native_handle()) == 1;
    }

    /// Called at the handshake action. Prepares SNI and verification of `server_name` (from
    /// `connect`, or given by the caller who connected the stream), or refuses to start TLS
    /// without a name to verify. `already_done`: the caller did the handshake, which is
    /// accepted only once its certificate has been checked the same way.
    error_code before_handshake(stream_type& stream, const std::string& server_name,
                                bool& already_done)
    {
        already_done = established(stream);
        SSL* ssl = stream.native_handle();
        if (check_ == certificate_check::insecure_do_not_verify) {
            if (!already_done) SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
            return {};
        }
        if (server_name.empty()) return errc::host_name_required;
        if (already_done) return check_peer_after_handshake(ssl, server_name);
        // RFC 6066 section 3: SNI carries DNS names only, never an address literal.
        if (!is_ip_literal(server_name) &&
            SSL_set_tlsext_host_name(ssl, server_name.c_str()) != 1)
            return errc::invalid_argument;
        // OpenSSL's own host check (not a verify callback), so that a mismatch is reported
        // as X509_V_ERR_HOSTNAME_MISMATCH and becomes errc::certificate_name_mismatch.
        if (!verify_host_during_handshake(ssl, server_name)) return errc::invalid_argument;
        SSL_set_verify(ssl, SSL_VERIFY_PEER, SSL_get_verify_callback(ssl));
        return {};
    }

    /// A failed handshake, named after the certificate check when that is what failed.
    error_code handshake_failure(stream_type& stream, error_code ec) const
    {
        // Only when the certificate was checked: with verification off OpenSSL still
        // records its verdict, but that verdict did not end the handshake.
        SSL* ssl = stream.native_handle();
        const long verify_result = SSL_get_verify_result(ssl);
        if ((SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) != 0 && verify_result != X509_V_OK)
            return certificate_failure(verify_result);
        if (is_plaintext_reply(ec)) return errc::tls_not_spoken;
        return ec;
    }

    /// OpenSSL's words for the certificate verdict behind `ec` ("certificate has expired"),
    /// for the error's detail; empty when `ec` is not about the chain.
    std::string failure_reason(stream_type& stream, const error_code& ec) const
    {
        if (ec != errc::certificate_untrusted && ec != errc::certificate_expired &&
            ec != errc::certificate_name_mismatch)
            return {};
        const long verify_result = SSL_get_verify_result(stream.native_handle());
        if (verify_result == X509_V_OK) return {};
        return X509_verify_cert_error_string(verify_result);
    }

private:
    /// What OpenSSL reports when the first "record" it reads is text, such as a POP3
    /// greeting ("+OK ..." read as a record header: type '+', version "OK").
    static bool is_plaintext_reply(const error_code& ec) noexcept
    {
        if (ec.category() != net::error::get_ssl_category()) return false;
        const auto reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
        return reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_UNKNOWN_PROTOCOL ||
               reason == SSL_R_PACKET_LENGTH_TOO_LONG || reason == SSL_R_HTTP_REQUEST;
    }

    certificate_check check_ = certificate_check::verify;
};

} // namespace pop3::detail

#endif // POP3_DETAIL_TLS_LAYER_HPP
