#include "../catch.hpp"

#include <pop3/results.hpp>

#include <string>

TEST_CASE("parse_stat reads count and size and checks the numbers")
{
    pop3::maildrop_stat s;
    REQUIRE_FALSE(pop3::parse_stat("2 320", s));
    CHECK(s.count == 2);
    CHECK(s.octets == 320);
    REQUIRE_FALSE(pop3::parse_stat("0 0", s));
    CHECK(s.count == 0);
    REQUIRE_FALSE(pop3::parse_stat("5 18446744073709551615 extra words", s));
    CHECK(s.octets == 18446744073709551615ull);
    for (const char* bad : {"", "2", "-1 20", "2 -20", "a b", "2 3x", "4294967296 1",
                            "1 18446744073709551616", "+2 3", " 2\t3"}) {
        INFO(bad);
        pop3::maildrop_stat untouched{7, 7};
        CHECK(pop3::parse_stat(bad, untouched) == pop3::errc::malformed_response);
        CHECK(untouched.count == 7);
    }
}

TEST_CASE("parse_scan_listing reads LIST lines")
{
    pop3::message_size m;
    REQUIRE_FALSE(pop3::parse_scan_listing("1 120", m));
    CHECK(m.number == 1);
    CHECK(m.octets == 120);
    REQUIRE_FALSE(pop3::parse_scan_listing("4294967295 0", m));
    CHECK(m.number == 4294967295u);
    for (const char* bad : {"", "0 120", "1", "x 1", "1 x", "-1 2", "4294967296 1", "1 0x10"}) {
        INFO(bad);
        CHECK(pop3::parse_scan_listing(bad, m) == pop3::errc::malformed_response);
    }
}

TEST_CASE("parse_unique_id_listing accepts long UIDs up to the cap and refuses control bytes")
{
    pop3::message_uid m;
    REQUIRE_FALSE(pop3::parse_unique_id_listing("1 whqtswO00WBw418f9t5JxYwZ", m));
    CHECK(m.number == 1);
    CHECK(m.uid == "whqtswO00WBw418f9t5JxYwZ");
    REQUIRE_FALSE(pop3::parse_unique_id_listing("2 000000016553f101", m));
    CHECK(m.uid == "000000016553f101");

    const std::string long_uid(300, 'u'); // longer than RFC 1939's 70
    REQUIRE_FALSE(pop3::parse_unique_id_listing("3 " + long_uid, m));
    CHECK(m.uid == long_uid);
    pop3::parser_limits small;
    small.max_uid_length = 100;
    CHECK(pop3::parse_unique_id_listing("3 " + long_uid, m, small) == pop3::errc::line_too_long);

    REQUIRE_FALSE(pop3::parse_unique_id_listing("4 caf\xc3\xa9", m)); // 8-bit kept
    CHECK(m.uid == "caf\xc3\xa9");
    const std::string bad_lines[] = {"",       "1",       "0 abc", "x abc",
                                     "1 a\tb", "1 a\x7f", "1 a b", std::string("1 a\0b", 5),
                                     "1 a\x01"};
    for (const auto& bad : bad_lines) {
        INFO(bad);
        CHECK(pop3::parse_unique_id_listing(bad, m) == pop3::errc::malformed_response);
    }
}
