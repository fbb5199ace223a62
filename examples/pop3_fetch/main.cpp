// pop3-fetch: fetch mail from a POP3 server into a Maildir, an mbox file or stdout.
//
// Run `pop3-fetch --help` for the options and exit codes. The flow of one run:
//   connect (TLS as asked) -> log in -> pop3::fetch_new: UIDL + LIST -> plan what is new
//   (by UID, against the state: see state.hpp) -> RETR, pipelined, each message streaming
//   into the destination, which makes it durable -> DELE what is stored (without --keep:
//   everything; with --keep: what is older than --delete-after) -> QUIT, which makes the
//   server delete it.
// The order of effects is pop3::fetch_new's, not this file's: a message is only ever
// marked for deletion after it was durably stored and recorded, and deletion only happens
// at QUIT: whatever goes wrong before, nothing is lost on the server.
#include "../net.hpp"
#include "errors.hpp"
#include "json.hpp"
#include "maildir.hpp"
#include "mbox.hpp"
#include "netrc.hpp"
#include "options.hpp"
#include "progress.hpp"
#include "state.hpp"
#include "storage.hpp"

#include <pop3/auth.hpp>
#include <pop3/client.hpp>
#include <pop3/exception.hpp>
#include <pop3/leave_on_server.hpp>
#include <pop3/leave_on_server/durable_file.hpp>
#include <pop3/tls.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <csignal>

#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef POP3_FETCH_VERSION
#define POP3_FETCH_VERSION "unknown"
#endif

namespace pop3_fetch {
namespace {

using tls_client = pop3::client<net::ssl::stream<net::ip::tcp::socket>>;

// ---------------------------------------------------------------------------------------
// Signals: SIGINT, SIGTERM and SIGHUP stop the run the safe way. The first one lets the
// current step end and makes the next delivery refuse to begin (so what was stored is
// DELEted and QUIT is sent, as after any failed delivery); if the server does not let
// the run end within a few seconds, or a second signal comes, the socket is shut down.
// Either way the run ends with a summary (also with --json) and exit code 128 + signal.
// ---------------------------------------------------------------------------------------

volatile std::sig_atomic_t g_signal = 0;    ///< the first stopping signal, 0 while none
volatile std::sig_atomic_t g_socket_fd = -1; ///< the session's socket, once connected
constexpr unsigned grace_seconds = 5;

extern "C" void on_stop_signal(int signo)
{
    if (g_signal == 0) {
        g_signal = signo;
        ::alarm(grace_seconds);
    } else if (g_socket_fd >= 0) {
        ::shutdown(g_socket_fd, SHUT_RDWR); // async-signal-safe: ends any blocking call
    }
}

extern "C" void on_grace_over(int)
{
    if (g_signal == 0) return;
    if (g_socket_fd >= 0) ::shutdown(g_socket_fd, SHUT_RDWR);
    else ::alarm(1); // still connecting: the connect timeout ends that; look again
}

void install_signal_handlers()
{
    struct sigaction sa {};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = on_stop_signal;
    for (int signo : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(signo, &sa, nullptr);
    sa.sa_handler = on_grace_over;
    ::sigaction(SIGALRM, &sa, nullptr);
}

const char* signal_name(int signo)
{
    switch (signo) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "a signal";
    }
}

/// A port that speaks another TLS mode than the one asked for (exit code 4).
struct tls_mode_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Thrown at a step boundary once a stopping signal came.
struct interrupted {};

void stop_if_signalled()
{
    if (g_signal != 0) throw interrupted{};
}

/// What a run is doing: the start of every error message ("connecting to HOST port
/// PORT: ..."), and what tells some errors' exit codes and hints apart.
enum class stage {
    starting,            ///< before any of the below
    opening_destination, ///< the Maildir or mbox
    opening_state,       ///< the state file
    loading_ca,          ///< the CA certificates of --cafile / --capath
    connecting,          ///< TCP, the greeting, TLS
    logging_in,          ///< USER/PASS, APOP or SASL
    listing_sizes,       ///< --list: LIST
    listing_uids,        ///< --list: UIDL
    listing,             ///< fetching: UIDL and LIST
    fetching,            ///< RETR
    deleting,            ///< after the last message: DELE and QUIT
    quitting,            ///< --list: QUIT
};

/// Control characters from the server must not reach the terminal raw.
std::string printable(std::string_view s)
{
    std::string out;
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7F) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", u);
            out += buf;
        } else {
            out += c;
        }
    }
    return out;
}

std::string home_directory()
{
    if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') return home;
    if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr && pw->pw_dir != nullptr)
        return pw->pw_dir;
    return ".";
}

// ---------------------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------------------

struct credentials {
    std::string user;
    std::string secret;
    std::string source; ///< where the secret came from, for messages
};

std::string read_secret_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) throw usage_error("cannot read the password file " + path);
    std::string line;
    std::getline(in, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) throw usage_error("the password file " + path + " is empty");
    return line;
}

/// --password-file, then $POP3_PASSWORD, then the netrc entry for the host.
credentials find_credentials(const options& o)
{
    credentials c;
    c.user = o.user;
    const std::string netrc_path =
        o.netrc_file.empty() ? home_directory() + "/.netrc" : o.netrc_file;
    if (!o.netrc_file.empty() && ::access(o.netrc_file.c_str(), R_OK) != 0)
        throw usage_error("cannot read the netrc file " + o.netrc_file);
    const auto netrc = lookup_netrc(netrc_path, o.host, o.user);

    if (!o.password_file.empty()) {
        c.secret = read_secret_file(o.password_file);
        c.source = o.password_file;
    } else if (const char* env = std::getenv("POP3_PASSWORD"); env != nullptr && *env != '\0') {
        c.secret = env;
        c.source = "POP3_PASSWORD";
    } else if (netrc && !netrc->password.empty()) {
        c.secret = netrc->password;
        c.source = netrc_path;
    }
    if (c.user.empty() && netrc) c.user = netrc->login;
    if (c.user.empty())
        throw usage_error("no user name: give --user USER (or a login in " + netrc_path + ")");
    if (c.secret.empty())
        throw usage_error(std::string("no ") + (o.oauth() ? "OAuth token" : "password") +
                          ": set POP3_PASSWORD, use --password-file FILE, or add \"machine " +
                          o.host + " login " + c.user + " password ...\" to " + netrc_path);
    return c;
}

// ---------------------------------------------------------------------------------------
// Output: human text, or JSON Lines on stdout
// ---------------------------------------------------------------------------------------

struct summary {
    std::uint32_t on_server = 0;
    std::uint32_t fresh = 0;    ///< messages not stored before (all of them without --keep)
    std::uint32_t deferred = 0; ///< of them, left for the next run by --max
    std::uint32_t fetched = 0;
    std::uint64_t bytes = 0;
    std::uint32_t deleted = 0;
    std::uint32_t failed = 0;
    std::string destination;
    std::string state_file;
};

struct failure {
    error_class cls;
    std::string message;
    std::string server_response;
};

class reporter {
public:
    explicit reporter(const options& o) : o_(o), start_(std::chrono::steady_clock::now()) {}

    bool json() const noexcept { return o_.json; }

    void record(const json::object& obj)
    {
        std::string line = obj.str();
        line += '\n';
        std::fwrite(line.data(), 1, line.size(), stdout);
        std::fflush(stdout);
    }

    /// Human-readable text for the user: stdout, or stderr when stdout carries mail.
    void say(const std::string& text)
    {
        if (o_.quiet || o_.json) return;
        std::FILE* f = o_.to_stdout ? stderr : stdout;
        std::fprintf(f, "%s\n", text.c_str());
        std::fflush(f);
    }

    void warn(const std::string& text)
    {
        std::fprintf(stderr, "pop3-fetch: warning: %s\n", text.c_str());
        std::fflush(stderr);
    }

    void error(const failure& f)
    {
        std::string text = "pop3-fetch: " + f.message;
        if (!f.server_response.empty())
            text += " (server said: " + printable(f.server_response) + ")";
        std::fprintf(stderr, "%s\n", text.c_str());
        std::fflush(stderr);
    }

    /// The last record of a JSON run; also for failures.
    void final_record(const summary& s, const std::optional<failure>& f, exit_code code)
    {
        if (!o_.json) return;
        json::object obj;
        obj.add("type", "summary")
            .add("ok", code == exit_code::ok)
            .add("exit_code", static_cast<int>(code));
        obj.add("host", o_.host).add("port", o_.port);
        if (!o_.list) {
            obj.add("on_server", s.on_server).add("new", s.fresh).add("fetched", s.fetched);
            obj.add("bytes", s.bytes).add("deleted", s.deleted).add("failed", s.failed);
            obj.add("kept_on_server", o_.keep);
            if (!s.destination.empty()) obj.add("destination", s.destination);
            if (!s.state_file.empty()) obj.add("state_file", s.state_file);
        } else {
            obj.add("on_server", s.on_server);
        }
        obj.add("seconds",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
        if (f) {
            json::object err;
            err.add("category", f->cls.category).add("message", f->message);
            if (!f->server_response.empty()) err.add("server_response", f->server_response);
            else err.add_null("server_response");
            obj.add_raw("error", err.str());
        }
        record(obj);
    }

private:
    const options& o_;
    std::chrono::steady_clock::time_point start_;
};

// ---------------------------------------------------------------------------------------
// One run
// ---------------------------------------------------------------------------------------

std::string sanitize_for_file_name(const std::string& s)
{
    std::string out;
    for (char c : s)
        out += (c == '/' || c == '\0' || static_cast<unsigned char>(c) < 0x20) ? '_' : c;
    return out;
}

std::string default_state_file(const options& o, const std::string& user)
{
    const auto account = sanitize_for_file_name(user + "@" + o.host);
    if (!o.maildir.empty()) {
        auto dir = o.maildir;
        while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
        return dir + "/.pop3-fetch-" + account + ".state";
    }
    return o.mbox + ".pop3-fetch-" + account + ".state";
}

/// The destination, refusing to begin or go on with a message once a stopping signal
/// came: fetch_new then aborts that message, DELEs what was stored and QUITs.
class interruptible_delivery final : public pop3::message_delivery {
public:
    explicit interruptible_delivery(pop3::message_delivery& inner) : inner_(inner) {}
    pop3::error_code begin(const pop3::fetched_message_info& m) override
    {
        if (g_signal != 0) return pop3::errno_code(EINTR);
        return inner_.begin(m);
    }
    pop3::error_code write(std::string_view chunk) override
    {
        if (g_signal != 0) return pop3::errno_code(EINTR);
        return inner_.write(chunk);
    }
    pop3::error_code commit() override { return inner_.commit(); }
    void abort() noexcept override { inner_.abort(); }
    // Never interrupted: what was committed becomes durable and recorded, then the run stops.
    bool batches() const noexcept override { return inner_.batches(); }
    pop3::error_code sync() override { return inner_.sync(); }

private:
    pop3::message_delivery& inner_;
};

class runner {
public:
    runner(const options& o, reporter& out) : o_(o), out_(out), progress_(false) {}

    /// Returns the exit code; every error is reported here.
    exit_code run()
    {
        std::optional<failure> failed;
        exit_code code = exit_code::ok;
        try {
            // A test hook: the one exit code no server or file can cause must be tested too.
            if (std::getenv("POP3_FETCH_TEST_INTERNAL_ERROR") != nullptr)
                throw std::logic_error("injected by POP3_FETCH_TEST_INTERNAL_ERROR");
            code = o_.list ? list_messages() : fetch_messages();
        } catch (...) {
            progress_.finish();
            failed = describe(std::current_exception());
            code = failed->cls.code;
            out_.error(*failed);
        }
        out_.final_record(summary_, failed, code);
        return code;
    }

private:
    // ---- connecting and logging in -----------------------------------------------------

    void open_session()
    {
        stage_ = stage::loading_ca;
        for (const auto* f : {&o_.cafile, &o_.capath})
            if (!f->empty() && ::access(f->c_str(), R_OK) != 0)
                throw usage_error("cannot read " + *f);
        tls_context_.emplace(pop3::make_tls_context(pop3::tls_options{o_.cafile, o_.capath}));
        client_.emplace(ioc_, *tls_context_);
        auto& c = *client_;
        if (o_.insecure) {
            out_.warn(
                "--insecure: the server's certificate is NOT verified; anyone on the network path "
                "can impersonate the server and read the password");
            c.set_certificate_check(pop3::certificate_check::insecure_do_not_verify);
        }
        if (o_.tls_mode() == pop3::tls_mode::none && o_.allow_plaintext)
            out_.warn("--tls none --allow-plaintext: the password travels unencrypted");
        if (o_.timeout_seconds) {
            const auto t = std::chrono::seconds(*o_.timeout_seconds);
            c.set_timeouts(pop3::timeouts{t, t});
        }
        if (o_.trace) {
            c.set_trace([](pop3::trace_direction d, std::string_view line) {
                const std::string text =
                    (d == pop3::trace_direction::sent ? "C: " : "S: ") + printable(line) + "\n";
                std::fputs(text.c_str(), stderr);
            });
        }

        stage_ = stage::connecting;
        stop_if_signalled();
        connect(c);
        g_socket_fd = c.next_layer().native_handle();

        stop_if_signalled();
        stage_ = stage::logging_in;
        pop3::login_options lo;
        lo.method = o_.auth;
        lo.allow_plaintext = o_.allow_plaintext;
        lo.host = o_.host;
        lo.port = o_.port;
        if (o_.oauth()) c.login_oauth(cred_.user, cred_.secret, lo);
        else c.login(cred_.user, cred_.secret, lo);
    }

    /// One line of --list.
    struct listed_message {
        pop3::message_number number = 0;
        std::uint64_t octets = 0;
        std::optional<std::string> uid; ///< none when the server has no UIDL
    };

    /// LIST, and UIDL unless the server cannot (then messages have no UID).
    std::vector<listed_message> scan()
    {
        auto& c = *client_;
        stage_ = stage::listing_sizes;
        const auto sizes = c.list();
        std::map<pop3::message_number, std::string> uids;
        stage_ = stage::listing_uids;
        try {
            for (auto& u : c.uidl()) uids[u.number] = std::move(u.uid);
        } catch (const pop3::error&) {
            // The UIDs only decorate the list; a server without UIDL (or one that refuses
            // it) still lists. A broken session does not.
            if (c.state() == pop3::session_state::broken) throw;
        }
        std::vector<listed_message> out;
        out.reserve(sizes.size());
        for (const auto& s : sizes) {
            listed_message m;
            m.number = s.number;
            m.octets = s.octets;
            if (const auto it = uids.find(s.number); it != uids.end()) m.uid = it->second;
            out.push_back(std::move(m));
        }
        summary_.on_server = static_cast<std::uint32_t>(out.size());
        return out;
    }

    /// connect(), but without waiting the whole timeout on a POP3S port reached without
    /// --tls implicit: after a short silence where the greeting should be, a second
    /// connection tries a TLS handshake, and if the port speaks TLS, says so at once.
    void connect(tls_client& c)
    {
        if (o_.tls_mode() == pop3::tls_mode::implicit) {
            c.connect(o_.host, o_.port, o_.tls_mode());
            return;
        }
        pop3::error_code result;
        bool done = false;
        bool port_speaks_tls = false;
        net::steady_timer silence(ioc_);
        std::optional<net::ssl::context> probe_context;
        std::optional<net::ssl::stream<net::ip::tcp::socket>> probe;
        net::steady_timer probe_limit(ioc_);
        c.async_connect(o_.host, o_.port, o_.tls_mode(), [&](pop3::error_code ec) {
            result = ec;
            done = true;
            silence.cancel();
            probe_limit.cancel();
            if (probe) probe->lowest_layer().close(ec);
        });
        // Greetings come at once; wait a little longer than a slow server would need,
        // but always less than the timeout.
        auto wait = std::chrono::milliseconds(2000);
        if (o_.timeout_seconds && *o_.timeout_seconds != 0)
            wait = std::min<std::chrono::milliseconds>(
                wait, std::chrono::seconds(*o_.timeout_seconds) / 2);
        silence.expires_after(wait);
        silence.async_wait([&](pop3::error_code ec) {
            pop3::error_code ignored;
            const auto peer = c.next_layer().remote_endpoint(ignored);
            if (ec || done || ignored) return; // answered, or still connecting
            probe_context.emplace(net::ssl::context::tls_client);
            probe_context->set_verify_mode(net::ssl::verify_none); // only: is it TLS?
            probe.emplace(ioc_, *probe_context);
            probe_limit.expires_after(std::chrono::seconds(3));
            probe_limit.async_wait([&](pop3::error_code e) {
                if (!e && probe) probe->lowest_layer().close(e);
            });
            probe->lowest_layer().async_connect(peer, [&](pop3::error_code e) {
                if (e || done) return;
                probe->async_handshake(net::ssl::stream_base::client, [&](pop3::error_code h) {
                    probe_limit.cancel();
                    // Refused (not cut short by a time limit): the port is not TLS.
                    if (h && h != net::error::operation_aborted) not_tls_either_ = true;
                    if (h || done) return;
                    port_speaks_tls = true; // a TLS server: stop waiting for a greeting
                    c.next_layer().close(h);
                });
            });
        });
        ioc_.restart();
        ioc_.run();
        if (port_speaks_tls)
            throw tls_mode_error("port " + o_.port +
                                 " speaks TLS from the start (POP3S), not plain POP3 -- use "
                                 "--tls implicit");
        if (result) throw pop3::error(result, c.last_error_reply());
    }

    void logout()
    {
        stage_ = stage::quitting;
        client_->quit();
    }

    // ---- --list --------------------------------------------------------------------------

    exit_code list_messages()
    {
        cred_ = find_credentials(o_);
        open_session();
        stop_if_signalled();
        auto messages = scan();
        stop_if_signalled();
        if (o_.max && messages.size() > *o_.max) messages.resize(*o_.max);
        std::string text;
        for (const auto& m : messages) {
            if (out_.json()) {
                json::object obj;
                obj.add("type", "message").add("number", m.number).add("size", m.octets);
                if (m.uid) obj.add("uid", *m.uid);
                else obj.add_null("uid");
                out_.record(obj);
            } else {
                text += std::to_string(m.number) + " " + std::to_string(m.octets) + " " +
                        (m.uid ? printable(*m.uid) : std::string("-")) + "\n";
            }
        }
        if (!out_.json()) {
            std::fputs(text.c_str(), stdout);
            std::fflush(stdout);
        }
        logout();
        return exit_code::ok;
    }

    // ---- fetching ------------------------------------------------------------------------

    std::unique_ptr<destination> open_destination()
    {
        stage_ = stage::opening_destination;
        // The account goes into each Maildir file's tag: how a message delivered again
        // after a crash (maybe_delivered) is found already stored (see maildir.hpp).
        if (!o_.maildir.empty())
            return std::make_unique<maildir_destination>(o_.maildir, cred_.user + "@" + o_.host);
        if (!o_.mbox.empty()) return std::make_unique<mbox_destination>(o_.mbox);
        return std::make_unique<mbox_destination>("-");
    }

    exit_code fetch_messages()
    {
        // Local things first: a bad password source, destination or state file should
        // fail before the server is touched.
        cred_ = find_credentials(o_);
        dest_ = open_destination();
        summary_.destination = o_.maildir.empty() ? (o_.mbox.empty() ? "-" : o_.mbox) : o_.maildir;
        // Without --keep everything is deleted once stored; --keep keeps it, or deletes
        // what was first fetched --delete-after days ago.
        auto policy = pop3::leave_policy::delete_after_fetch();
        if (o_.keep)
            policy = o_.delete_after_days
                         ? pop3::leave_policy::delete_older_than_days(*o_.delete_after_days)
                         : pop3::leave_policy::keep_forever();
        if (o_.keep || !o_.state_file.empty()) {
            stage_ = stage::opening_state;
            summary_.state_file =
                o_.state_file.empty() ? default_state_file(o_, cred_.user) : o_.state_file;
            state_ = open_state_file(summary_.state_file);
        } else {
            state_ = state_in_memory();
        }

        open_session();
        stage_ = stage::listing;
        pop3::fetch_options options;
        if (o_.max) options.max_messages = *o_.max;
        // After a storage failure, still DELE what was stored and QUIT. Without a state
        // file that is what keeps those messages from being fetched a second time.
        options.quit_after_failure = true;
        options.progress = [this](const pop3::fetch_progress& p) { on_progress(p); };
        // Group commit: a Maildir makes --batch messages durable and recorded at once. An
        // mbox records each message alone: after a crash it can only recognise its last
        // message as already stored, so it must never have more than one unrecorded.
        options.batch.max_messages = dest_->batches() ? o_.batch : 1;
        pop3::error_code ec;
        stop_if_signalled();
        interruptible_delivery delivery(*dest_);
        const auto result = pop3::fetch_new(*client_, *state_, policy, delivery, options, ec);
        progress_.finish();
        record_result(result);
        switch (result.failed_stage) {
        case pop3::fetch_stage::none: break;
        case pop3::fetch_stage::store:
            throw storage_error(result.error,
                                "cannot update the state file " + summary_.state_file);
        case pop3::fetch_stage::delivery:
            dest_->rethrow_failure();        // names the file and the operation
            throw pop3::error(result.error); // a signal refused the next message
        case pop3::fetch_stage::session: throw pop3::error(result.error);
        }
        report_summary();
        return summary_.failed != 0 ? exit_code::server : exit_code::ok;
    }

    /// fetch_new's progress: the bar, and a report for every finished message.
    void on_progress(const pop3::fetch_progress& p)
    {
        if (!fetching_) {
            fetching_ = true;
            stage_ = stage::fetching;
            progress_ = progress_bar(p.messages_total != 0 && !o_.quiet && !o_.json && !o_.trace &&
                                     !o_.no_progress && progress_bar::stderr_is_terminal());
            progress_.start(static_cast<std::uint32_t>(p.messages_total), p.bytes_total);
        }
        if (p.message) {
            if (p.error) {
                ++failures_reported_;
                message_failed(p.message->number, p.message->uid, p.error, "fetched");
            } else {
                message_stored(*p.message, p.message_bytes);
            }
        }
        progress_.update(static_cast<std::uint32_t>(p.messages_done), p.bytes_done);
        if (p.messages_done == p.messages_total) stage_ = stage::deleting;
    }

    /// A message is durably stored and recorded: now (and only now) it may be deleted.
    void message_stored(const pop3::fetched_message_info& m, std::uint64_t bytes)
    {
        ++summary_.fetched;
        summary_.bytes += bytes;
        if (!out_.json()) return;
        json::object obj;
        obj.add("type", "fetched").add("number", m.number).add("uid", m.uid);
        obj.add("size", bytes).add("path", dest_->take_location(m.number));
        out_.record(obj);
    }

    /// A message the server refused to hand out (`what` "fetched") or to delete
    /// ("deleted"): reported, counted, and the run goes on.
    void message_failed(pop3::message_number number, std::string_view uid,
                        const pop3::error_code& ec, const char* what)
    {
        ++summary_.failed;
        const auto cls = classify(ec);
        const std::string text = "message " + std::to_string(number) + " (UID " + printable(uid) +
                                 ") could not be " + what + ": " + ec.message();
        progress_.finish();
        std::fprintf(stderr, "pop3-fetch: %s\n", text.c_str());
        if (out_.json()) {
            json::object obj;
            obj.add("type", "message_error").add("number", number).add("uid", uid);
            obj.add("category", cls.category).add("message", ec.message());
            out_.record(obj);
        }
    }

    /// The counts, the warnings about the listing, the refused DELEs and what QUIT
    /// deleted (only when the server confirmed it).
    void record_result(const pop3::fetch_result& r)
    {
        summary_.on_server = static_cast<std::uint32_t>(r.listed);
        summary_.fresh = static_cast<std::uint32_t>(r.pending);
        summary_.deferred = static_cast<std::uint32_t>(r.deferred);
        summary_.deleted = static_cast<std::uint32_t>(r.deleted);
        for (const auto& d : r.duplicates)
            out_.warn("message " + std::to_string(d.number) + " shares its UID " +
                      printable(d.uid) +
                      " with another message; skipped (the server's UIDs are not unique)");
        if (r.skipped_invalid != 0)
            out_.warn(std::to_string(r.skipped_invalid) +
                      " message(s) with an unusable UID skipped");
        // The RETR failures were reported as they happened; the rest are refused DELEs.
        for (auto i = failures_reported_; i < r.failures.size(); ++i)
            message_failed(r.failures[i].number, r.failures[i].uid, r.failures[i].error, "deleted");
        if (!out_.json()) return;
        for (const auto& m : r.deleted_messages) {
            json::object obj;
            obj.add("type", "deleted").add("number", m.number).add("uid", m.uid);
            out_.record(obj);
        }
    }

    void report_summary()
    {
        const auto& s = summary_;
        std::string text;
        if (s.fetched == 0 && s.failed == 0) {
            text = "0 new messages";
            if (s.on_server != 0)
                text += " (" + std::to_string(s.on_server) + " on the server" +
                        (o_.keep ? ", all fetched before)" : ")");
        } else {
            text = std::to_string(s.fetched) + " new message" + (s.fetched == 1 ? "" : "s") +
                   " fetched (" + human_bytes(static_cast<double>(s.bytes)) + ") into " +
                   dest_->describe();
            if (s.deferred != 0)
                text += "; " + std::to_string(s.deferred) + " more left for the next run (--max)";
            if (s.failed != 0) text += "; " + std::to_string(s.failed) + " failed";
        }
        if (s.deleted != 0) text += "; " + std::to_string(s.deleted) + " deleted on the server";
        else if (o_.keep && s.fetched != 0) text += "; kept on the server";
        out_.say(text);
    }

    // ---- errors --------------------------------------------------------------------------

    /// What the run is doing, for messages.
    std::string stage_text() const
    {
        switch (stage_) {
        case stage::starting: return "starting";
        case stage::opening_destination: return "opening the destination";
        case stage::opening_state: return "opening the state file";
        case stage::loading_ca: return "loading the CA certificates";
        case stage::connecting: return "connecting to " + o_.host + " port " + o_.port;
        case stage::logging_in: return "logging in as " + cred_.user;
        case stage::listing_sizes: return "listing the messages (LIST)";
        case stage::listing_uids: return "listing unique IDs (UIDL)";
        case stage::listing: return "listing the messages (UIDL, LIST)";
        case stage::fetching: return "fetching messages (RETR)";
        case stage::deleting: return "marking messages for deletion (DELE) and logging out (QUIT)";
        case stage::quitting: return "logging out (QUIT)";
        }
        return "running";
    }

    failure describe(const std::exception_ptr& ep)
    {
        failure f;
        if (g_signal != 0) { // whatever the signal made fail
            const int signo = g_signal;
            f.cls = {static_cast<exit_code>(128 + signo), "interrupted"};
            f.message = std::string("interrupted by ") + signal_name(signo) + " while " +
                        stage_text() +
                        ": every message reported as fetched is stored; the rest stays on "
                        "the server for the next run";
            return f;
        }
        try {
            std::rethrow_exception(ep);
        } catch (const usage_error& e) {
            f.cls = {exit_code::usage, "usage"};
            f.message = e.what();
        } catch (const tls_mode_error& e) {
            f.cls = {exit_code::tls, "tls"};
            f.message = stage_text() + ": " + e.what();
        } catch (const storage_error& e) {
            f.cls = {exit_code::storage, "storage"};
            f.message = e.what();
        } catch (const pop3::error& e) {
            const auto& r = e.reply();
            f.cls = classify(e.code());
            if (is_certificate_error(e.code())) {
                // Here `detail` is the local verifier's reason, not the server's word.
                f.message = error_text(e.code(), r.detail);
            } else {
                f.message = error_text(e.code(), {});
                if (!r.text.empty() || !r.code.text.empty())
                    f.server_response =
                        (r.code.text.empty() ? "" : "[" + r.code.text + "] ") + r.text;
                if (!r.detail.empty()) f.server_response += " (" + r.detail + ")";
            }
        } catch (const pop3::system_error& e) { // from Asio, e.g. a CA file it cannot load
            f.cls = stage_ == stage::loading_ca ? error_class{exit_code::tls, "tls"}
                                                : classify(e.code());
            f.message = error_text(e.code(), {});
        } catch (const std::exception& e) {
            f.cls = {exit_code::failure, "internal"};
            f.message = (stage_ == stage::starting ? std::string() : stage_text() + ": ") +
                        "internal error: " + e.what() + "; please report it";
        }
        return f;
    }

    /// The stage, what happened and what to do; `verify_reason`: why the certificate
    /// check failed, in the TLS library's words (empty: not known).
    std::string error_text(const pop3::error_code& ec, const std::string& verify_reason)
    {
        hint_context at;
        at.connecting = stage_ == stage::connecting;
        at.verify_reason = verify_reason;
        if (client_) at.offered = client_->offered_auth_methods();
        at.not_tls_either = not_tls_either_;
        std::string text = stage_text() + ": " + what_happened(ec);
        const auto h = hint(ec, o_, at);
        if (!h.empty()) text += " -- " + h;
        return text;
    }

    const options& o_;
    reporter& out_;
    credentials cred_;
    stage stage_ = stage::starting;
    net::io_context ioc_;
    std::optional<net::ssl::context> tls_context_;
    std::optional<tls_client> client_;
    std::unique_ptr<destination> dest_;
    std::unique_ptr<pop3::uid_store> state_;
    progress_bar progress_;
    bool fetching_ = false;             ///< the first progress report came
    bool not_tls_either_ = false;       ///< connect's TLS probe of a silent port failed
    std::size_t failures_reported_ = 0; ///< RETR failures reported through the progress
    summary summary_;
};

} // namespace
} // namespace pop3_fetch

int main(int argc, char** argv)
{
    using namespace pop3_fetch;
    // A closed stdout (`pop3-fetch --stdout | head`) must be a write error (exit code 7,
    // nothing deleted, a clean QUIT), not death by SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    install_signal_handlers();
    options o;
    try {
        o = parse_options(argc, argv);
    } catch (const usage_error& e) {
        std::fprintf(stderr, "pop3-fetch: %s\nTry 'pop3-fetch --help'.\n", e.what());
        return static_cast<int>(exit_code::usage);
    }
    if (o.help) {
        std::fputs(help_text(), stdout);
        return 0;
    }
    if (o.version) {
        std::printf("pop3-fetch %s\n", POP3_FETCH_VERSION);
        return 0;
    }
    try {
        reporter out(o);
        runner r(o, out);
        return static_cast<int>(r.run());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "pop3-fetch: internal error: %s\n", e.what());
        return static_cast<int>(exit_code::failure);
    }
}
