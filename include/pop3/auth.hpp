// pop3/auth.hpp: how the client logs in, and what it refuses to do without TLS.
#ifndef POP3_AUTH_HPP
#define POP3_AUTH_HPP

#include <string>

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
