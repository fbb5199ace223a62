// pop3/leave_on_server/detail/fetch_job.hpp: the order of effects of `fetch_new` as a
// sans-I/O state machine. It never talks to the server: it says which client call comes
// next, and the driver (synchronous loop or asynchronous composed operation) makes the
// call and hands its result back. So the sync and async forms cannot drift apart.
#ifndef POP3_LEAVE_ON_SERVER_DETAIL_FETCH_JOB_HPP
#define POP3_LEAVE_ON_SERVER_DETAIL_FETCH_JOB_HPP

#include <pop3/capabilities.hpp>
#include <pop3/error.hpp>
#include <pop3/leave_on_server/fetch_types.hpp>
#include <pop3/leave_on_server/plan.hpp>
#include <pop3/leave_on_server/policy.hpp>
#include <pop3/leave_on_server/store.hpp>
#include <pop3/message_part.hpp>
#include <pop3/results.hpp>
#include <pop3/session_state.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace pop3::detail {

/// One `fetch_new` run. Call `start`, then make the call it names and pass its result to
/// the matching `on_*`, until it says `done`; then read `error()`, `close_connection()`
/// and `take_result()`. During `retr_many` every message part goes to `on_part`.
///
/// Exceptions of the delivery, the store or the callbacks pass through; destroying the
/// job then aborts the open message (the driver closes the connection).
class fetch_job {
public:
    /// The next client call.
    enum class step {
        uidl,      ///< `uidl()`, then `on_uidl`
        list,      ///< `list()`, then `on_list`
        retr_many, ///< `retr_many(retr_numbers(), on_part)`, then `on_retr_many`
        /// `dele_many(dele_numbers(), on_dele)` (each message's verdict to `on_dele`), then
        /// `on_dele_many`
        dele_many,
        quit,      ///< `quit()`, then `on_quit`
        done       ///< finished: see `error()`, `close_connection()`, `take_result()`
    };

    /// All four must outlive the job.
    fetch_job(uid_store& store, const leave_policy& policy, message_delivery& delivery,
              const fetch_options& options)
        : store_(store), policy_(policy), delivery_(delivery), options_(options)
    {
    }
    fetch_job(const fetch_job&) = delete;
    fetch_job& operator=(const fetch_job&) = delete;
    ~fetch_job() { abort_open(); }

    step start(session_state state, const capabilities& caps)
    {
        if (state != session_state::transaction) return stop(errc::wrong_state, fetch_stage::session);
        // RFC 2449 section 6.7: UIDL is a capability. Without CAPA, try it.
        if (!caps.entries.empty() && !caps.uidl) return stop(errc::not_supported, fetch_stage::session);
        return step::uidl;
    }

    step on_uidl(error_code e, std::vector<message_uid> listing)
    {
        if (e == errc::server_error) return stop(errc::not_supported, fetch_stage::session);
        // From here on a failure leaves the session in an unknown place: close it.
        at_risk_ = true;
        if (e) return stop(e, fetch_stage::session);
        result_.listed = listing.size();
        listing_ = std::move(listing);
        if (options_.use_list_sizes) return step::list;
        return plan();
    }

    step on_list(error_code e, std::vector<message_size> sizes, session_state state)
    {
        if (e && state != session_state::transaction) return stop(e, fetch_stage::session);
        if (!e) sizes_ = std::move(sizes); // a refused LIST only costs the size hints
        return plan();
    }

    /// The messages to RETR, in order.
    std::vector<message_number> retr_numbers() const { return numbers_of(fetch_); }

    /// The `retr_many` handler: streams each message into the delivery, commits it, then
    /// records it as stored.
    error_code on_part(const message_part& part)
    {
        if (next_ >= fetch_.size() || part.number != fetch_[next_].number)
            return fail(errc::malformed_response, fetch_stage::session); // cannot happen
        const auto& m = fetch_[next_];
        if (info_.number != m.number) { // the first event of this message (numbers are unique)
            info_ = fetched_message_info{m.number, m.uid, m.octets, m.maybe_delivered};
            message_bytes_ = 0;
        }
        if (!part.end) {
            if (!open_) {
                if (auto failed = begin()) return fail(failed, fetch_stage::delivery);
            }
            message_bytes_ += part.data.size();
            progress_.bytes_done += part.data.size();
            if (auto failed = delivery_.write(part.data))
                return fail(failed, fetch_stage::delivery);
            report(nullptr, 0, {});
            return {};
        }
        ++next_;
        if (part.error) {
            abort_open();
            result_.failures.push_back({m.number, m.uid, part.error});
            ++progress_.messages_done;
            report(&info_, message_bytes_, part.error);
            return {};
        }
        if (!open_) { // an empty message
            if (auto failed = begin()) return fail(failed, fetch_stage::delivery);
        }
        // A commit that fails may still have stored the message (say the data was
        // written and only the directory sync failed): from here it is uncertain.
        outcomes_[next_ - 1] = outcome::maybe_delivered;
        if (auto failed = delivery_.commit()) return fail(failed, fetch_stage::delivery);
        open_ = false;
        if (batch_.empty()) batch_started_ = std::chrono::steady_clock::now();
        batch_.push_back({next_ - 1, message_bytes_});
        batch_bytes_ += message_bytes_;
        const auto& bounds = options_.batch;
        if (batch_.size() >= bounds.max_messages || batch_bytes_ >= bounds.max_bytes ||
            std::chrono::steady_clock::now() - batch_started_ >= bounds.max_delay)
            return record_batch();
        return {};
    }

    step on_retr_many(error_code e, session_state state)
    {
        abort_open(); // a message cut off by a lost connection
        // The messages committed before the end (or before whatever stopped the batch) are
        // in the application's storage: make them durable and record them now. The first
        // failure is the one reported.
        const auto stage = stopped_ ? stopped_stage_ : fetch_stage::session;
        const bool earlier = static_cast<bool>(e);
        if (auto failed = record_batch(); failed && !earlier) e = failed;
        // (1') Withdraw the intent of the messages that certainly did not reach the
        // application (never begun, refused by the server, or aborted), so that the next
        // run does not flag them `maybe_delivered`. An intent recorded by an earlier run
        // stays: that run may have delivered the message. Best effort: if the store
        // fails now, the flag is merely over-cautious.
        std::vector<uid_change> withdrawn;
        for (std::size_t i = 0; i < fetch_.size(); ++i)
            if (outcomes_[i] == outcome::not_delivered && !fetch_[i].maybe_delivered)
                withdrawn.push_back({fetch_[i].uid, std::nullopt});
        error_code ignored;
        if (!withdrawn.empty()) store_.apply(withdrawn, ignored);
        if (e) {
            // The batch stopped because the delivery or the store refused a message, or
            // because the session failed.
            const auto why = earlier ? stage : stopped_stage_;
            const bool go_on =
                stopped_ && options_.quit_after_failure && state == session_state::transaction;
            if (!go_on) return stop(e, why);
            record_failure(e, why);
        }
        return deletes();
    }

    /// The messages to DELE, in number order.
    std::vector<message_number> dele_numbers() const { return numbers_of(to_delete_); }

    /// The `number` of each element, in order.
    template <class Range> static std::vector<message_number> numbers_of(const Range& messages)
    {
        std::vector<message_number> numbers;
        numbers.reserve(messages.size());
        for (const auto& m : messages) numbers.push_back(m.number);
        return numbers;
    }

    /// One message's DELE verdict, in the order of `dele_numbers()`.
    void on_dele(const dele_outcome& verdict)
    {
        auto& d = to_delete_[dele_next_++];
        if (!verdict.error) accepted_.push_back(std::move(d));
        else result_.failures.push_back({d.number, std::move(d.uid), verdict.error});
    }

    step on_dele_many(error_code e, session_state state)
    {
        // A -ERR for one message is in `failures` (on_dele); the call itself fails only when
        // the session did.
        if (e || state != session_state::transaction) return stop(e, fetch_stage::session);
        return step::quit;
    }

    step on_quit(error_code e, bool confirmed)
    {
        result_.quit_confirmed = confirmed && !e;
        if (e) return stop(e, fetch_stage::session);
        at_risk_ = false;
        result_.deleted = accepted_.size();
        result_.deleted_messages = std::move(accepted_);
        return step::done;
    }

    /// What stopped the run (empty on success); also `take_result().error`.
    error_code error() const noexcept { return result_.error; }
    /// After `done`: the run failed past UIDL, so the connection must be closed without
    /// QUIT (see `fetch_options::quit_after_failure`).
    bool close_connection() const noexcept { return at_risk_; }
    fetch_result take_result() { return std::move(result_); }

    /// Aborts the open message, if any (exactly once per begun, uncommitted message).
    void abort_open() noexcept
    {
        if (open_) delivery_.abort();
        open_ = false;
    }

private:
    // Per message of `fetch_`: did its delivery (maybe) happen? Decides, after a stop,
    // which "delivery started" intents are withdrawn.
    enum class outcome : unsigned char { not_delivered, maybe_delivered, stored };

    /// The one place that says what stopped the run, for both drivers.
    void record_failure(error_code e, fetch_stage stage)
    {
        result_.error = e;
        result_.failed_stage = e ? stage : fetch_stage::none;
    }

    step stop(error_code e, fetch_stage stage)
    {
        record_failure(e, stage);
        return step::done;
    }

    /// Plans the run from the listing and records everything before the first RETR.
    step plan()
    {
        error_code e;
        now_ = options_.now.value_or(uid_clock_now());
        auto plan = plan_fetch(listing_, sizes_, store_, policy_, now_, e);
        if (e) return stop(e, fetch_stage::store);
        listing_.clear();
        listing_.shrink_to_fit();
        sizes_.clear();
        sizes_.shrink_to_fit();
        result_.skipped_duplicates = plan.duplicates.size();
        result_.skipped_invalid = plan.invalid.size();
        result_.duplicates = std::move(plan.duplicates);
        result_.pending = plan.fetch.size();
        store_.apply(plan.store_changes, e);
        if (e) return stop(e, fetch_stage::store);
        result_.forgotten = plan.forget_count;

        for (auto& m : plan.remove) to_delete_.push_back({m.number, std::move(m.uid)});

        // UIDs whose earlier delivery was never confirmed: the application may confirm
        // them without a download. (They already have their "delivery started" entry.)
        if (options_.already_stored) {
            std::vector<uid_change> confirmed;
            std::vector<message_uid> confirmed_deletes;
            for (auto& m : plan.fetch) {
                if (m.maybe_delivered && options_.already_stored(m.uid)) {
                    const uid_entry entry{m.first_seen, true, false, std::nullopt};
                    if (policy_.deletes(entry, now_))
                        confirmed_deletes.push_back({m.number, m.uid});
                    confirmed.push_back({std::move(m.uid), entry});
                } else {
                    fetch_.push_back(std::move(m));
                }
            }
            store_.apply(confirmed, e);
            if (e) return stop(e, fetch_stage::store);
            result_.confirmed = confirmed.size();
            for (auto& d : confirmed_deletes) to_delete_.push_back(std::move(d));
        } else {
            fetch_ = std::move(plan.fetch);
        }
        // The rest stays for a later run, with nothing recorded for it.
        if (options_.max_messages && fetch_.size() > *options_.max_messages) {
            result_.deferred = fetch_.size() - *options_.max_messages;
            fetch_.resize(*options_.max_messages);
        }

        // (1) The intent, before the first RETR: a crash from here on leaves these UIDs
        // "delivery started", and the next run flags them `maybe_delivered`.
        std::vector<uid_change> intent;
        for (const auto& m : fetch_)
            if (!m.maybe_delivered)
                intent.push_back({m.uid, uid_entry{m.first_seen, false, false, std::nullopt}});
        store_.apply(intent, e);
        if (e) return stop(e, fetch_stage::store);

        if (fetch_.empty()) return deletes();
        // (2)-(4) RETR, pipelined when the server allows; each message streams into the
        // delivery, is committed, then recorded as stored (`on_part`).
        progress_.messages_total = fetch_.size();
        for (const auto& m : fetch_) progress_.bytes_total += m.octets.value_or(0);
        outcomes_.assign(fetch_.size(), outcome::not_delivered);
        report(nullptr, 0, {});
        return step::retr_many;
    }

    /// (5) DELE, only for UIDs recorded as stored. They take effect at QUIT.
    step deletes()
    {
        if (to_delete_.empty()) return step::quit;
        std::sort(to_delete_.begin(), to_delete_.end(),
                  [](const message_uid& a, const message_uid& b) { return a.number < b.number; });
        return step::dele_many;
    }

    error_code begin()
    {
        open_ = true; // from here on the message ends in commit or abort
        return delivery_.begin(info_);
    }

    /// Makes the committed messages of the open batch durable (for a delivery that
    /// `batches()`), then records them as stored with one store write: only now may they be
    /// deleted. On failure they stay "delivery started" (fetched again next time, flagged
    /// `maybe_delivered`), and the run stops.
    error_code record_batch()
    {
        if (batch_.empty()) return {};
        const auto batch = std::move(batch_);
        batch_.clear();
        batch_bytes_ = 0;
        if (delivery_.batches()) {
            if (auto failed = delivery_.sync()) return fail(failed, fetch_stage::delivery);
        }
        std::vector<uid_change> stored;
        stored.reserve(batch.size());
        for (const auto& b : batch)
            stored.push_back({fetch_[b.index].uid,
                              uid_entry{fetch_[b.index].first_seen, true, false, std::nullopt}});
        error_code failed;
        store_.apply(stored, failed);
        if (failed) return fail(failed, fetch_stage::store);
        for (std::size_t i = 0; i < batch.size(); ++i) {
            const auto& m = fetch_[batch[i].index];
            outcomes_[batch[i].index] = outcome::stored;
            ++result_.fetched;
            result_.bytes += batch[i].bytes;
            if (m.maybe_delivered) ++result_.redelivered;
            if (policy_.deletes(*stored[i].entry, now_)) to_delete_.push_back({m.number, m.uid});
            ++progress_.messages_done;
            const fetched_message_info info{m.number, m.uid, m.octets, m.maybe_delivered};
            report(&info, batch[i].bytes, {});
        }
        return {};
    }

    /// Stops the RETR batch: the driver's `retr_many` then ends with `failed`.
    error_code fail(error_code failed, fetch_stage stage)
    {
        abort_open();
        stopped_stage_ = stage;
        return stopped_ = failed;
    }

    void report(const fetched_message_info* finished, std::uint64_t bytes, error_code failed)
    {
        if (!options_.progress) return;
        progress_.message = finished;
        progress_.message_bytes = bytes;
        progress_.error = failed;
        options_.progress(progress_);
    }

    uid_store& store_;
    const leave_policy& policy_;
    message_delivery& delivery_;
    const fetch_options& options_;

    fetch_result result_;
    uid_time now_{};
    bool at_risk_ = false; ///< past UIDL and not cleanly finished: close without QUIT
    std::vector<message_uid> listing_;
    std::vector<message_size> sizes_;
    std::vector<planned_message> fetch_;
    std::vector<message_uid> to_delete_;
    std::vector<message_uid> accepted_; ///< DELEs the server accepted
    std::size_t dele_next_ = 0;         ///< whose verdict `on_dele` gets next

    // The RETR stage.
    fetch_progress progress_;
    std::vector<outcome> outcomes_;
    std::size_t next_ = 0; ///< the message of `fetch_` the next part belongs to
    std::uint64_t message_bytes_ = 0;
    fetched_message_info info_;
    bool open_ = false;      ///< `begin` was called and neither `commit` succeeded nor `abort` ran
    struct committed {
        std::size_t index;   ///< in `fetch_`
        std::uint64_t bytes; ///< received
    };
    std::vector<committed> batch_; ///< committed, not yet durable (maybe) and recorded
    std::uint64_t batch_bytes_ = 0;
    std::chrono::steady_clock::time_point batch_started_{};
    error_code stopped_; ///< set when the delivery or the store stopped the batch
    fetch_stage stopped_stage_ = fetch_stage::none; ///< which of them
};

} // namespace pop3::detail

#endif // POP3_LEAVE_ON_SERVER_DETAIL_FETCH_JOB_HPP
