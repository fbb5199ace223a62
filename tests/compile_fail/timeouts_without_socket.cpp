// A timeout could not stop a read on a stream without a socket underneath: set_timeouts does
// not compile for it (it would otherwise promise a bound and hang).
// expect: set_timeouts\(\) needs a stream whose lowest_layer\(\) is a socket
#include "unit/test_stream.hpp"

#include <pop3/client.hpp>

void use(pop3::client<pop3_test::test_stream>& c)
{
    c.set_timeouts({});
}
