// pop3-fetch: delivery into an mbox file in the mboxrd variant, or to standard output.
//
// What one message becomes (the documented transformation):
//   1. a separator line "From SENDER DATE\n": SENDER is the address of the first
//      Return-Path: header, else of the first From: header, else MAILER-DAEMON; DATE is
//      the delivery time in asctime(3) form, local time ("Thu Nov 21 09:05:01 2024");
//   2. the message with every CRLF turned into LF (a bare CR or LF is kept);
//   3. mboxrd quoting: every line that matches ^>*From  (any number of '>' then "From ")
//      gets one more '>' in front, so readers can undo it exactly;
//   4. a final LF if the message did not end with one, then one empty line.
// The file is locked with fcntl(2) and flock(2) while pop3-fetch runs, each message is
// fsync'ed before it counts as stored, and a message that fails half-way is cut off again
// (ftruncate to the size before it), so the file never holds a partial message.
// A message delivered again with `maybe_delivered` (the run before died after appending it but
// before recording it) is first written to an unnamed file beside the mbox and compared with
// the mbox's last message: if that is the same message (after its From_ line), nothing is
// appended. The file and the comparison keep memory constant whatever the message's size.
// Standard output cannot be read back: there such a message is written a second time. A
// duplicate, never a loss.
#ifndef POP3_FETCH_MBOX_HPP
#define POP3_FETCH_MBOX_HPP

#include "storage.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <thread>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace pop3_fetch {

/// Streams one message into mboxrd form (steps 2-4 above), byte by byte across chunks.
class mboxrd_encoder {
public:
    explicit mboxrd_encoder(fd_writer& out) : out_(&out) {}

    void write(std::string_view chunk)
    {
        for (char c : chunk) {
            if (pending_cr_) {
                pending_cr_ = false;
                if (c == '\n') {
                    emit('\n');
                    continue;
                }
                emit('\r');
            }
            if (c == '\r') pending_cr_ = true;
            else emit(c);
        }
    }

    /// Ends the message: step 4.
    void finish()
    {
        if (pending_cr_) emit('\r');
        pending_cr_ = false;
        flush_head();
        if (!last_was_lf_) out_->put('\n');
        out_->put('\n');
    }

private:
    // `head_` holds the start of the current line while it may still become ">*From ".
    void emit(char c)
    {
        if (in_head_) {
            static constexpr std::string_view from = "From ";
            if (matched_ == 0 && c == '>') {
                head_ += c;
                return;
            }
            if (matched_ < from.size() && c == from[matched_]) {
                head_ += c;
                if (++matched_ == from.size()) {
                    out_->put('>'); // the line matches ^>*From : quote it
                    flush_head();
                }
                return;
            }
            flush_head();
        }
        out_->put(c);
        last_was_lf_ = c == '\n';
        if (last_was_lf_) in_head_ = true;
    }

    void flush_head()
    {
        if (!in_head_) return;
        out_->write(head_);
        if (!head_.empty()) last_was_lf_ = false;
        head_.clear();
        matched_ = 0;
        in_head_ = false;
    }

    fd_writer* out_;
    std::string head_;
    std::size_t matched_ = 0; // characters of "From " in head_ (after its '>'s)
    bool in_head_ = true;
    bool pending_cr_ = false;
    bool last_was_lf_ = false;
};

/// Finds the envelope sender for the "From " line in a message's header section.
inline std::string envelope_sender(std::string_view header)
{
    auto field_value = [&](std::string_view name) -> std::string_view {
        std::size_t pos = 0;
        while (pos < header.size()) {
            auto eol = header.find('\n', pos);
            if (eol == std::string_view::npos) eol = header.size();
            const auto line = header.substr(pos, eol - pos);
            if (line.empty() || line == "\r") break; // end of the header section
            if (line.size() > name.size() && line[name.size()] == ':') {
                bool same = true;
                for (std::size_t i = 0; i < name.size() && same; ++i) {
                    auto lower = [](char ch) {
                        return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch;
                    };
                    same = lower(line[i]) == lower(name[i]);
                }
                if (same) return line.substr(name.size() + 1);
            }
            pos = eol + 1;
        }
        return {};
    };
    auto address = [](std::string_view v) -> std::string {
        const auto open = v.find('<');
        if (open != std::string_view::npos) {
            const auto close = v.find('>', open);
            if (close != std::string_view::npos) v = v.substr(open + 1, close - open - 1);
        }
        std::string out;
        for (char c : v) {
            const auto u = static_cast<unsigned char>(c);
            if (u <= 0x20 || u >= 0x7F || c == '"' || c == '(' || c == ')' || c == ',' ||
                c == ';') {
                if (!out.empty()) break;
                continue;
            }
            out += c;
        }
        return out.find('@') == std::string::npos && out != "MAILER-DAEMON" ? std::string() : out;
    };
    for (const char* name : {"return-path", "from"}) {
        auto a = address(field_value(name));
        if (!a.empty()) return a;
    }
    return "MAILER-DAEMON";
}

/// The asctime(3)-style date of a "From " line, local time, without the trailing newline.
inline std::string from_line_date(std::time_t t)
{
    std::tm tm{};
    ::localtime_r(&t, &tm);
    char buf[64];
    const auto n = std::strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y", &tm);
    return std::string(buf, n);
}

/// mboxrd into a file (locked, fsync'ed per message) or to standard output (flushed).
class mbox_destination final : public destination {
public:
    /// Opens (or creates, mode 0600) `path` and locks it; `path` "-" means standard output.
    explicit mbox_destination(std::string path,
                              std::chrono::seconds lock_wait = std::chrono::seconds(10))
        : path_(std::move(path))
    {
        if (path_ == "-") {
            fd_ = STDOUT_FILENO;
            label_ = "standard output";
            // Standard output redirected to a file is synced; a pipe or a terminal has
            // nothing to make durable.
            struct stat st {};
            regular_ = ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
            write_to(fd_);
            return;
        }
        label_ = path_;
        pop3::error_code ec;
        file_ = pop3::unique_fd::open(path_, O_RDWR | O_CREAT | O_APPEND, ec, 0600);
        check(ec, "cannot open mbox " + path_);
        fd_ = file_.get();
        struct stat st {};
        if (::fstat(fd_, &st) != 0) throw_errno("cannot stat mbox " + path_);
        if (S_ISDIR(st.st_mode)) throw storage_error(EISDIR, "mbox " + path_ + " is a directory");
        seekable_ = regular_ = S_ISREG(st.st_mode);
        lock(lock_wait);
        write_to(fd_);
    }

    mbox_destination(const mbox_destination&) = delete;
    mbox_destination& operator=(const mbox_destination&) = delete;

    ~mbox_destination() override { do_abort(); } // closing file_ releases both locks

    std::string describe() const override
    {
        return path_ == "-" ? "standard output" : "mbox " + path_;
    }

protected:
    void do_begin(const pop3::fetched_message_info& message) override
    {
        do_abort();
        if (seekable_) {
            const auto end = ::lseek(fd_, 0, SEEK_END);
            if (end < 0) throw_errno("cannot seek in " + path_);
            start_ = end;
            // A message must start after an empty line: repair a file that does not end
            // with one (another program may have written it).
            if (end > 0) {
                char tail[2] = {'\n', '\n'};
                const std::size_t want = end >= 2 ? 2 : 1;
                read_exactly(fd_, tail + (2 - want), want, static_cast<std::uint64_t>(end) - want,
                             path_);
                if (tail[1] != '\n') separator_ = "\n\n";
                else if (tail[0] != '\n') separator_ = "\n";
                else separator_.clear();
            }
        }
        header_.clear();
        header_done_ = false;
        if (message.maybe_delivered && seekable_) {
            held_ = open_unnamed_file_beside(path_);
            write_to(held_.get());
        }
        encoder_ = mboxrd_encoder(out_);
        active_ = true;
    }

    void do_write(std::string_view chunk) override
    {
        if (header_done_) {
            encoder_.write(chunk);
            return;
        }
        // Hold the header section back until its end: the "From " line needs the sender.
        header_.append(chunk);
        const auto end = header_.find("\n\r\n") != std::string::npos ||
                         header_.find("\n\n") != std::string::npos;
        if (end || header_.size() >= max_header) start_body();
    }

    std::string do_commit() override
    {
        if (!header_done_) start_body();
        encoder_.finish();
        out_.flush();
        if (held_) {
            const bool already_there = held_copy_is_last_message();
            if (!already_there) append_held_copy();
            close_held_copy();
            if (already_there) {
                active_ = false;
                return label_;
            }
        }
        if (regular_) check(pop3::sync_file(fd_), "cannot fsync " + label_);
        active_ = false;
        test_hook_after_commit();
        return label_;
    }

    void do_abort() noexcept override
    {
        out_.discard();
        if (active_ && seekable_ && start_ >= 0) {
            // Cut off the partial message; the file is as it was before it.
            (void)::ftruncate(fd_, start_);
        }
        close_held_copy();
        active_ = false;
    }

private:
    static constexpr std::size_t max_header = 256 * 1024;

    void start_body()
    {
        header_done_ = true;
        from_line_ =
            "From " + envelope_sender(header_) + " " + from_line_date(std::time(nullptr)) + "\n";
        // A held copy is only the message: the From_ line goes to the mbox if it is appended.
        if (!held_) {
            out_.write(separator_);
            out_.write(from_line_);
        }
        std::string pending;
        pending.swap(header_);
        encoder_.write(pending);
    }

    /// Points the writer (and so the encoder) at `fd`: the mbox, or the held copy.
    void write_to(int fd)
    {
        if (writer_fd_ == fd) return;
        out_ = fd_writer(fd, fd == fd_ ? label_ : path_ + " (held copy)");
        writer_fd_ = fd;
    }

    /// An unnamed file in the mbox's directory (same file system, gone when closed).
    static pop3::unique_fd open_unnamed_file_beside(const std::string& path)
    {
        const auto dir = pop3::directory_of(path);
        pop3::error_code ec;
        auto fd = pop3::unique_fd::open(dir, O_TMPFILE | O_RDWR, ec, 0600);
        if (fd) return fd;
        std::string name = dir + "/.pop3-fetch-held.XXXXXX";
        fd.reset(::mkostemp(name.data(), O_CLOEXEC));
        if (!fd) throw_errno("cannot create a temporary file beside " + path);
        ::unlink(name.c_str());
        return fd;
    }

    void close_held_copy() noexcept
    {
        if (!held_) return;
        out_.discard();
        held_.reset();
        try {
            write_to(fd_);
        } catch (...) { // only an allocation; the next begin retries
        }
    }

    /// True when the mbox ends with the held copy: one From_ line (at the file's start or
    /// after a line end), then exactly the held bytes. What the run before appended, if it did.
    bool held_copy_is_last_message()
    {
        const auto held_size = size_of_held_copy();
        if (held_size == 0 || static_cast<std::uint64_t>(start_) <= held_size) return false;
        const std::uint64_t body = static_cast<std::uint64_t>(start_) - held_size;
        std::string before(static_cast<std::size_t>(std::min<std::uint64_t>(body, 1024)), '\0');
        const std::uint64_t before_at = body - before.size();
        read_exactly(fd_, before.data(), before.size(), before_at, path_);
        if (before.back() != '\n') return false;
        const auto line_start = before.rfind('\n', before.size() - 2);
        const std::size_t from = line_start == std::string::npos ? 0 : line_start + 1;
        if (line_start == std::string::npos && before_at != 0) return false; // line too long
        if (before.compare(from, 5, "From ") != 0) return false;
        std::string mine(64 * 1024, '\0');
        std::string theirs(mine.size(), '\0');
        for (std::uint64_t at = 0; at < held_size;) {
            const auto n =
                static_cast<std::size_t>(std::min<std::uint64_t>(held_size - at, mine.size()));
            read_exactly(held_.get(), mine.data(), n, at, path_ + " (held copy)");
            read_exactly(fd_, theirs.data(), n, body + at, path_);
            if (std::memcmp(mine.data(), theirs.data(), n) != 0) return false;
            at += n;
        }
        return true;
    }

    /// Appends separator, From_ line and the held copy to the mbox.
    void append_held_copy()
    {
        write_to(fd_);
        out_.write(separator_);
        out_.write(from_line_);
        std::string chunk(64 * 1024, '\0');
        const auto held_size = size_of_held_copy();
        for (std::uint64_t at = 0; at < held_size;) {
            const auto n =
                static_cast<std::size_t>(std::min<std::uint64_t>(held_size - at, chunk.size()));
            read_exactly(held_.get(), chunk.data(), n, at, path_ + " (held copy)");
            out_.write(std::string_view(chunk.data(), n));
            at += n;
        }
        out_.flush();
    }

    std::uint64_t size_of_held_copy() const
    {
        const off_t size = ::lseek(held_.get(), 0, SEEK_END);
        if (size < 0) throw_errno("cannot seek in the held copy for " + path_);
        return static_cast<std::uint64_t>(size);
    }

    /// fcntl (POSIX, works over NFS) and flock (BSD) write locks: mail readers use one or
    /// the other. Both are retried for `wait`, then the delivery fails.
    void lock(std::chrono::seconds wait)
    {
        const auto deadline = std::chrono::steady_clock::now() + wait;
        struct flock fl {};
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        while (::fcntl(fd_, F_SETLK, &fl) != 0) {
            if (errno != EACCES && errno != EAGAIN && errno != EINTR)
                throw_errno("cannot lock mbox " + path_ + " (fcntl)");
            if (std::chrono::steady_clock::now() >= deadline) {
                errno = EAGAIN;
                throw_errno("mbox " + path_ + " is locked by another program (fcntl)");
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            if (errno != EWOULDBLOCK && errno != EINTR)
                throw_errno("cannot lock mbox " + path_ + " (flock)");
            if (std::chrono::steady_clock::now() >= deadline) {
                errno = EAGAIN;
                throw_errno("mbox " + path_ + " is locked by another program (flock)");
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }

    std::string path_;
    std::string label_;
    pop3::unique_fd file_; // the mbox file; none for standard output
    int fd_ = -1;          // file_, or standard output
    bool seekable_ = false;
    bool regular_ = false; // a regular file: fsync makes it durable
    off_t start_ = -1;
    std::string separator_;
    std::string from_line_;
    pop3::unique_fd held_; // the held copy of a maybe_delivered message, or none
    int writer_fd_ = -1;   // where out_ writes
    fd_writer out_;
    mboxrd_encoder encoder_{out_};
    std::string header_;
    bool header_done_ = false;
    bool active_ = false;
};

} // namespace pop3_fetch

#endif // POP3_FETCH_MBOX_HPP
