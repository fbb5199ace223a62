// pop3/greeting.hpp: the server's greeting and the APOP timestamp it may carry.
#ifndef POP3_GREETING_HPP
#define POP3_GREETING_HPP

#include <pop3/detail/text.hpp>
#include <pop3/reply.hpp>

#include <string>
#include <string_view>

namespace pop3 {

/// Finds the APOP timestamp (RFC 1939 section 7) in a greeting's text: a msg-id of the
/// form `<...@...>`. Returns it with its angle brackets, or an empty view when the text
/// has none (then APOP cannot be used).
inline std::string_view find_apop_timestamp(std::string_view greeting_text) noexcept
{
    std::size_t from = 0;
    while (true) {
        const auto open = greeting_text.find('<', from);
        if (open == std::string_view::npos) return {};
        const auto close = greeting_text.find('>', open + 1);
        if (close == std::string_view::npos) return {};
        const auto inner = greeting_text.substr(open + 1, close - open - 1);
        bool valid = !inner.empty();
        std::size_t at = std::string_view::npos;
        for (std::size_t i = 0; i < inner.size() && valid; ++i) {
            const char c = inner[i];
            if (c == '<' || c == ' ' || detail::is_control(c) ||
                static_cast<unsigned char>(c) >= 0x80)
                valid = false;
            else if (c == '@') at = i;
        }
        // The '@' must separate two non-empty parts, as in a msg-id.
        if (valid && at != std::string_view::npos && at > 0 && at + 1 < inner.size())
            return greeting_text.substr(open, close - open + 1);
        from = open + 1;
    }
}

/// The server's greeting: its reply and, if present, the APOP timestamp.
struct greeting {
    server_reply reply;         ///< the +OK line (a -ERR greeting is reported as an error instead)
    std::string apop_timestamp; ///< with angle brackets; empty when APOP is not offered
};

} // namespace pop3

#endif // POP3_GREETING_HPP
