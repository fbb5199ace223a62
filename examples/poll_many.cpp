// poll_many: polls many mailboxes at once, on one thread, with C++20 coroutines.
//
//     ./poll_many [--rounds N] [--interval SECONDS] [--cafile FILE] ACCOUNTS-FILE
//
// ACCOUNTS-FILE has one mailbox per line (like ~/.netrc, keep it mode 0600):
//     HOST PORT implicit|starttls|none USER PASSWORD
// Every mailbox gets its own coroutine: connect, log in, UIDL, report what is new since
// its last poll, QUIT, sleep, again. All of them share one io_context and one thread; a
// slow or failing server delays nobody else.
#include <pop3/auth.hpp>
#include <pop3/client.hpp>
#include <pop3/tls.hpp>

#include "net.hpp" // standalone Asio or Boost.Asio, as pop3 is built

#include <utility> // before awaitable.hpp: Boost 1.74's uses std::exchange without it
#if defined(POP3_USE_BOOST_ASIO)
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#else
#include <asio/co_spawn.hpp>
#include <asio/use_awaitable.hpp>
#endif

#include <chrono>
#include <exception>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct account {
    std::string host, port, tls, user, password;
    std::string name() const { return user + "@" + host + ":" + port; }
};

using tls_client = pop3::client<net::ssl::stream<net::ip::tcp::socket>>;

/// One mailbox, polled `rounds` times.
net::awaitable<void> poll(account a, net::ssl::context& tls, int rounds,
                          std::chrono::seconds interval, int& failures)
{
    auto executor = co_await net::this_coro::executor;
    const auto mode = a.tls == "implicit" ? pop3::tls_mode::implicit
                      : a.tls == "none"   ? pop3::tls_mode::none
                                          : pop3::tls_mode::starttls;
    std::set<std::string> known;
    for (int round = 1; round <= rounds; ++round) {
        try {
            tls_client c{executor, tls};
            c.set_timeouts(pop3::timeouts{std::chrono::seconds(10), std::chrono::seconds(30)});
            co_await c.async_connect(a.host, a.port, mode, net::use_awaitable);
            // Strongest method offered. (GCC 12 miscompiles a temporary with a destructor inside
            // a co_await expression in a loop: pass a named pop3::login_options, not `{}`.)
            co_await c.async_login(a.user, a.password, net::use_awaitable);
            const auto uids = co_await c.async_uidl(net::use_awaitable);
            std::size_t fresh = 0;
            for (const auto& m : uids)
                if (known.insert(m.uid).second) ++fresh;
            co_await c.async_quit(net::use_awaitable);
            std::cout << a.name() << ": round " << round << ": " << uids.size() << " messages, "
                      << fresh << " new\n";
        } catch (const pop3::error& e) {
            ++failures;
            std::cout << a.name() << ": round " << round << ": " << e.code().message() << ' '
                      << e.reply().text << '\n';
        } catch (const pop3::system_error& e) { // what use_awaitable throws
            ++failures;
            std::cout << a.name() << ": round " << round << ": " << e.code().message() << '\n';
        }
        if (round < rounds) {
            net::steady_timer timer(executor, interval);
            co_await timer.async_wait(net::use_awaitable);
        }
    }
}

} // namespace

int main(int argc, char** argv)
{
    int rounds = 1;
    long interval = 60;
    std::string cafile, accounts_file;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--rounds" && i + 1 < argc) rounds = std::stoi(argv[++i]);
        else if (arg == "--interval" && i + 1 < argc) interval = std::stol(argv[++i]);
        else if (arg == "--cafile" && i + 1 < argc) cafile = argv[++i];
        else accounts_file = arg;
    }
    std::ifstream in(accounts_file);
    if (accounts_file.empty() || !in) {
        std::cerr << "usage: poll_many [--rounds N] [--interval S] [--cafile F] ACCOUNTS-FILE\n";
        return 2;
    }
    std::vector<account> accounts;
    for (std::string line; std::getline(in, line);) {
        std::istringstream fields(line);
        account a;
        if (line.empty() || line[0] == '#') continue;
        if (fields >> a.host >> a.port >> a.tls >> a.user >> a.password) accounts.push_back(a);
    }

    net::io_context ioc;     // one thread: everything below runs inside ioc.run()
    pop3::tls_options trust; // the system trust store, unless --cafile is given
    trust.ca_file = cafile;
    auto tls = pop3::make_tls_context(trust);
    int failures = 0;
    for (const auto& a : accounts)
        net::co_spawn(ioc, poll(a, tls, rounds, std::chrono::seconds(interval), failures),
                      [](std::exception_ptr e) {
                          if (e) std::rethrow_exception(e); // a bug, not a server problem
                      });
    ioc.run();
    return failures == 0 ? 0 : 1;
}
