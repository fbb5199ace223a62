// pop3-fetch: delivery into a Maildir (https://cr.yp.to/proto/maildir.html).
//
// Each message streams into tmp/ under a unique name. Group commit (pop3::message_delivery's
// `batches`): `commit` only finishes the file; `sync` makes a whole batch durable with one
// flush of the file system's data (syncfs on Linux, else fdatasync per file), moves the
// files into new/ and fsyncs that directory once. Only then does fetch_new record the UIDs
// (and may delete the messages): a crash cannot lose a message, and a reader never sees a
// partial one. The bytes are stored exactly as RETR delivered them (dot-stuffing removed,
// CRLF line ends kept).
//
// File names: the classic unique base time.pid_seq.host, then a tag that identifies the
// message: ",P=" and 16 lower-case hex digits, the 64-bit FNV-1a hash of
// "USER@HOST\0UID" (the account, so that several accounts can share one Maildir). For
// example 1700000000.4242_1.myhost,P=3f2a9c0d11e4b7a5. A reader that moves the file to
// cur/ appends its ":2,FLAGS" info after that, and keeps the tag.
//
// No duplicate after a crash: when pop3::fetch_new delivers a message again with
// `maybe_delivered` set (the run before died after storing it but before recording it),
// `begin` looks in new/ and cur/ for a file carrying that message's tag. If there is one,
// nothing new is written: the incoming bytes are compared with that file and `commit`
// succeeds without a second copy (after fsync'ing the directory that holds it); `abort`
// leaves that file alone. If the bytes differ (a hash collision, or a file a reader
// changed), the message is stored as a new file after all: a duplicate, never a loss. A
// file with the tag still in tmp/ is what a run that died before its sync left: removed.
// Without `maybe_delivered` no lookup is made. (Without a state file, i.e. without --keep
// or --state, nothing is ever flagged, and a run interrupted before QUIT still leads to
// duplicates, as documented in state.hpp.)
#ifndef POP3_FETCH_MAILDIR_HPP
#define POP3_FETCH_MAILDIR_HPP

#include "storage.hpp"

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

namespace pop3_fetch {

/// The tag of a message in its Maildir file name: ",P=" and 16 hex digits of the 64-bit
/// FNV-1a hash of ACCOUNT "\0" UID. Not a cryptographic hash: the server chooses its own
/// UIDs, and a collision can at worst make pop3-fetch compare a message with another
/// account's file, find that it differs and store it anyway (see the top of this file).
inline std::string maildir_uid_tag(std::string_view account, std::string_view uid)
{
    std::uint64_t h = 0xcbf29ce484222325ULL;
    auto mix = [&h](unsigned char c) {
        h ^= c;
        h *= 0x100000001b3ULL;
    };
    for (char c : account) mix(static_cast<unsigned char>(c));
    mix(0);
    for (char c : uid) mix(static_cast<unsigned char>(c));
    static constexpr char hex[] = "0123456789abcdef";
    std::string tag = ",P=";
    for (int shift = 60; shift >= 0; shift -= 4) tag += hex[(h >> shift) & 0xF];
    return tag;
}

class maildir_destination final : public destination {
public:
    /// Creates DIR, DIR/tmp, DIR/new and DIR/cur when missing. `account` ("USER@HOST")
    /// goes into each file's tag (see maildir_uid_tag).
    maildir_destination(std::string dir, std::string account)
        : dir_(std::move(dir)), account_(std::move(account))
    {
        while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
        make_dirs(dir_);
        for (const char* sub : {"/tmp", "/new", "/cur"}) make_dirs(dir_ + sub);
        host_ = safe_hostname();
    }

    ~maildir_destination() override
    {
        do_abort();
        // Committed but never synced (the run stopped first): never visible, never recorded;
        // the next run delivers them again.
        for (const auto& p : pending_)
            if (!p.tmp_path.empty()) ::unlink(p.tmp_path.c_str());
    }

    std::string describe() const override { return "Maildir " + dir_; }
    const std::string& dir() const noexcept { return dir_; }

protected:
    void do_begin(const pop3::fetched_message_info& message) override
    {
        do_abort();
        tag_ = maildir_uid_tag(account_, message.uid);
        if (message.maybe_delivered) {
            remove_unsynced_copies();
            if (open_existing()) return; // compare, do not write
        }
        open_tmp();
    }

    void do_write(std::string_view chunk) override
    {
        if (existing_fd_) {
            if (same_as_existing(chunk)) return;
            store_after_all();
        }
        out_.write(chunk);
    }

    std::string do_commit() override
    {
        if (existing_fd_) {
            // The whole message matched so far: the file must also end here.
            char extra = 0;
            std::size_t n = 0;
            check(pop3::read_at(existing_fd_.get(), &extra, 1, matched_, n),
                  "cannot read " + existing_path_);
            if (n == 0) {
                // Already stored by an earlier run, which may have died before its directory
                // sync: the batch's sync makes its entry durable.
                close_existing();
                pending_.push_back({current_number(), {}, existing_path_, {}});
                std::string path;
                path.swap(existing_path_);
                return path;
            }
            store_after_all();
        }
        out_.flush();
        // Durable with its batch (do_sync); until then it waits in tmp/.
        std::string final_path = dir_ + "/new/" + name_;
        pending_.push_back({current_number(), std::move(tmp_path_), final_path, std::move(fd_)});
        tmp_path_.clear();
        return final_path;
    }

    bool do_batches() const noexcept override { return true; }

    void do_sync(std::map<pop3::message_number, std::string>& locations) override
    {
        test_hook_before_sync();
        // 1. The data of every file written in this batch, with one flush where possible.
        std::vector<int> written;
        for (const auto& p : pending_)
            if (p.fd) written.push_back(p.fd.get());
        check(pop3::sync_files_together(written), "cannot sync the new messages in " + dir_ + "/tmp");
        // 2. Into new/, then one sync of each directory that changed.
        std::set<std::string> dirs;
        for (auto& p : pending_) {
            if (p.tmp_path.empty()) { // an earlier run's copy
                dirs.insert(pop3::directory_of(p.final_path));
                continue;
            }
            p.fd.reset();
            const auto moved = move_into_new(p.tmp_path, p.final_path);
            if (moved != p.final_path) locations[p.number] = moved;
            p.tmp_path.clear();
            dirs.insert(dir_ + "/new");
        }
        for (const auto& dir : dirs)
            check(pop3::sync_directory(dir), "cannot fsync directory " + dir);
        const auto made_durable = pending_.size();
        pending_.clear();
        for (std::size_t i = 0; i < made_durable; ++i) test_hook_after_commit();
    }

    void do_abort() noexcept override
    {
        // An existing copy found by do_begin belongs to an earlier run: never removed.
        close_existing();
        existing_path_.clear();
        out_.discard();
        fd_.reset();
        if (!tmp_path_.empty()) ::unlink(tmp_path_.c_str());
        tmp_path_.clear();
    }

private:
    /// time.pid_seq.host then the message's tag: the part before any ':2,' info.
    std::string unique_name()
    {
        const auto now = std::chrono::system_clock::now().time_since_epoch();
        const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now).count();
        return std::to_string(seconds) + "." + std::to_string(::getpid()) + "_" +
               std::to_string(++sequence_) + "." + host_ + tag_;
    }

    /// Creates the message's file in tmp/ and points the writer at it.
    void open_tmp()
    {
        // A name collision (same second, pid and counter after a pid wrap) is retried with
        // the next counter value; O_EXCL guarantees we never overwrite.
        for (int attempt = 0; attempt < 100; ++attempt) {
            name_ = unique_name();
            tmp_path_ = dir_ + "/tmp/" + name_;
            pop3::error_code ec;
            fd_ = pop3::unique_fd::open(tmp_path_, O_WRONLY | O_CREAT | O_EXCL, ec, 0600);
            if (fd_) break;
            if (ec.value() != EEXIST) throw storage_error(ec, "cannot create " + tmp_path_);
        }
        if (!fd_) throw storage_error(EEXIST, "cannot find a free name in " + dir_ + "/tmp");
        out_ = fd_writer(fd_.get(), tmp_path_);
    }

    /// True if `name` carries `tag_` (followed by the end, another ",field" or ":info").
    bool has_tag(std::string_view name) const
    {
        for (auto pos = name.find(tag_); pos != std::string_view::npos;
             pos = name.find(tag_, pos + 1)) {
            const auto end = pos + tag_.size();
            if (end == name.size() || name[end] == ',' || name[end] == ':') return true;
        }
        return false;
    }

    /// Looks in new/ and cur/ for a file with the message's tag and opens it for the
    /// comparison. False when there is none (or it vanished meanwhile).
    bool open_existing()
    {
        for (const char* sub : {"/new", "/cur"}) {
            const std::string sub_dir = dir_ + sub;
            DIR* d = ::opendir(sub_dir.c_str());
            if (d == nullptr) throw_errno("cannot read directory " + sub_dir);
            std::string found;
            errno = 0;
            while (const dirent* e = ::readdir(d)) {
                if (e->d_name[0] != '.' && has_tag(e->d_name)) {
                    found = e->d_name;
                    break;
                }
            }
            const int read_errno = errno;
            ::closedir(d);
            if (found.empty() && read_errno != 0)
                throw storage_error(read_errno, "cannot read directory " + sub_dir);
            if (found.empty()) continue;
            existing_path_ = sub_dir + "/" + found;
            pop3::error_code ec;
            existing_fd_ = pop3::unique_fd::open(existing_path_, O_RDONLY, ec);
            if (existing_fd_) {
                matched_ = 0;
                return true;
            }
            // Moved from new/ to cur/ by a reader right now: cur/ comes next.
            if (ec.value() != ENOENT) throw storage_error(ec, "cannot open " + existing_path_);
            existing_path_.clear();
        }
        return false;
    }

    /// Compares `chunk` with the existing file at the current offset.
    bool same_as_existing(std::string_view chunk)
    {
        char buf[16 * 1024];
        while (!chunk.empty()) {
            const auto want = chunk.size() < sizeof buf ? chunk.size() : sizeof buf;
            std::size_t got = 0;
            check(pop3::read_at(existing_fd_.get(), buf, want, matched_, got),
                  "cannot read " + existing_path_);
            if (got == 0 || std::memcmp(buf, chunk.data(), got) != 0) return false;
            matched_ += got;
            chunk.remove_prefix(got);
        }
        return true;
    }

    /// The existing file is not this message after all: store it as a new file, starting
    /// with the bytes that matched (they are the message's first `matched_` bytes).
    void store_after_all()
    {
        open_tmp();
        char buf[16 * 1024];
        for (std::uint64_t at = 0; at < matched_;) {
            const auto left = matched_ - at;
            const auto n = static_cast<std::size_t>(left < sizeof buf ? left : sizeof buf);
            read_exactly(existing_fd_.get(), buf, n, at, existing_path_);
            out_.write(std::string_view(buf, n));
            at += n;
        }
        close_existing();
        existing_path_.clear();
    }

    void close_existing() noexcept { existing_fd_.reset(); }

    /// Moves a finished file from tmp/ to `final_path` in new/; returns where it went.
    std::string move_into_new(const std::string& tmp_path, std::string final_path)
    {
        // link + unlink never replaces an existing file (rename would); file systems
        // without hard links get rename.
        if (::link(tmp_path.c_str(), final_path.c_str()) == 0) {
            ::unlink(tmp_path.c_str());
            return final_path;
        }
        // EEXIST cannot happen with unique names unless two deliveries collide: pick another.
        if (errno == EEXIST) final_path = dir_ + "/new/" + unique_name();
        if (::rename(tmp_path.c_str(), final_path.c_str()) != 0)
            throw_errno("cannot move " + tmp_path + " to " + final_path);
        return final_path;
    }

    /// Removes the files with the current message's tag from tmp/: a run that died before
    /// its batch's sync left them (never in new/, never recorded).
    void remove_unsynced_copies()
    {
        const std::string tmp = dir_ + "/tmp";
        DIR* d = ::opendir(tmp.c_str());
        if (d == nullptr) throw_errno("cannot read directory " + tmp);
        std::vector<std::string> stale;
        while (const dirent* e = ::readdir(d))
            if (e->d_name[0] != '.' && has_tag(e->d_name)) stale.push_back(e->d_name);
        ::closedir(d);
        for (const auto& name : stale) ::unlink((tmp + "/" + name).c_str());
    }

    /// The host name with '/' and ':' encoded as the Maildir convention asks.
    static std::string safe_hostname()
    {
        char buf[256] = {};
        if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
        std::string out;
        for (const char* p = buf; *p; ++p) {
            if (*p == '/') out += "\\057";
            else if (*p == ':') out += "\\072";
            else out += *p;
        }
        return out;
    }

    std::string dir_;
    std::string account_;
    std::string host_;
    std::string tag_;  ///< the current message's ",P=..." tag
    std::string name_;
    std::string tmp_path_;
    pop3::unique_fd fd_;
    fd_writer out_;
    unsigned long sequence_ = 0;
    // A copy stored by an earlier run (maybe_delivered): its path, the open file, and how
    // many of its bytes the incoming message matched so far.
    std::string existing_path_;
    pop3::unique_fd existing_fd_;
    std::uint64_t matched_ = 0;
    // Committed in this batch, not durable yet (see do_sync).
    struct unsynced {
        pop3::message_number number;
        std::string tmp_path;   ///< in tmp/; empty for an earlier run's copy
        std::string final_path; ///< where it goes in new/ (or the earlier copy)
        pop3::unique_fd fd;     ///< open for the sync; empty for an earlier run's copy
    };
    std::vector<unsynced> pending_;
};

} // namespace pop3_fetch

#endif // POP3_FETCH_MAILDIR_HPP
