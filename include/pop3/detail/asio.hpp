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
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/error_code.hpp>
namespace pop3 {
namespace net = ::boost::asio;
namespace detail {
/// The error_code type Asio's own functions take and report: boost::system::error_code here.
using net_error_code = ::boost::system::error_code;
} // namespace detail
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
#include <asio/ssl/host_name_verification.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
namespace pop3 {
namespace net = ::asio;
namespace detail {
/// The error_code type Asio's own functions take and report: std::error_code here.
using net_error_code = ::asio::error_code;
} // namespace detail
} // namespace pop3
#endif

#include <system_error>

namespace pop3::detail {

// pop3's API speaks std::error_code. Boost.Asio's functions take and report
// boost::system::error_code, which converts to std::error_code but cannot be assigned from one,
// and Boost's error enums (net::error::eof, ...) compare only with Boost's error_code. So code
// that calls Asio holds a net_error_code, and compares a std::error_code with an Asio error
// through net_error(): `ec == net_error(net::error::eof)` works with either Asio.

/// An Asio error value (`net::error::eof`, `net::ssl::error::stream_truncated`, ...) as a
/// std::error_code.
template <class AsioErrorEnum> std::error_code net_error(AsioErrorEnum e)
{
    return std::error_code(net_error_code(e));
}

} // namespace pop3::detail

#endif // POP3_DETAIL_ASIO_HPP
