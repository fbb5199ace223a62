# Findasio.cmake: find standalone (non-Boost) Asio, a header-only library.
#
# Installed next to pop3Config.cmake and used by it, so it must stay self-contained.
#
# Order of preference:
#   1. an asio::asio target that already exists (the consumer made or found one: keep theirs);
#   2. an asio CMake package config (vcpkg's and Conan's asio packages provide asio::asio);
#   3. a plain search for asio.hpp (distribution packages such as Debian's libasio-dev, which
#      ship no CMake files). Hint with ASIO_ROOT / asio_ROOT or ASIO_INCLUDE_DIR.
#
# Result:
#   asio::asio       INTERFACE target: include dir, ASIO_STANDALONE, Threads (case 3)
#   asio_FOUND       TRUE when found
#   asio_VERSION     e.g. 1.22.1 (parsed from asio/version.hpp in case 3)
#   ASIO_INCLUDE_DIR the directory containing asio.hpp (cache, case 3)

include(FindPackageHandleStandardArgs)

# 1. Reuse an existing target. Imported targets are directory-scoped, so this is also what
#    happens on a second find_package(asio) in the same directory.
if(TARGET asio::asio)
    if(NOT DEFINED asio_VERSION AND DEFINED ASIO_VERSION_STRING)
        set(asio_VERSION "${ASIO_VERSION_STRING}")
    endif()
    set(asio_FOUND TRUE)
    return()
endif()

# 2. A package config (CONFIG mode does not recurse into this module).
find_package(asio CONFIG QUIET)
if(asio_FOUND AND TARGET asio::asio)
    find_package_handle_standard_args(asio CONFIG_MODE)
    return()
endif()
set(asio_FOUND FALSE)

# 3. Search for the header.
find_path(ASIO_INCLUDE_DIR
    NAMES asio.hpp
    HINTS "${ASIO_ROOT}" "$ENV{ASIO_ROOT}"
    PATH_SUFFIXES include asio/include
    DOC "Directory containing the standalone Asio header asio.hpp")
mark_as_advanced(ASIO_INCLUDE_DIR)

# ASIO_VERSION is XXYYZZ: 102201 means 1.22.1 (see asio/version.hpp).
unset(asio_VERSION)
if(ASIO_INCLUDE_DIR AND EXISTS "${ASIO_INCLUDE_DIR}/asio/version.hpp")
    file(STRINGS "${ASIO_INCLUDE_DIR}/asio/version.hpp" _asio_version_line
         REGEX "^#[ \t]*define[ \t]+ASIO_VERSION[ \t]+[0-9]+")
    if(_asio_version_line MATCHES "ASIO_VERSION[ \t]+([0-9]+)")
        math(EXPR _asio_major "${CMAKE_MATCH_1} / 100000")
        math(EXPR _asio_minor "${CMAKE_MATCH_1} / 100 % 1000")
        math(EXPR _asio_patch "${CMAKE_MATCH_1} % 100")
        set(asio_VERSION "${_asio_major}.${_asio_minor}.${_asio_patch}")
        set(ASIO_VERSION_STRING "${asio_VERSION}")
    endif()
    unset(_asio_version_line)
    unset(_asio_major)
    unset(_asio_minor)
    unset(_asio_patch)
endif()

# Asio uses threads internally (e.g. the resolver); pass on the caller's REQUIRED/QUIET wishes.
if(NOT TARGET Threads::Threads)
    if(asio_FIND_QUIETLY)
        find_package(Threads QUIET)
    else()
        find_package(Threads)
    endif()
endif()
if(TARGET Threads::Threads)
    set(_asio_threads_found TRUE)
else()
    set(_asio_threads_found FALSE)
endif()

find_package_handle_standard_args(asio
    REQUIRED_VARS ASIO_INCLUDE_DIR _asio_threads_found
    VERSION_VAR asio_VERSION)
unset(_asio_threads_found)

if(asio_FOUND AND NOT TARGET asio::asio)
    add_library(asio::asio INTERFACE IMPORTED)
    set_target_properties(asio::asio PROPERTIES
        INTERFACE_INCLUDE_DIRECTORIES "${ASIO_INCLUDE_DIR}"
        # Non-Boost Asio; every user of this target sees the same Asio configuration.
        INTERFACE_COMPILE_DEFINITIONS "ASIO_STANDALONE"
        INTERFACE_LINK_LIBRARIES "Threads::Threads")
    if(WIN32)
        # MSVC auto-links these with #pragma comment(lib); MinGW needs them spelt out.
        set_property(TARGET asio::asio APPEND PROPERTY INTERFACE_LINK_LIBRARIES ws2_32 mswsock)
    endif()
endif()
