// pop3/leave_on_server/plan.hpp: the leave-on-server planner. Pure: given the server's UIDL
// listing, the UID store and a policy, it says what to fetch, delete and forget.
#ifndef POP3_LEAVE_ON_SERVER_PLAN_HPP
#define POP3_LEAVE_ON_SERVER_PLAN_HPP

#include <pop3/exception.hpp>
#include <pop3/leave_on_server/policy.hpp>
#include <pop3/leave_on_server/store.hpp>
#include <pop3/results.hpp>

#include <algorithm>
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

/// One message the plan fetches or deletes.
struct planned_message {
    message_number number = 0;           ///< its number in this session
    std::string uid;                     ///< its unique id (UIDL)
    std::optional<std::uint64_t> octets; ///< from LIST, when given: a size hint only
    /// When its delivery was first started: now for a new UID, the stored time for a
    /// UID whose earlier delivery was never confirmed.
    uid_time first_seen{};
    /// An earlier run recorded the intent to deliver this UID and never confirmed it:
    /// the message may already be in the application's storage (deliver idempotently).
    bool maybe_delivered = false;
};

/// What to do in one session.
struct fetch_plan {
    /// UIDs not yet stored, in message-number order: RETR them (new UIDs and UIDs whose
    /// delivery an earlier run started but never confirmed: `maybe_delivered`).
    std::vector<planned_message> fetch;
    /// Stored UIDs the policy deletes now, in message-number order: DELE them.
    std::vector<planned_message> remove;
    /// True when the policy deletes a fetched message as soon as it is recorded
    /// (`delete_after_fetch`, or `delete_older_than` with a zero age).
    bool delete_fetched = false;
    /// Changes to apply to the store before fetching: forget UIDs gone from the server
    /// (entry empty); with a grace period, set or clear `vanished_since`.
    std::vector<uid_change> store_changes;
    /// How many of `store_changes` forget a UID.
    std::size_t forget_count = 0;
    /// Every listing entry whose UID occurs more than once in the listing. Such messages
    /// are neither fetched nor deleted nor forgotten: a UID that names two messages cannot
    /// tell which of them an entry in the store describes, and guessing could store the
    /// wrong one or delete one never stored. Report them to the user.
    std::vector<message_uid> duplicates;
    /// Listing entries that cannot be used: an empty UID, a UID with bytes below 0x21, a
    /// message number of 0 or one that appears twice. Never fetched nor deleted.
    std::vector<message_uid> invalid;
    /// How many listing entries are already stored (whether deleted now or kept).
    std::size_t known = 0;

    /// The UIDs this plan forgets.
    std::vector<std::string> forgotten_uids() const
    {
        std::vector<std::string> out;
        for (const auto& c : store_changes)
            if (!c.entry) out.push_back(c.uid);
        return out;
    }
};

namespace detail {

inline bool by_number(const planned_message& a, const planned_message& b) noexcept
{
    return a.number < b.number;
}

/// UID -> position of its first occurrence in a listing. Open addressing over one array
/// of positions: one allocation and few cache misses, where a node-based map would
/// allocate (and later free) one node per UID.
class uid_index {
public:
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);

    explicit uid_index(const std::vector<message_uid>& listing) : listing_(listing)
    {
        std::size_t capacity = 16;
        while (capacity < listing.size() * 2) capacity <<= 1;
        slots_.assign(capacity, 0);
        mask_ = capacity - 1;
    }

    /// Adds position `i`; returns the position of the UID's first occurrence (`i` if new).
    std::size_t insert(std::size_t i)
    {
        const std::string_view uid = listing_[i].uid;
        for (auto h = hash(uid) & mask_;; h = (h + 1) & mask_) {
            if (slots_[h] == 0) {
                slots_[h] = i + 1;
                return i;
            }
            if (listing_[slots_[h] - 1].uid == uid) return slots_[h] - 1;
        }
    }

    /// The position of the first occurrence of `uid`, or `npos`.
    std::size_t find(std::string_view uid) const
    {
        for (auto h = hash(uid) & mask_;; h = (h + 1) & mask_) {
            if (slots_[h] == 0) return npos;
            if (listing_[slots_[h] - 1].uid == uid) return slots_[h] - 1;
        }
    }

private:
    static std::size_t hash(std::string_view s) noexcept { return std::hash<std::string_view>{}(s); }

    const std::vector<message_uid>& listing_;
    std::vector<std::size_t> slots_; // position + 1; 0 = empty
    std::size_t mask_ = 0;
};

} // namespace detail

/// Plans a leave-on-server session. Pure: it reads the store and changes nothing.
///
/// O(n + m) expected time (hash lookups in an open-addressing index) for n listing entries and m
/// store entries, plus O(n log n) when the listing is not in message-number order.
///
/// @param listing the UIDL listing of this session (`client::uidl()`)
/// @param sizes   the LIST listing, or empty; only used as size hints (`octets`)
/// @param store   the account's UID store (enumerated once)
/// @param policy  what to delete and when to forget
/// @param now     the time of this session (for ages and new entries)
/// @param ec      the store's error, if enumerating it failed (the plan is then empty)
inline fetch_plan plan_fetch(const std::vector<message_uid>& listing,
                             const std::vector<message_size>& sizes, const uid_store& store,
                             const leave_policy& policy, uid_time now, error_code& ec)
{
    ec = {};
    fetch_plan plan;
    plan.delete_fetched = policy.deletes(uid_entry{now, true, false, std::nullopt}, now);
    const std::size_t n = listing.size();

    // 0 usable, 1 duplicate UID, 2 invalid entry.
    std::vector<unsigned char> flag(n, 0);

    // Message numbers must be unique. The listing normally comes sorted: check in O(n)
    // and sort a copy only when it does not.
    {
        bool sorted = true;
        for (std::size_t i = 1; i < n && sorted; ++i)
            sorted = listing[i - 1].number < listing[i].number;
        if (!sorted) {
            std::vector<std::pair<message_number, std::size_t>> numbers;
            numbers.reserve(n);
            for (std::size_t i = 0; i < n; ++i) numbers.emplace_back(listing[i].number, i);
            std::sort(numbers.begin(), numbers.end());
            for (std::size_t i = 1; i < n; ++i)
                if (numbers[i].first == numbers[i - 1].first)
                    flag[numbers[i].second] = flag[numbers[i - 1].second] = 2;
        }
    }
    for (std::size_t i = 0; i < n; ++i)
        if (detail::check_message_number(listing[i].number) || !is_valid_uid(listing[i].uid))
            flag[i] = 2;

    // UID -> first listing index. Any occurrence, even an invalid one, makes a UID
    // "present" (never forgotten); a second occurrence makes all of them unusable.
    detail::uid_index index(listing);
    for (std::size_t i = 0; i < n; ++i) {
        if (listing[i].uid.empty()) continue;
        const auto first = index.insert(i);
        if (first != i) {
            if (flag[first] == 0) flag[first] = 1;
            if (flag[i] == 0) flag[i] = 1;
        }
    }

    // LIST sizes by message number (LIST normally comes sorted: sort only if not).
    std::vector<std::pair<message_number, std::uint64_t>> size_of;
    size_of.reserve(sizes.size());
    for (const auto& s : sizes) size_of.emplace_back(s.number, s.octets);
    if (!std::is_sorted(size_of.begin(), size_of.end())) std::sort(size_of.begin(), size_of.end());
    const auto make = [&](std::size_t i, uid_time first_seen, bool maybe) {
        planned_message m;
        m.number = listing[i].number;
        m.uid = listing[i].uid;
        const auto it = std::lower_bound(
            size_of.begin(), size_of.end(), m.number,
            [](const std::pair<message_number, std::uint64_t>& e, message_number k) { return e.first < k; });
        if (it != size_of.end() && it->first == m.number) m.octets = it->second;
        m.first_seen = first_seen;
        m.maybe_delivered = maybe;
        return m;
    };

    // Walk the store once. 0 = not in the store, 1 = stored, 2 = delivery started.
    std::vector<unsigned char> known(n, 0);
    std::vector<uid_time> pending_since(n);
    store.for_each(
        [&](std::string_view uid, const uid_entry& entry) {
            const auto i = index.find(uid);
            if (i == detail::uid_index::npos) {
                // Gone from the server.
                if (policy.forget_after.count() <= 0) {
                    plan.store_changes.push_back({std::string(uid), std::nullopt});
                    ++plan.forget_count;
                } else if (!entry.vanished_since) {
                    auto marked = entry;
                    marked.vanished_since = now;
                    plan.store_changes.push_back({std::string(uid), marked});
                } else if (now - *entry.vanished_since >= policy.forget_after) {
                    plan.store_changes.push_back({std::string(uid), std::nullopt});
                    ++plan.forget_count;
                }
                return;
            }
            if (entry.vanished_since) { // back again
                auto back = entry;
                back.vanished_since.reset();
                plan.store_changes.push_back({std::string(uid), back});
            }
            if (flag[i] != 0) return; // ambiguous: never act on it
            if (!entry.stored) {
                known[i] = 2;
                pending_since[i] = entry.first_seen;
                return;
            }
            known[i] = 1;
            ++plan.known;
            if (policy.deletes(entry, now)) plan.remove.push_back(make(i, entry.first_seen, false));
        },
        ec);
    if (ec) return {};

    for (std::size_t i = 0; i < n; ++i) {
        if (flag[i] == 1) plan.duplicates.push_back(listing[i]);
        else if (flag[i] == 2) plan.invalid.push_back(listing[i]);
        else if (known[i] == 0) plan.fetch.push_back(make(i, now, false));
        else if (known[i] == 2) plan.fetch.push_back(make(i, pending_since[i], true));
    }
    // `remove` was filled in the store's order; `fetch` is in listing order.
    std::sort(plan.remove.begin(), plan.remove.end(), detail::by_number);
    if (!std::is_sorted(plan.fetch.begin(), plan.fetch.end(), detail::by_number))
        std::sort(plan.fetch.begin(), plan.fetch.end(), detail::by_number);
    return plan;
}

/// Throwing form of `plan_fetch`. @throws pop3::error when enumerating the store fails
inline fetch_plan plan_fetch(const std::vector<message_uid>& listing,
                             const std::vector<message_size>& sizes, const uid_store& store,
                             const leave_policy& policy, uid_time now)
{
    error_code ec;
    auto plan = plan_fetch(listing, sizes, store, policy, now, ec);
    if (ec) throw pop3::error(ec);
    return plan;
}

} // namespace pop3

#endif // POP3_LEAVE_ON_SERVER_PLAN_HPP
