// leave_on_server: fetch only what is new, keep mail on the server for 14 days.
//
//     POP3_PASSWORD=... ./leave_on_server HOST USER STATE-FILE OUT-DIR [PORT=995] [CA-FILE]
//     [DAYS=14]
//
// The UID store remembers which messages were fetched (and when first seen); the policy
// says when to delete them from the server; fetch_new does the rest: no message is
// deleted before `deliver` confirmed it stored, and none is delivered twice.
#include <pop3/client.hpp>
#include <pop3/leave_on_server.hpp>
#include <pop3/leave_on_server/durable_file.hpp>
#include <pop3/tls.hpp>

#include "net.hpp" // standalone Asio or Boost.Asio, as pop3 is built

#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include <fcntl.h>

/// The file name for a UID. A UID is the server's text (any bytes 0x21-0xFF, "../x"
/// included): it must never become a path. Letters, digits, '-' and '_' stay; every other
/// byte becomes %XX, so distinct UIDs get distinct names and none leaves `out_dir`.
/// Empty when the name would be too long for a file system (the message then stays on the
/// server, reported, instead of being stored under a name that could collide).
std::string file_name_for(std::string_view uid)
{
    static const char hex[] = "0123456789ABCDEF";
    std::string name;
    for (const char ch : uid) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_') {
            name += ch;
        } else {
            name += '%';
            name += hex[c >> 4];
            name += hex[c & 0xF];
        }
    }
    if (name.size() > 200) return {};
    return name + ".eml";
}

int main(int argc, char** argv)
{
    const char* password = std::getenv("POP3_PASSWORD");
    if (argc < 5 || password == nullptr) {
        std::cerr << "usage: POP3_PASSWORD=... leave_on_server HOST USER STATE-FILE OUT-DIR [PORT] "
                     "[CA-FILE] [DAYS]\n";
        return 2;
    }
    const std::string out_dir = argv[4];
    const unsigned days = argc > 7 ? static_cast<unsigned>(std::stoul(argv[7])) : 14;
    try {
        net::io_context ioc;
        pop3::tls_options trust; // the system trust store, unless a CA file is given
        if (argc > 6) trust.ca_file = argv[6];
        auto tls = pop3::make_tls_context(trust);
        pop3::client<net::ssl::stream<net::ip::tcp::socket>> c{ioc, tls};
        c.connect(argv[1], argc > 5 ? argv[5] : "995", pop3::tls_mode::implicit);
        c.login(argv[2], password);

        pop3::file_uid_store store(argv[3]); // locked: one run per account at a time
        const auto policy = pop3::leave_policy::delete_older_than_days(days);

        // Called once per new message, whole; return success only once it is stored: the
        // file written, fsync'ed, and its directory entry fsync'ed. (The file is named by
        // the UID, so a message delivered again with m.maybe_delivered set simply replaces
        // its copy. For large messages, pass a pop3::message_delivery instead: each message
        // then streams into it in constant memory, as pop3-fetch does.)
        auto deliver = [&](const pop3::fetched_message& m) -> pop3::error_code {
            const auto name = file_name_for(m.uid);
            if (name.empty()) return pop3::errno_code(ENAMETOOLONG);
            pop3::error_code ec;
            const auto file =
                pop3::unique_fd::open(out_dir + "/" + name, O_WRONLY | O_CREAT | O_TRUNC, ec);
            if (!ec) ec = pop3::write_all(file.get(), m.bytes);
            if (!ec) ec = pop3::sync_file(file.get());
            if (!ec) ec = pop3::sync_directory(out_dir);
            return ec;
        };
        const auto result = pop3::fetch_new(c, store, policy, deliver);
        std::cout << result.fetched << " new, " << result.deleted << " deleted from the server\n";
    } catch (const pop3::error& e) {
        std::cerr << "leave_on_server: " << e.code().message() << ' ' << e.reply().text << '\n';
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "leave_on_server: " << e.what() << '\n';
        return 1;
    }
}
