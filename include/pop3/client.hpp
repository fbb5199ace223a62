// pop3/client.hpp: pop3::client<Stream>, the POP3 client over any Asio stream.
#ifndef POP3_CLIENT_HPP
#define POP3_CLIENT_HPP

#include <pop3/auth.hpp>
#include <pop3/capabilities.hpp>
#include <pop3/detail/asio.hpp>
#include <pop3/detail/auth_operations.hpp>
#include <pop3/detail/engine.hpp>
#include <pop3/detail/operations.hpp>
#include <pop3/exception.hpp>
#include <pop3/greeting.hpp>
#include <pop3/limits.hpp>
#include <pop3/message_part.hpp>
#include <pop3/results.hpp>
#include <pop3/session_state.hpp>
#include <pop3/timeouts.hpp>
#include <pop3/tls.hpp>
#include <pop3/trace.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace pop3 {

/// A language the server offers (RFC 6856 section 3).
using language = detail::language_entry;

/// A POP3 session over a stream: `net::ip::tcp::socket`, `net::ssl::stream<tcp::socket>`,
/// or any type with Asio's stream interface (a test stream).
///
/// Every call comes in three forms: throwing `pop3::error`; setting a `pop3::error_code&`;
/// and `async_*` taking any Asio completion token (a callback, `use_future`,
/// `use_awaitable`, ...). Asynchronous calls complete with `void(error_code)` or
/// `void(error_code, T)`; all three report the same `pop3::error_code` (`std::error_code`, or
/// `boost::system::error_code` with POP3_USE_BOOST_ASIO, so Boost's `use_future` and
/// `use_awaitable` throw). Asynchronous calls support
/// per-operation cancellation through the token's cancellation slot (terminal cancellation: the
/// session is unusable after it).
///
/// One operation at a time: starting another while one runs fails with
/// `errc::operation_in_progress`. A client is not thread-safe. The client (and the
/// buffers and callbacks given to an asynchronous call) must outlive the call.
///
/// After an error in the middle of a reply (malformed data, a timeout, a lost
/// connection) the session is `broken` and refuses every further command with
/// `errc::session_broken`; a -ERR reply leaves it usable.
template <class Stream> class client {
    using engine_type = detail::engine<Stream>;
    template <class T> static constexpr bool is_mode_v = detail::is_tls_mode_argument_v<T>;

public:
    /// The stream the session runs over.
    using stream_type = Stream;
    /// The stream's executor: where asynchronous calls run their handlers by default.
    using executor_type = typename Stream::executor_type;
    /// The token used when an async call is given none: the executor's default completion
    /// token (`deferred` in Asio 1.24+/Boost 1.80+, unless the executor names another). Older
    /// Asio has none: an async call without a token is then a compile error that says so.
    using default_token = detail::default_token_for<executor_type>;
    /// True when async calls may omit the completion token (see `default_token`).
    static constexpr bool has_default_token =
        !std::is_same_v<default_token, detail::no_default_token>;

    /// Constructs the stream from `args`, as the stream's own constructor would
    /// (`client<tcp::socket> c{ioc};`, `client<ssl::stream<tcp::socket>> c{ioc, tls_ctx};`).
    template <class... Args, class = std::enable_if_t<std::is_constructible_v<Stream, Args&&...>>>
    explicit client(Args&&... args)
        : impl_(std::make_unique<engine_type>(std::forward<Args>(args)...))
    {
    }

    ///@{
    /// Movable (the session moves with the stream); not copyable. A moved-from client may
    /// only be destroyed or assigned to.
    client(client&&) noexcept = default;
    client& operator=(client&&) noexcept = default;
    ///@}

    // ---- the stream --------------------------------------------------------------------

    ///@{
    /// The stream itself.
    Stream& stream() noexcept { return impl_->stream(); }
    const Stream& stream() const noexcept { return impl_->stream(); }
    ///@}

    /// The layer under TLS for an `ssl::stream`, else the stream itself.
    decltype(auto) next_layer() noexcept
    {
        if constexpr (detail::is_ssl_stream<Stream>::value) return (stream().next_layer());
        else return (stream());
    }

    /// The stream's executor.
    executor_type get_executor() noexcept { return stream().get_executor(); }

    // ---- what the client knows ----------------------------------------------------------

    /// Where the session is (RFC 1939's states, plus `broken` after a failure mid-reply).
    session_state state() const noexcept { return session().state(); }
    /// What the server advertised, as of the last CAPA (refreshed after STLS and login).
    const pop3::capabilities& capabilities() const noexcept { return session().caps(); }
    /// The server's greeting, with its APOP timestamp if any.
    const pop3::greeting& greeting() const noexcept { return session().greeting(); }
    /// The login methods the server offers (CAPA's SASL and USER, APOP's timestamp): what to
    /// suggest after `mechanism_unavailable` or `auth_command_rejected`.
    std::vector<auth_method> offered_auth_methods() const
    {
        return pop3::offered_auth_methods(capabilities(), greeting());
    }
    /// The server's reply that made the last operation fail (-ERR text, response code, and
    /// what a failed SASL exchange reported); empty after a success or a local error, except
    /// that a refused certificate leaves OpenSSL's reason in `detail`. The throwing calls
    /// carry the same in `pop3::error::reply()`.
    const server_reply& last_error_reply() const noexcept { return session().error_reply(); }
    /// True once TLS protects the session (implicit TLS or after STLS).
    bool tls_active() const noexcept { return session().tls_active(); }

    /// Turns certificate verification off (or on again) for the next TLS handshake. Off lets
    /// anyone between client and server read the password: for tests only.
    void set_certificate_check(certificate_check check) noexcept
    {
        impl_->set_certificate_check(check);
    }

    /// The server's host name, for a stream the caller connected: the certificate must name
    /// it (and it is sent as SNI) before `read_greeting(tls_mode::implicit)` or `stls()` starts
    /// TLS, and OAUTHBEARER names it. `connect(host, ...)` sets it itself. Without it (and with
    /// verification on) TLS does not start: errc::host_name_required.
    void set_server_name(std::string host) { impl_->set_server_name(std::move(host)); }

    /// Bounds every call (see pop3::timeouts). Needs a stream whose lowest layer is a socket
    /// (`lowest_layer()` with `native_handle()`, `cancel()`): on any other stream a timeout
    /// could not stop a read, so such clients have no timeouts and this does not compile.
    void set_timeouts(const pop3::timeouts& t) noexcept
    {
        static_assert(detail::has_native_socket<Stream>::value,
                      "set_timeouts() needs a stream whose lowest_layer() is a socket (with "
                      "native_handle(), non_blocking() and cancel()); bound the I/O of other "
                      "streams in the stream itself");
        impl_->set_timeouts(t);
    }
    /// The timeouts in force; both zero (none) for a stream without a socket underneath.
    const pop3::timeouts& timeouts() const noexcept { return impl_->timeouts(); }
    /// Installs a protocol trace; passwords, SASL responses and tokens are never shown.
    void set_trace(trace_hook hook) { impl_->set_trace(std::move(hook)); }
    ///@{
    /// Limits on what the server may send. Call before connecting. Keeps the trace.
    void set_limits(const parser_limits& limits) { impl_->set_limits(limits); }
    const parser_limits& limits() const noexcept { return session().limits(); }
    ///@}

    // ---- connecting -------------------------------------------------------------------

    /// The type of the `mode` arguments below: `pop3::tls_mode` for a TLS-capable stream.
    /// A plain TCP client has no TLS: its stand-in only means "none", and naming a
    /// `tls_mode` there does not compile.
    using tls_mode_type =
        std::conditional_t<detail::is_ssl_stream<Stream>::value, tls_mode, detail::no_tls_mode>;

    ///@{
    /// Resolves `host`, connects, secures the connection as `mode` says (implicit TLS by
    /// default on an `ssl::stream`), reads the greeting and the capabilities. For an
    /// `ssl::stream` the server's certificate chain and host name are verified against the
    /// context's trust store, and SNI is sent. Bounded by `timeouts().connect`.
    /// @throws pop3::error (errc::timeout, errc::tls_required when STLS is missing, ...)
    void connect(std::string_view host, std::string_view service,
                 tls_mode_type mode = default_mode())
    {
        run_throwing(open_session(host, service, mode), impl_->connect_deadline());
    }
    void connect(std::string_view host, std::string_view service, tls_mode_type mode,
                 error_code& ec)
    {
        run(open_session(host, service, mode), ec, impl_->connect_deadline());
    }
    void connect(std::string_view host, std::string_view service, error_code& ec)
    {
        connect(host, service, default_mode(), ec);
    }
    ///@}

    ///@{
    /// Asynchronous `connect`. Completes with `void(error_code)`.
    template <class Token = default_token>
    auto async_connect(std::string_view host, std::string_view service,
                       tls_mode_type mode = default_mode(), Token&& token = default_token{})
    {
        return run_async(open_session(host, service, mode), std::forward<Token>(token),
                         impl_->connect_deadline());
    }
    template <class Token, class = std::enable_if_t<!is_mode_v<Token>>>
    auto async_connect(std::string_view host, std::string_view service, Token&& token)
    {
        return async_connect(host, service, default_mode(), std::forward<Token>(token));
    }
    ///@}

    ///@{
    /// Reads the greeting and the capabilities on a stream the caller has connected,
    /// securing it first as `mode` says, exactly as `connect` does. TLS needs the server's
    /// name: call `set_server_name(host)` first (else errc::host_name_required). A TLS session
    /// the caller has already established is used only after its certificate has passed the
    /// same checks. Without `mode`: implicit TLS when the caller has established TLS, else none.
    void read_greeting() { run_throwing(detail::open_session_op{impl_->caller_stream_mode()}); }
    void read_greeting(error_code& ec)
    {
        run(detail::open_session_op{impl_->caller_stream_mode()}, ec);
    }
    void read_greeting(tls_mode_type mode) { run_throwing(detail::open_session_op{mode}); }
    void read_greeting(tls_mode_type mode, error_code& ec)
    {
        run(detail::open_session_op{mode}, ec);
    }
    template <class Token = default_token, class = std::enable_if_t<!is_mode_v<Token>>>
    auto async_read_greeting(Token&& token = default_token{})
    {
        return run_async(detail::open_session_op{impl_->caller_stream_mode()},
                         std::forward<Token>(token));
    }
    template <class Token = default_token>
    auto async_read_greeting(tls_mode_type mode, Token&& token = default_token{})
    {
        return run_async(detail::open_session_op{mode}, std::forward<Token>(token));
    }
    ///@}

    // ---- AUTHORIZATION state --------------------------------------------------------

    ///@{
    /// Logs in with a password, then reads CAPA again (some servers advertise PIPELINING
    /// or TOP only after login). By default the strongest method the server offers is
    /// used, and without TLS only SCRAM: USER/PASS, APOP, PLAIN, LOGIN and CRAM-MD5 fail
    /// with errc::insecure_authentication before anything is sent, unless
    /// `options.allow_plaintext` is set.
    /// @throws pop3::error: errc::authentication_failed ([AUTH] or a refused login),
    /// errc::mailbox_in_use ([IN-USE]), errc::login_delay, errc::temporary_failure,
    /// errc::permanent_failure, errc::insecure_authentication, errc::mechanism_unavailable,
    /// errc::server_signature_mismatch (SCRAM: the server is not who it claims to be).
    void login(std::string_view user, std::string_view password, const login_options& options = {})
    {
        run_throwing(password_login(user, password, options));
    }
    void login(std::string_view user, std::string_view password, error_code& ec)
    {
        run(password_login(user, password, {}), ec);
    }
    void login(std::string_view user, std::string_view password, const login_options& options,
               error_code& ec)
    {
        run(password_login(user, password, options), ec);
    }
    template <class Token = default_token>
    auto async_login(std::string_view user, std::string_view password, const login_options& options,
                     Token&& token = default_token{})
    {
        return run_async(password_login(user, password, options), std::forward<Token>(token));
    }
    ///@}
    /// Shorthand of `async_login(user, password, {}, token)`. Prefer it (or a named
    /// `login_options` variable) inside `co_await` in a loop: GCC 12 miscompiles a temporary
    /// with a destructor there (`co_await c.async_login(u, p, pop3::login_options{}, ...)`).
    template <class Token, class = std::enable_if_t<!std::is_convertible_v<Token, login_options>>>
    auto async_login(std::string_view user, std::string_view password, Token&& token)
    {
        return run_async(password_login(user, password, {}), std::forward<Token>(token));
    }
    /// Shorthand of `async_login(user, password, {}, default_token{})`. Not a defaulted
    /// `options`: GCC 12 frees such a `login_options{}` temporary wrongly when the call is
    /// `co_await`ed (as `co_await c.async_login(user, password)` is, with current Asio).
    template <class Token = default_token>
    auto async_login(std::string_view user, std::string_view password)
    {
        return run_async(password_login(user, password, {}), Token{});
    }

    ///@{
    /// Logs in with an OAuth 2.0 bearer token: OAUTHBEARER (RFC 7628) or XOAUTH2,
    /// whichever the server offers (or `options.method`). Requires TLS unless
    /// `options.allow_plaintext`. A server's error JSON aborts the exchange ("*").
    void login_oauth(std::string_view user, std::string_view token,
                     const login_options& options = {})
    {
        run_throwing(token_login(user, token, options));
    }
    void login_oauth(std::string_view user, std::string_view token, const login_options& options,
                     error_code& ec)
    {
        run(token_login(user, token, options), ec);
    }
    template <class Token = default_token>
    auto async_login_oauth(std::string_view user, std::string_view token,
                           const login_options& options, Token&& completion = default_token{})
    {
        return run_async(token_login(user, token, options), std::forward<Token>(completion));
    }
    ///@}
    /// Shorthand of `async_login_oauth(user, token, {}, default_token{})` (no defaulted
    /// `options`, for GCC 12's sake: see `async_login(user, password)`).
    template <class Token = default_token>
    auto async_login_oauth(std::string_view user, std::string_view token)
    {
        return run_async(token_login(user, token, {}), Token{});
    }

    ///@{
    /// Asks the server's capabilities again (RFC 2449 section 5).
    pop3::capabilities capa() { return run_throwing(detail::capa_op{}); }
    pop3::capabilities capa(error_code& ec) { return run(detail::capa_op{}, ec); }
    template <class Token = default_token> auto async_capa(Token&& token = default_token{})
    {
        return run_async(detail::capa_op{}, std::forward<Token>(token));
    }
    ///@}

    ///@{
    /// Upgrades the session with STLS (RFC 2595), verifies the server, reads CAPA again.
    /// Only for `ssl::stream` clients; `connect(..., tls_mode::starttls)` does this.
    /// Needs the server's name to verify its certificate: from `connect`, or
    /// `set_server_name(host)` on a stream the caller connected (else errc::host_name_required).
    void stls() { run_throwing(stls_operation()); }
    void stls(error_code& ec) { run(stls_operation(), ec); }
    template <class Token = default_token> auto async_stls(Token&& token = default_token{})
    {
        return run_async(stls_operation(), std::forward<Token>(token));
    }
    ///@}

    ///@{
    /// Enables UTF8 mode (RFC 6856 section 2); before login, when advertised.
    void utf8() { run_throwing(detail::utf8_op{}); }
    void utf8(error_code& ec) { run(detail::utf8_op{}, ec); }
    template <class Token = default_token> auto async_utf8(Token&& token = default_token{})
    {
        return run_async(detail::utf8_op{}, std::forward<Token>(token));
    }
    ///@}

    ///@{
    /// Lists the languages of the server's replies (RFC 6856 section 3).
    std::vector<language> languages() { return run_throwing(detail::lang_op{}); }
    std::vector<language> languages(error_code& ec) { return run(detail::lang_op{}, ec); }
    template <class Token = default_token> auto async_languages(Token&& token = default_token{})
    {
        return run_async(detail::lang_op{}, std::forward<Token>(token));
    }
    ///@}

    ///@{
    /// Selects the language of the server's replies; "*" asks for its default.
    void set_language(std::string_view tag) { run_throwing(detail::lang_op{std::string(tag)}); }
    void set_language(std::string_view tag, error_code& ec)
    {
        run(detail::lang_op{std::string(tag)}, ec);
    }
    template <class Token = default_token>
    auto async_set_language(std::string_view tag, Token&& token = default_token{})
    {
        return run_async(detail::lang_op{std::string(tag)}, std::forward<Token>(token));
    }
    ///@}

    // ---- TRANSACTION state ----------------------------------------------------------

    ///@{
    /// STAT: number of messages and their total size.
    maildrop_stat stat() { return run_throwing(detail::stat_op{}); }
    maildrop_stat stat(error_code& ec) { return run(detail::stat_op{}, ec); }
    template <class Token = default_token> auto async_stat(Token&& token = default_token{})
    {
        return run_async(detail::stat_op{}, std::forward<Token>(token));
    }
    ///@}

    ///@{
    /// LIST: every message's number and size.
    std::vector<message_size> list() { return run_throwing(size_listing{}); }
    std::vector<message_size> list(error_code& ec) { return run(size_listing{}, ec); }
    // Constrained so that `async_list(1)` (no token, deferred on current Asio) is LIST 1.
    template <class Token = default_token,
              class = std::enable_if_t<!std::is_convertible_v<Token, message_number>>>
    auto async_list(Token&& token = default_token{})
    {
        return run_async(size_listing{}, std::forward<Token>(token));
    }
    ///@}

    ///@{
    /// LIST n: one message's size.
    message_size list(message_number n) { return run_throwing(detail::list_one_op{n}); }
    message_size list(message_number n, error_code& ec) { return run(detail::list_one_op{n}, ec); }
    template <class Token = default_token>
    auto async_list(message_number n, Token&& token = default_token{})
    {
        return run_async(detail::list_one_op{n}, std::forward<Token>(token));
    }
    ///@}

    ///@{
    /// UIDL: every message's unique id (RFC 1939 section 7).
    std::vector<message_uid> uidl() { return run_throwing(uid_listing{}); }
    std::vector<message_uid> uidl(error_code& ec) { return run(uid_listing{}, ec); }
    template <class Token = default_token,
              class = std::enable_if_t<!std::is_convertible_v<Token, message_number>>>
    auto async_uidl(Token&& token = default_token{})
    {
        return run_async(uid_listing{}, std::forward<Token>(token));
    }
    ///@}

    ///@{
    /// UIDL n: one message's unique id.
    message_uid uidl(message_number n) { return run_throwing(detail::uidl_one_op{n}); }
    message_uid uidl(message_number n, error_code& ec) { return run(detail::uidl_one_op{n}, ec); }
    template <class Token = default_token>
    auto async_uidl(message_number n, Token&& token = default_token{})
    {
        return run_async(detail::uidl_one_op{n}, std::forward<Token>(token));
    }
    ///@}

    ///@{
    /// RETR n into a string. For large messages prefer `retr(n, sink)`.
    std::string retr(message_number n) { return run_throwing(string_body(n, std::nullopt)); }
    std::string retr(message_number n, error_code& ec)
    {
        return run(string_body(n, std::nullopt), ec);
    }
    // Constrained so that `async_retr(n, sink)` (no token) is the sink overload.
    template <class Token = default_token,
              class = std::enable_if_t<!detail::looks_like_sink_v<Token>>>
    auto async_retr(message_number n, Token&& token = default_token{})
    {
        return run_async(string_body(n, std::nullopt), std::forward<Token>(token));
    }
    ///@}

    ///@{
    /// RETR n, streaming the message in constant memory: `sink(std::string_view chunk)`
    /// gets the unstuffed bytes in order, line endings kept. The sink may return a
    /// `error_code` to stop: the rest of the message is then read and dropped,
    /// the call fails with that error and the session stays usable.
    template <class Sink, class = std::enable_if_t<detail::looks_like_sink_v<Sink>>>
    void retr(message_number n, Sink&& sink)
    {
        run_throwing(sink_body(std::forward<Sink>(sink), n, std::nullopt));
    }
    template <class Sink, class = std::enable_if_t<detail::looks_like_sink_v<Sink>>>
    void retr(message_number n, Sink&& sink, error_code& ec)
    {
        run(sink_body(std::forward<Sink>(sink), n, std::nullopt), ec);
    }
    template <class Sink, class Token = default_token,
              class = std::enable_if_t<detail::looks_like_sink_v<Sink>>>
    auto async_retr(message_number n, Sink&& sink, Token&& token = default_token{})
    {
        return run_async(sink_body(std::forward<Sink>(sink), n, std::nullopt),
                         std::forward<Token>(token));
    }
    ///@}

    ///@{
    /// TOP n lines: the header and the first `lines` lines of the body, as a string.
    std::string top(message_number n, std::uint32_t lines)
    {
        return run_throwing(string_body(n, lines));
    }
    std::string top(message_number n, std::uint32_t lines, error_code& ec)
    {
        return run(string_body(n, lines), ec);
    }
    template <class Token = default_token,
              class = std::enable_if_t<!detail::looks_like_sink_v<Token>>>
    auto async_top(message_number n, std::uint32_t lines, Token&& token = default_token{})
    {
        return run_async(string_body(n, lines), std::forward<Token>(token));
    }
    ///@}

    ///@{
    /// TOP n lines, streamed to a sink as for `retr(n, sink)`.
    template <class Sink, class = std::enable_if_t<detail::looks_like_sink_v<Sink>>>
    void top(message_number n, std::uint32_t lines, Sink&& sink)
    {
        run_throwing(sink_body(std::forward<Sink>(sink), n, lines));
    }
    template <class Sink, class = std::enable_if_t<detail::looks_like_sink_v<Sink>>>
    void top(message_number n, std::uint32_t lines, Sink&& sink, error_code& ec)
    {
        run(sink_body(std::forward<Sink>(sink), n, lines), ec);
    }
    template <class Sink, class Token = default_token,
              class = std::enable_if_t<detail::looks_like_sink_v<Sink>>>
    auto async_top(message_number n, std::uint32_t lines, Sink&& sink,
                   Token&& token = default_token{})
    {
        return run_async(sink_body(std::forward<Sink>(sink), n, lines), std::forward<Token>(token));
    }
    ///@}

    ///@{
    /// RETR of many messages, pipelined when the server advertises PIPELINING, else one
    /// at a time with the same results. `handler(const message_part&)` gets each
    /// message's chunks and then its end (with a per-message error, e.g. a message another
    /// session deleted; the batch goes on). It may return a `error_code` to stop.
    template <class Handler> void retr_many(std::vector<message_number> numbers, Handler&& handler)
    {
        run_throwing(batch(std::forward<Handler>(handler), std::move(numbers), std::nullopt));
    }
    template <class Handler>
    void retr_many(std::vector<message_number> numbers, Handler&& handler, error_code& ec)
    {
        run(batch(std::forward<Handler>(handler), std::move(numbers), std::nullopt), ec);
    }
    template <class Handler, class Token = default_token>
    auto async_retr_many(std::vector<message_number> numbers, Handler&& handler,
                         Token&& token = default_token{})
    {
        return run_async(batch(std::forward<Handler>(handler), std::move(numbers), std::nullopt),
                         std::forward<Token>(token));
    }
    ///@}

    ///@{
    /// TOP of many messages, as `retr_many`.
    template <class Handler>
    void top_many(std::vector<message_number> numbers, std::uint32_t lines, Handler&& handler)
    {
        run_throwing(batch(std::forward<Handler>(handler), std::move(numbers), lines));
    }
    template <class Handler>
    void top_many(std::vector<message_number> numbers, std::uint32_t lines, Handler&& handler,
                  error_code& ec)
    {
        run(batch(std::forward<Handler>(handler), std::move(numbers), lines), ec);
    }
    template <class Handler, class Token = default_token>
    auto async_top_many(std::vector<message_number> numbers, std::uint32_t lines, Handler&& handler,
                        Token&& token = default_token{})
    {
        return run_async(batch(std::forward<Handler>(handler), std::move(numbers), lines),
                         std::forward<Token>(token));
    }
    ///@}

    ///@{
    /// DELE n: marks a message for deletion at QUIT.
    void dele(message_number n) { run_throwing(plain(verb::dele, n)); }
    void dele(message_number n, error_code& ec) { run(plain(verb::dele, n), ec); }
    template <class Token = default_token>
    auto async_dele(message_number n, Token&& token = default_token{})
    {
        return run_async(plain(verb::dele, n), std::forward<Token>(token));
    }
    ///@}

    ///@{
    /// DELE of many messages, pipelined when allowed. Every DELE is tried; the call fails
    /// with the first error. Use the handler form to learn which messages failed.
    void dele_many(std::vector<message_number> numbers)
    {
        run_throwing(detail::dele_batch_op<>{std::move(numbers)});
    }
    void dele_many(std::vector<message_number> numbers, error_code& ec)
    {
        run(detail::dele_batch_op<>{std::move(numbers)}, ec);
    }
    template <class Token = default_token,
              class = std::enable_if_t<!detail::looks_like_dele_handler_v<Token>>>
    auto async_dele_many(std::vector<message_number> numbers, Token&& token = default_token{})
    {
        return run_async(detail::dele_batch_op<>{std::move(numbers)}, std::forward<Token>(token));
    }
    ///@}

    ///@{
    /// DELE of many messages, reporting each: `handler(const dele_outcome&)` is called once
    /// per message, in order, with the server's verdict (a -ERR does not fail the call; the
    /// batch goes on). It may return a `error_code` to stop: no further DELE is sent
    /// (those already pipelined are read, not reported) and the call fails with that error. A
    /// number 0 or a wrong state fails the call before anything is sent, without calling the
    /// handler.
    template <class Handler, class = std::enable_if_t<detail::looks_like_dele_handler_v<Handler>>>
    void dele_many(std::vector<message_number> numbers, Handler&& handler)
    {
        run_throwing(dele_batch(std::move(numbers), std::forward<Handler>(handler)));
    }
    template <class Handler, class = std::enable_if_t<detail::looks_like_dele_handler_v<Handler>>>
    void dele_many(std::vector<message_number> numbers, Handler&& handler, error_code& ec)
    {
        run(dele_batch(std::move(numbers), std::forward<Handler>(handler)), ec);
    }
    ///@}
    ///@{
    /// Asynchronous `dele_many(numbers, handler)`; completes with `void(error_code)`.
    template <class Handler, class Token = default_token,
              class = std::enable_if_t<detail::looks_like_dele_handler_v<Handler>>>
    auto async_dele_many(std::vector<message_number> numbers, Handler&& handler,
                         Token&& token = default_token{})
    {
        return run_async(dele_batch(std::move(numbers), std::forward<Handler>(handler)),
                         std::forward<Token>(token));
    }
    ///@}

    ///@{
    /// RSET: unmarks every message marked for deletion.
    void rset() { run_throwing(plain(verb::rset)); }
    void rset(error_code& ec) { run(plain(verb::rset), ec); }
    template <class Token = default_token> auto async_rset(Token&& token = default_token{})
    {
        return run_async(plain(verb::rset), std::forward<Token>(token));
    }
    ///@}

    ///@{
    /// NOOP: keeps the session alive.
    void noop() { run_throwing(plain(verb::noop)); }
    void noop(error_code& ec) { run(plain(verb::noop), ec); }
    template <class Token = default_token> auto async_noop(Token&& token = default_token{})
    {
        return run_async(plain(verb::noop), std::forward<Token>(token));
    }
    ///@}

    ///@{
    /// QUIT. Returns true when the server confirmed it; after login that means the
    /// messages marked with DELE are gone (the UPDATE state, RFC 1939 section 6). A -ERR
    /// reply ([SYS/TEMP] etc.) means they were not: the call fails with that error.
    bool quit() { return run_throwing(detail::quit_op{}); }
    bool quit(error_code& ec) { return run(detail::quit_op{}, ec); }
    template <class Token = default_token> auto async_quit(Token&& token = default_token{})
    {
        return run_async(detail::quit_op{}, std::forward<Token>(token));
    }
    ///@}

    /// Ends the session WITHOUT QUIT: the connection is closed (for streams over a socket)
    /// and the server applies none of this session's DELEs (RFC 1939 section 6 deletes only
    /// on QUIT). For abandoning a session after an error; an operation still running
    /// completes with an error. `connect` may start a new session afterwards.
    void close() noexcept { impl_->close(); }

private:
    /// Implicit TLS on a TLS-capable stream, else none.
    static constexpr tls_mode_type default_mode() noexcept
    {
        if constexpr (detail::is_ssl_stream<Stream>::value) return tls_mode::implicit;
        else return {};
    }

    const detail::protocol& session() const noexcept { return impl_->session(); }

    static detail::open_session_op open_session(std::string_view host, std::string_view service,
                                                tls_mode mode)
    {
        static_assert(detail::has_tcp_socket<Stream>::value,
                      "connect() needs a stream whose lowest layer is a TCP socket; connect "
                      "other streams yourself, then call read_greeting()");
        return {mode, detail::server_address{std::string(host), std::string(service)}};
    }

    using verb = detail::plain_command_op::verb;
    using size_listing = detail::listing_op<message_size>;
    using uid_listing = detail::listing_op<message_uid>;

    static detail::plain_command_op plain(verb v, message_number n = 0)
    {
        return detail::plain_command_op{v, n};
    }
    static detail::body_op<detail::string_sink> string_body(message_number n,
                                                            std::optional<std::uint32_t> lines)
    {
        return {detail::string_sink{}, n, lines};
    }
    template <class Sink>
    static auto sink_body(Sink&& sink, message_number n, std::optional<std::uint32_t> lines)
    {
        return detail::body_op<std::decay_t<Sink>>{std::forward<Sink>(sink), n, lines};
    }
    template <class Handler>
    static auto batch(Handler&& handler, std::vector<message_number> numbers,
                      std::optional<std::uint32_t> lines)
    {
        return detail::body_batch_op<std::decay_t<Handler>>{std::forward<Handler>(handler),
                                                            std::move(numbers), lines};
    }

    template <class Handler>
    static auto dele_batch(std::vector<message_number> numbers, Handler&& handler)
    {
        return detail::dele_batch_op<std::decay_t<Handler>>{std::move(numbers),
                                                            std::forward<Handler>(handler)};
    }

    detail::login_op password_login(std::string_view user, std::string_view password,
                                    const login_options& options) const
    {
        return {std::string(user), std::string(password), options, false};
    }
    detail::login_op token_login(std::string_view user, std::string_view token,
                                 const login_options& options) const
    {
        return {std::string(user), std::string(token), options, true};
    }

    static detail::stls_op stls_operation()
    {
        static_assert(detail::is_ssl_stream<Stream>::value,
                      "stls() needs a TLS-capable client: pop3::client<ssl::stream<tcp::socket>>");
        return {};
    }

    template <class Op>
    static typename Op::result_type take(Op& op, const detail::protocol& p)
    {
        return op.take_result(p);
    }

    template <class Op>
    typename Op::result_type
    run(Op op, error_code& ec,
        detail::clock::time_point deadline = detail::clock::time_point::max())
    {
        ec = impl_->run(op, deadline);
        if constexpr (!std::is_void_v<typename Op::result_type>) {
            if (ec) return {};
            return op.take_result(session());
        }
    }

    template <class Op>
    typename Op::result_type
    run_throwing(Op op, detail::clock::time_point deadline = detail::clock::time_point::max())
    {
        error_code ec;
        if constexpr (std::is_void_v<typename Op::result_type>) {
            run(std::move(op), ec, deadline);
            throw_if(ec);
        } else {
            auto result = run(std::move(op), ec, deadline);
            throw_if(ec);
            return result;
        }
    }

    template <class Op, class Token>
    auto run_async(Op op, Token&& token,
                   detail::clock::time_point deadline = detail::clock::time_point::max())
    {
        detail::check_token<Token>();
        using result = typename Op::result_type;
        result (*taker)(Op&, const detail::protocol&) = nullptr;
        if constexpr (!std::is_void_v<result>) taker = &take<Op>;
        return impl_->template async_run<result>(std::make_unique<Op>(std::move(op)), taker,
                                                 std::forward<Token>(token), deadline);
    }

    void throw_if(const error_code& ec) const
    {
        if (ec) throw pop3::error(ec, session().error_reply());
    }

    std::unique_ptr<engine_type> impl_;
};

} // namespace pop3

#endif // POP3_CLIENT_HPP
