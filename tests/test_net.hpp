// The Asio the library was built on, for the tests that drive the client: standalone Asio, or
// Boost.Asio with POP3_USE_BOOST_ASIO. Tests spell it `net::`.
#ifndef POP3_TESTS_TEST_NET_HPP
#define POP3_TESTS_TEST_NET_HPP

#include <pop3/detail/asio.hpp>
#include <pop3/error_code.hpp>

#include "test_error_code.hpp"

#if defined(POP3_USE_BOOST_ASIO)
#include <boost/asio/version.hpp>
// Per-operation cancellation slots arrived in Asio 1.19 (Boost 1.77); Debian 12's Boost 1.74
// has Asio 1.18.
#if BOOST_ASIO_VERSION >= 101900
#define POP3_TEST_HAS_CANCELLATION_SLOTS 1
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#endif
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#else
#define POP3_TEST_HAS_CANCELLATION_SLOTS 1
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/io_context.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_future.hpp>
#include <asio/write.hpp>
#endif

#include <system_error>

namespace net = pop3::net;

namespace pop3_test {

/// The exception Asio's use_future throws for an error: std::system_error, or Boost's own.
using net_system_error = pop3::system_error;

} // namespace pop3_test

#endif // POP3_TESTS_TEST_NET_HPP
