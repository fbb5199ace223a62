// pop3/detail/scan.hpp: the hot loop of body parsing, finding where a line starts with '.'.
#ifndef POP3_DETAIL_SCAN_HPP
#define POP3_DETAIL_SCAN_HPP

#include <cstddef>
#include <cstring>

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#define POP3_DETAIL_HAVE_SSE2 1
#include <emmintrin.h>
#endif

// GCC and Clang can compile an AVX2 version next to the baseline one and pick it at run
// time, so the library needs no special compiler flags from its users.
#if defined(POP3_DETAIL_HAVE_SSE2) && (defined(__GNUC__) || defined(__clang__)) &&                 \
    (defined(__x86_64__) || defined(__i386__)) && !defined(POP3_NO_AVX2)
#define POP3_DETAIL_HAVE_AVX2_DISPATCH 1
#include <immintrin.h>
#endif

namespace pop3::detail {

/// The position of the lowest set bit (mask != 0).
inline std::size_t lowest_bit(unsigned mask) noexcept
{
#if defined(__GNUC__) || defined(__clang__)
    return static_cast<std::size_t>(__builtin_ctz(mask));
#else
    std::size_t n = 0;
    while ((mask & 1u) == 0) {
        mask >>= 1;
        ++n;
    }
    return n;
#endif
}

/// The scalar tail (and the whole search where no vector unit is known): from `i` on.
inline std::size_t find_dot_line_break_from(const char* data, std::size_t size,
                                            std::size_t i) noexcept
{
    while (i < size) {
        const void* hit = std::memchr(data + i, '\n', size - i);
        if (hit == nullptr) return size;
        const auto at = static_cast<std::size_t>(static_cast<const char*>(hit) - data);
        if (at + 1 == size || data[at + 1] == '.') return at;
        i = at + 1;
    }
    return size;
}

#if defined(POP3_DETAIL_HAVE_SSE2)
/// 16 positions at a time: byte i must be LF and byte i+1 a dot.
inline std::size_t find_dot_line_break_sse2(const char* data, std::size_t size) noexcept
{
    const __m128i lf = _mm_set1_epi8('\n');
    const __m128i dot = _mm_set1_epi8('.');
    std::size_t i = 0;
    for (; i + 16 < size; i += 16) {
        const __m128i here = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i));
        const __m128i next = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i + 1));
        const int mask =
            _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(here, lf), _mm_cmpeq_epi8(next, dot)));
        if (mask != 0) return i + lowest_bit(static_cast<unsigned>(mask));
    }
    return find_dot_line_break_from(data, size, i);
}
#endif

#if defined(POP3_DETAIL_HAVE_AVX2_DISPATCH)
/// The same, 32 positions at a time.
__attribute__((target("avx2"))) inline std::size_t
find_dot_line_break_avx2(const char* data, std::size_t size) noexcept
{
    const __m256i lf = _mm256_set1_epi8('\n');
    const __m256i dot = _mm256_set1_epi8('.');
    std::size_t i = 0;
    for (; i + 32 < size; i += 32) {
        const __m256i here = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + i));
        const __m256i next = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + i + 1));
        const int mask = _mm256_movemask_epi8(
            _mm256_and_si256(_mm256_cmpeq_epi8(here, lf), _mm256_cmpeq_epi8(next, dot)));
        if (mask != 0) return i + lowest_bit(static_cast<unsigned>(mask));
    }
    return find_dot_line_break_from(data, size, i);
}

inline bool cpu_has_avx2() noexcept
{
    static const bool has = __builtin_cpu_supports("avx2") != 0;
    return has;
}
#endif

/// Returns the index of the first '\n' in [data, data+size) that is followed by '.' or
/// is the last byte, or `size` when there is none. A body needs attention only there:
/// every other byte passes through untouched, so a chunk can span many lines.
inline std::size_t find_dot_line_break(const char* data, std::size_t size) noexcept
{
#if defined(POP3_DETAIL_HAVE_AVX2_DISPATCH)
    if (cpu_has_avx2()) return find_dot_line_break_avx2(data, size);
#endif
#if defined(POP3_DETAIL_HAVE_SSE2)
    return find_dot_line_break_sse2(data, size);
#else
    return find_dot_line_break_from(data, size, 0);
#endif
}

} // namespace pop3::detail

#endif // POP3_DETAIL_SCAN_HPP
