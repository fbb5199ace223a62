// pop3-fetch: which exit code an error means, and how to explain it.
#ifndef POP3_FETCH_ERRORS_HPP
#define POP3_FETCH_ERRORS_HPP

#include "../net.hpp"
#include "options.hpp"

#include <pop3/error.hpp>

#include <string>
#include <system_error>
#include <vector>

namespace pop3_fetch {

/// The exit code and JSON "category" of an error.
struct error_class {
    exit_code code = exit_code::failure;
    const char* category = "internal";
};

inline error_class classify(const pop3::error_code& ec)
{
    if (ec.category() == pop3::error_category()) {
        switch (static_cast<pop3::errc>(ec.value())) {
        case pop3::errc::authentication_failed:
        case pop3::errc::auth_command_rejected:
        case pop3::errc::mechanism_unavailable:
        case pop3::errc::server_signature_mismatch:
        case pop3::errc::sasl_protocol_error: return {exit_code::authentication, "authentication"};
        case pop3::errc::tls_required:
        case pop3::errc::insecure_authentication:
        case pop3::errc::certificate_untrusted:
        case pop3::errc::certificate_name_mismatch:
        case pop3::errc::certificate_expired:
        case pop3::errc::host_name_required:
        case pop3::errc::tls_not_spoken:
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
    if (ec == net::ssl::error::stream_truncated) return {exit_code::network, "network"};
    if (ec.category() == net::error::get_ssl_category() ||
        ec.category() == net::ssl::error::get_stream_category())
        return {exit_code::tls, "tls"};
    // Sockets and name resolution: everything else from Asio/the OS during the session.
    if (ec.category() == net::error::get_system_category() ||
        ec.category() == net::error::get_netdb_category() ||
        ec.category() == net::error::get_addrinfo_category() ||
        ec.category() == net::error::get_misc_category())
        return {exit_code::network, "network"};
    return {exit_code::failure, "internal"};
}

/// Whether the server's certificate failed the check: then the error's
/// `last_error_reply().detail` is the verifier's reason, not the server's text.
inline bool is_certificate_error(const pop3::error_code& ec)
{
    return ec == pop3::errc::certificate_untrusted || ec == pop3::errc::certificate_name_mismatch ||
           ec == pop3::errc::certificate_expired;
}

/// What happened, in this tool's terms. The library's own text is used where it names
/// no library function or type; where it does (it speaks to programmers), this tool says
/// it without them, and `hint` adds the next step in its own options.
inline std::string what_happened(const pop3::error_code& ec)
{
    if (ec.category() == pop3::error_category()) {
        switch (static_cast<pop3::errc>(ec.value())) {
        case pop3::errc::line_too_long: return "the server sent a line longer than allowed";
        case pop3::errc::tls_required: return "the server does not offer STLS";
        case pop3::errc::certificate_untrusted:
            return "the server's certificate is not signed by a trusted CA";
        case pop3::errc::ca_certificates_unreadable:
            return "the CA certificates could not be loaded (no PEM certificate in them)";
        case pop3::errc::host_name_required:
            return "TLS needs a host name to verify the certificate against";
        case pop3::errc::auth_command_rejected:
            return "the server rejected the AUTH command before any credential was sent";
        case pop3::errc::tls_not_spoken:
            return "the server answered the TLS handshake in plain POP3";
        case pop3::errc::mechanism_unavailable:
            return "the server offers no login method that may be used here";
        case pop3::errc::wrong_state:
        case pop3::errc::operation_in_progress:
            return "internal error (" + ec.message() + "); please report it";
        default: break;
        }
    }
    return ec.message();
}

/// The --auth spelling of a method ("cram-md5" for CRAM-MD5).
inline std::string auth_option_value(pop3::auth_method m)
{
    if (m == pop3::auth_method::automatic) return "auto";
    std::string out = pop3::auth_method_name(m);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

/// What a failing run knew about the session, for the hint.
struct hint_context {
    bool connecting = false; ///< the error came from connect (before login)
    /// Why the certificate check failed, in the TLS library's words ("certificate has
    /// expired"); empty when not known.
    std::string verify_reason;
    std::vector<pop3::auth_method> offered; ///< the login methods the server offers
    bool not_tls_either = false; ///< a TLS handshake on the silent port failed too
};

/// What to do about an error with this tool's options, when the error's own message does
/// not say it already. Names only options that exist (a test checks it against --help).
inline std::string hint(const pop3::error_code& ec, const options& o, const hint_context& at)
{
    if (ec == pop3::errc::certificate_name_mismatch)
        return "the certificate does not name " + o.host +
               "; use --host with a name the certificate lists";
    if (ec == pop3::errc::certificate_untrusted || ec == pop3::errc::certificate_expired) {
        std::string h;
        if (!at.verify_reason.empty()) h = "OpenSSL says: " + at.verify_reason;
        if (ec == pop3::errc::certificate_untrusted)
            h += std::string(h.empty() ? "" : "; ") +
                 (o.cafile.empty() ? "if the server uses a private CA, pass it with --cafile FILE"
                                   : "is " + o.cafile + " the CA that signed it?");
        return h;
    }
    if (ec == pop3::errc::ca_certificates_unreadable)
        return "check that --cafile/--capath name PEM certificates";
    if (ec == pop3::errc::tls_required)
        return "use --tls implicit if the server has a POP3S port (usually 995), or, on a "
               "trusted network only, --tls none --allow-plaintext";
    if (ec == pop3::errc::tls_not_spoken)
        return "port " + o.port + " speaks plain POP3: use --tls starttls, or --tls implicit "
               "with the server's POP3S port (usually 995)";
    if (ec == pop3::errc::insecure_authentication)
        return "use TLS (--tls implicit or starttls), or --allow-plaintext if the network is "
               "trusted";
    if (ec == pop3::errc::not_supported && !at.connecting)
        return "the server does not offer unique IDs (UIDL), which pop3-fetch needs to know "
               "what is new and what it may delete";
    if (ec == pop3::errc::mechanism_unavailable || ec == pop3::errc::auth_command_rejected) {
        std::string offered;
        for (auto m : at.offered) offered += (offered.empty() ? "" : ", ") + auth_option_value(m);
        std::string h = o.auth == pop3::auth_method::automatic
                            ? std::string()
                            : "the server does not support --auth " + auth_option_value(o.auth) + "; ";
        if (offered.empty()) return h + "it offers no login method pop3-fetch knows";
        h += "it offers: " + offered + " (choose one with --auth";
        if (!o.allow_plaintext && !o.insecure && o.tls_mode() == pop3::tls_mode::none)
            h += "; without TLS, most also need --allow-plaintext";
        return h + ")";
    }
    if (ec == net::error::connection_refused)
        return "nothing listens on " + o.host + " port " + o.port + "; check --host and --port";
    if (ec == pop3::errc::timeout) {
        if (at.connecting && o.tls_mode() != pop3::tls_mode::implicit && !at.not_tls_either)
            return "no greeting: raise --timeout for a slow server; if port " + o.port +
                   " speaks TLS from the start (POP3S), use --tls implicit";
        if (at.connecting)
            return "the server accepted the connection but sent no greeting (and does not "
                   "speak TLS either); raise --timeout for a slow server";
        return "raise --timeout for a slow server";
    }
    return {};
}

} // namespace pop3_fetch

#endif // POP3_FETCH_ERRORS_HPP
