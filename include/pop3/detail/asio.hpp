// pop3/detail/asio.hpp: the one place that chooses standalone Asio or Boost.Asio.
//
// Everything else spells Asio as `pop3::net`. Define POP3_USE_BOOST_ASIO (the CMake
// option of the same name does) to build on Boost.Asio instead of standalone Asio.
#ifndef POP3_DETAIL_ASIO_HPP
#define POP3_DETAIL_ASIO_HPP

#if defined(POP3_USE_BOOST_ASIO)
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/error_code.hpp>
namespace pop3 {
namespace net = ::boost::asio;
} // namespace pop3
#else
#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/buffer.hpp>
#include <asio/compose.hpp>
#include <asio/connect.hpp>
#include <asio/error_code.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/ssl/error.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
namespace pop3 {
namespace net = ::asio;
} // namespace pop3
#endif

#include <pop3/error.hpp>
#include <pop3/error_code.hpp>

#include <type_traits>

namespace pop3 {

// pop3::error_code is picked without Asio (the core must not include it); this is where the two
// choices meet.
#if !defined(POP3_USE_BOOST_ASIO)
static_assert(std::is_same_v<error_code, ::asio::error_code>,
              "pop3::error_code must be the error code type of the Asio pop3 is built on");
#endif

/// Deprecated: the error code type of the Asio pop3 is built on. Every form of every call now
/// reports `pop3::error_code`, which is this same type.
using net_error_code [[deprecated("use pop3::error_code")]] = error_code;

} // namespace pop3

#endif // POP3_DETAIL_ASIO_HPP
