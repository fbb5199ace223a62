// Flavour-neutral error codes for the tests: errno errors as pop3::error_code, whether that is
// std::error_code or boost::system::error_code. No Asio here (the store and plan tests use it).
#ifndef POP3_TESTS_TEST_ERROR_CODE_HPP
#define POP3_TESTS_TEST_ERROR_CODE_HPP

#include <pop3/error_code.hpp>

#include <system_error>

namespace pop3_test {

#if defined(POP3_USE_BOOST_ASIO)
/// The error condition type that goes with pop3::error_code.
using error_condition = ::boost::system::error_condition;
inline const pop3::error_category_base& generic_category() noexcept
{
    return ::boost::system::generic_category();
}
#else
using error_condition = ::std::error_condition;
inline const pop3::error_category_base& generic_category() noexcept
{
    return std::generic_category();
}
#endif

/// A portable errno error (generic category) as pop3::error_code, for callbacks to return.
inline pop3::error_code generic_error(std::errc e) noexcept
{
    return {static_cast<int>(e), generic_category()};
}

/// An errno value in the system category, as the library reports the OS's errors.
inline pop3::error_code errno_error(int value) noexcept
{
    return pop3::detail::system_error_code(value);
}

/// The errno condition `e`: `ec == generic_condition(e)` holds for a system or generic code.
inline error_condition generic_condition(std::errc e) noexcept
{
    return {static_cast<int>(e), generic_category()};
}

} // namespace pop3_test

#endif // POP3_TESTS_TEST_ERROR_CODE_HPP
