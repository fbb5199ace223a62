// The sans-I/O core on its own: bytes in, actions out, no Asio and no stream. Every
// operation runs against a server transcript delivered in two pieces split at every byte
// boundary, and byte by byte: the writes, the actions and the result must not change.
#include <pop3/detail/auth_operations.hpp>
#include <pop3/detail/operations.hpp>
#include <pop3/detail/protocol.hpp>
#include <pop3/sasl/base64.hpp>
#include <pop3/sasl/scram.hpp>

#if defined(ASIO_VERSION) || defined(BOOST_ASIO_VERSION) || defined(POP3_DETAIL_ASIO_HPP)
#error "the protocol core must not include Asio"
#endif

#include "../catch.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

using pop3::session_state;
using namespace pop3::detail;
using pop3::sasl::base64_encode;

namespace {

constexpr std::size_t whole = std::string_view::npos;

/// What the driver saw while running one operation.
struct run_result {
    std::string written;    ///< every byte the core asked to write
    /// w(rite), r(ead; consecutive reads once), h(andshake), c(onnect), x (close), d(one), e(of)
    std::string actions;
    std::string connected_to; ///< "host:service" of the connect action
    pop3::error_code error;  ///< the operation's outcome
    std::size_t unread = 0; ///< server bytes the core never asked for
    bool bytewise = false;  ///< served one byte per read: every read shows in `actions`
};

/// Do the actions match `expected`? A read is only asked for when the buffer holds no
/// complete reply, so with bigger pieces some reads fall away; byte by byte, none does.
bool io(const run_result& r, std::string expected)
{
    if (r.bytewise) return r.actions == expected;
    auto actions = r.actions;
    actions.erase(std::remove(actions.begin(), actions.end(), 'r'), actions.end());
    expected.erase(std::remove(expected.begin(), expected.end(), 'r'), expected.end());
    return actions == expected;
}

/// A driver without I/O: writes are collected, reads are served from `server`, first
/// `first` bytes (0: no special first piece), then `piece` bytes at a time.
run_result drive(protocol& p, operation& op, std::string_view server, std::size_t first = 0,
                 std::size_t piece = whole)
{
    run_result r;
    r.bytewise = piece == 1 && first <= 1;
    if ((r.error = p.begin(op))) {
        r.actions = "-";
        r.unread = server.size();
        return r;
    }
    std::size_t at = 0;
    std::size_t limit = first != 0 ? first : piece;
    while (true) {
        const auto a = p.advance();
        switch (a.what) {
        case io_action::kind::write:
            r.written.append(a.bytes);
            r.actions += 'w';
            p.wrote();
            break;
        case io_action::kind::read: {
            if (r.actions.empty() || r.actions.back() != 'r') r.actions += 'r';
            if (at == server.size()) {
                r.error = p.eof();
                r.actions += 'e';
                return r;
            }
            const auto space = p.read_space();
            const auto n = std::min({limit, space.second, server.size() - at});
            std::memcpy(space.first, server.data() + at, n);
            at += n;
            limit = piece;
            p.read_done(n);
            break;
        }
        case io_action::kind::handshake:
            r.actions += 'h';
            p.handshake_done();
            break;
        case io_action::kind::connect:
            r.actions += 'c';
            r.connected_to = std::string(a.host) + ":" + std::string(a.service);
            p.connected();
            break;
        case io_action::kind::close:
            r.actions += 'x';
            p.closed();
            break;
        case io_action::kind::done:
            r.actions += 'd';
            r.error = a.error;
            r.unread = server.size() - at;
            return r;
        }
    }
}

/// Runs a fresh session for every split of `server`: `prepare(protocol&)` sets it up,
/// `make()` returns the operation, `check(protocol&, Op&, const run_result&)` asserts.
template <class Prepare, class Make, class Check>
void every_split(std::string_view server, Prepare prepare, Make make, Check check)
{
    const auto once = [&](std::size_t first, std::size_t piece) {
        INFO("first piece " << first << ", then pieces of " << piece);
        protocol p;
        prepare(p);
        auto op = make();
        const auto r = drive(p, *op, server, first, piece);
        CHECK(r.unread == 0);
        check(p, *op, r);
    };
    for (std::size_t k = 0; k < server.size(); ++k) once(k, whole);
    once(1, 1);
}

/// A session in `state`, with `capa_lines` as the server's last CAPA answer.
auto in(session_state state, std::vector<std::string> capa_lines = {})
{
    return [state, capa_lines](protocol& p) {
        p.set_state(state);
        if (capa_lines.empty()) return;
        for (const auto& line : capa_lines) (void)p.caps().add_line(line);
        p.set_caps_known(true);
    };
}
const auto transaction = in(session_state::transaction);

template <class Op, class... Args> auto make(Args... args)
{
    return [args...] { return std::make_unique<Op>(args...); };
}

const std::string capa_reply = "+OK\r\nTOP\r\nUIDL\r\n.\r\n";

pop3::login_options method(pop3::auth_method m)
{
    pop3::login_options o;
    o.method = m;
    o.allow_plaintext = true; // the core test runs without TLS; the policy has its own tests
    return o;
}

} // namespace

TEST_CASE("core: the greeting, then CAPA", "[core]")
{
    const std::string server =
        "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n" + capa_reply;
    every_split(server, in(session_state::disconnected), make<open_session_op>(pop3::tls_mode::none),
                [](protocol& p, open_session_op&, const run_result& r) {
                    CHECK(io(r, "rwrd")); // the greeting comes before any write
                    CHECK(r.written == "CAPA\r\n");
                    CHECK_FALSE(r.error);
                    CHECK(p.state() == session_state::authorization);
                    CHECK(p.greeting().apop_timestamp == "<1896.697170952@dbc.mtview.ca.us>");
                    CHECK(p.caps_known());
                    CHECK(p.caps().top);
                    CHECK(p.caps().uidl);
                });
    // A -ERR greeting: no CAPA, the error, still not logged in.
    every_split("-ERR [SYS/TEMP] busy\r\n", in(session_state::disconnected), make<open_session_op>(pop3::tls_mode::none),
                [](protocol& p, open_session_op&, const run_result& r) {
                    CHECK(io(r, "rd"));
                    CHECK(r.written.empty());
                    CHECK(r.error == pop3::errc::temporary_failure);
                    CHECK(p.state() == session_state::disconnected);
                });
    // Implicit TLS: the handshake comes first.
    protocol p;
    open_session_op tls_first(pop3::tls_mode::implicit);
    const auto r = drive(p, tls_first, "+OK hi\r\n-ERR no CAPA\r\n");
    CHECK(io(r, "hrwrd"));
    CHECK_FALSE(r.error); // a server without CAPA has no extensions
    CHECK(p.tls_active());
    CHECK(p.caps_known());
}

TEST_CASE("core: connecting is an action of the core, and starts a new session", "[core]")
{
    const std::string server = "+OK ready\r\n" + capa_reply;
    // Even a broken session: a new connection is a new session.
    for (auto before : {session_state::disconnected, session_state::broken}) {
        every_split(server, in(before, {"STLS", "PIPELINING"}),
                    make<open_session_op>(pop3::tls_mode::none,
                                          server_address{"mail.example", "110"}),
                    [](protocol& p, open_session_op&, const run_result& r) {
                        CHECK(io(r, "crwrd"));
                        CHECK(r.connected_to == "mail.example:110");
                        CHECK(p.server().host == "mail.example");
                        CHECK(r.written == "CAPA\r\n");
                        CHECK_FALSE(r.error);
                        CHECK(p.state() == session_state::authorization);
                        CHECK_FALSE(p.caps().pipelining); // the old connection's CAPA is gone
                        CHECK(p.caps().top);
                    });
    }
    // Without a connection to open, a broken session stays broken.
    protocol p;
    p.set_state(session_state::broken);
    open_session_op on_caller_stream(pop3::tls_mode::none);
    CHECK(p.begin(on_caller_stream) == pop3::errc::session_broken);
}

TEST_CASE("core: after a failed handshake, a reconnect starts with the connect", "[core]")
{
    protocol p;
    open_session_op first(pop3::tls_mode::implicit, server_address{"127.0.0.2", "995"});
    REQUIRE_FALSE(p.begin(first));
    REQUIRE(p.advance().what == io_action::kind::connect);
    p.connected();
    REQUIRE(p.advance().what == io_action::kind::handshake);
    const auto failed = make_error_code(pop3::errc::certificate_name_mismatch);
    CHECK(p.handshake_failed(failed, "IP address mismatch") == failed);
    CHECK(p.state() == session_state::broken);
    CHECK(p.error_reply().detail == "IP address mismatch");
    // Nothing of the failed attempt is still due: the next session connects first.
    open_session_op again(pop3::tls_mode::implicit, server_address{"127.0.0.1", "995"});
    REQUIRE_FALSE(p.begin(again));
    const auto a = p.advance();
    CHECK(a.what == io_action::kind::connect);
    CHECK(a.host == "127.0.0.1");
}

TEST_CASE("core: required STLS: connect, greeting, CAPA, STLS, handshake, CAPA", "[core]")
{
    const auto starttls = make<open_session_op>(pop3::tls_mode::starttls,
                                                server_address{"127.0.0.1", "110"});
    // The bytes after the STLS reply come through TLS: only split before the handshake.
    const std::string clear = "+OK hi\r\n+OK\r\nSTLS\r\n.\r\n+OK go\r\n";
    for (std::size_t k = 1; k <= clear.size(); ++k) {
        INFO("first piece " << k);
        protocol p;
        auto op = starttls();
        const auto r = drive(p, *op, clear + "+OK\r\nUSER\r\n.\r\n", k, 1);
        CHECK(io(r, "crwrwrhwrd"));
        CHECK(r.written == "CAPA\r\nSTLS\r\nCAPA\r\n");
        CHECK_FALSE(r.error);
        CHECK(p.tls_active());
        CHECK(p.caps().user);
        CHECK_FALSE(p.caps().stls);
        CHECK(p.state() == session_state::authorization);
    }
    // No STLS in CAPA: the connection is closed before anything else is sent.
    every_split("+OK hi\r\n+OK\r\nUSER\r\n.\r\n", in(session_state::disconnected), starttls,
                [](protocol& p, open_session_op&, const run_result& r) {
                    CHECK(io(r, "crwrxd"));
                    CHECK(r.written == "CAPA\r\n");
                    CHECK(r.error == pop3::errc::tls_required);
                    CHECK(p.state() == session_state::broken);
                    CHECK_FALSE(p.tls_active());
                });
    // STLS refused: the same.
    every_split("+OK hi\r\n+OK\r\nSTLS\r\n.\r\n-ERR not now\r\n",
                in(session_state::disconnected), starttls,
                [](protocol& p, open_session_op&, const run_result& r) {
                    CHECK(io(r, "crwrwrxd"));
                    CHECK(r.error == pop3::errc::tls_required);
                    CHECK(p.error_reply().text == "not now");
                    CHECK(p.state() == session_state::broken);
                });
}

TEST_CASE("core: CAPA on its own, in both states", "[core]")
{
    for (auto state : {session_state::authorization, session_state::transaction}) {
        every_split("+OK\r\nPIPELINING\r\nSASL PLAIN SCRAM-SHA-256\r\n.\r\n", in(state),
                    make<capa_op>(), [](protocol& p, capa_op& op, const run_result& r) {
                        CHECK(io(r, "wrd"));
                        CHECK(r.written == "CAPA\r\n");
                        CHECK_FALSE(r.error);
                        const auto caps = op.take_result(p);
                        CHECK(caps.pipelining);
                        CHECK(caps.has_sasl("SCRAM-SHA-256"));
                    });
    }
}

TEST_CASE("core: USER and PASS, then CAPA", "[core]")
{
    const auto login = [] {
        return std::make_unique<login_op>("alice", "s3cret pw", method(pop3::auth_method::user),
                                          false);
    };
    every_split("+OK\r\n+OK maildrop locked\r\n" + capa_reply, in(session_state::authorization),
                login, [](protocol& p, login_op& op, const run_result& r) {
                    CHECK(io(r, "wrwrwrd")); // PASS only after USER's +OK
                    CHECK(r.written == "USER alice\r\nPASS s3cret pw\r\nCAPA\r\n");
                    CHECK_FALSE(r.error);
                    CHECK(op.method() == pop3::auth_method::user);
                    CHECK(p.state() == session_state::transaction);
                    CHECK(p.caps().top);
                });
    every_split("+OK\r\n-ERR [AUTH] wrong\r\n", in(session_state::authorization), login,
                [](protocol& p, login_op&, const run_result& r) {
                    CHECK(r.written == "USER alice\r\nPASS s3cret pw\r\n");
                    CHECK(r.error == pop3::errc::authentication_failed);
                    CHECK(p.state() == session_state::authorization);
                });
    // With PIPELINING, USER and PASS go in one write; CAPA after PASS's answer.
    every_split("+OK\r\n+OK maildrop locked\r\n" + capa_reply,
                in(session_state::authorization, {"PIPELINING", "USER"}), login,
                [](protocol& p, login_op&, const run_result& r) {
                    INFO(r.actions);
                    CHECK(io(r, "wrwrd"));
                    CHECK(r.written == "USER alice\r\nPASS s3cret pw\r\nCAPA\r\n");
                    CHECK_FALSE(r.error);
                    CHECK(p.state() == session_state::transaction);
                });
    // A refused USER: PASS was already sent and is refused too; the first -ERR counts.
    every_split("-ERR [SYS/TEMP] no such user now\r\n-ERR no USER\r\n",
                in(session_state::authorization, {"PIPELINING", "USER"}), login,
                [](protocol& p, login_op&, const run_result& r) {
                    CHECK(io(r, "wrd"));
                    CHECK(r.error == pop3::errc::temporary_failure);
                    CHECK(p.error_reply().text == "no such user now");
                    CHECK(p.state() == session_state::authorization);
                });
}

TEST_CASE("core: APOP (RFC 1939 section 7 example)", "[core]")
{
    const auto greeted = [](protocol& p) {
        p.set_state(session_state::authorization);
        p.greeting().apop_timestamp = "<1896.697170952@dbc.mtview.ca.us>";
    };
    const auto login = [] {
        return std::make_unique<login_op>("mrose", "tanstaaf", method(pop3::auth_method::apop),
                                          false);
    };
    every_split("+OK mrose's maildrop has 2 messages\r\n" + capa_reply, greeted, login,
                [](protocol& p, login_op&, const run_result& r) {
                    CHECK(io(r, "wrwrd"));
                    CHECK(r.written == "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\nCAPA\r\n");
                    CHECK_FALSE(r.error);
                    CHECK(p.state() == session_state::transaction);
                });
}

TEST_CASE("core: SASL PLAIN with the initial response on the AUTH line", "[core]")
{
    const auto login = [] {
        return std::make_unique<login_op>("alice", "pw", method(pop3::auth_method::plain), false);
    };
    every_split("+OK\r\n" + capa_reply, in(session_state::authorization, {"SASL PLAIN"}), login,
                [](protocol& p, login_op&, const run_result& r) {
                    CHECK(io(r, "wrwrd"));
                    CHECK(r.written == "AUTH PLAIN " +
                                           base64_encode(std::string("\0alice\0pw", 9)) +
                                           "\r\nCAPA\r\n");
                    CHECK_FALSE(r.error);
                    CHECK(p.state() == session_state::transaction);
                });
}

TEST_CASE("core: SASL LOGIN answers the server's two prompts", "[core]")
{
    const auto login = [] {
        return std::make_unique<login_op>("alice", "pw", method(pop3::auth_method::login), false);
    };
    every_split("+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\n+OK\r\n" + capa_reply,
                in(session_state::authorization, {"SASL LOGIN"}), login,
                [](protocol& p, login_op&, const run_result& r) {
                    CHECK(io(r, "wrwrwrwrd"));
                    CHECK(r.written == "AUTH LOGIN\r\n" + base64_encode("alice") + "\r\n" +
                                           base64_encode("pw") + "\r\nCAPA\r\n");
                    CHECK_FALSE(r.error);
                    CHECK(p.state() == session_state::transaction);
                });
}

TEST_CASE("core: SASL CRAM-MD5 (RFC 2195 example)", "[core]")
{
    const auto login = [] {
        return std::make_unique<login_op>("tim", "tanstaaftanstaaf",
                                          method(pop3::auth_method::cram_md5), false);
    };
    every_split("+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n+OK\r\n" +
                    capa_reply,
                in(session_state::authorization, {"SASL CRAM-MD5"}), login,
                [](protocol& p, login_op&, const run_result& r) {
                    CHECK(io(r, "wrwrwrd"));
                    CHECK(r.written == "AUTH CRAM-MD5\r\n"
                                       "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"
                                       "CAPA\r\n");
                    CHECK_FALSE(r.error);
                    CHECK(p.state() == session_state::transaction);
                });
}

TEST_CASE("core: SASL SCRAM-SHA-256 (RFC 7677 example), server signature verified", "[core]")
{
    using pop3::sasl::scram;
    const auto auth = [] {
        return std::make_unique<sasl_op>(std::make_unique<scram>(pop3::sasl::scram_hash::sha_256,
                                                                 "user", "pencil",
                                                                 "rOprNGfwEbeRWgbNEkqO"),
                                         true);
    };
    const std::string server_first =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const std::string client_final = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                                     "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const std::string server_final = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
    const std::string expected = "AUTH SCRAM-SHA-256 " +
                                 base64_encode("n,,n=user,r=rOprNGfwEbeRWgbNEkqO") + "\r\n" +
                                 base64_encode(client_final) + "\r\n\r\nCAPA\r\n";
    every_split("+ " + base64_encode(server_first) + "\r\n+ " + base64_encode(server_final) +
                    "\r\n+OK\r\n" + capa_reply,
                in(session_state::authorization), auth,
                [&](protocol& p, sasl_op&, const run_result& r) {
                    CHECK(io(r, "wrwrwrwrd"));
                    CHECK(r.written == expected); // the empty line answers server-final
                    CHECK_FALSE(r.error);
                    CHECK(p.state() == session_state::transaction);
                });
    // A server that says +OK without proving itself: the session is not used.
    every_split("+ " + base64_encode(server_first) + "\r\n+OK\r\n",
                in(session_state::authorization), auth,
                [](protocol& p, sasl_op&, const run_result& r) {
                    CHECK(r.error == pop3::errc::server_signature_mismatch);
                    CHECK(p.state() == session_state::broken);
                });
}

TEST_CASE("core: SASL XOAUTH2 and OAUTHBEARER carry the token", "[core]")
{
    const auto xoauth2 = [] {
        return std::make_unique<login_op>("a@b", "tok", method(pop3::auth_method::automatic), true);
    };
    every_split("+OK\r\n" + capa_reply, in(session_state::authorization, {"SASL XOAUTH2"}), xoauth2,
                [](protocol&, login_op& op, const run_result& r) {
                    CHECK(op.method() == pop3::auth_method::xoauth2);
                    CHECK(r.written == "AUTH XOAUTH2 " +
                                           base64_encode("user=a@b\x01"
                                                         "auth=Bearer tok\x01\x01") +
                                           "\r\nCAPA\r\n");
                    CHECK_FALSE(r.error);
                });
    const auto bearer = [] {
        auto o = method(pop3::auth_method::automatic);
        o.host = "pop.example.com";
        o.port = "995";
        return std::make_unique<login_op>("a@b", "tok", o, true);
    };
    // OAUTHBEARER is preferred; the server's error JSON is answered with "*".
    every_split("+ eyJzdGF0dXMiOiI0MDEifQ==\r\n-ERR [AUTH] expired\r\n",
                in(session_state::authorization, {"SASL XOAUTH2 OAUTHBEARER"}), bearer,
                [](protocol& p, login_op& op, const run_result& r) {
                    CHECK(op.method() == pop3::auth_method::oauthbearer);
                    CHECK(r.written == "AUTH OAUTHBEARER " +
                                           base64_encode("n,a=a@b,\x01host=pop.example.com"
                                                         "\x01port=995\x01"
                                                         "auth=Bearer tok\x01\x01") +
                                           "\r\n*\r\n");
                    CHECK(r.error == pop3::errc::authentication_failed);
                    CHECK(p.error_reply().detail == "{\"status\":\"401\"}");
                    CHECK(p.state() == session_state::authorization);
                });
}

TEST_CASE("core: STAT, LIST, LIST n, UIDL, UIDL n", "[core]")
{
    every_split("+OK 2 320\r\n", transaction, make<stat_op>(),
                [](protocol& p, stat_op& op, const run_result& r) {
                    CHECK(io(r, "wrd"));
                    CHECK(r.written == "STAT\r\n");
                    const auto s = op.take_result(p);
                    CHECK(s.count == 2);
                    CHECK(s.octets == 320);
                });
    every_split("+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n", transaction,
                make<listing_op<pop3::message_size>>(),
                [](protocol& p, listing_op<pop3::message_size>& op, const run_result& r) {
                    CHECK(io(r, "wrd"));
                    CHECK(r.written == "LIST\r\n");
                    const auto list = op.take_result(p);
                    REQUIRE(list.size() == 2);
                    CHECK(list[1].number == 2);
                    CHECK(list[1].octets == 200);
                });
    every_split("+OK 2 200\r\n", transaction, make<list_one_op>(pop3::message_number{2}),
                [](protocol& p, list_one_op& op, const run_result& r) {
                    CHECK(r.written == "LIST 2\r\n");
                    CHECK(op.take_result(p).octets == 200);
                });
    every_split("+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n", transaction,
                make<listing_op<pop3::message_uid>>(),
                [](protocol& p, listing_op<pop3::message_uid>& op, const run_result& r) {
                    CHECK(r.written == "UIDL\r\n");
                    const auto uids = op.take_result(p);
                    REQUIRE(uids.size() == 2);
                    CHECK(uids[0].uid == "whqtswO00WBw418f9t5JxYwZ");
                    CHECK(uids[1].uid == "QhdPYR:00WBw1Ph7x7");
                });
    every_split("+OK 2 QhdPYR:00WBw1Ph7x7\r\n", transaction,
                make<uidl_one_op>(pop3::message_number{2}),
                [](protocol& p, uidl_one_op& op, const run_result& r) {
                    CHECK(r.written == "UIDL 2\r\n");
                    CHECK(op.take_result(p).uid == "QhdPYR:00WBw1Ph7x7");
                });
    // A UID with DEL fails the call (pop3::is_valid_uid); the listing is read to its end,
    // so the session stays in step.
    every_split("+OK\r\n1 a\x7f\r\n2 b\r\n.\r\n", transaction,
                make<listing_op<pop3::message_uid>>(),
                [](protocol& p, listing_op<pop3::message_uid>&, const run_result& r) {
                    CHECK(r.error == pop3::errc::malformed_response);
                    CHECK(p.state() == session_state::transaction);
                });
}

TEST_CASE("core: RETR unstuffs dots wherever the bytes are split", "[core]")
{
    using retr = body_op<string_sink>;
    const auto make_retr = [] { return std::make_unique<retr>(string_sink{}, 1, std::nullopt); };
    every_split("+OK 40 octets\r\nSubject: x\r\n\r\n..leading dot\r\n...\r\n..\r\n.x\r\n.\r\n",
                transaction, make_retr, [](protocol& p, retr& op, const run_result& r) {
                    CHECK(io(r, "wrd"));
                    CHECK(r.written == "RETR 1\r\n");
                    CHECK_FALSE(r.error);
                    // Every line loses its first dot ("..\r\n" is a "." line, not the end);
                    // only a lone "." ends the message (RFC 1939 section 3).
                    CHECK(op.take_result(p) ==
                          "Subject: x\r\n\r\n.leading dot\r\n..\r\n.\r\nx\r\n");
                });
    // The server's -ERR: no body, the call fails, the session goes on.
    every_split("-ERR no such message\r\n", transaction, make_retr,
                [](protocol& p, retr&, const run_result& r) {
                    CHECK(r.error == pop3::errc::server_error);
                    CHECK(p.error_reply().text == "no such message");
                    CHECK(p.state() == session_state::transaction);
                });
}

TEST_CASE("core: TOP, and TOP refused when CAPA lacks it", "[core]")
{
    using top = body_op<string_sink>;
    const auto make_top = [] { return std::make_unique<top>(string_sink{}, 3, std::uint32_t{0}); };
    every_split("+OK\r\nSubject: x\r\n\r\n.\r\n", in(session_state::transaction, {"TOP"}), make_top,
                [](protocol& p, top& op, const run_result& r) {
                    CHECK(r.written == "TOP 3 0\r\n");
                    CHECK(op.take_result(p) == "Subject: x\r\n\r\n");
                });
    protocol p;
    in(session_state::transaction, {"UIDL"})(p);
    top refused(string_sink{}, 3, std::uint32_t{0});
    const auto r = drive(p, refused, "");
    CHECK(r.actions == "-");
    CHECK(r.error == pop3::errc::not_supported);
    CHECK(r.written.empty());
}

TEST_CASE("core: DELE, RSET, NOOP, QUIT", "[core]")
{
    using verb = plain_command_op::verb;
    const std::pair<verb, const char*> plain[] = {
        {verb::dele, "DELE 4\r\n"}, {verb::rset, "RSET\r\n"}, {verb::noop, "NOOP\r\n"}};
    for (const auto& [v, line] : plain) {
        every_split("+OK\r\n", transaction, make<plain_command_op>(v, pop3::message_number{4}),
                    [line = line](protocol& p, plain_command_op&, const run_result& r) {
                        CHECK(io(r, "wrd"));
                        CHECK(r.written == line);
                        CHECK_FALSE(r.error);
                        CHECK(p.state() == session_state::transaction);
                    });
    }
    every_split("+OK bye\r\n", transaction, make<quit_op>(),
                [](protocol& p, quit_op& op, const run_result& r) {
                    CHECK(r.written == "QUIT\r\n");
                    CHECK(op.take_result(p));
                    CHECK(p.state() == session_state::closed);
                });
    // -ERR to QUIT: the deletions were not done.
    every_split("-ERR [SYS/TEMP] not now\r\n", transaction, make<quit_op>(),
                [](protocol&, quit_op& op, const run_result& r) {
                    CHECK(r.error == pop3::errc::temporary_failure);
                    CHECK_FALSE(op.committed);
                });
}

TEST_CASE("core: STLS asks for the handshake, then CAPA on the new layer", "[core]")
{
    // Split only before the handshake: whatever follows arrives through the TLS layer, so
    // it can never be in the same read as the STLS reply (that is the injection below).
    const std::string reply = "+OK begin TLS\r\n";
    for (std::size_t k = 1; k <= reply.size(); ++k) {
        INFO("first piece " << k);
        protocol p;
        in(session_state::authorization, {"STLS"})(p);
        stls_op stls;
        const auto r = drive(p, stls, reply + "+OK\r\nUSER\r\n.\r\n", k, 1);
        CHECK(io(r, "wrhwrd"));
        CHECK(r.written == "STLS\r\nCAPA\r\n");
        CHECK_FALSE(r.error);
        CHECK(r.unread == 0);
        CHECK(p.tls_active());
        CHECK(p.caps().user);
        CHECK_FALSE(p.caps().stls);
    }
    // Bytes after the STLS reply arrived in the clear: no handshake, the session is broken.
    protocol p;
    in(session_state::authorization, {"STLS"})(p);
    stls_op injected;
    const auto r = drive(p, injected, "+OK\r\nCAPA\r\n");
    CHECK(io(r, "wrd"));
    CHECK(r.error == pop3::errc::malformed_response);
    CHECK(p.state() == session_state::broken);
    CHECK_FALSE(p.tls_active());
}

TEST_CASE("core: batches pipeline, and DELE reports each message", "[core]")
{
    std::vector<pop3::dele_outcome> seen;
    std::vector<std::string> texts;
    auto handler = [&](const pop3::dele_outcome& o) {
        seen.push_back(o);
        texts.push_back(o.reply != nullptr ? o.reply->text : "");
    };
    using dele_each = dele_batch_op<decltype(handler)>;
    every_split(
        "+OK\r\n-ERR [SYS/TEMP] message 2 locked\r\n+OK\r\n",
        in(session_state::transaction, {"PIPELINING"}),
        [&] {
            seen.clear();
            texts.clear();
            return std::make_unique<dele_each>(std::vector<pop3::message_number>{1, 2, 3}, handler);
        },
        [&](protocol& p, dele_each&, const run_result& r) {
            CHECK(io(r, "wrd")); // all three DELEs in one write
            CHECK(r.written == "DELE 1\r\nDELE 2\r\nDELE 3\r\n");
            CHECK_FALSE(r.error); // a per-message -ERR does not fail the call
            CHECK(p.error_reply().text.empty());
            REQUIRE(seen.size() == 3);
            CHECK(seen[0].number == 1);
            CHECK_FALSE(seen[0].error);
            CHECK(seen[1].number == 2);
            CHECK(seen[1].error == pop3::errc::temporary_failure);
            CHECK(texts[1] == "message 2 locked");
            CHECK_FALSE(seen[2].error);
        });
    // Without a handler: every DELE is tried, the call fails with the first error.
    every_split("-ERR gone\r\n+OK\r\n-ERR [SYS/TEMP] later\r\n", transaction,
                make<dele_batch_op<>>(std::vector<pop3::message_number>{5, 6, 7}),
                [](protocol& p, dele_batch_op<>&, const run_result& r) {
                    CHECK(r.written == "DELE 5\r\nDELE 6\r\nDELE 7\r\n");
                    CHECK(r.error == pop3::errc::server_error);
                    CHECK(p.error_reply().text == "gone");
                });
}

TEST_CASE("core: one gate refuses every operation in a wrong state, before any byte", "[core]")
{
    const auto refused = [](session_state state, operation& op) {
        protocol p;
        p.set_state(state);
        const auto r = drive(p, op, "");
        CHECK(r.error == pop3::errc::wrong_state);
        CHECK(r.written.empty());
    };
    for (auto state :
         {session_state::disconnected, session_state::authorization, session_state::closed}) {
        INFO(static_cast<int>(state));
        stat_op stat;
        refused(state, stat);
        listing_op<pop3::message_uid> uidl;
        refused(state, uidl);
        body_op<string_sink> retr(string_sink{}, 1, std::nullopt);
        refused(state, retr);
        dele_batch_op<> dele({1});
        refused(state, dele);
        plain_command_op noop(plain_command_op::verb::noop);
        refused(state, noop);
    }
    for (auto state :
         {session_state::disconnected, session_state::transaction, session_state::closed}) {
        INFO(static_cast<int>(state));
        login_op login("a", "b", method(pop3::auth_method::user), false);
        refused(state, login);
        stls_op stls;
        refused(state, stls);
        utf8_op utf8;
        refused(state, utf8);
    }
    for (auto state : {session_state::disconnected, session_state::closed}) {
        capa_op capa;
        refused(state, capa);
        quit_op quit;
        refused(state, quit);
        lang_op lang;
        refused(state, lang);
    }
    // A broken session refuses everything, the greeting included.
    protocol p;
    p.set_state(session_state::broken);
    open_session_op greeting(pop3::tls_mode::none);
    CHECK(p.begin(greeting) == pop3::errc::session_broken);
}

TEST_CASE("core: message number 0 is refused before anything is sent", "[core]")
{
    protocol p;
    p.set_state(session_state::transaction);
    body_op<string_sink> retr(string_sink{}, 0, std::nullopt);
    auto r = drive(p, retr, "");
    CHECK(r.error == pop3::errc::invalid_argument);
    CHECK(r.written.empty());
    dele_batch_op<> dele({1, 0, 2});
    r = drive(p, dele, "");
    CHECK(r.error == pop3::errc::invalid_argument);
    CHECK(r.written.empty());
    const auto ignore = [](const pop3::message_part&) {};
    body_batch_op<decltype(ignore)> many(ignore, {3, 0}, std::nullopt);
    r = drive(p, many, "");
    CHECK(r.error == pop3::errc::invalid_argument);
    CHECK(r.written.empty());
    CHECK(p.state() == session_state::transaction);
}

TEST_CASE("core: the automatic choice follows the auth_methods table", "[core]")
{
    using m = pop3::auth_method;
    const auto choose = [](bool tls, bool allow_plaintext, const char* sasl) {
        protocol p;
        if (tls) p.handshake_done();
        p.set_state(session_state::authorization);
        p.greeting().apop_timestamp = "<1.2@host>";
        (void)p.caps().add_line("USER");
        (void)p.caps().add_line(sasl);
        p.set_caps_known(true);
        pop3::login_options o;
        o.allow_plaintext = allow_plaintext;
        auto chosen = m::automatic;
        const auto ec = choose_method(p, o, false, chosen);
        return ec ? m::automatic : chosen;
    };
    const char* all = "SASL SCRAM-SHA-256 SCRAM-SHA-1 PLAIN LOGIN CRAM-MD5";
    CHECK(choose(true, false, all) == m::scram_sha_256);
    CHECK(choose(true, false, "SASL SCRAM-SHA-1 PLAIN CRAM-MD5") == m::scram_sha_1);
    CHECK(choose(true, false, "SASL LOGIN PLAIN CRAM-MD5") == m::plain);
    CHECK(choose(true, false, "SASL CRAM-MD5 LOGIN") == m::login);
    CHECK(choose(true, false, "SASL CRAM-MD5") == m::user); // USER before CRAM-MD5 and APOP
    // Without TLS only SCRAM, unless plaintext is allowed; then what does not send the
    // password comes first.
    CHECK(choose(false, false, all) == m::scram_sha_256);
    CHECK(choose(false, false, "SASL PLAIN CRAM-MD5") == m::automatic);
    CHECK(choose(false, true, "SASL PLAIN CRAM-MD5") == m::cram_md5);
    CHECK(choose(false, true, "SASL PLAIN LOGIN") == m::apop);
}
