// fuzz_response_parser: libFuzzer target for pop3::response_parser and the parsers that
// consume what it hands out (reply, results, capabilities, greeting).
//
// Input layout: a 5-byte header, then the server's bytes.
//   h[0]  bits 0-2: parser_limits::max_line_length (default, small values, or SIZE_MAX)
//         bits 3-4: parser_limits::max_uid_length
//         bits 5-7: how the bytes are cut into pieces (see `piece_sizes`)
//   h[1]  seed of the cut pattern
//   h[2]  bits 0-2: 1..8 responses in the pipeline
//   h[3..4] two bits per response: single_line / multi_line+stream / multi_line+lines / sasl
//
// Properties checked (any violation calls __builtin_trap):
//   * incremental == whole: the bytes fed in pieces through a reused std::string buffer
//     (erase consumed, append the next piece) give the same replies, lines, concatenated
//     stream data and final error as the same bytes given to a second parser in one go;
//   * `consumed` <= input size; every `data` view lies inside the consumed prefix of the
//     input it came from; an event other than need_more either consumes bytes or is the
//     zero-byte `done` of a response with no body (at most one per response), so the
//     driver loop always progresses (the iteration count is bounded);
//   * need_more is never returned while the parser holds enough bytes to decide (more
//     than max_line_length + 2 for a line, 3 for a body line start): no unbounded buffering;
//   * a body ends exactly at a terminator line ("." CRLF or "." LF), the terminator never
//     appears in the data, and the data equals an independent reference un-stuffing of the
//     body's bytes; line_too_long is only reported for a line that really is too long;
//   * the typed parsers fed with every line / status text keep their documented contracts.
#include <pop3/capabilities.hpp>
#include <pop3/greeting.hpp>
#include <pop3/limits.hpp>
#include <pop3/reply.hpp>
#include <pop3/response_parser.hpp>
#include <pop3/results.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace {

#define FUZZ_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            std::fprintf(stderr, "fuzz_response_parser: check failed at line %d: %s\n",     \
                         __LINE__, #cond);                                                 \
            __builtin_trap();                                                              \
        }                                                                                  \
    } while (0)

struct planned_response {
    pop3::response_kind kind;
    pop3::body_mode mode;
};

constexpr std::size_t header_size = 5;

// A limit of SIZE_MAX ("no limit") must behave like a large limit. Building with
// -DPOP3_FUZZ_EXTREME_LIMITS=0 leaves it out, to fuzz past a known failure there.
#ifndef POP3_FUZZ_EXTREME_LIMITS
#define POP3_FUZZ_EXTREME_LIMITS 1
#endif

pop3::parser_limits choose_limits(std::uint8_t h)
{
    constexpr std::size_t unlimited =
        POP3_FUZZ_EXTREME_LIMITS ? std::numeric_limits<std::size_t>::max() : 4096;
    static constexpr std::size_t line_lengths[8] = {4096, 0, 1, 3, 6, 16, 200, unlimited};
    static constexpr std::size_t uid_lengths[4] = {512, 0, 5, std::numeric_limits<std::size_t>::max()};
    pop3::parser_limits limits;
    limits.max_line_length = line_lengths[h & 7u];
    limits.max_uid_length = uid_lengths[(h >> 3) & 3u];
    return limits;
}

std::vector<planned_response> choose_plan(std::uint8_t count_byte, std::uint16_t kinds)
{
    std::vector<planned_response> plan;
    const unsigned count = 1u + (count_byte & 7u);
    for (unsigned i = 0; i < count; ++i) {
        switch ((kinds >> (2 * i)) & 3u) {
        case 0: plan.push_back({pop3::response_kind::single_line, pop3::body_mode::stream}); break;
        case 1: plan.push_back({pop3::response_kind::multi_line, pop3::body_mode::stream}); break;
        case 2: plan.push_back({pop3::response_kind::multi_line, pop3::body_mode::lines}); break;
        default: plan.push_back({pop3::response_kind::sasl, pop3::body_mode::stream}); break;
        }
    }
    return plan;
}

/// Piece sizes covering `size` bytes; a 0 means "append nothing and parse again".
std::vector<std::size_t> piece_sizes(std::string_view input, unsigned pattern, std::uint8_t seed)
{
    std::vector<std::size_t> pieces;
    const std::size_t size = input.size();
    std::uint32_t rng = 0x9e3779b9u ^ seed;
    auto next = [&rng] {
        rng = rng * 1664525u + 1013904223u;
        return rng >> 8;
    };
    std::size_t at = 0;
    auto add = [&](std::size_t n) {
        if (n > size - at) n = size - at;
        pieces.push_back(n);
        at += n;
    };
    switch (pattern) {
    case 0: // single bytes: every possible cut position at once
        while (at < size) add(1);
        break;
    case 1: // fixed size
        while (at < size) add(1u + seed % 16u);
        break;
    case 2: // small random sizes
        while (at < size) add(1u + next() % 8u);
        break;
    case 3: // right after every LF, shifted by -1..+1: cuts inside CR LF and before dots
        while (at < size) {
            const auto lf = input.find('\n', at);
            if (lf == std::string_view::npos) {
                add(size - at);
                break;
            }
            const std::size_t shift = seed % 3u; // 0: after LF, 1: before LF, 2: before CR
            std::size_t end = lf + 1;
            if (end - at > shift) end -= shift;
            add(end - at);
        }
        break;
    case 4: // two pieces
        add(size * seed / 256u);
        add(size);
        break;
    case 5: // sizes 1..3 with empty appends in between
        while (at < size) {
            if (next() % 4u == 0) pieces.push_back(0);
            add(1u + next() % 3u);
        }
        break;
    case 6: // larger random pieces
        while (at < size) add(1u + next() % 200u);
        break;
    default: // mostly single bytes with occasional big pieces
        while (at < size) add(next() % 5u == 0 ? 1u + next() % 64u : 1u);
        break;
    }
    if (pieces.empty()) pieces.push_back(0);
    return pieces;
}

const char* status_name(pop3::reply_status s)
{
    switch (s) {
    case pop3::reply_status::ok: return "+OK";
    case pop3::reply_status::err: return "-ERR";
    case pop3::reply_status::continuation: return "+";
    }
    return "?";
}

/// The typed parsers must never misbehave on whatever the response parser hands out.
struct downstream {
    pop3::parser_limits limits;
    pop3::capabilities caps;

    void status_text(const pop3::server_reply& reply)
    {
        const std::string_view text = reply.text;
        FUZZ_CHECK(text.find('\n') == std::string_view::npos);
        FUZZ_CHECK(text.find('\0') == std::string_view::npos);
        FUZZ_CHECK(reply.code.text.empty() == (reply.code.kind == pop3::response_code_kind::none));
        if (reply.code.kind != pop3::response_code_kind::none)
            FUZZ_CHECK(pop3::classify_response_code(reply.code.text) == reply.code.kind);
        if (reply.status == pop3::reply_status::err)
            FUZZ_CHECK(pop3::error_from_reply(reply));
        else
            FUZZ_CHECK(!pop3::error_from_reply(reply));

        pop3::maildrop_stat st;
        (void)pop3::parse_stat(text, st);
        const auto ts = pop3::find_apop_timestamp(text);
        if (!ts.empty()) {
            FUZZ_CHECK(ts.data() >= text.data() && ts.data() + ts.size() <= text.data() + text.size());
            FUZZ_CHECK(ts.size() >= 5 && ts.front() == '<' && ts.back() == '>');
            const auto inner = ts.substr(1, ts.size() - 2);
            // Some '@' separates two non-empty parts (the library takes the last one).
            const auto at = inner.rfind('@');
            FUZZ_CHECK(at != std::string_view::npos && at > 0 && at + 1 < inner.size());
            FUZZ_CHECK(inner.find_first_of("<> ") == std::string_view::npos);
        }
        // "LIST n" and "UIDL n" answer on the status line.
        data_line(text, /*capa=*/false);
    }

    void data_line(std::string_view line, bool capa)
    {
        pop3::message_size ms;
        if (!pop3::parse_scan_listing(line, ms)) FUZZ_CHECK(ms.number != 0);

        pop3::message_uid mu;
        if (!pop3::parse_unique_id_listing(line, mu, limits)) {
            FUZZ_CHECK(mu.number != 0);
            FUZZ_CHECK(!mu.uid.empty() && mu.uid.size() <= limits.max_uid_length);
            for (char c : mu.uid) {
                const auto u = static_cast<unsigned char>(c);
                FUZZ_CHECK(u > 0x20 && u != 0x7f);
            }
        }

        if (capa) {
            const auto before = caps.entries.size();
            (void)caps.add_line(line);
            FUZZ_CHECK(caps.entries.size() <= before + 1);
            for (const auto& m : caps.sasl_mechanisms)
                for (char c : m) FUZZ_CHECK(!(c >= 'a' && c <= 'z'));
            if (caps.entries.size() == before + 1) {
                FUZZ_CHECK(!caps.entries.back().name.empty());
                FUZZ_CHECK(caps.has(caps.entries.back().name));
            }
            (void)caps.has_sasl("PLAIN");
        }
    }
};

/// Canonical record of what a parser reported. Stream data is merged per response: where
/// one chunk ends and the next begins depends on the cuts and must not matter.
struct transcript {
    std::string text;
    std::string pending_data;

    void flush()
    {
        if (!pending_data.empty()) {
            text += "D";
            text += std::to_string(pending_data.size());
            text += ':';
            text += pending_data;
            text += '\n';
            pending_data.clear();
        }
    }
    void reply(const pop3::server_reply& r)
    {
        flush();
        text += 'R';
        text += status_name(r.status);
        text += '[' + std::to_string(static_cast<int>(r.code.kind)) + ':' + r.code.text + ']';
        text += std::to_string(r.text.size()) + ':' + r.text + '\n';
    }
    void line(std::string_view l)
    {
        flush();
        text += 'L';
        text += std::to_string(l.size());
        text += ':';
        text.append(l);
        text += '\n';
    }
    void data(std::string_view d) { pending_data.append(d); }
    void done()
    {
        flush();
        text += ".\n";
    }
    void error(pop3::error_code ec, const char* where)
    {
        flush();
        text += where;
        text += std::to_string(ec.value());
        text += '\n';
    }
};

/// Which part of a response the parser is in, as the driver can tell from the events.
enum class phase { status, body, after };

bool is_terminator(std::string_view bytes) { return bytes == ".\r\n" || bytes == ".\n"; }

/// The reference: RFC 1939 section 3 un-stuffing written the obvious way, one line at a
/// time. Returns true when `raw` is data lines followed by exactly one terminator line
/// that ends at raw.size().
bool reference_body(std::string_view raw, pop3::body_mode mode, std::string& stream_out,
                    std::vector<std::string>& lines_out)
{
    std::size_t p = 0;
    while (p < raw.size()) {
        const auto lf = raw.find('\n', p);
        if (lf == std::string_view::npos) return false;
        auto line = raw.substr(p, lf - p);
        if (line == "." || line == ".\r") return lf + 1 == raw.size();
        if (!line.empty() && line.front() == '.') line.remove_prefix(1);
        if (mode == pop3::body_mode::stream) {
            stream_out.append(line);
            stream_out += '\n';
        } else {
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            lines_out.emplace_back(line);
        }
        p = lf + 1;
    }
    return false;
}

/// Is line_too_long justified for the line at the front of `rest`?
bool line_really_too_long(std::string_view rest, std::size_t max)
{
    const auto lf = rest.find('\n');
    if (lf == std::string_view::npos) {
        // Even max bytes + CR would need the LF at index max + 1.
        return max < rest.size() && rest.size() - max >= 2;
    }
    const std::size_t content = (lf > 0 && rest[lf - 1] == '\r') ? lf - 1 : lf;
    return content > max;
}

void check_result(const pop3::parse_result& r, std::string_view input)
{
    FUZZ_CHECK(r.consumed <= input.size());
    if (r.event == pop3::parse_event::data || r.event == pop3::parse_event::line) {
        // The view must lie inside the bytes the caller is about to drop.
        FUZZ_CHECK(r.data.data() >= input.data());
        FUZZ_CHECK(r.data.data() + r.data.size() <= input.data() + r.consumed);
    } else {
        FUZZ_CHECK(r.data.empty());
    }
    if (r.event == pop3::parse_event::data) FUZZ_CHECK(!r.data.empty());
    if (r.event == pop3::parse_event::line) {
        FUZZ_CHECK(r.data.find('\n') == std::string_view::npos);
        FUZZ_CHECK(r.data.find('\0') == std::string_view::npos);
    }
    if (r.event == pop3::parse_event::failed) {
        FUZZ_CHECK(r.consumed == 0);
        FUZZ_CHECK(r.error == pop3::errc::line_too_long || r.error == pop3::errc::malformed_response);
    } else {
        FUZZ_CHECK(!r.error);
    }
    if (r.event == pop3::parse_event::reply || r.event == pop3::parse_event::line ||
        r.event == pop3::parse_event::data)
        FUZZ_CHECK(r.consumed > 0);
}

/// Drives one parser the way a client does: a std::string buffer, `pieces` appended one
/// at a time (socket reads), consumed bytes erased after each event. The buffer always
/// holds input[dropped, fed), so byte offsets in `input` are known for the reference checks.
std::string drive(std::string_view input, const std::vector<std::size_t>& pieces,
                  const std::vector<planned_response>& plan, const pop3::parser_limits& limits)
{
    pop3::response_parser parser(limits);
    FUZZ_CHECK(!parser.in_progress() && !parser.failed() && !parser.finish());
    transcript out;
    downstream sink{limits, {}};

    std::string buffer;
    std::size_t next_piece = 0;
    std::size_t fed = 0;
    std::size_t dropped = 0; // bytes of `input` erased from the front of `buffer` so far

    std::size_t next_response = 0;
    planned_response current{pop3::response_kind::single_line, pop3::body_mode::stream};
    phase ph = phase::after;
    std::size_t body_start = 0; // offset in `input` where the current body began
    std::string body_data;
    std::vector<std::string> body_lines;
    bool zero_done_allowed = false;

    auto start_next = [&] {
        if (next_response < plan.size()) {
            current = plan[next_response++];
            parser.expect(current.kind, current.mode);
            FUZZ_CHECK(parser.in_progress());
            ph = phase::status;
            sink.caps.clear();
        } else {
            ph = phase::after;
        }
    };
    start_next();

    // Every non-need_more event consumes at least one byte, except one zero-byte `done`
    // per response and the final `failed`: this bounds the loop.
    const std::size_t max_iterations = 2 * input.size() + 2 * plan.size() + pieces.size() + 8;
    std::size_t iterations = 0;
    bool stopped = false;
    while (!stopped) {
        FUZZ_CHECK(++iterations <= max_iterations);
        const std::string_view view = buffer;
        const auto r = parser.parse(view);
        check_result(r, view);
        switch (r.event) {
        case pop3::parse_event::need_more: {
            FUZZ_CHECK(r.consumed == 0);
            // The parser must not sit on bytes it could already decide about.
            if (ph == phase::status || (ph == phase::body && current.mode == pop3::body_mode::lines)) {
                FUZZ_CHECK(view.find('\n') == std::string_view::npos);
                FUZZ_CHECK(limits.max_line_length >= view.size() ||
                           view.size() - limits.max_line_length < 2);
            } else if (ph == phase::body) {
                FUZZ_CHECK(view.size() < 3);
                FUZZ_CHECK(view.empty() || view.front() == '.');
            } else {
                FUZZ_CHECK(view.empty());
            }
            if (next_piece == pieces.size()) {
                stopped = true;
                break;
            }
            const auto n = pieces[next_piece++];
            buffer.append(input.substr(fed, n));
            fed += n;
            break;
        }
        case pop3::parse_event::reply: {
            FUZZ_CHECK(ph == phase::status);
            FUZZ_CHECK(view[r.consumed - 1] == '\n');
            FUZZ_CHECK(view.substr(0, r.consumed - 1).find('\n') == std::string_view::npos);
            const auto& rep = parser.reply();
            if (rep.status == pop3::reply_status::continuation)
                FUZZ_CHECK(current.kind == pop3::response_kind::sasl);
            out.reply(rep);
            sink.status_text(rep);
            if (current.kind == pop3::response_kind::multi_line && rep.ok()) {
                ph = phase::body;
                body_start = dropped + r.consumed;
                body_data.clear();
                body_lines.clear();
                zero_done_allowed = false;
            } else {
                ph = phase::after; // the zero-byte `done` comes next
                zero_done_allowed = true;
            }
            FUZZ_CHECK(parser.in_progress());
            FUZZ_CHECK(parser.finish() == (ph == phase::body
                                               ? pop3::error_code(pop3::errc::unexpected_eof)
                                               : pop3::error_code()));
            break;
        }
        case pop3::parse_event::line:
            FUZZ_CHECK(ph == phase::body && current.mode == pop3::body_mode::lines);
            FUZZ_CHECK(r.data.size() <= limits.max_line_length);
            out.line(r.data);
            body_lines.emplace_back(r.data);
            sink.data_line(r.data, /*capa=*/true);
            break;
        case pop3::parse_event::data:
            FUZZ_CHECK(ph == phase::body && current.mode == pop3::body_mode::stream);
            out.data(r.data);
            body_data.append(r.data);
            break;
        case pop3::parse_event::done:
            if (r.consumed == 0) {
                FUZZ_CHECK(zero_done_allowed);
                zero_done_allowed = false;
            } else {
                FUZZ_CHECK(ph == phase::body);
                // Only the terminator line is consumed by `done`, and it is not data.
                FUZZ_CHECK(is_terminator(view.substr(0, r.consumed)));
                const auto body_end = dropped + r.consumed;
                std::string ref_data;
                std::vector<std::string> ref_lines;
                FUZZ_CHECK(reference_body(input.substr(body_start, body_end - body_start),
                                          current.mode, ref_data, ref_lines));
                FUZZ_CHECK(ref_data == body_data);
                FUZZ_CHECK(ref_lines == body_lines);
                if (current.mode == pop3::body_mode::stream && !body_data.empty())
                    FUZZ_CHECK(body_data.back() == '\n');
            }
            FUZZ_CHECK(!parser.in_progress() && !parser.finish());
            out.done();
            start_next();
            break;
        case pop3::parse_event::failed:
            FUZZ_CHECK(parser.failed() && !parser.in_progress());
            FUZZ_CHECK(parser.finish() == r.error);
            if (r.error == pop3::errc::line_too_long)
                FUZZ_CHECK(line_really_too_long(view, limits.max_line_length));
            if (ph == phase::after) FUZZ_CHECK(r.error == pop3::errc::malformed_response);
            out.error(r.error, "E");
            stopped = true;
            break;
        }
        FUZZ_CHECK(r.consumed <= buffer.size());
        buffer.erase(0, r.consumed);
        dropped += r.consumed;
    }

    if (!parser.failed()) {
        // End of input: the rest of the bytes are a prefix the parser could not yet decide.
        FUZZ_CHECK(fed == input.size());
        out.flush();
        if (auto ec = parser.finish()) {
            FUZZ_CHECK(ec == pop3::errc::unexpected_eof);
            FUZZ_CHECK(ph != phase::after);
            out.error(ec, "F");
        } else {
            FUZZ_CHECK(ph == phase::after && buffer.empty());
        }
        if (ph == phase::body) {
            // The data so far must be a prefix of the reference un-stuffing of everything
            // that arrived (a partial last line included).
            std::string ref_data;
            std::vector<std::string> ref_lines;
            std::string raw(input.substr(body_start));
            raw += "\n"; // completes the last partial line for the reference
            (void)reference_body(raw, current.mode, ref_data, ref_lines);
            if (current.mode == pop3::body_mode::stream) {
                FUZZ_CHECK(body_data.size() <= ref_data.size());
                FUZZ_CHECK(ref_data.compare(0, body_data.size(), body_data) == 0);
            } else {
                FUZZ_CHECK(body_lines.size() <= ref_lines.size());
                for (std::size_t i = 0; i < body_lines.size(); ++i)
                    FUZZ_CHECK(body_lines[i] == ref_lines[i]);
            }
        }
    }
    // A failed parser stays failed and ignores expect.
    if (parser.failed()) {
        parser.expect(pop3::response_kind::single_line);
        FUZZ_CHECK(parser.failed());
        const auto again = parser.parse("+OK\r\n");
        FUZZ_CHECK(again.event == pop3::parse_event::failed && again.consumed == 0);
    }
    return out.text;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < header_size) return 0;
    const auto limits = choose_limits(data[0]);
    const auto plan =
        choose_plan(data[2], static_cast<std::uint16_t>(data[3] | (data[4] << 8)));
    const std::string_view input(reinterpret_cast<const char*>(data) + header_size,
                                 size - header_size);

    const auto pieces = piece_sizes(input, static_cast<unsigned>(data[0] >> 5), data[1]);
    const std::vector<std::size_t> whole{input.size()};

    const auto incremental = drive(input, pieces, plan, limits);
    const auto at_once = drive(input, whole, plan, limits);
    static const bool verbose = std::getenv("POP3_FUZZ_VERBOSE") != nullptr;
    if (verbose) std::fprintf(stderr, "--- transcript:\n%s", at_once.c_str());
    if (incremental != at_once) {
        std::fprintf(stderr, "incremental transcript:\n%s\nwhole transcript:\n%s\n",
                     incremental.c_str(), at_once.c_str());
        FUZZ_CHECK(incremental == at_once);
    }
    return 0;
}
