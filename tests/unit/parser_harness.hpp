// A small driver for response_parser used by the tests: feeds input in pieces the way a
// socket would deliver it and writes every event into a canonical transcript string.
#ifndef POP3_TESTS_PARSER_HARNESS_HPP
#define POP3_TESTS_PARSER_HARNESS_HPP

#include <pop3/response_parser.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace pop3_test {

struct expected_response {
    pop3::response_kind kind;
    pop3::body_mode mode = pop3::body_mode::stream;
};

inline const char* status_name(pop3::reply_status s)
{
    switch (s) {
    case pop3::reply_status::ok: return "+OK";
    case pop3::reply_status::err: return "-ERR";
    case pop3::reply_status::continuation: return "+";
    }
    return "?";
}

/// Feeds `input` cut at `cuts` (ascending offsets) through one parser that expects the
/// given responses in order, then signals end of input. Returns the transcript.
inline std::string run_parser(std::string_view input, const std::vector<expected_response>& plan,
                              const std::vector<std::size_t>& cuts, pop3::parser_limits limits = {})
{
    pop3::response_parser parser(limits);
    std::string transcript;
    std::string buffer;
    std::string body; // data chunks are merged: where a chunk ends must not matter
    std::size_t next_response = 0;
    bool stopped = false;
    auto start_next = [&] {
        if (next_response < plan.size()) {
            parser.expect(plan[next_response].kind, plan[next_response].mode);
            ++next_response;
        }
    };
    start_next();
    std::size_t from = 0;
    std::vector<std::size_t> ends = cuts;
    ends.push_back(input.size());
    for (std::size_t end : ends) {
        if (stopped) break;
        buffer.append(input.substr(from, end - from));
        from = end;
        for (int guard = 0; guard < 1000000 && !stopped; ++guard) {
            const auto r = parser.parse(buffer);
            if (r.consumed > buffer.size()) {
                transcript += "!consumed past input\n";
                stopped = true;
                break;
            }
            switch (r.event) {
            case pop3::parse_event::need_more: break;
            case pop3::parse_event::reply: {
                const auto& rep = parser.reply();
                transcript += std::string("R") + status_name(rep.status) + "[" + rep.code.text +
                              "]" + rep.text + "\n";
                break;
            }
            case pop3::parse_event::line: transcript += "L" + std::string(r.data) + "\n"; break;
            case pop3::parse_event::data: body.append(r.data); break;
            case pop3::parse_event::done:
                if (!body.empty()) transcript += "D" + body + "\n";
                body.clear();
                transcript += ".\n";
                if (next_response == plan.size()) stopped = true;
                start_next();
                break;
            case pop3::parse_event::failed:
                transcript += "E" + r.error.message() + "\n";
                stopped = true;
                break;
            }
            buffer.erase(0, r.consumed);
            if (r.event == pop3::parse_event::need_more) break;
        }
    }
    if (!stopped) {
        if (!body.empty()) transcript += "D" + body + "\n";
        if (auto ec = parser.finish()) transcript += "E" + ec.message() + "\n";
    }
    return transcript;
}

inline std::string run_whole(std::string_view input, const std::vector<expected_response>& plan,
                             pop3::parser_limits limits = {})
{
    return run_parser(input, plan, {}, limits);
}

} // namespace pop3_test

#endif
