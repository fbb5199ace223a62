// pop3/sasl/crypto.hpp: the few OpenSSL 3 primitives the SASL mechanisms use, on strings.
#ifndef POP3_SASL_CRYPTO_HPP
#define POP3_SASL_CRYPTO_HPP

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <climits>
#include <cstddef>
#include <string>
#include <string_view>

// Every function returns false when OpenSSL fails (e.g. MD5 under a FIPS-only provider);
// outputs are binary strings. Only APIs that are not deprecated in OpenSSL 3.0 are used.
namespace pop3::sasl::detail {

/// A pointer OpenSSL accepts for a possibly empty input (some paths reject nullptr).
inline const unsigned char* bytes(std::string_view s) noexcept
{
    static const unsigned char empty = 0;
    return s.empty() ? &empty : reinterpret_cast<const unsigned char*>(s.data());
}

/// out = H(data).
inline bool digest(const EVP_MD* md, std::string_view data, std::string& out)
{
    unsigned char buffer[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (md == nullptr || EVP_Digest(bytes(data), data.size(), buffer, &length, md, nullptr) != 1)
        return false;
    out.assign(reinterpret_cast<const char*>(buffer), length);
    OPENSSL_cleanse(buffer, sizeof buffer);
    return true;
}

/// out = HMAC-H(key, data).
inline bool hmac(const EVP_MD* md, std::string_view key, std::string_view data, std::string& out)
{
    if (md == nullptr || key.size() > static_cast<std::size_t>(INT_MAX)) return false;
    unsigned char buffer[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (HMAC(md, bytes(key), static_cast<int>(key.size()), bytes(data), data.size(), buffer,
             &length) == nullptr)
        return false;
    out.assign(reinterpret_cast<const char*>(buffer), length);
    OPENSSL_cleanse(buffer, sizeof buffer);
    return true;
}

/// out = PBKDF2-HMAC-H(password, salt, iterations), as long as H's output (RFC 5802 Hi()).
inline bool pbkdf2(const EVP_MD* md, std::string_view password, std::string_view salt,
                   unsigned long iterations, std::string& out)
{
    if (md == nullptr) return false;
    const int length = EVP_MD_get_size(md);
    if (length <= 0 || password.size() > static_cast<std::size_t>(INT_MAX) ||
        salt.size() > static_cast<std::size_t>(INT_MAX) || iterations < 1 ||
        iterations > static_cast<unsigned long>(INT_MAX))
        return false;
    out.assign(static_cast<std::size_t>(length), '\0');
    if (PKCS5_PBKDF2_HMAC(password.empty() ? "" : password.data(),
                          static_cast<int>(password.size()), bytes(salt),
                          static_cast<int>(salt.size()), static_cast<int>(iterations), md, length,
                          reinterpret_cast<unsigned char*>(out.data())) != 1) {
        OPENSSL_cleanse(out.data(), out.size());
        out.clear();
        return false;
    }
    return true;
}

/// out = `count` bytes from OpenSSL's CSPRNG.
inline bool random_bytes(std::size_t count, std::string& out)
{
    if (count > static_cast<std::size_t>(INT_MAX)) return false;
    out.assign(count, '\0');
    if (count == 0) return true;
    return RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(count)) == 1;
}

/// Compares in time that depends only on the lengths (which are not secret here).
inline bool equal_constant_time(std::string_view a, std::string_view b) noexcept
{
    return a.size() == b.size() && (a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0);
}

/// Lower-case hexadecimal, as CRAM-MD5 and APOP send digests.
inline std::string to_hex(std::string_view data)
{
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(data.size() * 2);
    for (char c : data) {
        const auto u = static_cast<unsigned char>(c);
        out.push_back(digits[u >> 4]);
        out.push_back(digits[u & 0x0f]);
    }
    return out;
}

} // namespace pop3::sasl::detail

#endif // POP3_SASL_CRYPTO_HPP
