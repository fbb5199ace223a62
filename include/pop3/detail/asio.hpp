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
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/ssl/error.hpp>
#include <asio/ssl/host_name_verification.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
namespace pop3 {
namespace net = ::asio;
} // namespace pop3
#endif

#endif // POP3_DETAIL_ASIO_HPP
