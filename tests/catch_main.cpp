// Catch2 v2 only: the test runner's main(). With Catch2 v3, tests link Catch2::Catch2WithMain
// and this file is not compiled (see tests/CMakeLists.txt).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
