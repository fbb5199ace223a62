// STLS needs a TLS-capable stream: on a plain TCP client it is refused at compile time.
// expect: stls\(\) needs a TLS-capable client
#include <pop3/client.hpp>

void use(pop3::client<pop3::net::ip::tcp::socket>& c)
{
    c.stls();
}
