// pop3::plan_fetch: new and known UIDs, every policy, unconfirmed deliveries, vanished UIDs
// (with and without a grace period), duplicate and invalid listing entries, long and 8-bit
// UIDs, and 100,000 UIDs.
#include "../catch.hpp"
#include "test_error_code.hpp"

#include <pop3/leave_on_server/file_store.hpp>
#include <pop3/leave_on_server/memory_store.hpp>
#include <pop3/leave_on_server/plan.hpp>
#include <pop3/leave_on_server/policy.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

using pop3::leave_policy;
using pop3::message_uid;
using pop3::uid_entry;
using pop3::uid_time;

namespace {

const uid_time now = uid_time(std::chrono::seconds(1700000000));
constexpr std::chrono::seconds day{86400};

uid_entry stored(uid_time first_seen) { return uid_entry{first_seen, true, false, std::nullopt}; }

std::vector<message_uid> listing(std::initializer_list<const char*> uids)
{
    std::vector<message_uid> out;
    pop3::message_number n = 0;
    for (const auto* u : uids) out.push_back({++n, u});
    return out;
}

template <class T>
std::vector<pop3::message_number> numbers(const std::vector<T>& v)
{
    std::vector<pop3::message_number> out;
    for (const auto& m : v) out.push_back(m.number);
    return out;
}

using nums = std::vector<pop3::message_number>;

/// A store whose enumeration fails.
class broken_store final : public pop3::uid_store {
public:
    std::size_t size() const noexcept override { return 0; }

protected:
    std::optional<uid_entry> do_find(std::string_view, pop3::error_code& ec) const override
    {
        ec = pop3_test::generic_error(std::errc::io_error);
        return std::nullopt;
    }
    void do_for_each(const std::function<void(std::string_view, const uid_entry&)>&,
                     pop3::error_code& ec) const override
    {
        ec = pop3_test::generic_error(std::errc::io_error);
    }
    void do_apply(const std::vector<pop3::uid_change>&, pop3::error_code& ec) override
    {
        ec = pop3_test::generic_error(std::errc::io_error);
    }
};

} // namespace

TEST_CASE("plan: unknown UIDs are fetched in number order, known ones are not", "[leave]")
{
    pop3::memory_uid_store store;
    store.record("b", stored(now - day));
    store.record("d", stored(now - day));
    const auto l = listing({"a", "b", "c", "d", "e"});
    const std::vector<pop3::message_size> sizes{{1, 100}, {2, 200}, {3, 300}, {5, 500}};
    const auto plan = pop3::plan_fetch(l, sizes, store, leave_policy::keep_forever(), now);
    CHECK(numbers(plan.fetch) == nums{1, 3, 5});
    CHECK(plan.fetch[0].uid == "a");
    CHECK(plan.fetch[0].octets == 100u);
    CHECK(plan.fetch[2].octets == 500u);
    CHECK(plan.fetch[1].first_seen == now);
    CHECK_FALSE(plan.fetch[1].maybe_delivered);
    CHECK(plan.known == 2);
    CHECK(plan.remove.empty());
    CHECK_FALSE(plan.delete_fetched);
    CHECK(plan.store_changes.empty());
    CHECK(plan.duplicates.empty());
    CHECK(plan.invalid.empty());

    // Without LIST, no size hints.
    const auto bare = pop3::plan_fetch(l, {}, store, leave_policy::keep_forever(), now);
    CHECK_FALSE(bare.fetch[0].octets);
}

TEST_CASE("plan: each policy deletes exactly what it says", "[leave]")
{
    pop3::memory_uid_store store;
    store.record("old", stored(now - 10 * day));
    store.record("week", stored(now - 7 * day));
    store.record("young", stored(now - 6 * day));
    store.record("gone-locally", uid_entry{now, true, true, std::nullopt});
    store.record("unconfirmed", uid_entry{now - 30 * day, false, true, std::nullopt});
    const auto l = listing({"old", "week", "young", "gone-locally", "unconfirmed", "new"});

    SECTION("keep_forever")
    {
        const auto plan = pop3::plan_fetch(l, {}, store, leave_policy::keep_forever(), now);
        CHECK(plan.remove.empty());
        CHECK_FALSE(plan.delete_fetched);
    }
    SECTION("delete_after_fetch: every stored UID, and fetched ones once recorded")
    {
        const auto plan = pop3::plan_fetch(l, {}, store, leave_policy::delete_after_fetch(), now);
        CHECK(numbers(plan.remove) == nums{1, 2, 3, 4}); // never the unconfirmed one
        CHECK(plan.delete_fetched);
    }
    SECTION("delete_older_than(7 days) by first-seen time")
    {
        const auto plan =
            pop3::plan_fetch(l, {}, store, leave_policy::delete_older_than_days(7), now);
        CHECK(numbers(plan.remove) == nums{1, 2});
        CHECK(plan.remove[0].uid == "old");
        CHECK_FALSE(plan.delete_fetched);
        const auto zero = pop3::plan_fetch(
            l, {}, store, leave_policy::delete_older_than(std::chrono::seconds(0)), now);
        CHECK(zero.delete_fetched);
    }
    SECTION("delete_when_deleted_locally")
    {
        const auto plan =
            pop3::plan_fetch(l, {}, store, leave_policy::delete_when_deleted_locally(), now);
        CHECK(numbers(plan.remove) == nums{4});
        CHECK_FALSE(plan.delete_fetched);
    }
}

TEST_CASE("plan: an unconfirmed delivery is fetched again, flagged, with its first-seen time",
          "[leave]")
{
    pop3::memory_uid_store store;
    const auto started = now - 2 * day;
    store.record("half", uid_entry{started, false, false, std::nullopt});
    store.record("done", stored(started));
    const auto plan = pop3::plan_fetch(listing({"done", "half", "new"}), {}, store,
                                       leave_policy::delete_after_fetch(), now);
    REQUIRE(numbers(plan.fetch) == nums{2, 3});
    CHECK(plan.fetch[0].maybe_delivered);
    CHECK(plan.fetch[0].first_seen == started);
    CHECK_FALSE(plan.fetch[1].maybe_delivered);
    CHECK(numbers(plan.remove) == nums{1});
    CHECK(plan.known == 1);
}

TEST_CASE("plan: UIDs gone from the server are forgotten, at once or after a grace period",
          "[leave]")
{
    pop3::memory_uid_store store;
    store.record("here", stored(now - day));
    store.record("gone", stored(now - day));
    store.record("gone-unconfirmed", uid_entry{now, false, false, std::nullopt});
    const auto l = listing({"here"});

    SECTION("at once (the default)")
    {
        const auto plan = pop3::plan_fetch(l, {}, store, leave_policy::keep_forever(), now);
        auto forgotten = plan.forgotten_uids();
        std::sort(forgotten.begin(), forgotten.end());
        CHECK(forgotten == std::vector<std::string>{"gone", "gone-unconfirmed"});
        CHECK(plan.forget_count == 2);
        CHECK(plan.fetch.empty());
    }
    SECTION("after a grace period: marked first, forgotten later, unmarked when back")
    {
        const auto policy = leave_policy::keep_forever().forgetting_after(3 * day);
        auto plan = pop3::plan_fetch(l, {}, store, policy, now);
        CHECK(plan.forget_count == 0);
        REQUIRE(plan.store_changes.size() == 2);
        for (const auto& c : plan.store_changes) {
            REQUIRE(c.entry);
            CHECK(c.entry->vanished_since == now);
        }
        store.apply(plan.store_changes);
        CHECK(store.find("gone")->first_seen == now - day); // the rest of the entry is kept

        // Two days later: still within the grace period, nothing changes.
        plan = pop3::plan_fetch(l, {}, store, policy, now + 2 * day);
        CHECK(plan.store_changes.empty());

        // "gone" comes back, the other stays away past the grace period.
        plan = pop3::plan_fetch(listing({"here", "gone"}), {}, store, policy, now + 3 * day);
        CHECK(plan.fetch.empty()); // still known: not fetched again
        CHECK(plan.forgotten_uids() == std::vector<std::string>{"gone-unconfirmed"});
        REQUIRE(plan.store_changes.size() == 2);
        store.apply(plan.store_changes);
        CHECK_FALSE(store.find("gone")->vanished_since);
        CHECK_FALSE(store.find("gone-unconfirmed"));
    }
}

TEST_CASE("plan: duplicate UIDs are neither fetched nor deleted nor forgotten", "[leave]")
{
    pop3::memory_uid_store store;
    store.record("twice-known", stored(now - 30 * day));
    const auto l = listing({"a", "twice", "b", "twice", "twice-known", "c", "twice-known",
                            "twice"});
    const auto plan = pop3::plan_fetch(l, {}, store, leave_policy::delete_after_fetch(), now);
    CHECK(numbers(plan.fetch) == nums{1, 3, 6});
    CHECK(numbers(plan.duplicates) == nums{2, 4, 5, 7, 8});
    CHECK(plan.remove.empty()); // which of 5 and 7 was stored? unknowable: delete neither
    CHECK(plan.store_changes.empty()); // and the entry is not forgotten either
    CHECK(plan.known == 0);
}

TEST_CASE("plan: unusable listing entries are reported, never acted on", "[leave]")
{
    pop3::memory_uid_store store;
    store.record("x", stored(now));
    std::vector<message_uid> l{{1, "ok"},   {2, ""},   {3, "has space"}, {4, "ctl\x01"},
                               {0, "zero"}, {6, "x"},  {6, "same-number"}, {8, "fine"}};
    const auto plan = pop3::plan_fetch(l, {}, store, leave_policy::delete_after_fetch(), now);
    CHECK(numbers(plan.fetch) == nums{1, 8});
    CHECK(numbers(plan.invalid) == nums{2, 3, 4, 0, 6, 6});
    CHECK(plan.remove.empty());        // "x" shares its number with another UID
    CHECK(plan.store_changes.empty()); // but it is on the server: not forgotten
}

TEST_CASE("plan: long and 8-bit UIDs are ordinary keys", "[leave]")
{
    pop3::memory_uid_store store;
    const std::string long_uid(512, 'L');
    const std::string longer_uid = long_uid + "!";
    const std::string latin1 = "caf\xe9-\xff\x80";
    store.record(long_uid, stored(now - day));
    store.record(latin1, stored(now - day));
    const std::vector<message_uid> l{{1, long_uid}, {2, longer_uid}, {3, latin1},
                                     {4, "caf\xc3\xa9"}};
    const auto plan = pop3::plan_fetch(l, {}, store, leave_policy::delete_after_fetch(), now);
    CHECK(numbers(plan.fetch) == nums{2, 4});
    CHECK(numbers(plan.remove) == nums{1, 3});
    CHECK(plan.remove[0].uid == long_uid);
}

TEST_CASE("plan: a listing out of order is planned in number order", "[leave]")
{
    pop3::memory_uid_store store;
    store.record("k", stored(now - day));
    const std::vector<message_uid> l{{9, "i"}, {3, "c"}, {7, "k"}, {1, "a"}};
    const auto plan = pop3::plan_fetch(l, {}, store, leave_policy::delete_after_fetch(), now);
    CHECK(numbers(plan.fetch) == nums{1, 3, 9});
    CHECK(numbers(plan.remove) == nums{7});
}

TEST_CASE("plan: a failing store fails the plan", "[leave]")
{
    broken_store store;
    pop3::error_code ec;
    const auto plan =
        pop3::plan_fetch(listing({"a"}), {}, store, leave_policy::keep_forever(), now, ec);
    CHECK(ec == pop3_test::generic_condition(std::errc::io_error));
    CHECK(plan.fetch.empty());
    CHECK_THROWS_AS(pop3::plan_fetch(listing({"a"}), {}, store, leave_policy::keep_forever(), now),
                    pop3::error);
}

TEST_CASE("plan: 100,000 UIDs with 99,990 known", "[leave]")
{
    constexpr std::size_t total = 100000;
    pop3::memory_uid_store store;
    std::vector<message_uid> l;
    l.reserve(total);
    std::vector<pop3::uid_change> known;
    for (std::size_t i = 0; i < total; ++i) {
        char uid[32];
        std::snprintf(uid, sizeof uid, "%08zx6553f101", i * 7 + 3);
        l.push_back({static_cast<pop3::message_number>(i + 1), uid});
        if (i % 10000 != 5) known.push_back({uid, stored(now - day * (i % 20))});
    }
    known.push_back({"vanished-1", stored(now)});
    store.apply(known);
    const auto start = std::chrono::steady_clock::now();
    const auto plan =
        pop3::plan_fetch(l, {}, store, leave_policy::delete_older_than_days(10), now);
    const auto took = std::chrono::steady_clock::now() - start;
    REQUIRE(plan.fetch.size() == 10);
    for (const auto& m : plan.fetch) CHECK(m.number % 10000 == 6);
    CHECK(plan.known == total - 10);
    CHECK(plan.forgotten_uids() == std::vector<std::string>{"vanished-1"});
    // Entries are i % 20 days old: ages 10..19 are deleted, except the 10 unknown ones.
    std::size_t expected_removed = 0;
    for (std::size_t i = 0; i < total; ++i)
        if (i % 10000 != 5 && i % 20 >= 10) ++expected_removed;
    CHECK(plan.remove.size() == expected_removed);
    CHECK(std::is_sorted(plan.remove.begin(), plan.remove.end(),
                         [](const auto& a, const auto& b) { return a.number < b.number; }));
    // Generous: milliseconds in a release build; this only catches quadratic behaviour.
    CHECK(took < std::chrono::seconds(10));
}
