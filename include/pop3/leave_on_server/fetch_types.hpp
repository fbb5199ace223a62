// pop3/leave_on_server/fetch_types.hpp: what a `fetch_new` / `async_fetch_new` run speaks in: the
// message handed to the delivery, the delivery interface, the options, the progress and the result.
#ifndef POP3_LEAVE_ON_SERVER_FETCH_TYPES_HPP
#define POP3_LEAVE_ON_SERVER_FETCH_TYPES_HPP

#include <pop3/exception.hpp>
#include <pop3/results.hpp>
#include <pop3/leave_on_server/store.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
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
/// Group commit: `fetch_new` records the UIDs of several committed messages with one store
/// write (one flush), then DELEs them. A delivery that can also make several messages durable
/// at once says so with `batches()`: its `commit` then only has to finish a message (written
/// completely, e.g. still in tmp/), and `sync` makes every message committed since the last
/// `sync` durable with as few flushes as it can (e.g. syncfs, then the renames into new/ and
/// one directory fsync). No UID is recorded, and no message deleted, before the `sync` that
/// covers it succeeded. A crash loses at most one batch (`fetch_options::batch`): those
/// messages are fetched again next time, flagged `maybe_delivered`.
///
/// Only one message is open at a time; the object is used from the calling thread only.
class message_delivery {
public:
    virtual ~message_delivery() = default;

    /// Starts storing a message (e.g. create a file in a Maildir's tmp/).
    virtual error_code begin(const fetched_message_info& message) = 0;
    /// Stores the next chunk. `chunk` is only valid during the call.
    virtual error_code write(std::string_view chunk) = 0;
    /// Makes the message durable. Return success only once it survives a crash (e.g.
    /// fsync the file, rename it into new/, fsync the directory): only then is its UID
    /// recorded as stored, and only then may the server delete it.
    virtual error_code commit() = 0;
    /// Drops what was written of the current message (a failed or unfinished one). Also
    /// called after `begin` or `commit` failed; must cope with any state.
    virtual void abort() noexcept = 0;

    /// True when `commit` leaves durability to `sync` (see the class comment). Default false:
    /// every `commit` is durable on its own.
    virtual bool batches() const noexcept { return false; }
    /// Makes every message committed since the last `sync` durable (only called when
    /// `batches()`). An error stops the run; those messages stay unrecorded and are fetched
    /// again next time with `maybe_delivered` set, so they must not be lost by a failed sync.
    virtual error_code sync() { return {}; }
};

/// How many committed messages `fetch_new` records (and, for a delivery that `batches()`,
/// makes durable) together: a batch closes at whichever bound it reaches first, and at the
/// end of the RETRs. `max_messages = 1` records every message on its own.
struct commit_batch {
    std::size_t max_messages = 64;              ///< messages per batch (at least 1)
    std::uint64_t max_bytes = std::uint64_t{32} << 20; ///< message bytes per batch
    /// Time since the batch's first message was committed.
    std::chrono::milliseconds max_delay{1000};
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
    error_code error;                ///< why `message` failed
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
    /// and after every message finished (`fetch_progress::message` set): failed, or stored
    /// and recorded, which happens for a whole `batch` at once. Not called when there is
    /// nothing to fetch. An exception from it stops the run as a delivery's does.
    std::function<void(const fetch_progress&)> progress;
    /// Group commit: how many messages are made durable and recorded together.
    commit_batch batch;
};

/// A message that failed without stopping the run (say RETR or DELE answered -ERR because
/// another session deleted the message). It stays unconfirmed and is retried next time.
struct message_failure {
    message_number number = 0; ///< its number in that session
    std::string uid;           ///< its unique id (UIDL)
    error_code error;          ///< why it failed (e.g. `errc::server_error` after -ERR)
};

/// Which stage of a `fetch_new` run stopped it (`fetch_result::failed_stage`).
enum class fetch_stage {
    none,    ///< nothing stopped the run
    session, ///< the server or the connection: not logged in, no UIDL, an error of a
             ///< server call, a lost connection, a timeout, a cancellation
    store,   ///< the UID store (reading it for the plan, or recording a change)
    delivery ///< the application's delivery (`begin`, `write`, `commit` or the callback)
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
    error_code error;            ///< what stopped the run (also returned through `ec`)
    /// Where `error` came from: the same for the synchronous and asynchronous forms.
    fetch_stage failed_stage = fetch_stage::none;
};

/// Thrown by the throwing form of `fetch_new`: the error that stopped the run, plus the
/// run's `fetch_result` (what was fetched, recorded and deleted before it stopped).
class fetch_error : public error {
public:
    /// Carries `result`; the error code is `result.error`.
    explicit fetch_error(fetch_result result) : error(result.error), result_(std::move(result)) {}

    /// The counts of the run up to the failure; `result().failed_stage` says which stage
    /// stopped it.
    const fetch_result& result() const noexcept { return result_; }
    /// Shorthand for `result().failed_stage`.
    fetch_stage failed_stage() const noexcept { return result_.failed_stage; }

private:
    fetch_result result_;
};

} // namespace pop3

#endif // POP3_LEAVE_ON_SERVER_FETCH_TYPES_HPP
