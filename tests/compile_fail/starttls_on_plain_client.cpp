// A plain TCP client has no TLS: asking it for STLS (or any tls_mode) is refused at compile
// time, not discovered at run time.
// expect: a tls_mode needs a TLS-capable client
#include <pop3/client.hpp>

void use(pop3::client<pop3::net::ip::tcp::socket>& c)
{
    c.connect("pop.example.com", "110", pop3::tls_mode::starttls);
}
