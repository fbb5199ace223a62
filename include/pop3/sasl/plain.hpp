// pop3/sasl/plain.hpp: the cleartext SASL mechanisms PLAIN (RFC 4616) and LOGIN.
#ifndef POP3_SASL_PLAIN_HPP
#define POP3_SASL_PLAIN_HPP

#include <pop3/error.hpp>
#include <pop3/sasl/mechanism.hpp>
#include <pop3/sasl/secret.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace pop3::sasl {

/// PLAIN (RFC 4616): one client-first message "authzid NUL authcid NUL passwd". Sends the
/// password itself: use it only over TLS.
class plain final : public mechanism {
public:
    /// @param user the authentication identity (authcid): required, no NUL
    /// @param password required, no NUL; wiped once sent and on destruction
    /// @param authzid the identity to act as; empty: the same as `user` (RFC 4616 section 2)
    plain(std::string user, std::string password, std::string authzid = {})
        : user_(std::move(user)), password_(std::move(password)), authzid_(std::move(authzid))
    {
        detail::cleanse(password); // moved-from, but a short string's bytes stay behind
    }
    ~plain() override { detail::cleanse(password_); }

    std::string_view name() const noexcept override { return "PLAIN"; }
    bool client_first() const noexcept override { return true; }
    bool exposes_secret() const noexcept override { return true; }

    /// RFC 4616 section 2: authcid and passwd are 1*SAFE (no NUL, not empty); authzid
    /// has no NUL either.
    error_code validate() const noexcept override
    {
        if (user_.empty() || password_.empty() || has_nul(user_) || has_nul(password_) ||
            has_nul(authzid_))
            return errc::invalid_argument;
        return {};
    }

    error_code initial_response(std::string& out) override
    {
        out.clear();
        if (sent_) return errc::sasl_protocol_error;
        sent_ = true;
        if (auto ec = validate()) return ec;
        out.reserve(authzid_.size() + user_.size() + password_.size() + 2);
        out.append(authzid_).append(1, '\0').append(user_).append(1, '\0').append(password_);
        detail::cleanse(password_); // not needed any more
        return {};
    }

    /// Only the empty challenge of a server that did not get the initial response with AUTH
    /// is valid (RFC 4616 section 2); PLAIN has nothing else to say.
    error_code respond(std::string_view challenge, std::string& out) override
    {
        out.clear();
        if (!sent_ && challenge.empty()) return initial_response(out);
        sent_ = true;
        return errc::sasl_protocol_error;
    }

private:
    static bool has_nul(std::string_view s) noexcept
    {
        return s.find('\0') != std::string_view::npos;
    }

    std::string user_;
    std::string password_;
    std::string authzid_;
    bool sent_ = false;
};

/// LOGIN (draft-murchison-sasl-login): server-first; the server prompts twice
/// ("Username:", "Password:") and the client answers with the user name, then the
/// password. The prompt texts are not checked: servers word them differently. Sends the
/// password itself: use it only over TLS.
class login final : public password_mechanism {
public:
    /// Keeps the credentials until they are sent.
    login(std::string user, std::string password)
        : password_mechanism(std::move(user), std::move(password))
    {
    }

    std::string_view name() const noexcept override { return "LOGIN"; }
    bool client_first() const noexcept override { return false; }
    bool exposes_secret() const noexcept override { return true; }

    /// Servers treat both values as C strings: no NUL, and a user name is required.
    error_code validate() const noexcept override { return check_credentials(); }

    /// LOGIN has no initial response.
    error_code initial_response(std::string& out) override
    {
        out.clear();
        step_ = 2;
        return errc::sasl_protocol_error;
    }

    /// First challenge: the user name; second: the password; a third is an error.
    error_code respond(std::string_view /*challenge*/, std::string& out) override
    {
        out.clear();
        if (auto ec = validate()) {
            step_ = 2;
            return ec;
        }
        switch (step_) {
        case 0:
            step_ = 1;
            out = user_;
            return {};
        case 1:
            step_ = 2;
            out = password_;
            detail::cleanse(password_);
            return {};
        default: return errc::sasl_protocol_error;
        }
    }

private:
    int step_ = 0; // 0: expects the user prompt, 1: the password prompt, 2: done or failed
};

/// A PLAIN mechanism for `user` (acting as `authzid` when not empty).
inline std::unique_ptr<mechanism> make_plain(std::string user, std::string password,
                                             std::string authzid = {})
{
    auto m = std::make_unique<plain>(std::move(user), std::move(password), std::move(authzid));
    detail::cleanse(password);
    return m;
}

/// A LOGIN mechanism for `user`.
inline std::unique_ptr<mechanism> make_login(std::string user, std::string password)
{
    auto m = std::make_unique<login>(std::move(user), std::move(password));
    detail::cleanse(password);
    return m;
}

} // namespace pop3::sasl

#endif // POP3_SASL_PLAIN_HPP
