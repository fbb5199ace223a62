// bench_fetch: end-to-end RETR throughput against a real Dovecot on loopback (issue 3).
//
// User `bench` (1,000 messages of ~10 KB), RETR of every message without DELE, three ways,
// interleaved inside each round (so a noisy neighbour hits all of them alike), median of
// 5 rounds each after one untimed warm-up round. Connect and login are outside the clock:
// only the fetch phase is timed.
//
//   fetch_pipelined_s     client.retr_many(1..1000, handler); Dovecot advertises PIPELINING
//                         after login, so the client pipelines
//   fetch_sequential_s    client.retr(n, sink) for n = 1..1000, one at a time
//   fetch_raw_baseline_s  a bare asio socket: USER/PASS by hand, then all 1,000 "RETR n"
//                         in one write, read until the 1,000th terminator (a minimal state
//                         machine; the floor for any client)
//   fetch_vs_raw          fetch_pipelined_s / fetch_raw_baseline_s (target <= 1.2)
//
// Then, in a fresh process (this binary re-executed with --rss-child, so that nothing
// allocated by the rounds above is counted), user `big`'s ~50 MB message with
// retr(1, sink) and a sink that only counts bytes:
//
//   retr_50mb_peak_rss_over_baseline_mib  VmHWM after the RETR minus VmHWM right before it
//                                         (the high-water mark is reset first through
//                                         /proc/self/clear_refs) (target < 8)
//   retr_50mb_s                           that RETR's wall time, for information
//
// Output: informational lines (best and worst times, this process's CPU time per fetch,
// the ratio of the bests), then "METRIC <name> <value>" lines. Not a pass/fail test:
// exits 0 unless a fetch fails or the three ways disagree on the message bytes (each must
// equal the sum of the sizes in Dovecot's DIR/expected/<user>.tsv manifest), then 1.
//
// Usage: bench_fetch [rounds, default 5]
//   with POP3_TEST_ENV=DIR/env (written by tests/integration/dovecot.sh start DIR); without
//   it, bench_fetch runs `bash <source>/bench/run_fetch_bench.sh <itself>`, which starts
//   (and stops) a Dovecot of its own and runs bench_fetch again with POP3_TEST_ENV set.
//   Linux only (/proc, fork); starting Dovecot needs root.
#include "bench_support.hpp"

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/write.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using namespace pop3_bench;

// ---------------------------------------------------------------------------------------
// The raw baseline
// ---------------------------------------------------------------------------------------
struct fetch_result {
    double seconds = 0;
    double cpu = 0; ///< CPU seconds of this process: what the client itself costs
    std::size_t messages = 0;
    std::size_t errors = 0;
    std::uint64_t bytes = 0;
};

fetch_result fetch_raw(asio::io_context& ioc, const server_env& env, std::uint32_t count)
{
    raw_session s(ioc, env, "bench");
    terminator_counter counter;
    fetch_result r;
    const double cpu_start = cpu_seconds();
    const auto start = clock_type::now();
    std::string commands;
    commands.reserve(std::size_t{count} * 12);
    for (std::uint32_t n = 1; n <= count; ++n) {
        commands += "RETR ";
        commands += std::to_string(n);
        commands += "\r\n";
    }
    s.write(commands);
    // The first response starts right after the PASS reply: anything read with it counts.
    if (!s.pending.empty()) counter.feed(s.pending.data(), s.pending.size());
    while (counter.responses < count) {
        const auto n = s.read_some();
        counter.feed(s.buffer.data(), n);
    }
    r.seconds = seconds_since(start);
    r.cpu = cpu_seconds() - cpu_start;
    if (!counter.between_responses())
        throw std::runtime_error("raw baseline: bytes after the last terminator");
    r.messages = counter.responses;
    r.errors = counter.errors;
    r.bytes = counter.body_bytes;
    s.quit();
    return r;
}

// ---------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------
struct client_session {
    pop3::client<tcp::socket> client;

    client_session(asio::io_context& ioc, const server_env& env, const std::string& user)
        : client(ioc)
    {
        client.connect(env.host(), env.port());
        login_user_pass(client, user, server_env::password(user));
    }

    void quit()
    {
        pop3::error_code ignored;
        client.quit(ignored);
    }
};

bool g_warned_pipelining = false;

fetch_result fetch_pipelined(asio::io_context& ioc, const server_env& env, std::uint32_t count)
{
    client_session s(ioc, env, "bench");
    if (!s.client.capabilities().pipelining && !g_warned_pipelining) {
        g_warned_pipelining = true;
        std::printf("warning: the server does not advertise PIPELINING after login: "
                    "retr_many runs one command at a time\n");
    }
    std::vector<pop3::message_number> numbers(count);
    for (std::uint32_t i = 0; i < count; ++i) numbers[i] = i + 1;
    fetch_result r;
    const double cpu_start = cpu_seconds();
    const auto start = clock_type::now();
    s.client.retr_many(std::move(numbers), [&r](const pop3::message_part& part) {
        if (part.end) {
            ++r.messages;
            if (part.error) ++r.errors;
        } else {
            r.bytes += part.data.size();
        }
    });
    r.seconds = seconds_since(start);
    r.cpu = cpu_seconds() - cpu_start;
    s.quit();
    return r;
}

fetch_result fetch_sequential(asio::io_context& ioc, const server_env& env, std::uint32_t count)
{
    client_session s(ioc, env, "bench");
    fetch_result r;
    const double cpu_start = cpu_seconds();
    const auto start = clock_type::now();
    for (pop3::message_number n = 1; n <= count; ++n) {
        s.client.retr(n, [&r](std::string_view chunk) { r.bytes += chunk.size(); });
        ++r.messages;
    }
    r.seconds = seconds_since(start);
    r.cpu = cpu_seconds() - cpu_start;
    s.quit();
    return r;
}

// ---------------------------------------------------------------------------------------
// Peak memory of one 50 MB RETR (run in a fresh process: --rss-child)
// ---------------------------------------------------------------------------------------

/// A "VmXXX:   N kB" field of /proc/self/status, in KiB; -1 if absent. Reads into a
/// stack buffer: no heap allocation while measuring.
long proc_status_kib(const char* field)
{
    char text[8192];
    const int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    std::size_t len = 0;
    while (len < sizeof text - 1) {
        const auto n = ::read(fd, text + len, sizeof text - 1 - len);
        if (n <= 0) break;
        len += static_cast<std::size_t>(n);
    }
    ::close(fd);
    text[len] = '\0';
    const char* at = std::strstr(text, field);
    if (at == nullptr) return -1;
    return std::strtol(at + std::strlen(field) + 1, nullptr, 10); // skips "field:"
}

/// Resets VmHWM to the current RSS (Linux >= 4.0). False if the kernel refused.
bool reset_peak_rss()
{
    const int fd = ::open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = ::write(fd, "5", 1) == 1;
    ::close(fd);
    return ok;
}

int rss_child(const server_env& env)
{
    const auto [count, expected] = env.mailbox("big");
    if (count != 1) throw std::runtime_error("user big should have exactly one message");
    asio::io_context ioc;
    client_session s(ioc, env, "big");
    std::uint64_t bytes = 0;
    auto sink = [&bytes](std::string_view chunk) { bytes += chunk.size(); };

    const bool reset = reset_peak_rss();
    const long rss_before = proc_status_kib("VmRSS");
    const long baseline = proc_status_kib("VmHWM");
    const auto start = clock_type::now();
    s.client.retr(1, sink);
    const double seconds = seconds_since(start);
    const long peak = proc_status_kib("VmHWM");
    const long rss_after = proc_status_kib("VmRSS");
    s.quit();

    if (baseline < 0 || peak < 0) throw std::runtime_error("no VmHWM in /proc/self/status");
    std::printf("retr 50 MB: %llu bytes in %.3f s (%.1f MB/s); VmHWM %ld -> %ld KiB, VmRSS "
                "%ld -> %ld KiB%s\n",
                static_cast<unsigned long long>(bytes), seconds,
                static_cast<double>(bytes) / 1e6 / seconds, baseline, peak, rss_before, rss_after,
                reset ? "" : " (clear_refs refused: baseline is the process's earlier peak)");
    std::printf("METRIC retr_50mb_peak_rss_over_baseline_mib %.2f\n",
                static_cast<double>(peak - baseline) / 1024.0);
    std::printf("METRIC retr_50mb_s %.3f\n", seconds);
    if (bytes != expected) {
        std::fprintf(stderr, "bench_fetch: big: received %llu bytes, expected %llu\n",
                     static_cast<unsigned long long>(bytes),
                     static_cast<unsigned long long>(expected));
        return 1;
    }
    return 0;
}

/// Runs this binary again with --rss-child; returns its exit status.
int run_rss_child()
{
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = ::fork();
    if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
    if (pid == 0) {
        char self[] = "/proc/self/exe";
        char flag[] = "--rss-child";
        char* args[] = {self, flag, nullptr};
        ::execv(self, args);
        std::perror("bench_fetch: exec /proc/self/exe");
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "waitpid");
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    std::fprintf(stderr, "bench_fetch: --rss-child died with signal %d\n", WTERMSIG(status));
    return 1;
}

int run_fetch_rounds(const server_env& env, int rounds)
{
    // Plain variables: C++17 lambdas cannot capture structured bindings.
    const auto manifest = env.mailbox("bench");
    const std::uint32_t count = manifest.first;
    const std::uint64_t expected = manifest.second;
    if (count == 0) throw std::runtime_error("user bench has no messages");
    std::printf("mailbox bench: %u messages, %llu bytes as RETR delivers them\n", count,
                static_cast<unsigned long long>(expected));

    asio::io_context ioc;
    enum way { pipelined, sequential, raw, ways };
    const char* const names[ways] = {"pipelined", "sequential", "raw"};
    auto fetch = [&](int w) {
        switch (w) {
        case pipelined: return fetch_pipelined(ioc, env, count);
        case sequential: return fetch_sequential(ioc, env, count);
        default: return fetch_raw(ioc, env, count);
        }
    };

    bool correct = true;
    auto check = [&](int w, const fetch_result& r) {
        if (r.messages != count || r.errors != 0 || r.bytes != expected) {
            std::fprintf(stderr,
                         "bench_fetch: %s: %zu messages (%zu failed), %llu bytes; expected %u "
                         "messages, %llu bytes\n",
                         names[w], r.messages, r.errors, static_cast<unsigned long long>(r.bytes),
                         count, static_cast<unsigned long long>(expected));
            correct = false;
        }
    };

    // Warm-up: Dovecot builds its index and size cache on the first session; the page
    // cache fills.
    for (int w = 0; w < ways; ++w) check(w, fetch(w));

    std::vector<double> times[ways];
    std::vector<double> cpu[ways];
    for (int i = 0; i < rounds; ++i) {
        for (int k = 0; k < ways; ++k) {
            const int w = (i + k) % ways; // rotate who goes first
            const auto r = fetch(w);
            check(w, r);
            times[w].push_back(r.seconds);
            cpu[w].push_back(r.cpu);
        }
    }

    double med[ways];
    for (int w = 0; w < ways; ++w) {
        med[w] = median(times[w]);
        std::printf("%-10s median %.4f s, best %.4f s, worst %.4f s (%.1f MB/s median); "
                    "client CPU median %.4f s\n",
                    names[w], med[w], *std::min_element(times[w].begin(), times[w].end()),
                    *std::max_element(times[w].begin(), times[w].end()),
                    static_cast<double>(expected) / 1e6 / med[w], median(cpu[w]));
    }
    std::printf("pipelined / raw: %.3f by medians, %.3f by bests\n", med[pipelined] / med[raw],
                *std::min_element(times[pipelined].begin(), times[pipelined].end()) /
                    *std::min_element(times[raw].begin(), times[raw].end()));
    std::printf("METRIC fetch_pipelined_s %.4f\n", med[pipelined]);
    std::printf("METRIC fetch_sequential_s %.4f\n", med[sequential]);
    std::printf("METRIC fetch_raw_baseline_s %.4f\n", med[raw]);
    std::printf("METRIC fetch_vs_raw %.3f\n", med[pipelined] / med[raw]);
    if (!correct) {
        std::fprintf(stderr, "bench_fetch: the three ways did not fetch the same bytes\n");
        return 1;
    }
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    // Line by line, so that what ran shows even when a timeout ends the benchmark.
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    try {
        const bool child = argc > 1 && std::string_view(argv[1]) == "--rss-child";
        const char* env_path = std::getenv("POP3_TEST_ENV");
        if (env_path == nullptr || *env_path == '\0') {
            if (child) {
                std::fprintf(stderr, "bench_fetch: --rss-child needs POP3_TEST_ENV\n");
                return 2;
            }
            return exec_script(argc, argv, "bench_fetch");
        }
        const auto env = server_env::load(env_path);
        if (child) return rss_child(env);

        const int rounds = argc > 1 ? std::atoi(argv[1]) : 5;
        if (rounds <= 0) {
            std::fprintf(stderr, "usage: %s [rounds >= 1]\n", argv[0]);
            return 2;
        }
        const int fetch_rc = run_fetch_rounds(env, rounds);
        const int rss_rc = run_rss_child();
        return fetch_rc != 0 ? fetch_rc : rss_rc;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_fetch: %s\n", e.what());
        return 1;
    }
}
