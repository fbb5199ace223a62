// pop3/tls_mode.hpp: how a session is secured, and whether the server is verified. No Asio
// here: the protocol core decides on these too. Included by <pop3/tls.hpp>.
#ifndef POP3_TLS_MODE_HPP
#define POP3_TLS_MODE_HPP

namespace pop3 {

/// Whether the client checks the server's certificate when TLS starts.
enum class certificate_check {
    verify,                 ///< chain and host name are verified (the default)
    insecure_do_not_verify, ///< anyone can impersonate the server: for tests only
};

/// How `connect` (or `read_greeting` on a stream the caller connected) secures the session.
/// Only a TLS-capable client (`client<ssl::stream<...>>`) takes one: naming a mode on a
/// plain TCP client is a compile error.
enum class tls_mode {
    implicit, ///< TLS from the first byte (POP3S, port 995)
    /// Plain connect, then STLS (RFC 2595). TLS is required: if the server does not offer
    /// STLS or it fails, the call fails with errc::tls_required and closes the connection
    /// before any credential could be sent. Never falls back to cleartext.
    starttls,
    none, ///< no TLS at all (then `login` uses only SCRAM unless plaintext is allowed)
};

} // namespace pop3

#endif // POP3_TLS_MODE_HPP
