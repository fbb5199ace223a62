// pop3/session_state.hpp: where a POP3 session stands (RFC 1939 section 3).
#ifndef POP3_SESSION_STATE_HPP
#define POP3_SESSION_STATE_HPP

namespace pop3 {

/// The states of a session as the client sees them.
enum class session_state {
    disconnected,  ///< no greeting read yet
    authorization, ///< greeted; USER/PASS, APOP, AUTH, CAPA, STLS allowed
    transaction,   ///< logged in: mailbox commands allowed
    closed,        ///< QUIT was sent; nothing more is allowed
    broken,        ///< an error left client and server out of step; reconnect
};

} // namespace pop3

#endif // POP3_SESSION_STATE_HPP
