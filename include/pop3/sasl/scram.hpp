// pop3/sasl/scram.hpp: the SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677) mechanisms.
#ifndef POP3_SASL_SCRAM_HPP
#define POP3_SASL_SCRAM_HPP

#include <pop3/detail/text.hpp>
#include <pop3/error.hpp>
#include <pop3/sasl/base64.hpp>
#include <pop3/sasl/crypto.hpp>
#include <pop3/sasl/gs2.hpp>
#include <pop3/sasl/mechanism.hpp>
#include <pop3/sasl/secret.hpp>

#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace pop3::sasl {

/// The hash function a SCRAM mechanism is built on.
enum class scram_hash {
    sha_1,   ///< SCRAM-SHA-1 (RFC 5802)
    sha_256, ///< SCRAM-SHA-256 (RFC 7677)
};

/// The largest iteration count accepted from a server. RFC 7677 asks for at least 4096;
/// servers use up to a few hundred thousand. A larger value is more likely a hostile or
/// broken server making the client burn CPU (PBKDF2 runs before the server proves
/// anything), so the exchange is aborted instead.
inline constexpr std::uint32_t scram_max_iterations = 10'000'000;

/// SCRAM (RFC 5802) without channel binding (GS2 header "n,,") and without an
/// authorization identity. Client-first. Mutual authentication: the server's final message
/// proves it knows the password (or its SCRAM verifier); `finish()` fails unless that proof
/// was checked. Neither the password nor anything replayable crosses the wire.
///
/// SASLprep (RFC 4013) is not applied: user name and password are sent as given (UTF-8
/// passes through unchanged), with ',' and '=' in the user name escaped as "=2C" and "=3D".
/// ASCII credentials, and UTF-8 ones already in NFKC form without mapped characters,
/// are unaffected; others may fail against a server that does apply SASLprep.
class scram final : public mechanism {
public:
    /// @param hash SHA-1 (SCRAM-SHA-1) or SHA-256 (SCRAM-SHA-256)
    /// @param user the authentication identity, sent as given (see above)
    /// @param password used to compute the proof, never sent; wiped once used
    /// @param client_nonce empty (normal use): 24 random bytes from RAND_bytes, base64
    /// encoded; otherwise used as given (tests): printable ASCII without ','.
    scram(scram_hash hash, std::string user, std::string password, std::string client_nonce = {})
        : hash_(hash), user_(std::move(user)), password_(std::move(password)),
          nonce_(std::move(client_nonce))
    {
        detail::cleanse(password);
    }
    ~scram() override
    {
        detail::cleanse(password_);
        detail::cleanse(server_signature_);
    }

    std::string_view name() const noexcept override
    {
        return hash_ == scram_hash::sha_1 ? "SCRAM-SHA-1" : "SCRAM-SHA-256";
    }
    bool client_first() const noexcept override { return true; }
    bool exposes_secret() const noexcept override { return false; }

    /// A user name is required; neither it nor the password may contain NUL; a nonce
    /// given to the constructor must be printable ASCII without ','.
    error_code validate() const noexcept override
    {
        if (user_.empty() || user_.find('\0') != std::string::npos ||
            password_.find('\0') != std::string::npos)
            return errc::invalid_argument;
        for (char c : nonce_)
            if (!is_printable(c)) return errc::invalid_argument;
        return {};
    }

    /// The client-first message: "n,,n=<user>,r=<client nonce>" (RFC 5802 section 5.1).
    error_code initial_response(std::string& out) override
    {
        out.clear();
        if (state_ != state::start) return fail(errc::sasl_protocol_error);
        if (auto ec = validate()) return fail(ec);
        if (nonce_.empty()) {
            std::string random;
            if (!detail::random_bytes(24, random)) return fail(errc::sasl_protocol_error);
            nonce_ = base64_encode(random); // 32 characters from [A-Za-z0-9+/]
        }
        client_first_bare_ = "n=" + detail::encode_saslname(user_) + ",r=" + nonce_;
        out = "n,," + client_first_bare_;
        state_ = state::client_first_sent;
        return {};
    }

    /// Answers server-first with client-final, then checks server-final; after a verified
    /// server signature the answer is empty (RFC 5034 section 4: the client answers the
    /// server's last challenge with an empty response).
    /// @return `errc::server_signature_mismatch` when the server's proof is wrong,
    /// `errc::authentication_failed` for a server-final "e=" (text in `diagnostic()`),
    /// `errc::sasl_protocol_error` for anything that does not parse or is out of place.
    error_code respond(std::string_view challenge, std::string& out) override
    {
        out.clear();
        switch (state_) {
        case state::start:
            if (!challenge.empty()) return fail(errc::sasl_protocol_error);
            return initial_response(out);
        case state::client_first_sent: return on_server_first(challenge, out);
        case state::client_final_sent: return on_server_final(challenge);
        case state::verified:
        case state::failed: break;
        }
        return fail(errc::sasl_protocol_error);
    }

    /// An error unless the server's signature was received and verified.
    error_code finish() noexcept override
    {
        if (state_ == state::verified) return {};
        state_ = state::failed;
        return errc::server_signature_mismatch;
    }

private:
    enum class state { start, client_first_sent, client_final_sent, verified, failed };

    /// RFC 5802 section 7 "printable": %x21-2B / %x2D-7E.
    static constexpr bool is_printable(char c) noexcept
    {
        return c >= 0x21 && c <= 0x7e && c != ',';
    }

    /// Takes the next "a=value" attribute off `rest`. `more` says whether a ',' followed,
    /// so "i=4096," (a trailing comma) is told apart from the end of the message.
    static bool next_attribute(std::string_view& rest, bool& more, char& name,
                               std::string_view& value) noexcept
    {
        const auto comma = rest.find(',');
        const auto item = rest.substr(0, comma);
        more = comma != std::string_view::npos;
        rest = more ? rest.substr(comma + 1) : std::string_view{};
        if (item.size() < 3 || item[1] != '=') return false; // values are never empty
        const char c = item[0];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
        name = c;
        value = item.substr(2);
        return true;
    }

    const EVP_MD* md() const noexcept
    {
        return hash_ == scram_hash::sha_1 ? EVP_sha1() : EVP_sha256();
    }

    error_code fail(error_code ec) noexcept
    {
        state_ = state::failed;
        detail::cleanse(password_);
        return ec;
    }

    /// Parses server-first (RFC 5802 section 7) and computes the proof (section 3).
    error_code on_server_first(std::string_view message, std::string& out)
    {
        std::string_view rest = message;
        bool more = false;
        char attr = 0;
        std::string_view nonce, salt_b64, iterations_text, value;
        if (!next_attribute(rest, more, attr, nonce)) return fail(errc::sasl_protocol_error);
        if (attr == 'e') { // not in RFC 5802's server-first, but some servers fail early so
            diagnostic_.assign(nonce);
            return fail(errc::authentication_failed);
        }
        // "m=" announces a mandatory extension, and we know none (section 5.1).
        if (attr != 'r' || !more) return fail(errc::sasl_protocol_error);
        if (!next_attribute(rest, more, attr, salt_b64) || attr != 's' || !more)
            return fail(errc::sasl_protocol_error);
        if (!next_attribute(rest, more, attr, iterations_text) || attr != 'i')
            return fail(errc::sasl_protocol_error);
        while (more) // optional extensions: well-formed, otherwise ignored
            if (!next_attribute(rest, more, attr, value)) return fail(errc::sasl_protocol_error);

        // The combined nonce must extend ours (section 5.1) and stay printable.
        if (nonce.substr(0, nonce_.size()) != nonce_) return fail(errc::sasl_protocol_error);
        for (char c : nonce)
            if (!is_printable(c)) return fail(errc::sasl_protocol_error);

        std::string salt;
        if (!base64_decode(salt_b64, salt) || salt.empty()) return fail(errc::sasl_protocol_error);

        // posit-number = %x31-39 *DIGIT
        std::uint32_t iterations = 0;
        if (iterations_text.front() == '0' ||
            !pop3::detail::parse_decimal(iterations_text, iterations) || iterations < 1 ||
            iterations > scram_max_iterations)
            return fail(errc::sasl_protocol_error);

        // "biws" is base64("n,,"), the GS2 header of client-first.
        std::string client_final = "c=biws,r=";
        client_final.append(nonce);
        std::string auth_message = client_first_bare_;
        auth_message.append(1, ',').append(message).append(1, ',').append(client_final);

        std::string salted, client_key, stored_key, client_signature, server_key;
        bool ok = detail::pbkdf2(md(), password_, salt, iterations, salted) &&
                  detail::hmac(md(), salted, "Client Key", client_key) &&
                  detail::digest(md(), client_key, stored_key) &&
                  detail::hmac(md(), stored_key, auth_message, client_signature) &&
                  detail::hmac(md(), salted, "Server Key", server_key) &&
                  detail::hmac(md(), server_key, auth_message, server_signature_) &&
                  client_key.size() == client_signature.size();
        if (ok) {
            // ClientProof = ClientKey XOR ClientSignature
            for (std::size_t i = 0; i < client_key.size(); ++i)
                client_key[i] = static_cast<char>(client_key[i] ^ client_signature[i]);
            client_final.append(",p=").append(base64_encode(client_key));
        }
        detail::cleanse(salted);
        detail::cleanse(client_key);
        detail::cleanse(stored_key);
        detail::cleanse(client_signature);
        detail::cleanse(server_key);
        detail::cleanse(password_); // everything later needs only server_signature_
        if (!ok) return fail(errc::sasl_protocol_error);
        out = std::move(client_final);
        state_ = state::client_final_sent;
        return {};
    }

    /// Checks server-final (RFC 5802 section 7): "v=" verifier or "e=" error, optionally
    /// followed by extensions.
    error_code on_server_final(std::string_view message)
    {
        std::string_view rest = message;
        bool more = false;
        char attr = 0, extension_attr = 0;
        std::string_view value, extension;
        if (!next_attribute(rest, more, attr, value)) return fail(errc::sasl_protocol_error);
        while (more)
            if (!next_attribute(rest, more, extension_attr, extension))
                return fail(errc::sasl_protocol_error);
        if (attr == 'e') {
            diagnostic_.assign(value);
            return fail(errc::authentication_failed);
        }
        if (attr != 'v') return fail(errc::sasl_protocol_error);
        std::string signature;
        if (!base64_decode(value, signature)) return fail(errc::sasl_protocol_error);
        if (!detail::equal_constant_time(signature, server_signature_))
            return fail(errc::server_signature_mismatch);
        state_ = state::verified;
        return {};
    }

    scram_hash hash_;
    std::string user_;
    std::string password_;
    std::string nonce_;
    std::string client_first_bare_;
    std::string server_signature_; // expected ServerSignature, known after server-first
    state state_ = state::start;
};

/// A SCRAM-SHA-1 mechanism for `user` with a random client nonce.
inline std::unique_ptr<mechanism> make_scram_sha_1(std::string user, std::string password)
{
    auto m = std::make_unique<scram>(scram_hash::sha_1, std::move(user), std::move(password));
    detail::cleanse(password);
    return m;
}

/// A SCRAM-SHA-256 mechanism for `user` with a random client nonce.
inline std::unique_ptr<mechanism> make_scram_sha_256(std::string user, std::string password)
{
    auto m = std::make_unique<scram>(scram_hash::sha_256, std::move(user), std::move(password));
    detail::cleanse(password);
    return m;
}

} // namespace pop3::sasl

#endif // POP3_SASL_SCRAM_HPP
