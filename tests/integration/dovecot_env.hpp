// Access to the Dovecot instance that tests/integration/dovecot.sh started: its ports,
// CA, and the manifest of what every mailbox holds.
#ifndef POP3_TESTS_DOVECOT_ENV_HPP
#define POP3_TESTS_DOVECOT_ENV_HPP

#include "server_env.hpp"

#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace pop3_test {

/// One message as the server should report and send it.
struct expected_message {
    std::uint32_t number = 0;
    std::string uid;
    std::uint64_t size = 0;
    std::string path; ///< file with the exact unstuffed bytes of RETR
};

class dovecot_env {
public:
    /// Reads the env file named by $POP3_TEST_ENV (written by `dovecot.sh start`).
    static const dovecot_env& get()
    {
        static const dovecot_env instance;
        return instance;
    }

    std::string host() const { return value("POP3_TEST_HOST"); }
    std::string port() const { return value("POP3_TEST_PORT"); }
    std::string tls_port() const { return value("POP3_TEST_TLS_PORT"); }
    std::string nostls_port() const { return value("POP3_TEST_NOSTLS_PORT"); }
    std::string ca_file() const { return value("POP3_TEST_CA"); }
    std::string dir() const { return value("POP3_TEST_DIR"); }
    static std::string password(const std::string& user) { return "secret-" + user; }

    std::vector<expected_message> mailbox(const std::string& user) const
    {
        std::ifstream in(value("POP3_TEST_EXPECTED") + "/" + user + ".tsv");
        if (!in) throw std::runtime_error("no manifest for " + user);
        std::vector<expected_message> out;
        std::string line;
        while (std::getline(in, line)) {
            if (line.empty()) continue;
            std::istringstream fields(line);
            expected_message m;
            std::string number, size;
            std::getline(fields, number, '\t');
            std::getline(fields, m.uid, '\t');
            std::getline(fields, size, '\t');
            std::getline(fields, m.path, '\t');
            m.number = static_cast<std::uint32_t>(std::stoul(number));
            m.size = std::stoull(size);
            out.push_back(m);
        }
        return out;
    }

    static std::string read_file(const std::string& path) { return pop3_test::read_file(path); }

    /// Regenerates a user's mailbox (same bytes, same UIDs) while the server runs.
    void reset(const std::string& user) const { env_.reset(dir(), user); }

private:
    std::string value(const std::string& key) const { return env_.value(key); }

    server_env env_{"POP3_TEST_ENV", "POP3_TEST_SCRIPT"};
};

} // namespace pop3_test

#endif
