// pop3/trace.hpp: an optional protocol log of what crosses the wire, with secrets removed.
#ifndef POP3_TRACE_HPP
#define POP3_TRACE_HPP

#include <functional>
#include <string_view>

namespace pop3 {

/// Which way a traced line went.
enum class trace_direction {
    sent,     ///< a command line (passwords, SASL responses and tokens replaced by "<redacted>")
    received, ///< a status or listing line, or a summary of a message body
};

/// Called once per line, without its CRLF. Runs inside the operation: keep it quick.
using trace_hook = std::function<void(trace_direction, std::string_view)>;

} // namespace pop3

#endif // POP3_TRACE_HPP
