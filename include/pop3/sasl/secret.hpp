// pop3/sasl/secret.hpp: wiping secrets (passwords, tokens, derived keys) from memory.
#ifndef POP3_SASL_SECRET_HPP
#define POP3_SASL_SECRET_HPP

#include <openssl/crypto.h>

#include <string>

namespace pop3::sasl::detail {

/// Overwrites every byte a string owns (its whole capacity, not just its size) and
/// empties it. OPENSSL_cleanse is not optimised away like a plain memset before free.
inline void cleanse(std::string& s) noexcept
{
    // Bytes past size() may still hold an older, longer value: grow into the capacity
    // (no reallocation, so nothing is copied elsewhere) and wipe all of it.
    s.resize(s.capacity());
    OPENSSL_cleanse(s.data(), s.size());
    s.clear();
}

} // namespace pop3::sasl::detail

#endif // POP3_SASL_SECRET_HPP
