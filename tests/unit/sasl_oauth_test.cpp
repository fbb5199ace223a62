#include "../catch.hpp"

#include <pop3/error.hpp>
#include <pop3/sasl/oauth.hpp>

#include <string>

using namespace std::string_literals;

TEST_CASE("OAUTHBEARER: RFC 7628 section 4.1 example", "[sasl]")
{
    auto m = pop3::sasl::make_oauthbearer(
        "user@example.com", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==", "server.example.com",
        "143");
    CHECK(m->name() == "OAUTHBEARER");
    CHECK(m->client_first());
    CHECK(m->exposes_secret());
    CHECK_FALSE(m->weak());
    std::string out;
    REQUIRE_FALSE(m->initial_response(out));
    CHECK(out == "n,a=user@example.com,\x01host=server.example.com\x01port=143\x01"
                 "auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01");
    CHECK_FALSE(m->finish());
}

TEST_CASE("OAUTHBEARER: user, host and port are optional; the user is a saslname", "[sasl]")
{
    std::string out;
    pop3::sasl::oauthbearer bare("", "tok");
    REQUIRE_FALSE(bare.initial_response(out));
    CHECK(out == "n,,\x01"
                 "auth=Bearer tok\x01\x01");

    pop3::sasl::oauthbearer escaped("a,b=c", "tok", "h", "");
    REQUIRE_FALSE(escaped.initial_response(out));
    CHECK(out == "n,a=a=2Cb=3Dc,\x01host=h\x01"
                 "auth=Bearer tok\x01\x01");
}

TEST_CASE("OAUTHBEARER: an error challenge aborts with the JSON in diagnostic()", "[sasl]")
{
    pop3::sasl::oauthbearer m("user@example.com", "tok", "server.example.com", "995");
    std::string out;
    REQUIRE_FALSE(m.initial_response(out));
    const std::string json =
        R"({"status":"invalid_token","scope":"example_scope",)"
        R"("openid-configuration":"https://example.com/.well-known/openid-configuration"})";
    out = "x";
    CHECK(m.respond(json, out) == pop3::errc::authentication_failed);
    CHECK(out.empty());
    CHECK(m.diagnostic() == json);
}

TEST_CASE("XOAUTH2: user=...^Aauth=Bearer ...^A^A", "[sasl]")
{
    auto m = pop3::sasl::make_xoauth2("someuser@example.com",
                                      "ya29.vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg");
    CHECK(m->name() == "XOAUTH2");
    CHECK(m->client_first());
    CHECK(m->exposes_secret());
    std::string out;
    REQUIRE_FALSE(m->initial_response(out));
    // The example of Google's XOAUTH2 protocol documentation.
    CHECK(out == "user=someuser@example.com\x01"
                 "auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg\x01\x01");
    const std::string json =
        R"({"status":"401","schemes":"bearer mac","scope":"https://mail.google.com/"})";
    CHECK(m->respond(json, out) == pop3::errc::authentication_failed);
    CHECK(m->diagnostic() == json);
    CHECK(out.empty());
}

TEST_CASE("XOAUTH2 and OAUTHBEARER: the initial response may follow the empty challenge", "[sasl]")
{
    std::string out;
    pop3::sasl::xoauth2 x("u", "t");
    REQUIRE_FALSE(x.respond("", out));
    CHECK(out == "user=u\x01"
                 "auth=Bearer t\x01\x01");
    CHECK(x.respond("", out) == pop3::errc::authentication_failed);

    pop3::sasl::oauthbearer o("u", "t");
    REQUIRE_FALSE(o.respond("", out));
    CHECK(out == "n,a=u,\x01"
                 "auth=Bearer t\x01\x01");
}

TEST_CASE("XOAUTH2 and OAUTHBEARER: a 5 KB token is just bytes", "[sasl]")
{
    const std::string token(5 * 1024, 'A');
    std::string out;
    pop3::sasl::xoauth2 x("u", token);
    REQUIRE_FALSE(x.initial_response(out));
    CHECK(out == "user=u\x01"
                 "auth=Bearer " +
                     token + "\x01\x01");
    pop3::sasl::oauthbearer o("u", token, "pop.example.com", "995");
    REQUIRE_FALSE(o.initial_response(out));
    CHECK(out.size() == std::string("n,a=u,\x01host=pop.example.com\x01port=995\x01"
                                    "auth=Bearer \x01\x01")
                                .size() +
                            token.size());
}

TEST_CASE("XOAUTH2 and OAUTHBEARER: ^A, CR, LF and NUL are invalid arguments", "[sasl]")
{
    for (const auto& bad : {"a\x01"s, "a\rb"s, "a\nb"s, "a\0b"s, "a\x7f"s}) {
        INFO(bad);
        std::string out = "x";
        CHECK(pop3::sasl::xoauth2(bad, "tok").initial_response(out) ==
              pop3::errc::invalid_argument);
        CHECK(out.empty());
        CHECK(pop3::sasl::xoauth2("u", bad).validate() == pop3::errc::invalid_argument);
        CHECK(pop3::sasl::oauthbearer(bad, "tok").validate() == pop3::errc::invalid_argument);
        CHECK(pop3::sasl::oauthbearer("u", bad).initial_response(out) ==
              pop3::errc::invalid_argument);
        CHECK(pop3::sasl::oauthbearer("u", "tok", bad).validate() == pop3::errc::invalid_argument);
    }
    CHECK(pop3::sasl::xoauth2("", "tok").validate() == pop3::errc::invalid_argument);
    CHECK(pop3::sasl::xoauth2("u", "").validate() == pop3::errc::invalid_argument);
    CHECK(pop3::sasl::oauthbearer("u", "").validate() == pop3::errc::invalid_argument);
    CHECK(pop3::sasl::oauthbearer("u", "t", "h", "99x").validate() == pop3::errc::invalid_argument);
    CHECK(pop3::sasl::oauthbearer("u", "t", "h", "65536").validate() ==
          pop3::errc::invalid_argument);
    CHECK(pop3::sasl::oauthbearer("u", "t", "h", "-1").validate() == pop3::errc::invalid_argument);
    CHECK_FALSE(pop3::sasl::oauthbearer("u", "t", "h", "65535").validate());
    CHECK_FALSE(pop3::sasl::oauthbearer("u", "t", "h", "110").validate());
}
