// Leave-on-server for many accounts at once against the real Dovecot: 50 accounts
// (pool01..pool50) polled concurrently with async_fetch_new on ONE io_context thread,
// each with its own memory store. Every message arrives exactly once, byte for byte, in
// its own account; a second round fetches nothing; a delete round really deletes.
#include "../catch.hpp"
#include "dovecot_env.hpp"
#include "leave_on_server_support.hpp"
#include "test_net.hpp"

#include <pop3/client.hpp>
#include <pop3/leave_on_server.hpp>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

using pop3::leave_policy;
using pop3_test::dovecot_env;
using pop3_test::server_uids;

namespace {

constexpr int accounts = 50;
const pop3::uid_time t0 = pop3::uid_time(std::chrono::seconds(1700000000));

std::string pool_user(int i)
{
    char name[16];
    std::snprintf(name, sizeof name, "pool%02d", i);
    return name;
}

/// One account: its store lives across rounds; each round connects anew.
struct account {
    std::string user;
    pop3::memory_uid_store store;
    std::map<std::string, std::vector<std::string>> copies; ///< UID -> every delivery
    std::optional<pop3::client<net::ip::tcp::socket>> client;
    pop3::error_code ec;
    std::string failed_step;
    pop3::fetch_result result;
    int completions = 0;

    pop3::error_code deliver(const pop3::fetched_message& m)
    {
        copies[std::string(m.uid)].emplace_back(m.bytes);
        return {};
    }
};

/// Connects, logs in and runs async_fetch_new for every account, all started before the
/// one thread runs the io_context, so the sessions interleave.
void poll_all(net::io_context& ioc, std::vector<std::unique_ptr<account>>& all,
              const leave_policy& policy)
{
    const auto& env = dovecot_env::get();
    pop3::fetch_options options;
    options.now = t0;
    for (auto& owned : all) {
        account* a = owned.get();
        a->client.emplace(ioc);
        a->ec = {};
        a->failed_step.clear();
        a->result = {};
        a->completions = 0;
        pop3::timeouts t;
        t.connect = std::chrono::seconds(20);
        t.idle = std::chrono::seconds(60);
        a->client->set_timeouts(t);
        const auto fail = [a](const char* step, pop3::error_code ec) {
            a->ec = ec;
            a->failed_step = step;
            ++a->completions;
        };
        a->client->async_connect(
            env.host(), env.port(),
            [a, fail, policy, options](pop3::error_code ec) {
                if (ec) return fail("connect", ec);
                a->client->async_login(
                    a->user, dovecot_env::password(a->user),
                    [a, fail, policy, options](pop3::error_code ec2) {
                        if (ec2) return fail("login", ec2);
                        pop3::async_fetch_new(
                            *a->client, a->store, policy,
                            [a](const pop3::fetched_message& m) { return a->deliver(m); },
                            options, [a](pop3::error_code ec3, pop3::fetch_result r) {
                                a->ec = ec3;
                                if (a->ec) a->failed_step = "fetch_new";
                                a->result = std::move(r);
                                ++a->completions;
                            });
                    });
            });
    }
    ioc.run(); // this thread only
    ioc.restart();
}

void reset_all()
{
    const auto& env = dovecot_env::get();
    for (int i = 1; i <= accounts; ++i) env.reset(pool_user(i));
}

} // namespace

TEST_CASE("leave on server: 50 accounts polled concurrently on one io_context thread")
{
    const auto& env = dovecot_env::get();
    reset_all();

    net::io_context ioc; // declared first: it must outlive the clients
    std::vector<std::unique_ptr<account>> all;
    std::map<std::string, std::vector<pop3_test::expected_message>> expected;
    std::size_t total = 0;
    for (int i = 1; i <= accounts; ++i) {
        auto a = std::make_unique<account>();
        a->user = pool_user(i);
        expected[a->user] = env.mailbox(a->user);
        REQUIRE(expected[a->user].size() >= 3);
        total += expected[a->user].size();
        all.push_back(std::move(a));
    }

    // Round 1: everything, once, byte for byte, into the right account; nothing deleted.
    poll_all(ioc, all, leave_policy::keep_forever());
    std::size_t fetched = 0;
    for (auto& a : all) {
        INFO(a->user << ": " << a->failed_step << " " << a->ec.message());
        CHECK(a->completions == 1);
        REQUIRE_FALSE(a->ec);
        const auto& want = expected[a->user];
        CHECK(a->result.listed == want.size());
        CHECK(a->result.fetched == want.size());
        CHECK(a->result.deleted == 0);
        CHECK(a->result.quit_confirmed);
        CHECK(a->result.failed_stage == pop3::fetch_stage::none);
        CHECK(a->copies.size() == want.size());
        for (const auto& m : want) {
            INFO("message " << m.number << " uid " << m.uid);
            const auto it = a->copies.find(m.uid);
            REQUIRE(it != a->copies.end());
            REQUIRE(it->second.size() == 1);
            CHECK(it->second.front() == dovecot_env::read_file(m.path));
        }
        CHECK(a->store.size() == want.size());
        fetched += a->result.fetched;
    }
    CHECK(fetched == total);

    // Round 2: nothing new anywhere.
    poll_all(ioc, all, leave_policy::keep_forever());
    for (auto& a : all) {
        INFO(a->user << ": " << a->failed_step << " " << a->ec.message());
        CHECK(a->completions == 1);
        REQUIRE_FALSE(a->ec);
        CHECK(a->result.listed == expected[a->user].size());
        CHECK(a->result.pending == 0);
        CHECK(a->result.fetched == 0);
        CHECK(a->result.deleted == 0);
        for (const auto& [uid, copies] : a->copies) CHECK(copies.size() == 1);
    }

    // Round 3: delete what is stored; nothing is fetched again, and the server is empty.
    poll_all(ioc, all, leave_policy::delete_after_fetch());
    for (auto& a : all) {
        INFO(a->user << ": " << a->failed_step << " " << a->ec.message());
        CHECK(a->completions == 1);
        REQUIRE_FALSE(a->ec);
        CHECK(a->result.fetched == 0);
        CHECK(a->result.deleted == expected[a->user].size());
        CHECK(a->result.quit_confirmed);
        for (const auto& [uid, copies] : a->copies) CHECK(copies.size() == 1);
    }
    for (auto& a : all) {
        INFO(a->user);
        CHECK(server_uids(a->user).empty());
    }

    reset_all();
}
