// pop3/uid_store.hpp: where leave-on-server remembers which unique ids (UIDL) it fetched.
//
// `pop3::uid_store` is the interface (keep the state in your own database by implementing
// it); `pop3::file_uid_store` keeps it in one crash-safe journal file per account;
// `pop3::memory_uid_store` keeps it in memory only (tests, dry runs).
#ifndef POP3_UID_STORE_HPP
#define POP3_UID_STORE_HPP

#include <pop3/exception.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#if !defined(_WIN32)
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace pop3 {

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Errors of a UID store (category "pop3.uid_store"). I/O failures of the file store come
/// as system category codes (errno) instead.
enum class store_errc {
    locked = 1,          ///< another process (or object) has the store open: one run at a time
    not_a_store,         ///< the file is not a pop3 UID state file (wrong magic)
    unsupported_version, ///< the file was written by a newer, incompatible version
    corrupt,             ///< the file is damaged (bad checksum or record) before its last record
    invalid_uid,         ///< a UID that is empty, too long, or has bytes below 0x21
    store_failed,        ///< an earlier write or sync failed; the store refuses writes: reopen it
    not_open,            ///< the store object has no open file
};

namespace detail {

class store_category_impl final : public error_category_base {
public:
    using error_category_base::message; // Boost's has a buffer overload too
    const char* name() const noexcept override { return "pop3.uid_store"; }

    std::string message(int value) const override
    {
        switch (static_cast<store_errc>(value)) {
        case store_errc::locked:
            return "the UID state file is in use by another fetch for this account; wait for "
                   "it to finish (only one run per account at a time)";
        case store_errc::not_a_store:
            return "the file is not a pop3 UID state file (wrong magic); check the path, it "
                   "was not modified";
        case store_errc::unsupported_version:
            return "the UID state file was written by a newer version of the library; "
                   "upgrade the library";
        case store_errc::corrupt:
            return "the UID state file is damaged (checksum mismatch before its last record); "
                   "restore it from a backup: deleting it makes the next run fetch every "
                   "message on the server again";
        case store_errc::invalid_uid:
            return "invalid unique id: it must be 1 to 1 MiB bytes in the range 0x21-0xFF";
        case store_errc::store_failed:
            return "an earlier write to the UID state file failed; close and reopen the store "
                   "(reopening recovers the last acknowledged state)";
        case store_errc::not_open:
            return "the UID store is not open";
        }
        return "unknown pop3 UID store error";
    }
};

} // namespace detail

/// The category of `pop3::store_errc`, named "pop3.uid_store".
inline const error_category_base& store_category() noexcept
{
    static const detail::store_category_impl instance;
    return instance;
}

/// Makes `pop3::error_code ec = pop3::store_errc::locked;` work.
inline error_code make_error_code(store_errc e) noexcept
{
    return {static_cast<int>(e), store_category()};
}

} // namespace pop3

POP3_DETAIL_REGISTER_ERROR_CODE_ENUM(pop3::store_errc);

namespace pop3 {

// ---------------------------------------------------------------------------------------------
// What a store holds
// ---------------------------------------------------------------------------------------------

/// A point in time as the stores keep it: `std::chrono::system_clock`, whole seconds.
using uid_time = std::chrono::time_point<std::chrono::system_clock, std::chrono::seconds>;

/// The current time as a `uid_time`.
inline uid_time uid_clock_now() noexcept
{
    return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
}

/// What the store knows about one unique id.
struct uid_entry {
    /// When the UID was first seen (its delivery was first started).
    uid_time first_seen{};
    /// True once the application confirmed the message is stored locally. False means
    /// "delivery started": the intent was recorded before delivering, and the message
    /// may or may not have reached the application's storage (see `fetch_new`).
    bool stored = true;
    /// Set by the application when it deleted its own copy
    /// (`leave_policy::delete_when_deleted_locally`).
    bool deleted_locally = false;
    /// Since when the UID is missing from the server's listing, when the policy forgets
    /// vanished UIDs only after a grace period (`leave_policy::forget_after`).
    std::optional<uid_time> vanished_since;

    friend bool operator==(const uid_entry& a, const uid_entry& b) noexcept
    {
        return a.first_seen == b.first_seen && a.stored == b.stored &&
               a.deleted_locally == b.deleted_locally && a.vanished_since == b.vanished_since;
    }
    friend bool operator!=(const uid_entry& a, const uid_entry& b) noexcept { return !(a == b); }
};

/// One change to a store: set the entry of `uid`, or forget `uid` when `entry` is empty.
struct uid_change {
    std::string uid;
    std::optional<uid_entry> entry; ///< the new entry; empty to forget the UID
};

/// The longest UID a store accepts. Far above the parser's default cap (512) and any sane
/// `parser_limits::max_uid_length`; it only bounds what a damaged file can make us allocate.
inline constexpr std::size_t max_stored_uid_length = std::size_t{1} << 20;

/// True for a UID a store accepts: 1 to `max_stored_uid_length` bytes, each 0x21-0xFF
/// (RFC 1939 section 7 allows 0x21-0x7E; 8-bit bytes come from real servers).
inline bool is_storable_uid(std::string_view uid) noexcept
{
    if (uid.empty() || uid.size() > max_stored_uid_length) return false;
    for (char c : uid)
        if (static_cast<unsigned char>(c) < 0x21) return false;
    return true;
}

// ---------------------------------------------------------------------------------------------
// The interface
// ---------------------------------------------------------------------------------------------

/// The state of leave-on-server for one account: UID -> `uid_entry`.
///
/// To keep the state in your own database, derive and implement the four pure virtual
/// functions: `do_find`, `do_for_each`, `do_apply` and `size`. The contract every
/// implementation must keep:
/// - `apply` is atomic and durable: when it returns without error, every change of the
///   batch survives a crash or power loss; when it fails (or the process dies inside it),
///   either all of the batch or none of it is visible afterwards.
/// - reads reflect every successful `apply`.
/// - one writer per account: refuse a second concurrent user instead of interleaving.
///
/// The public functions validate arguments (UIDs: `is_storable_uid`) before calling the
/// implementation. A store is not thread-safe.
class uid_store {
public:
    virtual ~uid_store() = default;

    /// Looks up one UID.
    /// @return the entry, or empty when the UID is unknown (or on error).
    std::optional<uid_entry> find(std::string_view uid, error_code& ec) const
    {
        ec = {};
        return do_find(uid, ec);
    }
    /// Throwing form of `find`. @throws pop3::error
    std::optional<uid_entry> find(std::string_view uid) const
    {
        error_code ec;
        auto result = find(uid, ec);
        if (ec) throw pop3::error(ec);
        return result;
    }

    /// Calls `f(uid, entry)` for every entry, in no particular order. `f` must not
    /// change the store.
    void for_each(const std::function<void(std::string_view, const uid_entry&)>& f,
                  error_code& ec) const
    {
        ec = {};
        do_for_each(f, ec);
    }
    /// Throwing form of `for_each`. @throws pop3::error
    void for_each(const std::function<void(std::string_view, const uid_entry&)>& f) const
    {
        error_code ec;
        for_each(f, ec);
        if (ec) throw pop3::error(ec);
    }

    /// Applies a batch of changes atomically and durably (see the class comment).
    /// Later changes of the same UID in a batch win.
    /// @param ec store_errc::invalid_uid (nothing applied), or the store's I/O error
    void apply(const std::vector<uid_change>& changes, error_code& ec)
    {
        ec = {};
        for (const auto& c : changes)
            if (!is_storable_uid(c.uid)) {
                ec = store_errc::invalid_uid;
                return;
            }
        if (!changes.empty()) do_apply(changes, ec);
    }
    /// Throwing form of `apply`. @throws pop3::error
    void apply(const std::vector<uid_change>& changes)
    {
        error_code ec;
        apply(changes, ec);
        if (ec) throw pop3::error(ec);
    }

    /// Sets (inserts or replaces) one UID's entry, durably.
    void record(std::string_view uid, const uid_entry& entry, error_code& ec)
    {
        apply({uid_change{std::string(uid), entry}}, ec);
    }
    /// Throwing form of `record`. @throws pop3::error
    void record(std::string_view uid, const uid_entry& entry)
    {
        apply({uid_change{std::string(uid), entry}});
    }

    /// Forgets one UID, durably (nothing happens for an unknown UID).
    void forget(std::string_view uid, error_code& ec)
    {
        apply({uid_change{std::string(uid), std::nullopt}}, ec);
    }
    /// Throwing form of `forget`. @throws pop3::error
    void forget(std::string_view uid) { apply({uid_change{std::string(uid), std::nullopt}}); }

    /// Tells the store the application deleted its own copy of the message with `uid`
    /// (used by `leave_policy::delete_when_deleted_locally`).
    /// @return false (and no change) when the UID is unknown
    bool mark_deleted_locally(std::string_view uid, error_code& ec)
    {
        auto entry = find(uid, ec);
        if (ec || !entry) return false;
        if (entry->deleted_locally) return true;
        entry->deleted_locally = true;
        record(uid, *entry, ec);
        return !ec;
    }
    /// Throwing form of `mark_deleted_locally`. @throws pop3::error
    bool mark_deleted_locally(std::string_view uid)
    {
        error_code ec;
        const bool known = mark_deleted_locally(uid, ec);
        if (ec) throw pop3::error(ec);
        return known;
    }

    /// The number of entries.
    virtual std::size_t size() const noexcept = 0;

protected:
    /// Looks up `uid`; sets `ec` on failure.
    virtual std::optional<uid_entry> do_find(std::string_view uid, error_code& ec) const = 0;
    /// Enumerates every entry; sets `ec` on failure.
    virtual void do_for_each(const std::function<void(std::string_view, const uid_entry&)>& f,
                             error_code& ec) const = 0;
    /// Applies a non-empty, validated batch atomically and durably; sets `ec` on failure.
    virtual void do_apply(const std::vector<uid_change>& changes, error_code& ec) = 0;
};

// ---------------------------------------------------------------------------------------------
// In memory
// ---------------------------------------------------------------------------------------------

/// A store in memory only: NOT durable (everything is lost with the object). For tests,
/// dry runs, and applications that persist the state by other means.
class memory_uid_store final : public uid_store {
public:
    std::size_t size() const noexcept override { return entries_.size(); }

protected:
    std::optional<uid_entry> do_find(std::string_view uid, error_code&) const override
    {
        const auto it = entries_.find(std::string(uid));
        if (it == entries_.end()) return std::nullopt;
        return it->second;
    }
    void do_for_each(const std::function<void(std::string_view, const uid_entry&)>& f,
                     error_code&) const override
    {
        for (const auto& [uid, entry] : entries_) f(uid, entry);
    }
    void do_apply(const std::vector<uid_change>& changes, error_code&) override
    {
        for (const auto& c : changes) {
            if (c.entry) entries_.insert_or_assign(c.uid, *c.entry);
            else entries_.erase(c.uid);
        }
    }

private:
    std::unordered_map<std::string, uid_entry> entries_;
};

#if !defined(_WIN32)

// ---------------------------------------------------------------------------------------------
// In a file
// ---------------------------------------------------------------------------------------------

namespace detail {

/// CRC-32C (Castagnoli), table driven; used to detect torn and damaged journal records.
struct crc32c_table {
    std::array<std::uint32_t, 256> v{};
};

constexpr crc32c_table make_crc32c_table() noexcept
{
    crc32c_table t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        t.v[i] = c;
    }
    return t;
}

inline constexpr crc32c_table crc32c_lookup = make_crc32c_table();

/// Continues a CRC-32C over `size` bytes (start with `crc = 0`).
inline std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t size) noexcept
{
    const auto* p = static_cast<const unsigned char*>(data);
    crc = ~crc;
    for (std::size_t i = 0; i < size; ++i) crc = crc32c_lookup.v[(crc ^ p[i]) & 0xffu] ^ (crc >> 8);
    return ~crc;
}

inline void put_u8(std::string& out, std::uint8_t v) { out.push_back(static_cast<char>(v)); }
inline void put_u32(std::string& out, std::uint32_t v)
{
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xffu));
}
inline void put_u64(std::string& out, std::uint64_t v)
{
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xffu));
}
inline std::uint32_t get_u32(const char* p) noexcept
{
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}
inline std::uint64_t get_u64(const char* p) noexcept
{
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}

inline error_code last_errno() noexcept { return detail::system_error_code(errno); }

/// Writes all of `data` at `offset`, retrying short writes and EINTR.
inline error_code pwrite_all(int fd, const char* data, std::size_t size, std::uint64_t offset)
{
    while (size > 0) {
        const auto n = ::pwrite(fd, data, size, static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            return last_errno();
        }
        data += n;
        size -= static_cast<std::size_t>(n);
        offset += static_cast<std::uint64_t>(n);
    }
    return {};
}

/// Flushes a file's data (and the metadata needed to read it) to stable storage.
inline error_code sync_file(int fd)
{
#if defined(__APPLE__)
    // fsync on macOS does not flush the drive's cache; F_FULLFSYNC does.
    if (::fcntl(fd, F_FULLFSYNC) == 0) return {};
#endif
#if defined(__linux__)
    while (::fdatasync(fd) != 0)
#else
    while (::fsync(fd) != 0)
#endif
        if (errno != EINTR) return last_errno();
    return {};
}

/// Makes a rename or create in `dir` durable.
inline error_code sync_directory(const std::string& dir)
{
    int fd;
    do fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return last_errno();
    error_code ec;
    while (::fsync(fd) != 0)
        if (errno != EINTR) {
            ec = last_errno();
            break;
        }
    ::close(fd);
    return ec;
}

inline std::string directory_of(const std::string& path)
{
    const auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

} // namespace detail

/// Tuning of `file_uid_store`.
struct file_store_options {
    /// The journal is never compacted while it is smaller than this.
    std::uint64_t compact_min_bytes = 256 * 1024;
    /// Compact when the journal is larger than `compact_ratio` times a fresh copy of the
    /// entries. With 2 the file stays below about twice the live data, and the O(n) work
    /// of a compaction is paid for by the n records appended since the last one, so a
    /// change costs O(1) amortized.
    unsigned compact_ratio = 2;
};

/// What opening a `file_uid_store` found.
struct store_open_report {
    bool created = false;                  ///< the file did not exist: a new, empty store
    std::uint64_t discarded_tail_bytes = 0; ///< a torn last record (never acknowledged) removed
    std::uint64_t error_offset = 0;        ///< where damage was found when open failed with corrupt
    std::size_t records = 0;               ///< journal records read
};

/// A UID store in one file per account: an append-only journal, crash-safe.
///
/// Durability. Every `apply` appends ONE record (all of its changes, with a CRC-32C)
/// with one `pwrite`, then `fdatasync` (F_FULLFSYNC on macOS); it returns only after
/// that. A change therefore costs one small append and one sync, not a rewrite of the
/// whole file. The journal is compacted when it exceeds `compact_ratio` times the live
/// data (at least `compact_min_bytes`): a fresh copy is written to `PATH.tmp`, synced,
/// renamed over PATH, and the directory is synced; a crash at any point leaves either
/// the old or the new file, both complete. (The alternative, temp+rename per change,
/// rewrites every entry per change: O(n) per message, far too slow for 100,000 UIDs.)
///
/// Crash recovery. A crash inside an append can leave a torn LAST record: it was never
/// acknowledged, so `open` drops it, truncates the file there and says so in
/// `store_open_report::discarded_tail_bytes`. A record is judged torn only when it is
/// the last one: a valid header whose record runs past the end of the file or ends
/// exactly at it with a bad checksum, an incomplete header, or an all-zero header (an
/// unwritten block) with no valid record after it. Anything else (a bad checksum
/// followed by more records, a damaged header with data after it, a wrong magic, an
/// unknown version) is reported as an error and the file is left untouched, never
/// silently treated as empty. Records are 16-byte aligned so a record header never
/// straddles a disk sector, and every checksum is seeded with a random per-file salt so
/// that records of another file (a stale block, a concatenated copy) never validate.
///
/// Locking. `open` takes an exclusive `flock` on `PATH.lock` without waiting; a second
/// open of the same account (another process, or another object in this one) fails at
/// once with `store_errc::locked`. The lock file is separate because compaction replaces
/// PATH itself. flock is advisory and, on NFS, emulated with POSIX locks by Linux.
///
/// UIDs are stored as length-prefixed bytes, so any byte value and length
/// (`is_storable_uid`) round-trips. The whole map is kept in memory; `find` and
/// `for_each` never touch the disk. Not thread-safe; neither copyable nor movable.
class file_uid_store final : public uid_store {
public:
    /// A store that is not open; call `open`.
    file_uid_store() = default;

    /// Opens (or creates) the store in `path`. @throws pop3::error (see `open`)
    explicit file_uid_store(const std::string& path, const file_store_options& options = {})
    {
        error_code ec;
        open(path, ec, options);
        if (ec) throw pop3::error(ec);
    }

    file_uid_store(const file_uid_store&) = delete;
    file_uid_store& operator=(const file_uid_store&) = delete;

    ~file_uid_store() override { close(); }

    /// Opens the store in `path`, creating it when the file does not exist, recovering a
    /// torn last record, and taking the account's lock.
    /// @param ec store_errc::locked, not_a_store, unsupported_version, corrupt, or an
    ///           errno code (system category) from opening, reading or writing
    /// @param report optional: what was found (created, bytes of a torn tail dropped,
    ///               offset of the damage for `corrupt`)
    void open(const std::string& path, error_code& ec,
              const file_store_options& options = {}, store_open_report* report = nullptr)
    {
        close();
        ec = {};
        store_open_report local;
        if (report == nullptr) report = &local;
        *report = {};
        options_ = options;
        if (options_.compact_ratio < 2) options_.compact_ratio = 2;
        path_ = path;
        dir_ = detail::directory_of(path);
        if ((ec = lock())) return close();
        // A crash during compaction may leave the temporary copy; we hold the lock, so
        // nobody else is writing it.
        (void)::unlink(temp_path().c_str());
        if ((ec = open_journal(*report))) return close();
        if ((ec = load(*report))) return close();
        maybe_compact();
    }

    /// Throwing form of `open`. @throws pop3::error
    void open(const std::string& path, const file_store_options& options = {})
    {
        error_code ec;
        open(path, ec, options);
        if (ec) throw pop3::error(ec);
    }

    /// Closes the file and releases the lock. The state is already durable.
    void close() noexcept
    {
        if (fd_ >= 0) ::close(fd_);
        if (lock_fd_ >= 0) ::close(lock_fd_); // releases the flock
        fd_ = lock_fd_ = -1;
        entries_.clear();
        failed_ = false;
        file_size_ = live_bytes_ = 0;
    }

    /// True between a successful `open` and `close`.
    bool is_open() const noexcept { return fd_ >= 0; }

    /// The journal's path.
    const std::string& path() const noexcept { return path_; }

    /// The journal's current size in bytes.
    std::uint64_t file_size() const noexcept { return file_size_; }

    std::size_t size() const noexcept override { return entries_.size(); }

    /// Rewrites the journal as a fresh copy of the live entries (normally automatic).
    /// On failure the old journal stays in place and valid.
    void compact(error_code& ec)
    {
        ec = writable();
        if (!ec) ec = rewrite();
    }

    /// The error of the last automatic compaction, if it failed (the store still works).
    error_code last_compaction_error() const noexcept { return compaction_error_; }

protected:
    std::optional<uid_entry> do_find(std::string_view uid, error_code& ec) const override
    {
        if (!is_open()) {
            ec = store_errc::not_open;
            return std::nullopt;
        }
        const auto it = entries_.find(std::string(uid));
        if (it == entries_.end()) return std::nullopt;
        return it->second;
    }

    void do_for_each(const std::function<void(std::string_view, const uid_entry&)>& f,
                     error_code& ec) const override
    {
        if (!is_open()) {
            ec = store_errc::not_open;
            return;
        }
        for (const auto& [uid, entry] : entries_) f(uid, entry);
    }

    void do_apply(const std::vector<uid_change>& changes, error_code& ec) override
    {
        if ((ec = writable())) return;
        std::string payload;
        for (const auto& c : changes) encode_change(payload, c);
        const auto record = frame(payload, static_cast<std::uint32_t>(changes.size()), salt_);
        ec = detail::pwrite_all(fd_, record.data(), record.size(), file_size_);
        if (!ec) ec = detail::sync_file(fd_);
        if (ec) {
            // The bytes may be partly on disk: cut them off, so nothing is ever appended
            // after garbage. After a failed write or sync nothing is trusted any more
            // (the page cache may have dropped pages): refuse writes until reopened,
            // which recovers the acknowledged state (a leftover tail is then torn).
            (void)::ftruncate(fd_, static_cast<off_t>(file_size_));
            failed_ = true;
            return;
        }
        file_size_ += record.size();
        for (const auto& c : changes) apply_in_memory(c.uid, c.entry);
        maybe_compact();
    }

private:
    // ---- file format ------------------------------------------------------------------
    //
    // header (32 bytes): "POP3UIDS" | u32 version (1) | u32 header size (32) | u64 salt |
    //                    u32 reserved (0) | u32 crc32c(bytes 0..27)
    // record (16-byte aligned): u32 magic "UIDJ" | u32 payload size | u32 change count |
    //                    u32 crc32c(salt, bytes 0..11) | payload | u32 crc32c(salt, payload) |
    //                    zero padding to a multiple of 16
    // change: u8 op (1 set, 2 forget) | u32 uid size | uid bytes |
    //         for set: i64 first_seen (s) | u8 flags (1 stored, 2 deleted locally,
    //                  4 vanished) | [i64 vanished_since]
    // All integers little-endian.

    static constexpr char file_magic[8] = {'P', 'O', 'P', '3', 'U', 'I', 'D', 'S'};
    static constexpr std::uint32_t version = 1;
    static constexpr std::size_t header_size = 32;
    static constexpr std::uint32_t record_magic = 0x4A444955u; // "UIDJ"
    static constexpr std::size_t record_header_size = 16;
    static constexpr std::uint32_t max_payload = 256u << 20;
    static constexpr std::uint8_t op_set = 1;
    static constexpr std::uint8_t op_forget = 2;
    static constexpr std::uint8_t flag_stored = 1;
    static constexpr std::uint8_t flag_deleted_locally = 2;
    static constexpr std::uint8_t flag_vanished = 4;

    static std::uint32_t salted_crc(std::uint64_t salt, const char* data, std::size_t size)
    {
        std::string s;
        detail::put_u64(s, salt);
        return detail::crc32c(detail::crc32c(0, s.data(), s.size()), data, size);
    }

    static std::size_t padded(std::size_t n) { return (n + 15u) & ~std::size_t{15}; }

    static std::string frame(const std::string& payload, std::uint32_t count, std::uint64_t salt)
    {
        std::string out;
        out.reserve(padded(record_header_size + payload.size() + 4));
        detail::put_u32(out, record_magic);
        detail::put_u32(out, static_cast<std::uint32_t>(payload.size()));
        detail::put_u32(out, count);
        detail::put_u32(out, salted_crc(salt, out.data(), 12));
        out += payload;
        detail::put_u32(out, salted_crc(salt, payload.data(), payload.size()));
        out.resize(padded(out.size()), '\0');
        return out;
    }

    static std::string file_header(std::uint64_t salt)
    {
        std::string out(file_magic, sizeof file_magic);
        detail::put_u32(out, version);
        detail::put_u32(out, static_cast<std::uint32_t>(header_size));
        detail::put_u64(out, salt);
        detail::put_u32(out, 0);
        detail::put_u32(out, detail::crc32c(0, out.data(), out.size()));
        return out;
    }

    static std::uint64_t new_salt()
    {
        std::random_device rd;
        const auto hi = static_cast<std::uint64_t>(rd());
        const auto lo = static_cast<std::uint64_t>(rd());
        const auto t = static_cast<std::uint64_t>(
            std::chrono::steady_clock::now().time_since_epoch().count());
        return ((hi << 32) | (lo & 0xffffffffu)) ^ (t * 0x9E3779B97F4A7C15ull);
    }

    static void encode_set(std::string& out, std::string_view uid, const uid_entry& e)
    {
        detail::put_u8(out, op_set);
        detail::put_u32(out, static_cast<std::uint32_t>(uid.size()));
        out.append(uid);
        detail::put_u64(out, static_cast<std::uint64_t>(e.first_seen.time_since_epoch().count()));
        std::uint8_t flags = 0;
        if (e.stored) flags |= flag_stored;
        if (e.deleted_locally) flags |= flag_deleted_locally;
        if (e.vanished_since) flags |= flag_vanished;
        detail::put_u8(out, flags);
        if (e.vanished_since)
            detail::put_u64(out,
                            static_cast<std::uint64_t>(e.vanished_since->time_since_epoch().count()));
    }

    static void encode_change(std::string& out, const uid_change& c)
    {
        if (c.entry) return encode_set(out, c.uid, *c.entry);
        detail::put_u8(out, op_forget);
        detail::put_u32(out, static_cast<std::uint32_t>(c.uid.size()));
        out.append(c.uid);
    }

    static std::size_t encoded_size(std::string_view uid, const uid_entry& e)
    {
        return 1 + 4 + uid.size() + 8 + 1 + (e.vanished_since ? 8 : 0);
    }

    /// Decodes a checksummed payload; false if it is not what we write (corrupt).
    bool decode_payload(const char* p, std::size_t size, std::uint32_t count)
    {
        const char* end = p + size;
        std::uint32_t seen = 0;
        while (p < end) {
            if (end - p < 5) return false;
            const auto op = static_cast<std::uint8_t>(*p);
            const auto uid_size = detail::get_u32(p + 1);
            p += 5;
            if (uid_size > static_cast<std::size_t>(end - p)) return false;
            std::string_view uid(p, uid_size);
            if (!is_storable_uid(uid)) return false;
            p += uid_size;
            if (op == op_forget) {
                apply_in_memory(uid, std::nullopt);
            } else if (op == op_set) {
                if (end - p < 9) return false;
                uid_entry e;
                e.first_seen = uid_time(std::chrono::seconds(
                    static_cast<std::int64_t>(detail::get_u64(p))));
                const auto flags = static_cast<std::uint8_t>(p[8]);
                p += 9;
                if ((flags & ~(flag_stored | flag_deleted_locally | flag_vanished)) != 0)
                    return false;
                e.stored = (flags & flag_stored) != 0;
                e.deleted_locally = (flags & flag_deleted_locally) != 0;
                if ((flags & flag_vanished) != 0) {
                    if (end - p < 8) return false;
                    e.vanished_since = uid_time(std::chrono::seconds(
                        static_cast<std::int64_t>(detail::get_u64(p))));
                    p += 8;
                }
                apply_in_memory(uid, e);
            } else {
                return false;
            }
            ++seen;
        }
        return seen == count;
    }

    void apply_in_memory(std::string_view uid, const std::optional<uid_entry>& entry)
    {
        const auto it = entries_.find(std::string(uid));
        if (it != entries_.end()) {
            live_bytes_ -= encoded_size(it->first, it->second);
            if (!entry) {
                entries_.erase(it);
                return;
            }
            it->second = *entry;
            live_bytes_ += encoded_size(uid, *entry);
            return;
        }
        if (!entry) return;
        entries_.emplace(std::string(uid), *entry);
        live_bytes_ += encoded_size(uid, *entry);
    }

    // ---- opening ----------------------------------------------------------------------

    std::string temp_path() const { return path_ + ".tmp"; }

    error_code lock()
    {
        const auto lock_path = path_ + ".lock";
        do lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        while (lock_fd_ < 0 && errno == EINTR);
        if (lock_fd_ < 0) return detail::last_errno();
        // flock, not fcntl: fcntl locks belong to the process (a second open in the same
        // process would not conflict, and closing any descriptor of the file drops them).
        while (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
            if (errno == EINTR) continue;
            if (errno == EWOULDBLOCK) return store_errc::locked;
            return detail::last_errno();
        }
        return {};
    }

    error_code open_journal(store_open_report& report)
    {
        do fd_ = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
        while (fd_ < 0 && errno == EINTR);
        if (fd_ >= 0) return {};
        if (errno != ENOENT) return detail::last_errno();
        // A new account: create the file with its header through a synced temporary
        // and a rename, so that a journal without a complete header never exists (an
        // empty or headerless file is then always damage, never "new").
        report.created = true;
        salt_ = new_salt();
        const auto header = file_header(salt_);
        int fd = -1;
        if (auto ec = write_temp({header}, fd)) return ec;
        if (auto ec = install_temp(fd)) return ec;
        return {};
    }

    /// Writes `parts` to PATH.tmp and syncs it; on success `fd` is open on it.
    error_code write_temp(const std::vector<std::string>& parts, int& fd)
    {
        const auto tmp = temp_path();
        do fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        while (fd < 0 && errno == EINTR);
        if (fd < 0) return detail::last_errno();
        std::uint64_t offset = 0;
        error_code ec;
        for (const auto& part : parts) {
            if ((ec = detail::pwrite_all(fd, part.data(), part.size(), offset))) break;
            offset += part.size();
        }
        if (!ec) ec = detail::sync_file(fd);
        if (ec) {
            ::close(fd);
            fd = -1;
            (void)::unlink(tmp.c_str());
        }
        return ec;
    }

    /// Renames PATH.tmp (open as `fd`) over PATH and syncs the directory; `fd` becomes
    /// the journal.
    error_code install_temp(int fd)
    {
        const auto tmp = temp_path();
        if (::rename(tmp.c_str(), path_.c_str()) != 0) {
            const auto ec = detail::last_errno();
            ::close(fd);
            (void)::unlink(tmp.c_str());
            return ec;
        }
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
        struct stat st {};
        if (::fstat(fd_, &st) == 0) file_size_ = static_cast<std::uint64_t>(st.st_size);
        // Without a durable directory entry a crash could bring the old file back and
        // lose records acknowledged after this point: a failure here poisons the store.
        if (auto ec = detail::sync_directory(dir_)) {
            failed_ = true;
            return ec;
        }
        return {};
    }

    error_code read_all(std::string& data)
    {
        struct stat st {};
        if (::fstat(fd_, &st) != 0) return detail::last_errno();
        data.resize(static_cast<std::size_t>(st.st_size));
        std::size_t got = 0;
        while (got < data.size()) {
            const auto n = ::pread(fd_, data.data() + got, data.size() - got,
                                   static_cast<off_t>(got));
            if (n < 0) {
                if (errno == EINTR) continue;
                return detail::last_errno();
            }
            if (n == 0) break;
            got += static_cast<std::size_t>(n);
        }
        data.resize(got);
        return {};
    }

    bool valid_record_header(const std::string& data, std::size_t at) const
    {
        const char* h = data.data() + at;
        return detail::get_u32(h) == record_magic &&
               detail::get_u32(h + 12) == salted_crc(salt_, h, 12);
    }

    error_code load(store_open_report& report)
    {
        std::string data;
        if (auto ec = read_all(data)) return ec;
        if (data.size() < header_size) {
            // We never create a journal without its complete header (see open_journal):
            // a short file that starts like ours is damaged, anything else is foreign.
            const auto n = std::min(data.size(), sizeof file_magic);
            if (n > 0 && std::memcmp(data.data(), file_magic, n) != 0) return store_errc::not_a_store;
            return store_errc::corrupt;
        }
        if (std::memcmp(data.data(), file_magic, sizeof file_magic) != 0)
            return store_errc::not_a_store;
        if (detail::get_u32(data.data() + 28) != detail::crc32c(0, data.data(), 28))
            return store_errc::corrupt;
        if (detail::get_u32(data.data() + 8) != version) return store_errc::unsupported_version;
        if (detail::get_u32(data.data() + 12) != header_size) return store_errc::corrupt;
        salt_ = detail::get_u64(data.data() + 16);

        const std::size_t size = data.size();
        std::size_t at = header_size;
        bool torn = false;
        while (at < size) {
            const std::size_t rest = size - at;
            if (rest < record_header_size) { // an incomplete header: a torn append
                torn = true;
                break;
            }
            if (!valid_record_header(data, at)) {
                // Only an unwritten (all-zero) header with no valid record after it is a
                // torn append; anything else means acknowledged data was damaged.
                bool zero = true;
                for (std::size_t i = 0; i < record_header_size; ++i)
                    if (data[at + i] != '\0') zero = false;
                bool later_record = false;
                for (std::size_t p = at + 16; zero && p + record_header_size <= size; p += 16)
                    if (valid_record_header(data, p)) later_record = true;
                if (zero && !later_record) {
                    torn = true;
                    break;
                }
                report.error_offset = at;
                return store_errc::corrupt;
            }
            const auto payload_size = detail::get_u32(data.data() + at + 4);
            const auto count = detail::get_u32(data.data() + at + 8);
            if (payload_size > max_payload) {
                report.error_offset = at;
                return store_errc::corrupt;
            }
            const auto record_size = padded(record_header_size + payload_size + 4);
            if (record_size > rest) { // runs past the end: a torn append
                torn = true;
                break;
            }
            const char* payload = data.data() + at + record_header_size;
            // The padding is not under the checksum: it must be zeros.
            bool crc_ok = detail::get_u32(payload + payload_size) ==
                          salted_crc(salt_, payload, payload_size);
            for (std::size_t i = record_header_size + payload_size + 4; i < record_size; ++i)
                if (data[at + i] != '\0') crc_ok = false;
            if (!crc_ok) {
                if (record_size == rest) { // the last record, partly written
                    torn = true;
                    break;
                }
                report.error_offset = at;
                return store_errc::corrupt;
            }
            if (!decode_payload(payload, payload_size, count)) {
                report.error_offset = at;
                return store_errc::corrupt;
            }
            ++report.records;
            at += record_size;
        }
        file_size_ = at;
        if (torn) {
            report.discarded_tail_bytes = size - at;
            // Remove the unacknowledged tail before anything is appended after it.
            if (::ftruncate(fd_, static_cast<off_t>(at)) != 0) return detail::last_errno();
            if (auto ec = detail::sync_file(fd_)) return ec;
        }
        return {};
    }

    // ---- writing ----------------------------------------------------------------------

    error_code writable() const
    {
        if (!is_open()) return store_errc::not_open;
        if (failed_) return store_errc::store_failed;
        return {};
    }

    void maybe_compact()
    {
        if (failed_) return;
        const auto compact_size = header_size + live_bytes_ + live_bytes_ / 8 + 64;
        if (file_size_ <= options_.compact_min_bytes ||
            file_size_ <= static_cast<std::uint64_t>(options_.compact_ratio) * compact_size)
            return;
        compaction_error_ = rewrite();
    }

    /// Writes a fresh copy of the entries and installs it (see the class comment).
    error_code rewrite()
    {
        const auto salt = new_salt();
        std::vector<std::string> parts{file_header(salt)};
        std::string payload;
        std::uint32_t count = 0;
        for (const auto& [uid, entry] : entries_) {
            encode_set(payload, uid, entry);
            ++count;
            if (payload.size() >= (1u << 20)) {
                parts.push_back(frame(payload, count, salt));
                payload.clear();
                count = 0;
            }
        }
        if (count > 0) parts.push_back(frame(payload, count, salt));
        int fd = -1;
        if (auto ec = write_temp(parts, fd)) return ec;
        const auto old_salt = salt_;
        salt_ = salt;
        if (auto ec = install_temp(fd)) {
            if (fd_ != fd) salt_ = old_salt; // the rename failed: the old journal stays
            return ec;
        }
        return {};
    }

    std::string path_;
    std::string dir_;
    file_store_options options_;
    int fd_ = -1;
    int lock_fd_ = -1;
    std::uint64_t salt_ = 0;
    std::uint64_t file_size_ = 0;
    std::uint64_t live_bytes_ = 0;
    bool failed_ = false;
    error_code compaction_error_;
    std::unordered_map<std::string, uid_entry> entries_;
};

#endif // !_WIN32

} // namespace pop3

#endif // POP3_UID_STORE_HPP
