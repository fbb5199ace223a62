// pop3/results.hpp: typed results of STAT, LIST and UIDL, and their parsers.
#ifndef POP3_RESULTS_HPP
#define POP3_RESULTS_HPP

#include <pop3/detail/text.hpp>
#include <pop3/error.hpp>
#include <pop3/limits.hpp>
#include <pop3/uid.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace pop3 {

/// A message number as the server assigns it for the session: 1, 2, ... (RFC 1939 section 5).
using message_number = std::uint32_t;

/// The answer to STAT: how many messages the maildrop holds and their total size.
struct maildrop_stat {
    std::uint32_t count = 0;  ///< messages not marked as deleted
    std::uint64_t octets = 0; ///< their size in octets, as the server counts them
};

/// One scan listing of LIST: a message and its size.
struct message_size {
    message_number number = 0; ///< the message
    std::uint64_t octets = 0;  ///< as the server counts them; never used to frame a message
};

/// One unique-id listing of UIDL: a message and its unique id.
struct message_uid {
    message_number number = 0; ///< the message, for this session only
    std::string uid;           ///< passes `is_valid_uid`
};

namespace detail {

/// Message numbers start at 1 (RFC 1939 section 5): the one check for 0, whether a caller
/// passed it (refused before anything is sent) or a server listed it (malformed).
inline error_code check_message_number(message_number n) noexcept
{
    return n == 0 ? make_error_code(errc::invalid_argument) : error_code{};
}

inline bool parse_message_number(std::string_view token, message_number& out) noexcept
{
    return parse_decimal(token, out) && !check_message_number(out);
}

} // namespace detail

/// Parses the text of a STAT reply: "nn mm" (RFC 1939 section 5); trailing text is ignored.
/// @return `errc::malformed_response` when the two numbers are not there; `out` is then
///         left as it was.
inline error_code parse_stat(std::string_view text, maildrop_stat& out) noexcept
{
    auto rest = text;
    maildrop_stat result;
    if (!detail::parse_decimal(detail::next_token(rest), result.count) ||
        !detail::parse_decimal(detail::next_token(rest), result.octets))
        return errc::malformed_response;
    out = result;
    return {};
}

/// Parses a scan listing "n size", from LIST's data lines or the text of `LIST n`;
/// trailing text is ignored.
/// @return `errc::malformed_response` for anything else (message number 0 included);
///         `out` is then left as it was.
inline error_code parse_scan_listing(std::string_view line, message_size& out) noexcept
{
    auto rest = line;
    message_size result;
    if (!detail::parse_message_number(detail::next_token(rest), result.number) ||
        !detail::parse_decimal(detail::next_token(rest), result.octets))
        return errc::malformed_response;
    out = result;
    return {};
}

/// Parses a unique-id listing "n uid", from UIDL's data lines or the text of `UIDL n`.
/// The UID must pass `is_valid_uid` and be at most `limits.max_uid_length` long.
/// @return `errc::line_too_long` for a longer UID, `errc::malformed_response` for any other
///         fault (a missing or invalid UID, text after it, message number 0); `out` is
///         then left as it was.
inline error_code parse_unique_id_listing(std::string_view line, message_uid& out,
                                               const parser_limits& limits = {})
{
    auto rest = line;
    message_number number = 0;
    if (!detail::parse_message_number(detail::next_token(rest), number))
        return errc::malformed_response;
    const auto uid = detail::next_token(rest);
    if (uid.empty() || !rest.empty()) return errc::malformed_response;
    if (uid.size() > limits.max_uid_length) return errc::line_too_long;
    if (!is_valid_uid(uid)) return errc::malformed_response;
    out.number = number;
    out.uid.assign(uid);
    return {};
}

} // namespace pop3

#endif // POP3_RESULTS_HPP
