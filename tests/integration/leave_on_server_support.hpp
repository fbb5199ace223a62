// Shared by the leave-on-server integration and fault-injection tests: a Maildir-like
// delivery (streaming, or whole messages) that dedupes by UID exactly as fetch_new's
// contract asks, and the checks that
// every message is stored exactly once, byte-identical, and that the server holds what
// the policy says.
#ifndef POP3_TESTS_LEAVE_ON_SERVER_SUPPORT_HPP
#define POP3_TESTS_LEAVE_ON_SERVER_SUPPORT_HPP

#include "dovecot_env.hpp"
#include "test_net.hpp"

#include <pop3/client.hpp>
#include <pop3/leave_on_server.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace pop3_test {

/// A UID as a file-name-safe string (lowercase hex of its bytes).
inline std::string uid_to_hex(std::string_view uid)
{
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (char c : uid) {
        const auto u = static_cast<unsigned char>(c);
        out += digits[u >> 4];
        out += digits[u & 15];
    }
    return out;
}

inline std::vector<std::string> list_dir(const std::string& dir)
{
    std::vector<std::string> out;
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return out;
    while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name != "." && name != "..") out.push_back(name);
    }
    ::closedir(d);
    return out;
}

/// A Maildir-like directory: tmp/ then rename into new/ as
/// "<pid>.<counter>.<uid-hex>.eml", a unique name per delivery (as Maildir does), so a
/// message delivered twice shows up as two files. It dedupes only as fetch_new's
/// contract asks: when `maybe_delivered` is set, an existing copy of that UID counts as
/// delivered. A delivery of a UID it already holds WITHOUT that flag is a contract
/// violation by the library: it is written down in violations/ (and stored again, so the
/// duplicate is visible too).
///
/// It is a streaming `pop3::message_delivery` (pass it as is: each message streams into
/// its tmp/ file), and also the whole-message callback (pass `std::ref(box)`), which is
/// the streaming one fed with one chunk.
///
/// No fsync here: these tests kill processes, they do not cut power, and the page cache
/// survives a SIGKILL. A real application must fsync the file and the directory.
class maildir final : public pop3::message_delivery {
public:
    explicit maildir(std::string root) : root_(std::move(root))
    {
        for (const char* sub : {"", "/tmp", "/new", "/violations"})
            std::filesystem::create_directories(root_ + sub);
    }
    maildir(const maildir&) = delete;
    maildir& operator=(const maildir&) = delete;
    ~maildir() override { abort(); }

    const std::string& root() const { return root_; }

    pop3::error_code begin(const pop3::fetched_message_info& m) override
    {
        abort();
        hex_ = uid_to_hex(m.uid);
        const bool have = holds(hex_);
        skip_ = have && m.maybe_delivered;
        if (skip_) return {};
        unique_ = std::to_string(::getpid()) + "." + std::to_string(++counter_);
        if (have) {
            const int fd = ::open((root_ + "/violations/" + hex_ + "." + unique_).c_str(),
                                  O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd >= 0) ::close(fd);
        }
        tmp_ = root_ + "/tmp/" + unique_;
        fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd_ < 0) {
            tmp_.clear();
            return pop3_test::errno_error(errno);
        }
        return {};
    }

    pop3::error_code write(std::string_view chunk) override
    {
        if (skip_) return {};
        while (!chunk.empty()) {
            const auto n = ::write(fd_, chunk.data(), chunk.size());
            if (n < 0) return pop3_test::errno_error(errno);
            chunk.remove_prefix(static_cast<std::size_t>(n));
        }
        return {};
    }

    pop3::error_code commit() override
    {
        if (skip_) {
            skip_ = false;
            return {};
        }
        const int fd = fd_;
        fd_ = -1;
        if (::close(fd) != 0) return pop3_test::errno_error(errno);
        const auto final_name = root_ + "/new/" + unique_ + "." + hex_ + ".eml";
        if (::rename(tmp_.c_str(), final_name.c_str()) != 0) return pop3_test::errno_error(errno);
        tmp_.clear();
        return {};
    }

    void abort() noexcept override
    {
        skip_ = false;
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        if (!tmp_.empty()) ::unlink(tmp_.c_str());
        tmp_.clear();
    }

    /// The whole-message form: the same delivery, in one chunk.
    pop3::error_code operator()(const pop3::fetched_message& m)
    {
        pop3::error_code ec = begin({m.number, m.uid, m.bytes.size(), m.maybe_delivered});
        if (!ec) ec = write(m.bytes);
        if (!ec) ec = commit();
        if (ec) abort();
        return ec;
    }

    /// True when new/ has a copy of the UID with this hex.
    bool holds(const std::string& hex) const
    {
        const auto suffix = "." + hex + ".eml";
        for (const auto& name : list_dir(root_ + "/new"))
            if (name.size() > suffix.size() &&
                name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
                return true;
        return false;
    }

    /// Copies per UID hex in new/.
    std::map<std::string, std::vector<std::string>> files() const
    {
        std::map<std::string, std::vector<std::string>> out;
        for (const auto& name : list_dir(root_ + "/new")) {
            const auto end = name.rfind(".eml");
            const auto start = name.rfind('.', end - 1);
            out[name.substr(start + 1, end - start - 1)].push_back(root_ + "/new/" + name);
        }
        return out;
    }

    std::size_t violations() const { return list_dir(root_ + "/violations").size(); }

private:
    std::string root_;
    std::size_t counter_ = 0;
    // The message being delivered.
    std::string hex_;
    std::string unique_;
    std::string tmp_;
    int fd_ = -1;
    bool skip_ = false; ///< maybe_delivered and already held: drop the chunks
};

/// Problems found by `check_stored`; empty when every expected message is stored once.
inline std::vector<std::string> check_stored(const maildir& box,
                                             const std::vector<expected_message>& expected)
{
    std::vector<std::string> problems;
    if (box.violations() != 0)
        problems.push_back(std::to_string(box.violations()) +
                           " unflagged re-deliveries (violations/)");
    auto files = box.files();
    for (const auto& m : expected) {
        const auto hex = uid_to_hex(m.uid);
        const auto it = files.find(hex);
        if (it == files.end()) {
            problems.push_back("message " + std::to_string(m.number) + " (" + m.uid +
                               ") not stored");
            continue;
        }
        if (it->second.size() != 1)
            problems.push_back("message " + std::to_string(m.number) + " stored " +
                               std::to_string(it->second.size()) + " times");
        if (dovecot_env::read_file(it->second.front()) != dovecot_env::read_file(m.path))
            problems.push_back("message " + std::to_string(m.number) + " differs");
        files.erase(it);
    }
    for (const auto& [hex, paths] : files)
        problems.push_back("unexpected stored UID " + hex + " (" + std::to_string(paths.size()) +
                           " files)");
    return problems;
}

/// A logged-in plain-TCP session to `port` (default: the fixture's POP3 port).
struct dovecot_session {
    net::io_context ioc;
    pop3::client<net::ip::tcp::socket> client{ioc};

    explicit dovecot_session(const std::string& user, std::string port = {})
    {
        const auto& env = dovecot_env::get();
        if (port.empty()) port = env.port();
        pop3::timeouts t;
        t.connect = std::chrono::seconds(10);
        t.idle = std::chrono::seconds(20);
        client.set_timeouts(t);
        client.connect(env.host(), port);
        client.login(user, dovecot_env::password(user));
    }
};

/// The UIDs the server holds for `user`, in message-number order.
inline std::vector<std::string> server_uids(const std::string& user)
{
    dovecot_session s(user);
    std::vector<std::string> out;
    for (const auto& m : s.client.uidl()) out.push_back(m.uid);
    s.client.quit();
    return out;
}

} // namespace pop3_test

#endif
