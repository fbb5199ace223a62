// pop3/fetch_new.hpp: leave-on-server in one call: fetch what is new, record it, and
// delete from the server what the policy says, without ever losing or duplicating mail.
//
// Two ways to receive the messages, one implementation of the order of effects:
// - a `pop3::message_delivery` (begin / write chunks / commit / abort): each message
//   streams into the application's storage in constant memory, whatever its size;
// - a callback `std::error_code(const pop3::fetched_message&)` that gets each message as
//   one buffer: a convenience built on the first (an adapter collects the chunks).
#ifndef POP3_FETCH_NEW_HPP
#define POP3_FETCH_NEW_HPP

#include <pop3/client.hpp>
#include <pop3/error.hpp>
#include <pop3/exception.hpp>
#include <pop3/fetch_plan.hpp>
#include <pop3/message_part.hpp>
#include <pop3/results.hpp>
#include <pop3/session_state.hpp>
#include <pop3/uid_store.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace pop3 {

/// What `fetch_new` tells a `message_delivery` about a message as it starts storing it.
struct fetched_message_info {
    message_number number = 0; ///< its number in this session
    std::string_view uid;      ///< its unique id (UIDL); valid until `commit` or `abort` returns
    /// Its size from LIST, when known. A hint only (for a progress bar or preallocation):
    /// the server counts its own line endings, and the message ends where RETR's data ends.
    std::optional<std::uint64_t> octets;
    /// An earlier run started delivering this UID and never confirmed it: the message
    /// may already be in the application's storage. Deliver idempotently (find the copy
    /// stored under this UID and commit without storing it again).
    bool maybe_delivered = false;
};

/// One new message as one buffer, handed to a delivery callback (see `fetch_new`).
struct fetched_message {
    message_number number = 0; ///< its number in this session
    std::string_view uid;      ///< its unique id (UIDL)
    std::string_view bytes;    ///< the whole message as RETR sends it, unstuffed, CRLF kept
    /// As `fetched_message_info::maybe_delivered`: deliver idempotently.
    bool maybe_delivered = false;
};

/// Where `fetch_new` streams messages: the application's storage, one message at a time.
///
/// For each message `fetch_new` calls `begin`, then `write` for every chunk in order (the
/// message as RETR sends it, unstuffed, CRLF kept; none for an empty message), then
/// `commit`. Once `begin` was called (whatever it returned), the message ends either with
/// a `commit` that returned success or with exactly one `abort`: after any error of
/// `begin`, `write` or `commit`, an exception from them, a RETR refused by the server, or
/// a lost connection. Any error returned stops the run (nothing more is fetched, nothing
/// is deleted for this message).
///
/// Only one message is open at a time; the object is used from the calling thread only.
class message_delivery {
public:
    virtual ~message_delivery() = default;

    /// Starts storing a message (e.g. create a file in a Maildir's tmp/).
    virtual std::error_code begin(const fetched_message_info& message) = 0;
    /// Stores the next chunk. `chunk` is only valid during the call.
    virtual std::error_code write(std::string_view chunk) = 0;
    /// Makes the message durable. Return success only once it survives a crash (e.g.
    /// fsync the file, rename it into new/, fsync the directory): only then is its UID
    /// recorded as stored, and only then may the server delete it.
    virtual std::error_code commit() = 0;
    /// Drops what was written of the current message (a failed or unfinished one). Also
    /// called after `begin` or `commit` failed; must cope with any state.
    virtual void abort() noexcept = 0;
};

/// Progress of a `fetch_new` run, passed to `fetch_options::progress`.
struct fetch_progress {
    std::size_t messages_total = 0; ///< messages this run downloads (after `max_messages`)
    std::size_t messages_done = 0;  ///< of them, finished: stored, or failed (see `error`)
    std::uint64_t bytes_total = 0;  ///< the sum of their LIST sizes: an estimate (0: unknown)
    std::uint64_t bytes_done = 0;   ///< message bytes received so far, unstuffed
    /// Set only in the call that reports a finished message: stored and recorded (`error`
    /// empty), or failed without stopping the run (`error` set, e.g. the server refused
    /// RETR because another session deleted the message). Null otherwise.
    const fetched_message_info* message = nullptr;
    std::uint64_t message_bytes = 0; ///< the bytes received of `message`
    std::error_code error;           ///< why `message` failed
};

/// Options of `fetch_new`.
struct fetch_options {
    /// The session's time for ages and first-seen times; default: the system clock.
    std::optional<uid_time> now;
    /// Ask LIST for the sizes: `fetched_message_info::octets`, the progress totals, and the
    /// buffer of the callback form allocated once at the message's size.
    bool use_list_sizes = true;
    /// Callback form only: never reserve more than this from a LIST size (a server could
    /// claim anything).
    std::size_t max_reserve = std::size_t{256} << 20;
    /// Fetch at most this many messages in this run (in message-number order); the rest
    /// are left for a later run. Nothing is recorded for a message that is not attempted.
    /// Deletions the policy asks for and `already_stored` confirmations do not count.
    std::optional<std::size_t> max_messages;
    /// After the delivery (or the store) failed, still DELE what was recorded and QUIT.
    /// Off by default: the connection is closed without QUIT, because some servers
    /// (Gmail's "recent mode", "mark as read/archive after POP") treat a message as taken
    /// when a session that RETRieved it ends with QUIT.
    bool quit_after_failure = false;
    /// Asked, for each UID whose earlier delivery was never confirmed, whether the
    /// application already has it. `true` records it as stored without downloading it
    /// again; `false` (or no callback) re-delivers it with `maybe_delivered` set.
    std::function<bool(std::string_view uid)> already_stored;
    /// Called once before the first RETR (nothing done yet), after every chunk received,
    /// and after every message finished (`fetch_progress::message` set). Not called when
    /// there is nothing to fetch. An exception from it stops the run as a delivery's does.
    std::function<void(const fetch_progress&)> progress;
};

/// A message that failed without stopping the run (say RETR or DELE answered -ERR because
/// another session deleted the message). It stays unconfirmed and is retried next time.
struct message_failure {
    message_number number = 0;
    std::string uid;
    std::error_code error;
};

/// What `fetch_new` did.
struct fetch_result {
    std::size_t listed = 0;      ///< messages in the server's UIDL listing
    std::size_t pending = 0;     ///< listed and not yet stored (before `max_messages`)
    std::size_t deferred = 0;    ///< of `pending`, left for a later run by `max_messages`
    std::size_t fetched = 0;     ///< delivered and recorded as stored
    std::uint64_t bytes = 0;     ///< the bytes of the `fetched` messages
    std::size_t redelivered = 0; ///< of `fetched`, delivered with `maybe_delivered` set
    std::size_t confirmed = 0;   ///< unconfirmed UIDs `already_stored` confirmed without RETR
    std::size_t deleted = 0;     ///< DELEs the server accepted and committed with QUIT
    std::vector<message_uid> deleted_messages; ///< the `deleted` messages
    std::size_t forgotten = 0;           ///< store entries forgotten (UIDs gone from the server)
    std::size_t skipped_duplicates = 0;  ///< listing entries skipped: their UID is not unique
    std::size_t skipped_invalid = 0;     ///< listing entries skipped: unusable UID or number
    std::vector<message_uid> duplicates; ///< the entries counted by `skipped_duplicates`
    /// Per-message failures that did not stop the run, in the order they happened (the
    /// RETRs, then the DELEs).
    std::vector<message_failure> failures;
    bool quit_confirmed = false; ///< QUIT answered +OK: the deletions are done
    std::error_code error;       ///< what stopped the run (also returned through `ec`)
};

namespace detail {

/// True when the transport can be closed through `lowest_layer().close(ec)`.
template <class Stream, class = void>
struct has_closable_lowest_layer : std::false_type {};
template <class Stream>
struct has_closable_lowest_layer<
    Stream, std::void_t<decltype(std::declval<Stream&>().lowest_layer().close(
                std::declval<net_error_code&>()))>> : std::true_type {};

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
        if (!armed_) return;
        if constexpr (has_closable_lowest_layer<Stream>::value) {
            net_error_code ignored;
            client_.stream().lowest_layer().close(ignored);
        }
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

    std::error_code begin(const fetched_message_info& message) override
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

    std::error_code write(std::string_view chunk) override
    {
        buffer_.append(chunk);
        return {};
    }

    std::error_code commit() override
    {
        const std::error_code ec = std::invoke(
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

/// Calls `abort` on the open message, if any, when the RETR stage ends by an exception or
/// an error that left a message unfinished.
class abort_unfinished {
public:
    explicit abort_unfinished(message_delivery& d) : delivery_(d) {}
    abort_unfinished(const abort_unfinished&) = delete;
    abort_unfinished& operator=(const abort_unfinished&) = delete;
    ~abort_unfinished() { abort(); }
    void abort() noexcept
    {
        if (open) delivery_.abort();
        open = false;
    }
    bool open = false; ///< `begin` was called and neither `commit` succeeded nor `abort` ran

private:
    message_delivery& delivery_;
};

/// The one implementation of the order of effects (see `fetch_new`).
template <class Stream>
fetch_result fetch_new_streaming(client<Stream>& c, uid_store& store, const leave_policy& policy,
                                 message_delivery& delivery, const fetch_options& options,
                                 std::error_code& ec)
{
    fetch_result result;
    ec = {};
    const auto stop = [&](std::error_code e) {
        ec = e;
        result.error = e;
        return result;
    };
    if (c.state() != session_state::transaction) return stop(errc::wrong_state);
    // RFC 2449 section 6.7: UIDL is a capability. Without CAPA, try it.
    if (!c.capabilities().entries.empty() && !c.capabilities().uidl)
        return stop(errc::not_supported);

    std::error_code e;
    auto listing = c.uidl(e);
    if (e == errc::server_error) return stop(errc::not_supported);
    close_unless_done<Stream> guard(c);
    if (e) return stop(e);
    result.listed = listing.size();

    std::vector<message_size> sizes;
    if (options.use_list_sizes) {
        sizes = c.list(e);
        if (e && c.state() != session_state::transaction) return stop(e);
        if (e) sizes.clear(); // a refused LIST only costs the size hints
    }

    const auto now = options.now.value_or(uid_clock_now());
    auto plan = plan_fetch(listing, sizes, store, policy, now, e);
    if (e) return stop(e);
    listing.clear();
    listing.shrink_to_fit();
    sizes.clear();
    sizes.shrink_to_fit();
    result.skipped_duplicates = plan.duplicates.size();
    result.skipped_invalid = plan.invalid.size();
    result.duplicates = std::move(plan.duplicates);
    result.pending = plan.fetch.size();
    store.apply(plan.store_changes, e);
    if (e) return stop(e);
    result.forgotten = plan.forget_count;

    std::vector<message_uid> to_delete;
    for (auto& m : plan.remove) to_delete.push_back({m.number, std::move(m.uid)});

    // UIDs whose earlier delivery was never confirmed: the application may confirm them
    // without a download. (They already have their "delivery started" entry.)
    std::vector<planned_message> fetch;
    if (options.already_stored) {
        std::vector<uid_change> confirmed;
        std::vector<message_uid> confirmed_deletes;
        for (auto& m : plan.fetch) {
            if (m.maybe_delivered && options.already_stored(m.uid)) {
                const uid_entry entry{m.first_seen, true, false, std::nullopt};
                if (policy.deletes(entry, now)) confirmed_deletes.push_back({m.number, m.uid});
                confirmed.push_back({std::move(m.uid), entry});
            } else {
                fetch.push_back(std::move(m));
            }
        }
        store.apply(confirmed, e);
        if (e) return stop(e);
        result.confirmed = confirmed.size();
        for (auto& d : confirmed_deletes) to_delete.push_back(std::move(d));
    } else {
        fetch = std::move(plan.fetch);
    }
    // The rest stays for a later run, with nothing recorded for it.
    if (options.max_messages && fetch.size() > *options.max_messages) {
        result.deferred = fetch.size() - *options.max_messages;
        fetch.resize(*options.max_messages);
    }

    // (1) The intent, before the first RETR: a crash from here on leaves these UIDs
    // "delivery started", and the next run flags them `maybe_delivered`.
    {
        std::vector<uid_change> intent;
        for (const auto& m : fetch)
            if (!m.maybe_delivered)
                intent.push_back({m.uid, uid_entry{m.first_seen, false, false, std::nullopt}});
        store.apply(intent, e);
        if (e) return stop(e);
    }

    // (2)-(4) RETR, pipelined when the server allows; each message streams into the
    // delivery, is committed, then recorded as stored.
    std::error_code stopped; // set when the delivery or the store stopped the batch
    if (!fetch.empty()) {
        fetch_progress progress;
        progress.messages_total = fetch.size();
        for (const auto& m : fetch) progress.bytes_total += m.octets.value_or(0);
        const auto report = [&](const fetched_message_info* finished, std::uint64_t bytes,
                                std::error_code failed) {
            if (!options.progress) return;
            progress.message = finished;
            progress.message_bytes = bytes;
            progress.error = failed;
            options.progress(progress);
        };
        report(nullptr, 0, {});

        std::vector<message_number> numbers;
        numbers.reserve(fetch.size());
        for (const auto& m : fetch) numbers.push_back(m.number);
        std::size_t next = 0;
        std::uint64_t message_bytes = 0;
        // Per message of `fetch`: did its delivery (maybe) happen? Decides, after a stop,
        // which "delivery started" intents are withdrawn.
        enum class outcome : unsigned char { not_delivered, maybe_delivered, stored };
        std::vector<outcome> outcomes(fetch.size(), outcome::not_delivered);
        fetched_message_info info;
        abort_unfinished unfinished(delivery);
        const auto begin = [&] {
            unfinished.open = true; // from here on the message ends in commit or abort
            return delivery.begin(info);
        };
        const auto fail = [&](std::error_code failed) {
            unfinished.abort();
            return stopped = failed;
        };
        auto handler = [&](const message_part& part) -> std::error_code {
            if (next >= fetch.size() || part.number != fetch[next].number)
                return fail(errc::malformed_response); // cannot happen: batch order
            const auto& m = fetch[next];
            if (info.number != m.number) { // the first event of this message (numbers are unique)
                info = fetched_message_info{m.number, m.uid, m.octets, m.maybe_delivered};
                message_bytes = 0;
            }
            if (!part.end) {
                if (!unfinished.open) {
                    if (auto failed = begin()) return fail(failed);
                }
                message_bytes += part.data.size();
                progress.bytes_done += part.data.size();
                if (auto failed = delivery.write(part.data)) return fail(failed);
                report(nullptr, 0, {});
                return {};
            }
            ++next;
            if (part.error) {
                unfinished.abort();
                result.failures.push_back({m.number, m.uid, part.error});
                ++progress.messages_done;
                report(&info, message_bytes, part.error);
                return {};
            }
            if (!unfinished.open) { // an empty message
                if (auto failed = begin()) return fail(failed);
            }
            // A commit that fails may still have stored the message (say the data was
            // written and only the directory sync failed): from here it is uncertain.
            outcomes[next - 1] = outcome::maybe_delivered;
            if (auto failed = delivery.commit()) return fail(failed);
            unfinished.open = false;
            // Durable in the application's storage: now (and only now) record it.
            const uid_entry entry{m.first_seen, true, false, std::nullopt};
            std::error_code failed;
            store.record(m.uid, entry, failed);
            if (failed) return stopped = failed;
            outcomes[next - 1] = outcome::stored;
            ++result.fetched;
            result.bytes += message_bytes;
            if (m.maybe_delivered) ++result.redelivered;
            if (policy.deletes(entry, now)) to_delete.push_back({m.number, m.uid});
            ++progress.messages_done;
            report(&info, message_bytes, {});
            return {};
        };
        c.retr_many(std::move(numbers), handler, e);
        unfinished.abort(); // a message cut off by a lost connection
        // (1') Withdraw the intent of the messages that certainly did not reach the
        // application (never begun, refused by the server, or aborted), so that the next
        // run does not flag them `maybe_delivered`. An intent recorded by an earlier run
        // stays: that run may have delivered the message. Best effort: if the store
        // fails now, the flag is merely over-cautious.
        {
            std::vector<uid_change> withdrawn;
            for (std::size_t i = 0; i < fetch.size(); ++i)
                if (outcomes[i] == outcome::not_delivered && !fetch[i].maybe_delivered)
                    withdrawn.push_back({fetch[i].uid, std::nullopt});
            std::error_code ignored;
            if (!withdrawn.empty()) store.apply(withdrawn, ignored);
        }
        if (e) {
            result.error = e;
            const bool go_on = stopped && options.quit_after_failure &&
                               c.state() == session_state::transaction;
            if (!go_on) return stop(e);
        }
    }

    // (5) DELE, only for UIDs recorded as stored. They take effect at QUIT.
    std::vector<message_uid> accepted;
    if (!to_delete.empty()) {
        std::sort(to_delete.begin(), to_delete.end(),
                  [](const message_uid& a, const message_uid& b) { return a.number < b.number; });
        std::vector<message_number> numbers;
        numbers.reserve(to_delete.size());
        for (const auto& d : to_delete) numbers.push_back(d.number);
        c.dele_many(numbers, e);
        if (!e) {
            accepted = std::move(to_delete);
        } else {
            if (c.state() != session_state::transaction) return stop(e);
            // A DELE was refused and the batch does not say which: unmark them all and
            // mark them again one by one, so that `deleted` is exact.
            c.rset(e);
            if (e) return stop(e);
            for (auto& d : to_delete) {
                c.dele(d.number, e);
                if (!e) accepted.push_back(std::move(d));
                else if (c.state() == session_state::transaction)
                    result.failures.push_back({d.number, std::move(d.uid), e});
                else
                    return stop(e);
            }
        }
    }

    result.quit_confirmed = c.quit(e);
    if (e) {
        result.quit_confirmed = false;
        return stop(e);
    }
    guard.disarm();
    result.deleted = accepted.size();
    result.deleted_messages = std::move(accepted);
    ec = result.error;
    return result;
}

} // namespace detail

/// Fetches every message whose UID is not yet stored, hands each to `delivery`, records
/// it, and deletes from the server what `policy` says. Synchronous; the client must be
/// logged in (TRANSACTION state). QUITs at the end, so deletions take effect.
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
///                 callable `std::error_code(const fetched_message&)` that stores one
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
                       Delivery&& delivery, const fetch_options& options, std::error_code& ec)
{
    using type = std::remove_reference_t<Delivery>;
    if constexpr (std::is_base_of_v<message_delivery, std::remove_cv_t<type>>) {
        static_assert(!std::is_const_v<type>, "a pop3::message_delivery must not be const");
        return detail::fetch_new_streaming(c, store, policy, delivery, options, ec);
    } else {
        static_assert(std::is_invocable_v<type&, const fetched_message&> &&
                          std::is_convertible_v<std::invoke_result_t<type&, const fetched_message&>,
                                                std::error_code>,
                      "the delivery must be a pop3::message_delivery or callable as "
                      "std::error_code(const pop3::fetched_message&)");
        detail::buffered_delivery<type> buffered(delivery, options.max_reserve);
        return detail::fetch_new_streaming(c, store, policy, buffered, options, ec);
    }
}

/// `fetch_new` with default options, reporting errors through `ec`.
template <class Stream, class Delivery>
fetch_result fetch_new(client<Stream>& c, uid_store& store, const leave_policy& policy,
                       Delivery&& delivery, std::error_code& ec)
{
    return fetch_new(c, store, policy, std::forward<Delivery>(delivery), fetch_options{}, ec);
}

/// Throwing form of `fetch_new`. @throws pop3::error with the error that stopped the run
/// (the counts are lost; the state is durable, so simply run again)
template <class Stream, class Delivery>
fetch_result fetch_new(client<Stream>& c, uid_store& store, const leave_policy& policy,
                       Delivery&& delivery, const fetch_options& options = {})
{
    std::error_code ec;
    auto result = fetch_new(c, store, policy, std::forward<Delivery>(delivery), options, ec);
    if (ec) throw pop3::error(ec);
    return result;
}

} // namespace pop3

#endif // POP3_FETCH_NEW_HPP
