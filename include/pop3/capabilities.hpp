// pop3/capabilities.hpp: what a server advertises in reply to CAPA (RFC 2449 section 5).
#ifndef POP3_CAPABILITIES_HPP
#define POP3_CAPABILITIES_HPP

#include <pop3/detail/text.hpp>
#include <pop3/error.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace pop3 {

/// One capability line as sent: its name and the rest of the line.
struct capability {
    std::string name;      ///< e.g. "SASL", as sent (compare case-insensitively)
    std::string arguments; ///< everything after the name, e.g. "PLAIN SCRAM-SHA-256"
};

/// EXPIRE (RFC 2449 section 6.7): how long the server keeps mail after it was retrieved.
struct expire_policy {
    bool never = false;     ///< "EXPIRE NEVER": mail is kept until deleted
    std::uint32_t days = 0; ///< otherwise, days after retrieval; 0: deleted at QUIT anyway
    bool per_user = false;  ///< "USER": the value may differ after login
};

/// LOGIN-DELAY (RFC 2449 section 6.5): the minimum seconds between two logins.
struct login_delay_policy {
    std::uint32_t seconds = 0; ///< wait at least this long before logging in again
    bool per_user = false;     ///< "USER": the value may differ after login
};

/// The capabilities a server advertised. Every line is kept in `entries` (unknown ones
/// too); the ones this library acts on are also decoded into the named members.
struct capabilities {
    std::vector<capability> entries; ///< every line, in the order sent

    bool top = false;            ///< TOP
    bool user = false;           ///< USER (USER/PASS login)
    bool uidl = false;           ///< UIDL
    bool pipelining = false;     ///< PIPELINING (RFC 2449 section 6.6)
    bool resp_codes = false;     ///< RESP-CODES
    bool auth_resp_code = false; ///< AUTH-RESP-CODE (RFC 3206)
    bool stls = false;           ///< STLS (RFC 2595)
    bool utf8 = false;           ///< UTF8 (RFC 6856)
    bool utf8_user = false;      ///< "UTF8 USER": UTF-8 user names and passwords accepted
    bool lang = false;           ///< LANG (RFC 6856)
    std::vector<std::string> sasl_mechanisms;      ///< SASL (RFC 5034), upper-cased
    std::optional<std::string> implementation;     ///< IMPLEMENTATION: the server's name for itself
    std::optional<expire_policy> expire;           ///< EXPIRE, when advertised and well formed
    std::optional<login_delay_policy> login_delay; ///< LOGIN-DELAY, when advertised and well formed

    /// True when a capability of this name was advertised (case-insensitive).
    bool has(std::string_view name) const noexcept
    {
        return std::any_of(entries.begin(), entries.end(),
                           [&](const capability& c) { return detail::iequals(c.name, name); });
    }

    /// True when the SASL mechanism was advertised (case-insensitive).
    bool has_sasl(std::string_view mechanism) const noexcept
    {
        return std::any_of(sasl_mechanisms.begin(), sasl_mechanisms.end(),
                           [&](const std::string& m) { return detail::iequals(m, mechanism); });
    }

    /// Forgets everything, as after STLS (RFC 2595 section 4).
    void clear() { *this = capabilities{}; }

    /// Adds one line of a CAPA listing (without its line ending) and decodes it into the
    /// named members. An empty line is ignored.
    /// @return `errc::malformed_response` for a line with a NUL (not kept), or with
    ///         malformed EXPIRE / LOGIN-DELAY arguments (kept in `entries`; the decoded
    ///         member stays unset).
    error_code add_line(std::string_view line)
    {
        auto rest = line;
        const auto name = detail::next_token(rest);
        if (name.empty()) return {}; // an empty line says nothing
        for (char c : line)
            if (c == '\0') return errc::malformed_response;
        entries.push_back({std::string(name), std::string(rest)});
        return decode(name, rest);
    }

private:
    static std::string to_upper(std::string_view s)
    {
        std::string out(s);
        for (char& c : out) c = detail::ascii_upper(c);
        return out;
    }

    error_code decode(std::string_view name, std::string_view args)
    {
        using detail::iequals;
        if (iequals(name, "TOP")) top = true;
        else if (iequals(name, "USER")) user = true;
        else if (iequals(name, "UIDL")) uidl = true;
        else if (iequals(name, "PIPELINING")) pipelining = true;
        else if (iequals(name, "RESP-CODES")) resp_codes = true;
        else if (iequals(name, "AUTH-RESP-CODE")) auth_resp_code = true;
        else if (iequals(name, "STLS")) stls = true;
        else if (iequals(name, "LANG")) lang = true;
        else if (iequals(name, "UTF8")) {
            utf8 = true;
            utf8_user = iequals(detail::next_token(args), "USER");
        } else if (iequals(name, "IMPLEMENTATION")) {
            implementation = std::string(args);
        } else if (iequals(name, "SASL")) {
            while (!args.empty()) sasl_mechanisms.push_back(to_upper(detail::next_token(args)));
        } else if (iequals(name, "EXPIRE")) {
            return decode_expire(args);
        } else if (iequals(name, "EXPIRENEVER")) {
            // GNU Mailutils sends "EXPIRENEVER" without the space; it means EXPIRE NEVER.
            return decode_expire("NEVER");
        } else if (iequals(name, "LOGIN-DELAY")) {
            login_delay_policy policy;
            if (!detail::parse_decimal(detail::next_token(args), policy.seconds))
                return errc::malformed_response;
            policy.per_user = iequals(detail::next_token(args), "USER");
            login_delay = policy;
        }
        return {};
    }

    error_code decode_expire(std::string_view args)
    {
        expire_policy policy;
        const auto value = detail::next_token(args);
        if (detail::iequals(value, "NEVER")) policy.never = true;
        else if (!detail::parse_decimal(value, policy.days)) return errc::malformed_response;
        policy.per_user = detail::iequals(detail::next_token(args), "USER");
        expire = policy;
        return {};
    }
};

} // namespace pop3

#endif // POP3_CAPABILITIES_HPP
