// The coroutine path (C++20, use_awaitable) against the real Dovecot, on either Asio.
// (No co_await inside Catch2's assertion macros: GCC 12 may evaluate it twice there.)
#include "../catch.hpp"
#include "dovecot_env.hpp"
#include "test_net.hpp"

#include <pop3/client.hpp>

#if defined(POP3_USE_BOOST_ASIO)
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#else
#include <asio/co_spawn.hpp>
#include <asio/use_awaitable.hpp>
#endif

#include <exception>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

using pop3_test::dovecot_env;
using tcp = net::ip::tcp;

namespace {

/// Runs a coroutine to completion on a fresh io_context and rethrows what it threw.
template <class F> void run_coroutine(F f)
{
    net::io_context ioc;
    std::exception_ptr failure;
    net::co_spawn(ioc, f(ioc), [&](std::exception_ptr e) { failure = e; });
    ioc.run();
    if (failure) std::rethrow_exception(failure);
}

/// True when async calls given no token return an operation to co_await (current Asio's
/// `deferred`); older Asio has no default token.
template <class Client>
constexpr bool has_default_token = Client::has_default_token;

/// Fetches every message of alice with no token anywhere: each call is a deferred operation,
/// co_awaited as it is. (A template so that older Asio never compiles the calls.)
template <class Client> net::awaitable<void> fetch_without_tokens(Client& c, const dovecot_env& env)
{
    if constexpr (has_default_token<Client>) {
        const auto expected = env.mailbox("alice");
        co_await c.async_connect(env.host(), env.port(), pop3::tls_mode::starttls);
        CHECK(c.tls_active());
        co_await c.async_login("alice", dovecot_env::password("alice"));
        const auto uids = co_await c.async_uidl();
        REQUIRE(uids.size() == expected.size());
        for (const auto& m : expected) {
            const auto text = co_await c.async_retr(m.number);
            CHECK(text == dovecot_env::read_file(m.path));
            std::string streamed;
            co_await c.async_retr(m.number,
                                  [&](std::string_view chunk) { streamed.append(chunk); });
            CHECK(streamed == text);
            const auto uid = co_await c.async_uidl(m.number);
            CHECK(uid.uid == m.uid);
        }
        const bool committed = co_await c.async_quit();
        CHECK(committed);
    } else {
        (void)c;
        (void)env;
    }
    co_return;
}

} // namespace

TEST_CASE("dovecot coroutines: fetch every message of alice, byte-equal")
{
    const auto& env = dovecot_env::get();
    const auto expected = env.mailbox("alice");
    run_coroutine([&](net::io_context& ioc) -> net::awaitable<void> {
        pop3::client<tcp::socket> c{ioc};
        co_await c.async_connect(env.host(), env.port(), net::use_awaitable);
        co_await c.async_login("alice", dovecot_env::password("alice"), net::use_awaitable);
        const auto uids = co_await c.async_uidl(net::use_awaitable);
        REQUIRE(uids.size() == expected.size());
        for (const auto& m : expected) {
            const auto text = co_await c.async_retr(m.number, net::use_awaitable);
            CHECK(text == dovecot_env::read_file(m.path));
            CHECK(uids[m.number - 1].uid == m.uid);
        }
        std::vector<pop3::message_number> all;
        for (const auto& m : expected) all.push_back(m.number);
        std::vector<std::string> bodies(expected.size() + 1);
        co_await c.async_retr_many(
            all,
            [&](const pop3::message_part& part) {
                if (!part.end) bodies[part.number].append(part.data);
            },
            net::use_awaitable);
        for (const auto& m : expected) CHECK(bodies[m.number] == dovecot_env::read_file(m.path));
        const bool committed = co_await c.async_quit(net::use_awaitable);
        CHECK(committed);
    });
}

TEST_CASE("dovecot coroutines: TLS, DELE + RSET, then DELE + QUIT")
{
    const auto& env = dovecot_env::get();
    env.reset("scratch");
    const auto expected = env.mailbox("scratch");
    net::ssl::context tls(net::ssl::context::tls_client);
    tls.load_verify_file(env.ca_file());
    run_coroutine([&](net::io_context& ioc) -> net::awaitable<void> {
        {
            pop3::client<net::ssl::stream<tcp::socket>> c{ioc, tls};
            co_await c.async_connect(env.host(), env.tls_port(), pop3::tls_mode::implicit,
                                     net::use_awaitable);
            co_await c.async_login("scratch", dovecot_env::password("scratch"), net::use_awaitable);
            co_await c.async_dele(1, net::use_awaitable);
            const auto after_dele = co_await c.async_stat(net::use_awaitable);
            CHECK(after_dele.count == expected.size() - 1);
            co_await c.async_rset(net::use_awaitable);
            const std::vector<pop3::message_number> first_two{1, 2};
            co_await c.async_dele_many(first_two, net::use_awaitable);
            const bool committed = co_await c.async_quit(net::use_awaitable);
            CHECK(committed);
        }
        {
            pop3::client<net::ssl::stream<tcp::socket>> c{ioc, tls};
            co_await c.async_connect(env.host(), env.port(), pop3::tls_mode::starttls,
                                     net::use_awaitable);
            CHECK(c.tls_active());
            co_await c.async_login("scratch", dovecot_env::password("scratch"), net::use_awaitable);
            const auto uids = co_await c.async_uidl(net::use_awaitable);
            REQUIRE(uids.size() == expected.size() - 2);
            CHECK(uids[0].uid == expected[2].uid);
            co_await c.async_quit(net::use_awaitable);
        }
    });
    env.reset("scratch");
}

TEST_CASE("dovecot coroutines: a refused login throws out of co_await with pop3's error")
{
    const auto& env = dovecot_env::get();
    bool threw = false;
    pop3::error_code code;
    run_coroutine([&](net::io_context& ioc) -> net::awaitable<void> {
        pop3::client<tcp::socket> c{ioc};
        co_await c.async_connect(env.host(), env.port(), net::use_awaitable);
        const pop3::login_options user_pass{pop3::auth_method::user, true, {}, {}, {}};
        try {
            co_await c.async_login("alice", "wrong-password", user_pass, net::use_awaitable);
        } catch (const pop3_test::net_system_error& e) {
            threw = true;
            code = e.code();
        }
        co_await c.async_quit(net::use_awaitable);
    });
    CHECK(threw);
    CHECK(code == pop3::errc::authentication_failed);
}

TEST_CASE("dovecot coroutines: no token at all, co_await of current Asio's deferred default")
{
    using client_type = pop3::client<net::ssl::stream<tcp::socket>>;
    if (!has_default_token<client_type>) SKIP("this Asio has no default completion token");
    const auto& env = dovecot_env::get();
    net::ssl::context tls(net::ssl::context::tls_client);
    tls.load_verify_file(env.ca_file());
    run_coroutine([&](net::io_context& ioc) -> net::awaitable<void> {
        client_type c{ioc, tls};
        co_await fetch_without_tokens(c, env);
    });
}
