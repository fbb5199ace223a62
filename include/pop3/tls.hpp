// pop3/tls.hpp: a TLS client context with safe defaults.
#ifndef POP3_TLS_HPP
#define POP3_TLS_HPP

#include <pop3/detail/asio.hpp>
#include <pop3/error.hpp>

#include <string>
#include <system_error>

namespace pop3 {

/// Where to find the certificates that may sign a server's certificate.
struct tls_options {
    /// A PEM file of trusted CA certificates. Empty: the system trust store.
    std::string ca_file;
    /// A directory of hashed CA certificates (as made by `openssl rehash`).
    std::string ca_directory;
};

/// A client context for `client<net::ssl::stream<net::ip::tcp::socket>>`: TLS 1.2 or
/// newer, trusting the system store (or the given CA file/directory). Certificate chain
/// and host name are verified by the client whenever TLS starts.
/// @throws std::system_error when a CA file or directory cannot be loaded.
inline net::ssl::context make_tls_context(const tls_options& options = {})
{
    net::ssl::context context(net::ssl::context::tls_client);
    context.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                        net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                        net::ssl::context::no_tlsv1_1);
    if (options.ca_file.empty() && options.ca_directory.empty()) context.set_default_verify_paths();
    if (!options.ca_file.empty()) context.load_verify_file(options.ca_file);
    if (!options.ca_directory.empty()) context.add_verify_path(options.ca_directory);
    context.set_verify_mode(net::ssl::verify_peer);
    return context;
}

/// Whether the client checks the server's certificate when TLS starts.
enum class certificate_check {
    verify,                 ///< chain and host name are verified (the default)
    insecure_do_not_verify, ///< anyone can impersonate the server: for tests only
};

/// How `connect` (or `read_greeting` on a stream the caller connected) secures the session.
enum class tls_mode {
    implicit, ///< TLS from the first byte (POP3S, port 995)
    /// Plain connect, then STLS (RFC 2595). TLS is required: if the server does not offer
    /// STLS or it fails, the call fails with errc::tls_required and closes the connection
    /// before any credential could be sent. Never falls back to cleartext.
    starttls,
    none, ///< no TLS at all (then `login` uses only SCRAM unless plaintext is allowed)
};

} // namespace pop3

#endif // POP3_TLS_HPP
