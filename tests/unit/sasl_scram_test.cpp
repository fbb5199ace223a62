#include "../catch.hpp"

#include <pop3/error.hpp>
#include <pop3/sasl/base64.hpp>
#include <pop3/sasl/scram.hpp>

#include <memory>
#include <set>
#include <string>

using pop3::sasl::scram;
using pop3::sasl::scram_hash;

namespace {

// RFC 5802 section 5.
const char* const sha1_nonce = "fyko+d2lbbFgONRv9qkxdawL";
const char* const sha1_server_first =
    "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
const char* const sha1_client_final =
    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
const char* const sha1_server_final = "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=";

// RFC 7677 section 3.
const char* const sha256_nonce = "rOprNGfwEbeRWgbNEkqO";
const char* const sha256_server_first =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const char* const sha256_client_final =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const char* const sha256_server_final = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

/// A SCRAM-SHA-256 exchange with the RFC 7677 nonce, advanced past client-first.
std::unique_ptr<scram> started_sha256()
{
    auto m = std::make_unique<scram>(scram_hash::sha_256, "user", "pencil", sha256_nonce);
    std::string out;
    REQUIRE_FALSE(m->initial_response(out));
    return m;
}

} // namespace

TEST_CASE("SCRAM-SHA-1: RFC 5802 section 5 example", "[sasl]")
{
    auto m = std::make_unique<scram>(scram_hash::sha_1, "user", "pencil", sha1_nonce);
    CHECK(m->name() == "SCRAM-SHA-1");
    CHECK(m->client_first());
    CHECK_FALSE(m->exposes_secret());
    CHECK_FALSE(m->weak());
    std::string out;
    REQUIRE_FALSE(m->initial_response(out));
    CHECK(out == "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
    REQUIRE_FALSE(m->respond(sha1_server_first, out));
    CHECK(out == sha1_client_final);
    CHECK(m->finish() == pop3::errc::server_signature_mismatch); // not verified yet
}

TEST_CASE("SCRAM-SHA-1: RFC 5802 example, verified to the end", "[sasl]")
{
    auto m = std::make_unique<scram>(scram_hash::sha_1, "user", "pencil", sha1_nonce);
    std::string out;
    REQUIRE_FALSE(m->initial_response(out));
    REQUIRE_FALSE(m->respond(sha1_server_first, out));
    out = "stale";
    REQUIRE_FALSE(m->respond(sha1_server_final, out));
    CHECK(out.empty()); // RFC 5034: the last challenge is answered with an empty response
    CHECK_FALSE(m->finish());
    CHECK(m->diagnostic().empty());
    // Nothing may follow the verified server-final.
    CHECK(m->respond("", out) == pop3::errc::sasl_protocol_error);
}

TEST_CASE("SCRAM-SHA-256: RFC 7677 section 3 example", "[sasl]")
{
    auto m = started_sha256();
    CHECK(m->name() == "SCRAM-SHA-256");
    std::string out;
    REQUIRE_FALSE(m->respond(sha256_server_first, out));
    CHECK(out == sha256_client_final);
    REQUIRE_FALSE(m->respond(sha256_server_final, out));
    CHECK(out.empty());
    CHECK_FALSE(m->finish());
}

TEST_CASE("SCRAM: the client-first message can follow an empty server challenge", "[sasl]")
{
    auto m = std::make_unique<scram>(scram_hash::sha_256, "user", "pencil", sha256_nonce);
    std::string out;
    REQUIRE_FALSE(m->respond("", out));
    CHECK(out == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    REQUIRE_FALSE(m->respond(sha256_server_first, out));
    CHECK(out == sha256_client_final);
}

TEST_CASE("SCRAM: a forged server signature is a mismatch", "[sasl]")
{
    auto m = started_sha256();
    std::string out;
    REQUIRE_FALSE(m->respond(sha256_server_first, out));
    // The right length, one bit different; then a valid signature of the wrong length.
    std::string forged;
    REQUIRE(pop3::sasl::base64_decode("6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", forged));
    forged[0] = static_cast<char>(forged[0] ^ 1);
    CHECK(m->respond("v=" + pop3::sasl::base64_encode(forged), out) ==
          pop3::errc::server_signature_mismatch);
    CHECK(m->finish() == pop3::errc::server_signature_mismatch);

    auto truncated = started_sha256();
    REQUIRE_FALSE(truncated->respond(sha256_server_first, out));
    CHECK(truncated->respond("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", out) ==
          pop3::errc::server_signature_mismatch);

    // The SHA-1 example's signature is no proof in a SHA-256 exchange.
    auto wrong_hash = started_sha256();
    REQUIRE_FALSE(wrong_hash->respond(sha256_server_first, out));
    CHECK(wrong_hash->respond(sha1_server_final, out) == pop3::errc::server_signature_mismatch);
}

TEST_CASE("SCRAM: +OK without a verified server-final fails finish()", "[sasl]")
{
    auto before_any = scram(scram_hash::sha_256, "user", "pencil", sha256_nonce).finish();
    CHECK(before_any == pop3::errc::server_signature_mismatch);

    auto after_first = started_sha256();
    CHECK(after_first->finish() == pop3::errc::server_signature_mismatch);

    auto after_final = started_sha256();
    std::string out;
    REQUIRE_FALSE(after_final->respond(sha256_server_first, out));
    CHECK(after_final->finish() == pop3::errc::server_signature_mismatch);
}

TEST_CASE("SCRAM: server-final e= is an authentication failure with its text", "[sasl]")
{
    auto m = started_sha256();
    std::string out;
    REQUIRE_FALSE(m->respond(sha256_server_first, out));
    CHECK(m->respond("e=invalid-proof", out) == pop3::errc::authentication_failed);
    CHECK(m->diagnostic() == "invalid-proof");
    CHECK(m->finish() == pop3::errc::server_signature_mismatch);
}

TEST_CASE("SCRAM: server-first must extend the client nonce", "[sasl]")
{
    const char* bad[] = {
        "r=XrOprNGfwEbeRWgbNEkqO%hvY,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", // not a prefix
        "r=rOprNGfwEbeRWgbNE,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",         // truncated
        "r=somebody-elses-nonce,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        "r=rOprNGfwEbeRWgbNEkqO\x7fxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", // not printable
    };
    for (const char* challenge : bad) {
        INFO(challenge);
        auto m = started_sha256();
        std::string out = "x";
        CHECK(m->respond(challenge, out) == pop3::errc::sasl_protocol_error);
        CHECK(out.empty());
        // The exchange is over.
        CHECK(m->respond(sha256_server_first, out) == pop3::errc::sasl_protocol_error);
    }
}

TEST_CASE("SCRAM: garbage in server-first is a protocol error", "[sasl]")
{
    const std::string nonce = "r=rOprNGfwEbeRWgbNEkqOsrv";
    const std::string salt = "s=W22ZaJ0SNY7soEsUEjb6gQ==";
    const std::string bad[] = {
        "",
        "garbage",
        "r=,s=,i=",
        "m=must-understand," + nonce + "," + salt + ",i=4096", // mandatory extension
        nonce + "," + salt,                                    // no iteration count
        salt + "," + nonce + ",i=4096",                        // wrong order
        nonce + ",i=4096," + salt,                             // wrong order
        nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096",           // bad base64
        nonce + ",s=W22Z aJ0SNY7soEsUEjb6gQ==,i=4096",         // bad base64
        nonce + ",s=,i=4096",                                  // empty salt
        nonce + "," + salt + ",i=0",
        nonce + "," + salt + ",i=-1",
        nonce + "," + salt + ",i=04096", // leading zero
        nonce + "," + salt + ",i=4096x",
        nonce + "," + salt + ",i= 4096",
        nonce + "," + salt + ",i=",
        nonce + "," + salt + ",i=4096,",                 // trailing comma
        nonce + "," + salt + ",i=4096,,x=1",             // empty attribute
        nonce + "," + salt + ",i=4096,1=x",              // attribute name not a letter
        nonce + "," + salt + ",i=4096,xx=1",             // attribute name too long
        "R=rOprNGfwEbeRWgbNEkqOsrv," + salt + ",i=4096", // names are case-sensitive
    };
    for (const auto& challenge : bad) {
        INFO(challenge);
        auto m = started_sha256();
        std::string out;
        CHECK(m->respond(challenge, out) == pop3::errc::sasl_protocol_error);
        CHECK(out.empty());
    }
}

TEST_CASE("SCRAM: iteration counts above the cap are refused before any work", "[sasl]")
{
    const std::string prefix = "r=rOprNGfwEbeRWgbNEkqOsrv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=";
    for (const std::string count :
         {"10000001", "4294967295", "4294967296", "99999999999999999999999999"}) {
        INFO(count);
        auto m = started_sha256();
        std::string out;
        CHECK(m->respond(prefix + count, out) == pop3::errc::sasl_protocol_error);
    }
    CHECK(pop3::sasl::scram_max_iterations == 10'000'000);
}

TEST_CASE("SCRAM: an early e= in server-first reports the server's reason", "[sasl]")
{
    auto m = started_sha256();
    std::string out;
    CHECK(m->respond("e=unknown-user", out) == pop3::errc::authentication_failed);
    CHECK(m->diagnostic() == "unknown-user");
}

TEST_CASE("SCRAM: bad server-final is a protocol error", "[sasl]")
{
    for (const char* final_message : {"", "x=1", "v=", "v=not base64!", "rspauth=xyz",
                                      "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,"}) {
        INFO(final_message);
        auto m = started_sha256();
        std::string out;
        REQUIRE_FALSE(m->respond(sha256_server_first, out));
        CHECK(m->respond(final_message, out) == pop3::errc::sasl_protocol_error);
        CHECK(m->finish() == pop3::errc::server_signature_mismatch);
    }
}

TEST_CASE("SCRAM: extensions after the mandatory attributes are accepted", "[sasl]")
{
    // Independently computed with Python's hashlib.pbkdf2_hmac and hmac; also covers the
    // escaping of ',' and '=' in the user name and UTF-8 passed through unchanged.
    auto m = std::make_unique<scram>(scram_hash::sha_256, "us,er=x", "p\xc3\xa4ss", "abc");
    std::string out;
    REQUIRE_FALSE(m->initial_response(out));
    CHECK(out == "n,,n=us=2Cer=3Dx,r=abc");
    REQUIRE_FALSE(m->respond("r=abcdef,s=c2FsdA==,i=1,x=ext", out));
    CHECK(out == "c=biws,r=abcdef,p=jsdokx0UkxVL2aoTiRb95tiCv/21m7I4cXlIIftyEto=");
    REQUIRE_FALSE(m->respond("v=nlvGzwc8vJppT+ofjpPsrNixFCAf6LiRf+CrqEydxmc=,x=more", out));
    CHECK_FALSE(m->finish());
}

TEST_CASE("SCRAM: random client nonces are printable, comma-free and fresh", "[sasl]")
{
    std::set<std::string> seen;
    for (int i = 0; i < 20; ++i) {
        auto m = pop3::sasl::make_scram_sha_256("user", "pencil");
        std::string out;
        REQUIRE_FALSE(m->initial_response(out));
        const std::string prefix = "n,,n=user,r=";
        REQUIRE(out.compare(0, prefix.size(), prefix) == 0);
        const auto nonce = out.substr(prefix.size());
        CHECK(nonce.size() >= 24);
        for (char c : nonce) CHECK((c >= 0x21 && c <= 0x7e && c != ','));
        CHECK(seen.insert(nonce).second);
        // The exchange works with the server's nonce appended.
        REQUIRE_FALSE(m->respond("r=" + nonce + "srv,s=QSXCR+Q6sek8bf92,i=4096", out));
        CHECK(out.rfind("c=biws,r=" + nonce + "srv,p=", 0) == 0);
    }
    CHECK(pop3::sasl::make_scram_sha_1("u", "p")->name() == "SCRAM-SHA-1");
}

TEST_CASE("SCRAM: invalid credentials and nonces are invalid arguments", "[sasl]")
{
    using namespace std::string_literals;
    std::string out;
    CHECK(scram(scram_hash::sha_1, "", "pw").initial_response(out) == pop3::errc::invalid_argument);
    CHECK(scram(scram_hash::sha_1, "u\0"s, "pw").initial_response(out) ==
          pop3::errc::invalid_argument);
    CHECK(scram(scram_hash::sha_1, "u", "p\0w"s).validate() == pop3::errc::invalid_argument);
    CHECK(scram(scram_hash::sha_1, "u", "pw", "a,b").validate() == pop3::errc::invalid_argument);
    CHECK(scram(scram_hash::sha_1, "u", "pw", "a b").validate() == pop3::errc::invalid_argument);
    CHECK_FALSE(scram(scram_hash::sha_1, "u", "", "abc").initial_response(out));
}
