# Driver for the pop3_package_consumer test (cmake -P): install pop3 from the build tree into a
# scratch prefix, then configure, build and test tests/package as an outside project would.
# All inputs come from -D arguments set in tests/CMakeLists.txt.

foreach(var POP3_BINARY_DIR CONSUMER_SOURCE_DIR WORK_DIR GENERATOR CXX_COMPILER EXPECTED_VERSION
            CTEST_COMMAND)
    if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
        message(FATAL_ERROR "run.cmake: -D${var}=... is required")
    endif()
endforeach()

set(prefix "${WORK_DIR}/prefix")
set(build "${WORK_DIR}/build")
# Start clean: stale files from an earlier install must not make the test pass.
file(REMOVE_RECURSE "${prefix}" "${build}")

function(run what)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "package test: ${what} failed (${rc})")
    endif()
endfunction()

set(config_args "")
if(NOT "${CONFIG}" STREQUAL "")
    set(config_args --config "${CONFIG}")
endif()

run("install" "${CMAKE_COMMAND}" --install "${POP3_BINARY_DIR}" --prefix "${prefix}" ${config_args})

set(configure_args
    -S "${CONSUMER_SOURCE_DIR}" -B "${build}" -G "${GENERATOR}"
    "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
    "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
    "-DCMAKE_PREFIX_PATH=${prefix}"
    "-DPOP3_PREFIX=${prefix}"
    "-DEXPECTED_VERSION=${EXPECTED_VERSION}"
    "-DEXPECT_UMBRELLA=${EXPECT_UMBRELLA}"
    "-DTEST_PKGCONFIG=${TEST_PKGCONFIG}")
if(NOT "${MAKE_PROGRAM}" STREQUAL "")
    list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(NOT "${CONFIG}" STREQUAL "")
    list(APPEND configure_args "-DCMAKE_BUILD_TYPE=${CONFIG}")
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
    message(FATAL_ERROR "package test: consumer tests failed (${rc})")
endif()
