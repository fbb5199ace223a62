// pop3/response_parser.hpp: an incremental, sans-I/O parser for POP3 responses.
//
// Bytes in, events out; no I/O and no allocation per line. The caller owns the input
// buffer: each call says how many bytes it consumed, and the caller keeps the rest
// (a partial line, or a '.' at the start of a line that may be the terminator) and
// appends more before the next call. Input may be split anywhere, down to single
// bytes: the events and the data they carry are the same.
#ifndef POP3_RESPONSE_PARSER_HPP
#define POP3_RESPONSE_PARSER_HPP

#include <pop3/detail/scan.hpp>
#include <pop3/error.hpp>
#include <pop3/limits.hpp>
#include <pop3/reply.hpp>

#include <cstring>
#include <string_view>
#include <system_error>

namespace pop3 {

/// The shape of the response a command gets (RFC 1939 section 3).
enum class response_kind {
    single_line, ///< one status line (STAT, DELE, USER, ...)
    multi_line,  ///< a status line, then on +OK data lines up to "." (RETR, LIST, ...)
    sasl,        ///< inside AUTH: a status line or a "+ challenge" line (RFC 5034)
};

/// How the data of a multi-line response is handed out.
enum class body_mode {
    stream, ///< chunks of unstuffed bytes, line endings kept, no line limit (RETR, TOP)
    lines,  ///< one unstuffed line per event, without its line ending, limited (LIST, UIDL, CAPA)
};

/// What a call to `response_parser::parse` found.
enum class parse_event {
    need_more, ///< append more input and call again (keep the unconsumed bytes)
    reply,     ///< the status line is complete: see `response_parser::reply()`
    line,      ///< `data` holds one data line (body_mode::lines)
    data,      ///< `data` holds a chunk of the body (body_mode::stream)
    done,      ///< the response is complete; call `expect` for the next one
    failed,    ///< `error` says why; the parser stays failed
};

/// The outcome of one `parse` call.
struct parse_result {
    parse_event event = parse_event::need_more; ///< what was found
    std::size_t consumed = 0; ///< bytes at the front of the input the caller must drop
    std::string_view data;    ///< for `line` and `data`: points into the input
    error_code error;         ///< for `failed`
};

/// Parses one response at a time: call `expect`, then `parse` until `done` or `failed`.
///
/// Sans-I/O: the caller reads the bytes, keeps them in its own buffer, and drops the
/// `consumed` prefix after each call (after using `data`, which points into it):
///
/// ```
/// pop3::response_parser parser;
/// parser.expect(pop3::response_kind::multi_line, pop3::body_mode::lines); // UIDL
/// std::string input = "+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n.\r\n";
/// for (bool done = false; !done;) {
///     const auto r = parser.parse(input);
///     switch (r.event) {
///     case pop3::parse_event::need_more: break; // append what the socket has, then again
///     case pop3::parse_event::reply: break;     // parser.reply(): +OK or -ERR
///     case pop3::parse_event::line: use(r.data); break;
///     case pop3::parse_event::failed: throw pop3::error(r.error);
///     default: done = true; break;              // done (data is for body_mode::stream)
///     }
///     input.erase(0, r.consumed);
/// }
/// ```
///
/// Errors (`failed`): `errc::malformed_response` (not a status line, NUL in a data line,
/// bytes when no response was expected), `errc::line_too_long` (over
/// `parser_limits::max_line_length`); at the end of input, `finish` reports
/// `errc::unexpected_eof`. A failed parser stays failed.
class response_parser {
public:
    /// A parser with the given line limits, expecting nothing yet.
    explicit response_parser(parser_limits limits = {}) noexcept : limits_(limits) {}

    /// Starts a new response of the given shape. Bytes left over from the previous
    /// response (pipelined replies) are simply passed to the next `parse`.
    void expect(response_kind kind, body_mode mode = body_mode::stream) noexcept
    {
        if (state_ == state::failed) return;
        kind_ = kind;
        mode_ = mode;
        state_ = state::status;
    }

    /// Consumes a prefix of `input` and reports what it found.
    parse_result parse(std::string_view input)
    {
        switch (state_) {
        case state::idle:
            // Bytes nobody asked for: the server is out of step with us.
            if (input.empty()) return {};
            return fail(errc::malformed_response);
        case state::status: return parse_status(input);
        case state::complete: state_ = state::idle; return {parse_event::done, 0, {}, {}};
        case state::body_line_start:
        case state::body_mid_line:
            return mode_ == body_mode::stream ? parse_stream(input) : parse_line(input);
        case state::failed: break;
        }
        return {parse_event::failed, 0, {}, error_};
    }

    /// Call when the input has ended (the peer closed the connection). Returns
    /// `errc::unexpected_eof` if a response was cut short, so it is never taken as whole.
    error_code finish() const noexcept
    {
        switch (state_) {
        case state::idle:
        case state::complete: return {};
        case state::failed: return error_;
        default: return errc::unexpected_eof;
        }
    }

    /// The status line of the current (or last) response.
    const server_reply& reply() const noexcept { return reply_; }

    /// True between `expect` and the `done` event.
    bool in_progress() const noexcept { return state_ != state::idle && state_ != state::failed; }

    /// True after a `failed` event: the connection is out of step and must be dropped.
    bool failed() const noexcept { return state_ == state::failed; }

    /// The limits given at construction.
    const parser_limits& limits() const noexcept { return limits_; }

private:
    enum class state { idle, status, complete, body_line_start, body_mid_line, failed };

    parse_result fail(error_code ec) noexcept
    {
        state_ = state::failed;
        error_ = ec;
        return {parse_event::failed, 0, {}, ec};
    }

    /// Finds the end of a limited line. Returns the index of its LF, `npos` when more
    /// input is needed, or fails the parser when the line is over the limit.
    std::size_t find_line_end(std::string_view input, parse_result& failure) noexcept
    {
        // A line at the limit still needs room for its CR LF (and "no limit" must not wrap).
        const auto window = limits_.max_line_length > static_cast<std::size_t>(-1) - 2
                                ? static_cast<std::size_t>(-1)
                                : limits_.max_line_length + 2;
        const auto searched = input.size() < window ? input.size() : window;
        const void* lf = std::memchr(input.data(), '\n', searched);
        if (lf == nullptr) {
            if (input.size() >= window) failure = fail(errc::line_too_long);
            return std::string_view::npos;
        }
        return static_cast<std::size_t>(static_cast<const char*>(lf) - input.data());
    }

    std::size_t line_length(std::string_view input, std::size_t lf) const noexcept
    {
        return (lf > 0 && input[lf - 1] == '\r') ? lf - 1 : lf;
    }

    parse_result parse_status(std::string_view input)
    {
        parse_result failure;
        const auto lf = find_line_end(input, failure);
        if (lf == std::string_view::npos) return failure;
        const auto line = input.substr(0, line_length(input, lf));
        if (line.size() > limits_.max_line_length) return fail(errc::line_too_long);
        if (auto ec = parse_reply_line(line, kind_ == response_kind::sasl, reply_)) return fail(ec);
        // RFC 1939 section 3: only a positive reply to a multi-line command has data.
        state_ = (kind_ == response_kind::multi_line && reply_.ok()) ? state::body_line_start
                                                                     : state::complete;
        return {parse_event::reply, lf + 1, {}, {}};
    }

    /// body_mode::lines: one whole line per event, terminator "." CRLF (or bare LF).
    parse_result parse_line(std::string_view input)
    {
        parse_result failure;
        const auto lf = find_line_end(input, failure);
        if (lf == std::string_view::npos) return failure;
        auto line = input.substr(0, line_length(input, lf));
        if (line.size() > limits_.max_line_length) return fail(errc::line_too_long);
        if (line.find('\0') != std::string_view::npos) return fail(errc::malformed_response);
        if (!line.empty() && line.front() == '.') {
            if (line.size() == 1) {
                state_ = state::idle;
                return {parse_event::done, lf + 1, {}, {}};
            }
            line.remove_prefix(1); // RFC 1939 section 3: strip the stuffed dot
        }
        return {parse_event::line, lf + 1, line, {}};
    }

    /// body_mode::stream: chunks that span as many lines as possible.
    parse_result parse_stream(std::string_view input)
    {
        std::size_t pos = 0;
        if (state_ == state::body_line_start) {
            if (input.empty()) return {};
            if (input[0] == '.') {
                // Is this the terminator ".\r\n" (or ".\n"), or a stuffed line?
                if (input.size() < 2) return {};
                if (input[1] == '\n') return end_of_body(2);
                if (input[1] == '\r') {
                    if (input.size() < 3) return {};
                    if (input[2] == '\n') return end_of_body(3);
                }
                pos = 1; // RFC 1939 section 3: any other line loses its first '.'
            }
            state_ = state::body_mid_line;
        }
        const auto rest = input.substr(pos);
        if (rest.empty()) return {parse_event::need_more, pos, {}, {}};
        const auto lf = detail::find_dot_line_break(rest.data(), rest.size());
        std::size_t chunk = rest.size();
        if (lf != rest.size()) {
            chunk = lf + 1;
            state_ = state::body_line_start;
        }
        return {parse_event::data, pos + chunk, rest.substr(0, chunk), {}};
    }

    parse_result end_of_body(std::size_t consumed) noexcept
    {
        state_ = state::idle;
        return {parse_event::done, consumed, {}, {}};
    }

    parser_limits limits_;
    state state_ = state::idle;
    response_kind kind_ = response_kind::single_line;
    body_mode mode_ = body_mode::stream;
    server_reply reply_;
    error_code error_;
};

} // namespace pop3

#endif // POP3_RESPONSE_PARSER_HPP
