// Compiled against the installed pop3 package, once through find_package(pop3) and once
// through pkg-config: the usage requirements alone must be enough to build and link this.

// The package must bring Asio's configuration (before any header could define it itself).
#ifndef ASIO_STANDALONE
#error "ASIO_STANDALONE must come from pop3's usage requirements (asio::asio or pop3.pc)"
#endif

#ifdef POP3_EXPECT_UMBRELLA
#include <pop3/pop3.hpp>
#endif

#include <asio.hpp>
#include <asio/ssl.hpp>

#include <thread>

int main() {
    asio::io_context ioc;
    // Needs OpenSSL::SSL and OpenSSL::Crypto at link time.
    asio::ssl::context tls{asio::ssl::context::tls_client};
    bool ran = false;
    asio::post(ioc, [&ran] { ran = true; });
    // Needs Threads::Threads.
    std::thread runner{[&ioc] { ioc.run(); }};
    runner.join();
    return ran ? 0 : 1;
}
