// pop3::sqlite_uid_store: the store conformance suite, plus what is SQLite's own: reopening,
// the account lock (also from another process and taken over from a dead one), accounts
// sharing a database, a newer schema refused, foreign and damaged files typed, and the
// application's own connection and transaction. Built only when SQLite 3 is found.
#include "../catch.hpp"
#include "leave_on_server_fake.hpp"
#include "test_temp_dir.hpp"
#include "uid_store_conformance.hpp"

#include <pop3/leave_on_server.hpp>
#include <pop3/leave_on_server/sqlite_uid_store.hpp>

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

using pop3::sqlite_uid_store;
using pop3::store_errc;
using pop3_test::conformance::contents;
using pop3_test::conformance::stored_at;

namespace {

struct sqlite_fixture {
    pop3_test::temp_dir dir;
    bool durable = true;
    std::unique_ptr<pop3::uid_store> reopen()
    {
        return std::make_unique<sqlite_uid_store>(dir.file("state.db"), "alice@example.com");
    }
};

void spit(const std::string& path, const std::string& bytes)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
}

// Runs SQL on a connection of the test's own, outside any store.
void exec_sql(const std::string& path, const std::string& sql)
{
    sqlite3* db = nullptr;
    REQUIRE(::sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    const int rc = ::sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    INFO(::sqlite3_errmsg(db));
    ::sqlite3_close(db);
    REQUIRE(rc == SQLITE_OK);
}

} // namespace

TEST_CASE("uid store conformance: sqlite_uid_store", "[leave][sqlite]")
{
    sqlite_fixture fixture;
    SECTION("entries round-trip, any UID bytes, through reopening")
    {
        pop3_test::conformance::entries_round_trip(fixture);
    }
    SECTION("invalid UIDs are refused")
    {
        pop3_test::conformance::invalid_uids_refused(fixture);
    }
    SECTION("mark_deleted_locally")
    {
        pop3_test::conformance::mark_deleted_locally(fixture);
    }
}

TEST_CASE("sqlite_uid_store: a second store on the account is locked at once", "[leave][sqlite]")
{
    pop3_test::temp_dir dir;
    const auto path = dir.file("state.db");
    sqlite_uid_store first(path, "acct");
    first.record("x", stored_at(1));

    const auto start = std::chrono::steady_clock::now();
    sqlite_uid_store second;
    pop3::error_code ec;
    second.open(path, "acct", ec);
    CHECK(ec == store_errc::locked);
    CHECK_FALSE(second.is_open());
    CHECK(second.last_error_message().find("locked by pid") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
    CHECK_THROWS_AS(sqlite_uid_store(path, "acct"), pop3::error);

    // Another (live) process gets the same answer.
    pop3_test::conformance::check_locked_in_another_process([&](pop3::error_code& child_ec) {
        sqlite_uid_store other;
        other.open(path, "acct", child_ec);
    });

    first.close();
    second.open(path, "acct", ec);
    REQUIRE_FALSE(ec);
    CHECK(second.find("x"));
}

TEST_CASE("sqlite_uid_store: the lock of a process that died is taken over", "[leave][sqlite]")
{
    pop3_test::temp_dir dir;
    const auto path = dir.file("state.db");
    // A child takes the lock, records, and dies without closing (no destructors run).
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        auto* leaked = new sqlite_uid_store;
        pop3::error_code child_ec;
        leaked->open(path, "acct", child_ec);
        if (!child_ec) leaked->record("from-child", stored_at(3), child_ec);
        ::_exit(child_ec ? 1 : 0);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);

    sqlite_uid_store store;
    pop3::error_code ec;
    store.open(path, "acct", ec);
    REQUIRE_FALSE(ec);
    CHECK(store.find("from-child"));

    // A lock row of another host is never taken over.
    store.close();
    exec_sql(path, "INSERT INTO pop3_locks (account, pid, host, token) "
                   "VALUES ('remote', 1, 'some-other-host', 't')");
    store.open(path, "remote", ec);
    CHECK(ec == store_errc::locked);
}

TEST_CASE("sqlite_uid_store: accounts in one database are independent", "[leave][sqlite]")
{
    pop3_test::temp_dir dir;
    const auto path = dir.file("state.db");
    sqlite_uid_store alice(path, "alice");
    sqlite_uid_store bob(path, "bob"); // both open at once: the locks are per account
    alice.record("same-uid", stored_at(1));
    alice.record("alice-only", stored_at(2));
    bob.record("same-uid", stored_at(10));
    CHECK(alice.size() == 2);
    CHECK(bob.size() == 1);
    CHECK(alice.find("same-uid")->first_seen == pop3_test::conformance::at(1));
    CHECK(bob.find("same-uid")->first_seen == pop3_test::conformance::at(10));
    CHECK_FALSE(bob.find("alice-only"));
    bob.forget("same-uid");
    CHECK(alice.find("same-uid"));
    CHECK(contents(bob).empty());
    CHECK(contents(alice).size() == 2);
}

TEST_CASE("sqlite_uid_store: a newer schema version is refused, the file left alone",
          "[leave][sqlite]")
{
    pop3_test::temp_dir dir;
    const auto path = dir.file("state.db");
    {
        sqlite_uid_store store(path, "acct");
        store.record("kept", stored_at(1));
    }
    exec_sql(path, "UPDATE pop3_schema SET version = 99 WHERE name = 'uids'");
    sqlite_uid_store store;
    pop3::error_code ec;
    store.open(path, "acct", ec);
    CHECK(ec == store_errc::unsupported_version);
    CHECK_FALSE(store.is_open());
    CHECK(store.last_error_message().find("99") != std::string::npos);
    CHECK(ec.message().find("newer version") != std::string::npos);

    exec_sql(path, "UPDATE pop3_schema SET version = 1 WHERE name = 'uids'");
    store.open(path, "acct", ec);
    REQUIRE_FALSE(ec);
    CHECK(store.find("kept")); // nothing was changed by the refused open
}

TEST_CASE("sqlite_uid_store: foreign and damaged files are typed errors, never empty",
          "[leave][sqlite]")
{
    pop3_test::temp_dir dir;
    const auto path = dir.file("state.db");
    sqlite_uid_store store;
    pop3::error_code ec;

    SECTION("not a database at all")
    {
        spit(path, std::string(4096, 'g'));
        store.open(path, "acct", ec);
        CHECK(ec == store_errc::not_a_store);
        CHECK_FALSE(store.is_open());
        CHECK_FALSE(store.last_error_message().empty());
    }
    SECTION("a database whose pop3_uids table is someone else's")
    {
        exec_sql(path, "CREATE TABLE pop3_uids (name TEXT)");
        store.open(path, "acct", ec);
        CHECK(ec == store_errc::not_a_store);
        CHECK(store.last_error_message().find("foreign") != std::string::npos);
    }
    SECTION("a damaged database page")
    {
        {
            sqlite_uid_store s(path, "acct");
            for (int i = 0; i < 200; ++i) s.record("uid-" + std::to_string(i), stored_at(i));
        }
        exec_sql(path, "PRAGMA journal_mode=DELETE"); // checkpoint: everything in the file
        std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
        f.seekp(4096 + 8); // inside the second page, past its header's start
        f.write(std::string(4000, '\xa5').data(), 4000);
        f.close();
        store.open(path, "acct", ec);
        if (!ec) { // the page may be one open never reads; reading every entry must fail
            CHECK_THROWS_AS(contents(store), pop3::error);
            store.for_each([](std::string_view, const pop3::uid_entry&) {}, ec);
        }
        CHECK((ec == store_errc::corrupt || ec == store_errc::not_a_store));
    }
}

TEST_CASE("sqlite_uid_store: on the application's connection, inside its transaction",
          "[leave][sqlite]")
{
    pop3_test::temp_dir dir;
    const auto path = dir.file("app.db");
    sqlite3* db = nullptr;
    REQUIRE(::sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    REQUIRE(::sqlite3_exec(db, "CREATE TABLE messages (uid BLOB, body TEXT)", nullptr, nullptr,
                           nullptr) == SQLITE_OK);
    {
        sqlite_uid_store store;
        pop3::error_code ec;
        store.open(db, "acct", ec);
        REQUIRE_FALSE(ec);

        // Stored and recorded together, rolled back together.
        REQUIRE(::sqlite3_exec(db, "BEGIN; INSERT INTO messages VALUES ('m1', 'x')", nullptr,
                               nullptr, nullptr) == SQLITE_OK);
        store.record("m1", stored_at(1));
        CHECK(store.find("m1")); // visible inside the transaction
        REQUIRE(::sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK);
        CHECK_FALSE(store.find("m1"));

        // And committed together.
        REQUIRE(::sqlite3_exec(db, "BEGIN; INSERT INTO messages VALUES ('m2', 'y')", nullptr,
                               nullptr, nullptr) == SQLITE_OK);
        store.record("m2", stored_at(2));
        REQUIRE(::sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
        CHECK(store.find("m2"));

        // Opening inside a transaction is refused (the lock must commit on its own).
        REQUIRE(::sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite_uid_store inside;
        inside.open(db, "other", ec);
        CHECK(ec);
        CHECK_FALSE(inside.is_open());
        REQUIRE(::sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK);
    }
    // The store did not close the application's connection; the lock was released.
    CHECK(::sqlite3_exec(db, "SELECT 1", nullptr, nullptr, nullptr) == SQLITE_OK);
    ::sqlite3_close(db);
    sqlite_uid_store reopened(path, "acct");
    CHECK(reopened.size() == 1);
    CHECK(reopened.find("m2"));
}

TEST_CASE("sqlite_uid_store: a closed store says not_open", "[leave][sqlite]")
{
    sqlite_uid_store store;
    pop3::error_code ec;
    store.record("x", stored_at(1), ec);
    CHECK(ec == store_errc::not_open);
    store.find("x", ec);
    CHECK(ec == store_errc::not_open);
    CHECK(store.size() == 0);
}

TEST_CASE("fetch_new with sqlite_uid_store: cut connections and reruns lose and duplicate "
          "nothing",
          "[leave][sqlite]")
{
    using pop3_test::fake_message;
    const std::vector<fake_message> original{
        {"uid-1", "Subject: one\r\n\r\nfirst\r\n"},
        {"uid-2", "Subject: two\r\n\r\n.leading dot\r\n"},
        {"\xe9\xff-8bit", "Subject: three\r\n\r\nthird\r\n"},
        {"uid-4", "Subject: four\r\n\r\n" + std::string(700, 'x') + "\r\n"},
    };
    const auto now = pop3::uid_time(std::chrono::seconds(1700000000));

    // One run as a program would do it: open the store, fetch, close the store.
    const auto run = [&](const std::string& path,
                         const std::shared_ptr<pop3_test::fake_server>& server,
                         std::map<std::string, std::vector<std::string>>& copies,
                         std::size_t& duplicates) {
        sqlite_uid_store store(path, "acct");
        pop3::net::io_context ioc;
        pop3::client<pop3_test::fake_stream> c{ioc.get_executor(), server};
        pop3::error_code ec;
        c.read_greeting(ec);
        pop3::login_options plain;
        plain.allow_plaintext = true;
        if (!ec) c.login("user", "pass", plain, ec);
        if (ec) return ec;
        pop3::fetch_options options;
        options.now = now;
        const auto deliver = [&](const pop3::fetched_message& m) -> pop3::error_code {
            auto& list = copies[std::string(m.uid)];
            if (!list.empty()) {
                if (m.maybe_delivered) return {}; // idempotent: already stored
                ++duplicates;
            }
            list.emplace_back(m.bytes);
            return {};
        };
        pop3::fetch_new(c, store, pop3::leave_policy::delete_after_fetch(), deliver, options, ec);
        return ec;
    };

    // Cut after every 41st server byte of the first session, then rerun until it succeeds.
    for (std::size_t cut = 1; cut < 2000; cut += 41) {
        INFO("cut after " << cut << " server bytes");
        pop3_test::temp_dir dir;
        const auto path = dir.file("state.db");
        auto server = std::make_shared<pop3_test::fake_server>();
        server->mailbox = original;
        std::map<std::string, std::vector<std::string>> copies;
        std::size_t duplicates = 0;
        server->cut_s2c = cut;
        (void)run(path, server, copies, duplicates);
        server->cut_s2c.reset();
        pop3::error_code ec = run(path, server, copies, duplicates);
        if (ec) ec = run(path, server, copies, duplicates); // a first run that left DELEs
        REQUIRE_FALSE(ec);
        CHECK(duplicates == 0);
        CHECK(server->mailbox.empty());
        REQUIRE(copies.size() == original.size());
        for (const auto& m : original) {
            REQUIRE(copies[m.uid].size() == 1);
            CHECK(copies[m.uid].front() == m.body);
        }
        // Nothing left to do, and the state is clean: every deleted UID forgotten.
        CHECK_FALSE(run(path, server, copies, duplicates));
        sqlite_uid_store store(path, "acct");
        CHECK(store.size() == 0);
    }
}

TEST_CASE("sqlite_uid_store: a failing batch applies nothing; in the application's "
          "transaction it undoes only itself",
          "[leave][sqlite]")
{
    pop3_test::temp_dir dir;
    const auto path = dir.file("state.db");
    {
        sqlite_uid_store create(path, "acct");
    }
    // Any change of the UID "boom" fails inside SQLite, after earlier changes of the batch ran.
    exec_sql(path, "CREATE TRIGGER boom BEFORE INSERT ON pop3_uids WHEN NEW.uid = CAST('boom' "
                   "AS BLOB) BEGIN SELECT RAISE(ABORT, 'injected failure'); END");

    SECTION("on the store's own connection")
    {
        sqlite_uid_store store(path, "acct");
        store.record("before", stored_at(1));
        pop3::error_code ec;
        store.apply({{"first", stored_at(2)}, {"before", std::nullopt}, {"boom", stored_at(3)}},
                    ec);
        REQUIRE(ec);
        CHECK(ec.category() == pop3::sqlite_category());
        CHECK(store.last_error_message().find("injected failure") != std::string::npos);
        CHECK_FALSE(store.find("first"));
        CHECK(store.find("before"));
        // The store stays usable.
        store.record("after", stored_at(4));
        CHECK(store.size() == 2);
    }
    SECTION("inside the application's transaction")
    {
        sqlite3* db = nullptr;
        REQUIRE(::sqlite3_open(path.c_str(), &db) == SQLITE_OK);
        {
            sqlite_uid_store store;
            pop3::error_code ec;
            store.open(db, "acct", ec);
            REQUIRE_FALSE(ec);
            REQUIRE(::sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) == SQLITE_OK);
            store.record("app-kept", stored_at(1));
            store.apply({{"first", stored_at(2)}, {"boom", stored_at(3)}}, ec);
            CHECK(ec);
            CHECK(::sqlite3_get_autocommit(db) == 0); // the application's transaction lives on
            REQUIRE(::sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
            CHECK(store.find("app-kept"));
            CHECK_FALSE(store.find("first"));
        }
        ::sqlite3_close(db);
    }
}
