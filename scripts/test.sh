#!/usr/bin/env bash
# Install what is missing, configure, build and run every pop3 test:
#
#     ./scripts/test.sh
#
# First the Debian packages of scripts/packages.sh (groups build and test) are installed when
# missing (as root; otherwise the exact `sudo apt-get install` line is printed and nothing else
# happens), and GNU Mailutils' pop3d is unpacked for the interop tests (see packages.sh).
#
# Optional environment (used by .ci/run for its extra builds):
#   BUILD_DIR   build directory (default: build)
#   BUILD_TYPE  CMAKE_BUILD_TYPE; default Release on the first configure, afterwards the
#               build directory keeps whatever it was configured with
#   CXX         C++ compiler (e.g. clang++); also switches an existing build directory
#   CC          accepted for symmetry; pop3 is C++ only, so it is not used
#   CXXFLAGS    extra compiler flags (CMAKE_CXX_FLAGS, also used when linking), e.g. sanitizers
#   CMAKE_ARGS  extra configure arguments, split on whitespace (e.g. "-DPOP3_WARNINGS_AS_ERRORS=ON")
#   JOBS        parallel build jobs (default: 2)
#   POP3_SERVERS_REQUIRED  non-empty (CI): a test server that cannot start here fails its tests
#               instead of skipping them
#   POP3_MAILUTILS_PKG     where GNU Mailutils' pop3d is unpacked (default: .deps/mailutils-pop3d)
set -euo pipefail

cd "$(dirname "$0")/.."

# shellcheck source=scripts/packages.sh
. scripts/packages.sh
pop3_packages_ensure ./scripts/test.sh build test || exit 1
# Without it only the Mailutils tests are skipped (ctest says so); CI requires the servers.
if ! pop3_unpack_mailutils_pop3d ./scripts/test.sh; then
    [[ -z ${POP3_SERVERS_REQUIRED:-} ]] || exit 1
    echo "test.sh: warning: no GNU Mailutils pop3d; the mailutils_* tests will be skipped" >&2
fi

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-2}

configure_args=(-S . -B "$BUILD_DIR")
cache=$BUILD_DIR/CMakeCache.txt

if [[ -n ${CXX:-} ]]; then
    # A full path, so that re-running with the same CXX matches the cached value.
    cxx_path=$(command -v "$CXX") || { echo "test.sh: compiler '$CXX' not found" >&2; exit 1; }
    configure_args+=("-DCMAKE_CXX_COMPILER=$cxx_path")
    # Switching the compiler of an existing build directory makes CMake wipe its cache and
    # silently drop every -D given with the switch: start from a fresh cache instead.
    if [[ -f $cache && $(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$cache") != "$cxx_path" ]]; then
        echo "test.sh: $BUILD_DIR was configured with another compiler; starting a fresh cache"
        rm -rf "$cache" "$BUILD_DIR/CMakeFiles"
    fi
fi
if [[ -n ${BUILD_TYPE:-} ]]; then
    configure_args+=("-DCMAKE_BUILD_TYPE=$BUILD_TYPE")
elif [[ ! -f $cache ]]; then
    configure_args+=(-DCMAKE_BUILD_TYPE=Release)
fi
if [[ -n ${CXXFLAGS+set} ]]; then
    configure_args+=("-DCMAKE_CXX_FLAGS=$CXXFLAGS")
fi
if [[ -n ${CMAKE_ARGS:-} ]]; then
    read -r -a extra_args <<<"$CMAKE_ARGS"
    configure_args+=("${extra_args[@]}")
fi

cmake "${configure_args[@]}"
cmake --build "$BUILD_DIR" -j"$JOBS"
ctest --test-dir "$BUILD_DIR" --output-on-failure --no-tests=error
