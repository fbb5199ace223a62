// pop3/pop3.hpp: the whole public API of the pop3 library.
#ifndef POP3_POP3_HPP
#define POP3_POP3_HPP

#include <pop3/capabilities.hpp>
#include <pop3/commands.hpp>
#include <pop3/error.hpp>
#include <pop3/exception.hpp>
#include <pop3/greeting.hpp>
#include <pop3/limits.hpp>
#include <pop3/reply.hpp>
#include <pop3/response_parser.hpp>
#include <pop3/results.hpp>

#endif // POP3_POP3_HPP
