// pop3/reply.hpp: a server's status line (+OK / -ERR / SASL "+") and its response code.
#ifndef POP3_REPLY_HPP
#define POP3_REPLY_HPP

#include <pop3/detail/text.hpp>
#include <pop3/error.hpp>

#include <string>
#include <string_view>
#include <system_error>

namespace pop3 {

/// The RFC 2449 section 8 / RFC 3206 / RFC 6856 response codes this library understands.
enum class response_code_kind {
    none,        ///< the reply carried no response code
    in_use,      ///< [IN-USE]: the mailbox is locked by another session
    login_delay, ///< [LOGIN-DELAY]: too soon since the last login
    sys_temp,    ///< [SYS/TEMP]: transient server failure
    sys_perm,    ///< [SYS/PERM]: permanent server failure
    auth,        ///< [AUTH]: the credentials are wrong
    utf8,        ///< [UTF8]: the account requires UTF8 mode
    other,       ///< a code this library does not know; its text is kept
};

/// A response code as sent, plus its classification.
struct response_code {
    response_code_kind kind = response_code_kind::none; ///< its classification
    std::string text; ///< the code between the brackets, e.g. "SYS/TEMP"; empty when none
};

/// Which status indicator a reply started with.
enum class reply_status {
    ok,          ///< +OK
    err,         ///< -ERR
    continuation ///< "+ " base64 challenge during an AUTH exchange (RFC 5034)
};

/// One status line from the server, without its CRLF.
struct server_reply {
    reply_status status = reply_status::ok; ///< +OK, -ERR or a SASL continuation
    response_code code; ///< the RFC 2449 response code in brackets; `kind` none when absent
    std::string text;   ///< the text after the indicator and response code
    /// After a failed SASL exchange: what the server reported inside it, decoded (the
    /// OAUTHBEARER/XOAUTH2 error JSON, such as `{"status":"invalid_token"}`, or SCRAM's
    /// `e=` value). After a refused server certificate (no reply at all): OpenSSL's reason,
    /// such as "certificate has expired". Empty otherwise.
    std::string detail;

    /// True for +OK.
    bool ok() const noexcept { return status == reply_status::ok; }
};

/// Classifies a response code's text (between the brackets, e.g. "SYS/TEMP");
/// hierarchical codes match on their leading levels, case-insensitively.
inline response_code_kind classify_response_code(std::string_view code) noexcept
{
    const auto first_level = code.substr(0, code.find('/'));
    const auto second_level = [&]() -> std::string_view {
        const auto slash = code.find('/');
        if (slash == std::string_view::npos) return {};
        const auto rest = code.substr(slash + 1);
        return rest.substr(0, rest.find('/'));
    }();
    using detail::iequals;
    if (iequals(first_level, "IN-USE")) return response_code_kind::in_use;
    if (iequals(first_level, "LOGIN-DELAY")) return response_code_kind::login_delay;
    if (iequals(first_level, "AUTH")) return response_code_kind::auth;
    if (iequals(first_level, "UTF8")) return response_code_kind::utf8;
    if (iequals(first_level, "SYS")) {
        if (iequals(second_level, "TEMP")) return response_code_kind::sys_temp;
        if (iequals(second_level, "PERM")) return response_code_kind::sys_perm;
    }
    return response_code_kind::other;
}

/// Parses one status line (without CRLF) into `out`, reusing its storage. Control
/// characters in the text (but tab) become '?': the text ends up in exceptions and logs.
///
/// @param line the line, e.g. "-ERR [IN-USE] mailbox locked".
/// @param allow_continuation accept the SASL "+ challenge" form (only inside AUTH).
/// @param out receives the status, the response code (when well formed) and the text.
/// @return `errc::malformed_response` when the line is not a POP3 status line (or holds
///         NUL or LF); `out` may then be partly overwritten.
inline error_code parse_reply_line(std::string_view line, bool allow_continuation,
                                   server_reply& out)
{
    std::string_view rest;
    if (line.substr(0, 3) == "+OK") {
        out.status = reply_status::ok;
        rest = line.substr(3);
    } else if (line.substr(0, 4) == "-ERR") {
        out.status = reply_status::err;
        rest = line.substr(4);
    } else if (allow_continuation && !line.empty() && line.front() == '+') {
        out.status = reply_status::continuation;
        rest = line.substr(1);
    } else {
        return errc::malformed_response;
    }
    // The indicator stands alone or is followed by a space (RFC 1939 section 3).
    if (!rest.empty() && rest.front() != ' ') return errc::malformed_response;
    if (!rest.empty()) rest.remove_prefix(1);
    for (char c : rest)
        if (c == '\0' || c == '\n') return errc::malformed_response;

    out.code.kind = response_code_kind::none;
    out.code.text.clear();
    // RFC 2449 section 8: "[" resp-level *("/" resp-level) "]" right after the indicator.
    // A SASL challenge is base64 and never starts with '['.
    if (out.status != reply_status::continuation && !rest.empty() && rest.front() == '[') {
        const auto close = rest.find(']');
        if (close != std::string_view::npos && close > 1) {
            const auto code = rest.substr(1, close - 1);
            bool well_formed = code.front() != '/' && code.back() != '/';
            for (char c : code)
                if (c == ' ' || detail::is_control(c) || c == '[') well_formed = false;
            if (well_formed) {
                out.code.text.assign(code);
                out.code.kind = classify_response_code(code);
                rest.remove_prefix(close + 1);
                if (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
            }
        }
    }
    out.text.assign(rest);
    // The text ends up in exceptions and logs: a server must not smuggle terminal
    // escapes or carriage returns into them.
    for (char& c : out.text)
        if (detail::is_control(c) && c != '\t') c = '?';
    return {};
}

/// The error a -ERR reply stands for, refined by its response code: [IN-USE] gives
/// `errc::mailbox_in_use`, [AUTH] `errc::authentication_failed`, and so on; a code this
/// library does not know, or none, gives `errc::server_error`. Empty for a reply that is
/// not -ERR.
inline error_code error_from_reply(const server_reply& reply) noexcept
{
    if (reply.status != reply_status::err) return {};
    switch (reply.code.kind) {
    case response_code_kind::in_use: return errc::mailbox_in_use;
    case response_code_kind::login_delay: return errc::login_delay;
    case response_code_kind::sys_temp: return errc::temporary_failure;
    case response_code_kind::sys_perm: return errc::permanent_failure;
    case response_code_kind::auth: return errc::authentication_failed;
    case response_code_kind::utf8: return errc::utf8_required;
    case response_code_kind::none:
    case response_code_kind::other: break;
    }
    return errc::server_error;
}

} // namespace pop3

#endif // POP3_REPLY_HPP
