// pop3::client against a real Dovecot started by dovecot.sh on 127.0.0.1: every message
// fetched must be byte-equal to what the server sends for it.
#include "../catch.hpp"
#include "dovecot_env.hpp"
#include "test_net.hpp"

#include <pop3/client.hpp>

#include <chrono>
#include <fstream>
#include <thread>
#include <string>
#include <vector>

using pop3_test::dovecot_env;
using tcp = net::ip::tcp;

namespace {

struct session {
    net::io_context ioc;
    pop3::client<tcp::socket> client{ioc};

    explicit session(const std::string& user)
    {
        const auto& env = dovecot_env::get();
        client.connect(env.host(), env.port());
        client.login(user, dovecot_env::password(user));
    }
};

/// Compares a streamed message with the expected file chunk by chunk, in constant memory.
class file_comparer {
public:
    explicit file_comparer(const std::string& path) : in_(path, std::ios::binary) {}

    void operator()(std::string_view chunk)
    {
        buffer_.resize(chunk.size());
        in_.read(buffer_.data(), static_cast<std::streamsize>(chunk.size()));
        if (static_cast<std::size_t>(in_.gcount()) != chunk.size() ||
            std::string_view(buffer_.data(), chunk.size()) != chunk)
            equal_ = false;
        total_ += chunk.size();
    }

    bool equal_to_end() { return equal_ && in_.peek() == std::char_traits<char>::eof(); }
    std::uint64_t total() const { return total_; }

private:
    std::ifstream in_;
    std::vector<char> buffer_;
    bool equal_ = true;
    std::uint64_t total_ = 0;
};

} // namespace

TEST_CASE("dovecot: greeting, capabilities before and after login")
{
    const auto& env = dovecot_env::get();
    net::io_context ioc;
    pop3::client<tcp::socket> c{ioc};
    c.connect(env.host(), env.port());
    CHECK(c.state() == pop3::session_state::authorization);
    CHECK(c.greeting().reply.ok());
    CHECK_FALSE(c.greeting().apop_timestamp.empty()); // apop is configured
    CHECK(c.capabilities().stls);
    CHECK(c.capabilities().user);
    CHECK(c.capabilities().has_sasl("SCRAM-SHA-256"));
    c.login("alice", dovecot_env::password("alice"));
    CHECK(c.state() == pop3::session_state::transaction);
    CHECK(c.capabilities().pipelining);
    CHECK_FALSE(c.capabilities().stls); // refreshed after login
    CHECK(c.quit());
}

TEST_CASE("dovecot: wrong password is authentication_failed with [AUTH]")
{
    const auto& env = dovecot_env::get();
    net::io_context ioc;
    pop3::client<tcp::socket> c{ioc};
    c.connect(env.host(), env.port());
    try {
        c.login("alice", "not-the-password");
        FAIL("login should fail");
    } catch (const pop3::error& e) {
        CHECK(e.code() == pop3::errc::authentication_failed);
        CHECK(e.reply().code.kind == pop3::response_code_kind::auth);
    }
    CHECK(c.state() == pop3::session_state::authorization);
}

TEST_CASE("dovecot: alice's messages are byte-equal, by retr, sink, top and retr_many")
{
    const auto expected = dovecot_env::get().mailbox("alice");
    REQUIRE(expected.size() >= 10);
    session s("alice");
    auto& c = s.client;
    const auto st = c.stat();
    CHECK(st.count == expected.size());
    const auto sizes = c.list();
    const auto uids = c.uidl();
    REQUIRE(sizes.size() == expected.size());
    REQUIRE(uids.size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const auto& m = expected[i];
        INFO("message " << m.number << " " << m.path);
        CHECK(sizes[i].number == m.number);
        CHECK(sizes[i].octets == m.size);
        CHECK(uids[i].uid == m.uid);
        CHECK(c.uidl(m.number).uid == m.uid);
        CHECK(c.list(m.number).octets == m.size);
        const auto bytes = dovecot_env::read_file(m.path);
        CHECK(c.retr(m.number) == bytes);
        file_comparer compare(m.path);
        c.retr(m.number, std::ref(compare));
        CHECK(compare.equal_to_end());
        const auto head = c.top(m.number, 0);
        CHECK(bytes.compare(0, head.size(), head) == 0); // TOP n 0 is a prefix
    }
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
    CHECK(ended == expected.size());
    for (const auto& m : expected) CHECK(bodies[m.number] == dovecot_env::read_file(m.path));
    CHECK(c.quit());
}

TEST_CASE("dovecot: an empty mailbox")
{
    session s("empty");
    const auto st = s.client.stat();
    CHECK(st.count == 0);
    CHECK(st.octets == 0);
    CHECK(s.client.list().empty());
    CHECK(s.client.uidl().empty());
    pop3::error_code ec;
    s.client.retr(1, ec);
    CHECK(ec == pop3::errc::server_error);
    CHECK(s.client.quit());
}

TEST_CASE("dovecot: 5,000 messages listed and fetched pipelined")
{
    const auto expected = dovecot_env::get().mailbox("many");
    REQUIRE(expected.size() == 5000);
    session s("many");
    const auto uids = s.client.uidl();
    REQUIRE(uids.size() == expected.size());
    for (std::size_t i = 0; i < uids.size(); ++i) REQUIRE(uids[i].uid == expected[i].uid);
    std::vector<pop3::message_number> all;
    for (const auto& m : expected) all.push_back(m.number);
    std::string current;
    std::size_t mismatches = 0;
    std::size_t ended = 0;
    s.client.retr_many(all, [&](const pop3::message_part& part) {
        if (!part.end) {
            current.append(part.data);
            return;
        }
        if (current != dovecot_env::read_file(expected[part.number - 1].path)) ++mismatches;
        current.clear();
        ++ended;
    });
    CHECK(ended == 5000);
    CHECK(mismatches == 0);
    CHECK(s.client.quit());
}

TEST_CASE("dovecot: a 50 MB message streams byte-equal")
{
    const auto expected = dovecot_env::get().mailbox("big");
    REQUIRE(expected.size() == 1);
    session s("big");
    file_comparer compare(expected[0].path);
    s.client.retr(1, std::ref(compare));
    CHECK(compare.total() >= 50u * 1000 * 1000);
    CHECK(compare.equal_to_end());
    CHECK(s.client.quit());
}

TEST_CASE("dovecot: DELE + RSET keeps, DELE + QUIT removes")
{
    const auto& env = dovecot_env::get();
    env.reset("scratch");
    const auto expected = env.mailbox("scratch");
    REQUIRE(expected.size() >= 3);
    {
        session s("scratch");
        s.client.dele(1);
        s.client.dele_many({2, 3});
        CHECK(s.client.stat().count == expected.size() - 3);
        pop3::error_code ec;
        s.client.retr(1, ec);
        CHECK(ec == pop3::errc::server_error); // marked as deleted
        s.client.rset();
        CHECK(s.client.stat().count == expected.size());
        CHECK(s.client.quit());
    }
    {
        session s("scratch");
        CHECK(s.client.stat().count == expected.size());
        s.client.dele_many({1, 2});
        CHECK(s.client.quit()); // committed: UPDATE state
    }
    {
        session s("scratch");
        const auto uids = s.client.uidl();
        REQUIRE(uids.size() == expected.size() - 2);
        CHECK(uids[0].uid == expected[2].uid);
        CHECK(s.client.retr(1) == dovecot_env::read_file(expected[2].path));
        CHECK(s.client.quit());
    }
    env.reset("scratch");
}

TEST_CASE("dovecot: STLS and implicit TLS with the test CA")
{
    const auto& env = dovecot_env::get();
    net::io_context ioc;
    net::ssl::context tls(net::ssl::context::tls_client);
    tls.load_verify_file(env.ca_file());
    {
        pop3::client<net::ssl::stream<tcp::socket>> c{ioc, tls};
        c.connect(env.host(), env.port(), pop3::tls_mode::starttls);
        CHECK(c.tls_active());
        CHECK_FALSE(c.capabilities().stls); // asked again after STLS
        CHECK(c.capabilities().user);
        c.login("alice", dovecot_env::password("alice"));
        const auto expected = env.mailbox("alice");
        CHECK(c.retr(1) == dovecot_env::read_file(expected[0].path));
        CHECK(c.quit());
    }
    {
        pop3::client<net::ssl::stream<tcp::socket>> c{ioc, tls};
        c.connect(env.host(), env.tls_port(), pop3::tls_mode::implicit);
        CHECK(c.tls_active());
        c.login("alice", dovecot_env::password("alice"));
        CHECK(c.stat().count == env.mailbox("alice").size());
        CHECK(c.quit());
    }
    {
        // A server without STLS: starttls fails before any credential is sent.
        pop3::client<net::ssl::stream<tcp::socket>> c{ioc, tls};
        pop3::error_code ec;
        c.connect(env.host(), env.nostls_port(), pop3::tls_mode::starttls, ec);
        CHECK(ec == pop3::errc::tls_required);
        CHECK_FALSE(c.tls_active());
    }
}

TEST_CASE("dovecot: close() abandons the session without QUIT, so DELE marks are not applied")
{
    const auto& env = dovecot_env::get();
    const auto count = env.mailbox("alice").size();
    REQUIRE(count >= 1);
    session s("alice");
    s.client.dele(1);
    s.client.close();
    CHECK(s.client.state() == pop3::session_state::closed);
    pop3::error_code ec;
    s.client.noop(ec);
    CHECK(ec == pop3::errc::wrong_state); // nothing after close, as after quit
    // The same client starts a new session; the message is still there. (Dovecot may need
    // a moment to notice the closed connection and release the mailbox.)
    for (int attempt = 0; attempt < 50; ++attempt) {
        s.client.connect(env.host(), env.port());
        s.client.login("alice", dovecot_env::password("alice"), ec);
        if (ec != pop3::errc::mailbox_in_use) break;
        s.client.close();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    REQUIRE_FALSE(ec);
    CHECK(s.client.stat().count == count);
    CHECK(s.client.quit());
}
