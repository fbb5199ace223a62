// Fault injection for leave-on-server against the real Dovecot, user "keep" (50 messages):
//
//  1. a loopback TCP proxy of our own between client and Dovecot cuts the connection
//     (FIN or RST) after N bytes in one direction, at offsets spread over the whole
//     session, for keep_forever and delete_after_fetch;
//  2. a child process running fetch_new is killed with SIGKILL after a random delay
//     (inside RETR, delivery, a journal append, a compaction, DELE, QUIT, ...).
//
// fetch_new runs with the streaming delivery (pop3::message_delivery: each message is
// written chunk by chunk into tmp/, then renamed into new/), the path pop3-fetch uses.
//
// After each fault: rerun (no fault) until a run succeeds, then check that every message
// is stored exactly once and byte-identical, that nothing was ever delivered twice
// without the maybe_delivered flag, and that the server holds exactly what the policy
// says. Number of faults: $POP3_FAULTS (default 40; the full run is POP3_FAULTS=250),
// split 60/40 between cuts and kills. Seed: $POP3_FAULT_SEED. Only 127.0.0.1; every
// thread and process started here is stopped by handle or PID.
#include "../catch.hpp"
#include "leave_on_server_support.hpp"
#include "test_temp_dir.hpp"

#include <pop3/leave_on_server.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

using pop3::leave_policy;
using pop3_test::dovecot_env;
using pop3_test::dovecot_session;
using pop3_test::maildir;
using pop3_test::server_uids;
using clock_type = std::chrono::steady_clock;

namespace {

// ---------------------------------------------------------------------------------------
// The cutting proxy
// ---------------------------------------------------------------------------------------

/// Forwards one connection at a time from 127.0.0.1:port() to 127.0.0.1:upstream. When
/// armed, the next connection dies after exactly `bytes` bytes in the chosen direction:
/// those bytes are forwarded, then both sockets are closed (with RST if asked).
class cutting_proxy {
public:
    explicit cutting_proxy(int upstream_port) : upstream_port_(upstream_port)
    {
        listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(listener_ >= 0);
        const int one = 1;
        ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr = loopback(0);
        REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(::listen(listener_, 8) == 0);
        socklen_t len = sizeof addr;
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { run(); });
    }

    ~cutting_proxy()
    {
        stop_ = true;
        thread_.join();
        ::close(listener_);
    }

    std::string port() const { return std::to_string(port_); }

    /// The next connection is cut after `bytes` bytes client->server (or server->client).
    void arm(bool client_to_server, std::size_t bytes, bool reset)
    {
        std::lock_guard<std::mutex> lock(mutex_);
        armed_ = true;
        c2s_ = client_to_server;
        cut_at_ = bytes;
        reset_ = reset;
        fired_ = false;
    }

    bool fired() const
    {
        std::lock_guard<std::mutex> lock(mutex_);
        return fired_;
    }

    /// Bytes of the last finished connection: {client->server, server->client}.
    std::pair<std::size_t, std::size_t> totals() const
    {
        std::lock_guard<std::mutex> lock(mutex_);
        return totals_;
    }

    /// Connections finished so far.
    std::size_t finished() const
    {
        std::lock_guard<std::mutex> lock(mutex_);
        return finished_;
    }

private:
    static sockaddr_in loopback(int port)
    {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<std::uint16_t>(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return addr;
    }

    static bool write_all(int fd, const char* data, std::size_t size)
    {
        while (size > 0) {
            const auto n = ::send(fd, data, size, MSG_NOSIGNAL);
            if (n <= 0) return false;
            data += n;
            size -= static_cast<std::size_t>(n);
        }
        return true;
    }

    void run()
    {
        while (!stop_) {
            pollfd p{listener_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
            if (client < 0) continue;
            const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in addr = loopback(upstream_port_);
            if (server < 0 ||
                ::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
                ::close(client);
                if (server >= 0) ::close(server);
                continue;
            }
            serve(client, server);
        }
    }

    void serve(int client, int server)
    {
        bool armed, c2s, reset;
        std::size_t cut_at;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            armed = armed_;
            armed_ = false;
            c2s = c2s_;
            cut_at = cut_at_;
            reset = reset_;
        }
        std::size_t count[2] = {0, 0}; // [0] client->server, [1] server->client
        std::vector<char> buffer(1 << 16);
        bool cut = false;
        while (!stop_ && !cut) {
            pollfd p[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
            if (::poll(p, 2, 50) <= 0) continue;
            bool closed = false;
            for (int side = 0; side < 2 && !closed && !cut; ++side) {
                if ((p[side].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
                const int from = side == 0 ? client : server;
                const int to = side == 0 ? server : client;
                const auto n = ::recv(from, buffer.data(), buffer.size(), 0);
                if (n <= 0) {
                    closed = true;
                    break;
                }
                auto size = static_cast<std::size_t>(n);
                if (armed && (side == 0) == c2s && count[side] + size >= cut_at) {
                    size = cut_at - count[side];
                    cut = true;
                }
                if (!write_all(to, buffer.data(), size)) closed = true;
                count[side] += size;
            }
            if (closed) break;
        }
        if (cut && reset) {
            const linger hard{1, 0}; // close() sends RST
            ::setsockopt(client, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
            ::setsockopt(server, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
        }
        ::close(client);
        ::close(server);
        std::lock_guard<std::mutex> lock(mutex_);
        if (cut) fired_ = true;
        totals_ = {count[0], count[1]};
        ++finished_;
    }

    int upstream_port_;
    int listener_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    mutable std::mutex mutex_;
    bool armed_ = false;
    bool c2s_ = false;
    std::size_t cut_at_ = 0;
    bool reset_ = false;
    bool fired_ = false;
    std::size_t finished_ = 0;
    std::pair<std::size_t, std::size_t> totals_{0, 0};
};

// ---------------------------------------------------------------------------------------
// Runs and checks
// ---------------------------------------------------------------------------------------

/// A small compaction threshold, so that faults also land inside compactions.
pop3::file_store_options store_options()
{
    pop3::file_store_options o;
    o.compact_min_bytes = 2048;
    return o;
}

/// One fetch_new run; any error (connect, login, store, session) is returned. The
/// messages stream into the Maildir (`box` is a pop3::message_delivery), as in pop3-fetch.
pop3::error_code run_once(const std::string& store_path, maildir& box, const leave_policy& policy,
                          const std::string& port = {})
{
    try {
        pop3::file_uid_store store(store_path, store_options());
        dovecot_session s("keep", port);
        pop3::error_code ec;
        pop3::fetch_new(s.client, store, policy, box, pop3::fetch_options{}, ec);
        return ec;
    } catch (const pop3::system_error& e) {
        return e.code();
    }
}

/// Reruns without faults until a run succeeds (bounded). True on success.
bool rerun_until_done(const std::string& store_path, maildir& box, const leave_policy& policy)
{
    for (int attempt = 0; attempt < 5; ++attempt) {
        const auto ec = run_once(store_path, box, policy);
        if (!ec) return true;
        UNSCOPED_INFO("rerun " << attempt << " failed: " << ec.message());
    }
    return false;
}

/// Every message gone from the server must be stored locally.
bool nothing_lost(const maildir& box, const std::vector<pop3_test::expected_message>& expected)
{
    const auto on_server = server_uids("keep");
    for (const auto& m : expected) {
        if (std::find(on_server.begin(), on_server.end(), m.uid) != on_server.end()) continue;
        if (!box.holds(pop3_test::uid_to_hex(m.uid))) return false;
    }
    return true;
}

/// The final state: stored exactly once, byte-identical; the server as the policy says.
bool verify(const maildir& box, const std::vector<pop3_test::expected_message>& expected,
            bool deletes)
{
    auto problems = pop3_test::check_stored(box, expected);
    const auto on_server = server_uids("keep");
    std::vector<std::string> want;
    if (!deletes)
        for (const auto& m : expected) want.push_back(m.uid);
    if (on_server != want)
        problems.push_back("the server holds " + std::to_string(on_server.size()) +
                           " messages, the policy says " + std::to_string(want.size()));
    for (const auto& p : problems) UNSCOPED_INFO(p);
    return problems.empty();
}

std::size_t env_number(const char* name, std::size_t fallback)
{
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return fallback;
    return static_cast<std::size_t>(std::strtoull(v, nullptr, 10));
}

struct tally {
    std::size_t injected = 0;
    std::size_t survived = 0;
};

} // namespace

TEST_CASE("fault injection: connection cuts and SIGKILL, then reruns: nothing lost or doubled")
{
    const auto& env = dovecot_env::get();
    const auto expected = env.mailbox("keep");
    REQUIRE(expected.size() == 50);
    const auto faults = std::max<std::size_t>(env_number("POP3_FAULTS", 40), 2);
    const auto seed = env_number("POP3_FAULT_SEED", 20240605);
    const auto cut_target = faults - faults * 2 / 5;
    const auto kill_target = faults * 2 / 5;
    std::mt19937_64 rng(seed);
    std::printf("fault injection: %zu faults (%zu cuts, %zu kills), seed %zu\n", faults, cut_target,
                kill_target, seed);
    const auto started = clock_type::now();

    tally cuts, kills;

    // ---- 1. connection cuts --------------------------------------------------------------
    {
        cutting_proxy proxy(std::stoi(env.port()));
        // The bytes of a clean session each way, per policy (delete sends DELEs).
        std::pair<std::size_t, std::size_t> size[2];
        for (int deletes = 0; deletes < 2; ++deletes) {
            env.reset("keep");
            pop3_test::temp_dir dir;
            maildir box(dir.path + "/Maildir");
            const auto policy =
                deletes ? leave_policy::delete_after_fetch() : leave_policy::keep_forever();
            const auto before = proxy.finished();
            REQUIRE_FALSE(run_once(dir.path + "/keep.uids", box, policy, proxy.port()));
            for (int i = 0; i < 200 && proxy.finished() == before; ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            size[deletes] = proxy.totals();
            REQUIRE(verify(box, expected, deletes != 0));
        }
        std::printf("clean session bytes: keep %zu/%zu, delete %zu/%zu (client/server)\n",
                    size[0].first, size[0].second, size[1].first, size[1].second);
        REQUIRE(size[0].second > 100000);

        env.reset("keep");
        bool mailbox_full = true;
        for (std::size_t k = 0; cuts.injected < cut_target && k < 3 * cut_target; ++k) {
            // First half keep_forever (the mailbox stays full), second half delete.
            const bool deletes = k >= cut_target / 2;
            const bool c2s = k % 2 == 0;
            const bool reset = k % 3 == 0;
            const auto total = c2s ? size[deletes].first : size[deletes].second;
            // Offsets spread evenly (golden-ratio sequence) over [0, total).
            const double f = std::fmod(0.5 + static_cast<double>(k) * 0.6180339887498949, 1.0);
            const auto offset = static_cast<std::size_t>(f * static_cast<double>(total));
            if (!mailbox_full) env.reset("keep");
            const auto policy =
                deletes ? leave_policy::delete_after_fetch() : leave_policy::keep_forever();
            INFO("cut " << k << ": " << (c2s ? "client->server" : "server->client") << " after "
                        << offset << " of " << total << " bytes, "
                        << (deletes ? "delete_after_fetch" : "keep_forever")
                        << (reset ? ", RST" : ", FIN"));
            pop3_test::temp_dir dir;
            maildir box(dir.path + "/Maildir");
            const auto store_path = dir.path + "/keep.uids";
            proxy.arm(c2s, offset, reset);
            const auto ec = run_once(store_path, box, policy, proxy.port());
            for (int i = 0; i < 100 && !proxy.fired() && ec; ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            const bool fired = proxy.fired();
            CHECK(nothing_lost(box, expected));
            const bool ok =
                rerun_until_done(store_path, box, policy) && verify(box, expected, deletes);
            CHECK(ok);
            mailbox_full = !deletes;
            if (fired) {
                ++cuts.injected;
                if (ok) ++cuts.survived;
            }
        }
    }

    // ---- 2. SIGKILL at random points -----------------------------------------------------
    {
        // Runs fetch_new in a child; returns its PID.
        const auto spawn = [&](const std::string& store_path, maildir& box,
                               const leave_policy& policy) {
            std::fflush(stdout);
            const pid_t pid = ::fork();
            REQUIRE(pid >= 0);
            if (pid == 0) ::_exit(run_once(store_path, box, policy) ? 1 : 0);
            return pid;
        };
        // How long a whole run takes, to spread the kills over it.
        env.reset("keep");
        clock_type::duration run_time{};
        {
            pop3_test::temp_dir dir;
            maildir box(dir.path + "/Maildir");
            const auto t = clock_type::now();
            const pid_t pid =
                spawn(dir.path + "/keep.uids", box, leave_policy::delete_after_fetch());
            int status = 0;
            REQUIRE(::waitpid(pid, &status, 0) == pid);
            run_time = clock_type::now() - t;
            REQUIRE(WIFEXITED(status));
            REQUIRE(WEXITSTATUS(status) == 0);
            REQUIRE(verify(box, expected, true));
        }
        const auto run_us = std::chrono::duration_cast<std::chrono::microseconds>(run_time).count();
        std::printf("clean run in a child: %lld ms\n", static_cast<long long>(run_us / 1000));

        for (std::size_t k = 0; kills.injected < kill_target && k < 3 * kill_target; ++k) {
            const bool deletes = k % 4 != 3; // deleting is where losing mail is possible
            env.reset("keep");
            const auto policy =
                deletes ? leave_policy::delete_after_fetch() : leave_policy::keep_forever();
            pop3_test::temp_dir dir;
            maildir box(dir.path + "/Maildir");
            const auto store_path = dir.path + "/keep.uids";
            std::size_t killed = 0;
            // Up to three kills in a row before the clean rerun: crashes during recovery.
            const auto in_a_row = 1 + rng() % 3;
            for (std::size_t i = 0; i < in_a_row; ++i) {
                const auto delay = std::chrono::microseconds(static_cast<long long>(
                    rng() % static_cast<std::uint64_t>(run_us + run_us / 10 + 1)));
                const pid_t pid = spawn(store_path, box, policy);
                std::this_thread::sleep_for(delay);
                ::kill(pid, SIGKILL);
                int status = 0;
                REQUIRE(::waitpid(pid, &status, 0) == pid);
                if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ++killed;
            }
            INFO("kill round " << k << ": " << killed << " kills, "
                               << (deletes ? "delete_after_fetch" : "keep_forever"));
            CHECK(nothing_lost(box, expected));
            const bool ok =
                rerun_until_done(store_path, box, policy) && verify(box, expected, deletes);
            CHECK(ok);
            kills.injected += killed;
            if (ok) kills.survived += killed;
        }
        env.reset("keep");
    }

    const auto seconds =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - started).count();
    std::printf("connection cuts injected: %zu, survived: %zu\n", cuts.injected, cuts.survived);
    std::printf("SIGKILLs injected: %zu, survived: %zu\n", kills.injected, kills.survived);
    std::printf("faults injected: %zu, survived: %zu (%lld ms)\n", cuts.injected + kills.injected,
                cuts.survived + kills.survived, static_cast<long long>(seconds));
    CHECK(cuts.injected >= cut_target * 9 / 10);
    CHECK(kills.injected >= kill_target * 9 / 10);
    CHECK(cuts.survived == cuts.injected);
    CHECK(kills.survived == kills.injected);
}
