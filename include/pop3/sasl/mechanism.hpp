// pop3/sasl/mechanism.hpp: the interface of a client-side SASL mechanism (RFC 4422).
#ifndef POP3_SASL_MECHANISM_HPP
#define POP3_SASL_MECHANISM_HPP

#include <pop3/error.hpp>
#include <pop3/sasl/secret.hpp>

#include <string>
#include <string_view>
#include <system_error>
#include <utility>

/// Client-side SASL mechanisms (RFC 4422) as sans-I/O state machines, base64, and the
/// factory that makes one from an `auth_method`; `client::login` drives them over AUTH.
namespace pop3::sasl {

/// A client-side SASL mechanism (RFC 4422) as a small state machine. Bytes are raw (not
/// base64): the POP3 layer does the base64 and the AUTH framing (RFC 5034).
///
/// Every call that produces a response replaces `out` (clears it on error). Responses may
/// carry the secret: wipe them once written. Any error from `initial_response` or
/// `respond` ends the exchange: the mechanism is then unusable (every later call errors)
/// and the POP3 layer cancels with "*" (RFC 5034 section 4). Not thread-safe.
class mechanism {
public:
    virtual ~mechanism() = default;
    mechanism(const mechanism&) = delete;
    mechanism& operator=(const mechanism&) = delete;

    /// The registered mechanism name, upper case, e.g. "SCRAM-SHA-256".
    virtual std::string_view name() const noexcept = 0;

    /// True when the mechanism is client-first (sends an initial response with AUTH).
    virtual bool client_first() const noexcept = 0;

    /// Checks the credentials before any byte is sent, so a bad argument (e.g. NUL in a
    /// user name) can be refused without starting AUTH.
    /// @return `errc::invalid_argument` when the credentials cannot be sent; the same
    /// check runs again in `initial_response` and `respond`.
    virtual error_code validate() const noexcept { return {}; }

    /// The initial response (client-first mechanisms only; server-first ones return
    /// `errc::sasl_protocol_error`). May be empty; RFC 4422 sends that as "=".
    virtual error_code initial_response(std::string& out) = 0;

    /// Answers one (decoded) server challenge. An error means: abort the exchange (the
    /// POP3 layer sends "*"). A client-first mechanism whose initial response was not
    /// sent with AUTH produces it here, answering the server's empty first challenge.
    virtual error_code respond(std::string_view challenge, std::string& out) = 0;

    /// Called when the server said +OK: an error if the exchange is not complete from the
    /// client's point of view (SCRAM: the server signature was never verified ->
    /// `errc::server_signature_mismatch`); the session must then not be used.
    virtual error_code finish() noexcept { return {}; }

    /// True when the mechanism reveals a reusable secret (password or bearer token) to
    /// anyone who can read the connection: PLAIN, LOGIN, XOAUTH2, OAUTHBEARER.
    virtual bool exposes_secret() const noexcept = 0;

    /// True for mechanisms that are broken against an eavesdropper (CRAM-MD5: an offline
    /// dictionary attack on one recorded exchange recovers the password).
    virtual bool weak() const noexcept { return false; }

    /// Server-provided diagnostic text collected during the exchange (e.g. the XOAUTH2
    /// error JSON, the SCRAM "e=" value), for error messages. Empty when there was none.
    virtual const std::string& diagnostic() const noexcept { return diagnostic_; }

protected:
    mechanism() = default;

    std::string diagnostic_; ///< set by the concrete mechanisms
};

/// Base of the mechanisms that hold a user name and a password (PLAIN, LOGIN,
/// CRAM-MD5): keeps them, wipes the password when done, and checks them one way.
class password_mechanism : public mechanism {
protected:
    /// Takes both by value and wipes what the moved-from password leaves behind.
    password_mechanism(std::string user, std::string password)
        : user_(std::move(user)), password_(std::move(password))
    {
        detail::cleanse(password); // moved-from, but a short string's bytes stay behind
    }
    ~password_mechanism() override { detail::cleanse(password_); }

    /// Servers treat both values as C strings: no NUL, and a user name is required.
    error_code check_credentials() const noexcept
    {
        if (user_.empty() || user_.find('\0') != std::string::npos ||
            password_.find('\0') != std::string::npos)
            return errc::invalid_argument;
        return {};
    }

    std::string user_;     ///< the authentication identity
    std::string password_; ///< wiped by the destructor, and by the mechanisms once used
};

} // namespace pop3::sasl

#endif // POP3_SASL_MECHANISM_HPP
