// pop3/sasl/factory.hpp: SASL mechanisms by name and by `auth_method`: a view of the
// `pop3::auth_methods` table (pop3/auth.hpp), which also orders `login`'s automatic choice.
#ifndef POP3_SASL_FACTORY_HPP
#define POP3_SASL_FACTORY_HPP

#include <pop3/auth.hpp>
#include <pop3/detail/text.hpp>
#include <pop3/sasl/cram_md5.hpp>
#include <pop3/sasl/mechanism.hpp>
#include <pop3/sasl/oauth.hpp>
#include <pop3/sasl/plain.hpp>
#include <pop3/sasl/scram.hpp>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pop3::sasl {

/// The SASL mechanism with this name (case-insensitive, RFC 4422 section 3.1), if this
/// library implements it.
constexpr std::optional<auth_method> find_mechanism(std::string_view name) noexcept
{
    for (const auto& info : auth_methods)
        if (info.sasl && pop3::detail::iequals(name, info.name)) return info.method;
    return std::nullopt;
}

/// The SASL mechanisms that take a password, strongest first (the table's rank):
/// SCRAM-SHA-256, SCRAM-SHA-1, PLAIN, LOGIN, CRAM-MD5.
inline std::vector<auth_method> ranked_password_mechanisms()
{
    std::vector<const auth_method_info*> found;
    for (const auto& info : auth_methods)
        if (info.sasl && !info.token && info.rank != 0) found.push_back(&info);
    std::sort(found.begin(), found.end(), [](const auth_method_info* a, const auth_method_info* b) {
        return a->rank < b->rank;
    });
    std::vector<auth_method> out;
    for (const auto* info : found) out.push_back(info->method);
    return out;
}

/// A mechanism that logs `user` in with `secret` (a password, or an OAuth token for
/// XOAUTH2 and OAUTHBEARER). `options` gives PLAIN's authzid and OAUTHBEARER's host and
/// port. @return nullptr for USER, APOP and `automatic`, which are not SASL.
inline std::unique_ptr<mechanism> make_mechanism(auth_method m, std::string user,
                                                 std::string secret,
                                                 const login_options& options = {})
{
    std::unique_ptr<mechanism> made;
    switch (m) {
    case auth_method::plain:
        made = make_plain(std::move(user), std::move(secret), options.authzid);
        break;
    case auth_method::login: made = make_login(std::move(user), std::move(secret)); break;
    case auth_method::cram_md5: made = make_cram_md5(std::move(user), std::move(secret)); break;
    case auth_method::scram_sha_1:
        made = make_scram_sha_1(std::move(user), std::move(secret));
        break;
    case auth_method::scram_sha_256:
        made = make_scram_sha_256(std::move(user), std::move(secret));
        break;
    case auth_method::xoauth2: made = make_xoauth2(std::move(user), std::move(secret)); break;
    case auth_method::oauthbearer:
        made = make_oauthbearer(std::move(user), std::move(secret), options.host, options.port);
        break;
    case auth_method::automatic:
    case auth_method::user:
    case auth_method::apop: break;
    }
    detail::cleanse(secret);
    return made;
}

/// `make_mechanism` for the mechanisms that take a password.
/// @return nullptr for XOAUTH2 and OAUTHBEARER, which take a token, and for non-SASL methods.
inline std::unique_ptr<mechanism> make_password_mechanism(auth_method m, std::string user,
                                                          std::string password)
{
    const auto* info = find_auth_method(m);
    if (info == nullptr || info->token) {
        detail::cleanse(password);
        return nullptr;
    }
    return make_mechanism(m, std::move(user), std::move(password));
}

} // namespace pop3::sasl

#endif // POP3_SASL_FACTORY_HPP
