// pop3::async_fetch_new against the in-memory POP3 server: every scenario runs once with
// fetch_new and once with async_fetch_new on identical servers, and both must agree on
// everything observable (the result, the commands sent, the store, the delivered mail),
// including the connection cut at every byte followed by reruns. Then 50 concurrent
// sessions on one io_context thread.
#include "../catch.hpp"
#include "leave_on_server_fake.hpp"
#include "test_net.hpp"

#include <pop3/leave_on_server.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
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
        {"uid-4", "Subject: four\r\n\r\nbody\r\n"},
        {"dup", "Subject: dup B\r\n\r\nB\r\n"},
        {"uid-6", "Subject: six\r\n\r\n" + std::string(2000, 'x') + "\r\n"},
    };
}

/// The application's storage, for the callback form: every copy, in delivery order.
struct app_storage {
    std::vector<std::string> delivered; ///< "uid[:maybe]" per call
    std::map<std::string, std::vector<std::string>> copies;
    std::size_t fail_call = 0; ///< 1-based call that fails (0: none)

    pop3::error_code operator()(const pop3::fetched_message& m)
    {
        const std::string uid(m.uid);
        delivered.push_back(uid + (m.maybe_delivered ? ":maybe" : ""));
        if (delivered.size() == fail_call)
            return pop3_test::generic_error(std::errc::no_space_on_device);
        auto& list = copies[uid];
        if (list.empty() || !m.maybe_delivered) list.emplace_back(m.bytes);
        return {};
    }
};

/// A streaming delivery that logs every call, in front of `app_storage`.
struct logging_delivery final : pop3::message_delivery {
    explicit logging_delivery(app_storage& a) : app(a) {}
    app_storage& app;
    std::vector<std::string> calls;
    std::string uid;
    pop3::fetched_message_info info;
    std::string bytes;

    pop3::error_code begin(const pop3::fetched_message_info& m) override
    {
        uid = std::string(m.uid);
        info = m;
        info.uid = uid;
        bytes.clear();
        calls.push_back("B:" + uid + ":" + std::to_string(m.octets.value_or(0)));
        return {};
    }
    pop3::error_code write(std::string_view chunk) override
    {
        calls.push_back("W:" + uid + ":" + std::to_string(chunk.size()));
        bytes.append(chunk);
        return {};
    }
    pop3::error_code commit() override
    {
        calls.push_back("C:" + uid);
        return app(pop3::fetched_message{info.number, info.uid, bytes, info.maybe_delivered});
    }
    void abort() noexcept override { calls.push_back("A:" + uid); }
};

std::string describe(const pop3::fetch_result& r)
{
    std::ostringstream out;
    out << "listed " << r.listed << " pending " << r.pending << " deferred " << r.deferred
        << " fetched " << r.fetched << " bytes " << r.bytes << " redelivered " << r.redelivered
        << " confirmed " << r.confirmed << " deleted " << r.deleted << " forgotten "
        << r.forgotten << " skipped " << r.skipped_duplicates << '/' << r.skipped_invalid
        << " quit " << r.quit_confirmed << " error " << r.error.message() << " stage "
        << static_cast<int>(r.failed_stage) << " deleted [";
    for (const auto& d : r.deleted_messages) out << d.number << ':' << d.uid << ' ';
    out << "] duplicates [";
    for (const auto& d : r.duplicates) out << d.number << ':' << d.uid << ' ';
    out << "] failures [";
    for (const auto& f : r.failures) out << f.number << ':' << f.uid << ':' << f.error.message() << ' ';
    out << ']';
    return out.str();
}

std::string describe(const pop3::uid_store& store)
{
    std::ostringstream out;
    store.for_each([&](std::string_view uid, const pop3::uid_entry& e) {
        out << uid << '=' << e.stored << e.deleted_locally << ' ';
    });
    return out.str();
}

std::string describe(const std::vector<fake_message>& mailbox)
{
    std::string out;
    for (const auto& m : mailbox) out += m.uid + ' ';
    return out;
}

/// Everything a run can be judged by.
struct world {
    std::shared_ptr<fake_server> server = std::make_shared<fake_server>();
    /// Its `fail_apply`-th write (1-based; 0: none) fails like a full disk.
    pop3_test::logging_store store{pop3_test::generic_error(std::errc::no_space_on_device)};
    app_storage app;
    pop3::error_code ec;
    pop3::fetch_result result;
    std::vector<std::string> delivery_calls;
    bool completed = true; ///< async: the handler ran (exactly once)
};

/// The async form reports the sync form's error_code itself: the same value in the same
/// category object, on both Asio flavours.
bool same_error(const pop3::error_code& async, const pop3::error_code& sync)
{
    return async == sync && &async.category() == &sync.category();
}

void check_same(const world& sync, const world& async)
{
    CHECK(async.completed);
    CHECK(same_error(async.ec, sync.ec));
    CHECK(describe(async.result) == describe(sync.result));
    CHECK(async.server->commands == sync.server->commands);
    CHECK(describe(async.server->mailbox) == describe(sync.server->mailbox));
    CHECK(async.server->closed_by_client == sync.server->closed_by_client);
    CHECK(describe(async.store) == describe(sync.store));
    CHECK(async.app.delivered == sync.app.delivered);
    CHECK(async.app.copies == sync.app.copies);
    CHECK(async.delivery_calls == sync.delivery_calls);
}

/// One session on `w`: log in, then fetch_new (sync) or async_fetch_new (a callback
/// token), with the streaming delivery or the callback form.
void run_once(world& w, bool async, bool streaming, const leave_policy& policy,
              const pop3::fetch_options& options = {})
{
    net::io_context ioc;
    client_type c{ioc.get_executor(), w.server};
    c.read_greeting(w.ec);
    pop3::login_options plain; // the fake server offers USER/PASS only, without TLS
    plain.allow_plaintext = true;
    if (!w.ec) c.login("user", "pass", plain, w.ec);
    if (w.ec) return;
    auto opts = options;
    opts.now = now;
    logging_delivery delivery(w.app);
    if (!async) {
        w.result = streaming ? pop3::fetch_new(c, w.store, policy, delivery, opts, w.ec)
                             : pop3::fetch_new(c, w.store, policy, std::ref(w.app), opts, w.ec);
    } else {
        int calls = 0;
        auto done = [&](pop3::error_code ec, pop3::fetch_result r) {
            ++calls;
            w.ec = ec;
            w.result = std::move(r);
        };
        if (streaming) pop3::async_fetch_new(c, w.store, policy, delivery, opts, done);
        else pop3::async_fetch_new(c, w.store, policy, std::ref(w.app), opts, done);
        CHECK(calls == 0); // never completes inside the initiating function
        ioc.run();
        w.completed = calls == 1;
    }
    w.delivery_calls.insert(w.delivery_calls.end(), delivery.calls.begin(), delivery.calls.end());
}

/// Two identical worlds made by `setup`, one run sync and one async, then compared.
template <class Setup>
void compare_runs(Setup setup, bool streaming, const leave_policy& policy,
                  const pop3::fetch_options& options = {}, int runs = 1)
{
    world sync, async;
    setup(sync);
    setup(async);
    for (int i = 0; i < runs; ++i) {
        INFO("run " << i);
        run_once(sync, false, streaming, policy, options);
        run_once(async, true, streaming, policy, options);
        check_same(sync, async);
    }
}

void sample(world& w, bool pipelining)
{
    w.server->mailbox = sample_mailbox();
    w.server->pipelining = pipelining;
}

} // namespace

TEST_CASE("async_fetch_new: a clean run matches fetch_new", "[leave][async]")
{
    for (const bool pipelining : {false, true})
        for (const bool streaming : {false, true}) {
            INFO("pipelining " << pipelining << " streaming " << streaming);
            compare_runs([&](world& w) { sample(w, pipelining); }, streaming,
                         leave_policy::delete_after_fetch(), {}, 2);
            compare_runs([&](world& w) { sample(w, pipelining); }, streaming,
                         leave_policy::keep_forever(), {}, 2);
        }
}

TEST_CASE("async_fetch_new: a failed delivery, then a rerun, match fetch_new", "[leave][async]")
{
    for (const bool streaming : {false, true}) {
        INFO("streaming " << streaming);
        compare_runs(
            [](world& w) {
                sample(w, false);
                w.app.fail_call = 2;
            },
            streaming, leave_policy::delete_after_fetch(), {}, 2);
    }
}

TEST_CASE("async_fetch_new: a refused RETR and DELE match fetch_new", "[leave][async]")
{
    for (const bool pipelining : {false, true})
        for (const bool streaming : {false, true}) {
            INFO("pipelining " << pipelining << " streaming " << streaming);
            compare_runs(
                [&](world& w) {
                    sample(w, pipelining);
                    w.server->refuse_retr = {2};
                    w.server->refuse_dele = {6};
                },
                streaming, leave_policy::delete_after_fetch());
        }
}

TEST_CASE("async_fetch_new: quit_after_failure matches fetch_new", "[leave][async]")
{
    pop3::fetch_options options;
    options.quit_after_failure = true;
    for (const bool streaming : {false, true}) {
        INFO("streaming " << streaming);
        compare_runs(
            [](world& w) {
                sample(w, true);
                w.app.fail_call = 3;
            },
            streaming, leave_policy::delete_after_fetch(), options, 2);
    }
}

TEST_CASE("async_fetch_new: max_messages matches fetch_new", "[leave][async]")
{
    pop3::fetch_options options;
    options.max_messages = 2;
    compare_runs([](world& w) { sample(w, true); }, true, leave_policy::delete_after_fetch(),
                 options, 3);
    options.max_messages = 0;
    compare_runs([](world& w) { sample(w, false); }, false, leave_policy::delete_after_fetch(),
                 options, 1);
}

TEST_CASE("async_fetch_new: no UIDL, or not logged in, matches fetch_new", "[leave][async]")
{
    for (const bool advertised : {false, true})
        compare_runs(
            [&](world& w) {
                sample(w, false);
                w.server->uidl_supported = false;
                w.server->advertise_uidl = advertised;
            },
            false, leave_policy::delete_after_fetch());

    net::io_context ioc;
    auto server = std::make_shared<fake_server>();
    client_type c{ioc.get_executor(), server}; // no greeting read: not in TRANSACTION
    pop3::memory_uid_store store;
    app_storage app;
    std::optional<pop3::error_code> got;
    pop3::async_fetch_new(c, store, leave_policy::keep_forever(), std::ref(app),
                          [&](pop3::error_code ec, const pop3::fetch_result&) { got = ec; });
    CHECK_FALSE(got); // posted, not completed inside the call
    ioc.run();
    REQUIRE(got);
    CHECK(*got == pop3::errc::wrong_state);
    CHECK_FALSE(server->closed_by_client);
}

TEST_CASE("async_fetch_new: use_future completes with the result", "[leave][async]")
{
    world w;
    sample(w, true);
    net::io_context ioc;
    client_type c{ioc.get_executor(), w.server};
    c.read_greeting();
    pop3::login_options plain;
    plain.allow_plaintext = true;
    c.login("user", "pass", plain);
    pop3::fetch_options options;
    options.now = now;
    // A temporary callback: the operation owns its copy.
    auto future = pop3::async_fetch_new(
        c, w.store, leave_policy::delete_after_fetch(),
        [&app = w.app](const pop3::fetched_message& m) { return app(m); }, options,
        net::use_future);
    ioc.run();
    const auto result = future.get();
    CHECK(result.fetched == 4);
    CHECK(result.deleted == 4);
    CHECK(result.quit_confirmed);
    CHECK(w.app.copies.size() == 4);
    CHECK(w.server->mailbox.size() == 2); // the two duplicates stay
}

TEST_CASE("async_fetch_new: the connection cut at every byte, then reruns, matches fetch_new",
          "[leave][async]")
{
    for (const bool pipelining : {false, true}) {
        const auto policy = leave_policy::delete_after_fetch();
        std::size_t c2s = 0, s2c = 0;
        {
            world w;
            sample(w, pipelining);
            run_once(w, false, false, policy);
            REQUIRE_FALSE(w.ec);
            c2s = w.server->c2s_total;
            s2c = w.server->s2c_total;
        }
        for (const bool client_side : {true, false}) {
            const auto total = client_side ? c2s : s2c;
            for (std::size_t cut = 0; cut < total; cut += client_side ? 1 : 3) {
                INFO("pipelining " << pipelining << " cut " << (client_side ? "c2s " : "s2c ")
                                   << cut);
                const bool streaming = cut % 2 == 1;
                world sync, async;
                for (world* w : {&sync, &async}) {
                    sample(*w, pipelining);
                    (client_side ? w->server->cut_c2s : w->server->cut_s2c) = cut;
                }
                run_once(sync, false, streaming, policy);
                run_once(async, true, streaming, policy);
                check_same(sync, async);
                CHECK(async.ec);
                for (world* w : {&sync, &async}) {
                    w->server->cut_c2s.reset();
                    w->server->cut_s2c.reset();
                }
                // Rerun both until done; they must keep agreeing and end complete.
                for (int attempt = 0; attempt < 3 && (sync.ec || sync.result.fetched > 0);
                     ++attempt) {
                    run_once(sync, false, false, policy);
                    run_once(async, true, false, policy);
                    check_same(sync, async);
                }
                REQUIRE_FALSE(async.ec);
                // Never lost, never duplicated: each unique message stored exactly once.
                for (const auto& m : sample_mailbox()) {
                    if (m.uid == "dup") continue;
                    const auto it = async.app.copies.find(m.uid);
                    REQUIRE(it != async.app.copies.end());
                    CHECK(it->second == std::vector<std::string>{m.body});
                }
                CHECK(async.app.copies.size() == 4);
                CHECK(describe(async.server->mailbox) == "dup dup ");
            }
        }
    }
}

TEST_CASE("async_fetch_new: 50 concurrent sessions on one io_context thread", "[leave][async]")
{
    constexpr std::size_t sessions = 50;
    net::io_context ioc;
    struct session {
        std::shared_ptr<fake_server> server = std::make_shared<fake_server>();
        pop3::memory_uid_store store;
        app_storage app;
        std::optional<client_type> client;
        pop3::error_code ec;
        pop3::fetch_result result;
        int completions = 0;
    };
    const auto body = [](std::size_t i, std::size_t m) {
        return "Subject: " + std::to_string(i) + "/" + std::to_string(m) + "\r\n\r\n" +
               std::string(500 * m, static_cast<char>('a' + m)) + "\r\n";
    };
    std::vector<std::unique_ptr<session>> all;
    pop3::login_options plain;
    plain.allow_plaintext = true;
    pop3::fetch_options options;
    options.now = now;
    for (std::size_t i = 0; i < sessions; ++i) {
        auto s = std::make_unique<session>();
        const auto id = std::to_string(i);
        for (std::size_t m = 1; m <= 3; ++m)
            s->server->mailbox.push_back({"s" + id + "-" + std::to_string(m), body(i, m)});
        s->server->pipelining = i % 2 == 0;
        s->client.emplace(ioc.get_executor(), s->server);
        s->client->read_greeting();
        s->client->login("user", "pass", plain);
        all.push_back(std::move(s));
    }
    for (auto& s : all) {
        auto* p = s.get();
        pop3::async_fetch_new(*p->client, p->store, leave_policy::delete_after_fetch(),
                              std::ref(p->app), options,
                              [p](pop3::error_code ec, pop3::fetch_result r) {
                                  ++p->completions;
                                  p->ec = ec;
                                  p->result = std::move(r);
                              });
    }
    ioc.run();
    for (std::size_t i = 0; i < sessions; ++i) {
        INFO("session " << i);
        auto& s = *all[i];
        CHECK(s.completions == 1);
        CHECK_FALSE(s.ec);
        CHECK(s.result.fetched == 3);
        CHECK(s.result.deleted == 3);
        CHECK(s.result.quit_confirmed);
        CHECK(s.server->mailbox.empty());
        REQUIRE(s.app.copies.size() == 3);
        for (std::size_t m = 1; m <= 3; ++m) {
            const auto uid = "s" + std::to_string(i) + "-" + std::to_string(m);
            REQUIRE(s.app.copies.count(uid) == 1);
            CHECK(s.app.copies[uid] == std::vector<std::string>{body(i, m)});
        }
    }
}

namespace {

/// One sync and one async run of identical worlds made by `setup`; both must agree, and
/// both must name `stage` as what stopped them.
template <class Setup>
void check_stage(Setup setup, bool streaming, pop3::fetch_stage stage,
                 const pop3::fetch_options& options = {},
                 const leave_policy& policy = leave_policy::delete_after_fetch())
{
    world sync, async;
    setup(sync);
    setup(async);
    run_once(sync, false, streaming, policy, options);
    run_once(async, true, streaming, policy, options);
    check_same(sync, async);
    CHECK(sync.result.failed_stage == stage);
    CHECK(async.result.failed_stage == stage);
    CHECK(static_cast<bool>(sync.result.error) == (stage != pop3::fetch_stage::none));
    CHECK(sync.result.error == sync.ec);
}

} // namespace

TEST_CASE("fetch_result::failed_stage names what stopped the run, sync and async alike",
          "[leave][async][stage]")
{
    using pop3::fetch_stage;
    for (const bool streaming : {false, true}) {
        INFO("streaming " << streaming);
        SECTION("a clean run: none")
        {
            check_stage([](world& w) { sample(w, true); }, streaming, fetch_stage::none);
        }
        SECTION("the delivery refuses the second message: delivery")
        {
            check_stage(
                [](world& w) {
                    sample(w, false);
                    w.app.fail_call = 2;
                },
                streaming, fetch_stage::delivery);
        }
        SECTION("the delivery fails, quit_after_failure goes on to QUIT: still delivery")
        {
            pop3::fetch_options options;
            options.quit_after_failure = true;
            check_stage(
                [](world& w) {
                    sample(w, true);
                    w.app.fail_call = 3;
                },
                streaming, fetch_stage::delivery, options);
        }
        SECTION("the store fails recording the intent before RETR: store")
        {
            check_stage(
                [](world& w) {
                    sample(w, false);
                    w.store.fail_apply = 1;
                },
                streaming, fetch_stage::store);
        }
        SECTION("the store fails recording a delivered message: store")
        {
            check_stage(
                [](world& w) {
                    sample(w, true);
                    w.store.fail_apply = 2; // the intent, then the batch of stored messages
                },
                streaming, fetch_stage::store);
        }
        SECTION("the connection dies during RETR: session")
        {
            check_stage(
                [](world& w) {
                    sample(w, false);
                    w.server->cut_s2c = 1000; // past login, inside the RETRs
                },
                streaming, fetch_stage::session);
        }
        SECTION("no UIDL: session")
        {
            check_stage(
                [](world& w) {
                    sample(w, false);
                    w.server->uidl_supported = false;
                },
                streaming, fetch_stage::session);
        }
    }
}

TEST_CASE("fetch_new's throwing form throws pop3::fetch_error with the result",
          "[leave][stage]")
{
    const auto session = [](world& w, auto&& call) {
        net::io_context ioc;
        client_type c{ioc.get_executor(), w.server};
        c.read_greeting();
        pop3::login_options plain;
        plain.allow_plaintext = true;
        c.login("user", "pass", plain);
        call(c);
    };
    pop3::fetch_options options;
    options.now = now;

    SECTION("a failed delivery: the counts of the run are kept")
    {
        world w;
        sample(w, false);
        w.app.fail_call = 3; // uid-1 and uid-2 stored, uid-4 refused
        bool thrown = false;
        session(w, [&](client_type& c) {
            try {
                pop3::fetch_new(c, w.store, leave_policy::delete_after_fetch(), std::ref(w.app),
                                options);
            } catch (const pop3::fetch_error& e) {
                thrown = true;
                CHECK(e.code() == std::errc::no_space_on_device);
                CHECK(e.result().error == e.code());
                CHECK(e.failed_stage() == pop3::fetch_stage::delivery);
                CHECK(e.result().listed == 6);
                CHECK(e.result().pending == 4);
                CHECK(e.result().fetched == 2);
                CHECK(e.result().deleted == 0); // closed without QUIT
                CHECK_FALSE(e.result().quit_confirmed);
            }
        });
        CHECK(thrown);
        CHECK(w.store.find("uid-1")->stored);
        CHECK(w.store.find("uid-2")->stored);
        // The refused commit may have stored uid-4: its intent stays; uid-6's is withdrawn.
        REQUIRE(w.store.find("uid-4"));
        CHECK_FALSE(w.store.find("uid-4")->stored);
        CHECK_FALSE(w.store.find("uid-6"));
    }
    SECTION("a failed store, caught as pop3::error")
    {
        world w;
        sample(w, false);
        w.store.fail_apply = 1;
        bool thrown = false;
        session(w, [&](client_type& c) {
            try {
                pop3::fetch_new(c, w.store, leave_policy::keep_forever(), std::ref(w.app),
                                options);
            } catch (const pop3::error& e) {
                thrown = true;
                CHECK(e.code() == std::errc::no_space_on_device);
                const auto* fe = dynamic_cast<const pop3::fetch_error*>(&e);
                REQUIRE(fe != nullptr);
                CHECK(fe->failed_stage() == pop3::fetch_stage::store);
                CHECK(fe->result().listed == 6);
                CHECK(fe->result().fetched == 0);
            }
        });
        CHECK(thrown);
        CHECK(w.app.delivered.empty());
    }
    SECTION("success throws nothing and reports no stage")
    {
        world w;
        sample(w, true);
        session(w, [&](client_type& c) {
            const auto r = pop3::fetch_new(c, w.store, leave_policy::delete_after_fetch(),
                                           std::ref(w.app), options);
            CHECK(r.failed_stage == pop3::fetch_stage::none);
            CHECK(r.fetched == 4);
        });
    }
}
