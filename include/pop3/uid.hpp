// pop3/uid.hpp: what a unique id (UIDL, RFC 1939 section 7) may look like. The one rule
// the parser, the UID stores and the leave-on-server planner all apply.
#ifndef POP3_UID_HPP
#define POP3_UID_HPP

#include <cstddef>
#include <string_view>

namespace pop3 {

/// The longest UID accepted anywhere. RFC 1939 says 70 octets, but real servers send
/// more; the parser's `parser_limits::max_uid_length` (default 512) is the tighter, tunable
/// cap on what a server may send. This one only bounds what a damaged state file can make
/// the library allocate.
inline constexpr std::size_t max_valid_uid_length = std::size_t{1} << 20;

/// True for a UID the library accepts: 1 to `max_valid_uid_length` octets, each
/// 0x21-0x7E (RFC 1939 section 7) or 8-bit (0x80-0xFF: some servers send them, and they
/// are harmless as keys). Spaces, controls and DEL are refused: such a UID could not be
/// sent back in a command nor written to a state file line.
constexpr bool is_valid_uid(std::string_view uid) noexcept
{
    if (uid.empty() || uid.size() > max_valid_uid_length) return false;
    for (char c : uid) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x21 || u == 0x7f) return false;
    }
    return true;
}

} // namespace pop3

#endif // POP3_UID_HPP
