// The asynchronous forms refuse a tls_mode on a plain TCP client too, even `none`: the
// argument has no meaning there.
// expect: a tls_mode needs a TLS-capable client
#include <pop3/client.hpp>

void use(pop3::client<pop3::net::ip::tcp::socket>& c)
{
    c.async_read_greeting(pop3::tls_mode::none, [](pop3::error_code) {});
}
