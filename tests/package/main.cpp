// A tiny program built by every package consumer test (tests/package/run.cmake): against the
// installed package with find_package(pop3) and with pkg-config, and against the source tree with
// add_subdirectory and FetchContent. pop3's usage requirements alone must be enough to compile,
// link and run it. No network: it constructs clients and formats a command, and runs one sync and
// one async operation on a client that never connected (they must fail, without I/O to a peer).

// The package must bring Asio's configuration (before any header could define it itself).
#ifndef ASIO_STANDALONE
#error "ASIO_STANDALONE must come from pop3's usage requirements (asio::asio or pop3.pc)"
#endif
#ifdef POP3_USE_BOOST_ASIO
#error "POP3_USE_BOOST_ASIO is set, but this pop3 was built for standalone Asio"
#endif

#ifdef POP3_EXPECT_UMBRELLA
#include <pop3/pop3.hpp> // the whole public API: client, commands, session_state included
#else
#include <pop3/client.hpp>
#include <pop3/commands.hpp>
#include <pop3/session_state.hpp>
#endif

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>

#include <cstdio>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>

static_assert(std::is_same_v<asio::io_context, pop3::net::io_context>,
              "pop3::net must be standalone Asio");

namespace {

int failures = 0;

void check(bool ok, const char* what)
{
    if (!ok) {
        std::fprintf(stderr, "consumer: FAILED: %s\n", what);
        ++failures;
    }
}

} // namespace

int main()
{
    asio::io_context ioc;

    pop3::client<asio::ip::tcp::socket> plain{ioc};
    check(plain.state() == pop3::session_state::disconnected, "a new client is disconnected");

    std::string command;
    const pop3::error_code format_error = pop3::commands::retr(command, 3);
    check(!format_error, "commands::retr succeeds");
    check(command == "RETR 3\r\n", "commands::retr formats 'RETR 3\\r\\n'");

    // Needs OpenSSL::SSL and OpenSSL::Crypto at link time.
    asio::ssl::context tls{asio::ssl::context::tls_client};
    pop3::client<asio::ssl::stream<asio::ip::tcp::socket>> secure{ioc, tls};
    check(secure.state() == pop3::session_state::disconnected, "a new TLS client is disconnected");
    check(!secure.tls_active(), "a new TLS client has no TLS yet");

    // Instantiates the sync and the async driver; neither may succeed without a connection.
    pop3::error_code sync_error;
    plain.noop(sync_error);
    check(static_cast<bool>(sync_error), "noop() before connect fails");

    bool completed = false;
    pop3::error_code async_error;
    plain.async_noop([&](pop3::error_code ec) {
        completed = true;
        async_error = ec;
    });
    // Needs Threads::Threads.
    std::thread runner{[&ioc] { ioc.run(); }};
    runner.join();
    check(completed, "async_noop() completes");
    check(static_cast<bool>(async_error), "async_noop() before connect fails");

    if (failures == 0) std::puts("consumer: ok");
    return failures == 0 ? 0 : 1;
}
