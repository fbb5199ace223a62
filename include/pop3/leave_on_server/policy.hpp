// pop3/leave_on_server/policy.hpp: what leave-on-server deletes from the server, and when
// it forgets UIDs that vanished from it.
#ifndef POP3_LEAVE_ON_SERVER_POLICY_HPP
#define POP3_LEAVE_ON_SERVER_POLICY_HPP

#include <pop3/leave_on_server/store.hpp>

#include <chrono>

namespace pop3 {

/// What happens to mail on the server once it is stored locally ("leave mail on server").
///
/// A message is only ever deleted from the server when its UID is recorded in the store
/// as `stored` (confirmed by the application), never on the strength of a fetch alone.
struct leave_policy {
    /// The rule for deleting messages from the server.
    enum class rule {
        keep_forever,               ///< never delete anything
        delete_after_fetch,         ///< delete as soon as the UID is durably recorded
        delete_older_than,          ///< delete when first seen at least `max_age` ago
        delete_when_deleted_locally ///< delete once the application set `deleted_locally`
    };

    rule what = rule::keep_forever; ///< the deletion rule; see the factory functions below
    /// For `delete_older_than`: the age (since `uid_entry::first_seen`) at which to delete.
    std::chrono::seconds max_age{0};
    /// How long a UID may be missing from the server's listing before its entry is
    /// forgotten. 0 (the default) forgets it at once. A grace period protects against
    /// servers that transiently omit messages: a forgotten UID that comes back would be
    /// fetched again (a duplicate).
    std::chrono::seconds forget_after{0};

    /// Never deletes from the server.
    static leave_policy keep_forever() { return {rule::keep_forever, {}, {}}; }
    /// Deletes each message right after its UID is durably recorded as stored.
    static leave_policy delete_after_fetch() { return {rule::delete_after_fetch, {}, {}}; }
    /// Deletes messages first seen at least `age` ago (mpop's "keep 14d":
    /// `delete_older_than(std::chrono::hours(24 * 14))`).
    static leave_policy delete_older_than(std::chrono::seconds age)
    {
        return {rule::delete_older_than, age, {}};
    }
    /// `delete_older_than` in days.
    static leave_policy delete_older_than_days(unsigned days)
    {
        return delete_older_than(std::chrono::hours(24) * days);
    }
    /// Deletes messages whose local copy the application deleted
    /// (`uid_store::mark_deleted_locally`).
    static leave_policy delete_when_deleted_locally()
    {
        return {rule::delete_when_deleted_locally, {}, {}};
    }

    /// Returns a copy that forgets vanished UIDs only after `grace` (see `forget_after`).
    leave_policy forgetting_after(std::chrono::seconds grace) const
    {
        auto copy = *this;
        copy.forget_after = grace;
        return copy;
    }

    /// True when a message with this entry should be deleted from the server at `now`.
    /// Always false for an entry that is not `stored`.
    bool deletes(const uid_entry& entry, uid_time now) const noexcept
    {
        if (!entry.stored) return false;
        switch (what) {
        case rule::keep_forever: return false;
        case rule::delete_after_fetch: return true;
        case rule::delete_older_than: return now - entry.first_seen >= max_age;
        case rule::delete_when_deleted_locally: return entry.deleted_locally;
        }
        return false;
    }
};

} // namespace pop3

#endif // POP3_LEAVE_ON_SERVER_POLICY_HPP
