// Issue 4 against the real Dovecot: every mechanism it offers logs in, over STLS and
// implicit TLS; certificates are verified (host name and CA); TLS-required sessions send
// no credential to a server without STLS; and the plaintext policy holds on the wire.
#include "../catch.hpp"
#include "dovecot_env.hpp"
#include "test_net.hpp"

#include <pop3/client.hpp>

#include <string>
#include <vector>

using pop3_test::dovecot_env;
using tcp = net::ip::tcp;
using tls_client = pop3::client<net::ssl::stream<tcp::socket>>;

namespace {

pop3::login_options method(pop3::auth_method m, bool allow_plaintext = false)
{
    pop3::login_options o;
    o.method = m;
    o.allow_plaintext = allow_plaintext;
    return o;
}

/// Records every line the client sends, as the trace shows it.
struct sent_lines {
    std::vector<std::string> lines;
    void attach(tls_client& c)
    {
        c.set_trace([this](pop3::trace_direction d, std::string_view line) {
            if (d == pop3::trace_direction::sent) lines.emplace_back(line);
        });
    }
};

/// Connects the TCP layer the way a caller would, without the library.
void connect_by_hand(tls_client& c, const std::string& host, const std::string& port)
{
    net::ip::tcp::resolver resolver(c.get_executor());
    net::connect(c.next_layer(), resolver.resolve(host, port));
}

/// Runs `ioc` until the handler has run, at most 20 s.
template <class Start> pop3::error_code run_async(net::io_context& ioc, Start start)
{
    pop3::error_code result;
    bool done = false;
    start([&](pop3::error_code ec) {
        result = ec;
        done = true;
    });
    ioc.restart();
    ioc.run_for(std::chrono::seconds(20));
    REQUIRE(done);
    return result;
}

bool sent_a_credential(const sent_lines& sent)
{
    for (const auto& line : sent.lines)
        if (line.rfind("USER", 0) == 0 || line.rfind("PASS", 0) == 0 || line.rfind("AUTH", 0) == 0)
            return true;
    return false;
}


} // namespace

TEST_CASE("dovecot auth: every mechanism logs in over STLS and implicit TLS")
{
    const auto& env = dovecot_env::get();
    auto tls = pop3::make_tls_context({env.ca_file(), {}});
    const auto expected_count = env.mailbox("alice").size();
    using m = pop3::auth_method;
    for (auto mech : {m::automatic, m::user, m::apop, m::plain, m::login, m::cram_md5,
                      m::scram_sha_1, m::scram_sha_256}) {
        for (auto mode : {pop3::tls_mode::starttls, pop3::tls_mode::implicit}) {
            INFO("method " << static_cast<int>(mech) << " mode " << static_cast<int>(mode));
            net::io_context ioc;
            tls_client c{ioc, tls};
            c.connect(env.host(), mode == pop3::tls_mode::implicit ? env.tls_port() : env.port(),
                      mode);
            REQUIRE(c.tls_active());
            c.login("alice", dovecot_env::password("alice"), method(mech));
            CHECK(c.state() == pop3::session_state::transaction);
            CHECK(c.stat().count == expected_count);
            CHECK(c.quit());
        }
    }
}

TEST_CASE("dovecot auth: without TLS, SCRAM logs in; everything else needs the opt-in")
{
    const auto& env = dovecot_env::get();
    using m = pop3::auth_method;
    for (auto mech : {m::automatic, m::scram_sha_1, m::scram_sha_256}) {
        net::io_context ioc;
        pop3::client<tcp::socket> c{ioc};
        c.connect(env.host(), env.port());
        c.login("alice", dovecot_env::password("alice"), method(mech));
        CHECK(c.state() == pop3::session_state::transaction);
        CHECK(c.quit());
    }
    for (auto mech : {m::user, m::apop, m::plain, m::login, m::cram_md5}) {
        INFO(static_cast<int>(mech));
        net::io_context ioc;
        pop3::client<tcp::socket> c{ioc};
        c.connect(env.host(), env.port());
        pop3::error_code ec;
        c.login("alice", dovecot_env::password("alice"), method(mech), ec);
        CHECK(ec == pop3::errc::insecure_authentication);
        c.login("alice", dovecot_env::password("alice"), method(mech, true), ec);
        CHECK_FALSE(ec);
        CHECK(c.state() == pop3::session_state::transaction);
        CHECK(c.quit());
    }
}

TEST_CASE("dovecot auth: wrong password with every mechanism is authentication_failed")
{
    const auto& env = dovecot_env::get();
    auto tls = pop3::make_tls_context({env.ca_file(), {}});
    using m = pop3::auth_method;
    for (auto mech :
         {m::user, m::apop, m::plain, m::login, m::cram_md5, m::scram_sha_1, m::scram_sha_256}) {
        INFO(static_cast<int>(mech));
        net::io_context ioc;
        tls_client c{ioc, tls};
        c.connect(env.host(), env.tls_port(), pop3::tls_mode::implicit);
        pop3::error_code ec;
        c.login("alice", "wrong-password", method(mech), ec);
        CHECK(ec == pop3::errc::authentication_failed);
        CHECK(c.state() == pop3::session_state::authorization);
    }
}

TEST_CASE("dovecot auth: a wrong host name and an untrusted CA are refused")
{
    const auto& env = dovecot_env::get();
    {
        // 127.0.0.2 reaches the same server, but the certificate does not name it.
        auto tls = pop3::make_tls_context({env.ca_file(), {}});
        net::io_context ioc;
        tls_client c{ioc, tls};
        pop3::error_code ec;
        c.connect("127.0.0.2", env.tls_port(), pop3::tls_mode::implicit, ec);
        CHECK(ec == pop3::errc::certificate_name_mismatch);
        CHECK(c.state() == pop3::session_state::broken);
        // OpenSSL's own words, for a message a user can act on; no server reply.
        CHECK(c.last_error_reply().detail.find("mismatch") != std::string::npos);
        CHECK(c.last_error_reply().text.empty());
    }
    {
        // The same through the asynchronous driver.
        auto tls = pop3::make_tls_context({env.ca_file(), {}});
        net::io_context ioc;
        tls_client c{ioc, tls};
        const auto ec = run_async(ioc, [&](auto handler) {
            c.async_connect("127.0.0.2", env.tls_port(), pop3::tls_mode::implicit, handler);
        });
        CHECK(ec == pop3::errc::certificate_name_mismatch);
    }
    {
        // The system trust store does not know the test CA.
        auto tls = pop3::make_tls_context();
        net::io_context ioc;
        tls_client c{ioc, tls};
        sent_lines sent;
        sent.attach(c);
        pop3::error_code ec;
        c.connect(env.host(), env.port(), pop3::tls_mode::starttls, ec);
        CHECK(ec == pop3::errc::certificate_untrusted);
        CHECK_FALSE(c.tls_active());
        CHECK(sent.lines == std::vector<std::string>{"CAPA", "STLS"});
        CHECK(c.last_error_reply().detail.find("certificate") != std::string::npos);
        // The exception says both: the library's message and OpenSSL's reason.
        try {
            c.connect(env.host(), env.port(), pop3::tls_mode::starttls);
            FAIL("connected without a trusted certificate");
        } catch (const pop3::error& e) {
            CHECK(e.code() == pop3::errc::certificate_untrusted);
            CHECK(std::string(e.what()).find(c.last_error_reply().detail) == 0);
            CHECK(std::string(e.what()).find("server said") == std::string::npos);
        }
    }
    {
        // The loudly named opt-out does connect (for tests only).
        auto tls = pop3::make_tls_context();
        net::io_context ioc;
        tls_client c{ioc, tls};
        c.set_certificate_check(pop3::certificate_check::insecure_do_not_verify);
        c.connect("127.0.0.2", env.tls_port(), pop3::tls_mode::implicit);
        CHECK(c.tls_active());
    }
}

TEST_CASE("dovecot auth: TLS required and no STLS offered: no credential is sent")
{
    const auto& env = dovecot_env::get();
    auto tls = pop3::make_tls_context({env.ca_file(), {}});
    net::io_context ioc;
    tls_client c{ioc, tls};
    sent_lines sent;
    sent.attach(c);
    pop3::error_code ec;
    c.connect(env.host(), env.nostls_port(), pop3::tls_mode::starttls, ec);
    CHECK(ec == pop3::errc::tls_required);
    CHECK(sent.lines == std::vector<std::string>{"CAPA"});
    c.login("alice", dovecot_env::password("alice"), ec);
    CHECK(ec == pop3::errc::session_broken);
    CHECK(sent.lines == std::vector<std::string>{"CAPA"});
}

TEST_CASE("dovecot auth: implicit TLS on the plain POP3 port is tls_not_spoken, sync and async")
{
    const auto& env = dovecot_env::get();
    auto tls = pop3::make_tls_context({env.ca_file(), {}});
    {
        net::io_context ioc;
        tls_client c{ioc, tls};
        pop3::error_code ec;
        c.connect(env.host(), env.port(), pop3::tls_mode::implicit, ec);
        CHECK(ec == pop3::errc::tls_not_spoken);
        CHECK_FALSE(c.tls_active());
    }
    {
        net::io_context ioc;
        tls_client c{ioc, tls};
        const auto ec = run_async(ioc, [&](auto handler) {
            c.async_connect(env.host(), env.port(), pop3::tls_mode::implicit, handler);
        });
        CHECK(ec == pop3::errc::tls_not_spoken);
    }
    {
        // The throwing form names it the same way, as a pop3::error.
        net::io_context ioc;
        tls_client c{ioc, tls};
        try {
            c.connect(env.host(), env.port(), pop3::tls_mode::implicit);
            FAIL("connected");
        } catch (const pop3::error& e) {
            CHECK(e.code() == pop3::errc::tls_not_spoken);
        }
    }
}

TEST_CASE("dovecot auth: TLS on a stream the caller connected verifies the host name too")
{
    const auto& env = dovecot_env::get();
    auto tls = pop3::make_tls_context({env.ca_file(), {}});
    // 127.0.0.2 reaches the same server; its certificate names only localhost and 127.0.0.1.
    SECTION("STLS without a server name does not start TLS")
    {
        net::io_context ioc;
        tls_client c{ioc, tls};
        sent_lines sent;
        sent.attach(c);
        connect_by_hand(c, "127.0.0.2", env.port());
        c.read_greeting();
        pop3::error_code ec;
        c.stls(ec);
        CHECK(ec == pop3::errc::host_name_required);
        CHECK_FALSE(c.tls_active());
        c.login("alice", dovecot_env::password("alice"), ec);
        CHECK(ec == pop3::errc::session_broken);
        CHECK_FALSE(sent_a_credential(sent));
    }
    SECTION("STLS checks the name given with set_server_name")
    {
        net::io_context ioc;
        tls_client c{ioc, tls};
        sent_lines sent;
        sent.attach(c);
        connect_by_hand(c, "127.0.0.2", env.port());
        c.set_server_name("127.0.0.2");
        c.read_greeting();
        pop3::error_code ec;
        c.stls(ec);
        CHECK(ec == pop3::errc::certificate_name_mismatch);
        c.login("alice", dovecot_env::password("alice"), ec);
        CHECK(ec == pop3::errc::session_broken);
        CHECK_FALSE(sent_a_credential(sent));
    }
    SECTION("STLS with the right name logs in")
    {
        net::io_context ioc;
        tls_client c{ioc, tls};
        connect_by_hand(c, "127.0.0.1", env.port());
        c.set_server_name("127.0.0.1");
        c.read_greeting();
        c.stls();
        CHECK(c.tls_active());
        c.login("alice", dovecot_env::password("alice"));
        CHECK(c.state() == pop3::session_state::transaction);
        CHECK(c.quit());
    }
    SECTION("implicit TLS started by read_greeting: no name, wrong name, right name")
    {
        {
            net::io_context ioc;
            tls_client c{ioc, tls};
            connect_by_hand(c, "127.0.0.2", env.tls_port());
            pop3::error_code ec;
            c.read_greeting(pop3::tls_mode::implicit, ec);
            CHECK(ec == pop3::errc::host_name_required);
        }
        {
            net::io_context ioc;
            tls_client c{ioc, tls};
            connect_by_hand(c, "127.0.0.2", env.tls_port());
            c.set_server_name("127.0.0.2");
            pop3::error_code ec;
            c.read_greeting(pop3::tls_mode::implicit, ec);
            CHECK(ec == pop3::errc::certificate_name_mismatch);
        }
        {
            net::io_context ioc;
            tls_client c{ioc, tls};
            connect_by_hand(c, "127.0.0.1", env.tls_port());
            c.set_server_name("localhost");
            c.read_greeting(pop3::tls_mode::implicit);
            CHECK(c.tls_active());
            c.login("alice", dovecot_env::password("alice"));
            CHECK(c.quit());
        }
    }
    SECTION("a handshake the caller did is checked before the session is used")
    {
        // The caller's own handshake verified nothing (a context that checks no certificate).
        net::ssl::context lax(net::ssl::context::tls_client);
        lax.load_verify_file(env.ca_file());
        for (const char* name : {"", "127.0.0.2", "127.0.0.1"}) {
            INFO("server name '" << name << "'");
            net::io_context ioc;
            tls_client c{ioc, lax};
            sent_lines sent;
            sent.attach(c);
            connect_by_hand(c, "127.0.0.2", env.tls_port());
            c.stream().handshake(net::ssl::stream_base::client);
            if (*name != '\0') c.set_server_name(name);
            pop3::error_code ec;
            c.read_greeting(ec);
            if (std::string(name) == "127.0.0.1") {
                // The certificate names 127.0.0.1 (the same server): this name is fine.
                REQUIRE_FALSE(ec);
                CHECK(c.tls_active());
                c.login("alice", dovecot_env::password("alice"));
                CHECK(c.quit());
            } else {
                CHECK(ec == (*name == '\0' ? pop3::errc::host_name_required
                                           : pop3::errc::certificate_name_mismatch));
                c.login("alice", dovecot_env::password("alice"), ec);
                CHECK(ec == pop3::errc::session_broken);
                CHECK_FALSE(sent_a_credential(sent));
            }
        }
    }
    SECTION("the asynchronous forms refuse the same")
    {
        // How TLS starts: async_stls after a plain greeting, or async_read_greeting(mode).
        enum class via { stls, implicit, starttls };
        struct async_case {
            const char* address;
            const char* server_name; // "" = none given
            via how;
            pop3::error_code expected;
        };
        const pop3::errc none_given = pop3::errc::host_name_required;
        const pop3::errc mismatch = pop3::errc::certificate_name_mismatch;
        const async_case cases[] = {
            {"127.0.0.2", "", via::stls, none_given},
            {"127.0.0.2", "127.0.0.2", via::stls, mismatch},
            {"127.0.0.2", "", via::implicit, none_given},
            {"127.0.0.2", "127.0.0.2", via::starttls, mismatch},
            {"127.0.0.1", "127.0.0.1", via::starttls, {}},
        };
        for (const auto& k : cases) {
            INFO(k.address << " named '" << k.server_name << "' via " << static_cast<int>(k.how));
            net::io_context ioc;
            tls_client c{ioc, tls};
            connect_by_hand(c, k.address, k.how == via::implicit ? env.tls_port() : env.port());
            if (*k.server_name != '\0') c.set_server_name(k.server_name);
            if (k.how == via::stls) c.read_greeting();
            const auto ec = run_async(ioc, [&](auto handler) {
                if (k.how == via::stls) c.async_stls(handler);
                else
                    c.async_read_greeting(k.how == via::implicit ? pop3::tls_mode::implicit
                                                                 : pop3::tls_mode::starttls,
                                          handler);
            });
            CHECK(ec == k.expected);
            CHECK(c.tls_active() == !k.expected);
        }
    }
}

TEST_CASE("dovecot auth: a TLS client connects again after quit, with a fresh TLS session")
{
    const auto& env = dovecot_env::get();
    auto tls = pop3::make_tls_context({env.ca_file(), {}});
    const auto expected_count = env.mailbox("alice").size();
    for (auto mode : {pop3::tls_mode::starttls, pop3::tls_mode::implicit}) {
        INFO("mode " << static_cast<int>(mode));
        const auto port = mode == pop3::tls_mode::implicit ? env.tls_port() : env.port();
        net::io_context ioc;
        tls_client c{ioc, tls};
        c.set_timeouts({std::chrono::seconds(10), std::chrono::seconds(10)});
        for (int round = 0; round < 3; ++round) {
            INFO("round " << round);
            c.connect(env.host(), port, mode);
            CHECK(c.tls_active());
            c.login("alice", dovecot_env::password("alice"));
            CHECK(c.stat().count == expected_count);
            CHECK(c.quit());
        }
        // The same client asynchronously, and a wrong name on the way fails as it should.
        auto ec = run_async(ioc, [&](auto h) { c.async_connect("127.0.0.2", port, mode, h); });
        CHECK(ec == pop3::errc::certificate_name_mismatch);
        ec = run_async(ioc, [&](auto h) { c.async_connect(env.host(), port, mode, h); });
        INFO(ec.message() << " / " << c.last_error_reply().detail);
        CHECK_FALSE(ec);
        CHECK(c.tls_active());
        ec = run_async(ioc, [&](auto h) {
            c.async_login("alice", dovecot_env::password("alice"), h);
        });
        CHECK_FALSE(ec);
        ec = run_async(ioc, [&](auto h) { c.async_quit([h](pop3::error_code e, bool) { h(e); }); });
        CHECK_FALSE(ec);
    }
}
