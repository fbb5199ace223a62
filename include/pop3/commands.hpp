// pop3/commands.hpp: writes POP3 command lines (RFC 1939, 2449, 2595, 5034, 6856).
//
// Every function appends one CRLF-terminated line to `out`, or, when an argument would
// break the line (CR, LF, NUL, a space inside a single-token argument, message number
// 0), appends nothing and returns errc::invalid_argument. Appending lets a caller batch
// several commands into one write when the server allows PIPELINING.
#ifndef POP3_COMMANDS_HPP
#define POP3_COMMANDS_HPP

#include <pop3/detail/text.hpp>
#include <pop3/error.hpp>
#include <pop3/results.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

/// Writers of POP3 command lines, one function per command. Each appends one
/// CRLF-terminated line to `out` and returns an empty error code, or, when an argument
/// would break the line (CR, LF, NUL, a space inside a one-token argument, message number
/// 0), appends nothing and returns `errc::invalid_argument`. Several commands can go into
/// one string, to be sent in one write when the server allows PIPELINING:
///
/// ```
/// std::string out;
/// pop3::commands::retr(out, 1);
/// pop3::commands::dele(out, 1); // out == "RETR 1\r\nDELE 1\r\n"
/// ```
namespace pop3::commands {

namespace detail {

inline bool valid_token(std::string_view arg) noexcept
{
    return !arg.empty() && arg.find(' ') == std::string_view::npos &&
           !pop3::detail::has_line_breaking(arg);
}

inline void append_number(std::string& out, std::uint64_t n)
{
    char digits[20];
    int i = 0;
    do {
        digits[i++] = static_cast<char>('0' + n % 10);
        n /= 10;
    } while (n != 0);
    while (i > 0) out.push_back(digits[--i]);
}

inline error_code verb(std::string& out, std::string_view name)
{
    out.append(name).append("\r\n");
    return {};
}

inline error_code verb_token(std::string& out, std::string_view name, std::string_view arg)
{
    if (!valid_token(arg)) return errc::invalid_argument;
    out.append(name).append(" ").append(arg).append("\r\n");
    return {};
}

inline error_code verb_number(std::string& out, std::string_view name, message_number n)
{
    if (auto ec = pop3::detail::check_message_number(n)) return ec;
    out.append(name).append(" ");
    append_number(out, n);
    out.append("\r\n");
    return {};
}

} // namespace detail

/// USER name (RFC 1939 section 7).
inline error_code user(std::string& out, std::string_view name)
{
    return detail::verb_token(out, "USER", name);
}

/// PASS secret (RFC 1939 section 7). Spaces are allowed: PASS takes the rest of the line.
inline error_code pass(std::string& out, std::string_view secret)
{
    if (pop3::detail::has_line_breaking(secret)) return errc::invalid_argument;
    out.append("PASS ").append(secret).append("\r\n");
    return {};
}

/// APOP name digest (RFC 1939 section 7); `digest` is the lower-case hex MD5.
inline error_code apop(std::string& out, std::string_view name, std::string_view digest)
{
    if (!detail::valid_token(name) || !detail::valid_token(digest)) return errc::invalid_argument;
    out.append("APOP ").append(name).append(" ").append(digest).append("\r\n");
    return {};
}

/// AUTH mechanism [initial-response] (RFC 5034 section 4). An empty `initial_response`
/// sends none; a zero-length response is sent as "=" by the caller.
inline error_code auth(std::string& out, std::string_view mechanism,
                       std::string_view initial_response = {})
{
    if (!detail::valid_token(mechanism)) return errc::invalid_argument;
    if (!initial_response.empty() && !detail::valid_token(initial_response))
        return errc::invalid_argument;
    out.append("AUTH ").append(mechanism);
    if (!initial_response.empty()) out.append(" ").append(initial_response);
    out.append("\r\n");
    return {};
}

/// A client response line inside an AUTH exchange: base64 text, empty, or "*" to abort.
inline error_code auth_response(std::string& out, std::string_view response)
{
    if (response.find(' ') != std::string_view::npos || pop3::detail::has_line_breaking(response))
        return errc::invalid_argument;
    out.append(response).append("\r\n");
    return {};
}

/// STAT (RFC 1939 section 5): the message count and total size.
inline error_code stat(std::string& out)
{
    return detail::verb(out, "STAT");
}
/// LIST (RFC 1939 section 5): a scan listing of every message.
inline error_code list(std::string& out)
{
    return detail::verb(out, "LIST");
}
/// LIST n (RFC 1939 section 5): the scan listing of message `n` (not 0).
inline error_code list(std::string& out, message_number n)
{
    return detail::verb_number(out, "LIST", n);
}
/// UIDL (RFC 1939 section 7): the unique id of every message.
inline error_code uidl(std::string& out)
{
    return detail::verb(out, "UIDL");
}
/// UIDL n (RFC 1939 section 7): the unique id of message `n` (not 0).
inline error_code uidl(std::string& out, message_number n)
{
    return detail::verb_number(out, "UIDL", n);
}
/// RETR n (RFC 1939 section 5): message `n` (not 0).
inline error_code retr(std::string& out, message_number n)
{
    return detail::verb_number(out, "RETR", n);
}
/// DELE n (RFC 1939 section 5): marks message `n` (not 0) deleted; QUIT removes it.
inline error_code dele(std::string& out, message_number n)
{
    return detail::verb_number(out, "DELE", n);
}

/// TOP n lines (RFC 1939 section 7): the header and the first `lines` body lines.
inline error_code top(std::string& out, message_number n, std::uint32_t lines)
{
    if (auto ec = pop3::detail::check_message_number(n)) return ec;
    out.append("TOP ");
    detail::append_number(out, n);
    out.append(" ");
    detail::append_number(out, lines);
    out.append("\r\n");
    return {};
}

/// RSET (RFC 1939 section 5): unmarks every message marked deleted.
inline error_code rset(std::string& out)
{
    return detail::verb(out, "RSET");
}
/// NOOP (RFC 1939 section 5): does nothing; keeps the session alive.
inline error_code noop(std::string& out)
{
    return detail::verb(out, "NOOP");
}
/// QUIT (RFC 1939 sections 5 and 6): ends the session; in TRANSACTION state the server
/// then removes the messages marked deleted.
inline error_code quit(std::string& out)
{
    return detail::verb(out, "QUIT");
}
/// CAPA (RFC 2449 section 5).
inline error_code capa(std::string& out)
{
    return detail::verb(out, "CAPA");
}
/// STLS (RFC 2595 section 4).
inline error_code stls(std::string& out)
{
    return detail::verb(out, "STLS");
}
/// UTF8 (RFC 6856 section 2).
inline error_code utf8(std::string& out)
{
    return detail::verb(out, "UTF8");
}
/// LANG without argument lists the languages (RFC 6856 section 3).
inline error_code lang(std::string& out)
{
    return detail::verb(out, "LANG");
}
/// LANG tag selects a language; "*" asks for the server's default.
inline error_code lang(std::string& out, std::string_view tag)
{
    return detail::verb_token(out, "LANG", tag);
}

} // namespace pop3::commands

#endif // POP3_COMMANDS_HPP
