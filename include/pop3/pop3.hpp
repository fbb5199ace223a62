// pop3/pop3.hpp: the public API of the pop3 client. Leave-on-server (UID stores,
// fetch_new) is a layer of its own: #include <pop3/leave_on_server.hpp>.
#ifndef POP3_POP3_HPP
#define POP3_POP3_HPP

#include <pop3/auth.hpp>
#include <pop3/capabilities.hpp>
#include <pop3/client.hpp>
#include <pop3/commands.hpp>
#include <pop3/error.hpp>
#include <pop3/exception.hpp>
#include <pop3/greeting.hpp>
#include <pop3/limits.hpp>
#include <pop3/message_part.hpp>
#include <pop3/reply.hpp>
#include <pop3/response_parser.hpp>
#include <pop3/results.hpp>
#include <pop3/session_state.hpp>
#include <pop3/timeouts.hpp>
#include <pop3/tls.hpp>
#include <pop3/trace.hpp>

/// @namespace pop3
/// The POP3 client (RFC 1939 and its extensions): `pop3::client`, its results and errors,
/// the sans-I/O protocol pieces it is built on (`commands`, `response_parser`), and the
/// leave-on-server layer (<pop3/leave_on_server.hpp>). Names in `pop3::detail` are internal.

#endif // POP3_POP3_HPP
