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

/// The method's protocol name: "USER", "APOP", or the SASL name ("PLAIN", "CRAM-MD5",
/// "SCRAM-SHA-256", ...); "automatic" for `auth_method::automatic`.
constexpr const char* auth_method_name(auth_method m) noexcept
{
    switch (m) {
    case auth_method::automatic: return "automatic";
    case auth_method::user: return "USER";
    case auth_method::apop: return "APOP";
    case auth_method::plain: return "PLAIN";
    case auth_method::login: return "LOGIN";
    case auth_method::cram_md5: return "CRAM-MD5";
    case auth_method::scram_sha_1: return "SCRAM-SHA-1";
    case auth_method::scram_sha_256: return "SCRAM-SHA-256";
    case auth_method::xoauth2: return "XOAUTH2";
    case auth_method::oauthbearer: return "OAUTHBEARER";
    }
    return "";
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
    for (auto m : {auth_method::user, auth_method::apop, auth_method::plain, auth_method::login,
                   auth_method::cram_md5, auth_method::scram_sha_1, auth_method::scram_sha_256,
                   auth_method::xoauth2, auth_method::oauthbearer})
        if (offers(caps, hello, m)) out.push_back(m);
    return out;
}

/// Options of `client::login`.
struct login_options {
    auth_method method = auth_method::automatic;
    /// Permit methods that reveal the password (or a usable equivalent) to anyone who can
    /// read an unencrypted connection: USER/PASS, PLAIN, LOGIN, XOAUTH2, OAUTHBEARER, and
    /// the weak APOP and CRAM-MD5. Off by default: without TLS only SCRAM is used.
    bool allow_plaintext = false;
    /// SASL authorization identity (PLAIN): log in as `user`, act as this one.
    std::string authzid;
    /// OAUTHBEARER only: the server's host and port as the client connected to them.
    std::string host;
    std::string port;
};

} // namespace pop3

#endif // POP3_AUTH_HPP
