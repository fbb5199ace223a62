#include "../catch.hpp"

#include <pop3/sasl/base64.hpp>

#include <string>

using pop3::sasl::base64_decode;
using pop3::sasl::base64_encode;

TEST_CASE("base64: RFC 4648 section 10 test vectors", "[sasl]")
{
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [plain, encoded] : vectors) {
        INFO(plain);
        CHECK(base64_encode(plain) == encoded);
        std::string out = "junk";
        REQUIRE(base64_decode(encoded, out));
        CHECK(out == plain);
    }
}

TEST_CASE("base64: every byte value and every length round-trips", "[sasl]")
{
    std::string all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
    for (std::size_t length = 0; length <= all.size(); ++length) {
        const auto input = all.substr(all.size() - length); // ends with 0xff
        const auto encoded = base64_encode(input);
        CHECK(encoded.size() == (length + 2) / 3 * 4);
        std::string decoded;
        REQUIRE(base64_decode(encoded, decoded));
        CHECK(decoded == input);
    }
    CHECK(base64_encode(std::string("\0\xff\xfe", 3)) == "AP/+");
}

TEST_CASE("base64: strict decoding rejects what is not canonical base64", "[sasl]")
{
    const char* bad[] = {
        "Zg",                   // missing padding
        "Zg=",                  // length not a multiple of 4
        "Z===",                 // too much padding
        "====",                 // only padding
        "Zg==Zg==",             // padding in the middle
        "Zm=v",                 // '=' followed by data
        "Zm9v\r\n",             // line break
        "Zm9 v",                // space
        "Zm9-",                 // base64url alphabet
        "Zm9_",                 // base64url alphabet
        "Zh==",                 // non-zero bits under the padding (canonical: Zg==)
        "Zm9=",                 // non-zero bits under the padding (canonical: Zm8=)
        "Zm9v\x80\x41\x41\x41", // high byte
    };
    for (const char* input : bad) {
        INFO(input);
        std::string out = "previous";
        CHECK_FALSE(base64_decode(input, out));
        CHECK(out.empty());
    }
    std::string out;
    CHECK_FALSE(base64_decode(std::string_view("Zg=\0", 4), out));
    CHECK(base64_decode("", out));
    CHECK(out.empty());
}
