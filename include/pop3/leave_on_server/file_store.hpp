// pop3/leave_on_server/file_store.hpp: `pop3::file_uid_store`, the UID store in one
// crash-safe journal file per account (POSIX only). The bytes are journal.hpp's; the
// descriptors, writes and syncs are durable_file.hpp's.
#ifndef POP3_LEAVE_ON_SERVER_FILE_STORE_HPP
#define POP3_LEAVE_ON_SERVER_FILE_STORE_HPP

#include <pop3/exception.hpp>
#include <pop3/leave_on_server/durable_file.hpp>
#include <pop3/leave_on_server/journal.hpp>
#include <pop3/leave_on_server/store.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#if !defined(_WIN32)

#include <cerrno>
#include <cstdio>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace pop3 {

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
    bool created = false;                   ///< the file did not exist: a new, empty store
    std::uint64_t discarded_tail_bytes = 0; ///< a torn last record (never acknowledged) removed
    std::uint64_t error_offset = 0; ///< where damage was found when open failed with corrupt
    std::size_t records = 0;        ///< journal records read
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
    /// torn last record, and taking the account's lock. A store that was open is closed
    /// first; on error the store is left closed.
    ///
    /// ```
    /// pop3::file_uid_store store;
    /// pop3::error_code ec;
    /// pop3::store_open_report report;
    /// store.open("/var/lib/fetch/alice.uids", ec, {}, &report);
    /// if (ec == pop3::store_errc::locked) return; // another run for this account
    /// ```
    /// @param path the journal file; `PATH.lock` and `PATH.tmp` are used beside it.
    /// @param ec store_errc::locked, not_a_store, unsupported_version, corrupt, or an
    ///           errno code (std::system_category) from opening, reading or writing
    /// @param options when to compact (a `compact_ratio` below 2 counts as 2).
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
        dir_ = directory_of(path);
        if ((ec = lock())) return close();
        // A crash during compaction may leave the temporary copy; we hold the lock, so
        // nobody else is writing it.
        (void)::unlink(temp_path().c_str());
        if ((ec = open_journal(*report))) return close();
        if ((ec = load(*report))) return close();
        maybe_compact();
    }

    /// Throwing form of `open`.
    /// @throws pop3::error with the error the `ec` form reports.
    void open(const std::string& path, const file_store_options& options = {})
    {
        error_code ec;
        open(path, ec, options);
        if (ec) throw pop3::error(ec);
    }

    /// Closes the file and releases the lock. The state is already durable.
    void close() noexcept
    {
        fd_.reset();
        lock_fd_.reset(); // releases the flock
        entries_.clear();
        failed_ = false;
        file_size_ = live_bytes_ = 0;
    }

    /// True between a successful `open` and `close`.
    bool is_open() const noexcept { return static_cast<bool>(fd_); }

    /// The journal's path.
    const std::string& path() const noexcept { return path_; }

    /// The journal's current size in bytes.
    std::uint64_t file_size() const noexcept { return file_size_; }

    std::size_t size() const noexcept override { return entries_.size(); }

    /// Rewrites the journal as a fresh copy of the live entries (normally automatic).
    /// On failure the old journal stays in place and valid.
    /// @param ec `store_errc::not_open`, `store_errc::store_failed`, or an errno code from
    ///           writing, syncing or renaming the copy.
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
        const auto record = journal::encode_record(changes, salt_);
        ec = pwrite_all(fd_.get(), record.data(), record.size(), file_size_);
        if (!ec) ec = sync_file(fd_.get());
        if (ec) {
            // The bytes may be partly on disk: cut them off, so nothing is ever appended
            // after garbage. After a failed write or sync nothing is trusted any more
            // (the page cache may have dropped pages): refuse writes until reopened,
            // which recovers the acknowledged state (a leftover tail is then torn).
            (void)::ftruncate(fd_.get(), static_cast<off_t>(file_size_));
            failed_ = true;
            return;
        }
        file_size_ += record.size();
        for (const auto& c : changes) apply_in_memory(c.uid, c.entry);
        maybe_compact();
    }

private:
    static std::uint64_t new_salt()
    {
        std::random_device rd;
        const auto hi = static_cast<std::uint64_t>(rd());
        const auto lo = static_cast<std::uint64_t>(rd());
        const auto t = static_cast<std::uint64_t>(
            std::chrono::steady_clock::now().time_since_epoch().count());
        return ((hi << 32) | (lo & 0xffffffffu)) ^ (t * 0x9E3779B97F4A7C15ull);
    }

    void apply_in_memory(std::string_view uid, const std::optional<uid_entry>& entry)
    {
        const auto it = entries_.find(std::string(uid));
        if (it != entries_.end()) {
            live_bytes_ -= journal::encoded_size(it->first, it->second);
            if (!entry) {
                entries_.erase(it);
                return;
            }
            it->second = *entry;
            live_bytes_ += journal::encoded_size(uid, *entry);
            return;
        }
        if (!entry) return;
        entries_.emplace(std::string(uid), *entry);
        live_bytes_ += journal::encoded_size(uid, *entry);
    }

    // ---- opening ----------------------------------------------------------------------

    std::string temp_path() const { return path_ + ".tmp"; }

    error_code lock()
    {
        error_code ec;
        lock_fd_ = unique_fd::open(path_ + ".lock", O_RDWR | O_CREAT, ec);
        if (ec) return ec;
        // flock, not fcntl: fcntl locks belong to the process (a second open in the same
        // process would not conflict, and closing any descriptor of the file drops them).
        while (::flock(lock_fd_.get(), LOCK_EX | LOCK_NB) != 0) {
            if (errno == EINTR) continue;
            if (errno == EWOULDBLOCK) return store_errc::locked;
            return last_errno_code();
        }
        return {};
    }

    error_code open_journal(store_open_report& report)
    {
        error_code ec;
        fd_ = unique_fd::open(path_, O_RDWR, ec);
        if (!ec) return {};
        if (ec != std::errc::no_such_file_or_directory) return ec;
        // A new account: create the file with its header through a synced temporary
        // and a rename, so that a journal without a complete header never exists (an
        // empty or headerless file is then always damage, never "new").
        report.created = true;
        salt_ = new_salt();
        unique_fd fd;
        if ((ec = write_temp({journal::encode_header(salt_)}, fd))) return ec;
        return install_temp(std::move(fd));
    }

    /// Writes `parts` to PATH.tmp and syncs it; on success `fd` is open on it.
    error_code write_temp(const std::vector<std::string>& parts, unique_fd& fd)
    {
        const auto tmp = temp_path();
        error_code ec;
        fd = unique_fd::open(tmp, O_RDWR | O_CREAT | O_TRUNC, ec);
        if (ec) return ec;
        std::uint64_t offset = 0;
        for (const auto& part : parts) {
            if ((ec = pwrite_all(fd.get(), part.data(), part.size(), offset))) break;
            offset += part.size();
        }
        if (!ec) ec = sync_file(fd.get());
        if (ec) {
            fd.reset();
            (void)::unlink(tmp.c_str());
        }
        return ec;
    }

    /// Renames PATH.tmp (open as `fd`) over PATH and syncs the directory; `fd` becomes
    /// the journal.
    error_code install_temp(unique_fd fd)
    {
        const auto tmp = temp_path();
        if (::rename(tmp.c_str(), path_.c_str()) != 0) {
            const auto ec = last_errno_code();
            fd.reset();
            (void)::unlink(tmp.c_str());
            return ec;
        }
        fd_ = std::move(fd);
        struct stat st {};
        if (::fstat(fd_.get(), &st) == 0) file_size_ = static_cast<std::uint64_t>(st.st_size);
        // Without a durable directory entry a crash could bring the old file back and
        // lose records acknowledged after this point: a failure here poisons the store.
        if (auto ec = sync_directory(dir_)) {
            failed_ = true;
            return ec;
        }
        return {};
    }

    error_code load(store_open_report& report)
    {
        std::string data;
        if (auto ec = read_whole_file(fd_.get(), data)) return ec;
        const auto d = journal::decode(data, [this](std::string_view uid,
                                                    const std::optional<uid_entry>& entry) {
            apply_in_memory(uid, entry);
        });
        report.records = d.records;
        if (d.error) {
            report.error_offset = d.error_offset;
            return d.error;
        }
        salt_ = d.salt;
        file_size_ = d.valid_size;
        if (d.torn) {
            report.discarded_tail_bytes = data.size() - d.valid_size;
            // Remove the unacknowledged tail before anything is appended after it.
            if (::ftruncate(fd_.get(), static_cast<off_t>(d.valid_size)) != 0)
                return last_errno_code();
            if (auto ec = sync_file(fd_.get())) return ec;
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
        const auto compact_size = journal::header_size + live_bytes_ + live_bytes_ / 8 + 64;
        if (file_size_ <= options_.compact_min_bytes ||
            file_size_ <= static_cast<std::uint64_t>(options_.compact_ratio) * compact_size)
            return;
        compaction_error_ = rewrite();
    }

    /// Writes a fresh copy of the entries and installs it (see the class comment).
    error_code rewrite()
    {
        const auto salt = new_salt();
        std::vector<std::string> parts{journal::encode_header(salt)};
        std::string payload;
        std::uint32_t count = 0;
        for (const auto& [uid, entry] : entries_) {
            journal::encode_set(payload, uid, entry);
            ++count;
            if (payload.size() >= (1u << 20)) {
                parts.push_back(journal::encode_record(payload, count, salt));
                payload.clear();
                count = 0;
            }
        }
        if (count > 0) parts.push_back(journal::encode_record(payload, count, salt));
        unique_fd fd;
        if (auto ec = write_temp(parts, fd)) return ec;
        const auto old_salt = salt_;
        const int new_fd = fd.get();
        salt_ = salt;
        if (auto ec = install_temp(std::move(fd))) {
            if (fd_.get() != new_fd) salt_ = old_salt; // the rename failed: the old journal stays
            return ec;
        }
        return {};
    }

    std::string path_;
    std::string dir_;
    file_store_options options_;
    unique_fd fd_;
    unique_fd lock_fd_;
    std::uint64_t salt_ = 0;
    std::uint64_t file_size_ = 0;
    std::uint64_t live_bytes_ = 0;
    bool failed_ = false;
    error_code compaction_error_;
    std::unordered_map<std::string, uid_entry> entries_;
};

} // namespace pop3

#endif // !_WIN32

#endif // POP3_LEAVE_ON_SERVER_FILE_STORE_HPP
