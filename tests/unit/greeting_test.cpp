#include "../catch.hpp"

#include <pop3/greeting.hpp>

TEST_CASE("find_apop_timestamp extracts <...@...> from a greeting")
{
    using pop3::find_apop_timestamp;
    CHECK(find_apop_timestamp("POP3 server ready <1896.697170952@dbc.mtview.ca.us>") ==
          "<1896.697170952@dbc.mtview.ca.us>");
    CHECK(find_apop_timestamp("Dovecot ready. <1a2b.3c@host>") == "<1a2b.3c@host>");
    CHECK(find_apop_timestamp("<x@y> first") == "<x@y>");
    CHECK(find_apop_timestamp("skip <no-at> then <a@b>") == "<a@b>");
    CHECK(find_apop_timestamp("Dovecot ready.").empty());
    CHECK(find_apop_timestamp("").empty());
    CHECK(find_apop_timestamp("<@host>").empty());
    CHECK(find_apop_timestamp("<user@>").empty());
    CHECK(find_apop_timestamp("<a b@c>").empty());
    CHECK(find_apop_timestamp("<a@b").empty());
    CHECK(find_apop_timestamp("<<a@b>").empty() == false); // the inner one is well formed
    CHECK(find_apop_timestamp("<<a@b>") == "<a@b>");
    CHECK(find_apop_timestamp("<a\x01@b>").empty());
}
