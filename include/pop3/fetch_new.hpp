// pop3/fetch_new.hpp: kept so existing code compiles; now
// <pop3/leave_on_server/fetch_new.hpp> (or <pop3/leave_on_server.hpp> for the whole layer).
#ifndef POP3_FETCH_NEW_HPP
#define POP3_FETCH_NEW_HPP

#include <pop3/fetch_plan.hpp>
#include <pop3/leave_on_server/fetch_new.hpp>
#include <pop3/uid_store.hpp>

#endif // POP3_FETCH_NEW_HPP
