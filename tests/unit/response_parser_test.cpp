// Transcript tests of the incremental response parser. Every case is also fed split at
// every byte boundary (and at every pair of boundaries for short inputs, and one byte
// at a time): the transcript must not change.
#include "../catch.hpp"
#include "parser_harness.hpp"

#include <pop3/response_parser.hpp>

#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

using pop3::body_mode;
using pop3::response_kind;
using pop3_test::expected_response;
using pop3_test::run_parser;
using pop3_test::run_whole;

namespace {

const expected_response single{response_kind::single_line};
const expected_response body{response_kind::multi_line, body_mode::stream};
const expected_response lines{response_kind::multi_line, body_mode::lines};
const expected_response sasl{response_kind::sasl};

struct transcript_case {
    const char* name;
    std::string input;
    std::vector<expected_response> plan;
    std::string expected;
    pop3::parser_limits limits{};
};

std::string eof_error()
{
    return "E" + make_error_code(pop3::errc::unexpected_eof).message() + "\n";
}
std::string error_line(pop3::errc e)
{
    return "E" + make_error_code(e).message() + "\n";
}

std::vector<transcript_case> cases()
{
    using namespace std::string_literals;
    pop3::parser_limits tiny;
    tiny.max_line_length = 16;
    return {
        {"Dovecot greeting",
         "+OK Dovecot (Debian) ready.\r\n",
         {single},
         "R+OK[]Dovecot (Debian) ready.\n.\n"},
        {"greeting with APOP timestamp",
         "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n",
         {single},
         "R+OK[]POP3 server ready <1896.697170952@dbc.mtview.ca.us>\n.\n"},
        {"bare +OK (popa3d)", "+OK\r\n", {single}, "R+OK[]\n.\n"},
        {"-ERR with response code",
         "-ERR [IN-USE] Mailbox locked\r\n",
         {single},
         "R-ERR[IN-USE]Mailbox locked\n.\n"},
        {"hierarchical code",
         "-ERR [SYS/TEMP] Try again\r\n",
         {single},
         "R-ERR[SYS/TEMP]Try again\n.\n"},
        {"unknown code kept",
         "-ERR [X-VENDOR/FOO] odd\r\n",
         {single},
         "R-ERR[X-VENDOR/FOO]odd\n.\n"},
        {"bracket that is no code", "-ERR [not a code\r\n", {single}, "R-ERR[][not a code\n.\n"},
        {"bare LF status line", "+OK fine\n", {single}, "R+OK[]fine\n.\n"},
        {"RETR with dot-stuffing",
         "+OK 30 octets\r\nline1\r\n..dot line\r\n...\r\nend\r\n.\r\n",
         {body},
         "R+OK[]30 octets\nDline1\r\n.dot line\r\n..\r\nend\r\n\n.\n"},
        {"RETR with bare LF terminator", "+OK\nabc\n..x\n.\n", {body}, "R+OK[]\nDabc\n.x\n\n.\n"},
        {"lone dot inside text is data",
         "+OK\r\na . b\r\nc.\r\n .\r\n.\r\n",
         {body},
         "R+OK[]\nDa . b\r\nc.\r\n .\r\n\n.\n"},
        {"unstuffed leading dot loses it (RFC 1939 3)",
         "+OK\r\n.x\r\n.\r\n",
         {body},
         "R+OK[]\nDx\r\n\n.\n"},
        {"dot CR without LF is data", "+OK\r\n.\rX\r\n.\r\n", {body}, "R+OK[]\nD\rX\r\n\n.\n"},
        {"8-bit and NUL bytes pass",
         "+OK\r\n\xe4\xf6\xfc \xc3\xa9\0z\r\n.\r\n"s,
         {body},
         "R+OK[]\nD\xe4\xf6\xfc \xc3\xa9\0z\r\n\n.\n"s},
        {"bare CR inside a line passes", "+OK\r\na\rb\r\n.\r\n", {body}, "R+OK[]\nDa\rb\r\n\n.\n"},
        {"empty body", "+OK\r\n.\r\n", {body}, "R+OK[]\n.\n"},
        {"-ERR to a multi-line command has no body",
         "-ERR no such message\r\n",
         {body},
         "R-ERR[]no such message\n.\n"},
        {"missing terminator", "+OK\r\nabc\r\n", {body}, "R+OK[]\nDabc\r\n\n" + eof_error()},
        {"terminator without line start",
         "+OK\r\nabc.\r\n",
         {body},
         "R+OK[]\nDabc.\r\n\n" + eof_error()},
        {"half a terminator", "+OK\r\nabc\r\n.\r", {body}, "R+OK[]\nDabc\r\n\n" + eof_error()},
        {"no CRLF at all", "+OK", {single}, eof_error()},
        {"nothing at all", "", {single}, eof_error()},
        {"garbage status",
         "HTTP/1.1 200 OK\r\n",
         {single},
         error_line(pop3::errc::malformed_response)},
        {"lower-case status", "+ok\r\n", {single}, error_line(pop3::errc::malformed_response)},
        {"status glued to text", "+OKay\r\n", {single}, error_line(pop3::errc::malformed_response)},
        {"NUL in status", "+OK a\0b\r\n"s, {single}, error_line(pop3::errc::malformed_response)},
        {"continuation outside AUTH",
         "+ abc\r\n",
         {single},
         error_line(pop3::errc::malformed_response)},
        {"SASL continuation",
         "+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2U+\r\n",
         {sasl},
         "R+[]PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2U+\n.\n"},
        {"SASL empty continuation", "+\r\n", {sasl}, "R+[]\n.\n"},
        {"SASL final +OK", "+OK Logged in.\r\n", {sasl}, "R+OK[]Logged in.\n.\n"},
        {"SASL -ERR [AUTH]",
         "-ERR [AUTH] Authentication failed.\r\n",
         {sasl},
         "R-ERR[AUTH]Authentication failed.\n.\n"},
        {"LIST lines",
         "+OK 2 messages:\r\n1 120\r\n2 200\r\n.\r\n",
         {lines},
         "R+OK[]2 messages:\nL1 120\nL2 200\n.\n"},
        {"UIDL lines, bare LF",
         "+OK\n1 whqtswO00WBw418f9t5JxYwZ\n2 QhdPYR:00WBw1Ph7x7\n.\n",
         {lines},
         "R+OK[]\nL1 whqtswO00WBw418f9t5JxYwZ\nL2 QhdPYR:00WBw1Ph7x7\n.\n"},
        {"stuffed data line in lines mode", "+OK\r\n..x\r\n.\r\n", {lines}, "R+OK[]\nL.x\n.\n"},
        {"NUL in a listing line",
         "+OK\r\n1 a\0b\r\n.\r\n"s,
         {lines},
         "R+OK[]\n" + error_line(pop3::errc::malformed_response)},
        {"listing without terminator",
         "+OK\r\n1 120\r\n",
         {lines},
         "R+OK[]\nL1 120\n" + eof_error()},
        {"status line at the limit",
         "+OK 123456789012\r\n",
         {single},
         "R+OK[]123456789012\n.\n",
         tiny},
        {"status line over the limit",
         "+OK 1234567890123\r\n",
         {single},
         error_line(pop3::errc::line_too_long),
         tiny},
        {"endless status line",
         "+OK " + std::string(40, 'x'),
         {single},
         error_line(pop3::errc::line_too_long),
         tiny},
        {"listing line over the limit",
         "+OK\r\n1 12345678901234567\r\n.\r\n",
         {lines},
         "R+OK[]\n" + error_line(pop3::errc::line_too_long),
         tiny},
        {"body lines have no limit",
         "+OK\r\n" + std::string(100, 'b') + "\r\n.\r\n",
         {body},
         "R+OK[]\nD" + std::string(100, 'b') + "\r\n\n.\n",
         tiny},
        {"pipelined STAT, LIST, RETR, DELE",
         "+OK 2 320\r\n+OK\r\n1 120\r\n2 200\r\n.\r\n+OK\r\nSubject: x\r\n\r\n..\r\n.\r\n+OK "
         "deleted\r\n",
         {single, lines, body, single},
         "R+OK[]2 320\n.\nR+OK[]\nL1 120\nL2 200\n.\nR+OK[]\nDSubject: x\r\n\r\n.\r\n\n.\nR+OK[]"
         "deleted\n.\n"},
        {"pipelined with an -ERR in the middle",
         "+OK\r\na\r\n.\r\n-ERR [SYS/PERM] gone\r\n+OK\r\nb\r\n.\r\n",
         {body, body, body},
         "R+OK[]\nDa\r\n\n.\nR-ERR[SYS/PERM]gone\n.\nR+OK[]\nDb\r\n\n.\n"},
    };
}

std::vector<std::size_t> one_cut(std::size_t at)
{
    return {at};
}

} // namespace

TEST_CASE("response_parser transcripts are independent of how input is split")
{
    for (const auto& c : cases()) {
        INFO(c.name);
        const auto whole = run_whole(c.input, c.plan, c.limits);
        CHECK(whole == c.expected);
        for (std::size_t i = 0; i <= c.input.size(); ++i) {
            INFO("cut at " << i);
            REQUIRE(run_parser(c.input, c.plan, one_cut(i), c.limits) == whole);
        }
        if (c.input.size() <= 80) {
            for (std::size_t i = 0; i <= c.input.size(); ++i)
                for (std::size_t j = i; j <= c.input.size(); ++j) {
                    INFO("cuts at " << i << " and " << j);
                    REQUIRE(run_parser(c.input, c.plan, {i, j}, c.limits) == whole);
                }
        }
        std::vector<std::size_t> every(c.input.size());
        std::iota(every.begin(), every.end(), std::size_t{0});
        CHECK(run_parser(c.input, c.plan, every, c.limits) == whole);
    }
}

TEST_CASE("response_parser hands out body chunks that point into the input")
{
    pop3::response_parser parser;
    parser.expect(response_kind::multi_line, body_mode::stream);
    const std::string input = "+OK\r\nline one\r\nline two\r\n.\r\n";
    std::string_view rest = input;
    auto r = parser.parse(rest);
    REQUIRE(r.event == pop3::parse_event::reply);
    rest.remove_prefix(r.consumed);
    r = parser.parse(rest);
    REQUIRE(r.event == pop3::parse_event::data);
    // No copy: the chunk is a view of the caller's buffer, and spans both lines.
    CHECK(r.data.data() == rest.data());
    CHECK(r.data == "line one\r\nline two\r\n");
    rest.remove_prefix(r.consumed);
    r = parser.parse(rest);
    CHECK(r.event == pop3::parse_event::done);
    CHECK(r.consumed == 3);
    CHECK_FALSE(parser.in_progress());
}

TEST_CASE("response_parser keeps a possible terminator until it can decide")
{
    pop3::response_parser parser;
    parser.expect(response_kind::multi_line, body_mode::stream);
    REQUIRE(parser.parse("+OK\r\n").event == pop3::parse_event::reply);
    auto r = parser.parse(".");
    CHECK(r.event == pop3::parse_event::need_more);
    CHECK(r.consumed == 0);
    r = parser.parse(".\r");
    CHECK(r.event == pop3::parse_event::need_more);
    CHECK(r.consumed == 0);
    CHECK(parser.finish() == pop3::errc::unexpected_eof);
    r = parser.parse(".\r\n");
    CHECK(r.event == pop3::parse_event::done);
    CHECK(r.consumed == 3);
    CHECK_FALSE(parser.finish());
}

TEST_CASE("response_parser refuses bytes nobody asked for")
{
    pop3::response_parser parser;
    CHECK(parser.parse("").event == pop3::parse_event::need_more);
    const auto r = parser.parse("+OK surprise\r\n");
    CHECK(r.event == pop3::parse_event::failed);
    CHECK(r.error == pop3::errc::malformed_response);
    CHECK(parser.failed());
    // A failed parser stays failed: the session is out of step.
    parser.expect(response_kind::single_line);
    CHECK(parser.parse("+OK\r\n").event == pop3::parse_event::failed);
}

TEST_CASE("response_parser streams a 1 MiB line and rejects a 1 MiB status line")
{
    const std::string big(1 << 20, 'x');
    const auto streamed = run_whole("+OK\r\n" + big + "\r\n.\r\n", {body});
    CHECK(streamed == "R+OK[]\nD" + big + "\r\n\n.\n");
    const auto status = run_whole("+OK " + big + "\r\n", {single});
    CHECK(status == error_line(pop3::errc::line_too_long));
    // Without any line break the parser must give up at the limit, not buffer forever.
    pop3::response_parser parser;
    parser.expect(response_kind::single_line);
    const auto r = parser.parse(big);
    CHECK(r.event == pop3::parse_event::failed);
    CHECK(r.error == pop3::errc::line_too_long);
}

TEST_CASE("response_parser finds stuffed lines at every position of the fast scan")
{
    // The body scanner works in 16-byte blocks; put the "\n." at every offset around
    // the block boundaries and check that every stuffed dot is removed.
    for (std::size_t pad = 0; pad < 40; ++pad) {
        INFO("pad " << pad);
        const std::string line(pad, 'a');
        const std::string input = "+OK\r\n" + line + "\r\n..b\r\n" + line + "\r\n.\r\n";
        CHECK(run_whole(input, {body}) == "R+OK[]\nD" + line + "\r\n.b\r\n" + line + "\r\n\n.\n");
    }
}

TEST_CASE("every body scanner agrees with a byte-by-byte reference")
{
    const auto reference = [](const char* d, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i)
            if (d[i] == '\n' && (i + 1 == n || d[i + 1] == '.')) return i;
        return n;
    };
    std::uint32_t state = 12345;
    const auto next_byte = [&] {
        state = state * 1103515245u + 12345u;
        const auto r = (state >> 16) % 8;
        return r == 0 ? '\n' : r == 1 ? '.' : 'x';
    };
    std::string buffer;
    for (int round = 0; round < 2000; ++round) {
        buffer.resize(static_cast<std::size_t>(round % 97));
        for (auto& c : buffer) c = next_byte();
        const auto expected = reference(buffer.data(), buffer.size());
        INFO("round " << round);
        REQUIRE(pop3::detail::find_dot_line_break(buffer.data(), buffer.size()) == expected);
        REQUIRE(pop3::detail::find_dot_line_break_from(buffer.data(), buffer.size(), 0) ==
                expected);
#if defined(POP3_DETAIL_HAVE_SSE2)
        REQUIRE(pop3::detail::find_dot_line_break_sse2(buffer.data(), buffer.size()) == expected);
#endif
#if defined(POP3_DETAIL_HAVE_AVX2_DISPATCH)
        if (pop3::detail::cpu_has_avx2())
            REQUIRE(pop3::detail::find_dot_line_break_avx2(buffer.data(), buffer.size()) ==
                    expected);
#endif
    }
}
