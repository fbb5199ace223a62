// quickstart: connect with implicit TLS, log in, list the UIDs, print the first message.
//
//     POP3_PASSWORD=... ./quickstart pop.example.com alice [port] [ca-file]
//
// The password comes from the environment, never from the command line. The server's
// certificate is checked against the system trust store (or the optional CA file).
#include <pop3/pop3.hpp>

#include "net.hpp" // standalone Asio or Boost.Asio, as pop3 is built

#include <cstdlib>
#include <iostream>

int main(int argc, char** argv)
{
    if (argc < 3 || std::getenv("POP3_PASSWORD") == nullptr) {
        std::cerr << "usage: POP3_PASSWORD=... quickstart HOST USER [PORT] [CA-FILE]\n";
        return 2;
    }
    const char* port = argc > 3 ? argv[3] : "995";
    try {
        net::io_context ioc;
        pop3::tls_options trust; // the system trust store, unless a CA file is given
        if (argc > 4) trust.ca_file = argv[4];
        auto tls = pop3::make_tls_context(trust);
        pop3::client<net::ssl::stream<net::ip::tcp::socket>> c{ioc, tls};
        c.connect(argv[1], port, pop3::tls_mode::implicit); // chain and host name verified
        c.login(argv[2], std::getenv("POP3_PASSWORD"));     // strongest method offered
        const auto uids = c.uidl();
        for (const auto& m : uids) std::cout << m.number << ' ' << m.uid << '\n';
        if (!uids.empty()) std::cout << c.retr(uids.front().number);
        c.quit();
    } catch (const pop3::error& e) { // the server's -ERR text is in e.reply()
        std::cerr << "quickstart: " << e.code().message() << ' ' << e.reply().text << '\n';
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "quickstart: " << e.what() << '\n';
        return 1;
    }
}
