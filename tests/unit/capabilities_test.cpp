#include "../catch.hpp"
#include "parser_harness.hpp"

#include <pop3/capabilities.hpp>
#include <pop3/response_parser.hpp>

#include <string>

namespace {

/// Runs a whole CAPA response through the parser and the capability decoder.
pop3::capabilities parse_capa(const std::string& response)
{
    pop3::response_parser parser;
    parser.expect(pop3::response_kind::multi_line, pop3::body_mode::lines);
    pop3::capabilities caps;
    std::string_view rest = response;
    while (true) {
        const auto r = parser.parse(rest);
        REQUIRE(r.event != pop3::parse_event::failed);
        REQUIRE(r.event != pop3::parse_event::need_more);
        rest.remove_prefix(r.consumed);
        if (r.event == pop3::parse_event::done) break;
        if (r.event == pop3::parse_event::line) {
            INFO(r.data);
            CHECK_FALSE(caps.add_line(r.data));
        }
    }
    return caps;
}

} // namespace

TEST_CASE("CAPA of Dovecot 2.3 before login")
{
    const auto caps = parse_capa("+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\n"
                                 "AUTH-RESP-CODE\r\nSTLS\r\nUSER\r\nSASL PLAIN LOGIN CRAM-MD5 "
                                 "DIGEST-MD5 SCRAM-SHA-1 SCRAM-SHA-256\r\n.\r\n");
    CHECK(caps.top);
    CHECK(caps.uidl);
    CHECK(caps.resp_codes);
    CHECK(caps.pipelining);
    CHECK(caps.auth_resp_code);
    CHECK(caps.stls);
    CHECK(caps.user);
    CHECK_FALSE(caps.utf8);
    CHECK(caps.sasl_mechanisms == std::vector<std::string>{"PLAIN", "LOGIN", "CRAM-MD5",
                                                           "DIGEST-MD5", "SCRAM-SHA-1",
                                                           "SCRAM-SHA-256"});
    CHECK(caps.has_sasl("scram-sha-256"));
    CHECK_FALSE(caps.has_sasl("XOAUTH2"));
    CHECK(caps.has("capa"));
    CHECK(caps.entries.size() == 9);
}

TEST_CASE("CAPA of Courier")
{
    const auto caps = parse_capa("+OK Here's what I can do:\r\nSTLS\r\nTOP\r\nUSER\r\n"
                                 "LOGIN-DELAY 10\r\nPIPELINING\r\nUIDL\r\nUTF8 USER\r\n"
                                 "IMPLEMENTATION Courier Mail Server\r\n.\r\n");
    REQUIRE(caps.login_delay);
    CHECK(caps.login_delay->seconds == 10);
    CHECK_FALSE(caps.login_delay->per_user);
    CHECK(caps.utf8);
    CHECK(caps.utf8_user);
    REQUIRE(caps.implementation);
    CHECK(*caps.implementation == "Courier Mail Server");
    CHECK(caps.sasl_mechanisms.empty());
}

TEST_CASE("CAPA of Gmail")
{
    const auto caps = parse_capa("+OK Capability list follows\r\nUSER\r\nRESP-CODES\r\n"
                                 "EXPIRE 0\r\nLOGIN-DELAY 300\r\nTOP\r\nUIDL\r\nX-GOOGLE-RICO\r\n"
                                 "SASL PLAIN XOAUTH2 OAUTHBEARER\r\n.\r\n");
    REQUIRE(caps.expire);
    CHECK_FALSE(caps.expire->never);
    CHECK(caps.expire->days == 0);
    REQUIRE(caps.login_delay);
    CHECK(caps.login_delay->seconds == 300);
    CHECK(caps.has("X-GOOGLE-RICO")); // unknown capabilities are kept
    CHECK(caps.has_sasl("OAUTHBEARER"));
    CHECK_FALSE(caps.pipelining);
    CHECK_FALSE(caps.stls);
}

TEST_CASE("CAPA of Exchange, with bare LF and lower case")
{
    const auto caps = parse_capa("+OK\nTOP\nUIDL\nSASL NTLM GSSAPI plain\nUSER\nstls\n"
                                 "EXPIRE NEVER USER\nLOGIN-DELAY 900 USER\n.\n");
    CHECK(caps.stls);
    CHECK(caps.sasl_mechanisms == std::vector<std::string>{"NTLM", "GSSAPI", "PLAIN"});
    REQUIRE(caps.expire);
    CHECK(caps.expire->never);
    CHECK(caps.expire->per_user);
    REQUIRE(caps.login_delay);
    CHECK(caps.login_delay->per_user);
}

TEST_CASE("CAPA oddities: GNU Mailutils' EXPIRENEVER, malformed numbers, clear()")
{
    pop3::capabilities caps;
    CHECK_FALSE(caps.add_line("EXPIRENEVER"));
    REQUIRE(caps.expire);
    CHECK(caps.expire->never);

    pop3::capabilities bad;
    CHECK(bad.add_line("LOGIN-DELAY soon") == pop3::errc::malformed_response);
    CHECK(bad.add_line("EXPIRE -1") == pop3::errc::malformed_response);
    CHECK(bad.add_line("EXPIRE 99999999999") == pop3::errc::malformed_response);
    CHECK_FALSE(bad.login_delay);
    CHECK_FALSE(bad.expire);
    CHECK(bad.has("LOGIN-DELAY")); // kept as sent all the same
    CHECK_FALSE(bad.add_line(""));
    CHECK(bad.entries.size() == 3);

    caps.add_line("STLS");
    caps.clear();
    CHECK_FALSE(caps.stls);
    CHECK(caps.entries.empty());
}
