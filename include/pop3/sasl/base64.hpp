// pop3/sasl/base64.hpp: base64 (RFC 4648 section 4) as SASL uses it on the wire (RFC 4422).
#ifndef POP3_SASL_BASE64_HPP
#define POP3_SASL_BASE64_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pop3::sasl {

namespace detail {

inline constexpr char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The 6-bit value of a base64 character, or -1 for anything else (including '=').
constexpr int base64_value(char c) noexcept
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

} // namespace detail

/// Encodes bytes as padded base64 with the standard alphabet and no line breaks.
inline std::string base64_encode(std::string_view in)
{
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    const auto byte = [&in](std::size_t i) -> std::uint32_t {
        return static_cast<unsigned char>(in[i]);
    };
    const auto put = [&out](std::uint32_t sextet) {
        out.push_back(detail::base64_alphabet[sextet & 0x3f]);
    };
    std::size_t i = 0;
    for (; in.size() - i >= 3; i += 3) {
        const std::uint32_t n = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
        put(n >> 18);
        put(n >> 12);
        put(n >> 6);
        put(n);
    }
    if (in.size() - i == 1) {
        const std::uint32_t n = byte(i) << 16;
        put(n >> 18);
        put(n >> 12);
        out.append("==");
    } else if (in.size() - i == 2) {
        const std::uint32_t n = (byte(i) << 16) | (byte(i + 1) << 8);
        put(n >> 18);
        put(n >> 12);
        put(n >> 6);
        out.push_back('=');
    }
    return out;
}

/// Decodes strict, canonical base64: the standard alphabet, a length that is a multiple
/// of 4, '=' only as the last one or two characters, zero bits under the padding, and no
/// whitespace. The empty string decodes to the empty string.
/// @return false (and `out` empty) for anything else; `out` holds the bytes otherwise.
inline bool base64_decode(std::string_view in, std::string& out)
{
    out.clear();
    if (in.size() % 4 != 0) return false;
    out.reserve(in.size() / 4 * 3);
    for (std::size_t i = 0; i < in.size(); i += 4) {
        const bool last = i + 4 == in.size();
        const int a = detail::base64_value(in[i]);
        const int b = detail::base64_value(in[i + 1]);
        const int c = detail::base64_value(in[i + 2]);
        const int d = detail::base64_value(in[i + 3]);
        const bool pad_c = in[i + 2] == '=';
        const bool pad_d = in[i + 3] == '=';
        const bool ok =
            a >= 0 && b >= 0 && (c >= 0 || (last && pad_c && pad_d)) && (d >= 0 || (last && pad_d));
        if (!ok) {
            out.clear();
            return false;
        }
        const std::uint32_t n = (static_cast<std::uint32_t>(a) << 18) |
                                (static_cast<std::uint32_t>(b) << 12) |
                                (static_cast<std::uint32_t>(pad_c ? 0 : c) << 6) |
                                static_cast<std::uint32_t>(pad_d ? 0 : d);
        // RFC 4648 section 3.5: reject encodings whose padding hides non-zero bits, so
        // every byte string has exactly one accepted encoding.
        if ((pad_c && (n & 0xffff) != 0) || (pad_d && (n & 0xff) != 0)) {
            out.clear();
            return false;
        }
        out.push_back(static_cast<char>((n >> 16) & 0xff));
        if (!pad_c) out.push_back(static_cast<char>((n >> 8) & 0xff));
        if (!pad_d) out.push_back(static_cast<char>(n & 0xff));
    }
    return true;
}

} // namespace pop3::sasl

#endif // POP3_SASL_BASE64_HPP
