// pop3-fetch: command line options, --help text and exit codes.
#ifndef POP3_FETCH_OPTIONS_HPP
#define POP3_FETCH_OPTIONS_HPP

#include <pop3/auth.hpp>
#include <pop3/client.hpp>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pop3_fetch {

/// The process exit codes; documented in --help (keep the two in step).
enum class exit_code : int {
    ok = 0,             ///< success, also when there was nothing new
    failure = 1,        ///< an unexpected internal error
    usage = 2,          ///< bad command line, or no password found
    authentication = 3, ///< credentials refused, or no usable authentication mechanism
    tls = 4,            ///< TLS or certificate failure; TLS required but not offered
    network = 5,        ///< cannot resolve/connect, connection lost, timeout
    server = 6,         ///< the server answered -ERR or broke the protocol
    storage = 7,        ///< cannot write the Maildir, mbox, state file or standard output
    // 128 + N: stopped by signal N (SIGINT, SIGTERM, SIGHUP)
};

/// A command line the tool cannot run with (exit code 2).
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct options {
    std::string host;
    std::string port; ///< empty: 995 for implicit TLS, else 110
    std::string user;
    std::string password_file;
    std::string netrc_file; ///< empty: $HOME/.netrc
    std::optional<pop3::tls_mode> tls;
    std::string cafile;
    std::string capath;
    bool insecure = false;
    bool allow_plaintext = false;
    pop3::auth_method auth = pop3::auth_method::automatic;
    std::string maildir;
    std::string mbox;
    bool to_stdout = false;
    bool keep = false;
    std::string state_file;
    std::optional<std::uint32_t> delete_after_days;
    bool list = false;
    bool json = false;
    std::optional<std::uint32_t> max;
    std::uint32_t batch = 64; ///< --batch: Maildir messages made durable and recorded together
    std::optional<std::uint32_t> timeout_seconds;
    bool trace = false;
    bool quiet = false;
    bool no_progress = false;
    bool help = false;
    bool version = false;

    bool oauth() const noexcept
    {
        return auth == pop3::auth_method::xoauth2 || auth == pop3::auth_method::oauthbearer;
    }
    pop3::tls_mode tls_mode() const noexcept { return tls.value_or(pop3::tls_mode::implicit); }
};

inline const char* help_text()
{
    return R"(Usage: pop3-fetch --host HOST [options] (--maildir DIR | --mbox FILE | --stdout | --list)

Fetches mail from a POP3 server into a Maildir, an mbox file or standard output.
Without --keep every message is deleted on the server once it is durably stored.
Messages stream to the destination: memory use does not grow with their size. The server
must support unique IDs (UIDL), as practically every server does.

Server and account:
  --host HOST            server name or address (required)
  --port N               default 995 with --tls implicit, else 110
  --user USER            user name (default: the login of the matching ~/.netrc entry)
  --tls MODE             implicit: TLS from the start (POP3S)
                         starttls: plain connect, then STLS; fails if the server
                                   does not offer it (never falls back to plaintext)
                         none:     no TLS
                         default: implicit on port 995 (or without --port), else starttls
  --cafile FILE          trust the CA certificates in FILE (PEM) instead of the system store
  --capath DIR           also trust the hashed CA certificates in DIR
  --insecure             do not verify the server certificate (anyone can impersonate the
                         server: testing only; prints a warning)
  --allow-plaintext      permit sending the password (or a password equivalent) over an
                         unencrypted connection; without it, no TLS means SCRAM only
  --auth METHOD          auto (default: the strongest the server offers and the policy
                         allows), user, apop, plain, login, cram-md5, scram-sha-1,
                         scram-sha-256, xoauth2, oauthbearer
  --password-file FILE   read the password (or OAuth token) from the first line of FILE
  --netrc-file FILE      read credentials from FILE instead of ~/.netrc

  The secret (password, or the OAuth 2.0 access token for xoauth2/oauthbearer) comes from,
  in this order: --password-file, the environment variable POP3_PASSWORD, the netrc entry
  "machine HOST" (or "default") whose login is USER. It is never taken from the command line.

Where mail goes (exactly one, unless --list):
  --maildir DIR          deliver into the Maildir DIR (created if missing): each message is
                         written to DIR/tmp, fsync'ed, moved to DIR/new; bytes as sent by
                         the server (CRLF line ends)
  --mbox FILE            append to FILE in mboxrd format: a "From SENDER DATE" line, CRLF
                         turned into LF, lines matching ^>*From  get one more '>', an empty
                         line after each message; locked with fcntl and flock, fsync'ed
  --stdout               write the messages to standard output, in the mbox format above; a
                         message counts as stored once written (add --keep if the reader
                         may fail)

What to fetch and what to delete:
  --keep                 leave the mail on the server; remember what was fetched in the
                         state file and fetch only new messages next time
  --state FILE           the state file (with --keep the default is
                         DIR/.pop3-fetch-USER@HOST.state for --maildir,
                         FILE.pop3-fetch-USER@HOST.state for --mbox; --stdout --keep needs
                         --state). Without --keep there is no state file unless this names
                         one: messages are deleted when the session ends, and if a run is
                         interrupted after storing some but before that, the next run fetches
                         them again; with --state it finds them stored and only deletes them
  --delete-after DAYS    with --keep: delete a message on the server once it was first
                         fetched at least DAYS days ago (0: right after storing it); implies --keep
  --max N                fetch at most N new messages in this run (oldest first); the rest
                         stay on the server, untouched, for the next run
  --batch N              Maildir: make N messages durable and record them together (group
                         commit; 1-256, default 64). A crash re-fetches at most one batch,
                         each message found already stored, never stored twice
  --list                 only list the messages: number, size in octets, UID

Output:
  --json                 machine-readable output on stdout: one JSON object per line (JSON
                         Lines), each with a "type": "message" (--list), "fetched",
                         "deleted", "message_error", and always last exactly one "summary"
                         with "ok", "exit_code" and, on failure, "error" {"category",
                         "message", "server_response"}. Human-readable errors and warnings
                         still go to stderr. Cannot be combined with --stdout.
  --trace                log the protocol on stderr (passwords and tokens are redacted)
  --timeout S            give up when connecting takes longer than S seconds, or when the
                         server is silent for S seconds (default 30 / 60; 0: wait forever)
  --quiet, -q            no progress bar and no summary line
  --no-progress          no progress bar (it is only shown when stderr is a terminal)
  --help, -h             this text
  --version              the version

Exit codes:
  0  success (also when there was nothing new)
  1  unexpected internal error
  2  usage error: bad option or value, or no password found
  3  authentication failed: credentials refused, or the server does not support the
     --auth method (or offers none that may be used)
  4  TLS failure: certificate not trusted or not for HOST, handshake failed, STLS required
     but not offered, the port speaks another --tls mode, or credentials would be sent
     without TLS (see --allow-plaintext)
  5  network failure: cannot resolve or connect, connection lost, timeout
  6  server error: a -ERR reply (mailbox locked, message vanished, ...) or a reply that
     breaks the POP3 protocol; with some messages failed, the others are still stored
  7  local storage error: cannot write the Maildir, mbox, state file or standard output
     (the message concerned stays on the server)
  128+N  stopped by signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP): the message being
     fetched is dropped, what was stored is deleted as usual (unless the server does not
     let the run end within 5 s, or a second signal comes), and the summary is written
)";
}

namespace detail {

inline std::uint32_t parse_number(std::string_view option, const std::string& value,
                                  std::uint32_t min, std::uint32_t max)
{
    if (value.empty() || value.size() > 10 ||
        value.find_first_not_of("0123456789") != std::string::npos)
        throw usage_error(std::string(option) + " needs a number, got '" + value + "'");
    const auto n = std::stoull(value);
    if (n < min || n > max)
        throw usage_error(std::string(option) + " must be between " + std::to_string(min) +
                          " and " + std::to_string(max) + ", got " + value);
    return static_cast<std::uint32_t>(n);
}

inline pop3::tls_mode parse_tls(const std::string& v)
{
    if (v == "implicit") return pop3::tls_mode::implicit;
    if (v == "starttls" || v == "stls") return pop3::tls_mode::starttls;
    if (v == "none") return pop3::tls_mode::none;
    throw usage_error("--tls must be implicit, starttls or none, got '" + v + "'");
}

inline pop3::auth_method parse_auth(const std::string& value)
{
    using m = pop3::auth_method;
    static const std::pair<const char*, m> names[] = {
        {"auto", m::automatic},
        {"user", m::user},
        {"apop", m::apop},
        {"plain", m::plain},
        {"login", m::login},
        {"cram-md5", m::cram_md5},
        {"scram-sha-1", m::scram_sha_1},
        {"scram-sha-256", m::scram_sha_256},
        {"xoauth2", m::xoauth2},
        {"oauthbearer", m::oauthbearer},
    };
    std::string lower;
    for (char c : value) lower += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    for (const auto& [name, method] : names)
        if (lower == name) return method;
    throw usage_error("unknown --auth method '" + value +
                      "' (auto, user, apop, plain, login, cram-md5, scram-sha-1, scram-sha-256, "
                      "xoauth2, oauthbearer)");
}

} // namespace detail

/// Parses argv. Accepts "--opt VALUE" and "--opt=VALUE".
/// @throws usage_error
inline options parse_options(int argc, char** argv)
{
    options o;
    const std::vector<std::string> args(argv + 1, argv + argc);
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string name = args[i];
        std::optional<std::string> inline_value;
        if (name.rfind("--", 0) == 0) {
            const auto eq = name.find('=');
            if (eq != std::string::npos) {
                inline_value = name.substr(eq + 1);
                name.resize(eq);
            }
        }
        auto value = [&]() -> std::string {
            if (inline_value) return *inline_value;
            if (i + 1 >= args.size()) throw usage_error(name + " needs a value");
            return args[++i];
        };

        using bool_member = bool options::*;
        static const std::pair<const char*, bool_member> flags[] = {
            {"--insecure", &options::insecure},
            {"--allow-plaintext", &options::allow_plaintext},
            {"--stdout", &options::to_stdout},
            {"--keep", &options::keep},
            {"--list", &options::list},
            {"--json", &options::json},
            {"--trace", &options::trace},
            {"--quiet", &options::quiet},
            {"-q", &options::quiet},
            {"--no-progress", &options::no_progress},
            {"--help", &options::help},
            {"-h", &options::help},
            {"--version", &options::version},
        };
        using setter = void (*)(options&, const std::string& name, const std::string& value);
        using s = const std::string&;
        static const std::pair<const char*, setter> with_value[] = {
            {"--host", [](options& opt, s, s v) { opt.host = v; }},
            {"--port",
             [](options& opt, s n, s v) {
                 opt.port = std::to_string(detail::parse_number(n, v, 1, 65535));
             }},
            {"--user", [](options& opt, s, s v) { opt.user = v; }},
            {"--password-file", [](options& opt, s, s v) { opt.password_file = v; }},
            {"--netrc-file", [](options& opt, s, s v) { opt.netrc_file = v; }},
            {"--tls", [](options& opt, s, s v) { opt.tls = detail::parse_tls(v); }},
            {"--cafile", [](options& opt, s, s v) { opt.cafile = v; }},
            {"--capath", [](options& opt, s, s v) { opt.capath = v; }},
            {"--auth", [](options& opt, s, s v) { opt.auth = detail::parse_auth(v); }},
            {"--maildir", [](options& opt, s, s v) { opt.maildir = v; }},
            {"--mbox", [](options& opt, s, s v) { opt.mbox = v; }},
            {"--state", [](options& opt, s, s v) { opt.state_file = v; }},
            {"--delete-after",
             [](options& opt, s n, s v) {
                 opt.delete_after_days = detail::parse_number(n, v, 0, 100000);
             }},
            {"--max",
             [](options& opt, s n, s v) { opt.max = detail::parse_number(n, v, 1, 0xFFFFFFFFu); }},
            {"--batch",
             [](options& opt, s n, s v) { opt.batch = detail::parse_number(n, v, 1, 256); }},
            {"--timeout", [](options& opt, s n,
                             s v) { opt.timeout_seconds = detail::parse_number(n, v, 0, 86400); }},
        };

        bool known = false;
        for (const auto& [flag_name, member] : flags) {
            if (name != flag_name) continue;
            if (inline_value) throw usage_error(name + " takes no value");
            o.*member = true;
            known = true;
        }
        for (const auto& [option_name, set] : with_value) {
            if (name != option_name) continue;
            set(o, name, value());
            known = true;
        }
        if (o.help || o.version) return o;
        if (known) continue;
        if (name == "--password" || name == "--pass")
            throw usage_error(name + " is not supported: a password on the command line is visible "
                                     "to every user of this machine; use POP3_PASSWORD, "
                                     "--password-file or ~/.netrc");
        else if (!name.empty() && name[0] == '-') throw usage_error("unknown option " + name);
        else throw usage_error("unexpected argument '" + name + "'");
    }

    // ---- consistency ----
    if (o.host.empty()) throw usage_error("--host is required");
    if (o.delete_after_days) o.keep = true;
    const int destinations = !o.maildir.empty() + !o.mbox.empty() + o.to_stdout;
    if (o.list) {
        if (destinations != 0)
            throw usage_error("--list only lists; drop --maildir/--mbox/--stdout");
        if (o.keep || !o.state_file.empty())
            throw usage_error("--list does not fetch; drop --keep/--delete-after/--state");
    } else {
        if (destinations == 0)
            throw usage_error("say where mail goes: --maildir DIR, --mbox FILE or --stdout");
        if (destinations > 1) throw usage_error("give only one of --maildir, --mbox and --stdout");
    }
    if (o.to_stdout && o.keep && o.state_file.empty())
        throw usage_error(
            "--stdout --keep needs --state FILE (there is no destination to keep it in)");
    if (o.json && o.to_stdout)
        throw usage_error("--json and --stdout both write to standard output");
    if (o.insecure && o.tls == pop3::tls_mode::none)
        throw usage_error("--insecure makes no sense with --tls none");
    // Default TLS mode from the port: 995 is POP3S; any other port is plain POP3 + STLS.
    if (!o.tls)
        o.tls = (o.port.empty() || o.port == "995") ? pop3::tls_mode::implicit
                                                    : pop3::tls_mode::starttls;
    if (o.port.empty()) o.port = *o.tls == pop3::tls_mode::implicit ? "995" : "110";
    return o;
}

} // namespace pop3_fetch

#endif // POP3_FETCH_OPTIONS_HPP
