// pop3::fetch_new against an in-memory POP3 server: the order of effects (record intent ->
// RETR -> deliver -> record stored -> DELE -> QUIT), failures of the delivery callback and
// of the store, servers without UIDL, refused DELE/RETR, and the connection cut at every
// byte in both directions followed by reruns: never a lost, never a duplicated message.
// Then the streaming interface (pop3::message_delivery): chunks in order, abort on every
// failure, commit failures, max_messages across reruns, progress, and a 20 MB message
// that streams through without ever being held whole.
#include "../catch.hpp"
#include "leave_on_server_fake.hpp"
#include "test_net.hpp"

#include <pop3/leave_on_server.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

using pop3::leave_policy;
using pop3_test::fake_message;
using pop3_test::fake_server;
using pop3_test::fake_stream;
using client_type = pop3::client<fake_stream>;

namespace {

const pop3::uid_time now = pop3::uid_time(std::chrono::seconds(1700000000));

std::vector<fake_message> sample_mailbox()
{
    return {
        {"uid-1", "Subject: one\r\n\r\nfirst\r\n"},
        {"uid-2", "Subject: two\r\n\r\n.leading dot\r\n.\r\nafter a lone dot\r\n"},
        {"dup", "Subject: dup A\r\n\r\nA\r\n"},
        {std::string(300, 'L') + "\xe9\xff", "Subject: long 8-bit uid\r\n\r\nbody\r\n"},
        {"dup", "Subject: dup B\r\n\r\nB\r\n"},
        {"uid-6", "Subject: six\r\n\r\n" + std::string(2000, 'x') + "\r\n"},
    };
}

/// The application's storage: every copy ever stored, per UID.
struct app_storage {
    std::map<std::string, std::vector<std::string>> copies;
    std::size_t violations = 0; ///< a second copy delivered WITHOUT maybe_delivered
    std::size_t calls = 0;
    std::vector<std::string>* events = nullptr;
    std::size_t fail_call = 0; ///< 1-based call that fails (0: none)
    bool throw_instead = false;

    pop3::error_code operator()(const pop3::fetched_message& m)
    {
        ++calls;
        const std::string uid(m.uid);
        if (events) events->push_back("D:" + uid + (m.maybe_delivered ? ":maybe" : ""));
        if (calls == fail_call) {
            if (throw_instead) throw std::runtime_error("delivery blew up");
            return pop3_test::generic_error(std::errc::no_space_on_device);
        }
        auto& list = copies[uid];
        if (!list.empty()) {
            if (m.maybe_delivered) return {}; // idempotent: already have it
            ++violations;
        }
        list.emplace_back(m.bytes);
        return {};
    }
};

using pop3_test::logging_store;

struct run_outcome {
    pop3::error_code ec;
    pop3::fetch_result result;
};

/// One session: connect, log in, fetch_new into `delivery` (a message_delivery, or a
/// callback).
template <class Delivery>
run_outcome run_with(const std::shared_ptr<fake_server>& server, pop3::uid_store& store,
                     Delivery&& delivery, const leave_policy& policy,
                     const pop3::fetch_options& options = {})
{
    net::io_context ioc;
    client_type c{ioc.get_executor(), server};
    run_outcome out;
    c.read_greeting(out.ec);
    pop3::login_options plain; // the fake server offers USER/PASS only, without TLS
    plain.allow_plaintext = true;
    if (!out.ec) c.login("user", "pass", plain, out.ec);
    if (out.ec) return out;
    auto opts = options;
    opts.now = now;
    out.result = pop3::fetch_new(c, store, policy, std::forward<Delivery>(delivery), opts, out.ec);
    return out;
}

/// One session delivering whole messages to the callback `app`.
run_outcome run(const std::shared_ptr<fake_server>& server, pop3::uid_store& store,
                app_storage& app, const leave_policy& policy,
                const pop3::fetch_options& options = {})
{
    return run_with(server, store, std::ref(app), policy, options);
}

/// A streaming delivery in front of `app_storage`: it checks the message_delivery
/// contract (one message open at a time; every begin ends in one successful commit or
/// one abort), logs its calls, collects the chunks and hands the message to `app` at
/// commit (so `app.fail_call` fails the N-th commit). It can fail or throw in begin or
/// write.
struct streaming_app final : pop3::message_delivery {
    explicit streaming_app(app_storage& a) : app(a) {}

    app_storage& app;
    std::vector<std::string>* events = nullptr; ///< "B:uid", "W:uid", "A:uid" (and app's "D:")
    std::size_t fail_begin = 0;                 ///< 1-based begin that fails (0: none)
    std::string fail_write_of;                  ///< the first write of this UID fails
    bool throw_in_write = false;                ///< throw instead of returning the error
    /// Group commit: `commit` only keeps the message, `sync` hands the batch to `app` (so
    /// `app.fail_call` fails a sync). What was committed and never synced is lost, as
    /// unsynced files are in a crash.
    bool batching = false;
    std::size_t begins = 0, writes = 0, commits = 0, aborts = 0, syncs = 0;
    std::size_t contract_violations = 0;
    std::vector<pop3::message_number> numbers;        ///< per begin
    std::vector<std::string> uids;                    ///< per begin
    std::vector<std::optional<std::uint64_t>> octets; ///< per begin
    std::vector<bool> maybe;                          ///< per begin
    std::map<std::string, std::size_t> chunks;        ///< writes per UID (last delivery)

    pop3::error_code begin(const pop3::fetched_message_info& m) override
    {
        if (open_) ++contract_violations;
        open_ = true;
        ++begins;
        uid_ = std::string(m.uid);
        info_ = m;
        info_.uid = uid_;
        bytes_.clear();
        numbers.push_back(m.number);
        uids.push_back(uid_);
        octets.push_back(m.octets);
        maybe.push_back(m.maybe_delivered);
        chunks[uid_] = 0;
        if (events) events->push_back("B:" + uid_);
        if (begins == fail_begin) return pop3_test::generic_error(std::errc::permission_denied);
        return {};
    }

    pop3::error_code write(std::string_view chunk) override
    {
        if (!open_) ++contract_violations;
        ++writes;
        ++chunks[uid_];
        if (events) events->push_back("W:" + uid_);
        if (uid_ == fail_write_of && chunks[uid_] == 1) {
            if (throw_in_write) throw std::runtime_error("write blew up");
            return pop3_test::generic_error(std::errc::no_space_on_device);
        }
        bytes_.append(chunk);
        return {};
    }

    pop3::error_code commit() override
    {
        if (!open_) ++contract_violations;
        if (batching) {
            unsynced_.push_back({info_.number, std::string(info_.uid), bytes_, info_.maybe_delivered});
            ++commits;
            open_ = false;
            return {};
        }
        auto ec =
            app(pop3::fetched_message{info_.number, info_.uid, bytes_, info_.maybe_delivered});
        if (!ec) {
            ++commits;
            open_ = false; // a successful commit ends the message
        }
        return ec;
    }

    void abort() noexcept override
    {
        if (!open_) ++contract_violations; // abort only for a begun, uncommitted message
        open_ = false;
        ++aborts;
        if (events) events->push_back("A:" + uid_);
    }

    bool batches() const noexcept override { return batching; }

    pop3::error_code sync() override
    {
        if (!batching || open_) ++contract_violations;
        ++syncs;
        auto batch = std::move(unsynced_);
        unsynced_.clear();
        for (const auto& m : batch)
            if (auto ec = app(pop3::fetched_message{m.number, m.uid, m.bytes, m.maybe_delivered}))
                return ec;
        return {};
    }

    bool open() const { return open_; }

private:
    struct kept {
        pop3::message_number number;
        std::string uid;
        std::string bytes;
        bool maybe_delivered;
    };
    std::vector<kept> unsynced_;
    bool open_ = false;
    std::string uid_;
    pop3::fetched_message_info info_;
    std::string bytes_;
};

std::shared_ptr<fake_server> make_server(bool pipelining = false)
{
    auto s = std::make_shared<fake_server>();
    s->mailbox = sample_mailbox();
    s->pipelining = pipelining;
    return s;
}

/// A fake server, a store and the application that all log into one `events` list, so that
/// a test can check the order of their effects.
struct observed {
    explicit observed(bool pipelining)
        : server(make_server(pipelining)), original(server->mailbox)
    {
        server->events = &events;
        store.events = &events;
        app.events = &events;
    }
    observed(const observed&) = delete; // the three point at `events`
    observed& operator=(const observed&) = delete;

    std::vector<std::string> events;
    std::shared_ptr<fake_server> server;
    std::vector<fake_message> original; ///< the mailbox before the run
    logging_store store;
    app_storage app;
};

std::size_t count(const std::vector<std::string>& v, const std::string& prefix)
{
    return static_cast<std::size_t>(std::count_if(
        v.begin(), v.end(), [&](const std::string& s) { return s.rfind(prefix, 0) == 0; }));
}

std::size_t index_of(const std::vector<std::string>& v, const std::string& item)
{
    const auto it = std::find(v.begin(), v.end(), item);
    REQUIRE(it != v.end());
    return static_cast<std::size_t>(it - v.begin());
}

/// Invariants that must hold after ANY run, however it ended.
void check_never_lost(const std::vector<fake_message>& original, const fake_server& server,
                      const app_storage& app)
{
    CHECK(app.violations == 0);
    for (const auto& m : original) {
        const bool on_server = std::any_of(server.mailbox.begin(), server.mailbox.end(),
                                           [&](const fake_message& s) { return s.body == m.body; });
        if (on_server) continue;
        // Deleted from the server: it must be stored locally, byte for byte.
        const auto it = app.copies.find(m.uid);
        REQUIRE(it != app.copies.end());
        CHECK(it->second.front() == m.body);
    }
    for (const auto& [uid, list] : app.copies) CHECK(uid != "dup"); // never a duplicate UID
}

/// After reruns until success: every unique message stored exactly once, byte-identical,
/// the server holds what the policy says, and the store says "stored" for each.
void check_done(const std::vector<fake_message>& original, const fake_server& server,
                const app_storage& app, const pop3::uid_store& store, bool deletes)
{
    check_never_lost(original, server, app);
    std::size_t unique = 0;
    for (const auto& m : original) {
        if (m.uid == "dup") continue;
        ++unique;
        const auto it = app.copies.find(m.uid);
        REQUIRE(it != app.copies.end());
        CHECK(it->second.size() == 1);
        CHECK(it->second.front() == m.body);
        const bool on_server = std::any_of(server.mailbox.begin(), server.mailbox.end(),
                                           [&](const fake_message& s) { return s.uid == m.uid; });
        const auto e = store.find(m.uid);
        if (on_server) { // a UID gone from the server may have been forgotten since
            REQUIRE(e);
            CHECK(e->stored);
        }
    }
    CHECK(app.copies.size() == unique);
    std::vector<std::string> left;
    for (const auto& m : server.mailbox) left.push_back(m.uid + m.body);
    std::vector<std::string> expected;
    for (const auto& m : original)
        if (!deletes || m.uid == "dup") expected.push_back(m.uid + m.body);
    CHECK(left == expected);
}

} // namespace

TEST_CASE("fetch_new: order of effects is intent, RETR, deliver, stored, DELE, QUIT", "[leave]")
{
    for (const bool pipelining : {false, true}) {
        INFO("pipelining " << pipelining);
        observed w(pipelining);
        auto& [events, server, original, store, app] = w;
        const auto out = run(server, store, app, leave_policy::delete_after_fetch());
        REQUIRE_FALSE(out.ec);
        CHECK(out.result.fetched == 4);
        CHECK(out.result.deleted == 4);
        CHECK(out.result.skipped_duplicates == 2);
        REQUIRE(out.result.duplicates.size() == 2);
        CHECK(out.result.duplicates[0].number == 3);
        CHECK(out.result.quit_confirmed);
        CHECK(out.result.failures.empty());
        check_done(original, *server, app, store, true);

        for (const auto& [number, uid] : std::vector<std::pair<int, std::string>>{
                 {1, "uid-1"}, {2, "uid-2"}, {4, original[3].uid}, {6, "uid-6"}}) {
            const auto n = std::to_string(number);
            const auto intent = index_of(events, "R:" + uid + ":pending");
            const auto retr = index_of(events, "C:RETR " + n);
            const auto delivered = index_of(events, "D:" + uid);
            const auto stored = index_of(events, "R:" + uid + ":stored");
            const auto dele = index_of(events, "C:DELE " + n);
            CHECK(intent < retr);
            CHECK(delivered < stored);
            CHECK(stored < dele);
            CHECK(dele < index_of(events, "C:QUIT"));
        }
        CHECK(count(events, "C:RETR 3") == 0); // duplicates are never fetched
        CHECK(count(events, "C:RETR 5") == 0);

        // A rerun fetches nothing and changes nothing but forgetting the deleted UIDs.
        events.clear();
        const auto again = run(server, store, app, leave_policy::delete_after_fetch());
        REQUIRE_FALSE(again.ec);
        CHECK(again.result.fetched == 0);
        CHECK(again.result.deleted == 0);
        CHECK(again.result.forgotten == 4);
        CHECK(count(events, "C:RETR") == 0);
        CHECK(store.size() == 0);
        check_done(original, *server, app, store, true);
    }
}

TEST_CASE("fetch_new: group commit syncs and records a batch at once, before any DELE", "[leave]")
{
    for (const std::size_t batch : {1u, 2u, 3u, 64u}) {
        INFO("batches of " << batch);
        observed w(true);
        auto& [events, server, original, store, app] = w;
        streaming_app delivery(app);
        delivery.batching = true;
        pop3::fetch_options options;
        options.batch.max_messages = batch;
        const auto out =
            run_with(server, store, delivery, leave_policy::delete_after_fetch(), options);
        REQUIRE_FALSE(out.ec);
        CHECK(out.result.fetched == 4);
        CHECK(out.result.deleted == 4);
        check_done(original, *server, app, store, true);
        const std::size_t batches = (4 + batch - 1) / batch;
        CHECK(delivery.syncs == batches);
        // One store write for the intent, one per batch (the rerun checks forget nothing).
        CHECK(store.applies == 1 + batches);
        for (const auto& uid : {std::string("uid-1"), std::string("uid-2"), original[3].uid,
                                std::string("uid-6")}) {
            CHECK(index_of(events, "D:" + uid) < index_of(events, "R:" + uid + ":stored"));
            CHECK(index_of(events, "R:" + uid + ":stored") < index_of(events, "C:DELE 1"));
        }
    }
}

TEST_CASE("fetch_new: a failed sync records and deletes nothing of its batch", "[leave]")
{
    auto server = make_server(true);
    const auto original = server->mailbox;
    logging_store store;
    app_storage app;
    app.fail_call = 2; // the second message of the first batch does not reach the storage
    streaming_app delivery(app);
    delivery.batching = true;
    pop3::fetch_options options;
    options.batch.max_messages = 3;
    auto out = run_with(server, store, delivery, leave_policy::delete_after_fetch(), options);
    CHECK(out.ec == pop3_test::generic_condition(std::errc::no_space_on_device));
    CHECK(out.result.failed_stage == pop3::fetch_stage::delivery);
    CHECK(out.result.fetched == 0);
    CHECK(server->mailbox.size() == original.size()); // no DELE, no QUIT
    CHECK(delivery.syncs == 1);
    check_never_lost(original, *server, app);
    // The batch was never confirmed: the rerun delivers it again, flagged maybe_delivered.
    out = run_with(server, store, delivery, leave_policy::delete_after_fetch(), options);
    REQUIRE_FALSE(out.ec);
    CHECK(out.result.fetched == 4);
    CHECK(out.result.redelivered == 3);
    check_done(original, *server, app, store, true);
    CHECK(app.violations == 0);
}

TEST_CASE("fetch_new: keep_forever leaves the mailbox alone; a rerun fetches nothing", "[leave]")
{
    auto server = make_server(true);
    const auto original = server->mailbox;
    pop3::memory_uid_store store;
    app_storage app;
    auto out = run(server, store, app, leave_policy::keep_forever());
    REQUIRE_FALSE(out.ec);
    CHECK(out.result.fetched == 4);
    CHECK(out.result.deleted == 0);
    check_done(original, *server, app, store, false);
    const auto commands = server->commands.size();
    out = run(server, store, app, leave_policy::keep_forever());
    REQUIRE_FALSE(out.ec);
    CHECK(out.result.fetched == 0);
    CHECK(count(std::vector<std::string>(server->commands.begin() + static_cast<long>(commands),
                                         server->commands.end()),
                "RETR") == 0);
    check_done(original, *server, app, store, false);
}

TEST_CASE("fetch_new: a failed delivery stops the run without DELE or QUIT", "[leave]")
{
    auto server = make_server();
    const auto original = server->mailbox;
    pop3::memory_uid_store store;
    app_storage app;
    app.fail_call = 2;
    auto out = run(server, store, app, leave_policy::delete_after_fetch());
    CHECK(out.ec == pop3_test::generic_condition(std::errc::no_space_on_device));
    CHECK(out.result.error == out.ec);
    CHECK(out.result.fetched == 1);
    CHECK_FALSE(out.result.quit_confirmed);
    CHECK(count(server->commands, "DELE") == 0);
    CHECK(count(server->commands, "QUIT") == 0);
    CHECK(server->closed_by_client);
    CHECK(server->mailbox.size() == original.size());
    CHECK(store.find("uid-1")->stored);
    CHECK_FALSE(store.find("uid-2")->stored); // started, never confirmed

    // The rerun delivers uid-2 again, flagged, and finishes.
    std::vector<std::string> events;
    app.events = &events;
    out = run(server, store, app, leave_policy::delete_after_fetch());
    REQUIRE_FALSE(out.ec);
    CHECK(out.result.fetched == 3);
    // The intent for all four was recorded in one batch before the first RETR; after the
    // failure it was withdrawn for the two never reached, so only uid-2 (whose failed
    // delivery may have stored it) comes back flagged.
    CHECK(out.result.redelivered == 1);
    CHECK(index_of(events, "D:uid-2:maybe") < events.size());
    CHECK(index_of(events, "D:uid-6") < events.size());
    CHECK(app.copies["uid-2"].size() == 1);
    check_done(original, *server, app, store, true);
}

TEST_CASE("fetch_new: quit_after_failure deletes what was recorded, then QUITs", "[leave]")
{
    auto server = make_server(true);
    const auto original = server->mailbox;
    pop3::memory_uid_store store;
    app_storage app;
    app.fail_call = 3;
    pop3::fetch_options options;
    options.quit_after_failure = true;
    const auto out = run(server, store, app, leave_policy::delete_after_fetch(), options);
    CHECK(out.ec == pop3_test::generic_condition(std::errc::no_space_on_device));
    CHECK(out.result.quit_confirmed);
    CHECK(out.result.fetched == 2);
    CHECK(out.result.deleted == 2);
    CHECK(server->mailbox.size() == original.size() - 2);
    CHECK_FALSE(server->closed_by_client);
    check_never_lost(original, *server, app);
}

TEST_CASE("fetch_new: a throwing delivery closes the connection and propagates", "[leave]")
{
    auto server = make_server();
    pop3::memory_uid_store store;
    app_storage app;
    app.fail_call = 1;
    app.throw_instead = true;
    CHECK_THROWS_AS(run(server, store, app, leave_policy::delete_after_fetch()),
                    std::runtime_error);
    CHECK(server->closed_by_client);
    CHECK(count(server->commands, "QUIT") == 0);
    CHECK(server->mailbox.size() == sample_mailbox().size());
}

TEST_CASE("fetch_new: already_stored confirms an unconfirmed delivery without RETR", "[leave]")
{
    auto server = make_server();
    const auto original = server->mailbox;
    pop3::memory_uid_store store;
    store.record("uid-2", pop3::uid_entry{now, false, false, std::nullopt});
    app_storage app;
    app.copies["uid-2"].push_back(original[1].body); // the earlier run did store it
    std::vector<std::string> asked;
    pop3::fetch_options options;
    options.already_stored = [&](std::string_view uid) {
        asked.emplace_back(uid);
        return app.copies.count(std::string(uid)) != 0;
    };
    const auto out = run(server, store, app, leave_policy::delete_after_fetch(), options);
    REQUIRE_FALSE(out.ec);
    CHECK(asked == std::vector<std::string>{"uid-2"}); // only unconfirmed UIDs are asked
    CHECK(out.result.confirmed == 1);
    CHECK(out.result.fetched == 3);
    CHECK(count(server->commands, "RETR 2") == 0);
    CHECK(out.result.deleted == 4);
    check_done(original, *server, app, store, true);
}

TEST_CASE("fetch_new: servers without UIDL get not_supported and nothing happens", "[leave]")
{
    for (const bool advertised : {false, true}) {
        auto server = make_server();
        server->uidl_supported = false;
        server->advertise_uidl = advertised;
        pop3::memory_uid_store store;
        app_storage app;
        const auto out = run(server, store, app, leave_policy::delete_after_fetch());
        CHECK(out.ec == pop3::errc::not_supported);
        CHECK(count(server->commands, "RETR") == 0);
        CHECK(count(server->commands, "QUIT") == 0);
        CHECK(app.calls == 0);
        CHECK(store.size() == 0);
        CHECK(count(server->commands, "UIDL") == (advertised ? 1u : 0u));
    }
}

TEST_CASE("fetch_new: a refused RETR or DELE is a per-message failure, counted exactly", "[leave]")
{
    auto server = make_server(true);
    server->refuse_retr = {2};
    server->refuse_dele = {6};
    const auto original = server->mailbox;
    pop3::memory_uid_store store;
    app_storage app;
    auto out = run(server, store, app, leave_policy::delete_after_fetch());
    REQUIRE_FALSE(out.ec);
    CHECK(out.result.fetched == 3);
    CHECK(out.result.deleted == 2); // 1 and 4; 6 refused
    REQUIRE(out.result.failures.size() == 2);
    CHECK(out.result.failures[0].number == 2);
    CHECK(out.result.failures[0].error == pop3::errc::server_error);
    CHECK(out.result.failures[1].number == 6);
    CHECK(server->mailbox.size() == original.size() - 2);
    // Each DELE's verdict came with the batch: no RSET and second round of DELEs to learn it.
    CHECK(count(server->commands, "RSET") == 0);
    CHECK(count(server->commands, "DELE") == 3);
    check_never_lost(original, *server, app);

    server->refuse_retr.clear();
    server->refuse_dele.clear();
    out = run(server, store, app, leave_policy::delete_after_fetch());
    REQUIRE_FALSE(out.ec);
    CHECK(out.result.fetched == 1);
    CHECK(out.result.redelivered == 0); // uid-2 was refused, never delivered: not flagged
    check_done(original, *server, app, store, true);
}

TEST_CASE("fetch_new: refuses a client that is not logged in", "[leave]")
{
    net::io_context ioc;
    auto server = make_server();
    client_type c{ioc.get_executor(), server};
    pop3::memory_uid_store store;
    app_storage app;
    pop3::error_code ec;
    pop3::fetch_new(c, store, leave_policy::keep_forever(), std::ref(app), ec);
    CHECK(ec == pop3::errc::wrong_state);
    CHECK_THROWS_AS(pop3::fetch_new(c, store, leave_policy::keep_forever(), std::ref(app)),
                    pop3::error);
}

TEST_CASE("fetch_new: the store failing at every write, then reruns: nothing lost or doubled",
          "[leave]")
{
    for (const auto& policy : {leave_policy::delete_after_fetch(), leave_policy::keep_forever()}) {
        const bool deletes = policy.what == leave_policy::rule::delete_after_fetch;
        for (std::size_t fail = 1; fail <= 8; ++fail) {
          for (std::size_t batch = 1; batch <= 3; ++batch) {
            INFO("apply " << fail << " fails, deletes " << deletes << ", batches of " << batch);
            auto server = make_server(fail % 2 == 0);
            const auto original = server->mailbox;
            logging_store store;
            store.fail_apply = fail;
            app_storage app;
            pop3::fetch_options options;
            options.batch.max_messages = batch;
            streaming_app batching(app);
            batching.batching = true;
            auto out = batch == 2 ? run_with(server, store, batching, policy, options)
                                  : run(server, store, app, policy, options);
            check_never_lost(original, *server, app);
            for (int attempt = 0; attempt < 3 && (out.ec || out.result.fetched > 0); ++attempt)
                out = run(server, store, app, policy);
            REQUIRE_FALSE(out.ec);
            check_done(original, *server, app, store, deletes);
            CHECK(batching.contract_violations == 0);
          }
        }
    }
}

TEST_CASE("fetch_new: the connection cut at every byte, both directions, then reruns", "[leave]")
{
    std::size_t faults = 0;
    for (const bool pipelining : {false, true}) {
        for (const auto& policy :
             {leave_policy::delete_after_fetch(), leave_policy::keep_forever()}) {
            const bool deletes = policy.what == leave_policy::rule::delete_after_fetch;
            // How many bytes a clean session moves each way.
            std::size_t c2s = 0, s2c = 0;
            {
                auto server = make_server(pipelining);
                pop3::memory_uid_store store;
                app_storage app;
                REQUIRE_FALSE(run(server, store, app, policy).ec);
                c2s = server->c2s_total;
                s2c = server->s2c_total;
            }
            for (const bool client_side : {true, false}) {
                const auto total = client_side ? c2s : s2c;
                // Every byte on the client side; every third on the (longer) server side.
                for (std::size_t cut = 0; cut < total; cut += client_side ? 1 : 3) {
                    INFO("pipelining " << pipelining << " deletes " << deletes << " cut "
                                       << (client_side ? "c2s " : "s2c ") << cut);
                    auto server = make_server(pipelining);
                    const auto original = server->mailbox;
                    (client_side ? server->cut_c2s : server->cut_s2c) = cut;
                    pop3::memory_uid_store store;
                    app_storage app;
                    // Alternate the whole-message callback and the streaming delivery;
                    // a message cut off must always be aborted.
                    // Group commit in batches of 1 to 3 messages, the streaming delivery
                    // syncing them itself every other time.
                    streaming_app delivery(app);
                    delivery.batching = cut % 4 == 1;
                    pop3::fetch_options options;
                    options.batch.max_messages = 1 + cut / 2 % 3;
                    auto out = cut % 2 == 0 ? run(server, store, app, policy, options)
                                            : run_with(server, store, delivery, policy, options);
                    CHECK(delivery.contract_violations == 0);
                    CHECK_FALSE(delivery.open());
                    CHECK(delivery.begins == delivery.commits + delivery.aborts);
                    if (server->cut_fired) ++faults;
                    CHECK(out.ec); // every cut before the last byte is noticed
                    check_never_lost(original, *server, app);
                    server->cut_c2s.reset();
                    server->cut_s2c.reset();
                    for (int attempt = 0; attempt < 3 && (out.ec || out.result.fetched > 0);
                         ++attempt)
                        out = run(server, store, app, policy);
                    REQUIRE_FALSE(out.ec);
                    check_done(original, *server, app, store, deletes);
                }
            }
        }
    }
    CHECK(faults > 1500);
}

// ---------------------------------------------------------------------------------------
// The streaming interface (pop3::message_delivery)
// ---------------------------------------------------------------------------------------

TEST_CASE("fetch_new streaming: chunks arrive in order and make up the message", "[leave]")
{
    for (const bool pipelining : {false, true}) {
        INFO("pipelining " << pipelining);
        observed w(pipelining);
        auto& [events, server, original, store, app] = w;
        streaming_app delivery(app);
        delivery.events = &events;
        const auto out = run_with(server, store, delivery, leave_policy::delete_after_fetch());
        REQUIRE_FALSE(out.ec);
        CHECK(out.result.fetched == 4);
        CHECK(out.result.deleted == 4);
        CHECK(out.result.listed == 6);
        CHECK(out.result.pending == 4);
        CHECK(out.result.deferred == 0);
        REQUIRE(out.result.deleted_messages.size() == 4);
        CHECK(out.result.deleted_messages[3].number == 6);
        CHECK(out.result.deleted_messages[3].uid == "uid-6");
        std::uint64_t bytes = 0;
        for (const auto i : {0, 1, 3, 5})
            bytes += original[static_cast<std::size_t>(i)].body.size();
        CHECK(out.result.bytes == bytes);
        CHECK(delivery.contract_violations == 0);
        CHECK(delivery.aborts == 0);
        CHECK(delivery.commits == 4);
        CHECK_FALSE(delivery.open());
        CHECK(delivery.numbers == std::vector<pop3::message_number>{1, 2, 4, 6});
        CHECK(delivery.uids ==
              std::vector<std::string>{"uid-1", "uid-2", original[3].uid, "uid-6"});
        for (std::size_t i = 0; i < 4; ++i) {
            // The LIST size (the fake server counts the unstuffed bytes) comes along.
            const auto& m = original[delivery.numbers[i] - 1];
            REQUIRE(delivery.octets[i]);
            CHECK(*delivery.octets[i] == m.body.size());
            CHECK_FALSE(delivery.maybe[i]);
        }
        CHECK(delivery.chunks["uid-6"] > 1); // 2 KB in 1500-byte reads: several chunks
        // The stored bytes are the concatenated chunks (dot-unstuffed), byte for byte.
        check_done(original, *server, app, store, true);

        // Per message: intent, RETR, begin, chunks, commit (D:), stored, DELE; messages
        // never interleave.
        for (const auto& [number, uid] : std::vector<std::pair<int, std::string>>{
                 {1, "uid-1"}, {2, "uid-2"}, {4, original[3].uid}, {6, "uid-6"}}) {
            const auto n = std::to_string(number);
            const auto began = index_of(events, "B:" + uid);
            const auto committed = index_of(events, "D:" + uid);
            CHECK(index_of(events, "R:" + uid + ":pending") < index_of(events, "C:RETR " + n));
            CHECK(began < committed);
            CHECK(committed < index_of(events, "R:" + uid + ":stored"));
            CHECK(index_of(events, "R:" + uid + ":stored") < index_of(events, "C:DELE " + n));
            for (auto i = began + 1; i < committed; ++i)
                if (events[i].rfind("W:", 0) == 0 || events[i].rfind("B:", 0) == 0)
                    CHECK(events[i] == "W:" + uid);
        }
    }
}

TEST_CASE("fetch_new streaming: an empty message is begun and committed", "[leave]")
{
    auto server = std::make_shared<fake_server>();
    server->mailbox = {{"empty", ""}, {"one", "Subject: x\r\n\r\ny\r\n"}};
    pop3::memory_uid_store store;
    app_storage app;
    streaming_app delivery(app);
    const auto out = run_with(server, store, delivery, leave_policy::keep_forever());
    REQUIRE_FALSE(out.ec);
    CHECK(out.result.fetched == 2);
    CHECK(delivery.commits == 2);
    CHECK(delivery.chunks["empty"] == 0);
    REQUIRE(app.copies.count("empty") == 1);
    CHECK(app.copies["empty"].front().empty());
    CHECK(delivery.contract_violations == 0);
}

TEST_CASE("fetch_new streaming: a failed write aborts the message and stops the run", "[leave]")
{
    for (const bool pipelining : {false, true}) {
        INFO("pipelining " << pipelining);
        auto server = make_server(pipelining);
        const auto original = server->mailbox;
        pop3::memory_uid_store store;
        app_storage app;
        streaming_app delivery(app);
        delivery.fail_write_of = "uid-2";
        auto out = run_with(server, store, delivery, leave_policy::delete_after_fetch());
        CHECK(out.ec == pop3_test::generic_condition(std::errc::no_space_on_device));
        CHECK(out.result.fetched == 1);
        CHECK(delivery.aborts == 1);
        CHECK(delivery.commits == 1);
        CHECK_FALSE(delivery.open());
        CHECK(delivery.contract_violations == 0);
        CHECK(app.copies.count("uid-2") == 0);
        CHECK(count(server->commands, "DELE") == 0);
        CHECK(count(server->commands, "QUIT") == 0);
        CHECK(server->closed_by_client);
        CHECK(server->mailbox.size() == original.size());
        CHECK(store.find("uid-1")->stored);
        // Aborted: certainly not stored, so its intent was withdrawn.
        CHECK_FALSE(store.find("uid-2"));

        // The rerun delivers uid-2 again, not flagged, and finishes.
        streaming_app again(app);
        out = run_with(server, store, again, leave_policy::delete_after_fetch());
        REQUIRE_FALSE(out.ec);
        CHECK(out.result.fetched == 3);
        CHECK(out.result.redelivered == 0);
        REQUIRE_FALSE(again.maybe.empty());
        CHECK(again.uids.front() == "uid-2");
        CHECK_FALSE(again.maybe.front());
        check_done(original, *server, app, store, true);
    }
}

TEST_CASE("fetch_new streaming: a failed begin is aborted too", "[leave]")
{
    auto server = make_server();
    pop3::memory_uid_store store;
    app_storage app;
    streaming_app delivery(app);
    delivery.fail_begin = 1;
    const auto out = run_with(server, store, delivery, leave_policy::delete_after_fetch());
    CHECK(out.ec == pop3_test::generic_condition(std::errc::permission_denied));
    CHECK(delivery.begins == 1);
    CHECK(delivery.writes == 0);
    CHECK(delivery.aborts == 1);
    CHECK(delivery.contract_violations == 0);
    CHECK(out.result.fetched == 0);
    CHECK(count(server->commands, "DELE") == 0);
}

TEST_CASE("fetch_new streaming: a failed commit is aborted, not recorded, not deleted", "[leave]")
{
    for (const bool quit_after_failure : {false, true}) {
        INFO("quit_after_failure " << quit_after_failure);
        auto server = make_server(true);
        const auto original = server->mailbox;
        pop3::memory_uid_store store;
        app_storage app;
        app.fail_call = 2; // uid-2's commit
        streaming_app delivery(app);
        pop3::fetch_options options;
        options.quit_after_failure = quit_after_failure;
        const auto out =
            run_with(server, store, delivery, leave_policy::delete_after_fetch(), options);
        CHECK(out.ec == pop3_test::generic_condition(std::errc::no_space_on_device));
        CHECK(delivery.commits == 1);
        CHECK(delivery.aborts == 1);
        CHECK(delivery.contract_violations == 0);
        CHECK(out.result.fetched == 1);
        REQUIRE(store.find("uid-2"));
        CHECK_FALSE(store.find("uid-2")->stored);
        CHECK(count(server->commands, "DELE 2") == 0);
        if (quit_after_failure) {
            CHECK(out.result.quit_confirmed);
            CHECK(out.result.deleted == 1); // uid-1 only
            CHECK(server->mailbox.size() == original.size() - 1);
        } else {
            CHECK(count(server->commands, "DELE") == 0);
            CHECK(server->mailbox.size() == original.size());
        }
        check_never_lost(original, *server, app);
    }
}

TEST_CASE("fetch_new streaming: a throwing write aborts, closes and propagates", "[leave]")
{
    auto server = make_server(true);
    pop3::memory_uid_store store;
    app_storage app;
    streaming_app delivery(app);
    delivery.fail_write_of = "uid-1";
    delivery.throw_in_write = true;
    CHECK_THROWS_AS(run_with(server, store, delivery, leave_policy::delete_after_fetch()),
                    std::runtime_error);
    CHECK(delivery.aborts == 1);
    CHECK_FALSE(delivery.open());
    CHECK(delivery.contract_violations == 0);
    CHECK(server->closed_by_client);
    CHECK(count(server->commands, "QUIT") == 0);
    CHECK(server->mailbox.size() == sample_mailbox().size());
}

TEST_CASE("fetch_new streaming: a refused RETR is never begun; the run goes on", "[leave]")
{
    auto server = make_server(true);
    server->refuse_retr = {2};
    pop3::memory_uid_store store;
    app_storage app;
    streaming_app delivery(app);
    std::vector<std::pair<std::string, pop3::error_code>> finished;
    pop3::fetch_options options;
    options.progress = [&](const pop3::fetch_progress& p) {
        if (p.message) finished.emplace_back(std::string(p.message->uid), p.error);
    };
    const auto out = run_with(server, store, delivery, leave_policy::delete_after_fetch(), options);
    REQUIRE_FALSE(out.ec);
    CHECK(out.result.fetched == 3);
    CHECK(delivery.begins == 3);
    CHECK(delivery.aborts == 0);
    CHECK(std::find(delivery.uids.begin(), delivery.uids.end(), "uid-2") == delivery.uids.end());
    // Each message finishes once: the refused one when its -ERR arrives, the others when
    // their batch is recorded (group commit).
    REQUIRE(finished.size() == 4);
    CHECK(finished[0].first == "uid-2");
    CHECK(finished[0].second == pop3::errc::server_error);
    for (std::size_t i = 1; i < finished.size(); ++i) {
        CHECK(finished[i].first != "uid-2");
        CHECK_FALSE(finished[i].second);
    }
    // Refused, so certainly not delivered: no intent left to flag it next time.
    CHECK_FALSE(store.find("uid-2"));
}

TEST_CASE("fetch_new streaming: a connection lost inside a message aborts it", "[leave]")
{
    // Find where uid-6's 2 KB body is on the wire, and cut in its middle.
    auto server = make_server();
    std::size_t cut = 0;
    {
        // A clean session with only uid-6 left unfetched tells the offset of its body.
        auto s = make_server();
        pop3::memory_uid_store store;
        for (const auto& m : sample_mailbox())
            if (m.uid != "uid-6" && m.uid != "dup")
                store.record(m.uid, pop3::uid_entry{now, true, false, std::nullopt});
        app_storage app;
        REQUIRE_FALSE(run(s, store, app, leave_policy::keep_forever()).ec);
        cut = s->s2c_total - 1000; // inside the 2 KB body (QUIT's reply is short)
    }
    pop3::memory_uid_store store;
    for (const auto& m : sample_mailbox())
        if (m.uid != "uid-6" && m.uid != "dup")
            store.record(m.uid, pop3::uid_entry{now, true, false, std::nullopt});
    server->cut_s2c = cut;
    app_storage app;
    streaming_app delivery(app);
    const auto out = run_with(server, store, delivery, leave_policy::delete_after_fetch());
    CHECK(out.ec);
    CHECK(server->cut_fired);
    CHECK(delivery.begins == 1);
    CHECK(delivery.writes >= 1);
    CHECK(delivery.aborts == 1);
    CHECK(delivery.commits == 0);
    CHECK(delivery.contract_violations == 0);
    CHECK_FALSE(store.find("uid-6")); // aborted: the intent is withdrawn
    CHECK(count(server->commands, "DELE") == 0);
}

TEST_CASE("fetch_new: max_messages fetches at most N per run and records nothing else", "[leave]")
{
    for (const auto& policy : {leave_policy::delete_after_fetch(), leave_policy::keep_forever()}) {
        const bool deletes = policy.what == leave_policy::rule::delete_after_fetch;
        for (const bool streaming : {true, false}) {
            INFO("deletes " << deletes << " streaming " << streaming);
            auto server = make_server(true);
            const auto original = server->mailbox;
            pop3::memory_uid_store store;
            app_storage app;
            pop3::fetch_options options;
            options.max_messages = 2;
            const auto once = [&] {
                streaming_app delivery(app);
                return streaming ? run_with(server, store, delivery, policy, options)
                                 : run(server, store, app, policy, options);
            };

            auto out = once();
            REQUIRE_FALSE(out.ec);
            CHECK(out.result.pending == 4);
            CHECK(out.result.fetched == 2);
            CHECK(out.result.deferred == 2);
            CHECK(out.result.deleted == (deletes ? 2u : 0u));
            CHECK(count(server->commands, "RETR") == 2);
            CHECK(app.copies.count("uid-1") == 1);
            CHECK(app.copies.count("uid-2") == 1);
            // Nothing is recorded for the messages left for the next run.
            CHECK_FALSE(store.find(original[3].uid));
            CHECK_FALSE(store.find("uid-6"));
            CHECK(store.size() == 2);

            out = once();
            REQUIRE_FALSE(out.ec);
            CHECK(out.result.fetched == 2);
            CHECK(out.result.redelivered == 0); // never started before: not flagged
            CHECK(out.result.deferred == 0);
            CHECK(app.copies.count(original[3].uid) == 1);
            CHECK(app.copies.count("uid-6") == 1);

            out = once();
            REQUIRE_FALSE(out.ec);
            CHECK(out.result.fetched == 0);
            CHECK(out.result.pending == 0);
            check_done(original, *server, app, store, deletes);
        }
    }
}

TEST_CASE("fetch_new: max_messages 0 fetches nothing but still deletes what is due", "[leave]")
{
    auto server = make_server();
    pop3::memory_uid_store store;
    store.record("uid-1", pop3::uid_entry{now, true, false, std::nullopt});
    app_storage app;
    pop3::fetch_options options;
    options.max_messages = 0;
    bool called = false;
    options.progress = [&](const pop3::fetch_progress&) { called = true; };
    const auto out = run(server, store, app, leave_policy::delete_after_fetch(), options);
    REQUIRE_FALSE(out.ec);
    CHECK(out.result.fetched == 0);
    CHECK(out.result.deferred == 3);
    CHECK(out.result.deleted == 1);
    CHECK(count(server->commands, "RETR") == 0);
    CHECK(store.size() == 1);
    CHECK_FALSE(called); // nothing to fetch: no progress
}

TEST_CASE("fetch_new: a rerun after max_messages and a failure flags only what was started",
          "[leave]")
{
    auto server = make_server();
    const auto original = server->mailbox;
    pop3::memory_uid_store store;
    app_storage app;
    app.fail_call = 2;
    pop3::fetch_options options;
    options.max_messages = 3;
    auto out = run(server, store, app, leave_policy::delete_after_fetch(), options);
    CHECK(out.ec == pop3_test::generic_condition(std::errc::no_space_on_device));
    CHECK_FALSE(store.find("uid-2")->stored); // its delivery failed: maybe stored
    CHECK_FALSE(store.find(original[3].uid)); // within the 3, never reached: withdrawn
    CHECK_FALSE(store.find("uid-6"));         // beyond max: untouched

    std::vector<std::string> events;
    app.events = &events;
    options.max_messages.reset();
    out = run(server, store, app, leave_policy::delete_after_fetch(), options);
    REQUIRE_FALSE(out.ec);
    CHECK(out.result.fetched == 3);
    CHECK(out.result.redelivered == 1); // uid-2 only
    CHECK(index_of(events, "D:uid-2:maybe") < events.size());
    CHECK(index_of(events, "D:" + original[3].uid) < events.size()); // withdrawn: not flagged
    CHECK(index_of(events, "D:uid-6") < events.size());               // new: not flagged
    check_done(original, *server, app, store, true);
}

TEST_CASE("fetch_new: progress counts messages and bytes", "[leave]")
{
    auto server = make_server(true);
    const auto original = server->mailbox;
    pop3::memory_uid_store store;
    app_storage app;
    streaming_app delivery(app);
    std::vector<pop3::fetch_progress> calls;
    std::vector<std::string> finished;
    pop3::fetch_options options;
    options.progress = [&](const pop3::fetch_progress& p) {
        calls.push_back(p);
        if (p.message) finished.emplace_back(p.message->uid);
        calls.back().message = nullptr; // not valid after the call
    };
    const auto out = run_with(server, store, delivery, leave_policy::keep_forever(), options);
    REQUIRE_FALSE(out.ec);
    std::uint64_t total = 0;
    for (const auto i : {0, 1, 3, 5}) total += original[static_cast<std::size_t>(i)].body.size();
    REQUIRE(calls.size() > 5);
    CHECK(calls.front().messages_total == 4);
    CHECK(calls.front().messages_done == 0);
    CHECK(calls.front().bytes_done == 0);
    CHECK(calls.front().bytes_total == total); // the fake's LIST sizes are exact
    for (std::size_t i = 1; i < calls.size(); ++i) {
        CHECK(calls[i].bytes_done >= calls[i - 1].bytes_done);
        CHECK(calls[i].messages_done >= calls[i - 1].messages_done);
    }
    CHECK(calls.back().messages_done == 4);
    CHECK(calls.back().bytes_done == total);
    CHECK(calls.back().message_bytes == original[5].body.size());
    CHECK(finished == std::vector<std::string>{"uid-1", "uid-2", original[3].uid, "uid-6"});
}

namespace {

/// A delivery that keeps nothing: it compares each chunk with the expected bytes at its
/// offset and remembers only sizes. What it sees proves the message streamed through.
struct checking_delivery final : pop3::message_delivery {
    const std::string* expected = nullptr;
    std::uint64_t offset = 0;
    std::size_t chunks = 0;
    std::size_t largest_chunk = 0;
    std::size_t mismatches = 0;
    std::size_t commits = 0;
    std::optional<std::uint64_t> octets;

    pop3::error_code begin(const pop3::fetched_message_info& m) override
    {
        offset = 0;
        octets = m.octets;
        return {};
    }
    pop3::error_code write(std::string_view chunk) override
    {
        ++chunks;
        largest_chunk = std::max(largest_chunk, chunk.size());
        if (offset + chunk.size() > expected->size() ||
            expected->compare(static_cast<std::size_t>(offset), chunk.size(), chunk) != 0)
            ++mismatches;
        offset += chunk.size();
        return {};
    }
    pop3::error_code commit() override
    {
        ++commits;
        return offset == expected->size() ? pop3::error_code{}
                                          : pop3_test::generic_error(std::errc::io_error);
    }
    void abort() noexcept override {}
};

} // namespace

TEST_CASE("fetch_new streaming: a 20 MB message streams through in small chunks", "[leave]")
{
    // 20 MiB of 1000-byte lines, some starting with a dot (stuffed on the wire).
    std::string body = "Subject: big\r\n\r\n";
    std::string line(998, 'b');
    for (std::size_t i = 0; body.size() < (std::size_t{20} << 20); ++i) {
        line[0] = i % 7 == 0 ? '.' : static_cast<char>('a' + i % 26);
        body += line;
        body += "\r\n";
    }
    auto server = std::make_shared<fake_server>();
    server->mailbox = {{"big", body}};
    pop3::memory_uid_store store;
    checking_delivery delivery;
    delivery.expected = &server->mailbox[0].body;
    std::uint64_t progress_bytes = 0;
    pop3::fetch_options options;
    options.progress = [&](const pop3::fetch_progress& p) { progress_bytes = p.bytes_done; };
    const auto out = run_with(server, store, delivery, leave_policy::delete_after_fetch(), options);
    REQUIRE_FALSE(out.ec);
    CHECK(out.result.fetched == 1);
    CHECK(out.result.deleted == 1);
    CHECK(out.result.bytes == body.size());
    CHECK(delivery.commits == 1);
    CHECK(delivery.mismatches == 0);
    CHECK(delivery.offset == body.size());
    REQUIRE(delivery.octets);
    CHECK(*delivery.octets == body.size());
    CHECK(progress_bytes == body.size());
    // The message never existed in one piece on the client side: it came in chunks no
    // larger than the client's read buffer.
    CHECK(delivery.largest_chunk <= std::size_t{64} << 10);
    CHECK(delivery.chunks > 300);
}
