// pop3/detail/operations.hpp: one resumable algorithm per POP3 operation. No Asio here.
#ifndef POP3_DETAIL_OPERATIONS_HPP
#define POP3_DETAIL_OPERATIONS_HPP

#include <pop3/commands.hpp>
#include <pop3/detail/protocol.hpp>
#include <pop3/message_part.hpp>
#include <pop3/results.hpp>
#include <pop3/sasl/secret.hpp>
#include <pop3/tls_mode.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace pop3::detail {

/// True when a callback's result type is one the library understands: `void` (go on) or
/// `error_code` (stop with that error when set). Anything else (bool, std::errc, ...)
/// would be silently ignored, so it is refused at compile time.
template <class Result>
inline constexpr bool is_callback_result_v =
    std::is_void_v<Result> || std::is_same_v<std::decay_t<Result>, error_code>;

/// True for a type called like a sink, `f(std::string_view)`, whose result is not a class
/// other than error_code. Completion tokens that are themselves invocable (Asio's
/// `use_future` wraps a function when called) return a class, so an overload constrained
/// with this never captures a token; a sink with a wrong result type still selects it and
/// then fails the readable static_assert in `invoke_user`.
template <class F, class = void> struct looks_like_sink : std::false_type {
};
template <class F>
struct looks_like_sink<F, std::enable_if_t<std::is_invocable_v<F&, std::string_view>>>
    : std::bool_constant<!std::is_class_v<std::invoke_result_t<F&, std::string_view>> ||
                         std::is_same_v<std::invoke_result_t<F&, std::string_view>,
                                        error_code>> {
};
template <class F> inline constexpr bool looks_like_sink_v = looks_like_sink<std::decay_t<F>>::value;

/// Calls a user callback that returns void or error_code (to stop).
template <class F, class... Args> error_code invoke_user(F& f, Args&&... args)
{
    using result = decltype(f(std::forward<Args>(args)...));
    static_assert(is_callback_result_v<result>,
                  "a pop3 sink or handler must return void (go on) or pop3::error_code (stop "
                  "with that error when it is set); wrap other results, e.g. "
                  "`return ok ? pop3::error_code{} : the_error;`");
    if constexpr (std::is_void_v<result>) {
        f(std::forward<Args>(args)...);
        return {};
    } else {
        return f(std::forward<Args>(args)...);
    }
}

/// `check_message_number` over a batch: one bad number refuses the whole call.
inline error_code check_message_numbers(const std::vector<message_number>& numbers) noexcept
{
    for (auto n : numbers)
        if (auto ec = check_message_number(n)) return ec;
    return {};
}

/// The error for a refused login: a bare -ERR means the credentials (RFC 3206 section 4).
inline error_code login_error(const server_reply& reply)
{
    const auto ec = error_from_reply(reply);
    return ec == errc::server_error ? make_error_code(errc::authentication_failed) : ec;
}

/// An operation whose last step is CAPA: after the greeting, STLS and login (what a
/// server offers changes with TLS, RFC 2595 section 4, and with the user, RFC 2449
/// section 5), or CAPA on its own. The CAPA reply is handled here, once.
class capa_tail_op : public operation {
public:
    error_code on_reply(protocol& p, const server_reply& reply) final
    {
        if (!in_capa_) return on_command_reply(p, reply);
        // Servers without CAPA (popa3d, solid-pop3d) answer -ERR: they have no extensions.
        if (!reply.ok()) {
            p.set_caps_known(true);
            if (!tolerate_err_) fail(error_from_reply(reply));
        }
        return {};
    }
    error_code on_line(protocol& p, std::string_view line) final
    {
        // A malformed argument (say "LOGIN-DELAY soon") is kept as sent but not decoded;
        // it must not stop the user from reading mail.
        if (in_capa_) (void)p.caps().add_line(line);
        return {};
    }
    error_code on_end(protocol& p) final
    {
        if (in_capa_) p.set_caps_known(true);
        return {};
    }

protected:
    explicit capa_tail_op(bool tolerate_err = true) : tolerate_err_(tolerate_err) {}

    /// The reply to the operation's own command(s), before CAPA.
    virtual error_code on_command_reply(protocol&, const server_reply&) { return {}; }

    /// Sends CAPA the first time, then says `finished`.
    step capa(protocol& p, std::string& out)
    {
        if (in_capa_) return step::finished();
        in_capa_ = true;
        p.caps().clear();
        commands::capa(out);
        return step::command(response_kind::multi_line, body_mode::lines);
    }
    /// Lets `capa` send CAPA once more (after the layer changed); until then replies are
    /// the operation's own again.
    void restart_capa() noexcept { in_capa_ = false; }

private:
    bool tolerate_err_;
    bool in_capa_ = false;
};

/// Opens a session: connects (when asked to), secures it as `mode` says, reads the greeting
/// (RFC 1939 section 4), then CAPA. With implicit TLS (port 995) the TLS handshake comes
/// first; with STLS (RFC 2595) it follows the greeting and CAPA is asked again on the new
/// layer. When STLS is required but missing or refused, the connection is closed before a
/// credential could be sent: errc::tls_required, and the session is broken.
class open_session_op final : public capa_tail_op {
public:
    /// On a stream the caller connected.
    explicit open_session_op(tls_mode mode) : mode_(mode) {}
    /// Connects to `server` first (which then names the server for TLS and OAUTHBEARER).
    open_session_op(tls_mode mode, server_address server)
        : mode_(mode), server_(std::move(server)), connect_(true)
    {
    }

    requirements required() const noexcept override
    {
        // Any state: a new connection (or one the caller made) starts a new session.
        requirements r{any_state};
        r.opens_connection = connect_;
        return r;
    }

    step next(protocol& p, std::string& out) override
    {
        switch (phase_) {
        case phase::start:
            phase_ = phase::connected;
            if (connect_) {
                p.set_server(std::move(server_));
                return step::connect();
            }
            [[fallthrough]];
        case phase::connected:
            phase_ = phase::greeting;
            if (mode_ == tls_mode::implicit && !p.tls_active()) return step::handshake();
            [[fallthrough]];
        case phase::greeting:
            phase_ = phase::capa;
            return step::expect(response_kind::single_line);
        case phase::capa:
            if (error()) return step::finished();
            phase_ = phase::secure;
            return capa(p, out);
        case phase::secure:
            if (mode_ != tls_mode::starttls || error()) return step::finished();
            if (p.caps_known() && !p.caps().stls) return refuse_cleartext(errc::tls_required);
            phase_ = phase::stls;
            restart_capa();
            commands::stls(out);
            return step::command(response_kind::single_line);
        case phase::stls:
            if (error()) return refuse_cleartext(error());
            phase_ = phase::secured;
            return step::handshake();
        case phase::secured: phase_ = phase::done; return capa(p, out);
        case phase::closing: p.set_state(session_state::broken); return step::finished();
        case phase::done: break;
        }
        return step::finished();
    }

private:
    error_code on_command_reply(protocol& p, const server_reply& reply) override
    {
        if (phase_ == phase::stls) {
            auto ec = reply.ok() ? error_code{} : error_from_reply(reply);
            if (ec == errc::server_error) ec = errc::tls_required;
            if (ec) fail(ec);
            return {};
        }
        if (!reply.ok()) {
            fail(error_from_reply(reply));
            return {};
        }
        p.greeting().reply = reply;
        p.greeting().apop_timestamp = std::string(find_apop_timestamp(reply.text));
        p.set_state(session_state::authorization);
        return {};
    }

    /// TLS was required and will not happen: end the connection, never fall back.
    step refuse_cleartext(error_code ec)
    {
        fail(ec);
        phase_ = phase::closing;
        return step::close();
    }

    enum class phase { start, connected, greeting, capa, secure, stls, secured, closing, done };
    phase phase_ = phase::start;
    tls_mode mode_;
    server_address server_;
    bool connect_ = false;
};

/// Common shape of operations that send one command in a required state.
class one_command_op : public operation {
public:
    step next(protocol& p, std::string& out) final
    {
        if (sent_) return step::finished();
        sent_ = true;
        const auto before = out.size();
        if (auto ec = write(p, out)) {
            out.resize(before);
            fail(ec);
            return step::finished();
        }
        return shape();
    }

    error_code on_reply(protocol& p, const server_reply& reply) override
    {
        if (!reply.ok()) {
            fail(error_from_reply(reply));
            return {};
        }
        return on_ok(p, reply);
    }

    /// TRANSACTION state (RFC 1939 section 5), unless the operation says otherwise.
    requirements required() const noexcept override { return {}; }

protected:
    virtual error_code write(protocol& p, std::string& out) = 0;
    virtual step shape() const { return step::command(response_kind::single_line); }
    virtual error_code on_ok(protocol&, const server_reply&) { return {}; }

private:
    bool sent_ = false;
};

/// A command whose +OK carries nothing we need: NOOP, RSET, DELE n.
class plain_command_op final : public one_command_op {
public:
    enum class verb { noop, rset, dele };
    explicit plain_command_op(verb v, message_number n = 0) : verb_(v), number_(n) {}

private:
    error_code write(protocol&, std::string& out) override
    {
        switch (verb_) {
        case verb::noop: return commands::noop(out);
        case verb::rset: return commands::rset(out);
        case verb::dele: return commands::dele(out, number_);
        }
        return errc::invalid_argument;
    }
    verb verb_;
    message_number number_;
};

/// STAT (RFC 1939 section 5).
class stat_op final : public one_command_op {
public:
    using result_type = maildrop_stat;
    maildrop_stat result;
    result_type take_result(const protocol&) { return result; }

private:
    error_code write(protocol&, std::string& out) override { return commands::stat(out); }
    error_code on_ok(protocol&, const server_reply& reply) override
    {
        // The reply is complete, so the session stays in step: fail only the call.
        fail(parse_stat(reply.text, result));
        return {};
    }
};

/// LIST n (RFC 1939 section 5).
class list_one_op final : public one_command_op {
public:
    explicit list_one_op(message_number n) : number_(n) {}
    using result_type = message_size;
    message_size result;
    result_type take_result(const protocol&) { return result; }

private:
    error_code write(protocol&, std::string& out) override
    {
        return commands::list(out, number_);
    }
    error_code on_ok(protocol&, const server_reply& reply) override
    {
        fail(parse_scan_listing(reply.text, result));
        return {};
    }
    message_number number_;
};

/// UIDL n (RFC 1939 section 7).
class uidl_one_op final : public one_command_op {
public:
    explicit uidl_one_op(message_number n) : number_(n) {}
    using result_type = message_uid;
    message_uid result;
    result_type take_result(const protocol&) { return std::move(result); }

private:
    error_code write(protocol&, std::string& out) override
    {
        return commands::uidl(out, number_);
    }
    error_code on_ok(protocol& p, const server_reply& reply) override
    {
        fail(parse_unique_id_listing(reply.text, result, p.limits()));
        return {};
    }
    message_number number_;
};

/// LIST or UIDL without argument: a multi-line listing.
template <class Entry> class listing_op final : public one_command_op {
public:
    using result_type = std::vector<Entry>;
    std::vector<Entry> result;
    result_type take_result(const protocol&) { return std::move(result); }

private:
    error_code write(protocol&, std::string& out) override
    {
        if constexpr (std::is_same_v<Entry, message_uid>) return commands::uidl(out);
        else return commands::list(out);
    }
    step shape() const override
    {
        return step::command(response_kind::multi_line, body_mode::lines);
    }
    error_code on_line(protocol& p, std::string_view line) override
    {
        if (error()) return {}; // read the rest of the listing to stay in step
        Entry entry;
        error_code ec;
        if constexpr (std::is_same_v<Entry, message_uid>)
            ec = parse_unique_id_listing(line, entry, p.limits());
        else ec = parse_scan_listing(line, entry);
        if (ec) fail(ec);
        else result.push_back(std::move(entry));
        return {};
    }
};

/// CAPA as a call of its own: allowed in AUTHORIZATION and TRANSACTION states.
class capa_op final : public capa_tail_op {
public:
    capa_op() : capa_tail_op(false) {}
    using result_type = capabilities;
    result_type take_result(const protocol& p) { return p.caps(); }

    requirements required() const noexcept override
    {
        return {in_state(session_state::authorization) | in_state(session_state::transaction)};
    }
    step next(protocol& p, std::string& out) override { return capa(p, out); }
};

/// USER name / PASS secret (RFC 1939 section 7), then CAPA again: some servers
/// advertise PIPELINING, TOP or UIDL only after login.
class user_pass_op final : public capa_tail_op {
public:
    user_pass_op(std::string user, std::string password)
        : user_(std::move(user)), password_(std::move(password))
    {
    }
    user_pass_op(user_pass_op&&) = default;
    ~user_pass_op() override { sasl::detail::cleanse(password_); }
    requirements required() const noexcept override
    {
        return {in_state(session_state::authorization)};
    }
    /// USER and PASS in one write when the server pipelines (RFC 2449 section 6.6): one
    /// round trip less. A refused USER then gets a refused PASS; the first -ERR is reported.
    bool pipelinable() const noexcept override { return true; }

    step next(protocol& p, std::string& out) override
    {
        if (error()) return step::finished();
        switch (phase_) {
        case phase::start:
            // login_op refused CR, LF and NUL; USER also needs a non-empty name
            // without spaces.
            if (auto ec = commands::user(out, user_)) {
                fail(ec);
                return step::finished();
            }
            phase_ = phase::user;
            return step::command(response_kind::single_line);
        case phase::user:
            // Asked while USER is in flight: only when the server pipelines (the protocol's
            // one gate), so PASS goes in the same write.
            [[fallthrough]];
        case phase::pass_due:
            phase_ = phase::pass;
            commands::pass(out, password_);
            sasl::detail::cleanse(password_);
            return step::secret_command(response_kind::single_line, 4);
        case phase::pass: return step::wait();
        case phase::logged_in: break;
        }
        return capa(p, out);
    }

private:
    error_code on_command_reply(protocol& p, const server_reply& reply) override
    {
        if (!reply.ok()) fail(login_error(reply));
        if (++replies_ == 1) { // USER's (PASS may be on its way already)
            if (phase_ == phase::user) phase_ = phase::pass_due;
        } else if (reply.ok() && !error()) {
            p.set_state(session_state::transaction);
            phase_ = phase::logged_in;
        }
        return {};
    }

    enum class phase { start, user, pass_due, pass, logged_in } phase_ = phase::start;
    unsigned replies_ = 0;
    std::string user_;
    std::string password_;
};

/// Collects a message into a string: `retr(n)` is `retr(n, sink)` with this sink.
struct string_sink {
    std::string text;
    void operator()(std::string_view chunk) { text.append(chunk); }
};

/// RETR n or TOP n lines, streaming the unstuffed message to a sink.
template <class Sink> class body_op final : public one_command_op {
public:
    body_op(Sink sink, message_number n, std::optional<std::uint32_t> top_lines)
        : sink_(std::move(sink)), number_(n), top_lines_(top_lines)
    {
    }
    using result_type = std::conditional_t<std::is_same_v<Sink, string_sink>, std::string, void>;
    result_type take_result(const protocol&)
    {
        if constexpr (!std::is_void_v<result_type>) return std::move(sink_.text);
    }

    requirements required() const noexcept override
    {
        return {in_state(session_state::transaction),
                top_lines_ ? needs_capability::top : needs_capability::none};
    }

private:
    error_code write(protocol&, std::string& out) override
    {
        return top_lines_ ? commands::top(out, number_, *top_lines_) : commands::retr(out, number_);
    }
    step shape() const override { return step::command(response_kind::multi_line); }
    error_code on_data(protocol&, std::string_view chunk) override
    {
        // After a sink error the rest of the message is read and dropped: the session
        // stays in step.
        if (!error()) fail(invoke_user(sink_, chunk));
        return {};
    }

    Sink sink_;
    message_number number_;
    std::optional<std::uint32_t> top_lines_;
};

/// RETR or TOP over many messages, pipelined when the server allows (RFC 2449 6.6).
template <class Handler> class body_batch_op final : public operation {
public:
    body_batch_op(Handler handler, std::vector<message_number> numbers,
                  std::optional<std::uint32_t> top_lines)
        : handler_(std::move(handler)), numbers_(std::move(numbers)), top_lines_(top_lines)
    {
    }
    bool pipelinable() const noexcept override { return true; }
    requirements required() const noexcept override
    {
        return {in_state(session_state::transaction),
                top_lines_ ? needs_capability::top : needs_capability::none};
    }

    step next(protocol&, std::string& out) override
    {
        if (!checked_) {
            checked_ = true;
            fail(check_message_numbers(numbers_));
        }
        // After an error of the handler stop asking; replies in flight are still read.
        if (error() || sent_ == numbers_.size()) return step::finished();
        const auto n = numbers_[sent_++];
        if (top_lines_) commands::top(out, n, *top_lines_);
        else commands::retr(out, n);
        return step::command(response_kind::multi_line);
    }

    error_code on_reply(protocol& p, const server_reply& reply) override
    {
        if (!reply.ok()) {
            message_error_ = error_from_reply(reply);
            message_reply_ = reply;
            p.clear_error_reply(); // the handler gets it; the call does not fail for it
        }
        return {};
    }
    error_code on_data(protocol&, std::string_view chunk) override
    {
        if (!error())
            fail(invoke_user(handler_, message_part{numbers_[received_], chunk, false, {}, nullptr}));
        return {};
    }
    error_code on_end(protocol&) override
    {
        if (!error())
            fail(invoke_user(handler_, message_part{numbers_[received_], {}, true, message_error_,
                                                    message_error_ ? &message_reply_ : nullptr}));
        message_error_ = {};
        ++received_;
        return {};
    }

private:
    Handler handler_;
    std::vector<message_number> numbers_;
    std::optional<std::uint32_t> top_lines_;
    bool checked_ = false;
    std::size_t sent_ = 0;
    std::size_t received_ = 0;
    error_code message_error_;
    server_reply message_reply_;
};

/// `dele_batch_op` without a per-message handler: the call fails with the first error.
struct first_dele_error {};

/// DELE over many messages, pipelined when allowed. Every DELE is tried. Without a
/// handler the result is the first error; with one, the handler gets each message's
/// `dele_outcome` and the call fails only when the handler stops it (or when the call
/// itself is invalid: then nothing is sent).
template <class Handler = first_dele_error> class dele_batch_op final : public operation {
    static constexpr bool per_message = !std::is_same_v<Handler, first_dele_error>;

public:
    explicit dele_batch_op(std::vector<message_number> numbers, Handler handler = {})
        : handler_(std::move(handler)), numbers_(std::move(numbers))
    {
    }
    bool pipelinable() const noexcept override { return true; }
    requirements required() const noexcept override { return {}; }

    step next(protocol&, std::string& out) override
    {
        if (!checked_) {
            checked_ = true;
            fail(check_message_numbers(numbers_));
        }
        // After an error of the call stop sending; replies in flight are still read.
        if (error() && (per_message || sent_ == 0)) return step::finished();
        if (sent_ == numbers_.size()) return step::finished();
        commands::dele(out, numbers_[sent_++]);
        return step::command(response_kind::single_line);
    }
    error_code on_reply(protocol& p, const server_reply& reply) override
    {
        const auto number = numbers_[received_++];
        if constexpr (per_message) {
            dele_outcome outcome{number, {}, nullptr};
            if (!reply.ok()) {
                outcome.error = error_from_reply(reply);
                outcome.reply = &reply;
                p.clear_error_reply(); // the handler gets it; the call does not fail for it
            }
            if (!error()) fail(invoke_user(handler_, static_cast<const dele_outcome&>(outcome)));
        } else {
            (void)p;
            (void)number;
            if (!reply.ok()) fail(error_from_reply(reply));
        }
        return {};
    }

private:
    Handler handler_;
    std::vector<message_number> numbers_;
    bool checked_ = false;
    std::size_t sent_ = 0;
    std::size_t received_ = 0;
};

/// True for a `dele_many` handler: called with a `dele_outcome`, and not a completion
/// token (a callback token is called with an error code).
template <class F>
inline constexpr bool looks_like_dele_handler_v =
    std::is_invocable_v<std::decay_t<F>&, const dele_outcome&> &&
    !std::is_invocable_v<std::decay_t<F>&, error_code>;

/// QUIT (RFC 1939 sections 4 and 6). `committed` tells whether the server confirmed
/// the UPDATE state (deletions done); a -ERR there means they were not.
class quit_op final : public one_command_op {
public:
    using result_type = bool;
    bool committed = false;
    result_type take_result(const protocol&) { return committed; }
    requirements required() const noexcept override
    {
        return {in_state(session_state::authorization) | in_state(session_state::transaction)};
    }

private:
    error_code write(protocol&, std::string& out) override { return commands::quit(out); }
    error_code on_reply(protocol& p, const server_reply& reply) override
    {
        p.set_state(session_state::closed);
        committed = reply.ok();
        if (!reply.ok()) fail(error_from_reply(reply));
        return {};
    }
};

/// UTF8 (RFC 6856 section 2): only in AUTHORIZATION state and when advertised.
class utf8_op final : public one_command_op {
public:
    requirements required() const noexcept override
    {
        return {in_state(session_state::authorization), needs_capability::utf8};
    }

private:
    error_code write(protocol&, std::string& out) override { return commands::utf8(out); }
};

/// A language the server offers (RFC 6856 section 3).
struct language_entry {
    std::string tag;
    std::string description;
};

/// LANG tag selects a language; LANG alone lists them.
class lang_op final : public one_command_op {
public:
    explicit lang_op(std::string tag = {}) : tag_(std::move(tag)) {}
    using result_type = std::vector<language_entry>;
    std::vector<language_entry> result;
    result_type take_result(const protocol&) { return std::move(result); }
    requirements required() const noexcept override
    {
        return {in_state(session_state::authorization) | in_state(session_state::transaction),
                needs_capability::lang};
    }

private:
    error_code write(protocol&, std::string& out) override
    {
        return tag_.empty() ? commands::lang(out) : commands::lang(out, tag_);
    }
    step shape() const override
    {
        return tag_.empty() ? step::command(response_kind::multi_line, body_mode::lines)
                            : step::command(response_kind::single_line);
    }
    error_code on_line(protocol&, std::string_view line) override
    {
        auto rest = line;
        const auto tag = next_token(rest);
        if (!tag.empty()) result.push_back({std::string(tag), std::string(rest)});
        return {};
    }
    std::string tag_;
};

/// STLS (RFC 2595 section 4): the command, the TLS handshake, then CAPA again.
class stls_op final : public capa_tail_op {
public:
    requirements required() const noexcept override
    {
        return {in_state(session_state::authorization), needs_capability::stls, true};
    }
    step next(protocol& p, std::string& out) override
    {
        if (error()) return step::finished();
        switch (phase_) {
        case phase::start:
            phase_ = phase::command;
            commands::stls(out);
            return step::command(response_kind::single_line);
        case phase::command: return step::wait();
        case phase::handshake_due: phase_ = phase::handshake; return step::handshake();
        case phase::handshake: return step::wait();
        case phase::secured: break;
        }
        return capa(p, out);
    }
    void on_handshake(protocol&) override { phase_ = phase::secured; }

private:
    error_code on_command_reply(protocol&, const server_reply& reply) override
    {
        if (!reply.ok()) fail(error_from_reply(reply));
        else phase_ = phase::handshake_due;
        return {};
    }

    enum class phase { start, command, handshake_due, handshake, secured } phase_ = phase::start;
};

} // namespace pop3::detail

#endif // POP3_DETAIL_OPERATIONS_HPP
