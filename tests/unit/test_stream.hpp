// A scripted in-memory stream for driving pop3::client in tests, sync and async.
// The server side is a string of bytes handed out in chunks of a chosen size; what the
// client writes is recorded. A fault can be injected at the N-th I/O call.
#ifndef POP3_TESTS_TEST_STREAM_HPP
#define POP3_TESTS_TEST_STREAM_HPP

#include <pop3/detail/asio.hpp>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace pop3_test {

namespace net = pop3::net;

/// What the fake server sends and what it received, shared by a stream and the test.
struct script {
    std::string input;                                  ///< bytes the server sends, in order
    std::size_t read_chunk = 1 << 16;                   ///< at most this many bytes per read
    std::string output;                                 ///< bytes the client wrote
    std::vector<std::string> writes;                    ///< the same, one entry per write call
    std::size_t io_calls = 0;                           ///< read and write calls so far
    std::size_t fail_at = static_cast<std::size_t>(-1); ///< this call fails (0-based)
    pop3::error_code fault = net::error::connection_reset;
    std::size_t position = 0; ///< how much of `input` was read
};

/// Completes a stream that has `read_some(buffers, ec)`, `write_some(buffers, ec)` and
/// `get_executor()` with the rest of Asio's stream interface: throwing overloads, and
/// async operations that run the sync ones and complete through the executor.
template <class Derived> class sync_backed_stream {
public:
    template <class MutableBuffers> std::size_t read_some(const MutableBuffers& buffers)
    {
        pop3::error_code ec;
        const auto n = self().read_some(buffers, ec);
        if (ec) throw pop3::system_error(ec);
        return n;
    }

    template <class ConstBuffers> std::size_t write_some(const ConstBuffers& buffers)
    {
        pop3::error_code ec;
        const auto n = self().write_some(buffers, ec);
        if (ec) throw pop3::system_error(ec);
        return n;
    }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token)
    {
        return net::async_initiate<Token, void(pop3::error_code, std::size_t)>(
            [this](auto handler, MutableBuffers b) {
                pop3::error_code ec;
                const auto n = self().read_some(b, ec);
                post_result(std::move(handler), ec, n);
            },
            token, buffers);
    }

    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token)
    {
        return net::async_initiate<Token, void(pop3::error_code, std::size_t)>(
            [this](auto handler, ConstBuffers b) {
                pop3::error_code ec;
                const auto n = self().write_some(b, ec);
                post_result(std::move(handler), ec, n);
            },
            token, buffers);
    }

private:
    Derived& self() { return static_cast<Derived&>(*this); }

    template <class Handler> void post_result(Handler handler, pop3::error_code ec, std::size_t n)
    {
        auto ex = net::get_associated_executor(handler, self().get_executor());
        net::post(ex, [h = std::move(handler), ec, n]() mutable { h(ec, n); });
    }
};

class test_stream : public sync_backed_stream<test_stream> {
public:
    using sync_backed_stream::read_some;
    using sync_backed_stream::write_some;
    using executor_type = net::any_io_executor;

    test_stream(net::any_io_executor ex, std::shared_ptr<script> s)
        : executor_(std::move(ex)), script_(std::move(s))
    {
    }

    executor_type get_executor() const { return executor_; }

    template <class MutableBuffers>
    std::size_t read_some(const MutableBuffers& buffers, pop3::error_code& ec)
    {
        if (fault(ec)) return 0;
        auto& s = *script_;
        if (s.position == s.input.size()) {
            ec = net::error::eof;
            return 0;
        }
        const auto want = std::min(s.read_chunk, s.input.size() - s.position);
        const auto n = net::buffer_copy(buffers, net::buffer(s.input.data() + s.position, want));
        s.position += n;
        ec = {};
        return n;
    }

    template <class ConstBuffers>
    std::size_t write_some(const ConstBuffers& buffers, pop3::error_code& ec)
    {
        if (fault(ec)) return 0;
        const auto size = net::buffer_size(buffers);
        std::string bytes(size, '\0');
        net::buffer_copy(net::buffer(bytes), buffers);
        script_->output += bytes;
        script_->writes.push_back(bytes);
        ec = {};
        return size;
    }

private:
    bool fault(pop3::error_code& ec)
    {
        auto& s = *script_;
        if (s.io_calls++ == s.fail_at) {
            ec = s.fault;
            return true;
        }
        return false;
    }

    executor_type executor_;
    std::shared_ptr<script> script_;
};

} // namespace pop3_test

#endif
