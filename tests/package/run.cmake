# Driver for the pop3_package_* tests (cmake -P): prepares pop3 the way MODE needs it, then
# configures, builds and tests tests/package as an outside project would.
#
#   MODE=find_package | pkgconfig   `cmake --install` the build tree into a scratch prefix first
#   MODE=add_subdirectory           the consumer adds the source tree itself
#   MODE=fetchcontent               pack a release-style archive (pop3-<version>/...) of the source
#                                   tree first; the consumer fetches it through a file:// URL
#
# All inputs come from -D arguments set in tests/CMakeLists.txt. INITIAL_CACHE is a cmake -C
# script with the parent build's compiler, flags and dependency hints, so the consumer finds the
# same compiler, Asio, Boost and OpenSSL as the build that is being tested.

foreach(var MODE POP3_BINARY_DIR POP3_SOURCE_DIR CONSUMER_SOURCE_DIR WORK_DIR GENERATOR
            INITIAL_CACHE EXPECTED_VERSION CTEST_COMMAND)
    if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
        message(FATAL_ERROR "run.cmake: -D${var}=... is required")
    endif()
endforeach()

set(prefix "${WORK_DIR}/prefix")
set(build "${WORK_DIR}/build")
set(stage "${WORK_DIR}/archive")
# Start clean: stale files from an earlier run must not make the test pass.
file(REMOVE_RECURSE "${prefix}" "${build}" "${stage}")

function(run what)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "package test (${MODE}): ${what} failed (${rc})")
    endif()
endfunction()

set(config_args "")
if(NOT "${CONFIG}" STREQUAL "")
    set(config_args --config "${CONFIG}")
endif()

set(configure_args
    -S "${CONSUMER_SOURCE_DIR}" -B "${build}" -G "${GENERATOR}" -C "${INITIAL_CACHE}"
    "-DPOP3_CONSUMER_MODE=${MODE}"
    "-DEXPECTED_VERSION=${EXPECTED_VERSION}"
    "-DEXPECT_UMBRELLA=${EXPECT_UMBRELLA}"
    "-DEXPECT_BOOST=${EXPECT_BOOST}")
# No CMAKE_BUILD_TYPE: the consumer only has to compile, link and run, and unoptimised that takes
# half the time. (Multi-config generators build CONFIG, below.)

if(MODE STREQUAL "find_package" OR MODE STREQUAL "pkgconfig")
    run("install" "${CMAKE_COMMAND}" --install "${POP3_BINARY_DIR}" --prefix "${prefix}"
        ${config_args})
    # Every file under include/ is installed (not only the patterns the install rule names).
    file(GLOB_RECURSE headers RELATIVE "${POP3_SOURCE_DIR}/include" "${POP3_SOURCE_DIR}/include/*")
    foreach(header IN LISTS headers)
        if(NOT EXISTS "${prefix}/include/${header}")
            message(FATAL_ERROR "package test (${MODE}): include/${header} was not installed")
        endif()
    endforeach()
    list(APPEND configure_args "-DPOP3_PREFIX=${prefix}")
elseif(MODE STREQUAL "add_subdirectory")
    list(APPEND configure_args "-DPOP3_SOURCE_DIR=${POP3_SOURCE_DIR}")
elseif(MODE STREQUAL "fetchcontent")
    # The files a release archive needs for a consumer's build (tests, examples, benchmarks and
    # fuzzers are only built when pop3 is the top-level project).
    set(top "pop3-${EXPECTED_VERSION}")
    file(MAKE_DIRECTORY "${stage}/${top}")
    foreach(entry CMakeLists.txt LICENSE cmake include)
        file(COPY "${POP3_SOURCE_DIR}/${entry}" DESTINATION "${stage}/${top}")
    endforeach()
    set(archive "${stage}/${top}.tar.gz")
    execute_process(COMMAND "${CMAKE_COMMAND}" -E tar czf "${archive}" "${top}"
                    WORKING_DIRECTORY "${stage}" RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "package test (${MODE}): packing ${archive} failed (${rc})")
    endif()
    file(SHA256 "${archive}" sha256)
    list(APPEND configure_args "-DPOP3_ARCHIVE=${archive}" "-DPOP3_ARCHIVE_SHA256=${sha256}")
else()
    message(FATAL_ERROR "run.cmake: unknown MODE '${MODE}'")
endif()

run("consumer configure" "${CMAKE_COMMAND}" ${configure_args})
run("consumer build" "${CMAKE_COMMAND}" --build "${build}" ${config_args})
set(ctest_config "")
if(NOT "${CONFIG}" STREQUAL "")
    set(ctest_config -C "${CONFIG}")
endif()
execute_process(COMMAND "${CTEST_COMMAND}" ${ctest_config} --output-on-failure
                WORKING_DIRECTORY "${build}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "package test (${MODE}): the consumer's test failed (${rc})")
endif()
