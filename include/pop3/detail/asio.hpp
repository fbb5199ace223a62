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
/// The error code type of the Asio pop3 is built on: Asio's own functions take and report it,
/// and pop3's asynchronous calls complete with it. boost::system::error_code here.
using net_error_code = ::boost::system::error_code;
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
/// The error code type of the Asio pop3 is built on: Asio's own functions take and report it,
/// and pop3's asynchronous calls complete with it. std::error_code here.
using net_error_code = ::asio::error_code;
} // namespace pop3
#endif

#include <pop3/error.hpp>

#include <system_error>

#if defined(POP3_USE_BOOST_ASIO)
#include <map>
#include <memory>
#include <mutex>
#include <type_traits>
#endif

namespace pop3::detail {
using pop3::net_error_code;
}

namespace pop3 {

// pop3's core speaks std::error_code. Boost.Asio's functions take and report
// boost::system::error_code, and Boost's error enums (net::error::eof, ...) compare only with
// Boost's error_code. So code that calls Asio holds a net_error_code, compares a std::error_code
// with an Asio error through net_error(), and asynchronous completions hand the caller
// to_net_error_code(ec): Boost's use_future and use_awaitable throw only for a
// boost::system::error_code.

/// An Asio error value (`net::error::eof`, `net::ssl::error::stream_truncated`, ...) as a
/// std::error_code, for comparing with what pop3's synchronous calls report.
template <class AsioErrorEnum> std::error_code net_error(AsioErrorEnum e)
{
    return std::error_code(net_error_code(e));
}

#if defined(POP3_USE_BOOST_ASIO)

namespace detail {

/// `T` in a context where it is not deduced.
template <class T> struct same_type {
    using type = T;
};

/// Newer Boost (detected here, not assumed from a version; tested with 1.83) can hold any
/// std::error_code in its error_code and give it back intact, and compares it with std error
/// enums such as pop3::errc itself. Older Boost (Debian 12 has 1.74) cannot: there a pop3 error
/// travels in a Boost category made for it.
inline constexpr bool boost_holds_std_error_code =
    std::is_constructible_v<::boost::system::error_code, const std::error_code&>;

/// Older Boost: a Boost category that answers for a std::error_category.
class boost_category_for_std final : public ::boost::system::error_category {
public:
    explicit boost_category_for_std(const std::error_category& std_category)
        : std_category_(std_category)
    {
    }
    const char* name() const noexcept override { return std_category_.name(); }
    std::string message(int value) const override { return std_category_.message(value); }
    const std::error_category& std_category() const noexcept { return std_category_; }

private:
    const std::error_category& std_category_;
};

/// One Boost category per std category, made on first use and kept for the program's life.
inline const ::boost::system::error_category&
boost_category_for(const std::error_category& std_category)
{
    static std::mutex mutex;
    static std::map<const std::error_category*, std::unique_ptr<boost_category_for_std>> made;
    const std::lock_guard<std::mutex> lock(mutex);
    auto& slot = made[&std_category];
    if (!slot) slot = std::make_unique<boost_category_for_std>(std_category);
    return *slot;
}

} // namespace detail

/// `ec` as the code an asynchronous call completes with. An error that came from Boost (and
/// crossed into std::error_code on the way) gets its Boost category back, so
/// `ec == boost::asio::error::eof` holds; pop3's own errors compare with pop3::errc.
/// (A template only so that the branch for the other Boost generation is never compiled.)
template <class StdErrorCode = std::error_code>
net_error_code to_net_error_code(const typename detail::same_type<StdErrorCode>::type& ec)
{
    namespace bs = ::boost::system;
    if (!ec) return {};
    const std::error_category& category = ec.category();
    if (category == std::system_category()) return {ec.value(), bs::system_category()};
    if (category == std::generic_category()) return {ec.value(), bs::generic_category()};
    const bs::error_category* boost_categories[] = {
        &bs::system_category(),
        &bs::generic_category(),
        &net::error::get_misc_category(),
        &net::error::get_netdb_category(),
        &net::error::get_addrinfo_category(),
        &net::error::get_ssl_category(),
        &net::ssl::error::get_stream_category(),
    };
    for (const bs::error_category* boost_category : boost_categories) {
        if (category == std::error_code(net_error_code(0, *boost_category)).category())
            return {ec.value(), *boost_category};
    }
    if constexpr (detail::boost_holds_std_error_code) return net_error_code(ec);
    else return {ec.value(), detail::boost_category_for(category)};
}

/// The inverse of to_net_error_code: a pop3 error that travelled in a boost::system::error_code
/// is a pop3 error again.
inline std::error_code from_net_error_code(const net_error_code& ec)
{
    // Success is the one value-initialized code: Boost's converts to an equal value in a
    // category of its own, which would compare unequal to std::error_code{}.
    if (!ec) return {};
    if (const auto* carried = dynamic_cast<const detail::boost_category_for_std*>(&ec.category()))
        return {ec.value(), carried->std_category()};
    return std::error_code(ec);
}

// Older Boost only: `ec == pop3::errc::timeout` for a code an asynchronous call completed with.
// (Templates on the exact type, so that no conversion makes them compete with the standard
// library's or newer Boost's own operators.)
template <class Code,
          std::enable_if_t<
              std::is_same_v<Code, net_error_code> && !detail::boost_holds_std_error_code, int> = 0>
bool operator==(const Code& ec, errc e) noexcept
{
    return ec.value() == static_cast<int>(e) &&
           &ec.category() == &detail::boost_category_for(error_category());
}
template <class Code,
          std::enable_if_t<
              std::is_same_v<Code, net_error_code> && !detail::boost_holds_std_error_code, int> = 0>
bool operator==(errc e, const Code& ec) noexcept
{
    return ec == e;
}
template <class Code,
          std::enable_if_t<
              std::is_same_v<Code, net_error_code> && !detail::boost_holds_std_error_code, int> = 0>
bool operator!=(const Code& ec, errc e) noexcept
{
    return !(ec == e);
}
template <class Code,
          std::enable_if_t<
              std::is_same_v<Code, net_error_code> && !detail::boost_holds_std_error_code, int> = 0>
bool operator!=(errc e, const Code& ec) noexcept
{
    return !(ec == e);
}

#else

/// `ec` as the code an asynchronous call completes with: the same std::error_code here.
inline net_error_code to_net_error_code(const std::error_code& ec) noexcept
{
    return ec;
}
/// The inverse of to_net_error_code: the same std::error_code here.
inline std::error_code from_net_error_code(const net_error_code& ec) noexcept
{
    return ec;
}

#endif

} // namespace pop3

#endif // POP3_DETAIL_ASIO_HPP
