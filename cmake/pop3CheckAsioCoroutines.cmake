# Sets POP3_HAVE_ASIO_COROUTINES when the compiler and the standalone Asio found build
# asio::awaitable code in C++20 (GCC 12 does; Clang 14 with Debian's Asio 1.22 does not).
# Used by the coroutine tests and examples; not installed.
include(CheckCXXSourceCompiles)
get_target_property(_pop3_asio_includes asio::asio INTERFACE_INCLUDE_DIRECTORIES)
set(CMAKE_REQUIRED_INCLUDES ${_pop3_asio_includes})
set(CMAKE_REQUIRED_DEFINITIONS -DASIO_STANDALONE)
set(CMAKE_REQUIRED_FLAGS -std=c++20)
set(CMAKE_REQUIRED_LIBRARIES Threads::Threads)
check_cxx_source_compiles([=[
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
asio::awaitable<int> f() { co_return 1; }
int main() { asio::io_context ioc; asio::co_spawn(ioc, f(), asio::detached); ioc.run(); }
]=] POP3_HAVE_ASIO_COROUTINES)
unset(CMAKE_REQUIRED_INCLUDES)
unset(CMAKE_REQUIRED_DEFINITIONS)
unset(CMAKE_REQUIRED_FLAGS)
unset(CMAKE_REQUIRED_LIBRARIES)
unset(_pop3_asio_includes)
