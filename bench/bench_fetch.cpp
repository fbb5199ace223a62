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
#include <pop3/client.hpp>
#if __has_include(<pop3/auth.hpp>)
#include <pop3/auth.hpp>
#define POP3_BENCH_HAVE_AUTH_HPP 1
#endif

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

using tcp = asio::ip::tcp;

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start)
{
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

/// User + system CPU time of this process so far, in seconds.
double cpu_seconds()
{
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    auto sec = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return sec(u.ru_utime) + sec(u.ru_stime);
}

// ---------------------------------------------------------------------------------------
// The Dovecot instance: DIR/env and the manifests of what each mailbox holds
// ---------------------------------------------------------------------------------------
struct server_env {
    std::map<std::string, std::string> values;

    static server_env load(const char* path)
    {
        std::ifstream in(path);
        if (!in) throw std::runtime_error(std::string("cannot read POP3_TEST_ENV file ") + path);
        server_env env;
        std::string line;
        while (std::getline(in, line)) {
            const auto eq = line.find('=');
            if (eq != std::string::npos) env.values[line.substr(0, eq)] = line.substr(eq + 1);
        }
        return env;
    }

    const std::string& get(const std::string& key) const
    {
        const auto it = values.find(key);
        if (it == values.end()) throw std::runtime_error("POP3_TEST_ENV file has no " + key);
        return it->second;
    }
    std::string host() const { return get("POP3_TEST_HOST"); }
    std::string port() const { return get("POP3_TEST_PORT"); }
    static std::string password(const std::string& user) { return "secret-" + user; }

    /// Messages of `user` and the sum of their RETR sizes: the unstuffed bytes without the
    /// terminator, i.e. the sizes of the DIR/expected/<user>/<n>.eml files.
    std::pair<std::uint32_t, std::uint64_t> mailbox(const std::string& user) const
    {
        std::ifstream in(get("POP3_TEST_EXPECTED") + "/" + user + ".tsv");
        if (!in) throw std::runtime_error("no manifest for user " + user);
        std::uint32_t count = 0;
        std::uint64_t bytes = 0;
        std::string line;
        while (std::getline(in, line)) {
            if (line.empty()) continue;
            const auto tab = line.rfind('\t');
            if (tab == std::string::npos) throw std::runtime_error("bad manifest line: " + line);
            bytes += std::filesystem::file_size(line.substr(tab + 1));
            ++count;
        }
        return {count, bytes};
    }
};

// USER/PASS: the same login the raw baseline does by hand. Loopback is not TLS, so
// plaintext must be allowed explicitly where the client has login_options; a client
// without them (USER/PASS only) is called with user and password alone.
template <class Client, class = void>
struct takes_login_options : std::false_type {};
#ifdef POP3_BENCH_HAVE_AUTH_HPP
template <class Client>
struct takes_login_options<Client, std::void_t<decltype(std::declval<Client&>().login(
                                       std::string_view{}, std::string_view{},
                                       std::declval<const pop3::login_options&>()))>>
    : std::true_type {};
#endif

template <class Client>
void login_user_pass(Client& client, const std::string& user, const std::string& password)
{
#ifdef POP3_BENCH_HAVE_AUTH_HPP
    if constexpr (takes_login_options<Client>::value) {
        pop3::login_options options;
        options.method = pop3::auth_method::user;
        options.allow_plaintext = true;
        client.login(user, password, options);
        return;
    }
#endif
    client.login(user, password);
}

// ---------------------------------------------------------------------------------------
// The raw baseline
// ---------------------------------------------------------------------------------------

/// Counts the ends of multi-line responses ("\r\n.\r\n", RFC 1939 section 3) in a stream of
/// RETR responses split at arbitrary points, and the message bytes a client would hand
/// out (status lines, stuffing dots and terminators excluded), so that the baseline can be
/// checked against the same total as the client. Nothing else is parsed.
class terminator_counter {
public:
    std::size_t responses = 0; ///< complete responses (+OK with body, or -ERR)
    std::size_t errors = 0;    ///< -ERR responses among them
    std::uint64_t body_bytes = 0;

    void feed(const char* p, std::size_t n)
    {
        const char* const end = p + n;
        while (p != end) {
            switch (state_) {
            case state::status_start:
                status_ok_ = *p == '+';
                state_ = state::status;
                [[fallthrough]];
            case state::status: {
                const auto* nl = static_cast<const char*>(std::memchr(p, '\n', size(p, end)));
                if (nl == nullptr) return;
                p = nl + 1;
                if (status_ok_) {
                    state_ = state::line_start;
                } else { // -ERR: a single line, no body
                    ++errors;
                    ++responses;
                    state_ = state::status_start;
                }
                break;
            }
            case state::line_start:
                if (*p == '.') {
                    state_ = state::dot;
                    ++p;
                } else {
                    state_ = state::in_line;
                }
                break;
            case state::dot:
                // ".\r" may end the response; any other byte means the dot was stuffing,
                // which the client removes: not counted.
                if (*p == '\r') {
                    state_ = state::dot_cr;
                    ++p;
                } else {
                    state_ = state::in_line;
                }
                break;
            case state::dot_cr:
                if (*p == '\n') { // ".\r\n" at the start of a line: the terminator
                    ++responses;
                    state_ = state::status_start;
                    ++p;
                } else { // "." (stuffing) then a bare CR: the CR is data
                    ++body_bytes;
                    state_ = state::in_line;
                }
                break;
            case state::in_line: {
                const auto* nl = static_cast<const char*>(std::memchr(p, '\n', size(p, end)));
                if (nl == nullptr) {
                    body_bytes += size(p, end);
                    return;
                }
                body_bytes += size(p, nl + 1);
                p = nl + 1;
                state_ = state::line_start;
                break;
            }
            }
        }
    }

    /// True between responses (nothing partial pending).
    bool between_responses() const noexcept { return state_ == state::status_start; }

private:
    enum class state { status_start, status, line_start, dot, dot_cr, in_line };
    static std::size_t size(const char* from, const char* to)
    {
        return static_cast<std::size_t>(to - from);
    }
    state state_ = state::status_start;
    bool status_ok_ = false;
};

constexpr std::size_t raw_read_size = 64 * 1024; // the client reads 64 KiB at a time too

struct raw_session {
    tcp::socket socket;
    std::vector<char> buffer = std::vector<char>(raw_read_size);
    std::string pending; // bytes received after the last login reply

    raw_session(asio::io_context& ioc, const server_env& env, const std::string& user)
        : socket(ioc)
    {
        tcp::resolver resolver(ioc);
        asio::connect(socket, resolver.resolve(env.host(), env.port()));
        socket.set_option(tcp::no_delay(true)); // as the client does
        // Bounded: a stuck server fails the read instead of hanging the benchmark.
        timeval tv{60, 0};
        ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        expect_ok(read_line(), "greeting");
        write("USER " + user + "\r\n");
        expect_ok(read_line(), "USER");
        write("PASS " + server_env::password(user) + "\r\n");
        expect_ok(read_line(), "PASS");
    }

    void write(const std::string& bytes) { asio::write(socket, asio::buffer(bytes)); }

    std::size_t read_some() { return socket.read_some(asio::buffer(buffer)); }

    std::string read_line()
    {
        while (true) {
            const auto nl = pending.find('\n');
            if (nl != std::string::npos) {
                auto line = pending.substr(0, nl + 1);
                pending.erase(0, nl + 1);
                return line;
            }
            const auto n = read_some();
            pending.append(buffer.data(), n);
        }
    }

    static void expect_ok(const std::string& line, const char* what)
    {
        if (line.compare(0, 3, "+OK") != 0)
            throw std::runtime_error(std::string("raw baseline: ") + what + " refused: " + line);
    }

    void quit()
    {
        pop3::error_code ignored;
        asio::write(socket, asio::buffer(std::string_view("QUIT\r\n")), ignored);
        socket.shutdown(tcp::socket::shutdown_both, ignored);
        socket.close(ignored);
    }
};

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
                static_cast<double>(bytes) / 1e6 / seconds, baseline, peak, rss_before,
                rss_after,
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

// ---------------------------------------------------------------------------------------
// Without POP3_TEST_ENV: let the script start a Dovecot and run us again
// ---------------------------------------------------------------------------------------
int exec_script(int argc, char** argv)
{
#ifndef POP3_SOURCE_DIR
    (void)argc;
    (void)argv;
    std::fprintf(stderr, "bench_fetch: POP3_TEST_ENV is not set; run bench/run_fetch_bench.sh\n");
    return 2;
#else
    const std::string script = std::string(POP3_SOURCE_DIR) + "/bench/run_fetch_bench.sh";
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) {
        std::fprintf(stderr, "bench_fetch: cannot find my own path: %s\n", ec.message().c_str());
        return 2;
    }
    std::string self_path = self.string();
    std::string bash = "bash";
    std::vector<char*> args{bash.data(), const_cast<char*>(script.c_str()), self_path.data()};
    for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
    args.push_back(nullptr);
    std::printf("bench_fetch: POP3_TEST_ENV is not set: running %s\n", script.c_str());
    std::fflush(stdout);
    ::execvp("bash", args.data());
    std::fprintf(stderr, "bench_fetch: cannot run bash %s: %s\n", script.c_str(),
                 std::strerror(errno));
    return 2;
#endif
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    const auto mid = v.size() / 2;
    return v.size() % 2 != 0 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
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
            return exec_script(argc, argv);
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
