# Included by tests/integration/CMakeLists.txt: end-to-end tests of the examples and of the
# pop3-fetch tool (examples/) against the fixture's Dovecot. Python 3 standard library only.
#
# examples/ is configured after tests/, so the targets cannot be checked with if(TARGET)
# here: the condition the top-level CMakeLists.txt uses to enter examples/ decides.
find_program(POP3_PYTHON3_EXECUTABLE python3)
if(NOT POP3_BUILD_EXAMPLES OR NOT EXISTS "${PROJECT_SOURCE_DIR}/examples/CMakeLists.txt")
    return()
endif()
if(NOT POP3_PYTHON3_EXECUTABLE)
    message(STATUS "pop3 tests: python3 not found; pop3_fetch_test and pop3_examples_test are not registered")
    return()
endif()

# pop3-fetch: Maildir/mbox contents byte-checked, --keep, deletion after storing, every
# documented exit code, --json, progress only on a terminal.
pop3_server_test(pop3_fetch_test dovecot "${POP3_DOVECOT_DIR}"
    "${POP3_PYTHON3_EXECUTABLE}" "${CMAKE_CURRENT_SOURCE_DIR}/pop3_fetch_test.py"
    "$<TARGET_FILE:pop3-fetch>")
set_tests_properties(pop3_fetch_test PROPERTIES
    # It deletes mail from "scratch" (and restores it with `dovecot.sh reset`).
    RESOURCE_LOCK dovecot_scratch
    TIMEOUT 600
    ENVIRONMENT "POP3_TEST_ENV=${POP3_DOVECOT_DIR}/env;POP3_TEST_SCRIPT=${POP3_DOVECOT_SCRIPT}")

# The examples against the same server (read-only mailboxes): they must keep working.
pop3_server_test(pop3_examples_test dovecot "${POP3_DOVECOT_DIR}"
    "${POP3_PYTHON3_EXECUTABLE}" "${CMAKE_CURRENT_SOURCE_DIR}/examples_test.py"
    "$<TARGET_FILE_DIR:pop3-fetch>")
set_tests_properties(pop3_examples_test PROPERTIES
    TIMEOUT 300
    ENVIRONMENT "POP3_TEST_ENV=${POP3_DOVECOT_DIR}/env")
