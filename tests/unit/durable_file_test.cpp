// pop3/leave_on_server/durable_file.hpp: the file helpers file_uid_store and pop3-fetch's
// destinations share: errors as errno codes, whole writes and reads, mkdir -p, the syncs.
#include "../catch.hpp"
#include "test_error_code.hpp"
#include "test_temp_dir.hpp"

#include <pop3/leave_on_server/durable_file.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

namespace {

bool is_directory(const std::string& path)
{
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

} // namespace

TEST_CASE("durable_file: a whole write reads back, and a read at the end stops short")
{
    pop3_test::temp_dir dir;
    const auto path = dir.path + "/message";
    pop3::error_code ec;
    auto fd = pop3::unique_fd::open(path, O_RDWR | O_CREAT | O_EXCL, ec);
    REQUIRE_FALSE(ec);
    REQUIRE(fd);
    CHECK((::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC) != 0); // never inherited by a child
    const std::string big(200000, 'x');
    REQUIRE_FALSE(pop3::write_all(fd.get(), "Subject: hi\r\n\r\n"));
    REQUIRE_FALSE(pop3::write_all(fd.get(), big));
    REQUIRE_FALSE(pop3::pwrite_all(fd.get(), "S", 1, 0)); // overwrite the first byte
    REQUIRE_FALSE(pop3::sync_file(fd.get()));
    REQUIRE_FALSE(pop3::sync_directory(dir.path));

    std::string all;
    REQUIRE_FALSE(pop3::read_whole_file(fd.get(), all));
    CHECK(all == "Subject: hi\r\n\r\n" + big);

    char tail[8] = {};
    std::size_t got = 99;
    REQUIRE_FALSE(pop3::read_at(fd.get(), tail, sizeof tail, all.size() - 3, got));
    CHECK(got == 3);
    CHECK(std::string(tail, got) == "xxx");

    // O_EXCL on an existing file: the errno code, and no descriptor.
    const auto again = pop3::unique_fd::open(path, O_RDWR | O_CREAT | O_EXCL, ec);
    CHECK_FALSE(again);
    CHECK(ec == pop3_test::errno_error(EEXIST));
}

TEST_CASE("durable_file: unique_fd owns one descriptor")
{
    pop3_test::temp_dir dir;
    pop3::error_code ec;
    auto a = pop3::unique_fd::open(dir.path + "/f", O_WRONLY | O_CREAT, ec);
    REQUIRE(a);
    const int raw = a.get();
    pop3::unique_fd b(std::move(a));
    CHECK_FALSE(a);
    CHECK(b.get() == raw);
    b.reset();
    CHECK(::fcntl(raw, F_GETFD) == -1); // closed
    CHECK(errno == EBADF);
    CHECK(pop3::unique_fd::open(dir.path + "/missing/f", O_RDONLY, ec).get() == -1);
    CHECK(ec == pop3_test::errno_error(ENOENT));
    CHECK(pop3::sync_directory(dir.path + "/missing") == pop3_test::errno_error(ENOENT));
}

TEST_CASE("durable_file: create_directories makes the whole path, once")
{
    pop3_test::temp_dir dir;
    const auto deep = dir.path + "/a/b//c/";
    REQUIRE_FALSE(pop3::create_directories(deep));
    CHECK(is_directory(dir.path + "/a/b/c"));
    CHECK_FALSE(pop3::create_directories(deep)); // already there: fine
    CHECK_FALSE(pop3::create_directories(dir.path + "/a/b/c"));

    // A file in the way is not a directory, at the end or in the middle.
    pop3::error_code ec;
    REQUIRE(pop3::unique_fd::open(dir.path + "/file", O_WRONLY | O_CREAT, ec));
    CHECK(pop3::create_directories(dir.path + "/file") == pop3_test::errno_error(ENOTDIR));
    CHECK(pop3::create_directories(dir.path + "/file/sub") == pop3_test::errno_error(ENOTDIR));
    CHECK_FALSE(pop3::create_directories(""));
}

TEST_CASE("durable_file: directory_of")
{
    CHECK(pop3::directory_of("state") == ".");
    CHECK(pop3::directory_of("/state") == "/");
    CHECK(pop3::directory_of("/var/mail/state") == "/var/mail");
    CHECK(pop3::directory_of("mail/state") == "mail");
}
