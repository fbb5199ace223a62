// What every pop3::uid_store must do, written once and run against each store (memory, file,
// SQLite) by calling these from a TEST_CASE of that store's test file with a fixture:
//
//   struct fixture {
//       bool durable;                                   // does reopen() see earlier writes?
//       std::unique_ptr<pop3::uid_store> reopen();      // opens the fixture's state anew
//   };
//
// The functions drop a store before calling reopen() again, so a store that locks its
// account can be reopened.
#ifndef POP3_TESTS_UNIT_UID_STORE_CONFORMANCE_HPP
#define POP3_TESTS_UNIT_UID_STORE_CONFORMANCE_HPP

#include "../catch.hpp"

#include <pop3/exception.hpp>
#include <pop3/leave_on_server/store.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace pop3_test::conformance {

inline pop3::uid_time at(long long seconds)
{
    return pop3::uid_time(std::chrono::seconds(seconds));
}

inline pop3::uid_entry stored_at(long long seconds)
{
    return pop3::uid_entry{at(seconds), true, false, std::nullopt};
}

/// A second store opened in another process (`open(ec)` runs in a forked child) is refused
/// with store_errc::locked, as one in this process is.
template <class Open> void check_locked_in_another_process(Open open)
{
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        pop3::error_code child_ec;
        open(child_ec);
        ::_exit(child_ec == pop3::store_errc::locked ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

inline std::map<std::string, pop3::uid_entry> contents(const pop3::uid_store& store)
{
    std::map<std::string, pop3::uid_entry> out;
    store.for_each([&](std::string_view uid, const pop3::uid_entry& e) { out.emplace(uid, e); });
    return out;
}

/// UIDs that stress the encoding: 8-bit bytes, every printable, the longest the parser
/// accepts by default, and longer.
inline std::vector<std::string> awkward_uids()
{
    std::string all_bytes; // every byte pop3::is_valid_uid allows (not DEL, as the parser)
    for (int c = 0x21; c <= 0xff; ++c)
        if (c != 0x7f) all_bytes.push_back(static_cast<char>(c));
    return {"a",
            "000000016553f101",
            "\xc3\xa4\xc3\xb6\xc3\xbc-utf8",
            "\xff\xfe\x80\x81",
            std::string(512, 'x'),
            std::string(5000, '\xe9'),
            all_bytes,
            "with.dots%and+signs/\\\"'"};
}

/// Every field and any UID bytes round-trip; batches, forgetting; and, for a durable
/// store, all of it again after reopening.
template <class Fixture> void entries_round_trip(Fixture& fixture)
{
    std::map<std::string, pop3::uid_entry> expected;
    {
        auto store = fixture.reopen();
        long long t = 1700000000;
        for (const auto& uid : awkward_uids()) {
            pop3::uid_entry e{at(t++), true, false, std::nullopt};
            store->record(uid, e);
            expected[uid] = e;
        }
        const pop3::uid_entry pending{at(-5), false, false, std::nullopt};
        const pop3::uid_entry flagged{at(42), true, true, at(99)};
        store->apply({{"pending", pending},
                      {"flagged", flagged},
                      {"gone", stored_at(1)},
                      {"gone", std::nullopt}});
        expected["pending"] = pending;
        expected["flagged"] = flagged;
        store->forget("a");
        expected.erase("a");
        store->forget("never-known"); // forgetting an unknown UID is fine
        CHECK(contents(*store) == expected);
        CHECK(store->size() == expected.size());
        CHECK(store->find("flagged") == flagged);
        CHECK_FALSE(store->find("gone"));
        // A later change of the same UID in one batch wins.
        store->apply({{"twice", stored_at(1)}, {"twice", stored_at(2)}});
        CHECK(store->find("twice")->first_seen == at(2));
        store->forget("twice");
    }
    if (!fixture.durable) return;
    auto again = fixture.reopen();
    CHECK(again->size() == expected.size());
    CHECK(contents(*again) == expected);
    CHECK(again->find(std::string(5000, '\xe9'))->first_seen == at(1700000005));
}

/// UIDs that are empty, have spaces or controls, or are huge are refused; one bad UID
/// refuses the whole batch.
template <class Fixture> void invalid_uids_refused(Fixture& fixture)
{
    auto store = fixture.reopen();
    for (const std::string& bad :
         {std::string(), std::string("a b"), std::string("a\rb"), std::string("a\nb"),
          std::string("nul\0x", 5), std::string("\x1f"), std::string("del\x7f"),
          std::string(pop3::max_stored_uid_length + 1, 'x')}) {
        pop3::error_code ec;
        store->record(bad, stored_at(1), ec);
        CHECK(ec == pop3::store_errc::invalid_uid);
        store->apply({{"good", stored_at(1)}, {bad, stored_at(2)}}, ec);
        CHECK(ec == pop3::store_errc::invalid_uid);
        CHECK_FALSE(store->find("good"));
    }
    CHECK_THROWS_AS(store->record("", stored_at(1)), pop3::error);
    CHECK(store->size() == 0);
}

/// mark_deleted_locally: false for an unknown UID, sets the flag and keeps the rest.
template <class Fixture> void mark_deleted_locally(Fixture& fixture)
{
    {
        auto store = fixture.reopen();
        CHECK_FALSE(store->mark_deleted_locally("unknown"));
        CHECK_FALSE(store->find("unknown"));
        store->record("m1", stored_at(5));
        CHECK(store->mark_deleted_locally("m1"));
        CHECK(store->mark_deleted_locally("m1")); // already marked: still known
        CHECK(store->find("m1")->deleted_locally);
        CHECK(store->find("m1")->first_seen == at(5));
        store->record("m2", stored_at(6));
        CHECK(store->mark_deleted_locally("m2"));
        store->forget("m1");
        CHECK(store->size() == 1);
    }
    if (!fixture.durable) return;
    auto again = fixture.reopen();
    CHECK(again->find("m2")->deleted_locally);
    CHECK_FALSE(again->find("m1"));
}

} // namespace pop3_test::conformance

#endif // POP3_TESTS_UNIT_UID_STORE_CONFORMANCE_HPP
