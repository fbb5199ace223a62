// pop3/leave_on_server/detail/posix_file.hpp: the POSIX file work of `file_uid_store`: an
// owning file descriptor, whole writes, and the syncs that make them durable.
#ifndef POP3_LEAVE_ON_SERVER_DETAIL_POSIX_FILE_HPP
#define POP3_LEAVE_ON_SERVER_DETAIL_POSIX_FILE_HPP

#if !defined(_WIN32)

#include <pop3/error_code.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace pop3::detail {

inline error_code last_errno() noexcept { return detail::system_error_code(errno); }

/// An owning file descriptor: closed by the destructor, `reset` and move-assignment.
class unique_fd {
public:
    unique_fd() = default;
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
    unique_fd& operator=(unique_fd&& other) noexcept
    {
        if (this != &other) reset(other.release());
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }

    /// Gives up ownership without closing.
    int release() noexcept { return std::exchange(fd_, -1); }

    /// Closes the descriptor held (if any) and takes `fd`. close() is not retried on
    /// EINTR: on Linux the descriptor is gone either way.
    void reset(int fd = -1) noexcept
    {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

    /// Opens `path`, retrying EINTR; sets `ec` (errno) on failure.
    static unique_fd open(const std::string& path, int flags, error_code& ec,
                          mode_t mode = 0600)
    {
        int fd;
        do fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
        while (fd < 0 && errno == EINTR);
        ec = fd < 0 ? last_errno() : error_code{};
        return unique_fd(fd);
    }

private:
    int fd_ = -1;
};

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

/// Reads the whole file into `data`, retrying short reads and EINTR.
inline error_code read_whole_file(int fd, std::string& data)
{
    struct stat st {};
    if (::fstat(fd, &st) != 0) return last_errno();
    data.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < data.size()) {
        const auto n = ::pread(fd, data.data() + got, data.size() - got, static_cast<off_t>(got));
        if (n < 0) {
            if (errno == EINTR) continue;
            return last_errno();
        }
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    data.resize(got);
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
    error_code ec;
    const auto fd = unique_fd::open(dir, O_RDONLY | O_DIRECTORY, ec);
    if (ec) return ec;
    while (::fsync(fd.get()) != 0)
        if (errno != EINTR) return last_errno();
    return {};
}

/// The directory part of `path` ("." when it has none).
inline std::string directory_of(const std::string& path)
{
    const auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

} // namespace pop3::detail

#endif // !_WIN32

#endif // POP3_LEAVE_ON_SERVER_DETAIL_POSIX_FILE_HPP
