// pop3/fetch_new.hpp: leave-on-server in one call: fetch what is new, record it, and
// delete from the server what the policy says, without ever losing or duplicating mail.
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

/// One new message, handed to the application's delivery callback.
struct fetched_message {
    message_number number = 0; ///< its number in this session
    std::string_view uid;      ///< its unique id (UIDL)
    std::string_view bytes;    ///< the whole message as RETR sends it, unstuffed, CRLF kept
    /// An earlier run started delivering this UID and never confirmed it: the message
    /// may already be in the application's storage. Deliver idempotently (find the copy
    /// stored under this UID and return success without storing it again).
    bool maybe_delivered = false;
};

/// Options of `fetch_new`.
struct fetch_options {
    /// The session's time for ages and first-seen times; default: the system clock.
    std::optional<uid_time> now;
    /// Ask LIST for the sizes, so each message's buffer is allocated once at its size
    /// (no reallocation copies while a large message arrives).
    bool use_list_sizes = true;
    /// Never reserve more than this from a LIST size (a server could claim anything).
    std::size_t max_reserve = std::size_t{256} << 20;
    /// After the delivery callback (or the store) failed, still DELE what was recorded
    /// and QUIT. Off by default: the connection is closed without QUIT, because some
    /// servers (Gmail's "recent mode", "mark as read/archive after POP") treat a message
    /// as taken when a session that RETRieved it ends with QUIT.
    bool quit_after_failure = false;
    /// Asked, for each UID whose earlier delivery was never confirmed, whether the
    /// application already has it. `true` records it as stored without downloading it
    /// again; `false` (or no callback) re-delivers it with `maybe_delivered` set.
    std::function<bool(std::string_view uid)> already_stored;
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
    std::size_t fetched = 0;     ///< delivered and recorded as stored
    std::size_t redelivered = 0; ///< of `fetched`, delivered with `maybe_delivered` set
    std::size_t confirmed = 0;   ///< unconfirmed UIDs `already_stored` confirmed without RETR
    std::size_t deleted = 0;     ///< DELEs the server accepted and committed with QUIT
    std::size_t forgotten = 0;   ///< store entries forgotten (UIDs gone from the server)
    std::size_t skipped_duplicates = 0; ///< listing entries skipped: their UID is not unique
    std::size_t skipped_invalid = 0;    ///< listing entries skipped: unusable UID or number
    std::vector<message_uid> duplicates; ///< the entries counted by `skipped_duplicates`
    std::vector<message_failure> failures; ///< per-message failures that did not stop the run
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
                std::declval<std::error_code&>()))>> : std::true_type {};

/// Closes the connection (without QUIT) unless disarmed: after any failure, and when the
/// delivery callback throws.
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
            std::error_code ignored;
            client_.stream().lowest_layer().close(ignored);
        }
    }
    void disarm() noexcept { armed_ = false; }

private:
    client<Stream>& client_;
    bool armed_ = true;
};

} // namespace detail

/// Fetches every message whose UID is not yet stored, hands each to `deliver`, records
/// it, and deletes from the server what `policy` says. Synchronous; the client must be
/// logged in (TRANSACTION state). QUITs at the end, so deletions take effect.
///
/// Per message the order of effects is fixed: (1) its UID is durably recorded as
/// "delivery started" (one batch for all new UIDs, before the first RETR); (2) RETR;
/// (3) `deliver`; (4) only when `deliver` succeeded, the UID is durably recorded as
/// stored; (5) only then may DELE be sent for it, and DELE takes effect only at QUIT
/// (RFC 1939 section 6). So, whatever fails and wherever the process dies:
/// - no message is deleted from the server that the application did not confirm stored;
/// - a message confirmed stored is never delivered again;
/// - a message whose delivery was started but not confirmed is delivered again with
///   `maybe_delivered` set (or confirmed through `options.already_stored`): the only
///   case where `deliver` may see a UID it has seen before, and it is flagged.
///
/// The application's part: `deliver` returns success only once the message is durably
/// stored (e.g. Maildir: write to tmp/, fsync, rename to new/, fsync the directory), and
/// when `maybe_delivered` is set it must not store a second copy (e.g. put the UID, in a
/// file-name-safe encoding, into the Maildir file name and look for it first).
///
/// Duplicate UIDs in the listing are neither fetched nor deleted (see `fetch_plan`);
/// they are reported in the result. A message is held once in memory while delivered:
/// its buffer is reserved at its LIST size (bounded by `options.max_reserve`).
///
/// @param c        a logged-in client; after a failure the connection is closed without
///                 QUIT (unless `options.quit_after_failure`), except for wrong_state and
///                 not_supported, which leave the session as it was
/// @param store    the account's UID store
/// @param policy   what to delete from the server, and when to forget vanished UIDs
/// @param deliver  `std::error_code(const fetched_message&)`: stores one message durably;
///                 an error stops the run. If it throws, the connection is closed without
///                 QUIT and the exception propagates.
/// @param options  see `fetch_options`
/// @param ec       errc::wrong_state (not logged in), errc::not_supported (no UIDL), the
///                 first error of the delivery callback or the store, or the session's
///                 error (connection lost, timeout, ...). Rerun after any error: nothing
///                 is lost or duplicated.
/// @return the counts of what was done, also on error
template <class Stream, class Deliver>
fetch_result fetch_new(client<Stream>& c, uid_store& store, const leave_policy& policy,
                       Deliver&& deliver, const fetch_options& options, std::error_code& ec)
{
    static_assert(std::is_invocable_v<Deliver&, const fetched_message&> &&
                      std::is_convertible_v<std::invoke_result_t<Deliver&, const fetched_message&>,
                                            std::error_code>,
                  "deliver must be callable as std::error_code(const pop3::fetched_message&)");
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
    detail::close_unless_done<Stream> guard(c);
    if (e) return stop(e);

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
    result.skipped_duplicates = plan.duplicates.size();
    result.skipped_invalid = plan.invalid.size();
    result.duplicates = std::move(plan.duplicates);
    store.apply(plan.store_changes, e);
    if (e) return stop(e);
    result.forgotten = plan.forget_count;

    // (1) The intent, before the first RETR: a crash from here on leaves these UIDs
    // "delivery started", and the next run flags them `maybe_delivered`.
    {
        std::vector<uid_change> intent;
        for (const auto& m : plan.fetch)
            if (!m.maybe_delivered)
                intent.push_back({m.uid, uid_entry{m.first_seen, false, false, std::nullopt}});
        store.apply(intent, e);
        if (e) return stop(e);
    }

    std::vector<std::pair<message_number, std::string>> to_delete;
    for (auto& m : plan.remove) to_delete.emplace_back(m.number, std::move(m.uid));

    std::vector<planned_message> fetch;
    if (options.already_stored) {
        std::vector<uid_change> confirmed;
        std::vector<std::pair<message_number, std::string>> confirmed_deletes;
        for (auto& m : plan.fetch) {
            if (m.maybe_delivered && options.already_stored(m.uid)) {
                const uid_entry entry{m.first_seen, true, false, std::nullopt};
                if (policy.deletes(entry, now)) confirmed_deletes.emplace_back(m.number, m.uid);
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

    // (2)-(4) RETR, pipelined when the server allows; deliver and record each message.
    std::error_code stopped; // set when the callback or the store stopped the batch
    if (!fetch.empty()) {
        std::vector<message_number> numbers;
        numbers.reserve(fetch.size());
        for (const auto& m : fetch) numbers.push_back(m.number);
        std::string buffer;
        std::size_t next = 0;
        bool started = false;
        auto handler = [&](const message_part& part) -> std::error_code {
            if (next >= fetch.size() || part.number != fetch[next].number)
                return stopped = errc::malformed_response; // cannot happen: batch order
            const auto& m = fetch[next];
            if (!part.end) {
                if (!started && m.octets) {
                    // +2: a message without a final newline gets CRLF appended.
                    const auto want = std::min<std::uint64_t>(*m.octets + 2, options.max_reserve);
                    buffer.reserve(static_cast<std::size_t>(want));
                }
                started = true;
                buffer.append(part.data);
                return {};
            }
            ++next;
            started = false;
            std::error_code failed;
            if (part.error) {
                result.failures.push_back({m.number, m.uid, part.error});
            } else {
                failed = deliver(fetched_message{m.number, m.uid, buffer, m.maybe_delivered});
                if (!failed) {
                    const uid_entry entry{m.first_seen, true, false, std::nullopt};
                    store.record(m.uid, entry, failed);
                    if (!failed) {
                        ++result.fetched;
                        if (m.maybe_delivered) ++result.redelivered;
                        if (policy.deletes(entry, now)) to_delete.emplace_back(m.number, m.uid);
                    }
                }
            }
            // Do not keep a large message's memory for the next (small) ones.
            if (buffer.capacity() > (std::size_t{1} << 20)) std::string().swap(buffer);
            else buffer.clear();
            if (failed) stopped = failed;
            return failed;
        };
        c.retr_many(std::move(numbers), handler, e);
        if (e) {
            result.error = e;
            const bool go_on = stopped && options.quit_after_failure &&
                               c.state() == session_state::transaction;
            if (!go_on) return stop(e);
        }
    }

    // (5) DELE, only for UIDs recorded as stored. They take effect at QUIT.
    std::size_t accepted = 0;
    if (!to_delete.empty()) {
        std::sort(to_delete.begin(), to_delete.end());
        std::vector<message_number> numbers;
        numbers.reserve(to_delete.size());
        for (const auto& d : to_delete) numbers.push_back(d.first);
        c.dele_many(numbers, e);
        if (!e) {
            accepted = to_delete.size();
        } else {
            if (c.state() != session_state::transaction) return stop(e);
            // A DELE was refused and the batch does not say which: unmark them all and
            // mark them again one by one, so that `deleted` is exact.
            c.rset(e);
            if (e) return stop(e);
            for (const auto& [number, uid] : to_delete) {
                c.dele(number, e);
                if (!e) ++accepted;
                else if (c.state() == session_state::transaction)
                    result.failures.push_back({number, uid, e});
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
    result.deleted = accepted;
    ec = result.error;
    return result;
}

/// `fetch_new` with default options, reporting errors through `ec`.
template <class Stream, class Deliver>
fetch_result fetch_new(client<Stream>& c, uid_store& store, const leave_policy& policy,
                       Deliver&& deliver, std::error_code& ec)
{
    return fetch_new(c, store, policy, std::forward<Deliver>(deliver), fetch_options{}, ec);
}

/// Throwing form of `fetch_new`. @throws pop3::error with the error that stopped the run
/// (the counts are lost; the state is durable, so simply run again)
template <class Stream, class Deliver>
fetch_result fetch_new(client<Stream>& c, uid_store& store, const leave_policy& policy,
                       Deliver&& deliver, const fetch_options& options = {})
{
    std::error_code ec;
    auto result = fetch_new(c, store, policy, std::forward<Deliver>(deliver), options, ec);
    if (ec) throw pop3::error(ec);
    return result;
}

} // namespace pop3

#endif // POP3_FETCH_NEW_HPP
