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
#ifndef POP3_FETCH_STATE_HPP
#define POP3_FETCH_STATE_HPP

#include "storage.hpp"

#include <pop3/leave_on_server/file_store.hpp>
#include <pop3/leave_on_server/memory_store.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace pop3_fetch {

/// The UID store of one run (see above). It remembers the first failure of the state file,
/// so that the tool can report it as a storage error (exit code 7) rather than as the
/// session's error that pop3::fetch_new returns.
class uid_state final : public pop3::uid_store {
public:
    /// Opens (creating it and its directory if needed) and locks the state file.
    /// @throws storage_error
    static std::unique_ptr<uid_state> open_file(const std::string& path)
    {
        make_dirs(parent_dir(path));
        auto file = std::make_unique<pop3::file_uid_store>();
        pop3::error_code ec;
        file->open(path, ec);
        if (ec) throw storage_error(ec, "cannot open the state file " + path);
        return std::unique_ptr<uid_state>(new uid_state(std::move(file), path));
    }

    /// A store for this run only: nothing is written anywhere.
    static std::unique_ptr<uid_state> in_memory()
    {
        return std::unique_ptr<uid_state>(
            new uid_state(std::make_unique<pop3::memory_uid_store>(), std::string()));
    }

    /// The state file; empty for a store in memory.
    const std::string& path() const noexcept { return path_; }

    /// Throws the storage_error for the first failed read or write of the state file.
    void rethrow_failure() const
    {
        if (failure_) throw storage_error(failure_, "cannot update the state file " + path_);
    }

    std::size_t size() const noexcept override { return inner_->size(); }

protected:
    std::optional<pop3::uid_entry> do_find(std::string_view uid,
                                           pop3::error_code& ec) const override
    {
        auto entry = inner_->find(uid, ec);
        note(ec);
        return entry;
    }
    void do_for_each(const std::function<void(std::string_view, const pop3::uid_entry&)>& f,
                     pop3::error_code& ec) const override
    {
        inner_->for_each(f, ec);
        note(ec);
    }
    void do_apply(const std::vector<pop3::uid_change>& changes, pop3::error_code& ec) override
    {
        inner_->apply(changes, ec);
        note(ec);
    }

private:
    uid_state(std::unique_ptr<pop3::uid_store> inner, std::string path)
        : inner_(std::move(inner)), path_(std::move(path))
    {
    }

    void note(const pop3::error_code& ec) const
    {
        if (ec && !failure_) failure_ = ec;
    }

    std::unique_ptr<pop3::uid_store> inner_;
    std::string path_;
    mutable pop3::error_code failure_;
};

} // namespace pop3_fetch

#endif // POP3_FETCH_STATE_HPP
