// pop3-fetch: which exit code an error means, and how to explain it.
#ifndef POP3_FETCH_ERRORS_HPP
#define POP3_FETCH_ERRORS_HPP

#include "options.hpp"

#include <pop3/error.hpp>

#include <asio/error.hpp>
#include <asio/ssl/error.hpp>

#include <openssl/ssl.h>

#include <string>
#include <system_error>

namespace pop3_fetch {

/// The exit code and JSON "category" of an error.
struct error_class {
    exit_code code = exit_code::failure;
    const char* category = "internal";
};

inline error_class classify(const std::error_code& ec)
{
    if (ec.category() == pop3::error_category()) {
        switch (static_cast<pop3::errc>(ec.value())) {
        case pop3::errc::authentication_failed:
        case pop3::errc::mechanism_unavailable:
        case pop3::errc::server_signature_mismatch:
        case pop3::errc::sasl_protocol_error: return {exit_code::authentication, "authentication"};
        case pop3::errc::tls_required:
        case pop3::errc::insecure_authentication:
        case pop3::errc::certificate_untrusted:
        case pop3::errc::certificate_name_mismatch:
        case pop3::errc::certificate_expired:
        case pop3::errc::host_name_required:
        case pop3::errc::ca_certificates_unreadable: return {exit_code::tls, "tls"};
        case pop3::errc::timeout:
        case pop3::errc::unexpected_eof:
        case pop3::errc::session_broken: return {exit_code::network, "network"};
        case pop3::errc::server_error:
        case pop3::errc::mailbox_in_use:
        case pop3::errc::login_delay:
        case pop3::errc::temporary_failure:
        case pop3::errc::permanent_failure:
        case pop3::errc::utf8_required:
        case pop3::errc::malformed_response:
        case pop3::errc::line_too_long:
        case pop3::errc::not_supported: return {exit_code::server, "server"};
        case pop3::errc::invalid_argument: return {exit_code::usage, "usage"};
        case pop3::errc::wrong_state:
        case pop3::errc::operation_in_progress: return {exit_code::failure, "internal"};
        }
        return {exit_code::failure, "internal"};
    }
    // A peer that closes a TLS session without close_notify is a network event; every
    // other error from the TLS layer (verification, handshake, alerts) is a TLS failure.
    if (ec == asio::ssl::error::stream_truncated) return {exit_code::network, "network"};
    if (ec.category() == asio::error::get_ssl_category() ||
        ec.category() == asio::ssl::error::get_stream_category())
        return {exit_code::tls, "tls"};
    // Sockets and name resolution: everything else from Asio/the OS during the session.
    if (ec.category() == asio::error::get_system_category() ||
        ec.category() == asio::error::get_netdb_category() ||
        ec.category() == asio::error::get_addrinfo_category() ||
        ec.category() == asio::error::get_misc_category() ||
        ec.category() == std::system_category() || ec.category() == std::generic_category())
        return {exit_code::network, "network"};
    return {exit_code::failure, "internal"};
}

/// What to do about an error with this tool's options, when the error's own message does
/// not say it already. `connecting`: the error came from connect (before login).
inline std::string hint(const std::error_code& ec, const options& o, bool connecting,
                        long verify_result)
{
    if (ec == pop3::errc::certificate_name_mismatch)
        return "the certificate does not name " + o.host +
               "; use --host with a name the certificate lists";
    if (ec == pop3::errc::certificate_untrusted || ec == pop3::errc::certificate_expired) {
        std::string h = "OpenSSL says: ";
        h += X509_verify_cert_error_string(verify_result);
        if (ec == pop3::errc::certificate_untrusted)
            h += o.cafile.empty() ? "; if the server uses a private CA, pass it with --cafile FILE"
                                  : "; is " + o.cafile + " the CA that signed it?";
        return h;
    }
    if (ec == pop3::errc::tls_required)
        return "use --tls implicit (POP3S, usually port 995), or --tls none";
    if (ec == pop3::errc::insecure_authentication)
        return "use TLS, or --allow-plaintext if the network is trusted";
    if (ec == pop3::errc::not_supported && !connecting)
        return "the server does not offer unique IDs (UIDL), which pop3-fetch needs to know "
               "what is new and what it may delete";
    if (ec == pop3::errc::mechanism_unavailable)
        return "see what the server offers with --trace, and choose with --auth";
    if (ec == asio::error::connection_refused)
        return "nothing listens on " + o.host + " port " + o.port + "; check --host and --port";
    if (ec == pop3::errc::timeout) {
        if (connecting && o.tls_mode() != pop3::tls_mode::implicit)
            return "no greeting: if port " + o.port +
                   " speaks TLS from the start (POP3S), use --tls implicit";
        return "raise --timeout for a slow server";
    }
    return {};
}

} // namespace pop3_fetch

#endif // POP3_FETCH_ERRORS_HPP
