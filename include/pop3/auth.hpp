// pop3/auth.hpp: how the client logs in, and what it refuses to do without TLS.
#ifndef POP3_AUTH_HPP
#define POP3_AUTH_HPP

#include <pop3/capabilities.hpp>
#include <pop3/greeting.hpp>

#include <string>
#include <vector>

namespace pop3 {

/// An authentication method: RFC 1939 USER/PASS and APOP, or a SASL mechanism (RFC 5034).
enum class auth_method {
    automatic,     ///< the strongest method the server offers and the policy allows
    user,          ///< USER/PASS (RFC 1939 section 7)
    apop,          ///< APOP (RFC 1939 section 7): needs a `<...@...>` timestamp in the greeting
    plain,         ///< SASL PLAIN (RFC 4616)
    login,         ///< SASL LOGIN (draft-murchison-sasl-login)
    cram_md5,      ///< SASL CRAM-MD5 (RFC 2195)
    scram_sha_1,   ///< SASL SCRAM-SHA-1 (RFC 5802)
    scram_sha_256, ///< SASL SCRAM-SHA-256 (RFC 7677)
    xoauth2,       ///< SASL XOAUTH2 (Google, Microsoft): the secret is an OAuth 2.0 token
    oauthbearer,   ///< SASL OAUTHBEARER (RFC 7628): the secret is an OAuth 2.0 token
};

/// What the library knows about one login method: one table, used by the automatic
/// choice of `login`, the plaintext policy and the SASL factory (pop3/sasl/factory.hpp).
struct auth_method_info {
    auth_method method; ///< the method this entry describes
    const char* name;   ///< "USER", "APOP", or the SASL name as in CAPA and AUTH
    bool sasl;          ///< an AUTH mechanism (RFC 5034)
    bool token;         ///< the secret is an OAuth 2.0 token, not a password
    /// Safe on a connection anyone can read: SCRAM proves knowledge of the password
    /// without revealing anything replayable, and authenticates the server.
    bool safe_without_tls;
    /// Sends the secret itself (readable, or base64): USER/PASS, PLAIN, LOGIN, the tokens.
    /// Without TLS (when allowed at all) the methods that do not come first.
    bool reveals_secret;
    /// Order of the automatic choice, strongest first (0: never chosen automatically).
    /// Over TLS every method is protected, so SCRAM (mutual authentication) leads, then
    /// the simple ones, which work with every server-side password store; CRAM-MD5 and
    /// APOP come last: they need the password stored in the clear on the server, which
    /// may offer them and still fail them for accounts with hashed passwords.
    int rank;
};

/// Every method, in `auth_method` order (`automatic` excluded).
// clang-format off
inline constexpr auth_method_info auth_methods[] = {
    // method                      name             sasl   token  safe   reveals rank
    {auth_method::user,          "USER",          false, false, false, true,  5},
    {auth_method::apop,          "APOP",          false, false, false, false, 7},
    {auth_method::plain,         "PLAIN",         true,  false, false, true,  3},
    {auth_method::login,         "LOGIN",         true,  false, false, true,  4},
    {auth_method::cram_md5,      "CRAM-MD5",      true,  false, false, false, 6},
    {auth_method::scram_sha_1,   "SCRAM-SHA-1",   true,  false, true,  false, 2},
    {auth_method::scram_sha_256, "SCRAM-SHA-256", true,  false, true,  false, 1},
    {auth_method::xoauth2,       "XOAUTH2",       true,  true,  false, true,  2},
    {auth_method::oauthbearer,   "OAUTHBEARER",   true,  true,  false, true,  1},
};
// clang-format on

/// The table entry of `m`; null for `auth_method::automatic`.
constexpr const auth_method_info* find_auth_method(auth_method m) noexcept
{
    for (const auto& info : auth_methods)
        if (info.method == m) return &info;
    return nullptr;
}

/// The method's protocol name: "USER", "APOP", or the SASL name ("PLAIN", "CRAM-MD5",
/// "SCRAM-SHA-256", ...); "automatic" for `auth_method::automatic`.
constexpr const char* auth_method_name(auth_method m) noexcept
{
    const auto* info = find_auth_method(m);
    return info != nullptr ? info->name : "automatic";
}

/// True for the methods that are safe without TLS (see `auth_method_info`).
constexpr bool safe_without_tls(auth_method m) noexcept
{
    const auto* info = find_auth_method(m);
    return info != nullptr && info->safe_without_tls;
}

/// Does the server offer `m`? SASL mechanisms: listed in CAPA's SASL line. USER: listed,
/// or assumed when the server gave no capabilities at all (RFC 1939 servers). APOP: the
/// greeting carries a timestamp.
inline bool offers(const capabilities& caps, const greeting& hello, auth_method m) noexcept
{
    switch (m) {
    case auth_method::automatic: return false;
    case auth_method::user: return caps.user || caps.entries.empty();
    case auth_method::apop: return !hello.apop_timestamp.empty();
    default: return caps.has_sasl(auth_method_name(m));
    }
}

/// Every method the server offers, in `auth_method` order (what to suggest when a chosen
/// method is refused or unavailable).
inline std::vector<auth_method> offered_auth_methods(const capabilities& caps,
                                                     const greeting& hello)
{
    std::vector<auth_method> out;
    for (const auto& info : auth_methods)
        if (offers(caps, hello, info.method)) out.push_back(info.method);
    return out;
}

/// Options of `client::login`.
struct login_options {
    /// The method to use; `automatic`: the strongest the server offers and the policy
    /// allows (see `auth_method_info::rank`).
    auth_method method = auth_method::automatic;
    /// Permit methods that reveal the password (or a usable equivalent) to anyone who can
    /// read an unencrypted connection: USER/PASS, PLAIN, LOGIN, XOAUTH2, OAUTHBEARER, and
    /// the weak APOP and CRAM-MD5. Off by default: without TLS only SCRAM is used.
    bool allow_plaintext = false;
    /// SASL authorization identity (PLAIN): log in as `user`, act as this one.
    std::string authzid;
    /// OAUTHBEARER only: the server's host name as the client connected to it (RFC 7628).
    std::string host;
    /// OAUTHBEARER only: the server's port as the client connected to it (RFC 7628).
    std::string port;
};

} // namespace pop3

#endif // POP3_AUTH_HPP
