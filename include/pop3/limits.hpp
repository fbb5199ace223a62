// pop3/limits.hpp: bounds on what the library accepts from a server.
#ifndef POP3_LIMITS_HPP
#define POP3_LIMITS_HPP

#include <cstddef>

namespace pop3 {

/// Limits on what the parsers accept from a server.
struct parser_limits {
    /// Longest status, LIST, UIDL or CAPA line accepted, without its CRLF. Message bodies
    /// have no line limit: they stream.
    std::size_t max_line_length = 4096;
    /// Longest unique id accepted. RFC 1939 says 70; real servers send more.
    std::size_t max_uid_length = 512;
};

} // namespace pop3

#endif // POP3_LIMITS_HPP
