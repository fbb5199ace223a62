// pop3/error_code.hpp: the one error code type of the library, chosen by the Asio it is built on.
//
// No Asio here (the protocol core includes this): POP3_USE_BOOST_ASIO alone picks
// boost::system::error_code, which is what Boost.Asio reports; otherwise std::error_code, which
// is what standalone Asio reports. Every form (throwing, `error_code&`, asynchronous) and every
// callback speaks this one type.
#ifndef POP3_ERROR_CODE_HPP
#define POP3_ERROR_CODE_HPP

#if defined(POP3_USE_BOOST_ASIO)
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>
#endif

#include <system_error>
#include <type_traits>

namespace pop3 {

#if defined(POP3_USE_BOOST_ASIO)
/// The error code every pop3 call reports: boost::system::error_code on Boost.Asio.
using error_code = ::boost::system::error_code;
/// The base class of error categories for `pop3::error_code`.
using error_category_base = ::boost::system::error_category;
/// The exception type that carries a `pop3::error_code` (the base of `pop3::error`).
using system_error = ::boost::system::system_error;
#else
/// The error code every pop3 call reports: std::error_code on standalone Asio.
using error_code = ::std::error_code;
/// The base class of error categories for `pop3::error_code`.
using error_category_base = ::std::error_category;
/// The exception type that carries a `pop3::error_code` (the base of `pop3::error`).
using system_error = ::std::system_error;
#endif

namespace detail {

/// An operating system error (errno, or WSAGetLastError on Windows) as a pop3::error_code.
inline error_code system_error_code(int errno_value) noexcept
{
#if defined(POP3_USE_BOOST_ASIO)
    return {errno_value, ::boost::system::system_category()};
#else
    return {errno_value, std::system_category()};
#endif
}

} // namespace detail

} // namespace pop3

// Registers an error enum of pop3 with the machinery of pop3::error_code, so that
// `pop3::error_code ec = e;` and `ec == e` work. Use at global scope.
#if defined(POP3_USE_BOOST_ASIO)
#define POP3_DETAIL_REGISTER_ERROR_CODE_ENUM(Enum)                                                 \
    template <> struct boost::system::is_error_code_enum<Enum> : std::true_type {                  \
    }
#else
#define POP3_DETAIL_REGISTER_ERROR_CODE_ENUM(Enum)                                                 \
    template <> struct std::is_error_code_enum<Enum> : std::true_type {                            \
    }
#endif

#endif // POP3_ERROR_CODE_HPP
