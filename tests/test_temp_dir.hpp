// A fresh directory for a test's files, removed with everything in it when the test ends.
#ifndef POP3_TESTS_TEST_TEMP_DIR_HPP
#define POP3_TESTS_TEST_TEMP_DIR_HPP

#include "catch.hpp"

#include <stdlib.h> // mkdtemp

#include <filesystem>
#include <string>
#include <system_error>

namespace pop3_test {

/// A new directory under the system's temporary directory.
struct temp_dir {
    std::string path;

    temp_dir()
    {
        std::string tmpl = (std::filesystem::temp_directory_path() / "pop3-test-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~temp_dir()
    {
        std::error_code ec; // std::filesystem's
        std::filesystem::remove_all(path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    /// The path of `name` inside the directory.
    std::string file(const std::string& name) const { return path + "/" + name; }
};

} // namespace pop3_test

#endif // POP3_TESTS_TEST_TEMP_DIR_HPP
