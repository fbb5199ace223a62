// The Boost.Asio twin of ../main.cpp, built by the package consumer tests when pop3 is configured
// with POP3_USE_BOOST_ASIO=ON: the usage requirements (pop3::pop3 or pop3.pc) must select
// Boost.Asio, and pop3::client must work on Boost's socket types and through pop3::net.

#ifndef POP3_USE_BOOST_ASIO
#error "POP3_USE_BOOST_ASIO must come from pop3's usage requirements (pop3::pop3 or pop3.pc)"
#endif

#ifdef POP3_EXPECT_UMBRELLA
#include <pop3/pop3.hpp> // the whole public API: client, commands, session_state included
#else
#include <pop3/client.hpp>
#include <pop3/commands.hpp>
#include <pop3/session_state.hpp>
#endif

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/system/error_code.hpp>

#include <cstdio>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>

static_assert(std::is_same_v<pop3::net::io_context, boost::asio::io_context>,
              "pop3::net must be Boost.Asio when POP3_USE_BOOST_ASIO is defined");

namespace {

int failures = 0;

void check(bool ok, const char* what)
{
    if (!ok) {
        std::fprintf(stderr, "boost consumer: FAILED: %s\n", what);
        ++failures;
    }
}

} // namespace

int main()
{
    pop3::net::io_context ioc;

    pop3::client<boost::asio::ip::tcp::socket> plain{ioc};
    check(plain.state() == pop3::session_state::disconnected, "a new client is disconnected");

    std::string command;
    const pop3::error_code format_error = pop3::commands::retr(command, 3);
    check(!format_error, "commands::retr succeeds");
    check(command == "RETR 3\r\n", "commands::retr formats 'RETR 3\\r\\n'");

    // Needs OpenSSL::SSL and OpenSSL::Crypto at link time.
    pop3::net::ssl::context tls{pop3::net::ssl::context::tls_client};
    pop3::client<pop3::net::ssl::stream<pop3::net::ip::tcp::socket>> secure{ioc, tls};
    check(secure.state() == pop3::session_state::disconnected, "a new TLS client is disconnected");
    check(!secure.tls_active(), "a new TLS client has no TLS yet");

    // Instantiates the sync and the async driver on Boost.Asio; neither may succeed without a
    // connection.
    pop3::error_code sync_error;
    plain.noop(sync_error);
    check(sync_error == pop3::errc::wrong_state, "noop() before connect fails: wrong_state");

    // Every form reports Boost's error_code (so Boost's use_future and use_awaitable throw),
    // and it compares with pop3::errc.
    bool completed = false;
    boost::system::error_code async_error;
    plain.async_noop([&](boost::system::error_code ec) {
        completed = true;
        async_error = ec;
    });
    // Needs Threads::Threads.
    std::thread runner{[&ioc] { ioc.run(); }};
    runner.join();
    check(completed, "async_noop() completes");
    check(async_error == pop3::errc::wrong_state, "async_noop() before connect fails: wrong_state");
    check(async_error == sync_error, "the sync and async forms report the same error_code");
    check(&async_error.category() == &pop3::error_category(),
          "pop3's category is a Boost category");

    if (failures == 0) std::puts("boost consumer: ok");
    return failures == 0 ? 0 : 1;
}
