#include "../catch.hpp"

#include <pop3/commands.hpp>

#include <string>

namespace cmd = pop3::commands;

TEST_CASE("commands write exact CRLF lines")
{
    std::string out;
    REQUIRE_FALSE(cmd::user(out, "alice"));
    REQUIRE_FALSE(cmd::pass(out, "secret with spaces"));
    REQUIRE_FALSE(cmd::apop(out, "mrose", "c4c9334bac560ecc979e58001b3e22fb"));
    REQUIRE_FALSE(cmd::auth(out, "PLAIN"));
    REQUIRE_FALSE(cmd::auth(out, "PLAIN", "AGFsaWNlAHNlY3JldA=="));
    REQUIRE_FALSE(cmd::auth_response(out, "dGVzdA=="));
    REQUIRE_FALSE(cmd::auth_response(out, "*"));
    REQUIRE_FALSE(cmd::auth_response(out, ""));
    REQUIRE_FALSE(cmd::stat(out));
    REQUIRE_FALSE(cmd::list(out));
    REQUIRE_FALSE(cmd::list(out, 3));
    REQUIRE_FALSE(cmd::uidl(out));
    REQUIRE_FALSE(cmd::uidl(out, 4294967295u));
    REQUIRE_FALSE(cmd::retr(out, 1));
    REQUIRE_FALSE(cmd::top(out, 10, 0));
    REQUIRE_FALSE(cmd::dele(out, 12));
    REQUIRE_FALSE(cmd::rset(out));
    REQUIRE_FALSE(cmd::noop(out));
    REQUIRE_FALSE(cmd::quit(out));
    REQUIRE_FALSE(cmd::capa(out));
    REQUIRE_FALSE(cmd::stls(out));
    REQUIRE_FALSE(cmd::utf8(out));
    REQUIRE_FALSE(cmd::lang(out));
    REQUIRE_FALSE(cmd::lang(out, "de"));
    CHECK(out == "USER alice\r\nPASS secret with spaces\r\n"
                 "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\nAUTH PLAIN\r\n"
                 "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\ndGVzdA==\r\n*\r\n\r\nSTAT\r\nLIST\r\n"
                 "LIST 3\r\nUIDL\r\nUIDL 4294967295\r\nRETR 1\r\nTOP 10 0\r\nDELE 12\r\n"
                 "RSET\r\nNOOP\r\nQUIT\r\nCAPA\r\nSTLS\r\nUTF8\r\nLANG\r\nLANG de\r\n");
}

TEST_CASE("commands refuse arguments that would break the line, writing nothing")
{
    const std::string hostile[] = {"a\r\nDELE 1", "a\nb", "a\rb", std::string("a\0b", 3)};
    for (const auto& h : hostile) {
        INFO(h);
        std::string out = "kept";
        CHECK(cmd::user(out, h) == pop3::errc::invalid_argument);
        CHECK(cmd::pass(out, h) == pop3::errc::invalid_argument);
        CHECK(cmd::apop(out, h, "d") == pop3::errc::invalid_argument);
        CHECK(cmd::apop(out, "u", h) == pop3::errc::invalid_argument);
        CHECK(cmd::auth(out, h) == pop3::errc::invalid_argument);
        CHECK(cmd::auth(out, "PLAIN", h) == pop3::errc::invalid_argument);
        CHECK(cmd::auth_response(out, h) == pop3::errc::invalid_argument);
        CHECK(cmd::lang(out, h) == pop3::errc::invalid_argument);
        CHECK(out == "kept");
    }
    std::string out;
    CHECK(cmd::user(out, "") == pop3::errc::invalid_argument);
    CHECK(cmd::user(out, "two words") == pop3::errc::invalid_argument);
    CHECK(cmd::auth(out, "") == pop3::errc::invalid_argument);
    CHECK(cmd::retr(out, 0) == pop3::errc::invalid_argument);
    CHECK(cmd::dele(out, 0) == pop3::errc::invalid_argument);
    CHECK(cmd::list(out, 0) == pop3::errc::invalid_argument);
    CHECK(cmd::uidl(out, 0) == pop3::errc::invalid_argument);
    CHECK(cmd::top(out, 0, 5) == pop3::errc::invalid_argument);
    CHECK(out.empty());
}
