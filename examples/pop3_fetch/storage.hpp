// pop3-fetch: local storage basics shared by the Maildir, mbox and state-file writers:
// the storage_error exception and the base of a message destination (a
// pop3::message_delivery). The file work itself (O_CLOEXEC opens, whole writes and reads,
// fsync of a file and of its directory, mkdir -p) is the library's
// <pop3/leave_on_server/durable_file.hpp>, which pop3::file_uid_store is built on too.
#ifndef POP3_FETCH_STORAGE_HPP
#define POP3_FETCH_STORAGE_HPP

#include <pop3/leave_on_server/durable_file.hpp>
#include <pop3/leave_on_server/fetch_types.hpp>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

#include <unistd.h>

namespace pop3_fetch {

/// A local file system failure (exit code 7). `what()` names the file and the operation,
/// then the system's reason.
class storage_error : public std::runtime_error {
public:
    storage_error(pop3::error_code ec, const std::string& what)
        : std::runtime_error(what + ": " + ec.message()), code_(ec)
    {
    }
    storage_error(int errno_value, const std::string& what)
        : storage_error(pop3::errno_code(errno_value), what)
    {
    }

    const pop3::error_code& code() const noexcept { return code_; }

private:
    pop3::error_code code_;
};

/// Throws a storage_error for `ec`, if it is set.
inline void check(const pop3::error_code& ec, const std::string& what)
{
    if (ec) throw storage_error(ec, what);
}

/// Throws a storage_error for the current errno.
[[noreturn]] inline void throw_errno(const std::string& what)
{
    throw storage_error(pop3::last_errno_code(), what);
}

/// Creates `dir` and what is missing above it; a storage_error names `dir`.
inline void make_dirs(const std::string& dir)
{
    check(pop3::create_directories(dir), "cannot create directory " + dir);
}

/// Reads exactly `size` bytes of `fd` at `offset`; a file that ends before is an error.
inline void read_exactly(int fd, char* data, std::size_t size, std::uint64_t offset,
                         const std::string& what)
{
    std::size_t got = 0;
    check(pop3::read_at(fd, data, size, offset, got), "cannot read " + what);
    if (got != size) throw storage_error(EIO, "unexpected end of " + what);
}

/// TEST HOOKS, for tests/integration/pop3_fetch_test.py only (not options, not in --help):
/// the process ends with _exit(99) at the N-th event, N from the environment variable.
/// POP3_FETCH_TEST_EXIT_AFTER_COMMIT=N: right after the N-th message a destination made
/// durable, before pop3::fetch_new records it as stored: exactly the crash window that makes
/// the next run deliver that message again with `maybe_delivered` set (the mbox at the end of
/// a commit; the Maildir after the sync of the message's batch).
/// POP3_FETCH_TEST_EXIT_BEFORE_SYNC=N: at the start of the N-th batch sync (Maildir): its
/// messages are written in tmp/ and not durable yet.
inline void exit_for_test_at(const char* variable, unsigned long& events)
{
    const char* v = std::getenv(variable);
    const unsigned long limit = v != nullptr ? std::strtoul(v, nullptr, 10) : 0UL;
    if (limit != 0 && ++events == limit) ::_exit(99);
}
inline void test_hook_after_commit()
{
    static unsigned long commits = 0;
    exit_for_test_at("POP3_FETCH_TEST_EXIT_AFTER_COMMIT", commits);
}
inline void test_hook_before_sync()
{
    static unsigned long syncs = 0;
    exit_for_test_at("POP3_FETCH_TEST_EXIT_BEFORE_SYNC", syncs);
}

/// A write buffer in front of a file descriptor: messages arrive in small chunks.
class fd_writer {
public:
    fd_writer() = default;
    fd_writer(int fd, std::string path) : fd_(fd), path_(std::move(path))
    {
        buffer_.reserve(capacity);
    }

    void write(std::string_view data)
    {
        if (buffer_.size() + data.size() > capacity) {
            flush();
            if (data.size() >= capacity) {
                check(pop3::write_all(fd_, data), "cannot write " + path_);
                return;
            }
        }
        buffer_.append(data);
    }
    void put(char c)
    {
        if (buffer_.size() >= capacity) flush();
        buffer_ += c;
    }
    void flush()
    {
        if (buffer_.empty()) return;
        std::string pending;
        pending.swap(buffer_);
        buffer_.reserve(capacity);
        check(pop3::write_all(fd_, pending), "cannot write " + path_);
    }
    /// Drops what was not written yet (after an error).
    void discard() noexcept { buffer_.clear(); }
    const std::string& path() const noexcept { return path_; }

private:
    static constexpr std::size_t capacity = 64 * 1024;
    int fd_ = -1;
    std::string path_;
    std::string buffer_;
};

/// Where fetched messages go: the pop3::message_delivery that pop3::fetch_new streams each
/// message into (begin, write the chunks, commit; abort for a failed or unfinished one).
///
/// The implementations (Maildir, mbox, standard output) throw storage_error from
/// `do_begin`, `do_write` and `do_commit`. This base turns that into the error code
/// fetch_new expects (which stops the run: nothing more is fetched, and the message is
/// neither recorded nor deleted) and keeps the exception, so that the tool reports the
/// file and the operation that failed (exit code 7).
class destination : public pop3::message_delivery {
public:
    pop3::error_code begin(const pop3::fetched_message_info& message) final
    {
        number_ = message.number;
        return guarded([&] { do_begin(message); });
    }
    pop3::error_code write(std::string_view chunk) final
    {
        return guarded([&] { do_write(chunk); });
    }
    /// The message is stored when this returns success: durably, unless `batches()`, when
    /// the next `sync` makes it so.
    pop3::error_code commit() final
    {
        return guarded([&] { locations_[number_] = do_commit(); });
    }
    void abort() noexcept final { do_abort(); }
    bool batches() const noexcept final { return do_batches(); }
    pop3::error_code sync() final
    {
        return guarded([&] { do_sync(locations_); });
    }

    /// Rethrows the storage_error that made `begin`, `write` or `commit` fail, if any.
    void rethrow_failure() const
    {
        if (failure_) std::rethrow_exception(failure_);
    }
    /// Where a committed message went (a file name), for the report; forgotten once asked.
    std::string take_location(pop3::message_number number)
    {
        std::string path;
        if (const auto it = locations_.find(number); it != locations_.end()) {
            path = std::move(it->second);
            locations_.erase(it);
        }
        return path;
    }
    /// A short human description, e.g. "Maildir demo-mail".
    virtual std::string describe() const = 0;

protected:
    virtual void do_begin(const pop3::fetched_message_info& message) = 0;
    virtual void do_write(std::string_view chunk) = 0;
    /// Makes the message durable; returns where it went.
    virtual std::string do_commit() = 0;
    /// Leaves nothing of the current message behind; safe in any state.
    virtual void do_abort() noexcept = 0;
    /// The number of the message `begin` last started.
    pop3::message_number current_number() const noexcept { return number_; }
    /// Group commit (see pop3::message_delivery): true when `do_commit` leaves durability to
    /// `do_sync`, which may move a message (and then updates its entry in `locations`).
    virtual bool do_batches() const noexcept { return false; }
    virtual void do_sync(std::map<pop3::message_number, std::string>& locations) { (void)locations; }

private:
    template <class F> pop3::error_code guarded(F&& f)
    {
        try {
            f();
            return {};
        } catch (const storage_error& e) {
            failure_ = std::current_exception();
            return e.code() ? e.code() : pop3::errno_code(EIO);
        }
    }

    std::exception_ptr failure_;
    pop3::message_number number_ = 0;
    std::map<pop3::message_number, std::string> locations_; ///< committed, not yet reported
};

} // namespace pop3_fetch

#endif // POP3_FETCH_STORAGE_HPP
