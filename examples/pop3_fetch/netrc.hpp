// pop3-fetch: credentials from a ~/.netrc file (the format of ftp(1), curl and mpop).
#ifndef POP3_FETCH_NETRC_HPP
#define POP3_FETCH_NETRC_HPP

#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace pop3_fetch {

/// One `machine` (or `default`) entry.
struct netrc_entry {
    std::string machine; ///< empty for `default`
    bool is_default = false;
    std::string login;
    std::string password;
};

/// Splits a netrc text into tokens: whitespace separates; "double quoted" tokens may hold
/// spaces and backslash escapes (as curl and GNU inetutils read them); `macdef` bodies
/// (up to the next empty line) are skipped. A `#` at the start of a token starts a
/// comment up to the end of the line (curl's rule).
inline std::vector<std::string> netrc_tokens(std::string_view text)
{
    std::vector<std::string> tokens;
    std::size_t i = 0;
    const auto n = text.size();
    auto is_space = [](char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    };
    while (i < n) {
        while (i < n && is_space(text[i])) ++i;
        if (i >= n) break;
        if (text[i] == '#') {
            while (i < n && text[i] != '\n') ++i;
            continue;
        }
        std::string token;
        if (text[i] == '"') {
            ++i;
            while (i < n && text[i] != '"') {
                if (text[i] == '\\' && i + 1 < n) {
                    ++i;
                    switch (text[i]) {
                    case 'n': token += '\n'; break;
                    case 'r': token += '\r'; break;
                    case 't': token += '\t'; break;
                    default: token += text[i];
                    }
                } else {
                    token += text[i];
                }
                ++i;
            }
            if (i < n) ++i; // closing quote
        } else {
            while (i < n && !is_space(text[i])) token += text[i++];
        }
        if (token == "macdef") {
            // macdef NAME, then the macro body up to an empty line.
            while (i < n && text[i] != '\n') ++i; // rest of the macdef line
            while (i < n) {
                ++i; // the '\n'
                if (i < n && text[i] == '\n') break;
                while (i < n && text[i] != '\n') ++i;
            }
            continue;
        }
        tokens.push_back(std::move(token));
    }
    return tokens;
}

/// Parses netrc text into its entries, in file order.
inline std::vector<netrc_entry> parse_netrc(std::string_view text)
{
    std::vector<netrc_entry> entries;
    const auto tokens = netrc_tokens(text);
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        const auto& t = tokens[i];
        auto value = [&]() -> std::string {
            return i + 1 < tokens.size() ? tokens[++i] : std::string();
        };
        if (t == "machine") {
            entries.push_back({});
            entries.back().machine = value();
        } else if (t == "default") {
            entries.push_back({});
            entries.back().is_default = true;
        } else if (entries.empty()) {
            continue; // stray token before the first entry: ignored, as curl does
        } else if (t == "login" || t == "user") {
            entries.back().login = value();
        } else if (t == "password" || t == "passwd") {
            entries.back().password = value();
        } else if (t == "account") {
            (void)value();
        }
    }
    return entries;
}

/// The entry for `host` (exact, case-insensitive match of `machine`); with a `user`, only an
/// entry whose login is that user or empty. `default` is used only when no machine entry
/// matches (it should be the last entry, as ftp(1) requires).
inline std::optional<netrc_entry> find_netrc(const std::vector<netrc_entry>& entries,
                                             std::string_view host, std::string_view user)
{
    auto iequal = [](std::string_view a, std::string_view b) {
        if (a.size() != b.size()) return false;
        for (std::size_t i = 0; i < a.size(); ++i) {
            auto lower = [](char c) {
                return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
            };
            if (lower(a[i]) != lower(b[i])) return false;
        }
        return true;
    };
    auto user_ok = [&](const netrc_entry& e) {
        return user.empty() || e.login.empty() || e.login == user;
    };
    for (const auto& e : entries)
        if (!e.is_default && iequal(e.machine, host) && user_ok(e)) return e;
    for (const auto& e : entries)
        if (e.is_default && user_ok(e)) return e;
    return std::nullopt;
}

/// Reads and searches a netrc file. A missing file is no entry.
inline std::optional<netrc_entry> lookup_netrc(const std::string& path, std::string_view host,
                                               std::string_view user)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    return find_netrc(parse_netrc(text.str()), host, user);
}

} // namespace pop3_fetch

#endif // POP3_FETCH_NETRC_HPP
