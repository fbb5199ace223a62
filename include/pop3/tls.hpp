// pop3/tls.hpp: a TLS client context with safe defaults.
#ifndef POP3_TLS_HPP
#define POP3_TLS_HPP

#include <pop3/detail/asio.hpp>
#include <pop3/error.hpp>
#include <pop3/exception.hpp>
#include <pop3/tls_mode.hpp>

#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

namespace pop3 {

/// Where to find the certificates that may sign a server's certificate.
struct tls_options {
    tls_options() = default;
    /// `make_tls_context({"ca.pem"})`: trust the CA certificates in a PEM file.
    tls_options(std::string file, std::string directory = {})
        : ca_file(std::move(file)), ca_directory(std::move(directory))
    {
    }

    /// A PEM file of trusted CA certificates. Empty: the system trust store.
    std::string ca_file;
    /// A directory of hashed CA certificates (as made by `openssl rehash`).
    std::string ca_directory;
};

/// A client context for `client<net::ssl::stream<net::ip::tcp::socket>>`: TLS 1.2 or
/// newer, trusting the system store (or the given CA file/directory). Certificate chain
/// and host name are verified by the client whenever TLS starts.
/// Sets `ec` to errc::ca_certificates_unreadable when a CA file or directory cannot be loaded.
inline net::ssl::context make_tls_context(const tls_options& options, error_code& ec)
{
    ec.clear();
    net::ssl::context context(net::ssl::context::tls_client);
    context.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                        net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                        net::ssl::context::no_tlsv1_1);
    error_code loaded;
    if (options.ca_file.empty() && options.ca_directory.empty())
        context.set_default_verify_paths(loaded);
    if (!loaded && !options.ca_file.empty()) context.load_verify_file(options.ca_file, loaded);
    if (!loaded && !options.ca_directory.empty()) {
        // OpenSSL looks into a CA directory only during handshakes: check that it is there.
        std::error_code ignored; // std::filesystem's, whatever the flavour
        if (std::filesystem::is_directory(options.ca_directory, ignored))
            context.add_verify_path(options.ca_directory, loaded);
        else ec = errc::ca_certificates_unreadable;
    }
    if (loaded) ec = errc::ca_certificates_unreadable;
    context.set_verify_mode(net::ssl::verify_peer);
    return context;
}

/// As above. @throws pop3::error (errc::ca_certificates_unreadable).
inline net::ssl::context make_tls_context(const tls_options& options = {})
{
    error_code ec;
    auto context = make_tls_context(options, ec);
    if (ec) throw pop3::error(ec);
    return context;
}

} // namespace pop3

#endif // POP3_TLS_HPP
