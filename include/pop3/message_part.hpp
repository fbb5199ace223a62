// pop3/message_part.hpp: what a batch retrieval or deletion hands to its handler.
#ifndef POP3_MESSAGE_PART_HPP
#define POP3_MESSAGE_PART_HPP

#include <pop3/reply.hpp>
#include <pop3/results.hpp>

#include <string_view>
#include <system_error>

namespace pop3 {

/// One event of a batch retrieval (`retr_many`, `top_many`): a chunk of a message, or
/// the end of one. The chunks of a message arrive in order, unstuffed, line endings kept;
/// `data` is only valid during the call.
struct message_part {
    message_number number = 0; ///< the message this event belongs to
    std::string_view data;     ///< a chunk of the message; empty when `end` is true
    bool end = false;          ///< the message is complete (or failed: see `error`)
    /// When `end`: empty on success, else why this message failed (e.g. -ERR because another
    /// session deleted it). The batch goes on with the next message.
    error_code error;
    /// When `end` and `error` came from the server: its -ERR reply (text and response code).
    /// Only valid during the call; null otherwise.
    const server_reply* reply = nullptr;
};

/// What `dele_many` with a handler reports for each message, in the order given.
struct dele_outcome {
    message_number number = 0; ///< the message DELE was sent for
    /// Empty when the server marked the message deleted, else why not (e.g. -ERR because
    /// it was already deleted). The batch goes on with the next message.
    error_code error;
    /// When `error` came from the server: its -ERR reply. Only valid during the call; null
    /// otherwise.
    const server_reply* reply = nullptr;
};

} // namespace pop3

#endif // POP3_MESSAGE_PART_HPP
