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
    /// A local error (or one without a server reply): `reply()` is empty.
    explicit error(error_code ec) : error(ec, server_reply{}) {}

    /// An error the server's reply caused: `reply` is kept for `reply()` and `what()`.
    error(error_code ec, server_reply reply)
        : system_error(ec), reply_(std::move(reply)), what_(describe(ec, reply_))
    {
    }

    /// The server's reply that caused the error; `text` is empty for local errors.
    const server_reply& reply() const noexcept { return reply_; }

    /// "server said: <reply>: <message>" after a -ERR; else the error's message, after the
    /// failure's detail when there is one ("certificate has expired: <message>"). Kept
    /// here because Boost 1.79+ appends " [category:value]" to system_error::what():
    /// the text is the same on every flavour.
    const char* what() const noexcept override { return what_.c_str(); }

private:
    static std::string describe(const error_code& ec, const server_reply& reply)
    {
        if (reply.text.empty() && reply.code.text.empty()) {
            // A local failure; the detail (OpenSSL's reason for a refused certificate) first.
            if (reply.detail.empty()) return ec.message();
            return reply.detail + ": " + ec.message();
        }
        std::string s = "server said: ";
        if (!reply.code.text.empty()) s += "[" + reply.code.text + "] ";
        s += reply.text;
        if (!reply.detail.empty()) s += " (" + reply.detail + ")";
        return s + ": " + ec.message();
    }

    server_reply reply_;
    std::string what_;
};

} // namespace pop3

#endif // POP3_EXCEPTION_HPP
