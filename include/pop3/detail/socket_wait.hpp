// pop3/detail/socket_wait.hpp: wait until a socket is ready, with a deadline. Lets the
// synchronous driver time out without threads or signals.
#ifndef POP3_DETAIL_SOCKET_WAIT_HPP
#define POP3_DETAIL_SOCKET_WAIT_HPP

#include <pop3/error.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <system_error>

#if defined(_WIN32)
#include <winsock2.h>
#else
#include <poll.h>
#include <sys/socket.h>
#endif

namespace pop3::detail {

using clock = std::chrono::steady_clock;

/// The earlier of `deadline` and now + `timeout`; time_point::max() stands for "never".
inline clock::time_point deadline_after(std::chrono::milliseconds timeout,
                                        clock::time_point deadline = clock::time_point::max())
{
    if (timeout.count() <= 0) return deadline;
    return std::min(deadline, clock::now() + timeout);
}

/// Blocks until `fd` is readable (or writable), the deadline passes (errc::timeout) or
/// polling fails.
template <class NativeHandle>
error_code wait_socket(NativeHandle fd, bool for_write, clock::time_point deadline)
{
    while (true) {
        int wait_ms = -1;
        if (deadline != clock::time_point::max()) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
            if (left.count() <= 0) return errc::timeout;
            wait_ms = static_cast<int>(std::min<long long>(left.count() + 1, 1 << 30));
        }
#if defined(_WIN32)
        WSAPOLLFD p{};
        p.fd = fd;
        p.events = for_write ? POLLWRNORM : POLLRDNORM;
        const int r = ::WSAPoll(&p, 1, wait_ms);
        if (r < 0) return detail::system_error_code(::WSAGetLastError());
#else
        pollfd p{};
        p.fd = fd;
        p.events = for_write ? POLLOUT : POLLIN;
        const int r = ::poll(&p, 1, wait_ms);
        if (r < 0) {
            if (errno == EINTR) continue;
            return detail::system_error_code(errno);
        }
#endif
        if (r > 0) return {}; // ready, or an error the next read or write will report
    }
}

/// The outcome of a non-blocking connect once the socket became writable.
template <class NativeHandle> error_code pending_connect_error(NativeHandle fd)
{
    int value = 0;
#if defined(_WIN32)
    int size = sizeof(value);
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&value), &size) != 0)
        return detail::system_error_code(::WSAGetLastError());
    return detail::system_error_code(value);
#else
    socklen_t size = sizeof(value);
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &size) != 0)
        return detail::system_error_code(errno);
    return detail::system_error_code(value);
#endif
}

} // namespace pop3::detail

#endif // POP3_DETAIL_SOCKET_WAIT_HPP
