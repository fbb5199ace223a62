// tls_scram: plain connect + STLS, required (never falls back to plaintext), then
// SCRAM-SHA-256 explicitly: the password never crosses the wire, and the server must prove
// that it knows it too.
//
//     POP3_PASSWORD=... ./tls_scram HOST USER [PORT=110] [CA-FILE]
#include <pop3/pop3.hpp>

#include "net.hpp" // standalone Asio or Boost.Asio, as pop3 is built

#include <cstdlib>
#include <iostream>

int main(int argc, char** argv)
{
    const char* password = std::getenv("POP3_PASSWORD");
    if (argc < 3 || password == nullptr) {
        std::cerr << "usage: POP3_PASSWORD=... tls_scram HOST USER [PORT] [CA-FILE]\n";
        return 2;
    }
    try {
        net::io_context ioc;
        pop3::tls_options trust; // the system trust store, unless a CA file is given
        if (argc > 4) trust.ca_file = argv[4];
        auto tls = pop3::make_tls_context(trust);
        pop3::client<net::ssl::stream<net::ip::tcp::socket>> c{ioc, tls};

        // tls_mode::starttls fails with errc::tls_required when the server does not
        // offer STLS: no silent downgrade.
        c.connect(argv[1], argc > 3 ? argv[3] : "110", pop3::tls_mode::starttls);

        pop3::login_options options;
        options.method = pop3::auth_method::scram_sha_256; // fails if not offered
        c.login(argv[2], password, options);

        const auto stat = c.stat();
        std::cout << "TLS " << (c.tls_active() ? "active" : "NOT active")
                  << ", logged in with SCRAM-SHA-256: " << stat.count << " messages, "
                  << stat.octets << " octets\n";
        c.quit();
    } catch (const pop3::error& e) {
        if (e.code() == pop3::errc::tls_required)
            std::cerr
                << "tls_scram: the server does not offer STLS; refusing to continue without TLS\n";
        else if (e.code() == pop3::errc::mechanism_unavailable)
            std::cerr << "tls_scram: the server does not offer SCRAM-SHA-256\n";
        else if (e.code() == pop3::errc::server_signature_mismatch)
            std::cerr << "tls_scram: the server could not prove it knows the password: impostor?\n";
        else std::cerr << "tls_scram: " << e.code().message() << ' ' << e.reply().text << '\n';
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "tls_scram: " << e.what() << '\n';
        return 1;
    }
}
