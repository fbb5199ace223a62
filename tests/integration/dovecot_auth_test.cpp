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
        c.connect(env.host(), env.port(), pop3::tls_mode::none);
        c.login("alice", dovecot_env::password("alice"), method(mech));
        CHECK(c.state() == pop3::session_state::transaction);
        CHECK(c.quit());
    }
    for (auto mech : {m::user, m::apop, m::plain, m::login, m::cram_md5}) {
        INFO(static_cast<int>(mech));
        net::io_context ioc;
        pop3::client<tcp::socket> c{ioc};
        c.connect(env.host(), env.port(), pop3::tls_mode::none);
        std::error_code ec;
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
        std::error_code ec;
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
        std::error_code ec;
        c.connect("127.0.0.2", env.tls_port(), pop3::tls_mode::implicit, ec);
        CHECK(ec == pop3::errc::certificate_name_mismatch);
        CHECK(c.state() == pop3::session_state::broken);
    }
    {
        // The same through the asynchronous driver.
        auto tls = pop3::make_tls_context({env.ca_file(), {}});
        net::io_context ioc;
        tls_client c{ioc, tls};
        pop3::net_error_code ec;
        bool done = false;
        c.async_connect("127.0.0.2", env.tls_port(), pop3::tls_mode::implicit,
                        [&](pop3::net_error_code e) {
                            ec = e;
                            done = true;
                        });
        ioc.run_for(std::chrono::seconds(20));
        CHECK(done);
        CHECK(ec == pop3::errc::certificate_name_mismatch);
    }
    {
        // The system trust store does not know the test CA.
        auto tls = pop3::make_tls_context();
        net::io_context ioc;
        tls_client c{ioc, tls};
        sent_lines sent;
        sent.attach(c);
        std::error_code ec;
        c.connect(env.host(), env.port(), pop3::tls_mode::starttls, ec);
        CHECK(ec == pop3::errc::certificate_untrusted);
        CHECK_FALSE(c.tls_active());
        CHECK(sent.lines == std::vector<std::string>{"CAPA", "STLS"});
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
    std::error_code ec;
    c.connect(env.host(), env.nostls_port(), pop3::tls_mode::starttls, ec);
    CHECK(ec == pop3::errc::tls_required);
    CHECK(sent.lines == std::vector<std::string>{"CAPA"});
    c.login("alice", dovecot_env::password("alice"), ec);
    CHECK(ec == pop3::errc::session_broken);
    CHECK(sent.lines == std::vector<std::string>{"CAPA"});
}
