// pop3/leave_on_server/durable_file.hpp: the POSIX file work that makes stored mail and UID
// state survive a crash: an owning file descriptor opened with O_CLOEXEC, whole reads and
// writes that retry EINTR and short transfers, and the syncs of a file and of its directory.
//
// `file_uid_store` is built on these, and so is an application's `message_delivery` that
// writes files (pop3-fetch's Maildir and mbox destinations are). Errors are errno values as
// `pop3::error_code`s (the system category). Not on Windows.
#ifndef POP3_LEAVE_ON_SERVER_DURABLE_FILE_HPP
#define POP3_LEAVE_ON_SERVER_DURABLE_FILE_HPP

#if !defined(_WIN32)

#include <pop3/error_code.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

namespace pop3 {

/// An errno value as a `pop3::error_code` (the system category).
/// @param errno_value the value, e.g. `ENOTDIR`
inline error_code errno_code(int errno_value) noexcept
{
    return detail::system_error_code(errno_value);
}

/// The calling thread's current `errno` as a `pop3::error_code`.
inline error_code last_errno_code() noexcept
{
    return errno_code(errno);
}

/// An owning file descriptor: closed by the destructor, `reset` and move-assignment.
class unique_fd {
public:
    /// Holds no descriptor.
    unique_fd() = default;
    /// Takes ownership of `fd` (-1: none).
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    /// Takes the descriptor of `other`, which then holds none.
    unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
    /// Closes the descriptor held, then takes the one of `other`.
    unique_fd& operator=(unique_fd&& other) noexcept
    {
        if (this != &other) reset(other.release());
        return *this;
    }
    /// Not copyable: one owner closes the descriptor.
    unique_fd(const unique_fd&) = delete;
    /// Not copyable: one owner closes the descriptor.
    unique_fd& operator=(const unique_fd&) = delete;
    /// Closes the descriptor held, if any.
    ~unique_fd() { reset(); }

    /// The descriptor (-1: none); still owned by this object.
    int get() const noexcept { return fd_; }
    /// Whether a descriptor is held.
    explicit operator bool() const noexcept { return fd_ >= 0; }

    /// Gives up ownership without closing.
    /// @return the descriptor held (-1: none)
    int release() noexcept { return std::exchange(fd_, -1); }

    /// Closes the descriptor held (if any) and takes `fd`. close() is not retried on
    /// EINTR: on Linux the descriptor is gone either way.
    void reset(int fd = -1) noexcept
    {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

    /// Opens `path` with `flags | O_CLOEXEC` (a program the application starts must not
    /// inherit it), retrying EINTR.
    /// @param path  the file
    /// @param flags open(2) flags, e.g. `O_WRONLY | O_CREAT | O_EXCL`
    /// @param ec    set to the errno code on failure, cleared on success
    /// @param mode  the permissions of a file that `O_CREAT` creates (before the umask)
    /// @return the descriptor; holds none on failure
    static unique_fd open(const std::string& path, int flags, error_code& ec, mode_t mode = 0600)
    {
        int fd;
        do fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
        while (fd < 0 && errno == EINTR);
        ec = fd < 0 ? last_errno_code() : error_code{};
        return unique_fd(fd);
    }

private:
    int fd_ = -1;
};

/// Writes all of `data` at the file offset of `fd` (the end with O_APPEND), retrying short
/// writes and EINTR. Works on pipes and terminals too.
/// @return the errno code of the write that failed; success when all was written
inline error_code write_all(int fd, std::string_view data)
{
    while (!data.empty()) {
        const auto n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return last_errno_code();
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
}

/// Writes all of `size` bytes at `data` to `fd` at `offset`, retrying short writes and EINTR.
/// @return the errno code of the write that failed; success when all was written
inline error_code pwrite_all(int fd, const char* data, std::size_t size, std::uint64_t offset)
{
    while (size > 0) {
        const auto n = ::pwrite(fd, data, size, static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            return last_errno_code();
        }
        data += n;
        size -= static_cast<std::size_t>(n);
        offset += static_cast<std::uint64_t>(n);
    }
    return {};
}

/// Reads up to `size` bytes of `fd` at `offset` into `data`, retrying short reads and EINTR:
/// fewer only at the end of the file.
/// @param fd     the file to read
/// @param data   where the bytes go (room for `size` bytes)
/// @param size   how many bytes to read at most
/// @param offset where in the file to start
/// @param got    set to the bytes read (less than `size`: the file ended)
/// @return the errno code of the read that failed
inline error_code read_at(int fd, char* data, std::size_t size, std::uint64_t offset,
                          std::size_t& got)
{
    got = 0;
    while (got < size) {
        const auto n = ::pread(fd, data + got, size - got, static_cast<off_t>(offset + got));
        if (n < 0) {
            if (errno == EINTR) continue;
            return last_errno_code();
        }
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    return {};
}

/// Reads the whole file into `data` (its size as fstat(2) says; less if it shrinks meanwhile).
/// @return the errno code of the fstat or read that failed
inline error_code read_whole_file(int fd, std::string& data)
{
    struct stat st {};
    if (::fstat(fd, &st) != 0) return last_errno_code();
    data.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    const auto ec = read_at(fd, data.data(), data.size(), 0, got);
    data.resize(got);
    return ec;
}

/// Flushes a file's data (and the metadata needed to read it back) to stable storage:
/// fdatasync(2) on Linux, F_FULLFSYNC on macOS (whose fsync leaves the data in the drive's
/// cache), fsync(2) elsewhere; EINTR is retried. A pipe or a terminal cannot be synced
/// (EINVAL): call this for regular files only.
/// @return the errno code on failure
inline error_code sync_file(int fd)
{
#if defined(__APPLE__)
    if (::fcntl(fd, F_FULLFSYNC) == 0) return {};
#endif
#if defined(__linux__)
    while (::fdatasync(fd) != 0)
#else
    while (::fsync(fd) != 0)
#endif
        if (errno != EINTR) return last_errno_code();
    return {};
}

/// Group commit: makes the data of several files durable with as few flushes as the platform
/// allows. On Linux, one syncfs(2) of the file system holding them (all of `fds` must be on
/// the one file system `fds.front()` is on, e.g. files in one Maildir's tmp/): it writes back
/// the whole file system, then waits. Elsewhere (or for a single file), `sync_file` for each.
/// @return the errno code of the flush that failed
inline error_code sync_files_together(const std::vector<int>& fds)
{
    if (fds.empty()) return {};
#if defined(__linux__) && defined(_GNU_SOURCE)
    if (fds.size() > 1) {
        // Reports writeback errors of the file system since the file was opened (Linux 5.8+).
        while (::syncfs(fds.front()) != 0)
            if (errno != EINTR) return last_errno_code();
        return {};
    }
#endif
    for (int fd : fds)
        if (auto ec = sync_file(fd)) return ec;
    return {};
}

/// Makes the entries created, renamed or removed in directory `dir` durable (fsync(2) of
/// the directory): a new file is only there after a crash once this returned.
/// @return the errno code of the open or fsync that failed
inline error_code sync_directory(const std::string& dir)
{
    error_code ec;
    const auto fd = unique_fd::open(dir, O_RDONLY | O_DIRECTORY, ec);
    if (ec) return ec;
    while (::fsync(fd.get()) != 0)
        if (errno != EINTR) return last_errno_code();
    return {};
}

/// The directory part of `path`: "." when it has none, "/" for a file in the root.
inline std::string directory_of(const std::string& path)
{
    const auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

/// Creates `path` and the directories above it that are missing (mkdir -p), and syncs the
/// directory that holds each one it creates, so that they survive a crash.
/// @param path the directory to create
/// @param mode the permissions of the directories created (before the umask)
/// @return the errno code of the step that failed; `ENOTDIR` when `path` exists and is not
///         a directory
inline error_code create_directories(const std::string& path, mode_t mode = 0700)
{
    if (path.empty()) return {};
    for (std::size_t end = path.find('/', 1);; end = path.find('/', end + 1)) {
        const auto partial = path.substr(0, end);
        if (!partial.empty() && partial.back() != '/') {
            if (::mkdir(partial.c_str(), mode) == 0) {
                if (auto ec = sync_directory(directory_of(partial))) return ec;
            } else if (errno != EEXIST) {
                return last_errno_code();
            }
        }
        if (end == std::string::npos) break;
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return last_errno_code();
    if (!S_ISDIR(st.st_mode)) return errno_code(ENOTDIR);
    return {};
}

} // namespace pop3

#endif // !_WIN32

#endif // POP3_LEAVE_ON_SERVER_DURABLE_FILE_HPP
