// pop3::client against a second real server: GNU Mailutils 3.15 pop3d, started by
// mailutils.sh on 127.0.0.1. Its quirks, all seen on the wire: CAPA says "EXPIRENEVER"
// (no space); no SASL at all (AUTH -> "-ERR Not implemented"); RETR answers a bare "+OK".
// UIDLs ("<md5>.<time>.<n>") are made on demand: once a message's UIDL exists (asked for
// by UIDL in this session, or stored by an earlier one), RETR and TOP insert an
// "X-UIDL: <uidl>" line at the end of its header and LIST counts that line; the session's
// end writes it into the mailbox file.
#include "../catch.hpp"
#include "server_env.hpp"
#include "test_net.hpp"
#include "test_temp_dir.hpp"

#include <pop3/client.hpp>
#include <pop3/leave_on_server.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using tcp = net::ip::tcp;

namespace {

/// A message of DIR/expected/<user>.tsv: LIST octets before the X-UIDL header is stored,
/// and the file with the bytes RETR sends apart from that header line.
struct expected_message {
    pop3::message_number number = 0;
    std::uint64_t octets = 0;
    std::string path;
};

using pop3_test::read_file;

/// DIR/env, written by `mailutils.sh start` and named by $POP3_MU_ENV.
class mu_env {
public:
    static const mu_env& get()
    {
        static const mu_env instance;
        return instance;
    }

    std::string host() const { return value("POP3_MU_HOST"); }
    std::string port() const { return value("POP3_MU_PORT"); }
    /// Users are virtual: "<name>@mu.test", password "secret-<name>".
    std::string user(const std::string& name) const { return name + "@" + value("POP3_MU_DOMAIN"); }
    static std::string password(const std::string& name) { return "secret-" + name; }

    std::vector<expected_message> mailbox(const std::string& name) const
    {
        std::ifstream in(value("POP3_MU_EXPECTED") + "/" + name + ".tsv");
        if (!in) throw std::runtime_error("no manifest for " + name);
        std::vector<expected_message> out;
        std::string number, octets, path;
        while (std::getline(in, number, '\t') && std::getline(in, octets, '\t') &&
               std::getline(in, path))
            out.push_back(
                {static_cast<pop3::message_number>(std::stoul(number)), std::stoull(octets), path});
        return out;
    }

    /// Rewrites a mailbox (same bytes, new UIDLs). No session of that user may be open.
    void reset(const std::string& name) const { env_.reset(value("POP3_MU_DIR"), name); }

private:
    std::string value(const std::string& key) const { return env_.value(key); }

    pop3_test::server_env env_{"POP3_MU_ENV", "POP3_MU_SCRIPT"};
};

/// No TLS on this server: every method that works here sends something replayable.
pop3::login_options plaintext(pop3::auth_method method)
{
    pop3::login_options o;
    o.method = method;
    o.allow_plaintext = true;
    return o;
}

struct session {
    net::io_context ioc;
    pop3::client<tcp::socket> client{ioc};

    explicit session(const std::string& name, pop3::auth_method method = pop3::auth_method::user)
    {
        const auto& env = mu_env::get();
        client.connect(env.host(), env.port());
        client.login(env.user(name), mu_env::password(name), plaintext(method));
    }
};

/// The message without the "X-UIDL: <uid>" line Mailutils adds as the header's last line.
/// Empty optional when that line is not there.
std::optional<std::string> without_x_uidl(const std::string& message, const std::string& uid)
{
    const auto header_end = message.find("\r\n\r\n");
    if (header_end == std::string::npos) return std::nullopt;
    const auto line = "X-UIDL: " + uid + "\r\n";
    const auto at = header_end + 2 - line.size();
    if (header_end + 2 < line.size() || message.compare(at, line.size(), line) != 0)
        return std::nullopt;
    if (at != 0 && message.compare(at - 2, 2, "\r\n") != 0) return std::nullopt;
    return message.substr(0, at) + message.substr(at + line.size());
}

/// A client connected to the server (not logged in), and the command lines it sends from then.
struct connected {
    net::io_context ioc;
    pop3::client<tcp::socket> c{ioc};
    std::vector<std::string> sent;

    connected()
    {
        const auto& env = mu_env::get();
        c.connect(env.host(), env.port());
        c.set_trace([this](pop3::trace_direction d, std::string_view line) {
            if (d == pop3::trace_direction::sent) sent.emplace_back(line);
        });
    }
};

/// The header of a message, with the empty line that ends it.
std::string header_of(const std::string& message)
{
    const auto end = message.find("\r\n\r\n");
    return end == std::string::npos ? message : message.substr(0, end + 4);
}

} // namespace

TEST_CASE("mailutils: greeting and CAPA; EXPIRENEVER reads as EXPIRE NEVER")
{
    const auto& env = mu_env::get();
    connected server;
    auto& c = server.c;
    CHECK(c.state() == pop3::session_state::authorization);
    CHECK(c.greeting().reply.ok());
    CHECK(c.greeting().reply.text.rfind("POP3 Ready <", 0) == 0);
    CHECK_FALSE(c.greeting().apop_timestamp.empty()); // Mailutils always offers APOP

    const auto& caps = c.capabilities();
    CHECK(caps.top);
    CHECK(caps.uidl);
    CHECK(caps.user);
    CHECK(caps.resp_codes);
    CHECK(caps.auth_resp_code);
    CHECK(caps.pipelining);
    CHECK_FALSE(caps.stls);
    CHECK(caps.sasl_mechanisms.empty());
    CHECK(caps.has("EXPIRENEVER"));   // kept as sent...
    REQUIRE(caps.expire.has_value()); // ...and decoded as RFC 2449's "EXPIRE NEVER"
    CHECK(caps.expire->never);
    CHECK_FALSE(caps.expire->per_user);
    CHECK_FALSE(caps.has("EXPIRE"));
    CHECK_FALSE(caps.implementation.has_value()); // only shown after login

    c.login(env.user("alice"), mu_env::password("alice"), plaintext(pop3::auth_method::user));
    CHECK(c.state() == pop3::session_state::transaction);
    REQUIRE(c.capabilities().implementation.has_value()); // CAPA asked again after login
    CHECK(*c.capabilities().implementation == "GNU Mailutils 3.15");
    CHECK(c.capabilities().expire.has_value());
    CHECK(c.capabilities().pipelining);
    CHECK(c.quit());
}

TEST_CASE("mailutils: USER/PASS, and a wrong password is authentication_failed with [AUTH]")
{
    const auto& env = mu_env::get();
    connected server;
    auto& c = server.c;
    try {
        c.login(env.user("alice"), "not-the-password", plaintext(pop3::auth_method::user));
        FAIL("login should fail");
    } catch (const pop3::error& e) {
        CHECK(e.code() == pop3::errc::authentication_failed);
        CHECK(e.reply().code.kind == pop3::response_code_kind::auth); // "-ERR [AUTH] Bad login"
    }
    CHECK(c.state() == pop3::session_state::authorization);
    // The same connection still logs in.
    c.login(env.user("alice"), mu_env::password("alice"), plaintext(pop3::auth_method::user));
    CHECK(c.state() == pop3::session_state::transaction);
    CHECK(c.quit());
}

TEST_CASE("mailutils: APOP with the secret from apop-database-file; a wrong one fails")
{
    const auto& env = mu_env::get();
    {
        connected server;
        auto& c = server.c;
        pop3::error_code ec;
        c.login(env.user("alice"), "not-the-password", plaintext(pop3::auth_method::apop), ec);
        CHECK(ec == pop3::errc::authentication_failed);
        CHECK(c.last_error_reply().code.kind == pop3::response_code_kind::auth);
        CHECK(c.state() == pop3::session_state::authorization);
    }
    {
        connected server;
        auto& c = server.c;
        auto& sent = server.sent;
        c.login(env.user("alice"), mu_env::password("alice"), plaintext(pop3::auth_method::apop));
        CHECK(c.state() == pop3::session_state::transaction);
        REQUIRE_FALSE(sent.empty());
        CHECK(sent.front().rfind("APOP alice@mu.test ", 0) == 0);
        CHECK(c.stat().count == env.mailbox("alice").size());
        CHECK(c.quit());
    }
}

TEST_CASE("mailutils: automatic login without TLS refuses, then with allow_plaintext picks APOP")
{
    const auto& env = mu_env::get();
    connected server;
    auto& c = server.c;
    auto& sent = server.sent;
    // No SCRAM on offer, and USER and APOP are not safe in the clear: nothing is sent.
    pop3::error_code ec;
    c.login(env.user("alice"), mu_env::password("alice"), ec);
    CHECK(ec == pop3::errc::insecure_authentication);
    CHECK(sent.empty());
    CHECK(c.state() == pop3::session_state::authorization);
    // Allowed: APOP (the greeting has a timestamp) comes before USER in the clear.
    c.login(env.user("alice"), mu_env::password("alice"), plaintext(pop3::auth_method::automatic));
    CHECK(c.state() == pop3::session_state::transaction);
    REQUIRE_FALSE(sent.empty());
    CHECK(sent.front().rfind("APOP ", 0) == 0);
    CHECK(c.quit());
}

TEST_CASE("mailutils: no SASL listed, so an explicit SASL login is refused unsent; USER works")
{
    const auto& env = mu_env::get();
    connected server;
    auto& c = server.c;
    auto& sent = server.sent;
    pop3::error_code ec;
    c.login(env.user("alice"), mu_env::password("alice"), plaintext(pop3::auth_method::plain), ec);
    // CAPA lists no SASL (the server would answer AUTH with "-ERR Not implemented"): the
    // credentials are never sent.
    CHECK(ec == pop3::errc::mechanism_unavailable);
    CHECK(sent.empty());
    CHECK(c.state() == pop3::session_state::authorization);
    c.login(env.user("alice"), mu_env::password("alice"), plaintext(pop3::auth_method::user));
    CHECK(c.state() == pop3::session_state::transaction);
    CHECK(c.quit());
}

TEST_CASE("mailutils: STAT, LIST, UIDL agree; RETR and TOP are the stored bytes plus X-UIDL")
{
    const auto expected = mu_env::get().mailbox("alice");
    REQUIRE(expected.size() == 7);
    session s("alice");
    auto& c = s.client;
    const auto st = c.stat();
    const auto sizes = c.list();
    const auto uids = c.uidl();
    CHECK(st.count == expected.size());
    REQUIRE(sizes.size() == expected.size());
    REQUIRE(uids.size() == expected.size());
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const auto& m = expected[i];
        INFO("message " << m.number << " " << m.path);
        CHECK(sizes[i].number == m.number);
        CHECK(uids[i].number == m.number);
        CHECK(c.uidl(m.number).uid == uids[i].uid);
        total += sizes[i].octets;
        // "<md5 hex>.<uidvalidity>.<uid>", unique.
        CHECK(uids[i].uid.size() > 34);
        CHECK(uids[i].uid.find_first_not_of("0123456789abcdef.") == std::string::npos);
        for (std::size_t j = 0; j < i; ++j) CHECK(uids[j].uid != uids[i].uid);

        const auto stored = read_file(m.path);
        const auto x_uidl = "X-UIDL: " + uids[i].uid + "\r\n";
        // Before UIDL, LIST counts the X-UIDL line only if an earlier session stored it
        // (an earlier test may have); after UIDL, always.
        CHECK((sizes[i].octets == m.octets || sizes[i].octets == m.octets + x_uidl.size()));
        CHECK(c.list(m.number).octets == m.octets + x_uidl.size());

        const auto message = c.retr(m.number);
        const auto rest = without_x_uidl(message, uids[i].uid);
        REQUIRE(rest.has_value()); // the header's last line is "X-UIDL: <its UIDL>"
        CHECK(*rest == stored);

        std::string streamed;
        c.retr(m.number, [&](std::string_view chunk) { streamed.append(chunk); });
        CHECK(streamed == message);

        // TOP n 0: the header (with X-UIDL) and the empty line.
        CHECK(c.top(m.number, 0) == header_of(message));
    }
    CHECK(st.octets == total);

    // TOP 1 2. Mailutils 3.15 sends one empty line too many between header and body when
    // lines > 0 (pop3d_send_payload writes "\n" after a header that already ends with its
    // empty line). The client hands over what the server sent.
    const auto one = c.retr(1);
    const auto head = header_of(one);
    const auto body = one.substr(head.size());
    const auto two_lines = body.substr(0, body.find("\r\n", body.find("\r\n") + 2) + 2);
    CHECK(two_lines == "Hello Alice,\r\nsecond line\r\n");
    const auto top = c.top(1, 2);
    const bool rfc_form = top == head + two_lines;
    const bool mailutils_form = top == head + "\r\n" + two_lines;
    CHECK((rfc_form || mailutils_form));
    INFO("TOP 1 2 form: " << (mailutils_form ? "Mailutils 3.15, extra empty line" : "RFC 1939"));
    CHECK(c.quit());
}

TEST_CASE("mailutils: lines starting with '.' come back unstuffed")
{
    session s("alice");
    const auto uid = s.client.uidl(2).uid;
    const auto message = s.client.retr(2);
    const auto rest = without_x_uidl(message, uid);
    REQUIRE(rest.has_value());
    const std::string body = rest->substr(rest->find("\r\n\r\n") + 4);
    CHECK(body == ".\r\n..\r\n.x\r\n...\r\nnot a dot . line\r\n.\r\n");
    // 8 bits pass, a missing final newline gets CRLF, NUL and a bare CR pass through.
    CHECK(s.client.retr(3).find("caf\xe9 na\xefve\r\nUTF-8: Gr\xc3\xbc\xc3\x9f"
                                "e \xe2\x9c\x93\r\n") != std::string::npos);
    const std::string end = "last line without newline\r\n";
    const auto four = s.client.retr(4);
    REQUIRE(four.size() > end.size());
    CHECK(four.compare(four.size() - end.size(), end.size(), end) == 0);
    CHECK(s.client.retr(6).find(std::string("bare\rCR and a NUL \0 byte\r\n", 26)) !=
          std::string::npos);
    CHECK(s.client.quit());
}

TEST_CASE("mailutils: retr_many is pipelined (PIPELINING is advertised) and byte-equal")
{
    const auto expected = mu_env::get().mailbox("alice");
    session s("alice");
    auto& c = s.client;
    REQUIRE(c.capabilities().pipelining);
    const auto uids = c.uidl();
    REQUIRE(uids.size() == expected.size());
    // Which commands went out before the first RETR's reply came back.
    std::vector<std::pair<pop3::trace_direction, std::string>> trace;
    c.set_trace([&](pop3::trace_direction d, std::string_view line) {
        trace.emplace_back(d, std::string(line));
    });
    std::vector<pop3::message_number> all;
    for (const auto& m : expected) all.push_back(m.number);
    std::vector<std::string> bodies(expected.size() + 1);
    std::size_t ended = 0;
    c.retr_many(all, [&](const pop3::message_part& part) {
        if (part.end) {
            CHECK_FALSE(part.error);
            ++ended;
        } else {
            bodies[part.number].append(part.data);
        }
    });
    c.set_trace(nullptr);
    CHECK(ended == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const auto rest = without_x_uidl(bodies[i + 1], uids[i].uid);
        REQUIRE(rest.has_value());
        CHECK(*rest == read_file(expected[i].path));
    }
    std::size_t retr_before_first_reply = 0;
    for (const auto& [direction, line] : trace) {
        if (direction == pop3::trace_direction::received) break;
        if (line.rfind("RETR ", 0) == 0) ++retr_before_first_reply;
    }
    CHECK(retr_before_first_reply > 1);
    CHECK(c.quit());
}

TEST_CASE("mailutils: X-UIDL appears once the UIDL exists, LIST counts it, the session stores it")
{
    const auto& env = mu_env::get();
    env.reset("scratch");
    const auto expected = env.mailbox("scratch");
    REQUIRE(expected.size() == 6);
    std::vector<pop3::message_uid> first_uids;
    {
        session s("scratch");
        // A fresh mailbox, no UIDL asked yet: no X-UIDL anywhere, the stored bytes as is.
        const auto sizes = s.client.list();
        REQUIRE(sizes.size() == expected.size());
        for (std::size_t i = 0; i < expected.size(); ++i)
            CHECK(sizes[i].octets == expected[i].octets);
        const auto stored = read_file(expected[0].path);
        CHECK(s.client.retr(1) == stored);
        CHECK(s.client.top(1, 0) == header_of(stored));
        // After UIDL: the header gains "X-UIDL: <uidl>", and LIST counts it.
        first_uids = s.client.uidl();
        REQUIRE(first_uids.size() == expected.size());
        for (std::size_t i = 0; i < expected.size(); ++i) {
            INFO("message " << expected[i].number);
            const auto x_uidl = "X-UIDL: " + first_uids[i].uid + "\r\n";
            CHECK(s.client.list(expected[i].number).octets == expected[i].octets + x_uidl.size());
            const auto message = s.client.retr(expected[i].number);
            CHECK(message.size() == read_file(expected[i].path).size() + x_uidl.size());
            CHECK(without_x_uidl(message, first_uids[i].uid) == read_file(expected[i].path));
        }
        CHECK(s.client.quit());
    }
    {
        // The next session finds the X-UIDL lines in the files: same UIDLs, same sizes, and
        // RETR shows the header line before any UIDL command.
        session s("scratch");
        const auto sizes = s.client.list();
        REQUIRE(sizes.size() == expected.size());
        const auto message = s.client.retr(1);
        CHECK(without_x_uidl(message, first_uids[0].uid) == read_file(expected[0].path));
        const auto uids = s.client.uidl();
        REQUIRE(uids.size() == expected.size());
        for (std::size_t i = 0; i < expected.size(); ++i) {
            CHECK(uids[i].uid == first_uids[i].uid); // stable across sessions
            CHECK(sizes[i].octets ==
                  expected[i].octets + ("X-UIDL: " + uids[i].uid + "\r\n").size());
        }
        CHECK(s.client.quit());
    }
}

TEST_CASE("mailutils: DELE + RSET keeps, DELE + QUIT removes")
{
    const auto& env = mu_env::get();
    env.reset("scratch");
    const auto expected = env.mailbox("scratch");
    REQUIRE(expected.size() == 6);
    std::vector<pop3::message_uid> uids;
    {
        session s("scratch");
        uids = s.client.uidl();
        s.client.dele(1);
        s.client.dele_many({2, 3});
        CHECK(s.client.stat().count == expected.size() - 3);
        pop3::error_code ec;
        s.client.retr(1, ec);
        CHECK(ec == pop3::errc::server_error); // "-ERR Message has been deleted"
        s.client.dele(1, ec);
        CHECK_FALSE(ec); // Mailutils accepts deleting a deleted message again: "+OK"
        s.client.rset();
        CHECK(s.client.stat().count == expected.size());
        CHECK(s.client.quit());
    }
    {
        session s("scratch");
        CHECK(s.client.stat().count == expected.size());
        CHECK(s.client.uidl().size() == uids.size());
        s.client.dele_many({1, 2});
        CHECK(s.client.quit()); // committed
    }
    {
        session s("scratch");
        const auto now = s.client.uidl();
        REQUIRE(now.size() == expected.size() - 2);
        CHECK(now[0].uid == uids[2].uid);
        CHECK(now[0].number == 1);
        CHECK(without_x_uidl(s.client.retr(1), now[0].uid) == read_file(expected[2].path));
        CHECK(s.client.quit());
    }
    env.reset("scratch");
}

TEST_CASE("mailutils: one whole session with async calls and std::future")
{
    using net::use_future;
    const auto& env = mu_env::get();
    const auto expected = env.mailbox("alice");
    net::io_context ioc;
    auto guard = net::make_work_guard(ioc);
    std::thread runner([&] { ioc.run(); });
    pop3::client<tcp::socket> c{ioc};
    try {
        c.async_connect(env.host(), env.port(), use_future).get();
        c.async_login(env.user("alice"), mu_env::password("alice"),
                      plaintext(pop3::auth_method::apop), use_future)
            .get();
        const auto st = c.async_stat(use_future).get();
        CHECK(st.count == expected.size());
        const auto uids = c.async_uidl(use_future).get();
        REQUIRE(uids.size() == expected.size());
        const auto message = c.async_retr(3, use_future).get();
        CHECK(without_x_uidl(message, uids[2].uid) == read_file(expected[2].path));
        std::string head;
        c.async_top(
             3, 0, [&](std::string_view chunk) { head.append(chunk); }, use_future)
            .get();
        CHECK(head == header_of(message));
        CHECK(c.async_list(3, use_future).get().number == 3);
        CHECK(c.async_quit(use_future).get());
    } catch (...) {
        guard.reset();
        runner.join();
        throw;
    }
    guard.reset();
    runner.join();
}

TEST_CASE("mailutils: fetch_new with a file_uid_store: the first run fetches all, a rerun none")
{
    const auto& env = mu_env::get();
    env.reset("keep");
    const auto expected = env.mailbox("keep");
    REQUIRE(expected.size() == 5);
    pop3_test::temp_dir dir;
    const auto store_path = dir.path + "/keep.uids";
    std::map<std::string, std::string> delivered; // UID -> bytes
    const auto deliver = [&](const pop3::fetched_message& m) -> pop3::error_code {
        delivered[std::string(m.uid)] = std::string(m.bytes);
        return {};
    };
    {
        pop3::file_uid_store store(store_path);
        session s("keep");
        const auto r =
            pop3::fetch_new(s.client, store, pop3::leave_policy::keep_forever(), deliver);
        CHECK_FALSE(r.error);
        CHECK(r.listed == expected.size());
        CHECK(r.fetched == expected.size());
        CHECK(r.deleted == 0);
        CHECK(r.quit_confirmed);
    }
    REQUIRE(delivered.size() == expected.size());
    {
        session s("keep");
        const auto uids = s.client.uidl();
        REQUIRE(uids.size() == expected.size());
        for (std::size_t i = 0; i < uids.size(); ++i) {
            INFO("message " << uids[i].number);
            REQUIRE(delivered.count(uids[i].uid) == 1);
            CHECK(without_x_uidl(delivered[uids[i].uid], uids[i].uid) ==
                  read_file(expected[i].path));
        }
        CHECK(s.client.quit());
    }
    {
        pop3::file_uid_store store(store_path);
        session s("keep");
        const auto r =
            pop3::fetch_new(s.client, store, pop3::leave_policy::keep_forever(), deliver);
        CHECK_FALSE(r.error);
        CHECK(r.listed == expected.size());
        CHECK(r.pending == 0);
        CHECK(r.fetched == 0);
        CHECK(r.quit_confirmed);
    }
    CHECK(delivered.size() == expected.size());
}
