// pop3/detail/scan.hpp: the hot loop of body parsing, finding where a line starts with '.'.
#ifndef POP3_DETAIL_SCAN_HPP
#define POP3_DETAIL_SCAN_HPP

#include <cstddef>
#include <cstring>

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#define POP3_DETAIL_HAVE_SSE2 1
#include <emmintrin.h>
#endif

namespace pop3::detail {

/// Returns the index of the first '\n' in [data, data+size) that is followed by '.' or
/// is the last byte, or `size` when there is none. A body needs attention only there:
/// every other byte passes through untouched, so a chunk can span many lines.
inline std::size_t find_dot_line_break(const char* data, std::size_t size) noexcept
{
    std::size_t i = 0;
#if defined(POP3_DETAIL_HAVE_SSE2)
    const __m128i lf = _mm_set1_epi8('\n');
    const __m128i dot = _mm_set1_epi8('.');
    // Compare 16 positions at a time: byte i must be LF and byte i+1 a dot.
    while (i + 16 < size) {
        const __m128i here = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i));
        const __m128i next = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i + 1));
        const int mask =
            _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(here, lf), _mm_cmpeq_epi8(next, dot)));
        if (mask != 0) {
            unsigned bits = static_cast<unsigned>(mask);
            std::size_t offset = 0;
            while ((bits & 1u) == 0) {
                bits >>= 1;
                ++offset;
            }
            return i + offset;
        }
        i += 16;
    }
#endif
    while (i < size) {
        const void* hit = std::memchr(data + i, '\n', size - i);
        if (hit == nullptr) return size;
        const auto at = static_cast<std::size_t>(static_cast<const char*>(hit) - data);
        if (at + 1 == size || data[at + 1] == '.') return at;
        i = at + 1;
    }
    return size;
}

} // namespace pop3::detail

#endif // POP3_DETAIL_SCAN_HPP
