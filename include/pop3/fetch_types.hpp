// pop3/fetch_types.hpp: kept so existing code compiles; now
// <pop3/leave_on_server/fetch_types.hpp>.
#ifndef POP3_FETCH_TYPES_HPP
#define POP3_FETCH_TYPES_HPP

#include <pop3/leave_on_server/fetch_types.hpp>
#include <pop3/uid_store.hpp>

#endif // POP3_FETCH_TYPES_HPP
