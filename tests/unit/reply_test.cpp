#include "../catch.hpp"

#include <pop3/exception.hpp>
#include <pop3/reply.hpp>

#include <string>

using pop3::reply_status;
using pop3::response_code_kind;

TEST_CASE("parse_reply_line reads status, response code and text")
{
    struct row {
        const char* line;
        reply_status status;
        response_code_kind kind;
        const char* code;
        const char* text;
    };
    const row rows[] = {
        {"+OK Dovecot ready.", reply_status::ok, response_code_kind::none, "", "Dovecot ready."},
        {"+OK", reply_status::ok, response_code_kind::none, "", ""},
        {"+OK ", reply_status::ok, response_code_kind::none, "", ""},
        {"-ERR", reply_status::err, response_code_kind::none, "", ""},
        {"-ERR [IN-USE] Mailbox is locked", reply_status::err, response_code_kind::in_use, "IN-USE",
         "Mailbox is locked"},
        {"-ERR [LOGIN-DELAY] wait 900 s", reply_status::err, response_code_kind::login_delay,
         "LOGIN-DELAY", "wait 900 s"},
        {"-ERR [SYS/TEMP] disk full", reply_status::err, response_code_kind::sys_temp, "SYS/TEMP",
         "disk full"},
        {"-ERR [SYS/PERM] account disabled", reply_status::err, response_code_kind::sys_perm,
         "SYS/PERM", "account disabled"},
        {"-ERR [SYS/TEMP/QUOTA] later", reply_status::err, response_code_kind::sys_temp,
         "SYS/TEMP/QUOTA", "later"},
        {"-ERR [SYS] vague", reply_status::err, response_code_kind::other, "SYS", "vague"},
        {"-ERR [AUTH] Authentication failed.", reply_status::err, response_code_kind::auth, "AUTH",
         "Authentication failed."},
        {"-ERR [auth] lower case", reply_status::err, response_code_kind::auth, "auth",
         "lower case"},
        {"-ERR [UTF8] need UTF8", reply_status::err, response_code_kind::utf8, "UTF8", "need UTF8"},
        {"-ERR [X-GMAIL/WEB] log in via web", reply_status::err, response_code_kind::other,
         "X-GMAIL/WEB", "log in via web"},
        {"-ERR [] empty", reply_status::err, response_code_kind::none, "", "[] empty"},
        {"-ERR [A B] spaces", reply_status::err, response_code_kind::none, "", "[A B] spaces"},
        {"-ERR [/X] bad level", reply_status::err, response_code_kind::none, "", "[/X] bad level"},
        {"+OK [IN-USE]", reply_status::ok, response_code_kind::in_use, "IN-USE", ""},
    };
    for (const auto& r : rows) {
        INFO(r.line);
        pop3::server_reply reply;
        REQUIRE_FALSE(pop3::parse_reply_line(r.line, false, reply));
        CHECK(reply.status == r.status);
        CHECK(reply.code.kind == r.kind);
        CHECK(reply.code.text == r.code);
        CHECK(reply.text == r.text);
    }
}

TEST_CASE("parse_reply_line refuses what is not a status line")
{
    for (const char* line : {"", "OK", "+ok", "-err", "+OKAY", "-ERROR x", "* OK imap", "+ x"}) {
        INFO(line);
        pop3::server_reply reply;
        CHECK(pop3::parse_reply_line(line, false, reply) == pop3::errc::malformed_response);
    }
    pop3::server_reply reply;
    CHECK_FALSE(pop3::parse_reply_line("+ dGVzdA==", true, reply));
    CHECK(reply.status == reply_status::continuation);
    CHECK(reply.text == "dGVzdA==");
    CHECK(reply.code.kind == response_code_kind::none);
}

TEST_CASE("error_from_reply maps response codes to distinct errors")
{
    auto error_for = [](const char* line) {
        pop3::server_reply reply;
        REQUIRE_FALSE(pop3::parse_reply_line(line, false, reply));
        return pop3::error_from_reply(reply);
    };
    CHECK_FALSE(error_for("+OK"));
    CHECK(error_for("-ERR nope") == pop3::errc::server_error);
    CHECK(error_for("-ERR [IN-USE] x") == pop3::errc::mailbox_in_use);
    CHECK(error_for("-ERR [LOGIN-DELAY] x") == pop3::errc::login_delay);
    CHECK(error_for("-ERR [SYS/TEMP] x") == pop3::errc::temporary_failure);
    CHECK(error_for("-ERR [SYS/PERM] x") == pop3::errc::permanent_failure);
    CHECK(error_for("-ERR [AUTH] x") == pop3::errc::authentication_failed);
    CHECK(error_for("-ERR [UTF8] x") == pop3::errc::utf8_required);
    CHECK(error_for("-ERR [X-OTHER] x") == pop3::errc::server_error);
}

TEST_CASE("errc is a pop3::error_code of category pop3 with actionable messages")
{
    pop3::error_code ec = pop3::errc::mailbox_in_use;
    CHECK(std::string(ec.category().name()) == "pop3");
    CHECK(ec.message().find("retry later") != std::string::npos);
    CHECK(ec == pop3::errc::mailbox_in_use);
    CHECK(ec != pop3::errc::timeout);
    for (int v = 1; v <= static_cast<int>(pop3::errc::sasl_protocol_error); ++v) {
        const pop3::error_code e{v, pop3::error_category()};
        INFO(v);
        CHECK(e.message() != "unknown pop3 error");
    }
}

TEST_CASE("pop3::error carries the server's reply beside the code")
{
    pop3::server_reply reply;
    REQUIRE_FALSE(pop3::parse_reply_line("-ERR [IN-USE] locked by another session", false, reply));
    const pop3::error e(pop3::error_from_reply(reply), reply);
    CHECK(e.code() == pop3::errc::mailbox_in_use);
    CHECK(e.reply().text == "locked by another session");
    CHECK(std::string(e.what()).find("[IN-USE] locked by another session") != std::string::npos);
    const pop3::error local(pop3::errc::timeout);
    CHECK(local.reply().text.empty());
}
