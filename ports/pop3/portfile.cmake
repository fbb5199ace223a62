# vcpkg port for pop3, a header-only library: configure, install, move the CMake package files to
# share/pop3, and drop what a header-only port must not ship (a debug tree).
#
# As an overlay port, straight from this repository:
#     vcpkg install pop3 --overlay-ports=<this checkout>/ports
# SOURCE_PATH is then this checkout. For a registry, replace the set() below with a download:
#     vcpkg_from_github(
#         OUT_SOURCE_PATH SOURCE_PATH
#         REPO <owner>/pop3
#         REF "v${VERSION}"
#         SHA512 <sha512 of the tag's archive>
#         HEAD_REF main)
set(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../..")

set(VCPKG_BUILD_TYPE release) # header-only: one configuration is all there is

vcpkg_check_features(OUT_FEATURE_OPTIONS FEATURE_OPTIONS
    FEATURES
        boost-asio POP3_USE_BOOST_ASIO)

vcpkg_cmake_configure(
    SOURCE_PATH "${SOURCE_PATH}"
    OPTIONS
        ${FEATURE_OPTIONS}
        -DPOP3_BUILD_TESTS=OFF
        -DPOP3_BUILD_EXAMPLES=OFF
        -DPOP3_BUILD_BENCHMARKS=OFF
        -DPOP3_BUILD_FUZZERS=OFF
        -DPOP3_INSTALL=ON)
vcpkg_cmake_install()

# pop3 installs its package files to share/cmake/pop3 (POP3_INSTALL_CMAKEDIR); vcpkg wants share/pop3.
vcpkg_cmake_config_fixup(PACKAGE_NAME pop3 CONFIG_PATH share/cmake/pop3)
vcpkg_fixup_pkgconfig()

# LICENSE goes to share/pop3/copyright below, not to share/doc.
file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug" "${CURRENT_PACKAGES_DIR}/share/doc")

file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
