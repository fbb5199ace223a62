// bench_support.hpp: what the Dovecot benchmarks (bench_fetch, bench_latency) share: the
// server's POP3_TEST_ENV file and mailbox manifests, USER/PASS login through the client,
// the raw pipelined baseline's socket and response counter, and the hand-over to
// run_fetch_bench.sh when no Dovecot is running yet.
#ifndef POP3_BENCH_SUPPORT_HPP
#define POP3_BENCH_SUPPORT_HPP

#include <pop3/client.hpp>
#if __has_include(<pop3/auth.hpp>)
#include <pop3/auth.hpp>
#define POP3_BENCH_HAVE_AUTH_HPP 1
#endif

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/write.hpp>

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
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

namespace pop3_bench {

using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

inline double seconds_since(clock_type::time_point start)
{
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

/// User + system CPU time of this process so far, in seconds.
inline double cpu_seconds()
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
template <class Client, class = void> struct takes_login_options : std::false_type {
};
#ifdef POP3_BENCH_HAVE_AUTH_HPP
template <class Client>
struct takes_login_options<Client, std::void_t<decltype(std::declval<Client&>().login(
                                       std::string_view{}, std::string_view{},
                                       std::declval<const pop3::login_options&>()))>>
    : std::true_type {
};
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
        : raw_session(ioc, env.host(), env.port(), user)
    {
    }

    raw_session(asio::io_context& ioc, const std::string& host, const std::string& port,
                const std::string& user)
        : socket(ioc)
    {
        tcp::resolver resolver(ioc);
        asio::connect(socket, resolver.resolve(host, port));
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

// ---------------------------------------------------------------------------------------
// Without POP3_TEST_ENV: let the script start a Dovecot and run us again
// ---------------------------------------------------------------------------------------
/// Without POP3_TEST_ENV: runs `bash <source>/bench/run_fetch_bench.sh <this binary> ARGS`,
/// which starts a throw-away Dovecot and runs this binary again with POP3_TEST_ENV set.
/// Returns only on failure. `name` is the benchmark's name, for messages.
inline int exec_script(int argc, char** argv, const char* name)
{
#ifndef POP3_SOURCE_DIR
    (void)argc;
    (void)argv;
    std::fprintf(stderr, "%s: POP3_TEST_ENV is not set; run bench/run_fetch_bench.sh\n", name);
    return 2;
#else
    const std::string script = std::string(POP3_SOURCE_DIR) + "/bench/run_fetch_bench.sh";
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) {
        std::fprintf(stderr, "%s: cannot find my own path: %s\n", name, ec.message().c_str());
        return 2;
    }
    std::string self_path = self.string();
    std::string bash = "bash";
    std::vector<char*> args{bash.data(), const_cast<char*>(script.c_str()), self_path.data()};
    for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
    args.push_back(nullptr);
    std::printf("%s: POP3_TEST_ENV is not set: running %s\n", name, script.c_str());
    std::fflush(stdout);
    ::execvp("bash", args.data());
    std::fprintf(stderr, "%s: cannot run bash %s: %s\n", name, script.c_str(),
                 std::strerror(errno));
    return 2;
#endif
}

inline double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    const auto mid = v.size() / 2;
    return v.size() % 2 != 0 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}
} // namespace pop3_bench

#endif // POP3_BENCH_SUPPORT_HPP
