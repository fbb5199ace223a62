// A tiny in-memory POP3 server as an Asio-style stream, for the leave-on-server unit tests:
// it answers the commands the client writes (CAPA, USER, PASS, STAT, LIST, UIDL, RETR,
// DELE, RSET, NOOP, QUIT), commits DELE only at QUIT (RFC 1939 section 6), and can cut the
// connection after N bytes in either direction. Its mailbox outlives the connection, so a
// test can reconnect and see what a previous session committed.
#ifndef POP3_TESTS_LEAVE_ON_SERVER_FAKE_HPP
#define POP3_TESTS_LEAVE_ON_SERVER_FAKE_HPP

#include "../test_error_code.hpp"
#include "test_stream.hpp"

#include <pop3/detail/asio.hpp>
#include <pop3/leave_on_server/memory_store.hpp>
#include <pop3/leave_on_server/store.hpp>

#include <algorithm>
#include <functional>
#include <cstddef>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace pop3_test {

namespace net = pop3::net;

struct fake_message {
    std::string uid;
    std::string body; ///< as RETR delivers it after unstuffing (CRLF lines)
};

/// The server's state, shared by the stream and the test; survives connections.
struct fake_server {
    std::vector<fake_message> mailbox;
    bool uidl_supported = true;         ///< UIDL in CAPA and accepted
    bool advertise_uidl = true;         ///< UIDL listed in CAPA
    bool pipelining = false;            ///< PIPELINING in CAPA
    std::set<std::size_t> refuse_dele;  ///< DELE n answered -ERR (1-based, this session)
    std::set<std::size_t> refuse_retr;  ///< RETR n answered -ERR
    std::optional<std::size_t> cut_c2s; ///< the connection dies after this many client bytes
    std::optional<std::size_t> cut_s2c; ///< ... or after this many server bytes
    std::vector<std::string> commands;  ///< every complete command received (all sessions)
    std::vector<std::string>* events = nullptr; ///< optional shared log: "C:<command>"
    bool cut_fired = false;
    bool closed_by_client = false;
    std::size_t c2s_total = 0; ///< bytes of the last connection, both directions
    std::size_t s2c_total = 0;
};

class fake_stream : public sync_backed_stream<fake_stream> {
public:
    using sync_backed_stream::read_some;
    using sync_backed_stream::write_some;
    using executor_type = net::any_io_executor;

    /// What `lowest_layer()` returns: enough for `fetch_new` to close the connection.
    struct closer {
        fake_stream* self;
        void close(pop3::error_code& ec)
        {
            ec = {};
            self->server_->closed_by_client = true;
            self->dead_ = true;
        }
    };

    fake_stream(net::any_io_executor ex, std::shared_ptr<fake_server> s)
        : executor_(std::move(ex)), server_(std::move(s))
    {
        server_->cut_fired = false;
        server_->closed_by_client = false;
        server_->c2s_total = server_->s2c_total = 0;
        for (const auto& m : server_->mailbox) session_.push_back({m, false});
        out_ = "+OK fake POP3 ready\r\n";
    }

    executor_type get_executor() const { return executor_; }
    closer lowest_layer() { return closer{this}; }

    template <class MutableBuffers>
    std::size_t read_some(const MutableBuffers& buffers, pop3::error_code& ec)
    {
        ec = {};
        if (out_pos_ == out_.size() || dead_) {
            ec = net::error::eof;
            return 0;
        }
        auto& s = *server_;
        std::size_t want = std::min<std::size_t>(out_.size() - out_pos_, 1500);
        if (s.cut_s2c) {
            if (s.s2c_total >= *s.cut_s2c) return die(ec);
            want = std::min(want, *s.cut_s2c - s.s2c_total);
        }
        const auto n = net::buffer_copy(buffers, net::buffer(out_.data() + out_pos_, want));
        // Consume from the front without moving the rest each time (a large message
        // would make that quadratic); compact now and then.
        out_pos_ += n;
        if (out_pos_ == out_.size()) {
            out_.clear();
            out_pos_ = 0;
        } else if (out_pos_ > (std::size_t{1} << 20) && out_pos_ > out_.size() / 2) {
            out_.erase(0, out_pos_);
            out_pos_ = 0;
        }
        s.s2c_total += n;
        return n;
    }

    template <class ConstBuffers>
    std::size_t write_some(const ConstBuffers& buffers, pop3::error_code& ec)
    {
        ec = {};
        if (dead_) {
            ec = net::error::broken_pipe;
            return 0;
        }
        auto& s = *server_;
        std::string bytes(net::buffer_size(buffers), '\0');
        net::buffer_copy(net::buffer(bytes), buffers);
        bool cut = false;
        if (s.cut_c2s && s.c2s_total + bytes.size() > *s.cut_c2s) {
            bytes.resize(*s.cut_c2s - s.c2s_total);
            cut = true;
        }
        s.c2s_total += bytes.size();
        in_ += bytes;
        std::size_t eol;
        while ((eol = in_.find("\r\n")) != std::string::npos) {
            const auto line = in_.substr(0, eol);
            in_.erase(0, eol + 2);
            handle(line);
        }
        if (cut) return die(ec);
        return bytes.size();
    }

private:
    struct entry {
        fake_message message;
        bool deleted;
    };

    std::size_t die(pop3::error_code& ec)
    {
        dead_ = true;
        server_->cut_fired = true;
        ec = net::error::connection_reset;
        return 0;
    }

    /// The message with 1-based number `arg`, if it exists and is not deleted.
    entry* find(const std::string& arg)
    {
        std::size_t n = 0;
        for (char c : arg) {
            if (c < '0' || c > '9' || n > 1000000) return nullptr;
            n = n * 10 + static_cast<std::size_t>(c - '0');
        }
        if (arg.empty() || n == 0 || n > session_.size() || session_[n - 1].deleted) return nullptr;
        return &session_[n - 1];
    }

    void handle(const std::string& line)
    {
        auto& s = *server_;
        s.commands.push_back(line);
        if (s.events) s.events->push_back("C:" + line);
        const auto space = line.find(' ');
        const auto verb = line.substr(0, space);
        const auto arg = space == std::string::npos ? std::string() : line.substr(space + 1);
        const auto number = [&] { return static_cast<std::size_t>(std::stoul(arg)); };
        if (verb == "CAPA") {
            out_ += "+OK\r\nUSER\r\nTOP\r\n";
            if (s.advertise_uidl) out_ += "UIDL\r\n";
            if (s.pipelining) out_ += "PIPELINING\r\n";
            out_ += ".\r\n";
        } else if (verb == "USER" || verb == "PASS" || verb == "NOOP") {
            out_ += "+OK\r\n";
        } else if (verb == "STAT") {
            out_ += "+OK 0 0\r\n";
        } else if (verb == "LIST" && arg.empty()) {
            out_ += "+OK\r\n";
            for (std::size_t i = 0; i < session_.size(); ++i)
                if (!session_[i].deleted)
                    out_ += std::to_string(i + 1) + " " +
                            std::to_string(session_[i].message.body.size()) + "\r\n";
            out_ += ".\r\n";
        } else if (verb == "UIDL" && arg.empty()) {
            if (!s.uidl_supported) {
                out_ += "-ERR unknown command\r\n";
                return;
            }
            out_ += "+OK\r\n";
            for (std::size_t i = 0; i < session_.size(); ++i)
                if (!session_[i].deleted)
                    out_ += std::to_string(i + 1) + " " + session_[i].message.uid + "\r\n";
            out_ += ".\r\n";
        } else if (verb == "RETR") {
            auto* e = find(arg);
            if (e == nullptr || s.refuse_retr.count(number()) != 0) {
                out_ += "-ERR no such message\r\n";
                return;
            }
            out_ += "+OK message follows\r\n";
            out_ += stuff(e->message.body);
            out_ += ".\r\n";
        } else if (verb == "DELE") {
            auto* e = find(arg);
            if (e == nullptr || s.refuse_dele.count(number()) != 0) {
                out_ += "-ERR no such message\r\n";
                return;
            }
            e->deleted = true;
            out_ += "+OK deleted\r\n";
        } else if (verb == "RSET") {
            for (auto& e : session_) e.deleted = false;
            out_ += "+OK\r\n";
        } else if (verb == "QUIT") {
            // The UPDATE state: deletions are committed now, whatever happens to the reply.
            std::vector<fake_message> kept;
            for (auto& e : session_)
                if (!e.deleted) kept.push_back(e.message);
            s.mailbox = std::move(kept);
            out_ += "+OK bye\r\n";
        } else {
            out_ += "-ERR unknown command\r\n";
        }
    }

    static std::string stuff(const std::string& body)
    {
        std::string out;
        bool line_start = true;
        for (char c : body) {
            if (line_start && c == '.') out += '.';
            out += c;
            line_start = c == '\n';
        }
        if (!body.empty() && body.back() != '\n') out += "\r\n";
        return out;
    }

    executor_type executor_;
    std::shared_ptr<fake_server> server_;
    std::vector<entry> session_;
    std::string in_;
    std::string out_;
    std::size_t out_pos_ = 0; ///< bytes of out_ already read by the client
    bool dead_ = false;
};

/// A memory store that logs its writes and can fail the N-th one.
class logging_store final : public pop3::uid_store {
public:
    logging_store() = default;
    /// A store whose failing apply reports `failure`.
    explicit logging_store(pop3::error_code failure) : fail_with(failure) {}

    pop3::memory_uid_store inner;
    std::vector<std::string>* events = nullptr;
    std::size_t applies = 0;
    std::size_t fail_apply = 0; ///< 1-based apply that fails (0: none)
    /// What the failing apply reports.
    pop3::error_code fail_with = pop3_test::generic_error(std::errc::io_error);

    std::size_t size() const noexcept override { return inner.size(); }

protected:
    std::optional<pop3::uid_entry> do_find(std::string_view uid,
                                           pop3::error_code& ec) const override
    {
        return inner.find(uid, ec);
    }
    void do_for_each(const std::function<void(std::string_view, const pop3::uid_entry&)>& f,
                     pop3::error_code& ec) const override
    {
        inner.for_each(f, ec);
    }
    void do_apply(const std::vector<pop3::uid_change>& changes, pop3::error_code& ec) override
    {
        if (++applies == fail_apply) {
            ec = fail_with;
            return;
        }
        inner.apply(changes, ec);
        if (events && !ec)
            for (const auto& c : changes)
                events->push_back("R:" + c.uid + ":" +
                                  (!c.entry          ? "forget"
                                   : c.entry->stored ? "stored"
                                                     : "pending"));
    }
};

} // namespace pop3_test

#endif
