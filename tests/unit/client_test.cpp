// pop3::client over a scripted stream: every call in its sync, error_code and async
// forms against the same transcript, the session state rules, PIPELINING, and an
// injected I/O error at every step.
#include "../catch.hpp"
#include "test_net.hpp"
#include "test_stream.hpp"

#include <pop3/client.hpp>

#include <algorithm>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

using pop3_test::script;
using pop3_test::test_stream;
using client_type = pop3::client<test_stream>;

// The scripted stream has no TLS: USER/PASS must be asked for explicitly.
const pop3::login_options user_pass{pop3::auth_method::user, true, {}, {}, {}};

namespace {

const std::string greeting_and_capa = "+OK Dovecot ready. <123.456@host>\r\n"
                                      "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n"
                                      "USER\r\nSASL PLAIN\r\n.\r\n";
const std::string login_replies = "+OK\r\n+OK Logged in.\r\n"
                                  "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n.\r\n";

const std::string session_input = greeting_and_capa + login_replies +
                                  "+OK 2 320\r\n"
                                  "+OK 2 messages:\r\n1 120\r\n2 200\r\n.\r\n"
                                  "+OK\r\n1 uid-one\r\n2 uid-two\r\n.\r\n"
                                  "+OK 120 octets\r\nSubject: one\r\n\r\n..dotted\r\nbody\r\n.\r\n"
                                  "+OK\r\nSubject: two\r\n\r\n.\r\n"
                                  "+OK 1 120\r\n"
                                  "+OK 2 uid-two\r\n"
                                  "+OK Marked to be deleted.\r\n"
                                  "+OK\r\n"
                                  "+OK\r\n"
                                  "+OK Logging out.\r\n";

const std::string session_output = "CAPA\r\nUSER alice\r\nPASS s3cret\r\nCAPA\r\nSTAT\r\nLIST\r\n"
                                   "UIDL\r\nRETR 1\r\nTOP 2 0\r\nLIST 1\r\nUIDL 2\r\nDELE 1\r\n"
                                   "RSET\r\nNOOP\r\nQUIT\r\n";

const std::string session_summary =
    "greeting <123.456@host>\nstat 2 320\nlist 1:120 2:200\nuidl 1:uid-one 2:uid-two\n"
    "retr Subject: one\r\n\r\n.dotted\r\nbody\r\n\ntop Subject: two\r\n\r\n\nlist1 1:120\n"
    "uidl2 2:uid-two\nquit 1\n";

std::shared_ptr<script> make_script(std::string input, std::size_t chunk = 1 << 16)
{
    auto s = std::make_shared<script>();
    s->input = std::move(input);
    s->read_chunk = chunk;
    return s;
}

template <class List> std::string join(const List& entries)
{
    std::ostringstream out;
    for (const auto& e : entries) {
        if constexpr (std::is_same_v<typename List::value_type, pop3::message_uid>)
            out << ' ' << e.number << ':' << e.uid;
        else out << ' ' << e.number << ':' << e.octets;
    }
    return out.str();
}

/// The whole session with the throwing calls.
std::string run_throwing(client_type& c)
{
    std::ostringstream out;
    c.read_greeting();
    out << "greeting " << c.greeting().apop_timestamp << "\n";
    c.login("alice", "s3cret", user_pass);
    const auto st = c.stat();
    out << "stat " << st.count << ' ' << st.octets << "\n";
    out << "list" << join(c.list()) << "\n";
    out << "uidl" << join(c.uidl()) << "\n";
    out << "retr " << c.retr(1) << "\n";
    out << "top " << c.top(2, 0) << "\n";
    const auto one = c.list(1);
    out << "list1 " << one.number << ':' << one.octets << "\n";
    const auto two = c.uidl(2);
    out << "uidl2 " << two.number << ':' << two.uid << "\n";
    c.dele(1);
    c.rset();
    c.noop();
    out << "quit " << c.quit() << "\n";
    return out.str();
}

/// The same with the error_code overloads; stops at the first error.
std::string run_with_codes(client_type& c, pop3::error_code& ec)
{
    std::ostringstream out;
    if (c.read_greeting(ec), ec) return out.str();
    out << "greeting " << c.greeting().apop_timestamp << "\n";
    if (c.login("alice", "s3cret", user_pass, ec), ec) return out.str();
    const auto st = c.stat(ec);
    if (ec) return out.str();
    out << "stat " << st.count << ' ' << st.octets << "\n";
    const auto all = c.list(ec);
    if (ec) return out.str();
    out << "list" << join(all) << "\n";
    const auto uids = c.uidl(ec);
    if (ec) return out.str();
    out << "uidl" << join(uids) << "\n";
    std::string body;
    c.retr(
        1, [&](std::string_view chunk) { body.append(chunk); }, ec);
    if (ec) return out.str();
    out << "retr " << body << "\n";
    const auto top = c.top(2, 0, ec);
    if (ec) return out.str();
    out << "top " << top << "\n";
    const auto one = c.list(1, ec);
    if (ec) return out.str();
    out << "list1 " << one.number << ':' << one.octets << "\n";
    const auto two = c.uidl(2, ec);
    if (ec) return out.str();
    out << "uidl2 " << two.number << ':' << two.uid << "\n";
    if (c.dele(1, ec), ec) return out.str();
    if (c.rset(ec), ec) return out.str();
    if (c.noop(ec), ec) return out.str();
    const bool committed = c.quit(ec);
    if (ec) return out.str();
    out << "quit " << committed << "\n";
    return out.str();
}

/// The same with async calls and std::future, the io_context running on another thread.
std::string run_with_futures(client_type& c)
{
    using net::use_future;
    std::ostringstream out;
    c.async_read_greeting(use_future).get();
    out << "greeting " << c.greeting().apop_timestamp << "\n";
    c.async_login("alice", "s3cret", user_pass, use_future).get();
    const auto st = c.async_stat(use_future).get();
    out << "stat " << st.count << ' ' << st.octets << "\n";
    out << "list" << join(c.async_list(use_future).get()) << "\n";
    out << "uidl" << join(c.async_uidl(use_future).get()) << "\n";
    out << "retr " << c.async_retr(1, use_future).get() << "\n";
    std::string top;
    c.async_top(
         2, 0, [&](std::string_view chunk) { top.append(chunk); }, use_future)
        .get();
    out << "top " << top << "\n";
    const auto one = c.async_list(1, use_future).get();
    out << "list1 " << one.number << ':' << one.octets << "\n";
    const auto two = c.async_uidl(2, use_future).get();
    out << "uidl2 " << two.number << ':' << two.uid << "\n";
    c.async_dele(1, use_future).get();
    c.async_rset(use_future).get();
    c.async_noop(use_future).get();
    out << "quit " << c.async_quit(use_future).get() << "\n";
    return out.str();
}

/// Runs `f` with an io_context serving the async calls on a second thread.
template <class F> void with_running_context(net::io_context& ioc, F f)
{
    auto guard = net::make_work_guard(ioc);
    std::thread runner([&] { ioc.run(); });
    try {
        f();
    } catch (...) {
        guard.reset();
        runner.join();
        throw;
    }
    guard.reset();
    runner.join();
}

} // namespace

TEST_CASE("client runs a whole session in every form with the same bytes and results")
{
    for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{1} << 16}) {
        INFO("read chunk " << chunk);
        {
            net::io_context ioc;
            auto s = make_script(session_input, chunk);
            client_type c{ioc.get_executor(), s};
            CHECK(run_throwing(c) == session_summary);
            CHECK(s->output == session_output);
            CHECK(c.state() == pop3::session_state::closed);
        }
        {
            net::io_context ioc;
            auto s = make_script(session_input, chunk);
            client_type c{ioc.get_executor(), s};
            pop3::error_code ec;
            CHECK(run_with_codes(c, ec) == session_summary);
            CHECK_FALSE(ec);
            CHECK(s->output == session_output);
        }
        {
            net::io_context ioc;
            auto s = make_script(session_input, chunk);
            client_type c{ioc.get_executor(), s};
            with_running_context(ioc, [&] { CHECK(run_with_futures(c) == session_summary); });
            CHECK(s->output == session_output);
        }
    }
}

TEST_CASE("client with callbacks completes through the io_context, never inline")
{
    net::io_context ioc;
    auto s = make_script(greeting_and_capa + "+OK\r\n");
    client_type c{ioc.get_executor(), s};
    bool greeted = false;
    bool refused = false;
    c.async_read_greeting([&](pop3::error_code ec) {
        REQUIRE_FALSE(ec);
        greeted = true;
        // Not logged in: refused at once, nothing sent, and still completed via post.
        c.async_stat([&](pop3::error_code ec2, pop3::maildrop_stat) {
            CHECK(ec2 == pop3::errc::wrong_state);
            refused = true;
        });
        CHECK_FALSE(refused);
    });
    CHECK_FALSE(greeted);
    ioc.run();
    CHECK(greeted);
    CHECK(refused);
    CHECK(s->output == "CAPA\r\n");
}

TEST_CASE("client refuses commands in the wrong state without sending anything")
{
    net::io_context ioc;
    auto s = make_script(greeting_and_capa + "+OK bye\r\n");
    client_type c{ioc.get_executor(), s};
    pop3::error_code ec;
    c.stat(ec);
    CHECK(ec == pop3::errc::wrong_state); // no greeting yet
    c.read_greeting();
    CHECK(c.state() == pop3::session_state::authorization);
    const auto before = s->output;
    c.stat(ec);
    CHECK(ec == pop3::errc::wrong_state);
    c.retr(1, ec);
    CHECK(ec == pop3::errc::wrong_state);
    c.dele_many({1, 2}, ec);
    CHECK(ec == pop3::errc::wrong_state);
    CHECK(s->output == before);
    CHECK(c.quit());
    CHECK(c.state() == pop3::session_state::closed);
    c.noop(ec);
    CHECK(ec == pop3::errc::wrong_state);
    c.login("a", "b", user_pass, ec);
    CHECK(ec == pop3::errc::wrong_state);
    CHECK(s->output == before + "QUIT\r\n");
}

TEST_CASE("use_future turns an error completion into an exception that names the pop3 error")
{
    net::io_context ioc;
    auto s = make_script(greeting_and_capa + "-ERR [IN-USE] locked\r\n");
    client_type c{ioc.get_executor(), s};
    with_running_context(ioc, [&] {
        c.async_read_greeting(net::use_future).get();
        auto refused = c.async_stat(net::use_future); // not logged in
        CHECK_THROWS_MATCHES(
            refused.get(), pop3_test::net_system_error,
            Catch::Matchers::Predicate<pop3_test::net_system_error>(
                [](const pop3_test::net_system_error& e) {
                    return e.code() == pop3::errc::wrong_state &&
                           e.code().message() ==
                               pop3::make_error_code(pop3::errc::wrong_state).message();
                }));
        auto locked = c.async_login("alice", "pw", user_pass, net::use_future);
        try {
            locked.get();
            FAIL("login should have failed");
        } catch (const pop3_test::net_system_error& e) {
            CHECK(e.code() == pop3::errc::mailbox_in_use);
            CHECK(e.code() != pop3::errc::authentication_failed);
        }
    });
}

namespace {

/// A category of the application's own, for an error a sink returns.
class custom_category final : public pop3::error_category_base {
public:
    using pop3::error_category_base::message;
    const char* name() const noexcept override { return "custom"; }
    std::string message(int v) const override { return "custom " + std::to_string(v); }
};

/// One failure to provoke: the server's bytes, an I/O fault, and what the sink returns.
struct failure {
    const char* name;
    std::string input;
    std::size_t fail_at;
    pop3::error_code fault;
    pop3::error_code sink_error;
};

/// `f`'s script, failing where `f` says.
auto failing_script(const failure& f)
{
    auto s = make_script(f.input);
    s->fail_at = f.fail_at;
    s->fault = f.fault;
    return s;
}

/// Greeting, login and RETR 1 with a sink, in the error_code& form.
pop3::error_code fail_sync(const failure& f)
{
    net::io_context ioc;
    client_type c{ioc.get_executor(), failing_script(f)};
    const auto sink = [&f](std::string_view) { return f.sink_error; };
    pop3::error_code ec;
    c.read_greeting(ec);
    if (!ec) c.login("alice", "s3cret", user_pass, ec);
    if (!ec) c.retr(1, sink, ec);
    return ec;
}

/// The same in the throwing form: the code of the pop3::error thrown.
pop3::error_code fail_throwing(const failure& f)
{
    net::io_context ioc;
    client_type c{ioc.get_executor(), failing_script(f)};
    try {
        c.read_greeting();
        c.login("alice", "s3cret", user_pass);
        c.retr(1, [&f](std::string_view) { return f.sink_error; });
    } catch (const pop3::error& e) {
        return e.code();
    }
    return {};
}

/// The same in the async form, with callbacks.
pop3::error_code fail_async(const failure& f)
{
    net::io_context ioc;
    client_type c{ioc.get_executor(), failing_script(f)};
    const auto sink = [&f](std::string_view) { return f.sink_error; };
    pop3::error_code result;
    int completions = 0;
    const auto finish = [&](pop3::error_code ec) {
        ++completions;
        result = ec;
    };
    c.async_read_greeting([&](pop3::error_code ec) {
        if (ec) return finish(ec);
        c.async_login("alice", "s3cret", user_pass, [&](pop3::error_code ec2) {
            if (ec2) return finish(ec2);
            c.async_retr(1, sink, finish);
        });
    });
    ioc.run();
    CHECK(completions == 1);
    return result;
}

} // namespace

// Code written against earlier versions still compiles (with a deprecation warning).
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
static_assert(std::is_same_v<pop3::net_error_code, pop3::error_code>);
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

TEST_CASE("the sync, throwing and async forms report the identical error_code for a failure")
{
    static const custom_category custom;
    const std::string message = "+OK 5 octets\r\nhello\r\n.\r\n";
    const std::string good = greeting_and_capa + login_replies + message;
    const std::size_t never = static_cast<std::size_t>(-1);
    const failure failures[] = {
        {"pop3's own error", greeting_and_capa + "+OK\r\n-ERR [IN-USE] locked\r\n", never, {}, {}},
        {"the server's bytes end early",
         greeting_and_capa + login_replies + "+OK\r\nhel",
         never,
         {},
         {}},
        {"an Asio error (misc category)", good, 3, net::error::eof, {}},
        {"an Asio error (system category)", good, 3, net::error::connection_reset, {}},
        {"an errno error from the stream", good, 0, pop3_test::errno_error(EPIPE), {}},
        {"a generic error from the sink",
         good,
         never,
         {},
         pop3_test::generic_error(std::errc::no_space_on_device)},
        {"the application's own category from the sink",
         good,
         never,
         {},
         pop3::error_code(7, custom)},
    };
    for (const auto& f : failures) {
        INFO(f.name);
        const pop3::error_code sync = fail_sync(f);
        REQUIRE(sync);
        const pop3::error_code thrown = fail_throwing(f);
        const pop3::error_code async = fail_async(f);
        // Not merely equivalent: the same value in the same category object.
        CHECK(thrown == sync);
        CHECK(&thrown.category() == &sync.category());
        CHECK(async == sync);
        CHECK(&async.category() == &sync.category());
        if (f.fault) CHECK(sync == f.fault);
        if (f.sink_error) CHECK(sync == f.sink_error);
    }
    // The first two compare with pop3::errc directly, Asio's errors with Asio's enums.
    CHECK(fail_async(failures[0]) == pop3::errc::mailbox_in_use);
    CHECK(pop3::errc::unexpected_eof == fail_sync(failures[1]));
    CHECK(fail_async(failures[2]) == net::error::eof);
    CHECK(fail_async(failures[2]) != pop3::errc::unexpected_eof);
    CHECK(&pop3::make_error_code(pop3::errc::timeout).category() == &pop3::error_category());
}

TEST_CASE("client refuses CR/LF/NUL arguments and message number 0 before writing")
{
    net::io_context ioc;
    auto s = make_script(greeting_and_capa + login_replies);
    client_type c{ioc.get_executor(), s};
    c.read_greeting();
    pop3::error_code ec;
    c.login("alice\r\nDELE 1", "x", user_pass, ec);
    CHECK(ec == pop3::errc::invalid_argument);
    c.login("alice", std::string("pa\0ss", 5), user_pass, ec);
    CHECK(ec == pop3::errc::invalid_argument);
    CHECK(s->output == "CAPA\r\n");
    c.login("alice", "s3cret", user_pass);
    const auto before = s->output;
    c.retr(0, ec);
    CHECK(ec == pop3::errc::invalid_argument);
    c.dele(0, ec);
    CHECK(ec == pop3::errc::invalid_argument);
    c.retr_many(
        {1, 0}, [](const pop3::message_part&) {}, ec);
    CHECK(ec == pop3::errc::invalid_argument);
    CHECK(s->output == before);
    CHECK(c.state() == pop3::session_state::transaction);
}

TEST_CASE("a -ERR leaves the session usable and carries the server's reply")
{
    net::io_context ioc;
    auto s = make_script(greeting_and_capa + login_replies +
                         "-ERR [SYS/TEMP] try later\r\n+OK\r\n-ERR no such message\r\n");
    client_type c{ioc.get_executor(), s};
    c.read_greeting();
    c.login("alice", "s3cret", user_pass);
    try {
        c.stat();
        FAIL("stat should have thrown");
    } catch (const pop3::error& e) {
        CHECK(e.code() == pop3::errc::temporary_failure);
        CHECK(e.reply().text == "try later");
        CHECK(e.reply().code.kind == pop3::response_code_kind::sys_temp);
    }
    c.noop();
    pop3::error_code ec;
    const auto text = c.retr(9, ec);
    CHECK(ec == pop3::errc::server_error);
    CHECK(text.empty());
    CHECK(c.state() == pop3::session_state::transaction);
}

TEST_CASE("login failures map to distinct errors")
{
    struct row {
        const char* pass_reply;
        pop3::errc expected;
    };
    for (const auto& r :
         {row{"-ERR [AUTH] Authentication failed.", pop3::errc::authentication_failed},
          row{"-ERR wrong password", pop3::errc::authentication_failed},
          row{"-ERR [IN-USE] locked", pop3::errc::mailbox_in_use},
          row{"-ERR [LOGIN-DELAY] too soon", pop3::errc::login_delay},
          row{"-ERR [SYS/PERM] disabled", pop3::errc::permanent_failure}}) {
        INFO(r.pass_reply);
        net::io_context ioc;
        auto s = make_script(greeting_and_capa + "+OK\r\n" + r.pass_reply + "\r\n");
        client_type c{ioc.get_executor(), s};
        c.read_greeting();
        pop3::error_code ec;
        c.login("alice", "wrong", user_pass, ec);
        CHECK(ec == r.expected);
        CHECK(c.state() == pop3::session_state::authorization);
    }
}

TEST_CASE("an error in the middle of a reply breaks the session: no silent desync")
{
    net::io_context ioc;
    pop3::parser_limits limits;
    limits.max_line_length = 64;
    auto s = make_script(greeting_and_capa + login_replies + "+OK\r\n1 " + std::string(100, 'u') +
                         "\r\n.\r\n+OK\r\n");
    client_type c{ioc.get_executor(), s};
    c.set_limits(limits);
    c.read_greeting();
    c.login("alice", "s3cret", user_pass);
    pop3::error_code ec;
    c.uidl(ec);
    CHECK(ec == pop3::errc::line_too_long);
    CHECK(c.state() == pop3::session_state::broken);
    const auto before = s->output;
    c.noop(ec);
    CHECK(ec == pop3::errc::session_broken);
    CHECK(s->output == before);
}

TEST_CASE("a connection that ends inside a reply is unexpected_eof, never a short result")
{
    net::io_context ioc;
    auto s = make_script(greeting_and_capa + login_replies + "+OK\r\nSubject: cut\r\n");
    client_type c{ioc.get_executor(), s};
    c.read_greeting();
    c.login("alice", "s3cret", user_pass);
    pop3::error_code ec;
    const auto text = c.retr(1, ec);
    CHECK(ec == pop3::errc::unexpected_eof);
    CHECK(text.empty());
    CHECK(c.state() == pop3::session_state::broken);
}

TEST_CASE("a sink error stops delivery but keeps the session in step")
{
    net::io_context ioc;
    auto s =
        make_script(greeting_and_capa + login_replies + "+OK\r\nline 1\r\n.line 2\r\n.\r\n+OK\r\n");
    client_type c{ioc.get_executor(), s};
    c.read_greeting();
    c.login("alice", "s3cret", user_pass);
    int calls = 0;
    pop3::error_code ec;
    c.retr(
        1,
        [&](std::string_view) -> pop3::error_code {
            ++calls;
            return pop3_test::generic_error(std::errc::no_space_on_device);
        },
        ec);
    CHECK(ec == pop3_test::generic_condition(std::errc::no_space_on_device));
    CHECK(calls == 1);
    c.noop(); // the rest of the message was drained
    CHECK(c.state() == pop3::session_state::transaction);
}

namespace {

const std::string pipelining_capa =
    "+OK ready\r\n+OK\r\nUIDL\r\nTOP\r\nPIPELINING\r\nUSER\r\n.\r\n";
// As Dovecot does: PIPELINING is advertised again after login. (Without it there, the
// client must not pipeline: the capabilities after login are the ones that count.)
const std::string pipelining_login = "+OK\r\n+OK Logged in.\r\n+OK\r\nTOP\r\nPIPELINING\r\n.\r\n";
const std::string batch_replies =
    "+OK\r\none\r\n.\r\n-ERR [SYS/TEMP] gone\r\n+OK\r\n..three\r\n.\r\n";

std::string run_batch(const std::string& capa, std::size_t chunk, std::string& output,
                      std::vector<std::string>& writes)
{
    net::io_context ioc;
    const bool pipelined = capa.find("PIPELINING") != std::string::npos;
    auto s = make_script(capa + (pipelined ? pipelining_login : login_replies) + batch_replies +
                             "+OK\r\n+OK\r\n-ERR no\r\n",
                         chunk);
    client_type c{ioc.get_executor(), s};
    c.read_greeting();
    c.login("alice", "s3cret", user_pass);
    std::string seen;
    c.retr_many({1, 2, 3}, [&](const pop3::message_part& part) {
        if (part.end)
            seen += "[end " + std::to_string(part.number) + " " +
                    (part.error ? part.error.message() : std::string("ok")) + "]";
        else seen += part.data;
    });
    pop3::error_code ec;
    c.dele_many({1, 3, 2}, ec);
    CHECK(ec == pop3::errc::server_error);
    output = s->output;
    writes = s->writes;
    return seen;
}

} // namespace

TEST_CASE("retr_many and dele_many pipeline only when advertised, with identical results")
{
    const auto login_out = std::string("USER alice\r\nPASS s3cret\r\nCAPA\r\n");
    for (std::size_t chunk : {std::size_t{1}, std::size_t{1} << 16}) {
        std::string plain_out, piped_out;
        std::vector<std::string> plain_writes, piped_writes;
        const auto plain = run_batch(greeting_and_capa, chunk, plain_out, plain_writes);
        const auto piped = run_batch(pipelining_capa, chunk, piped_out, piped_writes);
        CHECK(plain == piped);
        CHECK(plain == "one\r\n[end 1 ok][end 2 " +
                           make_error_code(pop3::errc::temporary_failure).message() +
                           "].three\r\n[end 3 ok]");
        // Same bytes either way; only their timing differs, which the script cannot see,
        // so check the client sent the commands in the order of the replies.
        CHECK(plain_out == "CAPA\r\n" + login_out + "RETR 1\r\nRETR 2\r\nRETR 3\r\n" +
                               "DELE 1\r\nDELE 3\r\nDELE 2\r\n");
        CHECK(piped_out == plain_out);
        // Pipelined: each batch goes out in one write; otherwise one command per write.
        CHECK(std::count(piped_writes.begin(), piped_writes.end(),
                         "RETR 1\r\nRETR 2\r\nRETR 3\r\n") == 1);
        CHECK(std::count(piped_writes.begin(), piped_writes.end(),
                         "DELE 1\r\nDELE 3\r\nDELE 2\r\n") == 1);
        CHECK(std::count(piped_writes.begin(), piped_writes.end(),
                         "USER alice\r\nPASS s3cret\r\n") == 1);
        CHECK(std::count(plain_writes.begin(), plain_writes.end(), "RETR 2\r\n") == 1);
        // Two writes saved per batch of three, one for USER and PASS.
        CHECK(plain_writes.size() == piped_writes.size() + 5);
    }
}

TEST_CASE("the PIPELINING window bounds the bytes of the commands in flight")
{
    net::io_context ioc;
    std::string input = pipelining_capa + pipelining_login;
    std::vector<pop3::message_number> numbers;
    for (pop3::message_number n = 1; n <= 1000; ++n) {
        numbers.push_back(n);
        input += "+OK\r\nmessage " + std::to_string(n) + "\r\n.\r\n";
    }
    auto s = make_script(input);
    client_type c{ioc.get_executor(), s};
    c.read_greeting();
    c.login("alice", "s3cret", user_pass);
    const auto login_writes = s->writes.size();
    std::size_t ends = 0;
    c.retr_many(numbers, [&](const pop3::message_part& part) { ends += part.end ? 1 : 0; });
    CHECK(ends == 1000);
    std::size_t largest = 0;
    std::size_t total = 0;
    for (std::size_t i = login_writes; i < s->writes.size(); ++i) {
        const auto& w = s->writes[i];
        largest = std::max(largest, w.size());
        total += static_cast<std::size_t>(std::count(w.begin(), w.end(), '\n'));
    }
    CHECK(total == 1000);
    // The default window (4 KiB of commands, the last command may cross it) filled: 10.9 KB
    // of RETRs go in a few writes, not one per command or per 64 commands.
    CHECK(largest < 4096 + 16);
    CHECK(largest > 4096 - 16);
    CHECK(s->writes.size() - login_writes <= 6);
}

TEST_CASE("the trace shows the conversation but never the password")
{
    net::io_context ioc;
    auto s = make_script(greeting_and_capa + login_replies + "+OK\r\nx\r\n.\r\n");
    client_type c{ioc.get_executor(), s};
    std::string log;
    c.set_trace([&](pop3::trace_direction d, std::string_view line) {
        log += (d == pop3::trace_direction::sent ? "C: " : "S: ");
        log += line;
        log += "\n";
    });
    c.read_greeting();
    c.login("alice", "hunter2-secret", user_pass);
    c.retr(1);
    CHECK(log.find("hunter2") == std::string::npos);
    CHECK(log.find("C: PASS <redacted>\n") != std::string::npos);
    CHECK(log.find("C: USER alice\n") != std::string::npos);
    CHECK(log.find("S: +OK Dovecot ready. <123.456@host>\n") != std::string::npos);
    CHECK(log.find("S: <3 octets of message data>\n") != std::string::npos);
}

TEST_CASE("an I/O error injected at every step of every operation ends in an error, sync and async")
{
    std::size_t total_calls = 0;
    {
        net::io_context ioc;
        auto s = make_script(session_input, 5);
        client_type c{ioc.get_executor(), s};
        run_throwing(c);
        total_calls = s->io_calls;
    }
    REQUIRE(total_calls > 20);
    for (std::size_t k = 0; k < total_calls; ++k) {
        INFO("fault at I/O call " << k);
        {
            net::io_context ioc;
            auto s = make_script(session_input, 5);
            s->fail_at = k;
            client_type c{ioc.get_executor(), s};
            pop3::error_code ec;
            const auto partial = run_with_codes(c, ec);
            CHECK(ec == net::error::connection_reset);
            CHECK(partial != session_summary);
            CHECK(c.state() == pop3::session_state::broken);
            c.noop(ec);
            CHECK(ec == pop3::errc::session_broken);
        }
        {
            net::io_context ioc;
            auto s = make_script(session_input, 5);
            s->fail_at = k;
            client_type c{ioc.get_executor(), s};
            bool threw = false;
            with_running_context(ioc, [&] {
                try {
                    run_with_futures(c);
                } catch (const pop3_test::net_system_error& e) {
                    threw = true;
                    CHECK(e.code() == net::error::connection_reset);
                }
            });
            CHECK(threw);
            CHECK(c.state() == pop3::session_state::broken);
        }
    }
}

TEST_CASE("set_limits keeps the trace installed before it, and the limits apply")
{
    net::io_context ioc;
    auto s = std::make_shared<script>();
    s->input = "+OK ready\r\n+OK\r\nUSER\r\n" + std::string(100, 'X') + "\r\n.\r\n";
    client_type c{ioc.get_executor(), s};
    std::vector<std::string> traced;
    c.set_trace([&](pop3::trace_direction, std::string_view line) { traced.emplace_back(line); });
    pop3::parser_limits limits;
    limits.max_line_length = 50;
    c.set_limits(limits);
    CHECK(c.limits().max_line_length == 50);
    pop3::error_code ec;
    c.read_greeting(ec);
    CHECK(ec == pop3::errc::line_too_long); // the 100-octet CAPA line
    REQUIRE_FALSE(traced.empty());          // the trace survived set_limits
    CHECK(traced.front().find("+OK ready") != std::string::npos);
}
