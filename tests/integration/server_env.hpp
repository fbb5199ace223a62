// What a test server's script wrote when it started (dovecot.sh, mailutils.sh): the KEY=VALUE
// env file named by an environment variable, and the script itself, for `reset`.
#ifndef POP3_TESTS_SERVER_ENV_HPP
#define POP3_TESTS_SERVER_ENV_HPP

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>

namespace pop3_test {

/// The whole of a file, as bytes.
inline std::string read_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

class server_env {
public:
    /// Reads the env file named by $`file_variable`; `script_variable` names the script.
    server_env(const char* file_variable, const char* script_variable)
        : script_variable_(script_variable)
    {
        const char* file = std::getenv(file_variable);
        if (file == nullptr) throw std::runtime_error(std::string(file_variable) + " is not set");
        std::ifstream in(file);
        if (!in)
            throw std::runtime_error(std::string("cannot read ") + file +
                                     ": did the server's start fixture fail?");
        std::string line;
        while (std::getline(in, line)) {
            const auto eq = line.find('=');
            if (eq == std::string::npos || line[0] == '#') continue;
            auto value = line.substr(eq + 1);
            if (value.size() >= 2 && (value.front() == '"' || value.front() == '\''))
                value = value.substr(1, value.size() - 2);
            values_[line.substr(0, eq)] = value;
        }
    }

    std::string value(const std::string& key) const
    {
        const auto it = values_.find(key);
        if (it == values_.end()) throw std::runtime_error(key + " missing from the env file");
        return it->second;
    }

    /// `script reset DIR USER`: the user's mailbox as at start. No session of USER may be open.
    void reset(const std::string& dir, const std::string& user) const
    {
        const char* script = std::getenv(script_variable_);
        if (script == nullptr)
            throw std::runtime_error(std::string(script_variable_) + " is not set");
        const std::string cmd =
            "bash '" + std::string(script) + "' reset '" + dir + "' " + user + " >/dev/null";
        if (std::system(cmd.c_str()) != 0) throw std::runtime_error("reset failed: " + cmd);
    }

private:
    const char* script_variable_;
    std::map<std::string, std::string> values_;
};

} // namespace pop3_test

#endif
