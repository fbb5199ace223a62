#include "../catch.hpp"

#include <pop3/error.hpp>
#include <pop3/sasl/apop.hpp>
#include <pop3/sasl/cram_md5.hpp>
#include <pop3/sasl/plain.hpp>

#include <string>

using namespace std::string_literals;

TEST_CASE("PLAIN: the initial response is authzid NUL authcid NUL passwd", "[sasl]")
{
    auto m = pop3::sasl::make_plain("tim", "tanstaaftanstaaf");
    CHECK(m->name() == "PLAIN");
    CHECK(m->client_first());
    CHECK(m->exposes_secret());
    CHECK_FALSE(m->weak());
    CHECK_FALSE(m->validate());
    std::string out;
    REQUIRE_FALSE(m->initial_response(out));
    CHECK(out == "\0tim\0tanstaaftanstaaf"s);
    CHECK_FALSE(m->finish());
    CHECK(m->diagnostic().empty());

    // Any challenge after the response is a protocol error, as is a second response.
    CHECK(m->respond("", out) == pop3::errc::sasl_protocol_error);
    CHECK(out.empty());
    CHECK(m->initial_response(out) == pop3::errc::sasl_protocol_error);
}

TEST_CASE("PLAIN: RFC 4616 section 4 example with an authorization identity", "[sasl]")
{
    auto m = pop3::sasl::make_plain("Kurt", "xipj3plmq", "Ursel");
    std::string out;
    REQUIRE_FALSE(m->initial_response(out));
    CHECK(out == "Ursel\0Kurt\0xipj3plmq"s);
}

TEST_CASE("PLAIN: answers the empty challenge when the response did not go with AUTH", "[sasl]")
{
    pop3::sasl::plain m("user", "secret");
    std::string out;
    REQUIRE_FALSE(m.respond("", out));
    CHECK(out == "\0user\0secret"s);
    CHECK(m.respond("", out) == pop3::errc::sasl_protocol_error);

    pop3::sasl::plain other("user", "secret");
    CHECK(other.respond("not empty", out) == pop3::errc::sasl_protocol_error);
}

TEST_CASE("PLAIN: NUL or empty credentials are invalid arguments", "[sasl]")
{
    const std::string nul = "a\0b"s;
    const auto check_invalid = [](pop3::sasl::mechanism&& m) {
        CHECK(m.validate() == pop3::errc::invalid_argument);
        std::string out = "x";
        CHECK(m.initial_response(out) == pop3::errc::invalid_argument);
        CHECK(out.empty());
    };
    check_invalid(pop3::sasl::plain(nul, "pw"));
    check_invalid(pop3::sasl::plain("u", nul));
    check_invalid(pop3::sasl::plain("u", "pw", nul));
    check_invalid(pop3::sasl::plain("", "pw"));
    check_invalid(pop3::sasl::plain("u", ""));
}

TEST_CASE("LOGIN: user name, then password, whatever the prompts say", "[sasl]")
{
    auto m = pop3::sasl::make_login("alice", "wonder land");
    CHECK(m->name() == "LOGIN");
    CHECK_FALSE(m->client_first());
    CHECK(m->exposes_secret());
    std::string out;
    REQUIRE_FALSE(m->respond("Username:", out));
    CHECK(out == "alice");
    REQUIRE_FALSE(m->respond("Passwort:", out)); // prompts are not checked
    CHECK(out == "wonder land");
    CHECK(m->respond("Again?", out) == pop3::errc::sasl_protocol_error);
    CHECK(out.empty());
    CHECK_FALSE(m->finish());
}

TEST_CASE("LOGIN: no initial response, no NUL", "[sasl]")
{
    std::string out;
    pop3::sasl::login m("alice", "pw");
    CHECK(m.initial_response(out) == pop3::errc::sasl_protocol_error);

    pop3::sasl::login nul("alice", "p\0w"s);
    CHECK(nul.validate() == pop3::errc::invalid_argument);
    CHECK(nul.respond("Username:", out) == pop3::errc::invalid_argument);
    CHECK(out.empty());
    CHECK(pop3::sasl::login("", "pw").validate() == pop3::errc::invalid_argument);
}

TEST_CASE("CRAM-MD5: RFC 2195 section 2 example", "[sasl]")
{
    auto m = pop3::sasl::make_cram_md5("tim", "tanstaaftanstaaf");
    CHECK(m->name() == "CRAM-MD5");
    CHECK_FALSE(m->client_first());
    CHECK_FALSE(m->exposes_secret());
    CHECK(m->weak());
    std::string out;
    REQUIRE_FALSE(m->respond("<1896.697170952@postoffice.reston.mci.net>", out));
    CHECK(out == "tim b913a602c7eda7a495b4e6e7334d3890");
    CHECK(m->respond("<1896.697170952@postoffice.reston.mci.net>", out) ==
          pop3::errc::sasl_protocol_error);
    CHECK(out.empty());
}

TEST_CASE("CRAM-MD5: an empty password is a valid HMAC key", "[sasl]")
{
    pop3::sasl::cram_md5 m("u", "");
    std::string out;
    REQUIRE_FALSE(m.respond("<1.2@x>", out));
    CHECK(out == "u 5d5f7ac2e54575c8145c2151a8ea8671"); // Python hmac.new(b"", ..., "md5")
}

TEST_CASE("CRAM-MD5: empty challenge, initial response and NUL are errors", "[sasl]")
{
    std::string out;
    CHECK(pop3::sasl::cram_md5("u", "p").respond("", out) == pop3::errc::sasl_protocol_error);
    CHECK(pop3::sasl::cram_md5("u", "p").initial_response(out) == pop3::errc::sasl_protocol_error);
    CHECK(pop3::sasl::cram_md5("u\0"s, "p").respond("<1@x>", out) == pop3::errc::invalid_argument);
    CHECK(out.empty());
}

TEST_CASE("APOP: RFC 1939 section 7 example", "[sasl]")
{
    CHECK(pop3::sasl::apop_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf") ==
          "c4c9334bac560ecc979e58001b3e22fb");
    CHECK(pop3::sasl::apop_digest("", "") == "d41d8cd98f00b204e9800998ecf8427e");
}
