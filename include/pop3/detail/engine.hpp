// pop3/detail/engine.hpp: the two drivers (sync and async) over the sans-I/O protocol.
//
// They differ only in how they wait for bytes. Both ask `protocol::advance()` what to
// do, do it on the right layer (the TCP layer of an ssl::stream until TLS is active,
// then the TLS layer), and report back. No POP3 rule is written here.
#ifndef POP3_DETAIL_ENGINE_HPP
#define POP3_DETAIL_ENGINE_HPP

#include <pop3/detail/asio.hpp>
#include <pop3/detail/operations.hpp>
#include <pop3/detail/protocol.hpp>
#include <pop3/detail/socket_wait.hpp>
#include <pop3/detail/stream_traits.hpp>
#include <pop3/detail/tls_layer.hpp>
#include <pop3/timeouts.hpp>
#include <pop3/tls.hpp>

#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace pop3::detail {

/// True for the errors with which a peer's orderly (or TLS-untidy) close shows up.
inline bool is_end_of_stream(const error_code& ec)
{
    return ec == net::error::eof || ec == net::ssl::error::stream_truncated;
}

/// Stands in for "no completion token given" where Asio has no default token (before 1.24).
struct no_default_token {
};
template <class Executor>
using default_token_for =
    std::conditional_t<std::is_void_v<net::default_completion_token_t<Executor>>,
                       no_default_token, net::default_completion_token_t<Executor>>;

template <class Token> constexpr void check_token()
{
    static_assert(!std::is_same_v<std::decay_t<Token>, no_default_token>,
                  "this Asio has no default completion token (Asio 1.24 / Boost 1.80 added "
                  "`deferred`): pass one, e.g. a callback, use_future or use_awaitable");
}

/// The completion signature of an operation yielding `Result`.
template <class Result> struct completion_signature {
    using type = void(error_code, Result);
};
template <> struct completion_signature<void> {
    using type = void(error_code);
};

template <class Stream> class engine {
public:
    template <class... Args>
    explicit engine(Args&&... args)
        : stream_(std::forward<Args>(args)...), timer_(stream_.get_executor()),
          watchdog_(std::make_shared<watchdog>())
    {
        // Without a socket to cancel, a timer could not stop a read: promise no timeouts.
        if constexpr (!has_native_socket<Stream>::value) timeouts_ = {{}, {}};
    }

    // ---- what the facade reads and sets -----------------------------------------------

    Stream& stream() noexcept { return stream_; }
    const Stream& stream() const noexcept { return stream_; }
    /// The session as the core sees it (state, capabilities, greeting, last error reply).
    const protocol& session() const noexcept { return proto_; }

    const pop3::timeouts& timeouts() const noexcept { return timeouts_; }
    void set_timeouts(const pop3::timeouts& t) noexcept { timeouts_ = t; }
    void set_trace(trace_hook hook) { proto_.set_trace(std::move(hook)); }
    void set_limits(const parser_limits& limits) { proto_.set_limits(limits); }
    void set_certificate_check(certificate_check check) noexcept { tls_.set_check(check); }
    /// For a stream the caller connected: the name TLS verifies and OAUTHBEARER sends.
    void set_server_name(std::string host)
    {
        proto_.set_server({std::move(host), proto_.server().service});
    }
    /// When the whole of connecting must be over.
    clock::time_point connect_deadline() const { return deadline_after(timeouts_.connect); }

    /// How a stream the caller connected is secured when they do not say: implicit TLS when
    /// they established TLS on it, else none.
    tls_mode caller_stream_mode() noexcept
    {
        return tls_.established(stream_) ? tls_mode::implicit : tls_mode::none;
    }

    /// Ends the connection without QUIT; an operation still running fails with the I/O error.
    void close() noexcept
    {
        close_transport();
        proto_.set_state(session_state::closed);
    }

    // ---- synchronous driver ---------------------------------------------------------

    /// Runs `op` to completion with blocking I/O.
    error_code run(operation& op, clock::time_point deadline = clock::time_point::max())
    {
        if (auto ec = proto_.begin(op)) return ec;
        prepare_sync_socket();
        while (true) {
            io_action action;
            try {
                action = proto_.advance();
            } catch (...) {
                // A user callback threw in the middle of a reply: we are out of step.
                proto_.io_failed(make_error_code(errc::session_broken));
                throw;
            }
            error_code ec;
            switch (action.what) {
            case io_action::kind::write:
                ec = sync_write(action.bytes, deadline_after(timeouts_.idle, deadline));
                if (ec) return proto_.io_failed(ec);
                proto_.wrote();
                break;
            case io_action::kind::read: {
                const auto space = proto_.read_space();
                const auto n = sync_read(space.first, space.second,
                                         deadline_after(timeouts_.idle, deadline), ec);
                if (is_end_of_stream(ec)) return proto_.eof();
                if (ec) return proto_.io_failed(ec);
                proto_.read_done(n);
                break;
            }
            case io_action::kind::handshake: {
                bool already_done = false;
                ec = tls_.before_handshake(stream_, proto_.server().host, already_done);
                if (!ec && !already_done) {
                    ec = sync_handshake(deadline_after(timeouts_.idle, deadline));
                    if (ec) ec = tls_.handshake_failure(stream_, ec);
                }
                if (ec) return tls_failed(ec);
                proto_.handshake_done();
                break;
            }
            case io_action::kind::connect:
                ec = sync_connect(action.host, action.service,
                                  deadline_after(timeouts_.connect, deadline));
                if (ec) return proto_.io_failed(ec);
                connected();
                break;
            case io_action::kind::close:
                close_transport();
                proto_.closed();
                break;
            case io_action::kind::done: return action.error;
            }
        }
    }

    // ---- asynchronous driver --------------------------------------------------------

    /// An async_compose implementation that runs one operation.
    template <class Op, class Result> struct run_op {
        engine* self_engine;
        std::unique_ptr<Op> op;
        Result (*take)(Op&, const protocol&);
        clock::time_point deadline;
        enum class pending {
            start,
            immediate,
            write,
            read,
            handshake,
            handshake_refused,
            resume, ///< nothing to report: ask the core again
        } waiting = pending::start;
        error_code early_error;

        /// Started, or a write, read or handshake completed.
        template <class Self> void operator()(Self& self, error_code ec = {}, std::size_t n = 0)
        {
            auto& e = *self_engine;
            auto& p = e.proto_;
            switch (waiting) {
            case pending::start:
                if ((early_error = p.begin(*op))) {
                    // Never complete inside the initiating function: post first.
                    waiting = pending::immediate;
                    net::post(e.stream_.get_executor(), std::move(self));
                    return;
                }
                break;
            case pending::immediate: return finish(self, early_error);
            case pending::write:
                if ((ec = e.disarm(ec))) return finish(self, p.io_failed(ec));
                p.wrote();
                break;
            case pending::read:
                if (is_end_of_stream(ec)) {
                    (void)e.disarm({});
                    return finish(self, p.eof());
                }
                if ((ec = e.disarm(ec))) return finish(self, p.io_failed(ec));
                p.read_done(n);
                break;
            case pending::handshake:
                if ((ec = e.disarm(ec)))
                    return finish(self, e.tls_failed(e.tls_.handshake_failure(e.stream_, ec)));
                p.handshake_done();
                break;
            case pending::handshake_refused: return finish(self, e.tls_failed(early_error));
            case pending::resume: break;
            }
            next(self);
        }

        /// The connect action's name lookup completed.
        template <class Self>
        void operator()(Self& self, error_code ec,
                        const net::ip::tcp::resolver::results_type& endpoints)
        {
            auto& e = *self_engine;
            if ((ec = e.disarm(ec))) return finish(self, e.proto_.io_failed(ec));
            e.arm(deadline_after(e.timeouts_.connect, deadline));
            net::async_connect(e.stream_.lowest_layer(), endpoints, std::move(self));
        }

        /// The connect action's TCP connect completed.
        template <class Self>
        void operator()(Self& self, error_code ec, const net::ip::tcp::endpoint&)
        {
            auto& e = *self_engine;
            if ((ec = e.disarm(ec))) {
                e.close_transport();
                return finish(self, e.proto_.io_failed(ec));
            }
            e.connected();
            next(self);
        }

        /// Asks the core for the next action and starts it.
        template <class Self> void next(Self& self)
        {
            auto& e = *self_engine;
            auto& p = e.proto_;
            io_action action;
            try {
                action = p.advance();
            } catch (...) {
                p.io_failed(make_error_code(errc::session_broken));
                throw;
            }
            switch (action.what) {
            case io_action::kind::write:
                waiting = pending::write;
                e.arm(deadline_after(e.timeouts_.idle, deadline));
                e.with_layer([&](auto& layer) {
                    net::async_write(layer, net::buffer(action.bytes.data(), action.bytes.size()),
                                     std::move(self));
                });
                return;
            case io_action::kind::read: {
                waiting = pending::read;
                e.arm(deadline_after(e.timeouts_.idle, deadline));
                const auto space = p.read_space();
                e.with_layer([&](auto& layer) {
                    layer.async_read_some(net::buffer(space.first, space.second), std::move(self));
                });
                return;
            }
            case io_action::kind::handshake: {
                bool already_done = false;
                if ((early_error =
                         e.tls_.before_handshake(e.stream_, p.server().host, already_done))) {
                    // Possibly still inside the initiating function: post first.
                    waiting = pending::handshake_refused;
                    net::post(e.stream_.get_executor(), std::move(self));
                    return;
                }
                waiting = pending::handshake;
                e.arm(deadline_after(e.timeouts_.idle, deadline));
                if constexpr (is_ssl_stream<Stream>::value) {
                    if (!already_done) {
                        e.stream_.async_handshake(net::ssl::stream_base::client, std::move(self));
                        return;
                    }
                }
                net::post(e.stream_.get_executor(), std::move(self));
                return;
            }
            case io_action::kind::connect:
                if constexpr (has_tcp_socket<Stream>::value) {
                    e.tls_.before_connect(e.stream_);
                    e.resolver_.emplace(e.stream_.get_executor());
                    e.arm(deadline_after(e.timeouts_.connect, deadline));
                    e.resolver_->async_resolve(action.host, action.service, std::move(self));
                } else {
                    // The facade refuses connect() for such streams at compile time.
                    early_error = p.io_failed(make_error_code(errc::not_supported));
                    waiting = pending::immediate;
                    net::post(e.stream_.get_executor(), std::move(self));
                }
                return;
            case io_action::kind::close:
                e.close_transport();
                p.closed();
                // Possibly still inside the initiating function: post before going on.
                waiting = pending::resume;
                net::post(e.stream_.get_executor(), std::move(self));
                return;
            case io_action::kind::done:
                if (waiting == pending::start) {
                    // Completed without I/O (refused before sending anything): never
                    // complete inside the initiating function, post first.
                    early_error = action.error;
                    waiting = pending::immediate;
                    net::post(e.stream_.get_executor(), std::move(self));
                    return;
                }
                return finish(self, action.error);
            }
        }

        template <class Self> void finish(Self& self, error_code ec)
        {
            if constexpr (std::is_void_v<Result>) {
                self.complete(ec);
            } else {
                auto result = ec ? Result{} : take(*op, self_engine->proto_);
                self.complete(ec, std::move(result));
            }
        }
    };

    template <class Result> using signature_for = typename completion_signature<Result>::type;

    /// Starts `op` asynchronously; completes with `signature_for<Result>`.
    template <class Result, class Op, class Token>
    auto async_run(std::unique_ptr<Op> op, Result (*take)(Op&, const protocol&), Token&& token,
                   clock::time_point deadline = clock::time_point::max())
    {
        return net::async_compose<Token, signature_for<Result>>(
            run_op<Op, Result>{
                this, std::move(op), take, deadline, run_op<Op, Result>::pending::start, {}},
            token, stream_);
    }

private:
    /// Calls `f` with the layer that carries POP3 right now.
    template <class F> decltype(auto) with_layer(F&& f)
    {
        if constexpr (is_ssl_stream<Stream>::value) {
            if (proto_.tls_active()) return f(stream_);
            return f(stream_.next_layer());
        } else {
            return f(stream_);
        }
    }

    // ---- the transport: connect and close, once for both drivers ----------------------

    /// Resolves and connects the TCP layer (a fresh TLS state on it), bounded by `deadline`.
    error_code sync_connect(std::string_view host, std::string_view service,
                            clock::time_point deadline)
    {
        if constexpr (has_tcp_socket<Stream>::value) {
            tls_.before_connect(stream_);
            error_code ec;
            net::ip::tcp::resolver resolver(stream_.get_executor());
            const auto endpoints = resolver.resolve(host, service, ec);
            if (ec) return ec;
            auto& socket = stream_.lowest_layer();
            ec = net::error::host_not_found;
            for (const auto& entry : endpoints) {
                error_code ignored;
                socket.close(ignored);
                socket.open(entry.endpoint().protocol(), ec);
                if (ec) continue;
                socket.non_blocking(true, ec);
                if (ec) continue;
                socket.connect(entry.endpoint(), ec);
                if (ec == net::error::would_block || ec == net::error::in_progress) {
                    ec = wait_socket(socket.native_handle(), true, deadline);
                    if (!ec) ec = pending_connect_error(socket.native_handle());
                }
                if (!ec || ec == errc::timeout) break;
            }
            if (ec) close_transport();
            return ec;
        } else {
            (void)host, (void)service, (void)deadline;
            return errc::not_supported; // the facade refuses connect() for such streams
        }
    }

    /// The TCP layer is connected: the core starts a new session on it.
    void connected()
    {
        if constexpr (has_tcp_socket<Stream>::value) {
            error_code ignored;
            stream_.lowest_layer().set_option(net::ip::tcp::no_delay(true), ignored);
        }
        proto_.connected();
    }

    void close_transport() noexcept
    {
        if constexpr (has_closable_lowest_layer<Stream>::value) {
            error_code ignored;
            stream_.lowest_layer().close(ignored);
        }
    }

    /// TLS did not start: the error, with OpenSSL's reason when a certificate check failed.
    error_code tls_failed(error_code ec)
    {
        return proto_.handshake_failed(ec, tls_.failure_reason(stream_, ec));
    }

    // ---- timeouts for the async driver ----------------------------------------------

    struct watchdog {
        std::uint64_t generation = 0;
        bool fired = false;
    };

    /// Starts the timer for one I/O step; when it fires it cancels the I/O.
    void arm(clock::time_point deadline)
    {
        ++watchdog_->generation;
        watchdog_->fired = false;
        if (deadline == clock::time_point::max()) return;
        timer_.expires_at(deadline);
        timer_.async_wait([this, weak = std::weak_ptr<watchdog>(watchdog_),
                           generation = watchdog_->generation](const error_code& ec) {
            const auto state = weak.lock();
            // The engine owns the watchdog: if it is gone, so is the engine.
            if (ec || !state || state->generation != generation) return;
            state->fired = true;
            cancel_io();
        });
    }

    /// Stops the timer after an I/O step; turns its cancellation into errc::timeout.
    error_code disarm(error_code ec)
    {
        const bool fired = watchdog_->fired;
        ++watchdog_->generation;
        watchdog_->fired = false;
        timer_.cancel();
        if (fired && ec) return errc::timeout;
        return ec;
    }

    void cancel_io()
    {
        error_code ignored;
        if (resolver_) resolver_->cancel();
        if constexpr (has_native_socket<Stream>::value) stream_.lowest_layer().cancel(ignored);
    }

    // ---- blocking I/O with deadlines --------------------------------------------------

    /// With a timeout, the socket is switched to non-blocking mode so that reads return
    /// at once and the driver waits in poll() with the deadline instead.
    void prepare_sync_socket()
    {
        if constexpr (has_native_socket<Stream>::value) {
            auto& socket = stream_.lowest_layer();
            error_code ignored;
            if (socket.is_open() && !socket.non_blocking()) socket.non_blocking(true, ignored);
        }
    }

    error_code wait_ready(bool for_write, clock::time_point deadline)
    {
        if constexpr (has_native_socket<Stream>::value)
            return wait_socket(stream_.lowest_layer().native_handle(), for_write, deadline);
        else return make_error_code(errc::not_supported);
    }

    std::size_t sync_read(char* data, std::size_t size, clock::time_point deadline, error_code& ec)
    {
        while (true) {
            const auto n = with_layer(
                [&](auto& layer) { return layer.read_some(net::buffer(data, size), ec); });
            if (ec != net::error::would_block) return n;
            if ((ec = wait_ready(false, deadline))) return 0;
        }
    }

    error_code sync_write(std::string_view bytes, clock::time_point deadline)
    {
        while (!bytes.empty()) {
            error_code ec;
            std::size_t n = 0;
            if constexpr (is_ssl_stream<Stream>::value && has_native_socket<Stream>::value) {
                if (proto_.tls_active()) {
                    // Asio's TLS layer cannot resume a write the TCP layer took only in
                    // part, so write it in blocking mode. The client never has more than
                    // a few KiB of commands in flight: this fits in the socket buffer.
                    if ((ec = wait_ready(true, deadline))) return ec;
                    auto& socket = stream_.lowest_layer();
                    socket.non_blocking(false, ec);
                    n = net::write(stream_, net::buffer(bytes.data(), bytes.size()), ec);
                    error_code ignored;
                    socket.non_blocking(true, ignored);
                    if (ec) return ec;
                    bytes.remove_prefix(n);
                    continue;
                }
            }
            n = with_layer([&](auto& layer) {
                return layer.write_some(net::buffer(bytes.data(), bytes.size()), ec);
            });
            if (ec == net::error::would_block) {
                if ((ec = wait_ready(true, deadline))) return ec;
                continue;
            }
            if (ec) return ec;
            bytes.remove_prefix(n);
        }
        return {};
    }

    error_code sync_handshake(clock::time_point deadline)
    {
        if constexpr (is_ssl_stream<Stream>::value) {
            while (true) {
                error_code ec;
                stream_.handshake(net::ssl::stream_base::client, ec);
                if (ec != net::error::would_block) return ec;
                if ((ec = wait_ready(false, deadline))) return ec;
            }
        } else {
            (void)deadline;
            return errc::not_supported;
        }
    }

    Stream stream_;
    protocol proto_;
    pop3::timeouts timeouts_;
    tls_layer<Stream> tls_;
    net::steady_timer timer_;
    std::shared_ptr<watchdog> watchdog_;
    std::optional<net::ip::tcp::resolver> resolver_;
};

} // namespace pop3::detail

#endif // POP3_DETAIL_ENGINE_HPP
