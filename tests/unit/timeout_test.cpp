// Timeouts over real loopback sockets: a server that stops sending makes the call fail
// with errc::timeout, sync and async; nothing hangs.
#include "../catch.hpp"
#include "test_net.hpp"

#include <pop3/client.hpp>

#include <chrono>
#include <string>
#include <thread>

namespace {

using tcp = net::ip::tcp;
using namespace std::chrono_literals;

/// A one-connection loopback server that sends `script` and then goes silent until
/// the client closes (at most a few seconds).
class silent_server {
public:
    explicit silent_server(std::string script)
        : acceptor_(ioc_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)),
          script_(std::move(script))
    {
        thread_ = std::thread([this] {
            pop3::error_code ec;
            tcp::socket peer(ioc_);
            acceptor_.accept(peer, ec);
            if (ec) return;
            net::write(peer, net::buffer(script_), ec);
            // Swallow what the client sends until it gives up and closes.
            char sink[256];
            const auto until = std::chrono::steady_clock::now() + 5s;
            peer.non_blocking(true, ec);
            while (std::chrono::steady_clock::now() < until) {
                peer.read_some(net::buffer(sink), ec);
                if (ec && ec != net::error::would_block) break;
                std::this_thread::sleep_for(5ms);
            }
        });
    }
    ~silent_server() { thread_.join(); }
    std::string port() const { return std::to_string(acceptor_.local_endpoint().port()); }

private:
    net::io_context ioc_;
    tcp::acceptor acceptor_;
    std::string script_;
    std::thread thread_;
};

pop3::timeouts short_timeouts()
{
    pop3::timeouts t;
    t.connect = 300ms;
    t.idle = 200ms;
    return t;
}

const std::string greeting = "+OK ready\r\n+OK\r\nUSER\r\n.\r\n";

} // namespace

TEST_CASE("sync: a server silent after the greeting times out the connect")
{
    silent_server server("+OK ready\r\n"); // never answers CAPA
    net::io_context ioc;
    pop3::client<tcp::socket> c{ioc};
    c.set_timeouts(short_timeouts());
    const auto start = std::chrono::steady_clock::now();
    pop3::error_code ec;
    c.connect("127.0.0.1", server.port(), ec);
    CHECK(ec == pop3::errc::timeout);
    CHECK(std::chrono::steady_clock::now() - start < 3s);
    CHECK(c.state() == pop3::session_state::broken);
    c.stream().close();
}

TEST_CASE("sync: a server that stops answering times out the call")
{
    silent_server server(greeting);
    net::io_context ioc;
    pop3::client<tcp::socket> c{ioc};
    c.set_timeouts(short_timeouts());
    c.connect("127.0.0.1", server.port());
    const auto start = std::chrono::steady_clock::now();
    try {
        c.login("alice", "secret", {pop3::auth_method::user, true, {}, {}, {}});
        FAIL("login should time out");
    } catch (const pop3::error& e) {
        CHECK(e.code() == pop3::errc::timeout);
    }
    CHECK(std::chrono::steady_clock::now() - start < 3s);
    c.stream().close();
}

TEST_CASE("async: a server that stops answering times out the call")
{
    silent_server server(greeting);
    net::io_context ioc;
    pop3::client<tcp::socket> c{ioc};
    c.set_timeouts(short_timeouts());
    pop3::error_code connect_error, login_error;
    bool done = false;
    c.async_connect("127.0.0.1", server.port(), [&](pop3::error_code ec) {
        connect_error = ec;
        if (ec) return;
        const pop3::login_options user_pass{pop3::auth_method::user, true, {}, {}, {}};
        c.async_login("alice", "secret", user_pass, [&](pop3::error_code ec2) {
            login_error = ec2;
            done = true;
            c.stream().close();
        });
    });
    const auto start = std::chrono::steady_clock::now();
    ioc.run_for(5s);
    CHECK_FALSE(connect_error);
    CHECK(done);
    CHECK(login_error == pop3::errc::timeout);
    CHECK(std::chrono::steady_clock::now() - start < 3s);
}

TEST_CASE("connecting to a closed port fails fast with the socket's error")
{
    std::string port;
    {
        net::io_context tmp;
        tcp::acceptor a(tmp, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
        port = std::to_string(a.local_endpoint().port());
    } // closed again: nothing listens there now
    net::io_context ioc;
    pop3::client<tcp::socket> c{ioc};
    pop3::error_code ec;
    c.connect("127.0.0.1", port, ec);
    CHECK(ec == net::error::connection_refused);
    pop3::error_code async_ec;
    c.async_connect("127.0.0.1", port,
                    [&](pop3::error_code e) { async_ec = e; });
    ioc.run_for(5s);
    CHECK(async_ec == net::error::connection_refused);
}

#if defined(POP3_TEST_HAS_CANCELLATION_SLOTS)
TEST_CASE("async: per-operation cancellation through a cancellation slot")
{
    silent_server server(greeting);
    net::io_context ioc;
    pop3::client<tcp::socket> c{ioc};
    c.connect("127.0.0.1", server.port());
    net::cancellation_signal cancel;
    pop3::error_code result;
    bool done = false;
    const pop3::login_options user_pass{pop3::auth_method::user, true, {}, {}, {}};
    c.async_login("alice", "secret", user_pass,
                  net::bind_cancellation_slot(cancel.slot(), [&](pop3::error_code ec) {
                      result = ec;
                      done = true;
                  }));
    net::steady_timer later(ioc, 50ms);
    later.async_wait([&](pop3::error_code) { cancel.emit(net::cancellation_type::terminal); });
    ioc.run_for(5s);
    CHECK(done);
    CHECK(result == net::error::operation_aborted);
    // Cancelled in the middle of an exchange: the session cannot be trusted any more.
    CHECK(c.state() == pop3::session_state::broken);
    c.stream().close();
}
#endif
