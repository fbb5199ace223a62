// examples/net.hpp: the Asio the examples are written against, as `net`: standalone Asio,
// or Boost.Asio when pop3 is built on it (POP3_USE_BOOST_ASIO, which the pop3::pop3 target
// defines). Your own program names the one it uses, `asio::` or `boost::asio::`; pop3
// itself calls it `pop3::net`.
#ifndef POP3_EXAMPLES_NET_HPP
#define POP3_EXAMPLES_NET_HPP

#if defined(POP3_USE_BOOST_ASIO)
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
namespace net = ::boost::asio;
#else
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/error.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>
namespace net = ::asio;
#endif

#endif // POP3_EXAMPLES_NET_HPP
