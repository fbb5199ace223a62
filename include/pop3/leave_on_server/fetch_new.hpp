// pop3/leave_on_server/fetch_new.hpp: leave-on-server in one call: fetch what is new,
// record it, and delete from the server what the policy says, without ever losing or
// duplicating mail.
//
// Two ways to receive the messages, one implementation of the order of effects:
// - a `pop3::message_delivery` (begin / write chunks / commit / abort): each message
//   streams into the application's storage in constant memory, whatever its size;
// - a callback `error_code(const pop3::fetched_message&)` that gets each message as
//   one buffer: a convenience built on the first (an adapter collects the chunks).
#ifndef POP3_LEAVE_ON_SERVER_FETCH_NEW_HPP
#define POP3_LEAVE_ON_SERVER_FETCH_NEW_HPP

#include <pop3/client.hpp>
#include <pop3/error.hpp>
#include <pop3/exception.hpp>
#include <pop3/leave_on_server/detail/fetch_job.hpp>
#include <pop3/leave_on_server/fetch_types.hpp>
#include <pop3/leave_on_server/plan.hpp>
#include <pop3/leave_on_server/policy.hpp>
#include <pop3/leave_on_server/store.hpp>
#include <pop3/message_part.hpp>
#include <pop3/results.hpp>
#include <pop3/session_state.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace pop3 {

namespace detail {

/// Closes the connection (without QUIT) unless disarmed: after any failure, and when the
/// delivery throws.
template <class Stream>
class close_unless_done {
public:
    explicit close_unless_done(client<Stream>& c) : client_(c) {}
    close_unless_done(const close_unless_done&) = delete;
    close_unless_done& operator=(const close_unless_done&) = delete;
    ~close_unless_done()
    {
        if (armed_) client_.close();
    }
    void disarm() noexcept { armed_ = false; }

private:
    client<Stream>& client_;
    bool armed_ = true;
};

/// The callback form of `fetch_new` on the streaming one: collects each message into one
/// buffer, reserved at its LIST size, and hands it to the callback at `commit`.
template <class Deliver>
class buffered_delivery final : public message_delivery {
public:
    buffered_delivery(Deliver& deliver, std::size_t max_reserve)
        : deliver_(deliver), max_reserve_(max_reserve)
    {
    }

    error_code begin(const fetched_message_info& message) override
    {
        info_ = message;
        buffer_.clear();
        if (message.octets) {
            // +2: a message without a final newline gets CRLF appended.
            const auto want = std::min<std::uint64_t>(*message.octets + 2, max_reserve_);
            buffer_.reserve(static_cast<std::size_t>(want));
        }
        return {};
    }

    error_code write(std::string_view chunk) override
    {
        buffer_.append(chunk);
        return {};
    }

    error_code commit() override
    {
        const error_code ec = std::invoke(
            deliver_, fetched_message{info_.number, info_.uid, buffer_, info_.maybe_delivered});
        release();
        return ec;
    }

    void abort() noexcept override { release(); }

private:
    void release() noexcept
    {
        // Do not keep a large message's memory for the next (small) ones.
        if (buffer_.capacity() > (std::size_t{1} << 20)) std::string().swap(buffer_);
        else buffer_.clear();
    }

    Deliver& deliver_;
    std::size_t max_reserve_;
    fetched_message_info info_;
    std::string buffer_;
};

/// The `retr_many` handler of both drivers: every part goes to the job.
struct fetch_part_handler {
    fetch_job* job;
    error_code operator()(const message_part& part) const { return job->on_part(part); }
};

/// Hands each DELE verdict of the job's `dele_many` to the job.
struct fetch_dele_handler {
    fetch_job* job;
    void operator()(const dele_outcome& outcome) const { job->on_dele(outcome); }
};

/// The synchronous driver of `fetch_job` (see `fetch_new`).
template <class Stream>
fetch_result fetch_new_streaming(client<Stream>& c, uid_store& store, const leave_policy& policy,
                                 message_delivery& delivery, const fetch_options& options,
                                 error_code& ec)
{
    using job_step = fetch_job::step;
    close_unless_done<Stream> guard(c); // declared first: the job aborts, then this closes
    fetch_job job(store, policy, delivery, options);
    error_code e;
    for (auto next = job.start(c.state(), c.capabilities());;) {
        switch (next) {
        case job_step::uidl: {
            auto listing = c.uidl(e);
            next = job.on_uidl(e, std::move(listing));
            break;
        }
        case job_step::list: {
            auto sizes = c.list(e);
            next = job.on_list(e, std::move(sizes), c.state());
            break;
        }
        case job_step::retr_many:
            c.retr_many(job.retr_numbers(), fetch_part_handler{&job}, e);
            next = job.on_retr_many(e, c.state());
            break;
        case job_step::dele_many:
            c.dele_many(job.dele_numbers(), fetch_dele_handler{&job}, e);
            next = job.on_dele_many(e, c.state());
            break;
        case job_step::quit: {
            const bool confirmed = c.quit(e);
            next = job.on_quit(e, confirmed);
            break;
        }
        case job_step::done:
            if (!job.close_connection()) guard.disarm();
            ec = job.error();
            return job.take_result();
        }
    }
}

/// The asynchronous run's delivery: the caller's `message_delivery`, borrowed.
struct borrowed_delivery {
    borrowed_delivery(message_delivery& d, std::size_t /*max_reserve*/) : delivery(d) {}
    message_delivery& get() noexcept { return delivery; }
    message_delivery& delivery;
};

/// The asynchronous run's delivery: the caller's callback, owned by the operation (it
/// must outlive the calls, and a temporary would not).
template <class Deliver> struct owned_delivery {
    owned_delivery(Deliver d, std::size_t max_reserve)
        : deliver(std::move(d)), buffered(deliver, max_reserve)
    {
    }
    owned_delivery(const owned_delivery&) = delete;
    owned_delivery& operator=(const owned_delivery&) = delete;
    message_delivery& get() noexcept { return buffered; }
    Deliver deliver;
    buffered_delivery<Deliver> buffered;
};

/// What an `async_fetch_new` keeps for its whole run, at a stable address (the RETR
/// handler points into it). Members are destroyed in reverse: an operation destroyed
/// unfinished (an exception from the delivery) aborts the open message, then closes the
/// connection, as the synchronous form does.
template <class Stream, class Holder> struct async_fetch_state {
    template <class Delivery>
    async_fetch_state(client<Stream>& c, uid_store& store, const leave_policy& p,
                      Delivery&& d, const fetch_options& o)
        : guard(c), policy(p), options(o), delivery(std::forward<Delivery>(d), o.max_reserve),
          job(store, policy, delivery.get(), options)
    {
    }
    close_unless_done<Stream> guard;
    leave_policy policy;
    fetch_options options;
    Holder delivery;
    fetch_job job;
};

/// The asynchronous driver of `fetch_job`: the same steps as `fetch_new_streaming`, each
/// client call made with its `async_*` form.
template <class Stream, class Holder> struct fetch_op {
    using job_step = fetch_job::step;

    client<Stream>* c;
    std::unique_ptr<async_fetch_state<Stream, Holder>> s;
    job_step next = job_step::uidl;
    bool started = false;

    /// Starts; or, after the post of a run that ended before any I/O, completes.
    template <class Self> void operator()(Self& self)
    {
        if (started) return finish(self);
        started = true;
        next = s->job.start(c->state(), c->capabilities());
        // Never complete inside the initiating function: post first.
        if (next == job_step::done) return net::post(c->get_executor(), std::move(self));
        advance(self);
    }

    /// UIDL's completion.
    template <class Self>
    void operator()(Self& self, error_code ec, std::vector<message_uid> listing)
    {
        next = s->job.on_uidl(ec, std::move(listing));
        advance(self);
    }

    /// LIST's completion.
    template <class Self>
    void operator()(Self& self, error_code ec, std::vector<message_size> sizes)
    {
        next = s->job.on_list(ec, std::move(sizes), c->state());
        advance(self);
    }

    /// QUIT's completion.
    template <class Self> void operator()(Self& self, error_code ec, bool confirmed)
    {
        next = s->job.on_quit(ec, confirmed);
        advance(self);
    }

    /// The completion of RETR and DELE (`next` still names the call).
    template <class Self> void operator()(Self& self, error_code net_ec)
    {
        const auto ec = net_ec;
        auto& job = s->job;
        switch (next) {
        case job_step::retr_many: next = job.on_retr_many(ec, c->state()); break;
        case job_step::dele_many: next = job.on_dele_many(ec, c->state()); break;
        default: next = job.on_quit(make_error_code(errc::session_broken), false); break;
        }
        advance(self);
    }

    template <class Self> void advance(Self& self)
    {
        auto& job = s->job;
        switch (next) {
        case job_step::uidl: return c->async_uidl(std::move(self));
        case job_step::list: return c->async_list(std::move(self));
        case job_step::retr_many:
            return c->async_retr_many(job.retr_numbers(), fetch_part_handler{&job},
                                      std::move(self));
        case job_step::dele_many:
            return c->async_dele_many(job.dele_numbers(), fetch_dele_handler{&job},
                                      std::move(self));
        case job_step::quit: return c->async_quit(std::move(self));
        case job_step::done: return finish(self);
        }
    }

    template <class Self> void finish(Self& self)
    {
        auto& job = s->job;
        if (!job.close_connection()) s->guard.disarm();
        const auto ec = job.error();
        auto result = job.take_result();
        s.reset(); // closes the connection now when the run failed, before the caller resumes
        self.complete(ec, std::move(result));
    }
};

/// Starts `async_fetch_new` with the delivery held as `Holder` says.
template <class Holder, class Stream, class Delivery, class Token>
auto start_async_fetch(client<Stream>& c, uid_store& store, const leave_policy& policy,
                       Delivery&& delivery, const fetch_options& options, Token&& token)
{
    check_token<Token>();
    auto state = std::make_unique<async_fetch_state<Stream, Holder>>(
        c, store, policy, std::forward<Delivery>(delivery), options);
    return net::async_compose<Token, void(error_code, fetch_result)>(
        fetch_op<Stream, Holder>{&c, std::move(state)}, token, c.stream());
}

} // namespace detail

/// Fetches every message whose UID is not yet stored, hands each to `delivery`, records
/// it, and deletes from the server what `policy` says. Synchronous; the client must be
/// logged in (TRANSACTION state). QUITs at the end, so deletions take effect.
///
/// ```
/// pop3::file_uid_store store("/var/lib/fetch/alice.uids");
/// const auto result = pop3::fetch_new(c, store, pop3::leave_policy::delete_older_than_days(14),
///     [&](const pop3::fetched_message& m) -> pop3::error_code {
///         return save_durably(m.uid, m.bytes); // success only once it survives a crash
///     });
/// std::cout << result.fetched << " new, " << result.deleted << " deleted\n";
/// ```
///
/// Per message the order of effects is fixed: (1) its UID is durably recorded as
/// "delivery started" (one batch for all the UIDs this run fetches, before the first
/// RETR); (2) RETR; (3) the delivery stores it and commits; (4) only when the commit
/// succeeded, the UID is durably recorded as stored; (5) only then may DELE be sent for
/// it, and DELE takes effect only at QUIT (RFC 1939 section 6). So, whatever fails and
/// wherever the process dies:
/// - no message is deleted from the server that the application did not confirm stored;
/// - a message confirmed stored is never delivered again;
/// - a message whose delivery was started but not confirmed is delivered again with
///   `maybe_delivered` set (or confirmed through `options.already_stored`): the only
///   case where the delivery may see a UID it has seen before, and it is flagged.
///   When the run ends early (a failed delivery, a lost connection), the intents of the
///   messages whose delivery never began, was refused or was aborted are withdrawn, so
///   only messages that may really have been stored come back flagged. A process that
///   dies cannot withdraw: then the unfinished rest of the run's batch is flagged too.
///
/// The application's part: `commit` (or the callback) returns success only once the
/// message is durably stored (e.g. Maildir: write to tmp/, fsync, rename to new/, fsync
/// the directory), and when `maybe_delivered` is set it must not store a second copy
/// (e.g. put the UID, in a file-name-safe encoding, into the Maildir file name and look
/// for it first).
///
/// Memory: with a `message_delivery` each message streams through in chunks (the
/// client's read buffer), whatever its size. With a callback, each message is held once
/// in memory while delivered: its buffer is reserved at its LIST size (bounded by
/// `options.max_reserve`). Duplicate UIDs in the listing are neither fetched nor deleted
/// (see `fetch_plan`); they are reported in the result.
///
/// @param c        a logged-in client; after a failure the connection is closed without
///                 QUIT (unless `options.quit_after_failure`), except for wrong_state and
///                 not_supported, which leave the session as it was
/// @param store    the account's UID store
/// @param policy   what to delete from the server, and when to forget vanished UIDs
/// @param delivery either a `pop3::message_delivery` (streaming, see that class), or a
///                 callable `error_code(const fetched_message&)` that stores one
///                 whole message durably. Neither is copied. An error stops the run. If
///                 it throws, the open message is aborted, the connection is closed
///                 without QUIT and the exception propagates.
/// @param options  see `fetch_options`
/// @param ec       errc::wrong_state (not logged in), errc::not_supported (no UIDL), the
///                 first error of the delivery or the store, or the session's error
///                 (connection lost, timeout, ...). Rerun after any error: nothing is
///                 lost or duplicated.
/// @return the counts of what was done, also on error
template <class Stream, class Delivery>
fetch_result fetch_new(client<Stream>& c, uid_store& store, const leave_policy& policy,
                       Delivery&& delivery, const fetch_options& options, error_code& ec)
{
    using type = std::remove_reference_t<Delivery>;
    if constexpr (std::is_base_of_v<message_delivery, std::remove_cv_t<type>>) {
        static_assert(!std::is_const_v<type>, "a pop3::message_delivery must not be const");
        return detail::fetch_new_streaming(c, store, policy, delivery, options, ec);
    } else {
        static_assert(std::is_invocable_v<type&, const fetched_message&> &&
                          std::is_convertible_v<std::invoke_result_t<type&, const fetched_message&>,
                                                error_code>,
                      "the delivery must be a pop3::message_delivery or callable as "
                      "error_code(const pop3::fetched_message&)");
        detail::buffered_delivery<type> buffered(delivery, options.max_reserve);
        return detail::fetch_new_streaming(c, store, policy, buffered, options, ec);
    }
}

/// `fetch_new` with default options, reporting errors through `ec`.
template <class Stream, class Delivery>
fetch_result fetch_new(client<Stream>& c, uid_store& store, const leave_policy& policy,
                       Delivery&& delivery, error_code& ec)
{
    return fetch_new(c, store, policy, std::forward<Delivery>(delivery), fetch_options{}, ec);
}

/// Throwing form of `fetch_new`. @throws pop3::fetch_error (a `pop3::error`) with the
/// error that stopped the run and the run's `fetch_result` (the state is durable, so
/// simply run again)
template <class Stream, class Delivery>
fetch_result fetch_new(client<Stream>& c, uid_store& store, const leave_policy& policy,
                       Delivery&& delivery, const fetch_options& options = {})
{
    error_code ec;
    auto result = fetch_new(c, store, policy, std::forward<Delivery>(delivery), options, ec);
    if (ec) throw fetch_error(std::move(result));
    return result;
}

/// Asynchronous `fetch_new`: the same run, the same order of effects and the same result
/// (one implementation drives both), each server call made asynchronously. Completes with
/// `void(error_code, fetch_result)`; works with any completion token (a callback,
/// `use_future`, `use_awaitable`, ...) and defaults to the client's `default_token`.
///
/// The delivery, the store, `options.progress` and `options.already_stored` are called
/// synchronously from the operation's steps, on the executor of the completion handler
/// (the client's, unless the token binds another): keep them quick, or hand work off.
///
/// Lifetimes: the client, `store` and a `message_delivery` must outlive the operation;
/// `policy`, `options` and a callback delivery are copied (moved) into it, so temporaries
/// are fine (pass `std::ref(f)` to share a callback). One operation at a time per client,
/// as for every client call; not thread-safe.
///
/// Cancellation: a terminal cancellation through the token's slot reaches the client call
/// in progress; the run then stops with its error and the connection is closed without
/// QUIT, as after any failure (see `fetch_new`). If the delivery throws, the exception
/// propagates out of the executor's `run()`; destroying the unfinished operation aborts the
/// open message and closes the connection without QUIT.
template <class Stream, class Delivery, class Token = typename client<Stream>::default_token>
auto async_fetch_new(client<Stream>& c, uid_store& store, const leave_policy& policy,
                     Delivery&& delivery, const fetch_options& options,
                     Token&& token = typename client<Stream>::default_token{})
{
    using type = std::remove_reference_t<Delivery>;
    if constexpr (std::is_base_of_v<message_delivery, std::remove_cv_t<type>>) {
        static_assert(!std::is_const_v<type>, "a pop3::message_delivery must not be const");
        return detail::start_async_fetch<detail::borrowed_delivery>(
            c, store, policy, delivery, options, std::forward<Token>(token));
    } else {
        using owned = std::decay_t<Delivery>;
        static_assert(std::is_invocable_v<owned&, const fetched_message&> &&
                          std::is_convertible_v<std::invoke_result_t<owned&, const fetched_message&>,
                                                error_code>,
                      "the delivery must be a pop3::message_delivery or callable as "
                      "error_code(const pop3::fetched_message&)");
        return detail::start_async_fetch<detail::owned_delivery<owned>>(
            c, store, policy, std::forward<Delivery>(delivery), options,
            std::forward<Token>(token));
    }
}

/// `async_fetch_new` with default options. (No defaulted `options` parameter: GCC 12
/// frees such a temporary wrongly inside `co_await`; see `client::async_login`.)
template <class Stream, class Delivery, class Token,
          class = std::enable_if_t<!std::is_convertible_v<Token, const fetch_options&>>>
auto async_fetch_new(client<Stream>& c, uid_store& store, const leave_policy& policy,
                     Delivery&& delivery, Token&& token)
{
    const fetch_options options{};
    return async_fetch_new(c, store, policy, std::forward<Delivery>(delivery), options,
                           std::forward<Token>(token));
}

} // namespace pop3

#endif // POP3_LEAVE_ON_SERVER_FETCH_NEW_HPP
