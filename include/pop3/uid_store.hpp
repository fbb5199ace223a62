// pop3/uid_store.hpp: kept so existing code compiles; the UID stores now live in
// <pop3/leave_on_server/store.hpp>, memory_store.hpp and file_store.hpp (or include
// <pop3/leave_on_server.hpp> for the whole layer).
#ifndef POP3_UID_STORE_HPP
#define POP3_UID_STORE_HPP

#include <pop3/leave_on_server/file_store.hpp>
#include <pop3/leave_on_server/memory_store.hpp>
#include <pop3/leave_on_server/store.hpp>

#endif // POP3_UID_STORE_HPP
