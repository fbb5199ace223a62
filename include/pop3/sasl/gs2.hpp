// pop3/sasl/gs2.hpp: the GS2 header pieces SCRAM and OAUTHBEARER share (RFC 5801 section 4).
#ifndef POP3_SASL_GS2_HPP
#define POP3_SASL_GS2_HPP

#include <string>
#include <string_view>

namespace pop3::sasl::detail {

/// Encodes a saslname (RFC 5801 section 4, RFC 5802 section 5.1): ',' becomes "=2C" and
/// '=' becomes "=3D"; every other byte (UTF-8 included) passes through unchanged.
inline std::string encode_saslname(std::string_view name)
{
    std::string out;
    out.reserve(name.size());
    for (char c : name) {
        if (c == ',') out.append("=2C");
        else if (c == '=') out.append("=3D");
        else out.push_back(c);
    }
    return out;
}

} // namespace pop3::sasl::detail

#endif // POP3_SASL_GS2_HPP
