// pop3/leave_on_server.hpp: the leave-on-server layer in one include: UID stores (in
// memory, in a crash-safe journal file), the durable-file helpers they are built on, the
// policy, the planner, and `fetch_new` / `async_fetch_new`. Not part of <pop3/pop3.hpp>: a
// client that does not keep mail state does not pay for it (nor get <fcntl.h>/<unistd.h>).
#ifndef POP3_LEAVE_ON_SERVER_HPP
#define POP3_LEAVE_ON_SERVER_HPP

#include <pop3/leave_on_server/durable_file.hpp>
#include <pop3/leave_on_server/fetch_new.hpp>
#include <pop3/leave_on_server/fetch_types.hpp>
#include <pop3/leave_on_server/file_store.hpp>
#include <pop3/leave_on_server/journal.hpp>
#include <pop3/leave_on_server/memory_store.hpp>
#include <pop3/leave_on_server/plan.hpp>
#include <pop3/leave_on_server/policy.hpp>
#include <pop3/leave_on_server/store.hpp>

#endif // POP3_LEAVE_ON_SERVER_HPP
