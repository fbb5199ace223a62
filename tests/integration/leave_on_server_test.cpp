// Leave-on-server against the real Dovecot: fetch_new into a Maildir-like directory with a
// file_uid_store; a rerun fetches nothing; each delete policy leaves the server holding
// exactly what it says; a 50 MB message streams through a message_delivery in constant
// memory, and through the whole-message callback is held once in memory, not twice.
#include "../catch.hpp"
#include "leave_on_server_support.hpp"
#include "test_temp_dir.hpp"

#include <pop3/leave_on_server.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

using pop3::leave_policy;
using pop3_test::dovecot_env;
using pop3_test::dovecot_session;
using pop3_test::maildir;
using pop3_test::server_uids;

namespace {

const pop3::uid_time t0 = pop3::uid_time(std::chrono::seconds(1700000000));
constexpr std::chrono::seconds day{86400};

pop3::fetch_result fetch(const std::string& store_path, maildir& box, const leave_policy& policy,
                         pop3::uid_time now)
{
    pop3::file_uid_store store(store_path);
    dovecot_session s("keep");
    pop3::fetch_options options;
    options.now = now;
    return pop3::fetch_new(s.client, store, policy, std::ref(box), options);
}

std::vector<std::string> uids_of(const std::vector<pop3_test::expected_message>& v)
{
    std::vector<std::string> out;
    for (const auto& m : v) out.push_back(m.uid);
    return out;
}

void require_stored(const maildir& box, const std::vector<pop3_test::expected_message>& expected)
{
    const auto problems = pop3_test::check_stored(box, expected);
    for (const auto& p : problems) UNSCOPED_INFO(p);
    REQUIRE(problems.empty());
}

} // namespace

TEST_CASE("leave on server: keep_forever fetches everything once; a rerun fetches nothing")
{
    const auto& env = dovecot_env::get();
    env.reset("keep");
    const auto expected = env.mailbox("keep");
    REQUIRE(expected.size() == 50);
    pop3_test::temp_dir dir;
    maildir box(dir.path + "/Maildir");
    const auto store_path = dir.path + "/keep.uids";

    auto r = fetch(store_path, box, leave_policy::keep_forever(), t0);
    CHECK(r.fetched == 50);
    CHECK(r.deleted == 0);
    CHECK(r.quit_confirmed);
    CHECK(r.skipped_duplicates == 0);
    require_stored(box, expected);
    CHECK(server_uids("keep") == uids_of(expected));

    r = fetch(store_path, box, leave_policy::keep_forever(), t0 + day);
    CHECK(r.fetched == 0);
    CHECK(r.forgotten == 0);
    require_stored(box, expected);

    pop3::file_uid_store store(store_path);
    CHECK(store.size() == 50);
    for (const auto& m : expected) {
        const auto e = store.find(m.uid);
        REQUIRE(e);
        CHECK(e->stored);
        CHECK(e->first_seen == t0);
    }
}

TEST_CASE("leave on server: delete_after_fetch empties the server, then forgets the UIDs")
{
    const auto& env = dovecot_env::get();
    env.reset("keep");
    const auto expected = env.mailbox("keep");
    pop3_test::temp_dir dir;
    maildir box(dir.path + "/Maildir");
    const auto store_path = dir.path + "/keep.uids";

    auto r = fetch(store_path, box, leave_policy::delete_after_fetch(), t0);
    CHECK(r.fetched == 50);
    CHECK(r.deleted == 50);
    require_stored(box, expected);
    CHECK(server_uids("keep").empty());

    r = fetch(store_path, box, leave_policy::delete_after_fetch(), t0);
    CHECK(r.fetched == 0);
    CHECK(r.forgotten == 50);
    CHECK(pop3::file_uid_store(store_path).size() == 0);
    require_stored(box, expected);
    env.reset("keep");
}

TEST_CASE("leave on server: delete_older_than deletes by first-seen time, exactly")
{
    const auto& env = dovecot_env::get();
    env.reset("keep");
    const auto expected = env.mailbox("keep");
    pop3_test::temp_dir dir;
    maildir box(dir.path + "/Maildir");
    const auto store_path = dir.path + "/keep.uids";
    const auto policy = leave_policy::delete_older_than_days(7);

    auto r = fetch(store_path, box, policy, t0);
    CHECK(r.fetched == 50);
    CHECK(r.deleted == 0);
    // Pretend the odd-numbered messages arrived five days later.
    {
        pop3::file_uid_store store(store_path);
        for (const auto& m : expected)
            if (m.number % 2 == 1) store.record(m.uid, {t0 + 5 * day, true, false, std::nullopt});
    }
    r = fetch(store_path, box, policy, t0 + 6 * day); // nothing is 7 days old yet
    CHECK(r.deleted == 0);
    CHECK(server_uids("keep").size() == 50);

    r = fetch(store_path, box, policy, t0 + 7 * day); // the even ones are now
    CHECK(r.fetched == 0);
    CHECK(r.deleted == 25);
    std::vector<std::string> odd;
    for (const auto& m : expected)
        if (m.number % 2 == 1) odd.push_back(m.uid);
    CHECK(server_uids("keep") == odd);

    r = fetch(store_path, box, policy, t0 + 12 * day);
    CHECK(r.deleted == 25);
    CHECK(r.forgotten == 25);
    CHECK(server_uids("keep").empty());
    require_stored(box, expected);
    env.reset("keep");
}

TEST_CASE("leave on server: delete_when_deleted_locally deletes only what the user deleted")
{
    const auto& env = dovecot_env::get();
    env.reset("keep");
    const auto expected = env.mailbox("keep");
    pop3_test::temp_dir dir;
    maildir box(dir.path + "/Maildir");
    const auto store_path = dir.path + "/keep.uids";
    const auto policy = leave_policy::delete_when_deleted_locally();

    auto r = fetch(store_path, box, policy, t0);
    CHECK(r.fetched == 50);
    CHECK(r.deleted == 0);
    std::vector<std::string> remaining;
    {
        pop3::file_uid_store store(store_path);
        for (const auto& m : expected) {
            if (m.number % 5 == 2) CHECK(store.mark_deleted_locally(m.uid));
            else remaining.push_back(m.uid);
        }
    }
    r = fetch(store_path, box, policy, t0 + day);
    CHECK(r.fetched == 0);
    CHECK(r.deleted == 10);
    CHECK(server_uids("keep") == remaining);
    require_stored(box, expected);
    env.reset("keep");
}

TEST_CASE("leave on server: two runs on one account: the second is refused at once")
{
    pop3_test::temp_dir dir;
    const auto store_path = dir.path + "/keep.uids";
    pop3::file_uid_store first(store_path);
    pop3::error_code ec;
    pop3::file_uid_store second;
    second.open(store_path, ec);
    CHECK(ec == pop3::store_errc::locked);
}

namespace {

/// The peak resident set size of this process (VmHWM), in KiB.
long hwm_kib()
{
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
    return 0L;
}

/// Runs `body` in a forked child (so that its peak memory is its own) and returns the
/// child's exit code.
template <class Body> int in_child(Body body)
{
    std::fflush(stdout);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        int code = 10;
        try {
            code = body();
        } catch (const std::exception& e) {
            std::printf("big: %s\n", e.what());
        }
        std::fflush(stdout);
        ::_exit(code);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/// Compares a message, chunk by chunk as it streams in, with the expected file; holds
/// nothing but the piece of the file it compares with.
class comparing_delivery final : public pop3::message_delivery {
public:
    explicit comparing_delivery(const std::string& path) : path_(path) {}

    pop3::error_code begin(const pop3::fetched_message_info&) override
    {
        in_.open(path_, std::ios::binary);
        same_ = static_cast<bool>(in_);
        size_ = 0;
        return {};
    }
    pop3::error_code write(std::string_view chunk) override
    {
        piece_.resize(chunk.size());
        in_.read(piece_.data(), static_cast<std::streamsize>(chunk.size()));
        same_ = same_ && static_cast<std::size_t>(in_.gcount()) == chunk.size() &&
                chunk == std::string_view(piece_);
        size_ += chunk.size();
        largest_ = std::max(largest_, chunk.size());
        return {};
    }
    pop3::error_code commit() override
    {
        same_ = same_ && in_.peek() == std::char_traits<char>::eof();
        in_.close();
        return {};
    }
    void abort() noexcept override { in_.close(); }

    bool same() const { return same_; }
    std::size_t size() const { return size_; }
    std::size_t largest_chunk() const { return largest_; }

private:
    std::string path_;
    std::ifstream in_;
    std::string piece_;
    bool same_ = false;
    std::size_t size_ = 0;
    std::size_t largest_ = 0;
};

} // namespace

TEST_CASE("leave on server: a 50 MB message streams through in constant memory")
{
    const auto expected = dovecot_env::get().mailbox("big");
    REQUIRE(expected.size() == 1);
    const int code = in_child([&] {
        const auto before = hwm_kib();
        pop3::memory_uid_store store;
        dovecot_session s("big");
        comparing_delivery delivery(expected[0].path);
        const auto r = pop3::fetch_new(s.client, store, leave_policy::keep_forever(), delivery);
        const auto growth_mib = (hwm_kib() - before) / 1024;
        std::printf("big, streamed: %zu bytes in chunks of at most %zu, peak memory growth "
                    "%ld MiB\n",
                    delivery.size(), delivery.largest_chunk(), growth_mib);
        if (r.fetched != 1) return 11;
        if (!delivery.same()) return 12;
        if (delivery.size() < 50u * 1000 * 1000) return 13;
        if (growth_mib >= 16) return 14; // whatever the message size
        return 0;
    });
    CHECK(code == 0);
}

TEST_CASE("leave on server: a 50 MB message is delivered whole and held once in memory")
{
    const auto expected = dovecot_env::get().mailbox("big");
    REQUIRE(expected.size() == 1);
    const int code = in_child([&] {
        const auto before = hwm_kib();
        pop3::memory_uid_store store;
        dovecot_session s("big");
        bool same = false;
        std::size_t size = 0;
        const auto r = pop3::fetch_new(
            s.client, store, leave_policy::keep_forever(),
            [&](const pop3::fetched_message& m) -> pop3::error_code {
                size = m.bytes.size();
                // Compare in 1 MiB pieces: the test itself must not hold a copy.
                std::ifstream in(expected[0].path, std::ios::binary);
                std::string piece(1 << 20, '\0');
                same = true;
                for (std::size_t at = 0; at < m.bytes.size() && same; at += piece.size()) {
                    const auto n = std::min(piece.size(), m.bytes.size() - at);
                    in.read(piece.data(), static_cast<std::streamsize>(n));
                    same = static_cast<std::size_t>(in.gcount()) == n &&
                           m.bytes.compare(at, n, piece.data(), n) == 0;
                }
                same = same && in.peek() == std::char_traits<char>::eof();
                return {};
            });
        const auto growth_mib = (hwm_kib() - before) / 1024;
        std::printf("big: %zu bytes, peak memory growth %ld MiB\n", size, growth_mib);
        if (r.fetched != 1) return 11;
        if (!same) return 12;
        if (size < 50u * 1000 * 1000) return 13;
        if (growth_mib > 80) return 14; // twice the message would be > 100 MiB
        return 0;
    });
    CHECK(code == 0);
}
