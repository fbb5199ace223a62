// pop3/sasl/oauth.hpp: OAuth 2.0 bearer token mechanisms, XOAUTH2 and OAUTHBEARER (RFC 7628).
#ifndef POP3_SASL_OAUTH_HPP
#define POP3_SASL_OAUTH_HPP

#include <pop3/detail/text.hpp>
#include <pop3/error.hpp>
#include <pop3/sasl/gs2.hpp>
#include <pop3/sasl/mechanism.hpp>
#include <pop3/sasl/secret.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace pop3::sasl {

namespace detail {

/// True when `s` contains a C0 control character or DEL: ^A separates the key/value pairs
/// of both mechanisms, and CR, LF and NUL have no place in a user name, host or token.
inline bool has_control(std::string_view s) noexcept
{
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) return true;
    }
    return false;
}

/// The shared state machine: one client-first message; any challenge after it is the
/// server's error report. RFC 7628 section 3.2.3 has the client answer that with a dummy
/// "^A" to receive the final failure; the POP3 layer cancels with "*" instead, which
/// RFC 5034 section 4 allows at any point and which also ends in -ERR. Either way the
/// exchange has failed, and the error JSON is kept in `diagnostic()`.
class bearer_mechanism : public mechanism {
public:
    ~bearer_mechanism() override { cleanse(token_); }

    bool client_first() const noexcept override { return true; }
    bool exposes_secret() const noexcept override { return true; }

    error_code initial_response(std::string& out) override
    {
        out.clear();
        if (sent_) return errc::sasl_protocol_error;
        sent_ = true;
        if (auto ec = validate()) return ec;
        build(out);
        cleanse(token_);
        return {};
    }

    /// Before the initial response: the server's empty challenge, answered with it.
    /// After: the server's error (JSON for OAUTHBEARER, Google and Microsoft), kept in
    /// `diagnostic()`; @return `errc::authentication_failed`, so the POP3 layer sends "*".
    error_code respond(std::string_view challenge, std::string& out) override
    {
        out.clear();
        if (!sent_ && challenge.empty()) return initial_response(out);
        sent_ = true;
        diagnostic_.assign(challenge);
        return errc::authentication_failed;
    }

protected:
    bearer_mechanism(std::string user, std::string token)
        : user_(std::move(user)), token_(std::move(token))
    {
    }

    /// Appends the whole client response to `out`.
    virtual void build(std::string& out) const = 0;

    std::string user_;
    std::string token_;

private:
    bool sent_ = false;
};

} // namespace detail

/// XOAUTH2 (Google, Microsoft): "user=" user ^A "auth=Bearer " token ^A ^A, client-first.
/// The token is a bearer secret: use it only over TLS.
class xoauth2 final : public detail::bearer_mechanism {
public:
    /// Keeps the token until it is sent.
    xoauth2(std::string user, std::string token)
        : bearer_mechanism(std::move(user), std::move(token))
    {
        detail::cleanse(token);
    }

    std::string_view name() const noexcept override { return "XOAUTH2"; }

    /// User and token are required and free of control characters.
    error_code validate() const noexcept override
    {
        if (user_.empty() || token_.empty() || detail::has_control(user_) ||
            detail::has_control(token_))
            return errc::invalid_argument;
        return {};
    }

private:
    void build(std::string& out) const override
    {
        out.reserve(user_.size() + token_.size() + 22);
        out.append("user=").append(user_).append("\x01"
                                                 "auth=Bearer ");
        out.append(token_).append("\x01\x01");
    }
};

/// OAUTHBEARER (RFC 7628 section 3.1): GS2 header "n,a=<user>," then ^A-separated host,
/// port and "auth=Bearer <token>", ending in ^A ^A; client-first, no channel binding.
/// The token is a bearer secret: use it only over TLS.
class oauthbearer final : public detail::bearer_mechanism {
public:
    /// @param user  the authorization identity; empty: omitted (the token names the user)
    /// @param token the OAuth 2.0 access token (kept until it is sent, then wiped)
    /// @param host  the server's host name as the client connected to it; empty: omitted
    /// @param port  the server's port in decimal; empty: omitted
    oauthbearer(std::string user, std::string token, std::string host = {}, std::string port = {})
        : bearer_mechanism(std::move(user), std::move(token)), host_(std::move(host)),
          port_(std::move(port))
    {
        detail::cleanse(token);
    }

    std::string_view name() const noexcept override { return "OAUTHBEARER"; }

    /// A token is required; no value may contain control characters; the port, when
    /// given, is a decimal number up to 65535.
    error_code validate() const noexcept override
    {
        std::uint16_t port = 0;
        if (token_.empty() || detail::has_control(user_) || detail::has_control(token_) ||
            detail::has_control(host_) ||
            (!port_.empty() && !pop3::detail::parse_decimal(port_, port)))
            return errc::invalid_argument;
        return {};
    }

private:
    void build(std::string& out) const override
    {
        out.append("n,");
        if (!user_.empty()) out.append("a=").append(detail::encode_saslname(user_));
        out.append(",");
        if (!host_.empty()) out.append("\x01host=").append(host_);
        if (!port_.empty()) out.append("\x01port=").append(port_);
        out.append("\x01"
                   "auth=Bearer ")
            .append(token_)
            .append("\x01\x01");
    }

    std::string host_;
    std::string port_;
};

/// An XOAUTH2 mechanism for `user` with an OAuth 2.0 access token.
inline std::unique_ptr<mechanism> make_xoauth2(std::string user, std::string token)
{
    auto m = std::make_unique<xoauth2>(std::move(user), std::move(token));
    detail::cleanse(token);
    return m;
}

/// An OAUTHBEARER mechanism for `user` with an OAuth 2.0 access token; host and port are
/// the server's, as the client connected to them (empty: omitted).
inline std::unique_ptr<mechanism> make_oauthbearer(std::string user, std::string token,
                                                   std::string host = {}, std::string port = {})
{
    auto m = std::make_unique<oauthbearer>(std::move(user), std::move(token), std::move(host),
                                           std::move(port));
    detail::cleanse(token);
    return m;
}

} // namespace pop3::sasl

#endif // POP3_SASL_OAUTH_HPP
