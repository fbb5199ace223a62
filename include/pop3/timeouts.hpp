// pop3/timeouts.hpp: how long the client waits before it gives up on the server.
#ifndef POP3_TIMEOUTS_HPP
#define POP3_TIMEOUTS_HPP

#include <chrono>

namespace pop3 {

/// Timeouts of a client. A zero duration waits forever. A call that runs out of time
/// fails with `errc::timeout` and leaves the session broken (reconnect).
struct timeouts {
    /// From the start of `connect` to the greeting and capabilities: TCP connect, TLS
    /// handshake and the first replies. (A synchronous `connect` resolves the host name
    /// with the system resolver, which has timeouts of its own.)
    std::chrono::milliseconds connect = std::chrono::seconds(30);
    /// The longest the server may stay silent (or not accept data) in any single read or
    /// write of any call. A large message does not time out while bytes keep arriving.
    std::chrono::milliseconds idle = std::chrono::seconds(60);
};

} // namespace pop3

#endif // POP3_TIMEOUTS_HPP
