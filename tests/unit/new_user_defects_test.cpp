// Defects a new user hit (issue 17), each reproduced on a scripted server: what a failing call
// says (its code, its text, the server reply beside it) must match what happened.
#include "../catch.hpp"
#include "test_net.hpp"
#include "test_stream.hpp"

#include <pop3/client.hpp>
#include <pop3/tls.hpp>

#include <memory>
#include <string>
#include <vector>

using pop3_test::script;
using pop3_test::test_stream;
using client_type = pop3::client<test_stream>;

namespace {

const pop3::login_options user_pass{pop3::auth_method::user, true, {}, {}, {}};

const std::string greeting = "+OK ready\r\n"
                             "+OK\r\nUSER\r\nUIDL\r\nTOP\r\nPIPELINING\r\nUTF8\r\n.\r\n";
const std::string logged_in = "+OK\r\n+OK Logged in.\r\n+OK\r\nUIDL\r\nTOP\r\nPIPELINING\r\n.\r\n";

std::shared_ptr<script> make_script(std::string input)
{
    auto s = std::make_shared<script>();
    s->input = std::move(input);
    return s;
}

} // namespace

TEST_CASE("pop3::error::what() for a local error is the error's message, without a ': ' prefix")
{
    const pop3::error local(make_error_code(pop3::errc::timeout), pop3::server_reply{});
    CHECK(std::string(local.what()) == make_error_code(pop3::errc::timeout).message());
    pop3::server_reply reply;
    reply.text = "no such message";
    const pop3::error remote(make_error_code(pop3::errc::server_error), reply);
    const std::string remote_what = remote.what();
    CHECK(remote_what == "server said: no such message: " +
                             make_error_code(pop3::errc::server_error).message());
    // The same text from every constructor and flavour (Boost 1.79+ would append
    // " [pop3:N]" to system_error::what()).
    CHECK(std::string(pop3::error(make_error_code(pop3::errc::timeout)).what()) ==
          local.what());
}

TEST_CASE("last_error_reply is the reply that failed the call, and empty after a success")
{
    net::io_context ioc;
    auto s = make_script(greeting + logged_in +
                         // dele_many({998, 2, 999}), pipelined
                         "-ERR There's no message 998.\r\n+OK Marked.\r\n"
                         "-ERR There's no message 999.\r\n"
                         // retr_many({1, 999}): one message, one -ERR, the call succeeds
                         "+OK\r\nhello\r\n.\r\n-ERR [SYS/TEMP] There's no message 999.\r\n");
    client_type c{ioc.get_executor(), s};
    c.read_greeting();
    c.login("alice", "s3cret", user_pass);
    pop3::error_code ec;
    c.dele_many({998, 2, 999}, ec);
    CHECK(ec == pop3::errc::server_error);
    CHECK(c.last_error_reply().text == "There's no message 998.");

    std::vector<std::string> ends;
    c.retr_many(
        {1, 999},
        [&](const pop3::message_part& part) {
            if (!part.end) return;
            if (!part.error) {
                CHECK(part.reply == nullptr);
                ends.push_back("ok");
            } else {
                REQUIRE(part.reply != nullptr);
                CHECK(part.error == pop3::errc::temporary_failure);
                ends.push_back(part.reply->text);
            }
        },
        ec);
    CHECK_FALSE(ec);
    CHECK(ends == std::vector<std::string>{"ok", "There's no message 999."});
    CHECK(c.last_error_reply().text.empty());
}

TEST_CASE("a handler's own error after a per-message -ERR carries no server reply")
{
    net::io_context ioc;
    auto s = make_script(greeting + logged_in +
                         // retr_many({999, 1}): a -ERR handed to the handler, then a
                         // message the handler fails on (a local error)
                         "-ERR There's no message 999.\r\n+OK\r\nhello\r\n.\r\n");
    client_type c{ioc.get_executor(), s};
    c.read_greeting();
    c.login("alice", "s3cret", user_pass);
    pop3::error_code ec;
    c.retr_many(
        {999, 1},
        [&](const pop3::message_part& part) -> pop3::error_code {
            if (part.number == 1) return pop3_test::generic_error(std::errc::no_space_on_device);
            return {};
        },
        ec);
    CHECK(ec == pop3_test::generic_condition(std::errc::no_space_on_device));
    CHECK(c.last_error_reply().text.empty());
    CHECK(c.last_error_reply().status != pop3::reply_status::err);
}

TEST_CASE("wrong_state after login names what is allowed when, not only 'log in first'")
{
    net::io_context ioc;
    auto s = make_script(greeting + logged_in);
    client_type c{ioc.get_executor(), s};
    c.read_greeting();
    c.login("alice", "s3cret", user_pass);
    pop3::error_code ec;
    c.utf8(ec);
    CHECK(ec == pop3::errc::wrong_state);
    const auto text = ec.message();
    CHECK(text.find("UTF8") != std::string::npos);
    CHECK(text.find("come before") != std::string::npos);
}

TEST_CASE("a missing CA file is a pop3::error with a code that names it")
{
    pop3::tls_options options{"/nonexistent/ca.pem"};
    pop3::error_code ec;
    (void)pop3::make_tls_context(options, ec);
    CHECK(ec == pop3::errc::ca_certificates_unreadable);
    try {
        (void)pop3::make_tls_context(options);
        FAIL("make_tls_context should have thrown");
    } catch (const pop3::error& e) {
        CHECK(e.code() == pop3::errc::ca_certificates_unreadable);
    }
    // A directory that does not exist is refused the same way.
    (void)pop3::make_tls_context({{}, "/nonexistent/certs"}, ec);
    CHECK(ec == pop3::errc::ca_certificates_unreadable);
}

TEST_CASE("a client over a stream without a socket promises no timeouts")
{
    net::io_context ioc;
    client_type c{ioc.get_executor(), make_script(greeting)};
    // test_stream has no lowest_layer(): a timer could not stop its reads, so there are none
    // (and set_timeouts does not compile for it: see tests/compile_fail).
    CHECK(c.timeouts().connect.count() == 0);
    CHECK(c.timeouts().idle.count() == 0);
    net::io_context ioc2;
    pop3::client<net::ip::tcp::socket> tcp{ioc2};
    CHECK(tcp.timeouts().connect.count() > 0);
    CHECK(tcp.timeouts().idle.count() > 0);
}

TEST_CASE("an async call without a token uses the executor's default token where Asio has one")
{
    net::io_context ioc;
    client_type c{ioc.get_executor(), make_script(greeting + logged_in + "+OK\r\n")};
    c.read_greeting();
    c.login("alice", "s3cret", user_pass); // NOOP is a TRANSACTION-state command
    // Asio 1.24+ (deferred): `c.async_noop()` is an operation that starts when given a handler.
    // Older Asio has no default token: the call does not compile, with a static_assert that
    // says to pass one (check_token in detail/engine.hpp).
    [&](auto& client) {
        if constexpr (std::decay_t<decltype(client)>::has_default_token) {
            auto op = client.async_noop();
            bool done = false;
            std::move(op)([&](pop3::error_code ec) {
                CHECK_FALSE(ec);
                done = true;
            });
            ioc.run();
            CHECK(done);
        } else {
            SUCCEED("this Asio has no default completion token");
        }
    }(c);
}

TEST_CASE("a server that rejects AUTH itself: auth_command_rejected, no credential sent, "
          "and what it offers")
{
    using m = pop3::auth_method;
    struct server_kind {
        const char* name;
        std::string greeting;  // greeting and the answer to CAPA
        std::string rejection; // the answer to AUTH
        std::vector<m> offered;
    };
    const server_kind servers[] = {
        // popa3d: no CAPA, a bare -ERR to every unknown command.
        {"popa3d", "+OK\r\n-ERR\r\n", "-ERR\r\n", {m::user}},
        // solid-pop3d: no CAPA either, an APOP timestamp in the greeting.
        {"solid-pop3d", "+OK Solid POP3 server ready <12.34@host>\r\n-ERR Unknown command\r\n",
         "-ERR command not implemented yet\r\n", {m::user, m::apop}},
    };
    for (const auto& server : servers) {
        for (auto method : {m::plain, m::login, m::cram_md5, m::scram_sha_256, m::xoauth2}) {
            INFO(server.name << " " << pop3::auth_method_name(method));
            net::io_context ioc;
            auto s = make_script(server.greeting + server.rejection);
            client_type c{ioc.get_executor(), s};
            c.read_greeting();
            const auto sent_before = s->output.size();
            pop3::login_options o;
            o.method = method;
            o.allow_plaintext = true;
            pop3::error_code ec;
            if (method == m::xoauth2) c.login_oauth("alice", "token-xyz", o, ec);
            else c.login("alice", "s3cret", o, ec);
            CHECK(ec == pop3::errc::auth_command_rejected);
            CHECK(ec != pop3::errc::authentication_failed);
            // Only the bare command went out: no initial response, no user name.
            const auto sent = s->output.substr(sent_before);
            CHECK(sent == std::string("AUTH ") + pop3::auth_method_name(method) + "\r\n");
            CHECK(c.offered_auth_methods() == server.offered);
            CHECK(c.state() == pop3::session_state::authorization);
        }
    }
}

TEST_CASE("a -ERR after the credential went out is still a refused credential")
{
    struct exchange {
        const char* what;
        std::string input;         // greeting, CAPA's answer, the server's replies to AUTH
        const char* sent;          // what the client must have sent
        pop3::errc expected;
    };
    const exchange cases[] = {
        // Not advertised: PLAIN waits for "+", then the server refuses the credential.
        {"not advertised", "+OK\r\n-ERR\r\n+ \r\n-ERR\r\n",
         "AUTH PLAIN\r\nAGFsaWNlAHMzY3JldA==\r\n", pop3::errc::authentication_failed},
        // Advertised: the initial response rides on the AUTH line, so any -ERR refuses it.
        {"advertised", "+OK\r\n+OK\r\nSASL PLAIN\r\n.\r\n-ERR\r\n",
         "AUTH PLAIN AGFsaWNlAHMzY3JldA==\r\n", pop3::errc::authentication_failed},
        // A response code says more than the timing: [SYS/TEMP] before any exchange.
        {"[SYS/TEMP]", "+OK\r\n-ERR\r\n-ERR [SYS/TEMP] try later\r\n", "AUTH PLAIN\r\n",
         pop3::errc::temporary_failure},
    };
    pop3::login_options o;
    o.method = pop3::auth_method::plain;
    o.allow_plaintext = true;
    for (const auto& k : cases) {
        INFO(k.what);
        net::io_context ioc;
        auto s = make_script(k.input);
        client_type c{ioc.get_executor(), s};
        c.read_greeting();
        pop3::error_code ec;
        c.login("alice", "s3cret", o, ec);
        CHECK(ec == k.expected);
        CHECK(s->output.find(k.sent) != std::string::npos);
    }
}

TEST_CASE("dele_many with a handler reports every message: throwing, error_code and async forms")
{
    const std::string replies = "+OK Marked.\r\n-ERR [SYS/TEMP] There's no message 9.\r\n"
                                "+OK Marked.\r\n";
    net::io_context ioc;
    auto s = make_script(greeting + logged_in + replies + replies + replies +
                         // the handler stops at the first message; DELE 2 was pipelined
                         "+OK Marked.\r\n+OK Marked.\r\n");
    client_type c{ioc.get_executor(), s};
    c.read_greeting();
    c.login("alice", "s3cret", user_pass);

    std::vector<std::string> seen;
    const auto record = [&](const pop3::dele_outcome& o) {
        seen.push_back(std::to_string(o.number) + (o.error ? " " + o.reply->text : " ok"));
    };
    const std::vector<std::string> expected{"1 ok", "9 There's no message 9.", "2 ok"};

    const auto sent_before = s->output.size();
    c.dele_many({1, 9, 2}, record); // a per-message -ERR does not throw
    CHECK(seen == expected);
    CHECK(s->output.substr(sent_before) == "DELE 1\r\nDELE 9\r\nDELE 2\r\n");
    CHECK(c.last_error_reply().text.empty());

    seen.clear();
    pop3::error_code ec = make_error_code(pop3::errc::timeout);
    c.dele_many({1, 9, 2}, record, ec);
    CHECK_FALSE(ec);
    CHECK(seen == expected);

    seen.clear();
    bool completed = false;
    c.async_dele_many({1, 9, 2}, record, [&](pop3::error_code e) {
        completed = true;
        CHECK_FALSE(e);
    });
    ioc.run();
    CHECK(completed);
    CHECK(seen == expected);

    // The handler stops the batch: the replies in flight are read but not reported, and
    // the call fails with the handler's error; the session stays usable.
    int calls = 0;
    const auto stop = [&](const pop3::dele_outcome&) {
        ++calls;
        return pop3_test::generic_error(std::errc::operation_canceled);
    };
    c.dele_many({1, 2}, stop, ec);
    CHECK(ec == pop3_test::generic_condition(std::errc::operation_canceled));
    CHECK(calls == 1);
    CHECK(c.state() == pop3::session_state::transaction);

    // Number 0 refuses the call before anything is sent; the handler is not called.
    seen.clear();
    const auto before_zero = s->output.size();
    c.dele_many({3, 0}, record, ec);
    CHECK(ec == pop3::errc::invalid_argument);
    CHECK(seen.empty());
    CHECK(s->output.size() == before_zero);
}
