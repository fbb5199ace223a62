// pop3/detail/text.hpp: small, allocation-free text helpers shared by the parsers.
#ifndef POP3_DETAIL_TEXT_HPP
#define POP3_DETAIL_TEXT_HPP

#include <cstdint>
#include <limits>
#include <string_view>

namespace pop3::detail {

/// Parses a decimal number made of digits only; no sign, no spaces, no overflow.
template <class Unsigned>
constexpr bool parse_decimal(std::string_view digits, Unsigned& out) noexcept
{
    static_assert(std::numeric_limits<Unsigned>::is_integer &&
                  !std::numeric_limits<Unsigned>::is_signed);
    if (digits.empty()) return false;
    Unsigned value = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return false;
        const auto digit = static_cast<Unsigned>(c - '0');
        if (value > (std::numeric_limits<Unsigned>::max() - digit) / 10) return false;
        value = static_cast<Unsigned>(value * 10 + digit);
    }
    out = value;
    return true;
}

constexpr char ascii_upper(char c) noexcept
{
    return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

constexpr bool iequals(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_upper(a[i]) != ascii_upper(b[i])) return false;
    return true;
}

/// Splits off the next space-separated token; runs of spaces count as one separator.
constexpr std::string_view next_token(std::string_view& rest) noexcept
{
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    const auto end = rest.find(' ');
    const auto token = rest.substr(0, end);
    rest.remove_prefix(token.size());
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    return token;
}

/// True for bytes that break a protocol line: CR, LF and NUL.
constexpr bool is_line_breaking(char c) noexcept
{
    return c == '\r' || c == '\n' || c == '\0';
}

constexpr bool has_line_breaking(std::string_view s) noexcept
{
    for (char c : s)
        if (is_line_breaking(c)) return true;
    return false;
}

/// Control characters (C0 and DEL) other than the ones a status text may keep.
constexpr bool is_control(char c) noexcept
{
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
}

} // namespace pop3::detail

#endif // POP3_DETAIL_TEXT_HPP
