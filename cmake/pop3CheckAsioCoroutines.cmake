# Sets POP3_HAVE_ASIO_COROUTINES when the compiler and the Asio pop3 is built on (standalone, or
# Boost.Asio with POP3_USE_BOOST_ASIO) build awaitable code in C++20 (GCC 12 does; Clang 14 with
# Debian's Asio 1.22 does not). Used by the coroutine tests and examples; not installed.
include(CheckCXXSourceCompiles)
if(POP3_USE_BOOST_ASIO)
    set(_pop3_asio_target Boost::headers)
    set(_pop3_asio_include boost/asio)
    set(_pop3_asio_namespace boost::asio)
    set(CMAKE_REQUIRED_DEFINITIONS)
else()
    set(_pop3_asio_target asio::asio)
    set(_pop3_asio_include asio)
    set(_pop3_asio_namespace asio)
    set(CMAKE_REQUIRED_DEFINITIONS -DASIO_STANDALONE)
endif()
get_target_property(_pop3_asio_includes ${_pop3_asio_target} INTERFACE_INCLUDE_DIRECTORIES)
set(CMAKE_REQUIRED_INCLUDES ${_pop3_asio_includes})
set(CMAKE_REQUIRED_FLAGS -std=c++20)
set(CMAKE_REQUIRED_LIBRARIES Threads::Threads)
# <utility> first: Boost 1.74's awaitable.hpp uses std::exchange without including it.
check_cxx_source_compiles("
#include <utility>
#include <${_pop3_asio_include}/awaitable.hpp>
#include <${_pop3_asio_include}/co_spawn.hpp>
#include <${_pop3_asio_include}/detached.hpp>
#include <${_pop3_asio_include}/io_context.hpp>
namespace net = ${_pop3_asio_namespace};
net::awaitable<int> f() { co_return 1; }
int main() { net::io_context ioc; net::co_spawn(ioc, f(), net::detached); ioc.run(); }
" POP3_HAVE_ASIO_COROUTINES)
unset(CMAKE_REQUIRED_INCLUDES)
unset(CMAKE_REQUIRED_DEFINITIONS)
unset(CMAKE_REQUIRED_FLAGS)
unset(CMAKE_REQUIRED_LIBRARIES)
unset(_pop3_asio_includes)
unset(_pop3_asio_target)
unset(_pop3_asio_include)
unset(_pop3_asio_namespace)
