// tests/doc_snippets/prelude.hpp: what a documentation fragment may use without declaring it.
//
// tests/CMakeLists.txt compiles every ```cpp block of README.md and docs/*.md. A block with
// `int main` is a whole program and compiled as it stands. Any other block is a fragment and is
// pasted into a function below (or at namespace scope, or into a coroutine, when an HTML
// comment `<!-- snippet: namespace -->` / `<!-- snippet: coroutine -->` precedes it), so the
// guides can show three lines without repeating the set-up every time.
#ifndef POP3_DOC_SNIPPETS_PRELUDE_HPP
#define POP3_DOC_SNIPPETS_PRELUDE_HPP

#include <pop3/fetch_new.hpp>
#include <pop3/pop3.hpp>

#include <asio/io_context.hpp>
#include <asio/ssl.hpp>
#if __cplusplus >= 202002L // the coroutine fragments
#include <asio/awaitable.hpp>
#include <asio/use_awaitable.hpp>
#endif

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace doc {
using tls_client = pop3::client<asio::ssl::stream<asio::ip::tcp::socket>>;
using tcp_client = pop3::client<asio::ip::tcp::socket>;

/// The application's own storage, as the README's leave-on-server example assumes it:
/// success only once the message is durable. Declared only: fragments are never linked.
pop3::error_code save_durably(std::string_view uid, std::string_view bytes);
} // namespace doc

#endif
