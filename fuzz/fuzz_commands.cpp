// fuzz_commands: libFuzzer target for pop3::commands.
//
// Input layout: h[0] picks the command, h[1..4] a message number (little endian), h[5] the
// length of the first argument; the rest of the bytes are the first and second argument.
//
// Properties checked (any violation calls __builtin_trap):
//   * success exactly when an independent validity model says the arguments are valid
//     (no CR, LF or NUL; no space in single-token arguments; message number not 0);
//   * on success exactly one line is appended: the expected verb and arguments, and its
//     only CR and LF are the final CRLF; on failure `out` is untouched and the error is
//     errc::invalid_argument.
#include <pop3/commands.hpp>
#include <pop3/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <system_error>

namespace {

#define FUZZ_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            std::fprintf(stderr, "fuzz_commands: check failed at line %d: %s\n", __LINE__, \
                         #cond);                                                           \
            __builtin_trap();                                                              \
        }                                                                                  \
    } while (0)

bool breaks_line(std::string_view s)
{
    return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

bool is_token(std::string_view s)
{
    return !s.empty() && s.find(' ') == std::string_view::npos && !breaks_line(s);
}

std::string number(std::uint64_t n) { return std::to_string(n); }

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 6) return 0;
    const unsigned which = data[0];
    const std::uint32_t n = static_cast<std::uint32_t>(data[1]) |
                            (static_cast<std::uint32_t>(data[2]) << 8) |
                            (static_cast<std::uint32_t>(data[3]) << 16) |
                            (static_cast<std::uint32_t>(data[4]) << 24);
    const std::string_view rest(reinterpret_cast<const char*>(data) + 6, size - 6);
    const std::size_t split = rest.empty() ? 0 : data[5] % (rest.size() + 1);
    const std::string_view a = rest.substr(0, split);
    const std::string_view b = rest.substr(split);

    // Commands append: start from a buffer that already holds a command.
    const std::string prefix = (which & 0x80u) ? std::string("NOOP\r\n") : std::string();
    std::string out = prefix;
    pop3::error_code ec;
    bool valid = true;
    std::string expected;

    namespace c = pop3::commands;
    switch (which % 20u) {
    case 0:
        ec = c::user(out, a);
        valid = is_token(a);
        expected = "USER " + std::string(a);
        break;
    case 1:
        ec = c::pass(out, rest);
        valid = !breaks_line(rest);
        expected = "PASS " + std::string(rest);
        break;
    case 2:
        ec = c::apop(out, a, b);
        valid = is_token(a) && is_token(b);
        expected = "APOP " + std::string(a) + " " + std::string(b);
        break;
    case 3:
        ec = c::auth(out, a, b);
        valid = is_token(a) && (b.empty() || is_token(b));
        expected = "AUTH " + std::string(a) + (b.empty() ? "" : " " + std::string(b));
        break;
    case 4:
        ec = c::auth_response(out, rest);
        valid = rest.find(' ') == std::string_view::npos && !breaks_line(rest);
        expected = std::string(rest);
        break;
    case 5:
        ec = c::list(out, n);
        valid = n != 0;
        expected = "LIST " + number(n);
        break;
    case 6:
        ec = c::uidl(out, n);
        valid = n != 0;
        expected = "UIDL " + number(n);
        break;
    case 7:
        ec = c::retr(out, n);
        valid = n != 0;
        expected = "RETR " + number(n);
        break;
    case 8:
        ec = c::dele(out, n);
        valid = n != 0;
        expected = "DELE " + number(n);
        break;
    case 9: {
        const std::uint32_t lines = static_cast<std::uint32_t>(split) * 2654435761u;
        ec = c::top(out, n, lines);
        valid = n != 0;
        expected = "TOP " + number(n) + " " + number(lines);
        break;
    }
    case 10:
        ec = c::lang(out, a);
        valid = is_token(a);
        expected = "LANG " + std::string(a);
        break;
    case 11: ec = c::stat(out); expected = "STAT"; break;
    case 12: ec = c::list(out); expected = "LIST"; break;
    case 13: ec = c::uidl(out); expected = "UIDL"; break;
    case 14: ec = c::rset(out); expected = "RSET"; break;
    case 15: ec = c::noop(out); expected = "NOOP"; break;
    case 16: ec = c::quit(out); expected = "QUIT"; break;
    case 17: ec = c::capa(out); expected = "CAPA"; break;
    case 18: ec = c::stls(out); expected = "STLS"; break;
    default: ec = c::utf8(out); expected = "UTF8"; break;
    }

    if (!valid) {
        FUZZ_CHECK(ec == pop3::errc::invalid_argument);
        FUZZ_CHECK(out == prefix);
        return 0;
    }
    FUZZ_CHECK(!ec);
    FUZZ_CHECK(out.size() >= prefix.size() + 2);
    FUZZ_CHECK(out.compare(0, prefix.size(), prefix) == 0);
    const std::string_view line = std::string_view(out).substr(prefix.size());
    FUZZ_CHECK(line.substr(line.size() - 2) == "\r\n");
    const auto content = line.substr(0, line.size() - 2);
    FUZZ_CHECK(!breaks_line(content));
    FUZZ_CHECK(content == expected);
    return 0;
}
