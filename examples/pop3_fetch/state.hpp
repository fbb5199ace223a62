// pop3-fetch: what a run remembers, for pop3::fetch_new.
//
// pop3-fetch leaves the order of effects to pop3::fetch_new (the intent is recorded
// before RETR, the UID is recorded as stored only after the destination made the message
// durable, and only then may DELE be sent, which takes effect at QUIT). This file only
// chooses the UID store it records in:
//
// - with --keep (and whenever --state FILE is given): the account's state file, a
//   pop3::file_uid_store (a crash-safe journal, locked: a second pop3-fetch for the same
//   state fails at once instead of fetching twice). Default path: see --help.
// - without --keep and without --state: no file, a store in memory for this run only.
//   Every message is deleted (delete_after_fetch) once it is durably stored, so the
//   server itself says what is new. If the run is interrupted after storing messages but
//   before QUIT made the server delete them, they stay on the server and the next run
//   fetches them again: a duplicate, never a loss (as with any POP3 client without
//   state). `--state FILE` without --keep closes that gap: the next run then finds them
//   recorded as stored and only deletes them.
//
// Which of them stopped a run (the state file, the destination or the session) is
// pop3::fetch_result::failed_stage's to say: main.cpp reports a failed store as a storage
// error (exit code 7) naming the state file.
#ifndef POP3_FETCH_STATE_HPP
#define POP3_FETCH_STATE_HPP

#include "storage.hpp"

#include <pop3/leave_on_server/durable_file.hpp>
#include <pop3/leave_on_server/file_store.hpp>
#include <pop3/leave_on_server/memory_store.hpp>

#include <memory>
#include <string>

namespace pop3_fetch {

/// Opens (creating it and its directory if needed) and locks the state file.
/// @throws storage_error
inline std::unique_ptr<pop3::uid_store> open_state_file(const std::string& path)
{
    make_dirs(pop3::directory_of(path));
    auto file = std::make_unique<pop3::file_uid_store>();
    pop3::error_code ec;
    file->open(path, ec);
    check(ec, "cannot open the state file " + path);
    return file;
}

/// A store for this run only: nothing is written anywhere.
inline std::unique_ptr<pop3::uid_store> state_in_memory()
{
    return std::make_unique<pop3::memory_uid_store>();
}

} // namespace pop3_fetch

#endif // POP3_FETCH_STATE_HPP
