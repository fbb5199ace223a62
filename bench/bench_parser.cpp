// bench_parser: throughput of pop3::response_parser on RETR responses, against memcpy.
//
// Builds a deterministic in-memory corpus (>= 64 MiB) of realistic, dot-stuffed RETR
// responses and decodes it the way a client does: 64 KiB pieces (socket reads) appended to
// a reused std::string buffer, body_mode::stream, consumed bytes dropped. The same bytes
// are also memcpy'd, in the same 64 KiB pieces, into a preallocated buffer: the floor for
// any driver, which must at least copy what it reads. Best of 5 runs each.
//
// Output: informational lines, then exactly these four (MB = 1e6 bytes of wire input):
//   METRIC parser_mb_s <v>
//   METRIC memcpy_mb_s <v>
//   METRIC parser_vs_memcpy <ratio>
//   METRIC allocations_per_message <v>
// Not a pass/fail test: exits 0 unless the decoded bytes differ from the un-stuffed
// message bytes computed while generating (a correctness bug), then 1.
//
// Usage: bench_parser [corpus MiB, default 64] [runs, default 5]
#include <pop3/response_parser.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <vector>

// ---------------------------------------------------------------------------------------
// Heap allocation counting: every global operator new goes through here.
// ---------------------------------------------------------------------------------------
namespace {
std::size_t g_allocations = 0;

void* counted_alloc(std::size_t size)
{
    ++g_allocations;
    return std::malloc(size == 0 ? 1 : size);
}
} // namespace

void* operator new(std::size_t size)
{
    if (void* p = counted_alloc(size)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t size)
{
    if (void* p = counted_alloc(size)) return p;
    throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return counted_alloc(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return counted_alloc(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace {

constexpr std::size_t piece_size = 64 * 1024;

/// Keeps the compiler from proving a buffer's contents unused.
inline void escape(const void* p)
{
#if defined(__GNUC__) || defined(__clang__)
    asm volatile("" : : "r"(p) : "memory");
#else
    static const void* volatile sink;
    sink = p;
#endif
}

// ---------------------------------------------------------------------------------------
// Corpus
// ---------------------------------------------------------------------------------------
class rng {
public:
    explicit rng(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next()
    {
        // splitmix64
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
    std::size_t between(std::size_t lo, std::size_t hi) { return lo + below(hi - lo + 1); }
    double unit() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }

private:
    std::uint64_t state_;
};

constexpr const char* words[] = {
    "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with",
    "be", "by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but",
    "have", "an", "had", "they", "you", "were", "their", "one", "all", "we", "can", "her",
    "has", "there", "been", "if", "more", "when", "will", "would", "who", "so", "no",
    "meeting", "invoice", "quarterly", "report", "attached", "please", "regards",
    "schedule", "project", "deadline", "server", "mailbox", "delivery", "Thursday",
    "https://example.org/a/b?c=d", "1,234.56", "naïve", "Grüße", "—", "(see below)",
};
constexpr std::size_t word_count = sizeof(words) / sizeof(words[0]);

std::string text_line(rng& r, std::size_t target)
{
    std::string line;
    while (line.size() < target) {
        if (!line.empty()) line += ' ';
        line += words[r.below(word_count)];
    }
    if (r.below(8) == 0) line += '.';
    return line;
}

std::string long_line(rng& r, std::size_t length)
{
    // base64-looking text or an HTML run, as mail clients produce without line breaks.
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string line;
    line.reserve(length);
    if (r.below(2) == 0) {
        while (line.size() < length) line += b64[r.below(64)];
    } else {
        while (line.size() < length) {
            line += "<td class=\"c";
            line += std::to_string(r.below(100));
            line += "\">";
            line += words[r.below(word_count)];
            line += "</td>";
        }
    }
    return line;
}

struct corpus {
    std::string wire;              ///< the RETR responses as the server sends them
    std::size_t messages = 0;
    std::uint64_t unstuffed_bytes = 0; ///< what the parser must hand out as data
    std::uint64_t unstuffed_hash = 14695981039346656037ull; ///< FNV-1a of those bytes
};

void fnv1a(std::uint64_t& h, std::string_view bytes)
{
    for (char c : bytes) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ull;
    }
}

/// One message's lines (without CRLF), un-stuffed, about `target` bytes.
std::vector<std::string> make_message(rng& r, std::size_t index, std::size_t target)
{
    std::vector<std::string> lines;
    lines.push_back("Return-Path: <sender" + std::to_string(index % 97) + "@example.com>");
    lines.push_back("Received: from mx" + std::to_string(r.below(9)) +
                    ".example.com (mx.example.com [192.0.2." + std::to_string(r.below(255)) +
                    "])");
    lines.push_back("\tby mail.example.org (Postfix) with ESMTPS id 4F" +
                    std::to_string(r.next() % 100000000) + "; Tue, 4 Jun 2024 10:11:12 +0200");
    lines.push_back("Message-ID: <" + std::to_string(r.next()) + "@example.com>");
    lines.push_back("Date: Tue, 4 Jun 2024 10:11:12 +0200");
    lines.push_back("From: \"Sender " + std::to_string(index % 97) + "\" <sender@example.com>");
    lines.push_back("To: recipient@example.org");
    lines.push_back("Subject: " + text_line(r, 40));
    lines.push_back("MIME-Version: 1.0");
    lines.push_back("Content-Type: text/plain; charset=utf-8");
    lines.push_back("Content-Transfer-Encoding: 8bit");
    lines.push_back("");

    std::size_t size = 0;
    for (const auto& l : lines) size += l.size() + 2;
    std::size_t long_lines = r.below(10) < 3 ? r.between(1, 3) : 0;
    while (size < target) {
        std::string line;
        if (long_lines > 0 && r.below(40) == 0) {
            line = long_line(r, r.between(2 * 1024, 10 * 1024));
            --long_lines;
        } else if (r.below(50) == 0) {
            // A line starting with '.': the server stuffs it, the parser must un-stuff it.
            switch (r.below(4)) {
            case 0: line = "."; break;
            case 1: line = ".."; break;
            default: line = "." + text_line(r, r.between(20, 76)); break;
            }
        } else if (r.below(12) == 0) {
            line = "";
        } else {
            line = text_line(r, r.between(60, 78));
        }
        size += line.size() + 2;
        lines.push_back(std::move(line));
    }
    return lines;
}

corpus make_corpus(std::size_t min_bytes)
{
    corpus c;
    c.wire.reserve(min_bytes + 512 * 1024);
    rng r(20240604);
    std::string body;
    while (c.wire.size() < min_bytes) {
        // Log-uniform sizes between 2 KB and 200 KB: many small messages, some large.
        const double lo = 2000.0, hi = 200000.0;
        const auto target = static_cast<std::size_t>(lo * std::pow(hi / lo, r.unit()));
        const auto lines = make_message(r, c.messages, target);
        body.clear();
        for (const auto& l : lines) {
            body += l;
            body += "\r\n";
        }
        c.wire += "+OK " + std::to_string(body.size()) + " octets\r\n";
        for (const auto& l : lines) {
            if (!l.empty() && l.front() == '.') c.wire += '.'; // RFC 1939 section 3
            c.wire += l;
            c.wire += "\r\n";
        }
        c.wire += ".\r\n";
        c.unstuffed_bytes += body.size();
        fnv1a(c.unstuffed_hash, body);
        ++c.messages;
    }
    return c;
}

// ---------------------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------------------
struct decode_result {
    bool ok = true;
    std::size_t messages = 0;
    std::uint64_t data_bytes = 0;
    std::uint64_t first_byte_sum = 0;
    std::uint64_t chunks = 0;
    std::uint64_t hash = 14695981039346656037ull;
};

enum class erase_policy {
    on_need_more, ///< keep an offset; drop consumed bytes once, before appending a piece
    every_event,  ///< buffer.erase(0, consumed) after every event (a naive driver)
};

/// One connection's worth of state, reused across runs (the steady state).
struct driver {
    pop3::response_parser parser;
    std::string buffer;

    driver() { buffer.reserve(2 * piece_size + 8192); }

    template <bool Hash, erase_policy Policy>
    decode_result decode(std::string_view wire)
    {
        decode_result res;
        std::size_t fed = 0; // bytes of `wire` appended to `buffer` so far
        std::size_t pos = 0; // consumed bytes still at the front of `buffer`
        bool mid_response = false; // between a reply and its `done`
        parser.expect(pop3::response_kind::multi_line, pop3::body_mode::stream);
        for (;;) {
            const auto r = parser.parse(std::string_view(buffer).substr(pos));
            switch (r.event) {
            case pop3::parse_event::need_more: {
                buffer.erase(0, pos);
                pos = 0;
                if (fed == wire.size()) {
                    // The wire ends right after a terminator: nothing may be left over.
                    if (!buffer.empty() || mid_response) res.ok = false;
                    return res;
                }
                const auto n = std::min(piece_size, wire.size() - fed);
                buffer.append(wire.data() + fed, n);
                fed += n;
                continue;
            }
            case pop3::parse_event::reply:
                if (!parser.reply().ok()) res.ok = false;
                mid_response = true;
                break;
            case pop3::parse_event::data:
                res.data_bytes += r.data.size();
                res.first_byte_sum += static_cast<unsigned char>(r.data.front());
                ++res.chunks;
                if (Hash) fnv1a(res.hash, r.data);
                break;
            case pop3::parse_event::line: res.ok = false; break;
            case pop3::parse_event::done:
                ++res.messages;
                mid_response = false;
                parser.expect(pop3::response_kind::multi_line, pop3::body_mode::stream);
                break;
            case pop3::parse_event::failed: res.ok = false; return res;
            }
            if (Policy == erase_policy::every_event) buffer.erase(0, r.consumed);
            else pos += r.consumed;
        }
    }
};

/// The parser alone: the whole corpus as one input, no buffer and no copy.
decode_result parse_in_place(pop3::response_parser& parser, std::string_view wire)
{
    decode_result res;
    std::size_t pos = 0;
    parser.expect(pop3::response_kind::multi_line, pop3::body_mode::stream);
    for (;;) {
        const auto r = parser.parse(wire.substr(pos));
        pos += r.consumed;
        switch (r.event) {
        case pop3::parse_event::need_more: res.ok = pos == wire.size(); return res;
        case pop3::parse_event::data:
            res.data_bytes += r.data.size();
            res.first_byte_sum += static_cast<unsigned char>(r.data.front());
            break;
        case pop3::parse_event::done:
            ++res.messages;
            parser.expect(pop3::response_kind::multi_line, pop3::body_mode::stream);
            break;
        case pop3::parse_event::failed:
        case pop3::parse_event::line: res.ok = false; return res;
        case pop3::parse_event::reply: break;
        }
    }
}

double seconds_since(std::chrono::steady_clock::time_point start)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double memcpy_pieces(std::string_view wire, char* dst)
{
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t off = 0; off < wire.size(); off += piece_size) {
        const auto n = std::min(piece_size, wire.size() - off);
        std::memcpy(dst, wire.data() + off, n);
        escape(dst);
    }
    return seconds_since(start);
}

} // namespace

int main(int argc, char** argv)
{
    const std::size_t mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 64;
    const int runs = argc > 2 ? std::atoi(argv[2]) : 5;
    if (mib == 0 || runs <= 0) {
        std::fprintf(stderr, "usage: %s [corpus MiB >= 1] [runs >= 1]\n", argv[0]);
        return 2;
    }

    const corpus c = make_corpus(mib * 1024 * 1024);
    const std::string_view wire = c.wire;
    const double mb = static_cast<double>(wire.size()) / 1e6;
    std::printf("corpus: %zu bytes on the wire, %zu messages, %llu bytes un-stuffed\n",
                wire.size(), c.messages, static_cast<unsigned long long>(c.unstuffed_bytes));

    driver d;

    // Warm-up and correctness pass: every data byte hashed and compared.
    const auto check = d.decode<true, erase_policy::on_need_more>(wire);
    std::printf("decoded: %llu bytes in %llu chunks, %zu messages\n",
                static_cast<unsigned long long>(check.data_bytes),
                static_cast<unsigned long long>(check.chunks), check.messages);
    bool correct = check.ok && check.messages == c.messages &&
                   check.data_bytes == c.unstuffed_bytes && check.hash == c.unstuffed_hash;
    if (!correct) {
        std::fprintf(stderr,
                     "bench_parser: WRONG DECODE: ok=%d messages %zu/%zu bytes %llu/%llu "
                     "hash %s\n",
                     check.ok, check.messages, c.messages,
                     static_cast<unsigned long long>(check.data_bytes),
                     static_cast<unsigned long long>(c.unstuffed_bytes),
                     check.hash == c.unstuffed_hash ? "equal" : "different");
    }

    // Timed passes. The variants take turns inside each round, so that a noisy neighbour
    // (shared CPU, frequency changes) hits all of them alike and the ratio stays fair.
    // Allocations are counted during the measured driver's passes only (steady state:
    // the driver's buffer and parser already exist).
    std::vector<char> dst(piece_size);
    memcpy_pieces(wire, dst.data()); // warm-up
    double best_parser = 1e300, best_memcpy = 1e300, best_naive = 1e300, best_in_place = 1e300;
    std::uint64_t sink = 0;
    std::size_t allocations = 0;
    for (int i = 0; i < runs; ++i) {
        {
            const auto allocations_before = g_allocations;
            const auto start = std::chrono::steady_clock::now();
            const auto res = d.decode<false, erase_policy::on_need_more>(wire);
            best_parser = std::min(best_parser, seconds_since(start));
            allocations += g_allocations - allocations_before;
            if (!res.ok || res.data_bytes != c.unstuffed_bytes || res.messages != c.messages)
                correct = false;
            sink += res.first_byte_sum;
        }
        best_memcpy = std::min(best_memcpy, memcpy_pieces(wire, dst.data()));
        {
            // For comparison only: a driver that erases the consumed prefix after every event.
            const auto start = std::chrono::steady_clock::now();
            const auto res = d.decode<false, erase_policy::every_event>(wire);
            best_naive = std::min(best_naive, seconds_since(start));
            if (!res.ok || res.data_bytes != c.unstuffed_bytes) correct = false;
            sink += res.first_byte_sum;
        }
        {
            // For comparison only: the parser without a driver (input already in memory).
            pop3::response_parser parser;
            const auto start = std::chrono::steady_clock::now();
            const auto res = parse_in_place(parser, wire);
            best_in_place = std::min(best_in_place, seconds_since(start));
            if (!res.ok || res.data_bytes != c.unstuffed_bytes) correct = false;
            sink += res.first_byte_sum;
        }
    }

    const double parser_mb_s = mb / best_parser;
    const double memcpy_mb_s = mb / best_memcpy;
    std::printf("chunks per message: %.1f, checksum %llu\n",
                static_cast<double>(check.chunks) / static_cast<double>(check.messages),
                static_cast<unsigned long long>(sink));
    std::printf("parser alone, whole corpus in place (no copy): %.1f MB/s\n", mb / best_in_place);
    std::printf("naive driver (erase after every event): %.1f MB/s\n", mb / best_naive);
    std::printf("METRIC parser_mb_s %.1f\n", parser_mb_s);
    std::printf("METRIC memcpy_mb_s %.1f\n", memcpy_mb_s);
    std::printf("METRIC parser_vs_memcpy %.3f\n", parser_mb_s / memcpy_mb_s);
    std::printf("METRIC allocations_per_message %.4f\n",
                static_cast<double>(allocations) /
                    (static_cast<double>(runs) * static_cast<double>(c.messages)));
    if (!correct) {
        std::fprintf(stderr, "bench_parser: decoded bytes differ from the un-stuffed corpus\n");
        return 1;
    }
    return 0;
}
