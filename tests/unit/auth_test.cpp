// Login methods and the plaintext policy over the scripted stream: what goes on the
// wire for each method, and what is refused before a credential is written.
#include "../catch.hpp"
#include "test_net.hpp"
#include "test_stream.hpp"

#include <pop3/client.hpp>
#include <pop3/sasl/base64.hpp>

#include <memory>
#include <string>

using pop3_test::script;
using pop3_test::test_stream;
using client_type = pop3::client<test_stream>;

namespace {

struct fixture {
    net::io_context ioc;
    std::shared_ptr<script> s = std::make_shared<script>();
    client_type c;
    std::string log;

    fixture(const std::string& greeting, const std::string& capa, const std::string& rest)
        : c(ioc.get_executor(), s)
    {
        s->input = greeting + "+OK\r\n" + capa + ".\r\n" + rest;
        c.set_trace([this](pop3::trace_direction d, std::string_view line) {
            log += (d == pop3::trace_direction::sent ? "C: " : "S: ");
            log.append(line);
            log += '\n';
        });
        c.read_greeting();
    }
    std::string sent_after_capa() const { return s->output.substr(std::string("CAPA\r\n").size()); }
};

pop3::login_options with(pop3::auth_method m, bool allow_plaintext = false)
{
    pop3::login_options o;
    o.method = m;
    o.allow_plaintext = allow_plaintext;
    return o;
}

const std::string after_login_capa = "+OK\r\nTOP\r\nUIDL\r\n.\r\n";

} // namespace

TEST_CASE("without TLS, methods that expose the password are refused before sending")
{
    for (auto m : {pop3::auth_method::automatic, pop3::auth_method::user, pop3::auth_method::apop,
                   pop3::auth_method::plain, pop3::auth_method::login, pop3::auth_method::cram_md5,
                   pop3::auth_method::xoauth2, pop3::auth_method::oauthbearer}) {
        INFO(static_cast<int>(m));
        fixture f("+OK ready <1.2@host>\r\n", "USER\r\nSASL PLAIN LOGIN CRAM-MD5 XOAUTH2\r\n", "");
        pop3::error_code ec;
        f.c.login("alice", "secret", with(m), ec);
        CHECK(ec == pop3::errc::insecure_authentication);
        CHECK(f.sent_after_capa().empty());
        CHECK(f.c.state() == pop3::session_state::authorization);
    }
    fixture f("+OK ready\r\n", "SASL XOAUTH2 OAUTHBEARER\r\n", "");
    pop3::error_code ec;
    f.c.login_oauth("alice", "ya29.token", {}, ec);
    CHECK(ec == pop3::errc::insecure_authentication);
    CHECK(f.sent_after_capa().empty());
}

TEST_CASE("without TLS, automatic login uses SCRAM when offered")
{
    fixture f("+OK ready\r\n", "USER\r\nSASL PLAIN SCRAM-SHA-1 SCRAM-SHA-256\r\n",
              "-ERR [AUTH] Authentication failed.\r\n");
    pop3::error_code ec;
    f.c.login("alice", "secret", {}, ec);
    CHECK(ec == pop3::errc::authentication_failed);
    const auto sent = f.sent_after_capa();
    REQUIRE(sent.rfind("AUTH SCRAM-SHA-256 ", 0) == 0);
    std::string first;
    REQUIRE(pop3::sasl::base64_decode(sent.substr(19, sent.find('\r') - 19), first));
    CHECK(first.rfind("n,,n=alice,r=", 0) == 0);
}

TEST_CASE("no usable method: mechanism_unavailable")
{
    fixture f("+OK ready\r\n", "SASL GSSAPI\r\n", "");
    pop3::error_code ec;
    f.c.login("alice", "secret", with(pop3::auth_method::automatic, true), ec);
    CHECK(ec == pop3::errc::mechanism_unavailable);
    f.c.login("alice", "secret", with(pop3::auth_method::apop, true), ec);
    CHECK(ec == pop3::errc::mechanism_unavailable); // no <...@...> in the greeting
    CHECK(f.sent_after_capa().empty());
}

TEST_CASE("APOP sends the RFC 1939 digest, and never the password")
{
    fixture f("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n", "USER\r\n",
              "+OK maildrop has 1 message (369 octets)\r\n" + after_login_capa);
    f.c.login("mrose", "tanstaaf", with(pop3::auth_method::apop, true));
    CHECK(f.sent_after_capa() == "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\nCAPA\r\n");
    CHECK(f.c.state() == pop3::session_state::transaction);
    CHECK(f.log.find("c4c9334bac560ecc979e58001b3e22fb") == std::string::npos);
    CHECK(f.log.find("C: APOP mrose <redacted>") != std::string::npos);
}

TEST_CASE("automatic with plaintext allowed prefers APOP and CRAM-MD5 over cleartext")
{
    fixture f("+OK ready <1.2@host>\r\n", "USER\r\nSASL PLAIN\r\n", "+OK\r\n" + after_login_capa);
    f.c.login("alice", "secret", with(pop3::auth_method::automatic, true));
    CHECK(f.sent_after_capa().rfind("APOP alice ", 0) == 0);
}

TEST_CASE("SASL PLAIN with an initial response")
{
    fixture f("+OK ready\r\n", "SASL PLAIN\r\n", "+OK Logged in.\r\n" + after_login_capa);
    f.c.login("alice", "secret", with(pop3::auth_method::plain, true));
    CHECK(f.sent_after_capa() == "AUTH PLAIN " +
                                     pop3::sasl::base64_encode(std::string("\0alice\0secret", 13)) +
                                     "\r\nCAPA\r\n");
    CHECK(f.c.state() == pop3::session_state::transaction);
    CHECK(f.c.capabilities().top); // CAPA was read again after login
    CHECK(f.log.find(pop3::sasl::base64_encode(std::string("\0alice\0secret", 13))) ==
          std::string::npos);
    CHECK(f.log.find("C: AUTH PLAIN <redacted>") != std::string::npos);
}

TEST_CASE("SASL LOGIN answers the server's challenges in order")
{
    fixture f("+OK ready\r\n", "SASL LOGIN\r\n",
              "+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\n+OK\r\n" + after_login_capa);
    f.c.login("alice", "secret", with(pop3::auth_method::login, true));
    CHECK(f.sent_after_capa() == "AUTH LOGIN\r\n" + pop3::sasl::base64_encode("alice") + "\r\n" +
                                     pop3::sasl::base64_encode("secret") + "\r\nCAPA\r\n");
    CHECK(f.log.find(pop3::sasl::base64_encode("secret")) == std::string::npos);
}

TEST_CASE("a 5 KB OAuth token goes on its own line (RFC 5034: AUTH line <= 255 octets)")
{
    const std::string token(5000, 't');
    pop3::login_options o;
    o.method = pop3::auth_method::xoauth2;
    o.allow_plaintext = true;
    fixture f("+OK ready\r\n", "SASL XOAUTH2\r\n", "+ \r\n+OK\r\n" + after_login_capa);
    f.c.login_oauth("alice@example.com", token, o);
    const auto expected_ir = pop3::sasl::base64_encode("user=alice@example.com\x01"
                                                       "auth=Bearer " +
                                                       token + "\x01\x01");
    CHECK(f.sent_after_capa() == "AUTH XOAUTH2\r\n" + expected_ir + "\r\nCAPA\r\n");
    CHECK(f.log.find(token.substr(0, 50)) == std::string::npos);
}

TEST_CASE("a short token rides on the AUTH line")
{
    pop3::login_options o;
    o.allow_plaintext = true;
    fixture f("+OK ready\r\n", "SASL XOAUTH2\r\n", "+OK\r\n" + after_login_capa);
    f.c.login_oauth("a@b", "tok", o);
    CHECK(f.sent_after_capa() == "AUTH XOAUTH2 " +
                                     pop3::sasl::base64_encode("user=a@b\x01"
                                                               "auth=Bearer tok\x01\x01") +
                                     "\r\nCAPA\r\n");
}

TEST_CASE("an OAuth error JSON is answered with '*' and the login fails")
{
    const std::string json =
        R"({"status":"401","schemes":"bearer","scope":"https://mail.google.com/"})";
    pop3::login_options o;
    o.allow_plaintext = true;
    fixture f("+OK ready\r\n", "SASL OAUTHBEARER XOAUTH2\r\n",
              "+ " + pop3::sasl::base64_encode(json) + "\r\n-ERR [AUTH] Invalid credentials\r\n");
    o.host = "pop.example.com";
    o.port = "995";
    pop3::error_code ec;
    f.c.login_oauth("alice@example.com", "expired-token", o, ec);
    CHECK(ec == pop3::errc::authentication_failed);
    const auto sent = f.sent_after_capa();
    CHECK(sent.rfind("AUTH OAUTHBEARER ", 0) == 0); // preferred over XOAUTH2
    CHECK(sent.substr(sent.size() - 3) == "*\r\n");
    CHECK(f.c.state() == pop3::session_state::authorization);
    // The JSON says why (e.g. refresh the token): it comes with the server's -ERR.
    CHECK(f.c.last_error_reply().detail == json);
    CHECK(f.c.last_error_reply().text == "Invalid credentials");
    CHECK(f.c.last_error_reply().code.text == "AUTH");
}

TEST_CASE("the throwing login carries the OAuth error JSON in pop3::error")
{
    const std::string json = R"({"status":"invalid_token"})";
    pop3::login_options o;
    o.allow_plaintext = true;
    fixture f("+OK ready\r\n", "SASL OAUTHBEARER\r\n",
              "+ " + pop3::sasl::base64_encode(json) + "\r\n-ERR [AUTH] Invalid credentials\r\n" +
                  "+OK\r\nSASL OAUTHBEARER\r\n.\r\n");
    try {
        f.c.login_oauth("alice@example.com", "expired-token", o);
        FAIL("login_oauth should have thrown");
    } catch (const pop3::error& e) {
        CHECK(e.code() == pop3::errc::authentication_failed);
        CHECK(e.reply().detail == json);
        CHECK(std::string(e.what()).find(json) != std::string::npos);
    }
    // The next operation that succeeds leaves no stale reply behind.
    f.c.capa();
    CHECK(f.c.last_error_reply().detail.empty());
    CHECK(f.c.last_error_reply().text.empty());
}

TEST_CASE("an explicit SASL method the server's CAPA does not list is refused before sending")
{
    // GNU Mailutils: CAPA lists USER but no SASL; AUTH would get "-ERR Not implemented".
    fixture f("+OK ready <1.2@host>\r\n", "USER\r\nPIPELINING\r\n", "-ERR Not implemented\r\n");
    pop3::error_code ec;
    f.c.login("alice", "pw", with(pop3::auth_method::plain, true), ec);
    CHECK(ec == pop3::errc::mechanism_unavailable);
    CHECK(f.sent_after_capa().empty());
    CHECK(f.c.state() == pop3::session_state::authorization);
    // A server that listed nothing (an empty CAPA) may still know it: the method is tried,
    // without the credential until the server accepts the command, and a rejection of the
    // command is not a rejection of the password.
    fixture quiet("+OK ready\r\n", "", "-ERR Not implemented\r\n");
    quiet.c.login("alice", "pw", with(pop3::auth_method::plain, true), ec);
    CHECK(ec == pop3::errc::auth_command_rejected);
    CHECK(quiet.sent_after_capa() == "AUTH PLAIN\r\n");
}

TEST_CASE("CR, LF or NUL in credentials are refused before sending, for every method")
{
    for (auto m :
         {pop3::auth_method::user, pop3::auth_method::plain, pop3::auth_method::login,
          pop3::auth_method::cram_md5, pop3::auth_method::scram_sha_256, pop3::auth_method::apop}) {
        const std::string bad_values[] = {"a\r\nQUIT", std::string("a\0b", 3), "a\nb"};
        for (const auto& bad : bad_values) {
            INFO(static_cast<int>(m) << " " << bad);
            fixture f("+OK ready <1.2@h>\r\n",
                      "USER\r\nSASL PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256\r\n",
                      "+ PDEuMkBoPg==\r\n-ERR\r\n");
            pop3::error_code ec;
            f.c.login(bad, "pw", with(m, true), ec);
            const bool refused_user = ec == pop3::errc::invalid_argument;
            f.c.login("alice", bad, with(m, true), ec);
            const bool refused_password = ec == pop3::errc::invalid_argument;
            CHECK(refused_user);
            CHECK(refused_password);
            // Nothing carrying the bad bytes went out.
            CHECK(f.s->output.find(bad) == std::string::npos);
        }
    }
}
