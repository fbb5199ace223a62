// bench_latency: the same mailbox fetched over a slow network by this library and by the
// clients a user would pick instead (issue 12, items 1 and 2).
//
// The network is bench/delay_proxy between the client and a throw-away Dovecot on
// 127.0.0.1, adding RTT/2 each way (RTT 0, 20 and 50 ms). Mailboxes, written into Dovecot's
// tree for two users of our own (appended to its passwd-file): lat10k, 200 x 10 KB, and
// lat5m, 20 x 5 MB (at the RTTs of --big-rtt, default all three). Each client runs one whole
// session, connect to QUIT, logging in with USER/PASS over plain TCP (the peers' common
// ground), without deleting anything:
//
//   library      pop3::client: connect, login, STAT, retr_many(1..N) (pipelined once the
//                server advertises PIPELINING, as Dovecot does after login), QUIT
//   fetch_new    pop3::fetch_new (the leave-on-server path pop3-fetch takes: UIDL, RETRs,
//                store records) with a memory_uid_store and a delivery that only counts
//   pop3-fetch   examples/pop3_fetch end to end, --keep, into a fresh Maildir (fsync per
//                message) with a fresh state file; skipped when built without examples
//   raw          a bare socket: USER, PASS, then every "RETR n" in one write, read to the
//                N-th terminator, QUIT (the floor for any client)
//   poplib       python3's poplib, one RETR at a time (bench/poplib_fetch.py; its own clock,
//                so the interpreter's start-up is not counted)
//   curl         one `curl -K` run with one pop3:// URL per message (curl reuses the
//                connection where it can)
//   mpop         a generated mpoprc: keep on, a fresh UID file, delivery into a fresh
//                Maildir; pipelining is mpop's default (auto)
//
// The library and raw sessions are timed in-process (connect to QUIT's reply); pop3-fetch,
// curl and mpop as child processes (fork to exit). A missing peer program is skipped,
// saying so. Every child runs under a time limit and is stopped by PID; so are the proxies.
//
// Round trips: delay_proxy counts, per connection, the client's turns (the client->server
// direction going from idle to sending after a server reply; see delay_proxy.cpp). The
// table shows them from the 50 ms runs; session_round_trips is one library session with
// STLS and SCRAM-SHA-256 (connect, STLS, SCRAM login, STAT, retr_many of all, QUIT) through
// the 50 ms proxy: its turns plus one for the connection itself (TCP handshake, greeting).
//
// Output: a table (mailbox, peer, RTT, seconds, peer / library, turns) and METRIC lines:
//   proxy_overhead_0ms        raw through the 0 ms proxy / raw direct, 10 KB mailbox (medians
//                             of 5; the 5 MB mailbox's ratio is printed for information)
//   rtt20_vs_poplib, rtt20_vs_curl, rtt20_vs_mpop   peer time / library time, 10 KB mailbox
//   rtt20_vs_raw              library time / raw time
//   rtt20_fetch_new_vs_raw    fetch_new time / raw time
//   rtt20_fetch_maildir_vs_mpop  mpop time / pop3-fetch time, both into a Maildir
//   rtt50_*                   the same at 50 ms
//   session_round_trips       as above
//   fetch_maildir_vs_mpop     mpop into a Maildir / pop3-fetch into a Maildir, 0 ms
//   fetch_maildir_vs_raw      pop3-fetch into a Maildir / raw, 0 ms
// Times are medians over --rounds rounds (default 1; the peers rotate within a round).
// Numbers never fail: exits non-zero only when the library, raw or pop3-fetch fetch the
// wrong messages or bytes (a peer's failure is reported and its ratio left out).
//
// Usage: bench_latency [--rounds N] [--budget SECONDS] [--big-rtt MS]... [--no-big]
//                      [--overhead-only]
//   --budget (default 200): once this much time has passed, the remaining runs are
//   skipped, saying so. --overhead-only measures proxy_overhead_0ms alone. Needs POP3_TEST_ENV
//   (tests/integration/dovecot.sh start DIR) and root (to write the users' Maildirs); without
//   POP3_TEST_ENV it runs itself through bench/run_fetch_bench.sh, as bench_fetch does. Linux only
//   (fork, prctl).
#include "bench_support.hpp"

#include <pop3/leave_on_server.hpp>
#include <pop3/tls.hpp>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>
#include <tuple>

namespace {

using namespace pop3_bench;
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------
// Child processes: started with fork/exec, bounded in time, stopped by PID
// ---------------------------------------------------------------------------------------

// The proxies, for the signal handler: a SIGTERM from the script's timeout stops them too
// (they also get SIGTERM from the kernel when this process dies: PR_SET_PDEATHSIG).
constexpr int max_tracked = 8;
std::atomic<pid_t> g_tracked[max_tracked];
std::atomic<pid_t> g_child{0}; // the peer running now

void on_signal(int sig)
{
    for (auto& p : g_tracked) {
        const pid_t pid = p.load();
        if (pid > 0) ::kill(pid, SIGTERM);
    }
    const pid_t child = g_child.load();
    if (child > 0) ::kill(child, SIGTERM);
    ::_exit(128 + sig);
}

void track(pid_t pid)
{
    for (auto& p : g_tracked) {
        pid_t none = 0;
        if (p.compare_exchange_strong(none, pid)) return;
    }
}

void untrack(pid_t pid)
{
    for (auto& p : g_tracked) {
        pid_t expected = pid;
        p.compare_exchange_strong(expected, 0);
    }
}

struct spawn_options {
    std::vector<std::string> argv;
    std::vector<std::pair<std::string, std::string>> env;
    std::string stdout_path = "/dev/null";
    std::string stderr_path = "/dev/null";
};

pid_t spawn(const spawn_options& o)
{
    std::vector<char*> args;
    for (const auto& a : o.argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = ::fork();
    if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        const int in = ::open("/dev/null", O_RDONLY);
        const int out = ::open(o.stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int err = ::open(o.stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0 || err < 0) ::_exit(126);
        ::dup2(in, 0);
        ::dup2(out, 1);
        ::dup2(err, 2);
        for (const auto& [k, v] : o.env) ::setenv(k.c_str(), v.c_str(), 1);
        ::execvp(args[0], args.data());
        ::_exit(127);
    }
    return pid;
}

/// Stops `pid` (SIGTERM, then SIGKILL after 3 s) and reaps it.
void stop_pid(pid_t pid)
{
    ::kill(pid, SIGTERM);
    for (int i = 0; i < 300; ++i) {
        if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
}

struct child_result {
    bool exited_ok = false;
    bool timed_out = false;
    int status = 0;
    double seconds = 0;
};

/// Runs a child to its end, or stops it after `timeout_s`. Time: fork to reaping, polled
/// every 0.5 ms.
child_result run_child(const spawn_options& o, double timeout_s)
{
    child_result r;
    const auto start = clock_type::now();
    const pid_t pid = spawn(o);
    g_child = pid;
    int status = 0;
    while (true) {
        const pid_t done = ::waitpid(pid, &status, WNOHANG);
        if (done == pid) break;
        if (done < 0 && errno != EINTR)
            throw std::system_error(errno, std::generic_category(), "waitpid");
        if (seconds_since(start) > timeout_s) {
            r.timed_out = true;
            stop_pid(pid);
            break;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    g_child = 0;
    r.seconds = seconds_since(start);
    r.status = status;
    r.exited_ok = !r.timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    return r;
}

std::string read_text(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

/// The last lines of a file, for a failure message.
std::string tail_of(const fs::path& path, std::size_t max = 600)
{
    auto text = read_text(path);
    if (text.size() > max) text = "..." + text.substr(text.size() - max);
    return text;
}

bool have_program(const std::string& name)
{
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        if (!dir.empty() && ::access((dir + "/" + name).c_str(), X_OK) == 0) return true;
    }
    return false;
}

// ---------------------------------------------------------------------------------------
// delay_proxy instances
// ---------------------------------------------------------------------------------------
struct proxy {
    int rtt_ms = 0;
    pid_t pid = -1;
    std::string port;
    fs::path out; // its stdout: "listening ..." then one line per finished connection
    std::size_t lines_seen = 0;

    proxy(int rtt, const server_env& env, const fs::path& dir) : rtt_ms(rtt)
    {
#ifndef POP3_BENCH_DELAY_PROXY
        (void)env;
        (void)dir;
        throw std::runtime_error("built without POP3_BENCH_DELAY_PROXY");
#else
        out = dir / ("proxy-" + std::to_string(rtt) + ".out");
        fs::remove(out); // not a previous run's port
        spawn_options o;
        o.argv = {POP3_BENCH_DELAY_PROXY, "--target", env.host() + ":" + env.port(), "--rtt-ms",
                  std::to_string(rtt)};
        o.stdout_path = out.string();
        o.stderr_path = (dir / ("proxy-" + std::to_string(rtt) + ".err")).string();
        pid = spawn(o);
        track(pid);
        const auto start = clock_type::now();
        while (port.empty()) {
            std::istringstream first(read_text(out));
            std::string word, host;
            if (first >> word >> host >> port && word == "listening") break;
            port.clear();
            if (::waitpid(pid, nullptr, WNOHANG) == pid || seconds_since(start) > 10) {
                untrack(pid);
                throw std::runtime_error("delay_proxy did not start: " + tail_of(o.stderr_path));
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
#endif
    }
    proxy(const proxy&) = delete;
    proxy& operator=(const proxy&) = delete;
    ~proxy()
    {
        if (pid > 0) {
            stop_pid(pid);
            untrack(pid);
        }
    }

    struct connections {
        std::size_t count = 0;
        unsigned long turns = 0;
    };

    /// The connections that ended since the last call. Waits (bounded) for at least
    /// `expected` of them: the proxy reports a connection once both directions have been
    /// delivered, up to RTT/2 after the client is done.
    connections finished(std::size_t expected = 1)
    {
        connections c;
        const auto start = clock_type::now();
        while (true) {
            std::istringstream text(read_text(out));
            std::string line;
            std::size_t n = 0;
            connections now;
            while (std::getline(text, line)) {
                if (line.rfind("connection ", 0) != 0) continue;
                if (++n <= lines_seen) continue;
                ++now.count;
                const auto at = line.find(" turns ");
                if (at != std::string::npos) now.turns += std::stoul(line.substr(at + 7));
            }
            c = now;
            if (c.count >= expected || seconds_since(start) > 2 + rtt_ms / 1000.0) {
                lines_seen += c.count;
                return c;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    }
};

// ---------------------------------------------------------------------------------------
// The mailboxes: users of our own beside Dovecot's test users
// ---------------------------------------------------------------------------------------
struct mailbox {
    std::string user;
    std::string label;
    std::uint32_t count = 0;
    std::uint64_t retr_bytes = 0; ///< what RETR delivers: stored LF as CRLF, no terminator
};

/// Writes USER's Maildir (count messages of about `size` bytes, LF line ends, no line that
/// needs dot-stuffing) under Dovecot's DIR/home and adds USER to its passwd-file, which
/// Dovecot reads again when it changes.
mailbox make_mailbox(const server_env& env, const std::string& user, const std::string& label,
                     std::uint32_t count, std::size_t size)
{
    const fs::path dir = env.get("POP3_TEST_DIR");
    const char* sysuser = std::getenv("POP3_TEST_SYSUSER");
    const passwd* pw = ::getpwnam(sysuser != nullptr ? sysuser : "pop3test");
    if (pw == nullptr) throw std::runtime_error("no system user pop3test (dovecot.sh creates it)");
    const uid_t uid = pw->pw_uid;
    const gid_t gid = pw->pw_gid;
    const fs::path home = dir / "home" / user;
    fs::remove_all(home);
    for (const char* sub : {"", "Maildir", "Maildir/cur", "Maildir/new", "Maildir/tmp"}) {
        const fs::path p = home / sub;
        fs::create_directories(p);
        if (::chown(p.c_str(), uid, gid) != 0 || ::chmod(p.c_str(), 0700) != 0)
            throw std::system_error(errno, std::generic_category(), "chown " + p.string());
    }

    mailbox box{user, label, count, 0};
    static const char* const words[] = {"alpha",   "bravo", "charlie", "delta",    "echo",
                                        "foxtrot", "golf",  "hotel",   "india",    "juliett",
                                        "kilo",    "lima",  "mike",    "november", "oscar"};
    for (std::uint32_t n = 1; n <= count; ++n) {
        std::string text = "From: latency@example.org\nTo: " + user +
                           "@example.org\nSubject: latency message " + std::to_string(n) +
                           "\nDate: Tue, 14 Nov 2023 22:13:20 +0000\nMessage-ID: <lat-" + user +
                           "-" + std::to_string(n) + "@pop3test.example>\n\n";
        std::uint64_t k = n * 2654435761u;
        while (text.size() < size) {
            std::string line;
            while (line.size() < 70) {
                k = k * 6364136223846793005ull + 1442695040888963407ull;
                line += words[(k >> 33) % 15];
                line += ' ';
            }
            line.back() = '\n';
            text += line;
        }
        const fs::path file =
            home / "Maildir" / "cur" / ("1700000000.M" + std::to_string(n) + "P1.lat:2,S");
        {
            std::ofstream f(file, std::ios::binary);
            f << text;
            if (!f) throw std::runtime_error("cannot write " + file.string());
        }
        if (::chown(file.c_str(), uid, gid) != 0)
            throw std::system_error(errno, std::generic_category(), "chown " + file.string());
        const auto lines = static_cast<std::uint64_t>(std::count(text.begin(), text.end(), '\n'));
        box.retr_bytes += text.size() + lines;
    }

    const fs::path passwd_file = dir / "passwd";
    const auto existing = read_text(passwd_file);
    if (existing.find("\n" + user + ":") == std::string::npos &&
        existing.rfind(user + ":", 0) != 0) {
        std::ofstream f(passwd_file, std::ios::app);
        f << user << ":{PLAIN}" << server_env::password(user) << ':' << uid << ':' << gid
          << "::" << home.string() << "::\n";
        if (!f) throw std::runtime_error("cannot append to " + passwd_file.string());
    }
    return box;
}

// ---------------------------------------------------------------------------------------
// The clients
// ---------------------------------------------------------------------------------------
struct run_result {
    bool ok = false;
    bool skipped = false;
    double seconds = 0;
    std::uint32_t messages = 0;
    std::uint64_t bytes = 0; ///< 0 where the client does not report them
    std::string note;
};

struct target {
    std::string host = "127.0.0.1";
    std::string port;
};

run_result check_counts(run_result r, const mailbox& box, bool bytes_known)
{
    if (r.messages != box.count) {
        r.ok = false;
        r.note = std::to_string(r.messages) + " of " + std::to_string(box.count) + " messages";
    } else if (bytes_known && r.bytes != box.retr_bytes) {
        r.ok = false;
        r.note = std::to_string(r.bytes) + " bytes, expected " + std::to_string(box.retr_bytes);
    }
    return r;
}

run_result run_library(const target& t, const mailbox& box)
{
    run_result r;
    asio::io_context ioc;
    const auto start = clock_type::now();
    pop3::client<tcp::socket> client(ioc);
    client.connect(t.host, t.port);
    login_user_pass(client, box.user, server_env::password(box.user));
    const auto stat = client.stat();
    std::vector<pop3::message_number> numbers(stat.count);
    for (std::uint32_t i = 0; i < stat.count; ++i) numbers[i] = i + 1;
    std::uint32_t failed = 0;
    client.retr_many(std::move(numbers), [&](const pop3::message_part& part) {
        if (part.end) {
            ++r.messages;
            if (part.error) ++failed;
        } else {
            r.bytes += part.data.size();
        }
    });
    client.quit();
    r.seconds = seconds_since(start);
    r.ok = failed == 0;
    if (!client.capabilities().pipelining) r.note = "server did not offer PIPELINING";
    return check_counts(r, box, true);
}

/// The leave-on-server path pop3-fetch takes, without its storage: fetch_new with a
/// memory_uid_store and a delivery that only counts (keep_forever: nothing deleted).
/// fetch_new QUITs itself.
run_result run_fetch_new(const target& t, const mailbox& box)
{
    run_result r;
    asio::io_context ioc;
    const auto start = clock_type::now();
    pop3::client<tcp::socket> client(ioc);
    client.connect(t.host, t.port);
    login_user_pass(client, box.user, server_env::password(box.user));
    pop3::memory_uid_store store;
    const auto result = pop3::fetch_new(client, store, pop3::leave_policy::keep_forever(),
                                        [&](const pop3::fetched_message& m) -> pop3::error_code {
                                            r.bytes += m.bytes.size();
                                            return {};
                                        });
    r.seconds = seconds_since(start);
    r.messages = static_cast<std::uint32_t>(result.fetched);
    r.ok = result.failures.empty();
    return check_counts(r, box, true);
}

run_result run_raw(const target& t, const mailbox& box)
{
    run_result r;
    asio::io_context ioc;
    const auto start = clock_type::now();
    raw_session s(ioc, t.host, t.port, box.user);
    std::string commands;
    for (std::uint32_t n = 1; n <= box.count; ++n) commands += "RETR " + std::to_string(n) + "\r\n";
    s.write(commands);
    terminator_counter counter;
    if (!s.pending.empty()) counter.feed(s.pending.data(), s.pending.size());
    s.pending.clear();
    while (counter.responses < box.count) counter.feed(s.buffer.data(), s.read_some());
    if (!counter.between_responses())
        throw std::runtime_error("raw: bytes after the last terminator");
    s.write("QUIT\r\n");
    raw_session::expect_ok(s.read_line(), "QUIT");
    r.seconds = seconds_since(start);
    pop3::error_code ignored;
    s.socket.close(ignored);
    r.messages = static_cast<std::uint32_t>(counter.responses - counter.errors);
    r.bytes = counter.body_bytes;
    r.ok = counter.errors == 0;
    return check_counts(r, box, true);
}

struct peer_context {
    fs::path work; // scratch for this run's files
    double timeout_s = 60;
};

std::size_t count_files(const fs::path& dir)
{
    std::size_t n = 0;
    std::error_code ec;
    for (const auto& sub : {"new", "cur"}) {
        for (fs::directory_iterator it(dir / sub, ec), end; !ec && it != end; it.increment(ec)) ++n;
    }
    return n;
}

run_result finish_child(const child_result& c, const fs::path& err, run_result r)
{
    r.seconds = c.seconds;
    r.ok = c.exited_ok;
    if (c.timed_out) r.note = "timed out";
    else if (!c.exited_ok) r.note = "failed: " + tail_of(err, 300);
    return r;
}

run_result run_pop3_fetch(const target& t, const mailbox& box, const peer_context& p)
{
    run_result r;
#ifndef POP3_BENCH_POP3_FETCH
    (void)t;
    (void)box;
    (void)p;
    r.skipped = true;
    r.note = "skipped: built without the examples (POP3_BUILD_EXAMPLES=OFF)";
    return r;
#else
    const fs::path maildir = p.work / "pop3-fetch.maildir";
    const fs::path state = p.work / "pop3-fetch.state";
    fs::remove_all(maildir);
    fs::remove(state);
    spawn_options o;
    o.argv = {POP3_BENCH_POP3_FETCH,
              "--host",
              t.host,
              "--port",
              t.port,
              "--user",
              box.user,
              "--tls",
              "none",
              "--allow-plaintext",
              "--auth",
              "user",
              "--keep",
              "--maildir",
              maildir.string(),
              "--state",
              state.string(),
              "--quiet",
              "--timeout",
              "30"};
    o.env = {{"POP3_PASSWORD", server_env::password(box.user)}};
    o.stderr_path = (p.work / "pop3-fetch.err").string();
    r = finish_child(run_child(o, p.timeout_s), o.stderr_path, r);
    r.messages = static_cast<std::uint32_t>(count_files(maildir));
    return check_counts(r, box, false);
#endif
}

run_result run_poplib(const target& t, const mailbox& box, const peer_context& p)
{
    run_result r;
#ifndef POP3_SOURCE_DIR
    r.skipped = true;
    r.note = "skipped: bench/poplib_fetch.py not found";
    return r;
#else
    spawn_options o;
    o.argv = {"python3", std::string(POP3_SOURCE_DIR) + "/bench/poplib_fetch.py", t.host, t.port,
              box.user};
    o.env = {{"POP3_PASSWORD", server_env::password(box.user)}};
    o.stdout_path = (p.work / "poplib.out").string();
    o.stderr_path = (p.work / "poplib.err").string();
    r = finish_child(run_child(o, p.timeout_s), o.stderr_path, r);
    std::istringstream out(read_text(o.stdout_path));
    std::string k1, k2, k3;
    double seconds = 0;
    if (r.ok && out >> k1 >> r.messages >> k2 >> r.bytes >> k3 >> seconds) r.seconds = seconds;
    return check_counts(r, box, true);
#endif
}

run_result run_curl(const target& t, const mailbox& box, const peer_context& p)
{
    // curl 7.88 reports size_download 0 for POP3: the messages go to one file instead (no
    // fsync, like poplib's memory) and a "done" line per transfer to stderr.
    run_result r;
    const fs::path config = p.work / "curl.config";
    {
        std::ofstream f(config);
        f << "silent\nshow-error\nuser = \"" << box.user << ':' << server_env::password(box.user)
          << "\"\nwrite-out = \"%{stderr}done\\n\"\nmax-time = " << p.timeout_s << '\n';
        for (std::uint32_t n = 1; n <= box.count; ++n)
            f << "url = \"pop3://" << t.host << ':' << t.port << '/' << n << "\"\n";
    }
    spawn_options o;
    o.argv = {"curl", "-K", config.string()};
    o.stdout_path = (p.work / "curl.out").string();
    o.stderr_path = (p.work / "curl.err").string();
    r = finish_child(run_child(o, p.timeout_s), o.stderr_path, r);
    std::istringstream err(read_text(o.stderr_path));
    std::string line;
    while (std::getline(err, line)) {
        if (line == "done") ++r.messages;
    }
    std::error_code ec;
    r.bytes = fs::file_size(o.stdout_path, ec);
    fs::remove(o.stdout_path, ec);
    return check_counts(r, box, true);
}

run_result run_mpop(const target& t, const mailbox& box, const peer_context& p)
{
    run_result r;
    const fs::path maildir = p.work / "mpop.maildir";
    const fs::path uidls = p.work / "mpop.uidls";
    const fs::path rc = p.work / "mpoprc";
    fs::remove_all(maildir);
    fs::remove(uidls);
    for (const char* sub : {"cur", "new", "tmp"}) fs::create_directories(maildir / sub);
    {
        std::ofstream f(rc);
        f << "defaults\ntls off\n"
          << "account bench\nhost " << t.host << "\nport " << t.port << "\nauth user\nuser "
          << box.user << "\npassword " << server_env::password(box.user)
          << "\nkeep on\nonly_new on\ndelivery maildir " << maildir.string() << "\nuidls_file "
          << uidls.string() << "\ntimeout " << static_cast<int>(p.timeout_s) << "\n";
    }
    fs::permissions(rc, fs::perms::owner_read | fs::perms::owner_write);
    spawn_options o;
    o.argv = {"mpop", "--file=" + rc.string(), "--quiet", "bench"};
    o.stderr_path = (p.work / "mpop.err").string();
    r = finish_child(run_child(o, p.timeout_s), o.stderr_path, r);
    r.messages = static_cast<std::uint32_t>(count_files(maildir));
    return check_counts(r, box, false);
}

// ---------------------------------------------------------------------------------------
// The benchmark
// ---------------------------------------------------------------------------------------
enum peer_id { library, fetch_new, pop3_fetch, raw, poplib, curl, mpop, peer_count };
const char* const peer_names[peer_count] = {"library", "fetch_new", "pop3-fetch", "raw",
                                            "poplib",  "curl",      "mpop"};
// Failing these fails the benchmark (the project's own code and the baseline it is held to).
bool is_ours(int p)
{
    return p == library || p == fetch_new || p == pop3_fetch || p == raw;
}

struct options {
    int rounds = 1;
    double budget_s = 200;
    std::vector<int> rtts{0, 20, 50};
    std::vector<int> big_rtts{0, 20, 50};
    bool overhead_only = false; // --overhead-only: the proxy's cost at 0 ms, nothing else
};

struct cell {
    std::vector<double> times;
    std::string note;
    unsigned long turns = 0; // of the last run
    std::size_t connections = 0;
    bool failed = false;
    bool skipped = false;

    std::optional<double> time() const
    {
        if (failed || skipped || times.empty()) return std::nullopt;
        return median(times);
    }
};

class bench {
public:
    bench(const server_env& env, options opt, fs::path work)
        : env_(env), opt_(std::move(opt)), work_(std::move(work)), start_(clock_type::now())
    {
        have_[library] = have_[fetch_new] = have_[raw] = true;
#ifdef POP3_BENCH_POP3_FETCH
        have_[pop3_fetch] = true;
#endif
        have_[poplib] = have_program("python3");
        have_[curl] = have_program("curl");
        have_[mpop] = have_program("mpop");
        if (!have_[poplib]) std::printf("note: python3 not found: poplib skipped\n");
        if (!have_[curl]) std::printf("note: curl not found: skipped (apt-get install curl)\n");
        if (!have_[mpop]) std::printf("note: mpop not found: skipped (apt-get install mpop)\n");
#ifndef POP3_BENCH_POP3_FETCH
        std::printf("note: built without the examples: pop3-fetch skipped\n");
#endif
    }

    double elapsed() const
    {
        return seconds_since(start_);
    }
    bool over_budget() const
    {
        return elapsed() > opt_.budget_s;
    }
    bool failed() const
    {
        return failed_;
    }

    int run(const mailbox& small, const std::optional<mailbox>& big)
    {
        for (const int rtt : opt_.rtts)
            proxies_.emplace(rtt, std::make_unique<proxy>(rtt, env_, work_));
        for (const int rtt : opt_.big_rtts) {
            if (big && proxies_.count(rtt) == 0)
                proxies_.emplace(rtt, std::make_unique<proxy>(rtt, env_, work_));
        }
        const target direct{env_.host(), env_.port()};

        // Warm-up: Dovecot builds its indexes on a mailbox's first session.
        run_raw(direct, small);
        if (big) run_raw(direct, *big);
        proxy_overhead(direct, small, 5);
        if (big) proxy_overhead(direct, *big, 3);
        if (opt_.overhead_only) {
            if (overhead_direct_ > 0)
                print_ratio("proxy_overhead_0ms", overhead_proxy_, overhead_direct_);
            return failed_ ? 1 : 0;
        }

        for (const int rtt : opt_.rtts) measure(small, rtt);
        if (big) {
            for (const int rtt : opt_.big_rtts) measure(*big, rtt);
        }
        const auto trips = session_round_trips(small);

        print_table();
        print_metrics(small, trips);
        return failed_ ? 1 : 0;
    }

private:
    void proxy_overhead(const target& direct, const mailbox& box, int rounds)
    {
        auto& p0 = *proxies_.at(0);
        const target via{"127.0.0.1", p0.port};
        std::vector<double> d, v;
        for (int i = 0; i < rounds; ++i) {
            const auto a = run_raw(direct, box);
            const auto b = run_raw(via, box);
            if (!a.ok || !b.ok) {
                std::fprintf(stderr, "bench_latency: raw failed: %s %s\n", a.note.c_str(),
                             b.note.c_str());
                failed_ = true;
                return;
            }
            d.push_back(a.seconds);
            v.push_back(b.seconds);
        }
        p0.finished(static_cast<std::size_t>(rounds));
        std::printf("raw, %s: direct %.4f s, through the 0 ms proxy %.4f s (medians of %d): "
                    "proxy overhead %.3f\n",
                    box.label.c_str(), median(d), median(v), rounds, median(v) / median(d));
        if (overhead_direct_ == 0) {
            overhead_direct_ = median(d);
            overhead_proxy_ = median(v);
        }
    }

    run_result run_peer(int peer, const target& t, const mailbox& box, const peer_context& p)
    {
        try {
            switch (peer) {
            case library: return run_library(t, box);
            case fetch_new: return run_fetch_new(t, box);
            case raw: return run_raw(t, box);
            case pop3_fetch: return run_pop3_fetch(t, box, p);
            case poplib: return run_poplib(t, box, p);
            case curl: return run_curl(t, box, p);
            default: return run_mpop(t, box, p);
            }
        } catch (const std::exception& e) {
            run_result r;
            r.note = std::string("failed: ") + e.what();
            return r;
        }
    }

    void measure(const mailbox& box, int rtt)
    {
        auto& px = *proxies_.at(rtt);
        const target via{"127.0.0.1", px.port};
        for (int round = 0; round < opt_.rounds; ++round) {
            for (int k = 0; k < peer_count; ++k) {
                const int peer = (k + round) % peer_count;
                cell& c = cells_[{box.label, peer, rtt}];
                if (!have_[peer]) {
                    c.skipped = true;
                    c.note = "not installed";
                    continue;
                }
                if (over_budget()) {
                    if (c.times.empty() && !c.failed) {
                        c.skipped = true;
                        c.note = "skipped: over the time budget";
                    }
                    continue;
                }
                peer_context p;
                p.work = work_;
                p.timeout_s = std::max(5.0, std::min(90.0, opt_.budget_s + 30 - elapsed()));
                const auto r = run_peer(peer, via, box, p);
                if (r.skipped) { // nothing connected: no connection to wait for
                    c.skipped = true;
                    c.note = r.note;
                    continue;
                }
                const auto conns = px.finished(1);
                if (!r.ok) {
                    c.failed = true;
                    c.note = r.note;
                    std::printf("%s %s %d ms: FAILED: %s\n", box.label.c_str(), peer_names[peer],
                                rtt, r.note.c_str());
                    if (is_ours(peer)) failed_ = true;
                    continue;
                }
                c.times.push_back(r.seconds);
                c.turns = conns.turns;
                c.connections = conns.count;
                std::printf("%s %-10s %2d ms  %8.4f s  (%lu turns, %zu connection%s)%s%s\n",
                            box.label.c_str(), peer_names[peer], rtt, r.seconds, conns.turns,
                            conns.count, conns.count == 1 ? "" : "s", r.note.empty() ? "" : ": ",
                            r.note.c_str());
            }
        }
    }

    /// The library's whole session with STLS and SCRAM-SHA-256 through the 50 ms proxy (or
    /// the slowest there is), counted by the proxy.
    std::optional<unsigned long> session_round_trips(const mailbox& box)
    {
        auto& px = *proxies_.rbegin()->second;
        if (over_budget()) {
            std::printf("note: session_round_trips skipped: over the time budget\n");
            return std::nullopt;
        }
        try {
            std::uint32_t messages = 0;
            double seconds = 0;
            {
                asio::io_context ioc;
                pop3::tls_options trust;
                trust.ca_file = env_.get("POP3_TEST_CA");
                auto tls = pop3::make_tls_context(trust);
                pop3::client<asio::ssl::stream<tcp::socket>> client(ioc, tls);
                const auto start = clock_type::now();
                client.connect("127.0.0.1", px.port, pop3::tls_mode::starttls);
                pop3::login_options login;
                login.method = pop3::auth_method::scram_sha_256;
                client.login(box.user, server_env::password(box.user), login);
                const auto stat = client.stat();
                std::vector<pop3::message_number> numbers(stat.count);
                for (std::uint32_t i = 0; i < stat.count; ++i) numbers[i] = i + 1;
                client.retr_many(std::move(numbers), [&](const pop3::message_part& part) {
                    if (part.end && !part.error) ++messages;
                });
                client.quit();
                seconds = seconds_since(start);
            } // closed: the proxy reports the connection
            const auto conns = px.finished(1);
            if (messages != box.count || conns.count != 1) {
                std::printf("note: STLS+SCRAM session: %u of %u messages, %zu connections\n",
                            messages, box.count, conns.count);
                return std::nullopt;
            }
            std::printf("library session with STLS and SCRAM-SHA-256, %s, %d ms RTT: %.3f s "
                        "(%.1f RTTs), %lu client turns + 1 for the connection\n",
                        box.label.c_str(), px.rtt_ms, seconds, seconds * 1000.0 / px.rtt_ms,
                        conns.turns);
            return conns.turns + 1;
        } catch (const std::exception& e) {
            std::printf("note: STLS+SCRAM session failed: %s\n", e.what());
            failed_ = true;
            return std::nullopt;
        }
    }

    std::optional<double> time_of(const std::string& label, int peer, int rtt) const
    {
        const auto it = cells_.find({label, peer, rtt});
        if (it == cells_.end()) return std::nullopt;
        return it->second.time();
    }

    void print_table() const
    {
        std::printf("\n%-12s %-10s %6s %10s %12s %7s  %s\n", "mailbox", "peer", "RTT", "time",
                    "vs library", "turns", "note");
        for (const auto& [key, c] : cells_) {
            const auto& [label, peer, rtt] = key;
            const auto t = c.time();
            const auto ours = time_of(label, library, rtt);
            char time_text[32] = "-";
            char ratio_text[32] = "-";
            char turns_text[32] = "-";
            if (t) std::snprintf(time_text, sizeof time_text, "%.3f s", *t);
            if (t && ours) std::snprintf(ratio_text, sizeof ratio_text, "%.2f", *t / *ours);
            if (t && rtt > 0) std::snprintf(turns_text, sizeof turns_text, "%lu", c.turns);
            std::printf("%-12s %-10s %3d ms %10s %12s %7s  %s\n", label.c_str(), peer_names[peer],
                        rtt, time_text, ratio_text, turns_text, c.note.c_str());
        }
        std::printf("(vs library: time / the library's time at the same RTT; turns: the "
                    "client's round trips counted by the proxy, connections summed)\n\n");
    }

    void print_ratio(const char* name, std::optional<double> num, std::optional<double> den) const
    {
        if (num && den && *den > 0) std::printf("METRIC %s %.3f\n", name, *num / *den);
        else std::printf("note: METRIC %s not measured\n", name);
    }

    void print_metrics(const mailbox& box, std::optional<unsigned long> trips) const
    {
        if (overhead_direct_ > 0)
            print_ratio("proxy_overhead_0ms", overhead_proxy_, overhead_direct_);
        for (const int rtt : {20, 50}) {
            const auto ours = time_of(box.label, library, rtt);
            const std::string prefix = "rtt" + std::to_string(rtt) + "_vs_";
            print_ratio((prefix + "poplib").c_str(), time_of(box.label, poplib, rtt), ours);
            print_ratio((prefix + "curl").c_str(), time_of(box.label, curl, rtt), ours);
            print_ratio((prefix + "mpop").c_str(), time_of(box.label, mpop, rtt), ours);
            print_ratio((prefix + "raw").c_str(), ours, time_of(box.label, raw, rtt));
            print_ratio(("rtt" + std::to_string(rtt) + "_fetch_new_vs_raw").c_str(),
                        time_of(box.label, fetch_new, rtt), time_of(box.label, raw, rtt));
            // pop3-fetch end to end against mpop, both into a Maildir (issue 12, item 5).
            print_ratio(("rtt" + std::to_string(rtt) + "_fetch_maildir_vs_mpop").c_str(),
                        time_of(box.label, mpop, rtt), time_of(box.label, pop3_fetch, rtt));
        }
        if (trips) std::printf("METRIC session_round_trips %lu\n", *trips);
        print_ratio("fetch_maildir_vs_mpop", time_of(box.label, mpop, 0),
                    time_of(box.label, pop3_fetch, 0));
        print_ratio("fetch_maildir_vs_raw", time_of(box.label, pop3_fetch, 0),
                    time_of(box.label, raw, 0));
    }

    const server_env& env_;
    options opt_;
    fs::path work_;
    clock_type::time_point start_;
    bool have_[peer_count] = {};
    bool failed_ = false;
    std::map<int, std::unique_ptr<proxy>> proxies_;
    std::map<std::tuple<std::string, int, int>, cell> cells_;
    double overhead_direct_ = 0;
    double overhead_proxy_ = 0;
};

options parse(int argc, char** argv)
{
    options o;
    bool big_given = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
            return argv[++i];
        };
        if (arg == "--rounds") o.rounds = std::stoi(value());
        else if (arg == "--budget") o.budget_s = std::stod(value());
        else if (arg == "--no-big") o.big_rtts.clear(), big_given = true;
        else if (arg == "--overhead-only") o.overhead_only = true;
        else if (arg == "--big-rtt") {
            if (!big_given) o.big_rtts.clear();
            big_given = true;
            o.big_rtts.push_back(std::stoi(value()));
        } else throw std::invalid_argument("unknown argument " + arg);
    }
    if (o.rounds < 1 || o.budget_s <= 0) throw std::invalid_argument("bad --rounds or --budget");
    for (const int rtt : o.big_rtts) {
        if (rtt < 0) throw std::invalid_argument("bad --big-rtt");
    }
    return o;
}

} // namespace

int main(int argc, char** argv)
{
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    try {
        const char* env_path = std::getenv("POP3_TEST_ENV");
        if (env_path == nullptr || *env_path == '\0')
            return exec_script(argc, argv, "bench_latency");
        const auto opt = parse(argc, argv);
        const auto env = server_env::load(env_path);

        struct sigaction sa {};
        sa.sa_handler = on_signal;
        ::sigaction(SIGTERM, &sa, nullptr);
        ::sigaction(SIGINT, &sa, nullptr);

        const fs::path work = fs::path(env.get("POP3_TEST_DIR")) / "latency";
        fs::create_directories(work);
        const auto small = make_mailbox(env, "lat10k", "200x10KB", 200, 10 * 1000);
        std::optional<mailbox> big;
        if (!opt.big_rtts.empty()) big = make_mailbox(env, "lat5m", "20x5MB", 20, 5 * 1000 * 1000);
        std::printf(
            "mailboxes: %s (%llu bytes by RETR)%s\n", small.label.c_str(),
            static_cast<unsigned long long>(small.retr_bytes),
            big ? (", " + big->label + " (" + std::to_string(big->retr_bytes) + " bytes)").c_str()
                : "");

        int rc = 0;
        {
            bench b(env, opt, work);
            rc = b.run(small, big);
            std::printf("bench_latency: %.1f s\n", b.elapsed());
        } // stops the proxies
        return rc;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_latency: %s\n", e.what());
        return 1;
    }
}
