// pop3/leave_on_server/sqlite_uid_store.hpp: `pop3::sqlite_uid_store`, the UID store in an
// SQLite 3 database, many accounts per file, optionally on the application's own connection.
//
// OPTIONAL: this header needs <sqlite3.h> and the sqlite3 library (CMake: link `pop3::sqlite`).
// Nothing else in the library includes it, so the core stays Asio + OpenSSL only.
#ifndef POP3_LEAVE_ON_SERVER_SQLITE_UID_STORE_HPP
#define POP3_LEAVE_ON_SERVER_SQLITE_UID_STORE_HPP

#include <pop3/exception.hpp>
#include <pop3/leave_on_server/store.hpp>

#include <sqlite3.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#if !defined(_WIN32)
#include <csignal>
#include <sys/types.h>
#include <unistd.h>
#endif

namespace pop3 {

namespace detail {

class sqlite_category_impl final : public error_category_base {
public:
    using error_category_base::message; // Boost's has a buffer overload too
    const char* name() const noexcept override { return "pop3.sqlite"; }
    std::string message(int value) const override
    {
        return std::string("SQLite: ") + ::sqlite3_errstr(value);
    }
};

} // namespace detail

/// The category of SQLite result codes (the value is the extended result code), named
/// "pop3.sqlite". `sqlite_uid_store` reports SQLite errors in it, except those that have a
/// `store_errc` of their own (see `sqlite_uid_store`).
inline const error_category_base& sqlite_category() noexcept
{
    static const detail::sqlite_category_impl instance;
    return instance;
}

/// Tuning of `sqlite_uid_store`.
struct sqlite_store_options {
    /// How long a statement waits for another connection's write transaction to end before
    /// failing with SQLITE_BUSY. Never used to wait for the account lock (that fails at once).
    std::chrono::milliseconds busy_timeout{5000};
};

/// A UID store in an SQLite 3 database: any number of accounts in one file, each store
/// object serving one account.
///
/// Schema. `pop3_uids` holds the entries, keyed by (account, uid); `pop3_locks` the account
/// locks; `pop3_schema` the schema version. The version is kept in a table of its own, not
/// in `PRAGMA user_version`, because the database may be the application's, whose
/// user_version is its own. `open` creates the tables, migrates an older schema, and refuses
/// a newer one with `store_errc::unsupported_version` (the file is left untouched).
///
/// Durability. A store that opens the file itself sets WAL mode and `synchronous=FULL`, so a
/// committed `apply` survives power loss. Each `apply` is one `BEGIN IMMEDIATE ... COMMIT`.
/// On the application's own connection (`open(sqlite3*, ...)`) the journal mode is the
/// application's; when that connection is inside a transaction, `apply` runs in a SAVEPOINT
/// of it instead, so storing a message and recording its UID commit (or roll back) together.
///
/// Locking. The account lock is a row in `pop3_locks` (account, pid, host, token), inserted
/// in its own transaction by `open` and deleted by `close`. A second store for the same
/// account (another process, or another object in this one) finds the row and fails at once
/// with `store_errc::locked`. SQLite's own file locks cannot do this: they lock the whole
/// database and only for the length of a transaction, not per account for a whole run. A
/// row outlives a crashed process, so a row whose holder ran on this host under a pid that
/// no longer exists is taken over. "This host" is the host name plus the pid namespace
/// (Linux: /proc/self/ns/pid), so two containers that share the file and a host name but
/// not their pids never judge each other's pids. A row of another host is never taken
/// over: remove it by hand if that host died (SQLite over a network file system is not
/// supported by SQLite anyway). A recycled pid keeps a stale lock alive until that process
/// ends: a false "locked", never two writers.
///
/// UIDs are stored as BLOBs, so any byte string `is_storable_uid` accepts round-trips.
/// Reads go to the database (nothing is cached), so they see the application's uncommitted
/// changes on its connection and nothing of a transaction it rolled back.
///
/// SQLite errors: SQLITE_NOTADB is `store_errc::not_a_store`, SQLITE_CORRUPT
/// `store_errc::corrupt`, a foreign table of the same name `store_errc::not_a_store`; any
/// other is its extended result code in `sqlite_category()`. `last_error_message()` keeps
/// SQLite's own message of the last failure. Not thread-safe; neither copyable nor movable.
class sqlite_uid_store final : public uid_store {
public:
    /// The schema version this library writes and reads.
    static constexpr int schema_version = 1;

    /// A store that is not open; call `open`.
    sqlite_uid_store() = default;

    /// Opens the store of `account` in the database file `path`. @throws pop3::error
    sqlite_uid_store(const std::string& path, std::string_view account,
                     const sqlite_store_options& options = {})
    {
        error_code ec;
        open(path, account, ec, options);
        if (ec) throw pop3::error(ec);
    }

    sqlite_uid_store(const sqlite_uid_store&) = delete;
    sqlite_uid_store& operator=(const sqlite_uid_store&) = delete;

    ~sqlite_uid_store() override { close(); }

    /// Opens (creating when missing) the database file `path` on a connection of the
    /// store's own, creates or migrates the schema, and takes the lock of `account`. A store
    /// that was open is closed first; on error the store is left closed.
    ///
    /// ```
    /// pop3::sqlite_uid_store store;
    /// pop3::error_code ec;
    /// store.open("/var/lib/fetch/state.db", "alice@pop.example.com", ec);
    /// if (ec == pop3::store_errc::locked) return; // another run for this account
    /// ```
    /// @param path the database file (created when missing; `-wal`/`-shm` files beside it)
    /// @param account the account whose entries the store serves: any string, e.g.
    ///                "user@host"; one database holds any number of accounts
    /// @param ec store_errc::locked, unsupported_version, not_a_store, corrupt, or an SQLite
    ///           code in `sqlite_category()`
    /// @param options the busy timeout
    void open(const std::string& path, std::string_view account, error_code& ec,
              const sqlite_store_options& options = {})
    {
        close();
        ec = {};
        sqlite3* db = nullptr;
        const int rc = ::sqlite3_open_v2(path.c_str(), &db,
                                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
        db_ = db;
        owns_db_ = true;
        if (rc != SQLITE_OK) {
            ec = fail(rc);
            return close();
        }
        ::sqlite3_extended_result_codes(db_, 1);
        ::sqlite3_busy_timeout(db_, static_cast<int>(options.busy_timeout.count()));
        // journal_mode reads the file: a foreign file fails here with SQLITE_NOTADB.
        if ((ec = exec("PRAGMA journal_mode=WAL")) || (ec = exec("PRAGMA synchronous=FULL")))
            return close();
        start(account, ec);
    }

    /// Opens the store of `account` on the application's connection `db` (not owned: it
    /// must outlive the store, and is not closed by it). `db` must not be inside a
    /// transaction while `open` and `close` run (they commit the lock row on their own).
    /// Errors as for the other `open`.
    void open(sqlite3* db, std::string_view account, error_code& ec)
    {
        close();
        ec = {};
        db_ = db;
        owns_db_ = false;
        if (db_ == nullptr || ::sqlite3_get_autocommit(db_) == 0) {
            ec = fail(SQLITE_MISUSE, "the connection is null or inside a transaction");
            return close();
        }
        start(account, ec);
    }

    /// Releases the account lock and, when the store opened the file, closes it. Does
    /// nothing when not open.
    void close() noexcept
    {
        if (locked_) {
            // Best effort: if this fails, the row is taken over once this process is gone.
            error_code ignored;
            statement unlock =
                prepare("DELETE FROM pop3_locks WHERE account = ?1 AND token = ?2", ignored);
            if (!ignored) {
                bind_text(unlock, 1, account_);
                bind_text(unlock, 2, token_);
                (void)::sqlite3_step(unlock.get());
            }
            locked_ = false;
        }
        find_ = {};
        upsert_ = {};
        erase_ = {};
        count_ = {};
        if (owns_db_ && db_ != nullptr) ::sqlite3_close(db_);
        db_ = nullptr;
        owns_db_ = false;
    }

    /// True between a successful `open` and `close`.
    bool is_open() const noexcept { return locked_; }

    /// The account this store serves (empty when not open).
    const std::string& account() const noexcept { return account_; }

    /// SQLite's message (or the store's) for the last error; empty when none happened.
    const std::string& last_error_message() const noexcept { return last_error_; }

    /// The number of entries of the account (0 when not open or on error).
    std::size_t size() const noexcept override
    {
        if (!locked_) return 0;
        ::sqlite3_reset(count_.get());
        std::size_t n = 0;
        if (::sqlite3_step(count_.get()) == SQLITE_ROW)
            n = static_cast<std::size_t>(::sqlite3_column_int64(count_.get(), 0));
        ::sqlite3_reset(count_.get());
        return n;
    }

protected:
    std::optional<uid_entry> do_find(std::string_view uid, error_code& ec) const override
    {
        if (!locked_) {
            ec = store_errc::not_open;
            return std::nullopt;
        }
        sqlite3_stmt* s = find_.get();
        ::sqlite3_reset(s);
        bind_blob(find_, 2, uid);
        const int rc = ::sqlite3_step(s);
        std::optional<uid_entry> out;
        if (rc == SQLITE_ROW) out = read_entry(s, 0);
        else if (rc != SQLITE_DONE) ec = fail(rc);
        ::sqlite3_reset(s);
        return out;
    }

    void do_for_each(const std::function<void(std::string_view, const uid_entry&)>& f,
                     error_code& ec) const override
    {
        if (!locked_) return void(ec = store_errc::not_open);
        // A statement of its own per call: `f` may call `find`, and nested for_each works.
        statement each = prepare("SELECT uid, first_seen, stored, deleted_locally, "
                                 "vanished_since FROM pop3_uids WHERE account = ?1",
                                 ec);
        if (ec) return;
        bind_text(each, 1, account_);
        int rc = SQLITE_ROW;
        while ((rc = ::sqlite3_step(each.get())) == SQLITE_ROW) {
            const auto* bytes = static_cast<const char*>(::sqlite3_column_blob(each.get(), 0));
            const auto n = static_cast<std::size_t>(::sqlite3_column_bytes(each.get(), 0));
            f(std::string_view(bytes == nullptr ? "" : bytes, n), read_entry(each.get(), 1));
        }
        if (rc != SQLITE_DONE) ec = fail(rc);
    }

    void do_apply(const std::vector<uid_change>& changes, error_code& ec) override
    {
        if (!locked_) return void(ec = store_errc::not_open);
        // Inside the application's transaction: a savepoint, committed by the application.
        const bool nested = ::sqlite3_get_autocommit(db_) == 0;
        if ((ec = exec(nested ? "SAVEPOINT pop3_apply" : "BEGIN IMMEDIATE"))) return;
        for (const auto& c : changes) {
            const statement& s = c.entry ? upsert_ : erase_;
            ::sqlite3_reset(s.get());
            bind_blob(s, 2, c.uid);
            if (c.entry) {
                const auto& e = *c.entry;
                ::sqlite3_bind_int64(s.get(), 3, e.first_seen.time_since_epoch().count());
                ::sqlite3_bind_int(s.get(), 4, e.stored ? 1 : 0);
                ::sqlite3_bind_int(s.get(), 5, e.deleted_locally ? 1 : 0);
                if (e.vanished_since)
                    ::sqlite3_bind_int64(s.get(), 6, e.vanished_since->time_since_epoch().count());
                else ::sqlite3_bind_null(s.get(), 6);
            }
            const int rc = ::sqlite3_step(s.get());
            ::sqlite3_reset(s.get());
            if (rc != SQLITE_DONE) {
                ec = fail(rc);
                break;
            }
        }
        if (!ec) ec = exec(nested ? "RELEASE pop3_apply" : "COMMIT");
        if (ec) {
            // SQLite may have rolled back already (an I/O error does); then these fail.
            if (nested) {
                (void)::sqlite3_exec(db_, "ROLLBACK TO pop3_apply", nullptr, nullptr, nullptr);
                (void)::sqlite3_exec(db_, "RELEASE pop3_apply", nullptr, nullptr, nullptr);
            } else if (::sqlite3_get_autocommit(db_) == 0) {
                (void)::sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
            }
        }
    }

private:
    struct finalizer {
        void operator()(sqlite3_stmt* s) const noexcept { ::sqlite3_finalize(s); }
    };
    using statement = std::unique_ptr<sqlite3_stmt, finalizer>;

    // Creates or checks the schema, takes the lock, prepares the statements.
    void start(std::string_view account, error_code& ec)
    {
        account_ = std::string(account);
        if ((ec = migrate())) return close();
        if ((ec = take_lock())) return close();
        locked_ = true;
        const auto entry_key = std::string(" WHERE account = ?1 AND uid = ?2");
        find_ = prepare("SELECT first_seen, stored, deleted_locally, vanished_since "
                        "FROM pop3_uids" +
                            entry_key,
                        ec);
        if (!ec)
            upsert_ = prepare("INSERT OR REPLACE INTO pop3_uids (account, uid, first_seen, "
                              "stored, deleted_locally, vanished_since) "
                              "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                              ec);
        if (!ec) erase_ = prepare("DELETE FROM pop3_uids" + entry_key, ec);
        if (!ec) count_ = prepare("SELECT count(*) FROM pop3_uids WHERE account = ?1", ec);
        if (ec) {
            ec = foreign_schema_if_missing_column(ec);
            return close();
        }
        for (const statement* s : {&find_, &upsert_, &erase_, &count_}) bind_text(*s, 1, account_);
    }

    // In one IMMEDIATE transaction, so two first opens never both create or migrate.
    error_code migrate()
    {
        if (auto ec = exec("BEGIN IMMEDIATE")) return ec;
        auto ec = exec("CREATE TABLE IF NOT EXISTS pop3_schema (name TEXT PRIMARY KEY, "
                       "version INTEGER NOT NULL)");
        int found = 0;
        if (!ec) {
            statement s = prepare("SELECT version FROM pop3_schema WHERE name = 'uids'", ec);
            if (!ec) {
                const int rc = ::sqlite3_step(s.get());
                if (rc == SQLITE_ROW) found = ::sqlite3_column_int(s.get(), 0);
                else if (rc != SQLITE_DONE) ec = fail(rc);
            }
        }
        if (!ec && found > schema_version) {
            ec = fail_with(store_errc::unsupported_version,
                           "the database's pop3 schema version is " + std::to_string(found) +
                               ", newer than this library's " + std::to_string(schema_version) +
                               "; upgrade the library");
        }
        // Version 1 is the first: migrations from it go here as `if (found < 2) ...`.
        if (!ec && found < 1) {
            ec = exec("CREATE TABLE IF NOT EXISTS pop3_uids (account TEXT NOT NULL, uid BLOB "
                      "NOT NULL, first_seen INTEGER NOT NULL, stored INTEGER NOT NULL, "
                      "deleted_locally INTEGER NOT NULL, vanished_since INTEGER, "
                      "PRIMARY KEY (account, uid)) WITHOUT ROWID");
            if (!ec)
                ec = exec("CREATE TABLE IF NOT EXISTS pop3_locks (account TEXT PRIMARY KEY, "
                          "pid INTEGER NOT NULL, host TEXT NOT NULL, token TEXT NOT NULL)");
        }
        if (!ec && found < schema_version)
            ec = exec("INSERT OR REPLACE INTO pop3_schema (name, version) VALUES ('uids', " +
                      std::to_string(schema_version) + ")");
        if (!ec) ec = exec("COMMIT");
        if (ec) (void)::sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        return ec;
    }

    error_code take_lock()
    {
        token_ = random_token();
        const std::string host = host_name();
        if (auto ec = exec("BEGIN IMMEDIATE")) return ec;
        error_code ec;
        statement holder = prepare("SELECT pid, host FROM pop3_locks WHERE account = ?1", ec);
        if (!ec) {
            bind_text(holder, 1, account_);
            const int rc = ::sqlite3_step(holder.get());
            if (rc == SQLITE_ROW) {
                const auto pid = ::sqlite3_column_int64(holder.get(), 0);
                const auto* h = ::sqlite3_column_text(holder.get(), 1);
                const std::string holder_host = h ? reinterpret_cast<const char*>(h) : "";
                if (holder_host != host || process_alive(pid))
                    ec = fail_with(store_errc::locked,
                                   "account '" + account_ + "' is locked by pid " +
                                       std::to_string(pid) + " on " + holder_host);
            } else if (rc != SQLITE_DONE) {
                ec = fail(rc);
            }
        }
        if (!ec) {
            statement take = prepare("INSERT OR REPLACE INTO pop3_locks (account, pid, host, "
                                     "token) VALUES (?1, ?2, ?3, ?4)",
                                     ec);
            if (!ec) {
                bind_text(take, 1, account_);
                ::sqlite3_bind_int64(take.get(), 2, static_cast<sqlite3_int64>(current_pid()));
                bind_text(take, 3, host);
                bind_text(take, 4, token_);
                const int rc = ::sqlite3_step(take.get());
                if (rc != SQLITE_DONE) ec = fail(rc);
            }
        }
        if (!ec) ec = exec("COMMIT");
        if (ec) (void)::sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        return ec;
    }

    static uid_entry read_entry(sqlite3_stmt* s, int first)
    {
        uid_entry e;
        e.first_seen = uid_time(std::chrono::seconds(::sqlite3_column_int64(s, first)));
        e.stored = ::sqlite3_column_int(s, first + 1) != 0;
        e.deleted_locally = ::sqlite3_column_int(s, first + 2) != 0;
        if (::sqlite3_column_type(s, first + 3) != SQLITE_NULL)
            e.vanished_since = uid_time(std::chrono::seconds(::sqlite3_column_int64(s, first + 3)));
        return e;
    }

    statement prepare(const std::string& sql, error_code& ec) const
    {
        sqlite3_stmt* s = nullptr;
        const int rc = ::sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size() + 1),
                                            SQLITE_PREPARE_PERSISTENT, &s, nullptr);
        if (rc != SQLITE_OK) ec = fail(rc);
        return statement(s);
    }

    error_code exec(const std::string& sql) const
    {
        const int rc = ::sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
        return rc == SQLITE_OK ? error_code{} : fail(rc);
    }

    // Statements referring to a table or column ours does not have: someone else's table.
    error_code foreign_schema_if_missing_column(error_code ec) const
    {
        if (ec.category() == sqlite_category() && (ec.value() & 0xff) == SQLITE_ERROR)
            return fail_with(store_errc::not_a_store,
                             "the database has pop3 tables of a foreign shape: " + last_error_);
        return ec;
    }

    // Keeps SQLite's message and maps the codes that have a store_errc.
    error_code fail(int rc) const
    {
        const char* msg = db_ != nullptr ? ::sqlite3_errmsg(db_) : ::sqlite3_errstr(rc);
        return fail(rc, msg != nullptr ? msg : "");
    }
    error_code fail(int rc, const std::string& message) const
    {
        last_error_ = message;
        switch (rc & 0xff) {
        case SQLITE_NOTADB: return store_errc::not_a_store;
        case SQLITE_CORRUPT: return store_errc::corrupt;
        default: return {rc, sqlite_category()};
        }
    }
    error_code fail_with(store_errc e, const std::string& message) const
    {
        last_error_ = message;
        return e;
    }

    static void bind_text(const statement& s, int index, const std::string& text)
    {
        ::sqlite3_bind_text(s.get(), index, text.data(), static_cast<int>(text.size()),
                            SQLITE_TRANSIENT);
    }
    static void bind_blob(const statement& s, int index, std::string_view bytes)
    {
        // A zero-length blob still binds a BLOB, not NULL (UIDs are never empty anyway).
        ::sqlite3_bind_blob64(s.get(), index, bytes.empty() ? "" : bytes.data(),
                              static_cast<sqlite3_uint64>(bytes.size()), SQLITE_TRANSIENT);
    }

    static std::string random_token()
    {
        std::random_device rd;
        const std::uint64_t r = (std::uint64_t{rd()} << 32) ^ rd();
        return std::to_string(r);
    }

#if !defined(_WIN32)
    static long long current_pid() noexcept
    {
        return static_cast<long long>(::getpid());
    }
    static bool process_alive(long long pid) noexcept
    {
        // EPERM: it exists, owned by someone else.
        return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
    }
    static std::string host_name()
    {
        char buf[256] = {};
        if (::gethostname(buf, sizeof buf - 1) != 0) return "?";
        std::string host = buf;
        // Pids are only comparable inside one pid namespace (containers).
        char ns[128] = {};
        const auto n = ::readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
        if (n > 0) host.append(" ").append(ns, static_cast<std::size_t>(n));
        return host;
    }
#else
    // No liveness check: a stale lock must be removed by hand.
    static long long current_pid() noexcept
    {
        return 0;
    }
    static bool process_alive(long long) noexcept
    {
        return true;
    }
    static std::string host_name()
    {
        return "windows";
    }
#endif

    sqlite3* db_ = nullptr;
    bool owns_db_ = false;
    bool locked_ = false;
    std::string account_;
    std::string token_;
    mutable std::string last_error_;
    statement find_, upsert_, erase_, count_; // prepared once per open
};

} // namespace pop3

#endif // POP3_LEAVE_ON_SERVER_SQLITE_UID_STORE_HPP
