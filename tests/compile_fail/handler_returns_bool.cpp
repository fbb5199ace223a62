// A retr_many handler must return void or pop3::error_code: `false` would not stop anything.
// expect: must return void \(go on\) or pop3::error_code
#include <pop3/client.hpp>

void use(pop3::client<pop3::net::ip::tcp::socket>& c)
{
    c.retr_many({1, 2}, [](const pop3::message_part&) { return false; });
}
