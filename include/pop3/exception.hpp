// pop3/exception.hpp: the exception thrown by the library's throwing overloads.
#ifndef POP3_EXCEPTION_HPP
#define POP3_EXCEPTION_HPP

#include <pop3/error.hpp>
#include <pop3/error_code.hpp>
#include <pop3/reply.hpp>

#include <string>
#include <utility>

namespace pop3 {

/// Thrown by every throwing overload: an error code plus, when the server answered
/// -ERR, its reply (text and response code). Derives from std::system_error, or from
/// boost::system::system_error on Boost.Asio; `code()` is the `pop3::error_code`.
class error : public system_error {
public:
    explicit error(error_code ec) : system_error(ec) {}

    error(error_code ec, server_reply reply)
        : system_error(make_base(ec, describe(reply))), reply_(std::move(reply))
    {
    }

    /// The server's reply that caused the error; `text` is empty for local errors.
    const server_reply& reply() const noexcept { return reply_; }

private:
    // system_error(ec, "") would make what() start with ": ".
    static system_error make_base(error_code ec, const std::string& what)
    {
        return what.empty() ? system_error(ec) : system_error(ec, what);
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
