// pop3-fetch: the state of --keep, on the library's leave-on-server helpers:
// pop3::file_uid_store (a crash-safe, locked journal file per account) and
// pop3::plan_fetch (what is new, what the policy deletes, what to forget).
//
// pop3-fetch does not call pop3::fetch_new: that one hands each message to the
// application as one buffer, and pop3-fetch streams messages straight into the
// destination (constant memory, a byte-accurate progress bar, --max). It keeps the same
// order of effects per message: the intent is recorded before RETR, the UID is recorded
// as stored only after the destination made the message durable, and only then may DELE
// be sent (which takes effect at QUIT).
#ifndef POP3_FETCH_STATE_HPP
#define POP3_FETCH_STATE_HPP

#include "storage.hpp"

#include <pop3/exception.hpp>
#include <pop3/fetch_plan.hpp>
#include <pop3/results.hpp>
#include <pop3/uid_store.hpp>

#include <string>
#include <system_error>
#include <vector>

namespace pop3_fetch {

/// The UID state file of one account. Every failure throws storage_error (exit code 7).
class uid_state {
public:
    /// Opens (creating it and its directory if needed) and locks the state file: a
    /// second pop3-fetch for the same state fails at once instead of fetching twice.
    uid_state(std::string path, const pop3::leave_policy& policy)
        : path_(std::move(path)), policy_(policy)
    {
        make_dirs(parent_dir(path_));
        std::error_code ec;
        store_.open(path_, ec);
        check(ec, "cannot open the state file " + path_);
    }

    const std::string& path() const noexcept { return path_; }

    /// Plans the session and applies the plan's bookkeeping (forgetting UIDs that are gone
    /// from the server).
    pop3::fetch_plan plan(const std::vector<pop3::message_uid>& listing,
                          const std::vector<pop3::message_size>& sizes, pop3::uid_time now)
    {
        std::error_code ec;
        auto p = pop3::plan_fetch(listing, sizes, store_, policy_, now, ec);
        check(ec, "cannot read the state file " + path_);
        store_.apply(p.store_changes, ec);
        check(ec, "cannot update the state file " + path_);
        return p;
    }

    /// Records, durably and before the first RETR, that delivery of these UIDs starts: if
    /// we die before they are confirmed, the next run knows they may have been stored.
    void starting(const std::vector<pop3::planned_message>& messages)
    {
        std::vector<pop3::uid_change> intent;
        for (const auto& m : messages)
            if (!m.maybe_delivered)
                intent.push_back({m.uid, pop3::uid_entry{m.first_seen, false, false, {}}});
        std::error_code ec;
        store_.apply(intent, ec);
        check(ec, "cannot update the state file " + path_);
    }

    /// Records, durably, that a message is stored. Returns true when the policy deletes it
    /// from the server right away (--delete-after 0).
    bool stored(const pop3::planned_message& m, pop3::uid_time now)
    {
        const pop3::uid_entry entry{m.first_seen, true, false, {}};
        std::error_code ec;
        store_.record(m.uid, entry, ec);
        check(ec, "cannot update the state file " + path_);
        return policy_.deletes(entry, now);
    }

private:
    void check(const std::error_code& ec, const std::string& what) const
    {
        if (ec) throw storage_error(ec, what);
    }

    std::string path_;
    pop3::leave_policy policy_;
    pop3::file_uid_store store_;
};

} // namespace pop3_fetch

#endif // POP3_FETCH_STATE_HPP
