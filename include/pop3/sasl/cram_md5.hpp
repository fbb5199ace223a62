// pop3/sasl/cram_md5.hpp: the CRAM-MD5 SASL mechanism (RFC 2195).
#ifndef POP3_SASL_CRAM_MD5_HPP
#define POP3_SASL_CRAM_MD5_HPP

#include <pop3/error.hpp>
#include <pop3/sasl/crypto.hpp>
#include <pop3/sasl/mechanism.hpp>
#include <pop3/sasl/secret.hpp>

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace pop3::sasl {

/// CRAM-MD5 (RFC 2195): server-first; the answer to the server's challenge is
/// "user SP hex(HMAC-MD5(password, challenge))". The password is not sent, but one
/// recorded exchange allows an offline dictionary attack on it, and the server must keep
/// a plaintext-equivalent secret: `weak()`. Historic; prefer SCRAM.
class cram_md5 final : public password_mechanism {
public:
    /// Keeps the credentials until the challenge is answered.
    cram_md5(std::string user, std::string password)
        : password_mechanism(std::move(user), std::move(password))
    {
    }

    std::string_view name() const noexcept override { return "CRAM-MD5"; }
    bool client_first() const noexcept override { return false; }
    bool exposes_secret() const noexcept override { return false; }
    bool weak() const noexcept override { return true; }

    /// A user name is required; neither value may contain NUL.
    error_code validate() const noexcept override { return check_credentials(); }

    /// CRAM-MD5 has no initial response.
    error_code initial_response(std::string& out) override
    {
        out.clear();
        done_ = true;
        return errc::sasl_protocol_error;
    }

    /// Answers the one challenge (RFC 2195 section 2); an empty or second one is an error.
    error_code respond(std::string_view challenge, std::string& out) override
    {
        out.clear();
        if (done_ || challenge.empty()) {
            done_ = true;
            return errc::sasl_protocol_error;
        }
        done_ = true;
        if (auto ec = validate()) return ec;
        std::string mac;
        const bool ok = detail::hmac(EVP_md5(), password_, challenge, mac);
        detail::cleanse(password_);
        if (!ok) return errc::sasl_protocol_error; // MD5 unavailable (e.g. FIPS-only OpenSSL)
        out.reserve(user_.size() + 1 + 2 * mac.size());
        out.append(user_).append(1, ' ').append(detail::to_hex(mac));
        detail::cleanse(mac);
        return {};
    }

private:
    bool done_ = false;
};

/// A CRAM-MD5 mechanism for `user`.
inline std::unique_ptr<mechanism> make_cram_md5(std::string user, std::string password)
{
    auto m = std::make_unique<cram_md5>(std::move(user), std::move(password));
    detail::cleanse(password);
    return m;
}

} // namespace pop3::sasl

#endif // POP3_SASL_CRAM_MD5_HPP
