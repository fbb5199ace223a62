// tests/catch.hpp: one include for every pop3 test, whichever Catch2 major version is installed.
//
// Write tests against the Catch2 v3 spelling; on v2 (Debian 12 ships 2.13) this shim fills in
// the few names that differ:
//   Catch::Approx                          (v2: Catch::Detail::Approx)
//   Catch::Matchers::ContainsSubstring     (v2: Catch::Matchers::Contains for strings)
//   SKIP(msg)                              (v3.3+; on v2 it warns and returns from the test)
// A v3 SKIP is a real skip; a v2 one passes. A run does not fail for skips alone: catch_main.cpp
// turns v3's "every test case skipped" exit code 4 into 0 (3.7.1+, where 4 means only that).
// Everything else used by the tests (TEST_CASE, SECTION, REQUIRE/CHECK*, GENERATE,
// TEMPLATE_TEST_CASE, StartsWith/EndsWith/Equals/Message/Predicate matchers, STATIC_REQUIRE) is
// spelt the same in both.
//
// POP3_CATCH2_MAJOR is set by tests/CMakeLists.txt from the Catch2 package it linked, so the
// headers always match the library; __has_include is only a fallback for other build systems.
#ifndef POP3_TESTS_CATCH_HPP
#define POP3_TESTS_CATCH_HPP

#if !defined(POP3_CATCH2_MAJOR)
#if defined(__has_include)
#if __has_include(<catch2/catch_all.hpp>)
#define POP3_CATCH2_MAJOR 3
#else
#define POP3_CATCH2_MAJOR 2
#endif
#else
#define POP3_CATCH2_MAJOR 2
#endif
#endif

#if POP3_CATCH2_MAJOR >= 3

#include <catch2/catch_approx.hpp>
#include <catch2/catch_template_test_macros.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators_all.hpp>
#include <catch2/matchers/catch_matchers_all.hpp>

#if !defined(SKIP)
// Catch2 3.0-3.2 have no SKIP: report it and leave the test case.
#define SKIP(...)                                                                                  \
    do {                                                                                           \
        WARN("skipped: " << __VA_ARGS__);                                                          \
        return;                                                                                    \
    } while (false)
#endif

#else // Catch2 v2

#include <catch2/catch.hpp>

#include <string>

namespace Catch {
using Detail::Approx;

namespace Matchers {
inline StdString::ContainsMatcher ContainsSubstring(std::string const& str,
                                                    CaseSensitive::Choice cs = CaseSensitive::Yes)
{
    return Contains(str, cs);
}
} // namespace Matchers
} // namespace Catch

// v2 has no skipped state: report it and leave the test case (it counts as passed).
#if !defined(SKIP)
#define SKIP(...)                                                                                  \
    do {                                                                                           \
        WARN("skipped: " << __VA_ARGS__);                                                          \
        return;                                                                                    \
    } while (false)
#endif

#endif

#endif // POP3_TESTS_CATCH_HPP
