// Async calls given no completion token. Current Asio (.ci/run step 9 builds on 1.38) defaults
// to `deferred`: the call returns an operation that starts when launched with a token. Older
// Asio (Debian 12's 1.22, Boost up to 1.83 at least) has no default token, so calling without
// one does not compile there and this test is skipped.
#include "../catch.hpp"
#include "test_net.hpp"
#include "test_stream.hpp"

#include <pop3/client.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

using pop3_test::script;
using pop3_test::test_stream;
using client_type = pop3::client<test_stream>;

namespace {

/// Launches deferred operations and checks that they did no I/O before.
struct launcher {
    net::io_context& ioc;
    const script& s;
    std::size_t written = 0; ///< script output and input position after the last launch
    std::size_t read = 0;

    /// Launches `op` with use_future and runs the io_context until it is done.
    template <class Op> auto operator()(Op op)
    {
        CHECK(s.output.size() == written);
        CHECK(s.position == read);
        auto result = std::move(op)(net::use_future);
        run();
        return result.get();
    }

    void run()
    {
        ioc.restart();
        ioc.run();
        written = s.output.size();
        read = s.position;
    }
};

/// A session in which every call with more than one overload is made without a token: plain
/// `int` message numbers and sinks must select the same overloads as with a token, and nothing
/// may be sent before an operation is launched.
template <class Client>
void run_with_default_tokens(Client& c, net::io_context& ioc, const script& s)
{
    if constexpr (!Client::has_default_token) {
        (void)c;
        (void)ioc;
        (void)s;
    } else {
        const pop3::login_options user_pass{pop3::auth_method::user, true, {}, {}, {}};
        launcher launch{ioc, s};
        auto greet = c.async_read_greeting();
        launch(std::move(greet));
        auto login = c.async_login("alice", "s3cret", user_pass);
        launch(std::move(login));
        // Without options too (never launched: they only have to compile and do nothing).
        auto no_options = c.async_login("alice", "s3cret");
        auto oauth_no_options = c.async_login_oauth("alice", "token");
        (void)no_options;
        (void)oauth_no_options;

        auto list_one = c.async_list(1);
        const pop3::message_size size = launch(std::move(list_one));
        CHECK(size.octets == 120);
        auto uidl_one = c.async_uidl(1);
        const pop3::message_uid uid = launch(std::move(uidl_one));
        CHECK(uid.uid == "uid-one");

        std::string streamed;
        auto retr_sink = c.async_retr(1, [&](std::string_view chunk) { streamed.append(chunk); });
        launch(std::move(retr_sink));
        CHECK(streamed == "Subject: one\r\n\r\n.dotted\r\n");
        std::string header;
        auto top_sink = c.async_top(1, 0, [&](std::string_view chunk) { header.append(chunk); });
        launch(std::move(top_sink));
        CHECK(header == "Subject: one\r\n\r\n");
        auto retr_string = c.async_retr(1);
        CHECK(launch(std::move(retr_string)) == streamed);

        // Launched with a callback instead of use_future.
        auto quit = c.async_quit();
        bool committed = false;
        CHECK(s.output.size() == launch.written);
        std::move(quit)([&](pop3::error_code ec, bool ok) {
            CHECK_FALSE(ec);
            committed = ok;
        });
        launch.run();
        CHECK(committed);
    }
}

} // namespace

TEST_CASE("with no token, current Asio's deferred default starts nothing until launched")
{
    if (!client_type::has_default_token)
        SKIP("this Asio has no default completion token");
    const std::string message = "Subject: one\r\n\r\n..dotted\r\n.\r\n";
    auto s = std::make_shared<script>();
    s->input = "+OK ready\r\n"
               "+OK\r\nUIDL\r\nTOP\r\nUSER\r\n.\r\n"
               "+OK\r\n+OK Logged in.\r\n+OK\r\nUIDL\r\nTOP\r\n.\r\n"
               "+OK 1 120\r\n"
               "+OK 1 uid-one\r\n"
               "+OK\r\n" +
               message +
               "+OK\r\nSubject: one\r\n\r\n.\r\n"
               "+OK\r\n" +
               message + "+OK Logging out.\r\n";
    s->read_chunk = 5;
    net::io_context ioc;
    client_type c{ioc.get_executor(), s};
    run_with_default_tokens(c, ioc, *s);
    CHECK(s->output == "CAPA\r\nUSER alice\r\nPASS s3cret\r\nCAPA\r\nLIST 1\r\nUIDL 1\r\nRETR 1\r\n"
                       "TOP 1 0\r\nRETR 1\r\nQUIT\r\n");
    CHECK(c.state() == pop3::session_state::closed);
}
