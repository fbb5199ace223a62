// pop3/sasl/factory.hpp: SASL mechanisms by name, and their order of preference.
#ifndef POP3_SASL_FACTORY_HPP
#define POP3_SASL_FACTORY_HPP

#include <pop3/detail/text.hpp>
#include <pop3/sasl/cram_md5.hpp>
#include <pop3/sasl/mechanism.hpp>
#include <pop3/sasl/oauth.hpp>
#include <pop3/sasl/plain.hpp>
#include <pop3/sasl/scram.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pop3::sasl {

/// The SASL mechanisms this library implements.
enum class mechanism_id {
    plain,         ///< PLAIN (RFC 4616)
    login,         ///< LOGIN (draft-murchison-sasl-login)
    cram_md5,      ///< CRAM-MD5 (RFC 2195)
    scram_sha_1,   ///< SCRAM-SHA-1 (RFC 5802)
    scram_sha_256, ///< SCRAM-SHA-256 (RFC 7677)
    xoauth2,       ///< XOAUTH2 (Google, Microsoft)
    oauthbearer,   ///< OAUTHBEARER (RFC 7628)
};

/// The registered name of a mechanism, as in CAPA's SASL line and the AUTH command.
constexpr std::string_view mechanism_name(mechanism_id id) noexcept
{
    switch (id) {
    case mechanism_id::plain: return "PLAIN";
    case mechanism_id::login: return "LOGIN";
    case mechanism_id::cram_md5: return "CRAM-MD5";
    case mechanism_id::scram_sha_1: return "SCRAM-SHA-1";
    case mechanism_id::scram_sha_256: return "SCRAM-SHA-256";
    case mechanism_id::xoauth2: return "XOAUTH2";
    case mechanism_id::oauthbearer: return "OAUTHBEARER";
    }
    return {};
}

/// The mechanism with this name (case-insensitive, RFC 4422 section 3.1), if implemented.
constexpr std::optional<mechanism_id> find_mechanism(std::string_view name) noexcept
{
    for (auto id : {mechanism_id::plain, mechanism_id::login, mechanism_id::cram_md5,
                    mechanism_id::scram_sha_1, mechanism_id::scram_sha_256, mechanism_id::xoauth2,
                    mechanism_id::oauthbearer})
        if (pop3::detail::iequals(name, mechanism_name(id))) return id;
    return std::nullopt;
}

/// True for the mechanisms that take a password (the others take an OAuth token).
constexpr bool is_password_mechanism(mechanism_id id) noexcept
{
    return id != mechanism_id::xoauth2 && id != mechanism_id::oauthbearer;
}

/// The password mechanisms, strongest first: SCRAM-SHA-256, SCRAM-SHA-1, PLAIN, LOGIN,
/// CRAM-MD5.
///
/// Why: SCRAM never reveals the password and authenticates the server, so it leads.
/// Over TLS, PLAIN and LOGIN reveal the password only to the certificate-verified server,
/// which USER/PASS would do anyway, and they work with every server-side password store.
/// CRAM-MD5 comes last: it is historic, one recorded exchange allows an offline dictionary
/// attack, and it only works when the server keeps a plaintext-equivalent secret, so a
/// server may advertise it and still fail it for accounts with hashed passwords (a spurious
/// authentication failure that counts against rate limits). Without TLS the POP3 layer
/// drops the mechanisms whose `exposes_secret()` is true (unless the user allowed
/// plaintext), which leaves SCRAM, then CRAM-MD5: the same list, filtered, stays right.
inline std::vector<mechanism_id> ranked_password_mechanisms()
{
    return {mechanism_id::scram_sha_256, mechanism_id::scram_sha_1, mechanism_id::plain,
            mechanism_id::login, mechanism_id::cram_md5};
}

/// A mechanism that logs `user` in with `password`.
/// @return nullptr for XOAUTH2 and OAUTHBEARER, which take a token (see `make_xoauth2`,
/// `make_oauthbearer`).
inline std::unique_ptr<mechanism> make_password_mechanism(mechanism_id id, std::string user,
                                                          std::string password)
{
    std::unique_ptr<mechanism> m;
    switch (id) {
    case mechanism_id::plain: m = make_plain(std::move(user), std::move(password)); break;
    case mechanism_id::login: m = make_login(std::move(user), std::move(password)); break;
    case mechanism_id::cram_md5: m = make_cram_md5(std::move(user), std::move(password)); break;
    case mechanism_id::scram_sha_1:
        m = make_scram_sha_1(std::move(user), std::move(password));
        break;
    case mechanism_id::scram_sha_256:
        m = make_scram_sha_256(std::move(user), std::move(password));
        break;
    case mechanism_id::xoauth2:
    case mechanism_id::oauthbearer: break;
    }
    detail::cleanse(password);
    return m;
}

} // namespace pop3::sasl

#endif // POP3_SASL_FACTORY_HPP
