// pop3/detail/protocol.hpp: the sans-I/O session engine. No Asio here.
//
// An operation (detail/operations.hpp) says which commands to send and what to do with
// each part of each reply. The protocol object runs one operation at a time: it frames
// commands, keeps the PIPELINING window, feeds received bytes to the parser and tells
// the driver what I/O to do next. The sync and async drivers (detail/engine.hpp) only
// perform that I/O; every protocol rule lives here or in the operations.
#ifndef POP3_DETAIL_PROTOCOL_HPP
#define POP3_DETAIL_PROTOCOL_HPP

#include <pop3/capabilities.hpp>
#include <pop3/error.hpp>
#include <pop3/greeting.hpp>
#include <pop3/limits.hpp>
#include <pop3/reply.hpp>
#include <pop3/response_parser.hpp>
#include <pop3/session_state.hpp>
#include <pop3/trace.hpp>

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace pop3::detail {

class protocol;

/// What an operation wants next.
struct step {
    enum class kind {
        command,   ///< the operation appended one command line; expect `shape` in reply
        expect,    ///< expect a reply without sending anything (the greeting)
        handshake, ///< start TLS now (after STLS); only once nothing is in flight
        connect,   ///< open the transport to `protocol::server()`; only once nothing is in flight
        close,     ///< close the transport now; only once nothing is in flight
        wait,      ///< nothing to send until an outstanding reply has been handled
        finished,  ///< nothing more; the operation completes once nothing is in flight
    };
    kind what = kind::finished;
    response_kind shape = response_kind::single_line;
    body_mode mode = body_mode::stream;
    /// How much of the command line the trace may show; the rest is a secret.
    std::size_t shown = std::string_view::npos;

    static step command(response_kind k, body_mode m = body_mode::stream)
    {
        return {kind::command, k, m};
    }
    /// A command whose line carries a secret after its first `shown` characters.
    static step secret_command(response_kind k, std::size_t shown)
    {
        return {kind::command, k, body_mode::stream, shown};
    }
    static step expect(response_kind k) { return {kind::expect, k, body_mode::stream}; }
    static step handshake() { return {kind::handshake}; }
    static step connect() { return {kind::connect}; }
    static step close() { return {kind::close}; }
    static step wait() { return {kind::wait}; }
    static step finished() { return {kind::finished}; }
};

/// A set of session states, for `requirements::states`.
constexpr unsigned in_state(session_state s) noexcept
{
    return 1u << static_cast<unsigned>(s);
}
constexpr unsigned any_state = ~0u;

/// A capability an operation needs (RFC 2449 section 6). When CAPA has been read and the
/// capability is missing, the operation is refused before anything is sent.
enum class needs_capability {
    none,
    top,  ///< TOP is optional (RFC 1939 section 7)
    stls, ///< RFC 2595 section 4
    utf8, ///< RFC 6856 section 2
    lang, ///< RFC 6856 section 3
};

/// When an operation may start: checked by `protocol::begin`, the one gate for all of them.
struct requirements {
    unsigned states = in_state(session_state::transaction);
    needs_capability capability = needs_capability::none;
    bool before_tls = false; ///< refused once TLS is active (STLS)
    bool opens_connection = false; ///< starts over on a new connection: even a broken session
};

/// One POP3 operation as a resumable algorithm. Handlers return an error only when the
/// session can no longer be trusted (malformed data); a server's -ERR is recorded by
/// the operation with `fail` and the reply is read to its end as usual.
class operation {
public:
    /// What the operation yields on success (redeclared by operations that yield something).
    using result_type = void;
    virtual ~operation() = default;

    /// The states it may start in and what it needs from the server.
    virtual requirements required() const noexcept = 0;
    /// Appends the next command to `out`, or says why there is none.
    virtual step next(protocol& p, std::string& out) = 0;
    /// May this operation keep several commands in flight (when the server pipelines)?
    virtual bool pipelinable() const noexcept { return false; }
    virtual error_code on_reply(protocol& p, const server_reply& reply) = 0;
    virtual error_code on_line(protocol&, std::string_view) { return {}; }
    virtual error_code on_data(protocol&, std::string_view) { return {}; }
    virtual error_code on_end(protocol&) { return {}; }
    virtual void on_handshake(protocol&) {}

    /// The operation's outcome once it has completed.
    error_code error() const noexcept { return error_; }

protected:
    /// Records the first error; later ones do not replace it.
    void fail(error_code ec) noexcept
    {
        if (!error_) error_ = ec;
    }

private:
    error_code error_;
};

/// The I/O a driver must perform next.
struct io_action {
    enum class kind {
        write,     ///< write all of `bytes`, then call `wrote()`
        read,      ///< read some bytes into `read_space()`, then call `read_done(n)`
        handshake, ///< perform the TLS client handshake, then call `handshake_done()`
        /// resolve `host` and `service` and connect the transport (a fresh TLS state on it),
        /// then call `connected()`
        connect,
        close, ///< close the transport, then call `closed()`
        done,      ///< the operation completed with `error`
    };
    kind what = kind::done;
    std::string_view bytes;
    error_code error;
    std::string_view host;    ///< for `connect`
    std::string_view service; ///< for `connect`

    static io_action write(std::string_view bytes) { return {kind::write, bytes, {}, {}, {}}; }
    static io_action read() { return {kind::read, {}, {}, {}, {}}; }
    static io_action handshake() { return {kind::handshake, {}, {}, {}, {}}; }
    static io_action connect(std::string_view host, std::string_view service)
    {
        return {kind::connect, {}, {}, host, service};
    }
    static io_action close() { return {kind::close, {}, {}, {}, {}}; }
    static io_action done(error_code ec) { return {kind::done, {}, ec, {}, {}}; }
};

/// Where the session goes: the host name also names the server for TLS (SNI and the
/// certificate check) and for OAUTHBEARER.
struct server_address {
    std::string host;
    std::string service;
};

/// Bounds of the PIPELINING window (RFC 2449 section 6.6). The client stops adding
/// commands once this is in flight (the last may cross `max_bytes` by its own length), so its writes fit in the socket buffers even when the server is
/// busy writing replies and not reading: neither side can block the other for good. The
/// bytes of the commands are what matters for that; the count only caps the bookkeeping.
/// (4 KiB is some 400 RETRs: a mailbox of small messages takes a round trip or two.)
struct pipeline_limits {
    std::size_t max_commands = 1024;
    std::size_t max_bytes = 4096;
};

class protocol {
public:
    explicit protocol(parser_limits limits = {}, pipeline_limits window = {})
        : parser_(limits), window_(window), buffer_(initial_buffer, '\0')
    {
    }

    // ---- state shared with the operations -------------------------------------------
    session_state state() const noexcept { return state_; }
    void set_state(session_state s) noexcept { state_ = s; }
    const capabilities& caps() const noexcept { return caps_; }
    capabilities& caps() noexcept { return caps_; }
    /// True once CAPA has been asked since the last change of layer (connect, STLS, login).
    bool caps_known() const noexcept { return caps_known_; }
    void set_caps_known(bool known) noexcept { caps_known_ = known; }
    const pop3::greeting& greeting() const noexcept { return greeting_; }
    pop3::greeting& greeting() noexcept { return greeting_; }
    bool tls_active() const noexcept { return tls_active_; }
    const parser_limits& limits() const noexcept { return parser_.limits(); }
    /// New limits for what the server may send; the trace, the pipeline window and the
    /// session stay. Between operations only (the parser holds no state then).
    void set_limits(const parser_limits& limits) { parser_ = response_parser(limits); }
    /// The last -ERR (or failed) reply: the diagnostics for an operation's error.
    const server_reply& error_reply() const noexcept { return error_reply_; }
    /// Adds what a failed exchange reported before its -ERR (see server_reply::detail).
    void set_error_detail(std::string detail) { error_reply_.detail = std::move(detail); }
    /// For a -ERR the operation handed on as a per-message result (retr_many): it does not
    /// fail the call, so it must not be what a later failure reports.
    void clear_error_reply() noexcept { error_reply_ = {}; }
    void set_trace(trace_hook hook) { trace_ = std::move(hook); }
    /// The server as the caller named it (`connect`, or `set_server_name` for a stream the
    /// caller connected).
    const server_address& server() const noexcept { return server_; }
    void set_server(server_address server) { server_ = std::move(server); }

    // ---- driver interface ------------------------------------------------------------

    /// Starts `op`. Returns an error when the session cannot run anything any more.
    error_code begin(operation& op)
    {
        if (op_ != nullptr) return errc::operation_in_progress;
        const auto required = op.required();
        if (state_ == session_state::broken && !required.opens_connection)
            return errc::session_broken;
        error_reply_ = {};
        if (auto ec = check(required)) return ec;
        op_ = &op;
        finished_ = false;
        return {};
    }

    /// May an operation with these requirements start now? Nothing is sent when not.
    error_code check(const requirements& r) const noexcept
    {
        if ((r.states & in_state(state_)) == 0 || (r.before_tls && tls_active_))
            return errc::wrong_state;
        if (lacks(r.capability)) return errc::not_supported;
        return {};
    }

    /// What to do next. Call after `begin` and after each completed I/O.
    io_action advance()
    {
        while (true) {
            if (!out_.empty()) return io_action::write(out_);
            if (handshake_pending_) return io_action::handshake();
            if (transport_pending_ == step::kind::connect)
                return io_action::connect(server_.host, server_.service);
            if (transport_pending_ == step::kind::close) return io_action::close();
            if (!finished_) {
                if (auto action = ask_operation()) return *action;
                if (!out_.empty() || handshake_pending_ || transport_pending_ != step::kind::wait)
                    continue;
            }
            if (in_flight_.empty()) {
                if (finished_) return complete(op_->error());
                // An operation that waits with nothing in flight would wait forever.
                return complete(break_session(make_error_code(errc::session_broken)));
            }
            const auto r = parser_.parse(std::string_view(buffer_.data() + begin_, end_ - begin_));
            begin_ += r.consumed;
            if (auto ec = dispatch(r)) return complete(break_session(ec));
            if (r.event == parse_event::need_more) return io_action::read();
        }
    }

    /// The driver wrote everything `advance` asked for.
    void wrote() noexcept { out_.clear(); }

    /// Where the driver may read into; never empty.
    std::pair<char*, std::size_t> read_space()
    {
        if (begin_ != 0) { // keep only the unconsumed tail (a partial line at most)
            std::memmove(&buffer_[0], &buffer_[begin_], end_ - begin_);
            end_ -= begin_;
            begin_ = 0;
        }
        // A partial line longer than the buffer: the parser's line limit (not this
        // buffer) decides how long a line may be, so grow.
        if (buffer_.size() - end_ < read_chunk / 2) buffer_.resize(buffer_.size() * 2);
        return {&buffer_[end_], buffer_.size() - end_};
    }

    void read_done(std::size_t n) noexcept { end_ += n; }

    /// The TLS handshake succeeded: from now on the driver uses the TLS layer.
    void handshake_done()
    {
        handshake_pending_ = false;
        tls_active_ = true;
        // RFC 2595 section 4: forget what was learned before TLS.
        caps_.clear();
        caps_known_ = false;
        if (op_ != nullptr) op_->on_handshake(*this);
    }

    /// The driver's I/O failed (including a timeout or cancellation). Returns the error
    /// to complete the operation with; the session is unusable afterwards.
    error_code io_failed(error_code ec)
    {
        complete(break_session(ec));
        return ec;
    }

    /// The TLS handshake failed: as `io_failed`, and `reason` (which certificate check
    /// failed, if one did) becomes the error reply's detail.
    error_code handshake_failed(error_code ec, std::string reason)
    {
        io_failed(ec);
        error_reply_ = {};
        error_reply_.detail = std::move(reason);
        return ec;
    }

    /// The driver connected the transport the `connect` action named: a new session
    /// starts on it, and the running operation goes on.
    void connected()
    {
        reset_connection();
        transport_pending_ = step::kind::wait;
    }

    /// The driver closed the transport: no session is left.
    void closed() noexcept
    {
        transport_pending_ = step::kind::wait;
        state_ = session_state::closed;
    }

    /// The peer closed the connection.
    error_code eof()
    {
        // Reads are only asked for while a reply is due, so the end is always early.
        auto ec = parser_.finish();
        if (!ec) ec = errc::unexpected_eof;
        complete(break_session(ec));
        return ec;
    }

    static constexpr std::size_t read_chunk = 64 * 1024;
    static constexpr std::size_t initial_buffer = read_chunk + 8 * 1024;

private:
    /// Forgets the old connection: its parser, buffers, layer, greeting and capabilities.
    void reset_connection()
    {
        parser_ = response_parser(parser_.limits());
        state_ = session_state::disconnected;
        caps_ = {};
        caps_known_ = false;
        greeting_ = {};
        tls_active_ = false;
        handshake_pending_ = false;
        begin_ = end_ = 0;
        out_.clear();
        in_flight_.clear();
        in_flight_bytes_ = 0;
    }

    struct pending_reply {
        response_kind shape;
        body_mode mode;
        std::size_t command_bytes;
    };

    /// True when CAPA has been read and says the capability is missing.
    bool lacks(needs_capability c) const noexcept
    {
        if (!caps_known_) return false;
        switch (c) {
        case needs_capability::none: return false;
        // TOP predates CAPA: a server that answered CAPA with -ERR (no list) may have it.
        case needs_capability::top: return !caps_.entries.empty() && !caps_.top;
        case needs_capability::stls: return !caps_.stls;
        case needs_capability::utf8: return !caps_.utf8;
        case needs_capability::lang: return !caps_.lang;
        }
        return false;
    }

    /// May the running operation have several commands in flight now?
    bool pipelining() const noexcept { return caps_.pipelining && op_->pipelinable(); }

    /// Asks the operation for commands while the window has room.
    std::optional<io_action> ask_operation()
    {
        // Refill the window only once it is half empty, then fill it: each write then
        // carries many commands instead of one per reply.
        bool refilling =
            in_flight_.empty() || (pipelining() && in_flight_.size() <= window_.max_commands / 2 &&
                                   in_flight_bytes_ <= window_.max_bytes / 2);
        while (true) {
            if (!in_flight_.empty() && (!refilling || in_flight_.size() >= window_.max_commands ||
                                        in_flight_bytes_ >= window_.max_bytes))
                return std::nullopt;
            const auto before = out_.size();
            const auto s = op_->next(*this, out_);
            // Asked after each step: an operation may only know after its first (login
            // chooses its method there).
            refilling = pipelining();
            switch (s.what) {
            case step::kind::command:
            case step::kind::expect: {
                const auto bytes = out_.size() - before;
                if (in_flight_.empty()) parser_.expect(s.shape, s.mode);
                in_flight_.push_back({s.shape, s.mode, bytes});
                in_flight_bytes_ += bytes;
                if (bytes != 0 && trace_)
                    trace_command(std::string_view(out_).substr(before), s.shown);
                break;
            }
            case step::kind::handshake:
                // Bytes already received after the STLS reply were sent in the clear
                // and would be taken as protected (CVE-2011-0411 style injection).
                if (!in_flight_.empty() || end_ != begin_) {
                    return complete(break_session(make_error_code(errc::malformed_response)));
                }
                handshake_pending_ = true;
                return std::nullopt;
            case step::kind::connect:
            case step::kind::close:
                // Replies still due would be lost with the connection: an operation bug.
                if (!in_flight_.empty() || !out_.empty())
                    return complete(break_session(make_error_code(errc::session_broken)));
                transport_pending_ = s.what;
                return std::nullopt;
            case step::kind::wait: return std::nullopt;
            case step::kind::finished: finished_ = true; return std::nullopt;
            }
        }
    }

    error_code dispatch(const parse_result& r)
    {
        switch (r.event) {
        case parse_event::need_more: return {};
        case parse_event::reply: {
            const auto& reply = parser_.reply();
            if (trace_) trace_reply(reply);
            // The diagnostics are the operation's first -ERR: a later one (dele_many goes on
            // after an error) does not replace it, and a success clears it (retr_many
            // succeeds despite a per-message -ERR, which its handler gets instead).
            if (reply.status == reply_status::err && error_reply_.status != reply_status::err)
                error_reply_ = reply;
            return op_->on_reply(*this, reply);
        }
        case parse_event::line:
            if (trace_) trace_(trace_direction::received, r.data);
            return op_->on_line(*this, r.data);
        case parse_event::data: body_octets_ += r.data.size(); return op_->on_data(*this, r.data);
        case parse_event::done: {
            if (trace_ && in_flight_.front().mode == body_mode::stream &&
                in_flight_.front().shape == response_kind::multi_line && parser_.reply().ok())
                trace_(trace_direction::received,
                       "<" + std::to_string(body_octets_) + " octets of message data>");
            body_octets_ = 0;
            in_flight_bytes_ -= in_flight_.front().command_bytes;
            in_flight_.erase(in_flight_.begin());
            if (!in_flight_.empty())
                parser_.expect(in_flight_.front().shape, in_flight_.front().mode);
            return op_->on_end(*this);
        }
        case parse_event::failed: return r.error;
        }
        return {};
    }

    error_code break_session(error_code ec) noexcept
    {
        state_ = session_state::broken;
        return ec;
    }

    io_action complete(error_code ec) noexcept
    {
        if (!ec) error_reply_ = {};
        op_ = nullptr;
        finished_ = false;
        // After a failure nothing of this operation may leak into the next one (a reconnect):
        // no unwritten command, no handshake or transport change still due.
        out_.clear();
        handshake_pending_ = false;
        transport_pending_ = step::kind::wait;
        return io_action::done(ec);
    }

    void trace_command(std::string_view lines, std::size_t shown)
    {
        const auto line = lines.substr(0, lines.find('\r'));
        if (shown >= line.size()) {
            trace_(trace_direction::sent, line);
            return;
        }
        std::string redacted(line.substr(0, shown));
        redacted += shown == 0 ? "<redacted>" : " <redacted>";
        trace_(trace_direction::sent, redacted);
    }

    void trace_reply(const server_reply& reply)
    {
        std::string line = reply.status == reply_status::ok    ? "+OK"
                           : reply.status == reply_status::err ? "-ERR"
                                                               : "+";
        if (reply.status == reply_status::continuation) {
            // A SASL challenge can carry a token or a server proof: do not log it.
            if (!reply.text.empty()) line += " <challenge>";
        } else {
            if (!reply.code.text.empty()) line += " [" + reply.code.text + "]";
            if (!reply.text.empty()) line += " " + reply.text;
        }
        trace_(trace_direction::received, line);
    }

    response_parser parser_;
    pipeline_limits window_;
    std::string buffer_; // received bytes; [begin_, end_) are not parsed yet
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
    std::string out_;
    std::vector<pending_reply> in_flight_;
    std::size_t in_flight_bytes_ = 0;
    std::uint64_t body_octets_ = 0;
    operation* op_ = nullptr;
    bool finished_ = false;
    bool handshake_pending_ = false;
    step::kind transport_pending_ = step::kind::wait; ///< connect, close, or wait (none)
    bool tls_active_ = false;
    session_state state_ = session_state::disconnected;
    capabilities caps_;
    bool caps_known_ = false;
    pop3::greeting greeting_;
    server_reply error_reply_;
    trace_hook trace_;
    server_address server_;
};

} // namespace pop3::detail

#endif // POP3_DETAIL_PROTOCOL_HPP
