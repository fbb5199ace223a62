// pop3-fetch: a tiny writer for the one-object-per-line JSON output (JSON Lines).
#ifndef POP3_FETCH_JSON_HPP
#define POP3_FETCH_JSON_HPP

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace pop3_fetch::json {

/// Appends `s` as a JSON string. JSON must be UTF-8, but UIDs and server texts may hold
/// any bytes: valid UTF-8 is copied, every other byte becomes \u00XX (its Latin-1
/// reading), so the output always parses.
inline void append_string(std::string& out, std::string_view s)
{
    static const char hex[] = "0123456789abcdef";
    auto escape_byte = [&](unsigned char c) {
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 0xF];
    };
    out += '"';
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20 || c == 0x7F) escape_byte(c);
                else out += static_cast<char>(c);
            }
            ++i;
            continue;
        }
        // Length of a well-formed UTF-8 sequence starting here, or 0 (RFC 3629 section 4).
        std::size_t len = 0;
        auto cont = [&](std::size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
            if (i + k >= s.size()) return false;
            const auto b = static_cast<unsigned char>(s[i + k]);
            return b >= lo && b <= hi;
        };
        if (c >= 0xC2 && c <= 0xDF) len = cont(1) ? 2 : 0;
        else if (c == 0xE0) len = cont(1, 0xA0) && cont(2) ? 3 : 0;
        else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
            len = cont(1) && cont(2) ? 3 : 0;
        else if (c == 0xED) len = cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
        else if (c == 0xF0) len = cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
        else if (c >= 0xF1 && c <= 0xF3) len = cont(1) && cont(2) && cont(3) ? 4 : 0;
        else if (c == 0xF4) len = cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
        if (len == 0) {
            escape_byte(c);
            ++i;
        } else {
            out.append(s.substr(i, len));
            i += len;
        }
    }
    out += '"';
}

/// Builds one JSON object: `object o; o.add("type", "fetched").add("number", 3); o.str()`.
class object {
public:
    object& add(std::string_view key, std::string_view value)
    {
        key_(key);
        append_string(text_, value);
        return *this;
    }
    object& add(std::string_view key, const char* value)
    {
        return add(key, std::string_view(value));
    }
    object& add(std::string_view key, const std::string& value)
    {
        return add(key, std::string_view(value));
    }
    object& add(std::string_view key, bool value)
    {
        key_(key);
        text_ += value ? "true" : "false";
        return *this;
    }
    template <class Int,
              class = std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>>>
    object& add(std::string_view key, Int value)
    {
        key_(key);
        text_ += std::to_string(value);
        return *this;
    }
    object& add(std::string_view key, double value)
    {
        key_(key);
        // Three decimals are plenty for durations and rates; never exponent notation.
        const auto scaled = static_cast<std::int64_t>(value * 1000.0 + (value < 0 ? -0.5 : 0.5));
        const auto whole = scaled / 1000;
        auto frac = scaled % 1000;
        if (frac < 0) frac = -frac;
        if (scaled < 0 && whole == 0) text_ += '-';
        text_ += std::to_string(whole);
        text_ += '.';
        const auto f = std::to_string(frac);
        text_.append(3 - f.size(), '0');
        text_ += f;
        return *this;
    }
    object& add_null(std::string_view key)
    {
        key_(key);
        text_ += "null";
        return *this;
    }
    /// Adds an already serialised JSON value (an object or array built elsewhere).
    object& add_raw(std::string_view key, std::string_view json)
    {
        key_(key);
        text_ += json;
        return *this;
    }

    std::string str() const { return text_.empty() ? std::string("{}") : text_ + "}"; }

private:
    void key_(std::string_view key)
    {
        text_ += text_.empty() ? '{' : ',';
        append_string(text_, key);
        text_ += ':';
    }

    std::string text_;
};

} // namespace pop3_fetch::json

#endif // POP3_FETCH_JSON_HPP
