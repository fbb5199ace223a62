// A sink must return void or pop3::error_code: a std::errc result would be ignored silently.
// expect: must return void \(go on\) or pop3::error_code
#include <pop3/client.hpp>

void use(pop3::client<pop3::net::ip::tcp::socket>& c)
{
    c.retr(1, [](std::string_view) { return std::errc::io_error; });
}
