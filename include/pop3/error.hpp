// pop3/error.hpp: the library's error codes, registered with pop3::error_code.
#ifndef POP3_ERROR_HPP
#define POP3_ERROR_HPP

#include <pop3/error_code.hpp>

#include <string>

namespace pop3 {

/// Errors reported by the library. Compare against a `pop3::error_code` with `==`.
///
/// The server's own `-ERR` text and RFC 2449 response code are not part of the
/// code: they travel beside it (see `pop3::server_reply` and `pop3::error`).
enum class errc {
    // --- Data from the server -------------------------------------------------
    unexpected_eof = 1, ///< the connection ended in the middle of a response
    line_too_long,      ///< a response line exceeded the configured limit
    malformed_response, ///< the server sent something POP3 does not allow
    // --- Server replies -------------------------------------------------------
    server_error,          ///< `-ERR` without a response code that says more
    mailbox_in_use,        ///< `-ERR [IN-USE]`: another session holds the mailbox lock
    login_delay,           ///< `-ERR [LOGIN-DELAY]`: logged in too soon after the last time
    temporary_failure,     ///< `-ERR [SYS/TEMP]`: a transient server-side problem
    permanent_failure,     ///< `-ERR [SYS/PERM]`: a server-side problem that will not go away
    authentication_failed, ///< `-ERR [AUTH]` or a failed login: the credentials were refused
    utf8_required,         ///< `-ERR [UTF8]`: the account needs UTF8 mode
    // --- Use of the library ---------------------------------------------------
    invalid_argument,      ///< an argument would break the command line (CR, LF, NUL, 0)
    wrong_state,           ///< the command is not allowed in the session's current state
    not_supported,         ///< the server did not advertise the capability this needs
    session_broken,        ///< an earlier error left the session out of sync; reconnect
    operation_in_progress, ///< another operation is still running on this client
    timeout,               ///< the server did not answer within the configured time
    // --- Security and authentication ------------------------------------------
    tls_required,            ///< TLS was required but the server does not offer STLS (or it failed)
    insecure_authentication, ///< the mechanism would expose the secret without TLS; not allowed
    mechanism_unavailable,   ///< the server offers no SASL mechanism (or APOP) the client may use
    server_signature_mismatch, ///< SCRAM: the server could not prove it knows the password
    sasl_protocol_error,       ///< the SASL exchange went wrong (bad challenge); it was aborted
    certificate_untrusted,     ///< TLS: no trusted CA signed the server's certificate
    certificate_name_mismatch, ///< TLS: the server's certificate is for another host name
    certificate_expired,       ///< TLS: the server's certificate has expired (or is not yet valid)
    /// TLS was to start on a stream the caller connected, with no host name to verify the
    /// server's certificate against: nothing was sent over TLS
    host_name_required,
    /// TLS: the CA file or directory given to make_tls_context could not be loaded
    ca_certificates_unreadable,
    /// The server rejected the AUTH command (or its SASL mechanism) before any credential
    /// was exchanged: it may not support SASL at all
    auth_command_rejected,
    /// TLS: the server answered the TLS handshake in plain text: the port speaks POP3
    /// without implicit TLS
    tls_not_spoken,
};

namespace detail {

class error_category_impl final : public error_category_base {
public:
    using error_category_base::message; // Boost's has a buffer overload too
    const char* name() const noexcept override { return "pop3"; }

    std::string message(int value) const override
    {
        switch (static_cast<errc>(value)) {
        case errc::unexpected_eof:
            return "the server closed the connection in the middle of a response; "
                   "reconnect and retry";
        case errc::line_too_long:
            return "a response line exceeded the configured limit; raise "
                   "pop3::parser_limits if the server is trusted";
        case errc::malformed_response:
            return "the server sent a response that is not valid POP3; check the "
                   "server or report it";
        case errc::server_error:
            return "the server answered -ERR; see the server's text for details";
        case errc::mailbox_in_use:
            return "the mailbox is locked by another session ([IN-USE]); retry later";
        case errc::login_delay:
            return "the server requires a longer delay between logins ([LOGIN-DELAY]); "
                   "retry later";
        case errc::temporary_failure:
            return "the server reported a temporary failure ([SYS/TEMP]); retry later";
        case errc::permanent_failure:
            return "the server reported a permanent failure ([SYS/PERM]); contact the "
                   "server's administrator";
        case errc::authentication_failed:
            return "the server refused the credentials; check user name and password";
        case errc::utf8_required:
            return "the server requires UTF8 mode for this account ([UTF8]); enable it "
                   "before logging in";
        case errc::invalid_argument:
            return "invalid argument: POP3 arguments must not contain CR, LF or NUL and "
                   "message numbers start at 1";
        case errc::wrong_state:
            return "the command is not allowed in the session's current state: mail commands "
                   "need a login first; STLS, UTF8 and login only come before it; nothing "
                   "comes after quit or a failed connect";
        case errc::not_supported:
            return "the server does not advertise the capability this operation needs";
        case errc::session_broken:
            return "an earlier error left the session out of sync with the server; "
                   "reconnect";
        case errc::operation_in_progress:
            return "another operation is still running on this client; wait for it "
                   "to complete";
        case errc::timeout:
            return "the server did not answer in time; check the network or raise "
                   "the timeout";
        case errc::tls_required:
            return "TLS is required but the server does not offer STLS; use implicit TLS "
                   "(port 995) or allow plaintext explicitly";
        case errc::insecure_authentication:
            return "refusing to send credentials over an unencrypted connection; use TLS or "
                   "allow plaintext authentication explicitly";
        case errc::mechanism_unavailable:
            return "the server offers no authentication mechanism this client may use; "
                   "check the server's CAPA and the client's security settings";
        case errc::server_signature_mismatch:
            return "the server failed to prove it knows the password (SCRAM server "
                   "signature mismatch); the server may be an impostor";
        case errc::sasl_protocol_error:
            return "the authentication exchange went wrong and was aborted; check the "
                   "mechanism and credentials";
        case errc::certificate_untrusted:
            return "the server's certificate is not signed by a trusted CA; if the server uses "
                   "a private CA, trust it with make_tls_context({ca_file})";
        case errc::certificate_name_mismatch:
            return "the server's certificate is for another host name; connect with a name the "
                   "certificate lists";
        case errc::certificate_expired:
            return "the server's certificate has expired or is not yet valid; check the server's "
                   "certificate and this machine's clock";
        case errc::host_name_required:
            return "TLS needs the server's host name to verify its certificate: call "
                   "set_server_name(host) before read_greeting() or stls() on a stream you "
                   "connected yourself, or use connect(host, ...)";
        case errc::ca_certificates_unreadable:
            return "the CA certificates given to make_tls_context (ca_file or ca_directory) "
                   "could not be loaded; check the path and that it holds PEM certificates";
        case errc::auth_command_rejected:
            return "the server rejected the AUTH command for this method before any "
                   "credential was exchanged (it may not support it); offered_auth_methods() "
                   "lists what it offers";
        case errc::tls_not_spoken:
            return "the server answered the TLS handshake in plain POP3: this port does not "
                   "speak implicit TLS; use tls_mode::starttls (or the server's implicit TLS "
                   "port, usually 995)";
        }
        return "unknown pop3 error";
    }
};

} // namespace detail

/// The category of `pop3::errc`, named "pop3".
inline const error_category_base& error_category() noexcept
{
    static const detail::error_category_impl instance;
    return instance;
}

/// Makes `pop3::error_code ec = pop3::errc::timeout;` and `ec == pop3::errc::timeout` work.
inline error_code make_error_code(errc e) noexcept
{
    return {static_cast<int>(e), error_category()};
}

} // namespace pop3

POP3_DETAIL_REGISTER_ERROR_CODE_ENUM(pop3::errc);

#endif // POP3_ERROR_HPP
