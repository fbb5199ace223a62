// pop3/detail/stream_traits.hpp: what the engine needs to know about a Stream type.
#ifndef POP3_DETAIL_STREAM_TRAITS_HPP
#define POP3_DETAIL_STREAM_TRAITS_HPP

#include <pop3/detail/asio.hpp>

#include <type_traits>
#include <utility>

namespace pop3::detail {

/// True for `net::ssl::stream<S>`: such a client can do STLS and implicit TLS.
template <class Stream> struct is_ssl_stream : std::false_type {
};
template <class Next> struct is_ssl_stream<net::ssl::stream<Next>> : std::true_type {
};

/// True when the lowest layer is a socket with a native handle: timeouts can use it.
template <class Stream, class = void> struct has_native_socket : std::false_type {
};
template <class Stream>
struct has_native_socket<
    Stream, std::void_t<decltype(std::declval<Stream&>().lowest_layer().native_handle()),
                        decltype(std::declval<Stream&>().lowest_layer().non_blocking(true)),
                        decltype(std::declval<Stream&>().lowest_layer().cancel(
                            std::declval<error_code&>()))>> : std::true_type {
};

/// True when the transport can be closed through `lowest_layer().close(ec)` (a socket, or a
/// test stream that offers it).
template <class Stream, class = void> struct has_closable_lowest_layer : std::false_type {
};
template <class Stream>
struct has_closable_lowest_layer<Stream,
                                 std::void_t<decltype(std::declval<Stream&>().lowest_layer().close(
                                     std::declval<error_code&>()))>> : std::true_type {
};

/// True when the lowest layer is a TCP socket that `connect` can open.
template <class Stream, class = void> struct has_tcp_socket : std::false_type {
};
template <class Stream>
struct has_tcp_socket<Stream, std::enable_if_t<std::is_same_v<
                                  std::decay_t<decltype(std::declval<Stream&>().lowest_layer())>,
                                  net::basic_socket<net::ip::tcp, typename Stream::executor_type>>>>
    : std::true_type {
};

} // namespace pop3::detail

#endif // POP3_DETAIL_STREAM_TRAITS_HPP
