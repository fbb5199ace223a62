// pop3/exception.hpp: the exception thrown by the library's throwing overloads.
#ifndef POP3_EXCEPTION_HPP
#define POP3_EXCEPTION_HPP

#include <pop3/error.hpp>
#include <pop3/reply.hpp>

#include <string>
#include <system_error>
#include <utility>

namespace pop3 {

/// Thrown by every throwing overload: an error code plus, when the server answered
/// -ERR, its reply (text and response code).
class error : public std::system_error {
public:
    explicit error(std::error_code ec) : std::system_error(ec) {}

    error(std::error_code ec, server_reply reply)
        : std::system_error(make_base(ec, describe(reply))), reply_(std::move(reply))
    {
    }

    /// The server's reply that caused the error; `text` is empty for local errors.
    const server_reply& reply() const noexcept { return reply_; }

private:
    // std::system_error(ec, "") would make what() start with ": ".
    static std::system_error make_base(std::error_code ec, const std::string& what)
    {
        return what.empty() ? std::system_error(ec) : std::system_error(ec, what);
    }

    static std::string describe(const server_reply& reply)
    {
        if (reply.text.empty() && reply.code.text.empty() && reply.detail.empty()) return {};
        std::string s = "server said: ";
        if (!reply.code.text.empty()) s += "[" + reply.code.text + "] ";
        s += reply.text;
        if (!reply.detail.empty()) s += " (" + reply.detail + ")";
        return s;
    }

    server_reply reply_;
};

} // namespace pop3

#endif // POP3_EXCEPTION_HPP
