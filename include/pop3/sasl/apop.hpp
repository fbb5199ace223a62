// pop3/sasl/apop.hpp: the APOP digest (RFC 1939 section 7).
#ifndef POP3_SASL_APOP_HPP
#define POP3_SASL_APOP_HPP

#include <pop3/sasl/crypto.hpp>
#include <pop3/sasl/secret.hpp>

#include <openssl/evp.h>

#include <string>
#include <string_view>

namespace pop3::sasl {

/// The APOP digest: lower-case hex MD5(timestamp + password) (RFC 1939 section 7).
/// APOP is weak (MD5, offline dictionary attack on a recorded exchange): prefer SCRAM.
/// @param timestamp the greeting's msg-id, angle brackets included
/// @param password the account's password (hashed, never sent)
/// @return 32 hex digits, or an empty string when OpenSSL cannot compute MD5 (e.g. a
/// FIPS-only configuration): then APOP is unavailable.
inline std::string apop_digest(std::string_view timestamp, std::string_view password)
{
    std::string input;
    input.reserve(timestamp.size() + password.size());
    input.append(timestamp).append(password);
    std::string md;
    const bool ok = detail::digest(EVP_md5(), input, md);
    detail::cleanse(input);
    if (!ok) return {};
    auto hex = detail::to_hex(md);
    detail::cleanse(md);
    return hex;
}

} // namespace pop3::sasl

#endif // POP3_SASL_APOP_HPP
