// pop3-fetch: delivery into a Maildir (https://cr.yp.to/proto/maildir.html).
//
// Each message streams into tmp/ under a unique name, is fsync'ed, moved into new/ and then
// the directory is fsync'ed: once `commit` returns, a crash cannot lose the message, and a
// reader never sees a partial one. The bytes are stored exactly as RETR delivered them
// (dot-stuffing removed, CRLF line ends kept).
//
// The names are unique per delivery, not derived from the UID, so a message that
// pop3::fetch_new delivers again with `maybe_delivered` set (the run before died after
// storing it but before recording it) is stored a second time: a duplicate after such a
// crash, never a loss. The mbox destination behaves the same way.
#ifndef POP3_FETCH_MAILDIR_HPP
#define POP3_FETCH_MAILDIR_HPP

#include "storage.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace pop3_fetch {

class maildir_destination final : public destination {
public:
    /// Creates DIR, DIR/tmp, DIR/new and DIR/cur when missing.
    explicit maildir_destination(std::string dir) : dir_(std::move(dir))
    {
        while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
        make_dirs(dir_);
        for (const char* sub : {"/tmp", "/new", "/cur"}) make_dirs(dir_ + sub);
        host_ = safe_hostname();
    }

    ~maildir_destination() override { do_abort(); }

    std::string describe() const override { return "Maildir " + dir_; }
    const std::string& dir() const noexcept { return dir_; }

protected:
    void do_begin(const pop3::fetched_message_info&) override
    {
        do_abort();
        // A name collision (same second, pid and counter after a pid wrap) is retried with
        // the next counter value; O_EXCL guarantees we never overwrite.
        for (int attempt = 0; attempt < 100; ++attempt) {
            name_ = unique_name();
            tmp_path_ = dir_ + "/tmp/" + name_;
            fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (fd_ >= 0) break;
            if (errno != EEXIST) throw_errno("cannot create " + tmp_path_);
        }
        if (fd_ < 0) throw storage_error(EEXIST, "cannot find a free name in " + dir_ + "/tmp");
        out_ = fd_writer(fd_, tmp_path_);
    }

    void do_write(std::string_view chunk) override { out_.write(chunk); }

    std::string do_commit() override
    {
        out_.flush();
        sync_fd(fd_, tmp_path_);
        if (::close(fd_) != 0) {
            fd_ = -1;
            throw_errno("cannot close " + tmp_path_);
        }
        fd_ = -1;
        // link + unlink never replaces an existing file (rename would); file systems
        // without hard links get rename.
        std::string final_path = dir_ + "/new/" + name_;
        if (::link(tmp_path_.c_str(), final_path.c_str()) == 0) {
            ::unlink(tmp_path_.c_str());
        } else if (errno == EEXIST) {
            // Cannot happen with unique names unless two deliveries collide: pick another.
            final_path = dir_ + "/new/" + unique_name();
            if (::rename(tmp_path_.c_str(), final_path.c_str()) != 0)
                throw_errno("cannot move " + tmp_path_ + " to " + final_path);
        } else {
            if (::rename(tmp_path_.c_str(), final_path.c_str()) != 0)
                throw_errno("cannot move " + tmp_path_ + " to " + final_path);
        }
        tmp_path_.clear();
        sync_dir(dir_ + "/new");
        return final_path;
    }

    void do_abort() noexcept override
    {
        out_.discard();
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        if (!tmp_path_.empty()) ::unlink(tmp_path_.c_str());
        tmp_path_.clear();
    }

private:
    /// time.pid_seq.host, the classic Maildir unique name (the part before any ':2,').
    std::string unique_name()
    {
        const auto now = std::chrono::system_clock::now().time_since_epoch();
        const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now).count();
        return std::to_string(seconds) + "." + std::to_string(::getpid()) + "_" +
               std::to_string(++sequence_) + "." + host_;
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
    std::string host_;
    std::string name_;
    std::string tmp_path_;
    int fd_ = -1;
    fd_writer out_;
    unsigned long sequence_ = 0;
};

} // namespace pop3_fetch

#endif // POP3_FETCH_MAILDIR_HPP
