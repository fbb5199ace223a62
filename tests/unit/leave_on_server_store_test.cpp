// pop3::file_uid_store and pop3::memory_uid_store: round trips, reopening, torn last
// records recovered, damage reported (never treated as empty), the account lock, write
// failures, compaction.
#include "../catch.hpp"
#include "test_error_code.hpp"
#include "test_temp_dir.hpp"
#include "uid_store_conformance.hpp"

#include <pop3/leave_on_server/file_store.hpp>
#include <pop3/leave_on_server/journal.hpp>
#include <pop3/leave_on_server/memory_store.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <csignal>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace fs = std::filesystem;
using pop3::file_uid_store;
using pop3::store_errc;
using pop3::uid_entry;
using pop3::uid_time;

namespace {

using pop3_test::conformance::at;
using pop3_test::conformance::contents;
using pop3_test::conformance::stored_at;

std::string slurp(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void spit(const std::string& path, const std::string& bytes)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
}

/// The conformance fixtures (uid_store_conformance.hpp).
struct file_fixture {
    pop3_test::temp_dir dir;
    bool durable = true;
    std::unique_ptr<pop3::uid_store> reopen()
    {
        return std::make_unique<file_uid_store>(dir.file("acct.uids"));
    }
};

struct memory_fixture {
    bool durable = false;
    std::unique_ptr<pop3::uid_store> reopen() { return std::make_unique<pop3::memory_uid_store>(); }
};

} // namespace

TEST_CASE("file_uid_store: a new store is created empty and reports it", "[leave]")
{
    pop3_test::temp_dir dir;
    pop3::store_open_report report;
    file_uid_store store;
    pop3::error_code ec;
    store.open(dir.file("acct.uids"), ec, {}, &report);
    REQUIRE_FALSE(ec);
    CHECK(report.created);
    CHECK(store.size() == 0);
    CHECK(fs::exists(dir.file("acct.uids")));
    CHECK(fs::exists(dir.file("acct.uids.lock")));
    store.close();
    store.open(dir.file("acct.uids"), ec, {}, &report);
    REQUIRE_FALSE(ec);
    CHECK_FALSE(report.created);
    CHECK(report.discarded_tail_bytes == 0);
}

TEST_CASE("uid store conformance: file_uid_store", "[leave]")
{
    file_fixture fixture;
    SECTION("entries round-trip, any UID bytes, through reopening")
    {
        pop3_test::conformance::entries_round_trip(fixture);
    }
    SECTION("invalid UIDs are refused") { pop3_test::conformance::invalid_uids_refused(fixture); }
    SECTION("mark_deleted_locally") { pop3_test::conformance::mark_deleted_locally(fixture); }
}

TEST_CASE("uid store conformance: memory_uid_store", "[leave]")
{
    memory_fixture fixture;
    SECTION("entries round-trip, any UID bytes") { pop3_test::conformance::entries_round_trip(fixture); }
    SECTION("invalid UIDs are refused") { pop3_test::conformance::invalid_uids_refused(fixture); }
    SECTION("mark_deleted_locally") { pop3_test::conformance::mark_deleted_locally(fixture); }
}

TEST_CASE("uid stores: the longest UID the parser accepts is storable", "[leave]")
{
    CHECK(pop3::max_stored_uid_length == pop3::max_valid_uid_length);
    CHECK(pop3::is_valid_uid(std::string(pop3::max_stored_uid_length, '!')));
}

TEST_CASE("file_uid_store: a second open of the account fails at once with locked", "[leave]")
{
    pop3_test::temp_dir dir;
    const auto path = dir.file("acct.uids");
    file_uid_store first(path);
    first.record("x", stored_at(1));

    const auto start = std::chrono::steady_clock::now();
    file_uid_store second;
    pop3::error_code ec;
    second.open(path, ec);
    CHECK(ec == store_errc::locked);
    CHECK_FALSE(second.is_open());
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
    CHECK_THROWS_AS(file_uid_store(path), pop3::error);

    // Another process gets the same answer.
    pop3_test::conformance::check_locked_in_another_process([&](pop3::error_code& child_ec) {
        file_uid_store other;
        other.open(path, child_ec);
    });

    first.close();
    second.open(path, ec);
    REQUIRE_FALSE(ec);
    CHECK(second.find("x"));
}

TEST_CASE("file_uid_store: a torn last record is dropped and reported, earlier ones kept",
          "[leave]")
{
    pop3_test::temp_dir dir;
    const auto path = dir.file("acct.uids");
    std::uint64_t size_before_last = 0;
    std::uint64_t size_after_last = 0;
    {
        file_uid_store store(path);
        for (int i = 0; i < 5; ++i) store.record("uid-" + std::to_string(i), stored_at(i));
        size_before_last = store.file_size();
        store.apply({{"last-a", stored_at(10)}, {"last-b", stored_at(11)}});
        size_after_last = store.file_size();
    }
    const auto full = slurp(path);
    REQUIRE(full.size() == size_after_last);
    const auto record_size = size_after_last - size_before_last;
    REQUIRE(record_size > 16);

    const auto check_recovered = [&](const std::string& bytes, std::uint64_t discarded) {
        spit(path, bytes);
        pop3::store_open_report report;
        file_uid_store store;
        pop3::error_code ec;
        store.open(path, ec, {}, &report);
        REQUIRE_FALSE(ec);
        CHECK(report.discarded_tail_bytes == discarded);
        CHECK(store.size() == 5);
        CHECK_FALSE(store.find("last-a")); // all or nothing: the batch was never acknowledged
        CHECK_FALSE(store.find("last-b"));
        CHECK(fs::file_size(path) == size_before_last); // the tail is cut off
        // Appending after recovery is clean: the next open finds nothing to discard.
        store.record("after", stored_at(20));
        store.close();
        store.open(path, ec, {}, &report);
        REQUIRE_FALSE(ec);
        CHECK(report.discarded_tail_bytes == 0);
        CHECK(store.size() == 6);
    };

    SECTION("truncated at every byte of the last record")
    {
        for (std::uint64_t keep = 1; keep < record_size; ++keep) {
            INFO("kept " << keep << " of " << record_size << " bytes");
            check_recovered(full.substr(0, size_before_last + keep), keep);
        }
    }
    SECTION("last record complete in length but with a damaged payload byte")
    {
        for (std::uint64_t at = 16; at + 16 < record_size; at += 3) {
            auto bytes = full;
            bytes[size_before_last + at] = static_cast<char>(bytes[size_before_last + at] ^ 0x5a);
            check_recovered(bytes, record_size);
        }
    }
    SECTION("last record never written: zeros where it should be (an unwritten block)")
    {
        auto bytes = full.substr(0, size_before_last) + std::string(record_size, '\0');
        check_recovered(bytes, record_size);
        // Zeros with a valid record after them are damage, not a torn append.
        bytes = full.substr(0, size_before_last) + std::string(32, '\0') +
                full.substr(size_before_last);
        spit(path, bytes);
        file_uid_store store;
        pop3::error_code ec;
        store.open(path, ec);
        CHECK(ec == store_errc::corrupt);
    }
}

TEST_CASE("file_uid_store: damage is reported, the file is left untouched", "[leave]")
{
    pop3_test::temp_dir dir;
    const auto path = dir.file("acct.uids");
    std::vector<std::uint64_t> ends;
    {
        file_uid_store store(path);
        for (int i = 0; i < 4; ++i) {
            store.record("uid-" + std::to_string(i), stored_at(i));
            ends.push_back(store.file_size());
        }
    }
    const auto good = slurp(path);

    const auto check_error = [&](const std::string& bytes, pop3::error_code expected) {
        spit(path, bytes);
        pop3::store_open_report report;
        file_uid_store store;
        pop3::error_code ec;
        store.open(path, ec, {}, &report);
        CHECK(ec == expected);
        CHECK_FALSE(store.is_open());
        CHECK(slurp(path) == bytes); // never "repaired" or emptied
        return report;
    };

    SECTION("a bad checksum in a record that is not the last")
    {
        for (std::size_t at = static_cast<std::size_t>(ends[0]); at < ends[2]; ++at) {
            INFO("byte " << at);
            auto bytes = good;
            bytes[at] = static_cast<char>(bytes[at] ^ 0x01);
            const auto report = check_error(bytes, store_errc::corrupt);
            CHECK(report.error_offset >= ends[0]);
            CHECK(report.error_offset < ends[2]);
        }
    }
    SECTION("a damaged file header")
    {
        for (std::size_t at = 8; at < 32; ++at) {
            INFO("byte " << at);
            auto bytes = good;
            bytes[at] = static_cast<char>(bytes[at] ^ 0x10);
            check_error(bytes, store_errc::corrupt);
        }
    }
    SECTION("wrong magic: someone else's file")
    {
        auto bytes = good;
        bytes[0] = 'X';
        check_error(bytes, store_errc::not_a_store);
        check_error("# mpop UIDLs\nuser@host 3\n", store_errc::not_a_store);
        check_error(std::string(4096, 'g'), store_errc::not_a_store);
    }
    SECTION("a version from the future")
    {
        auto bytes = good;
        bytes[8] = 2;
        std::string header = bytes.substr(0, 28);
        const auto crc = pop3::detail::crc32c(0, header.data(), header.size());
        for (int i = 0; i < 4; ++i) bytes[28 + static_cast<std::size_t>(i)] = static_cast<char>((crc >> (8 * i)) & 0xff);
        check_error(bytes, store_errc::unsupported_version);
    }
    SECTION("empty or cut inside the header")
    {
        check_error("", store_errc::corrupt);
        check_error(good.substr(0, 5), store_errc::corrupt);
        check_error(good.substr(0, 31), store_errc::corrupt);
    }
    SECTION("records copied from another store file do not validate")
    {
        pop3_test::temp_dir other_dir;
        const auto other = other_dir.file("other.uids");
        {
            file_uid_store o(other);
            o.record("foreign", stored_at(7));
            o.record("foreign2", stored_at(8));
        }
        const auto foreign = slurp(other);
        // Another file's records carry another salt: in the middle they are damage.
        check_error(good + foreign.substr(32) + good.substr(32, ends[0] - 32),
                    store_errc::corrupt);
    }
}

TEST_CASE("file_uid_store: a failed write changes nothing, poisons the store, reopen recovers",
          "[leave]")
{
    pop3_test::temp_dir dir;
    const auto path = dir.file("acct.uids");
    file_uid_store store(path);
    store.record("kept", stored_at(1));
    const auto size = store.file_size();

    // Make the next append fail with EFBIG: the file may not grow past its current size.
    struct sigaction ignore {}, old {};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGXFSZ, &ignore, &old);
    rlimit saved{};
    ::getrlimit(RLIMIT_FSIZE, &saved);
    rlimit limit = saved;
    limit.rlim_cur = static_cast<rlim_t>(size + 8); // room for half a record
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &limit) == 0);
    pop3::error_code ec;
    store.record("lost", stored_at(2), ec);
    ::setrlimit(RLIMIT_FSIZE, &saved);
    ::sigaction(SIGXFSZ, &old, nullptr);

    CHECK(ec == pop3_test::generic_condition(std::errc::file_too_large));
    CHECK_FALSE(store.find("lost")); // not acknowledged, not visible
    CHECK(fs::file_size(path) == size); // the partial bytes were cut off
    store.record("later", stored_at(3), ec);
    CHECK(ec == store_errc::store_failed);

    store.close();
    store.open(path, ec);
    REQUIRE_FALSE(ec);
    CHECK(contents(store).size() == 1);
    CHECK(store.find("kept"));
    store.record("later", stored_at(3));
    CHECK(store.size() == 2);
}

TEST_CASE("file_uid_store: compaction keeps the journal bounded and the entries intact",
          "[leave]")
{
    pop3_test::temp_dir dir;
    const auto path = dir.file("acct.uids");
    pop3::file_store_options options;
    options.compact_min_bytes = 4096;
    std::map<std::string, uid_entry> expected;
    {
        file_uid_store store;
        store.open(path, options);
        std::uint64_t largest = 0;
        for (int round = 0; round < 200; ++round) {
            const auto uid = "uid-" + std::to_string(round % 10);
            const auto e = stored_at(round);
            store.record(uid, e);
            expected[uid] = e;
            largest = std::max(largest, store.file_size());
        }
        store.forget("uid-3");
        expected.erase("uid-3");
        CHECK_FALSE(store.last_compaction_error());
        // 200 appends of ~48 bytes without compaction would be ~10 KB.
        CHECK(largest <= 4096 + 64);
        CHECK_FALSE(fs::exists(path + ".tmp"));
        pop3::error_code ec;
        store.compact(ec);
        REQUIRE_FALSE(ec);
        CHECK(store.file_size() < 1024);
        CHECK(contents(store) == expected);
        store.record("after-compaction", stored_at(1000));
        expected["after-compaction"] = stored_at(1000);
    }
    // A temporary file left by a crash during compaction is ignored and removed.
    spit(path + ".tmp", "half a compaction");
    file_uid_store again;
    again.open(path, options);
    CHECK(contents(again) == expected);
    CHECK_FALSE(fs::exists(path + ".tmp"));
}

TEST_CASE("file_uid_store: a closed store says not_open", "[leave]")
{
    file_uid_store store;
    pop3::error_code ec;
    store.record("x", stored_at(1), ec);
    CHECK(ec == store_errc::not_open);
    store.find("x", ec);
    CHECK(ec == store_errc::not_open);
    CHECK(ec.message().find("not open") != std::string::npos);
    CHECK(std::string(ec.category().name()) == "pop3.uid_store");
}

TEST_CASE("journal codec: records round-trip, torn tails and damage are told apart", "[leave][journal]")
{
    namespace journal = pop3::journal;
    const std::uint64_t salt = 0x0123456789ABCDEFull;
    const uid_entry stored{uid_time(std::chrono::seconds(1700000000)), true, false, std::nullopt};
    const uid_entry vanished{uid_time(std::chrono::seconds(-5)), false, true,
                             uid_time(std::chrono::seconds(1700000200))};
    const std::vector<pop3::uid_change> a{{"uid-1", stored}, {"\xC3\xA9t\xC3\xA9", vanished}};
    const std::vector<pop3::uid_change> b{{"uid-1", std::nullopt}};
    const auto file = journal::encode_header(salt) + journal::encode_record(a, salt) +
                      journal::encode_record(b, salt);

    std::vector<pop3::uid_change> seen;
    const auto collect = [&](std::string_view uid, const std::optional<uid_entry>& e) {
        seen.push_back({std::string(uid), e});
    };
    auto d = journal::decode(file, collect);
    REQUIRE_FALSE(d.error);
    CHECK(d.salt == salt);
    CHECK(d.records == 2);
    CHECK_FALSE(d.torn);
    CHECK(d.valid_size == file.size());
    REQUIRE(seen.size() == 3);
    CHECK(seen[0].uid == "uid-1");
    CHECK(seen[0].entry == stored);
    CHECK(seen[1].uid == "\xC3\xA9t\xC3\xA9");
    CHECK(seen[1].entry == vanished);
    CHECK(seen[2].uid == "uid-1");
    CHECK_FALSE(seen[2].entry);

    // A cut anywhere in the last record is a torn tail: the first record survives.
    const auto first_end = journal::header_size + journal::encode_record(a, salt).size();
    for (std::size_t cut = first_end + 1; cut < file.size(); ++cut) {
        INFO("cut " << cut);
        seen.clear();
        d = journal::decode(std::string_view(file).substr(0, cut), collect);
        CHECK_FALSE(d.error);
        CHECK(d.torn);
        CHECK(d.records == 1);
        CHECK(d.valid_size == first_end);
        CHECK(seen.size() == 2);
    }
    // A damaged byte in the first record, with a record after it: corrupt at its offset.
    for (std::size_t at = journal::header_size; at < first_end; ++at) {
        INFO("damage at " << at);
        auto bad = file;
        bad[at] = static_cast<char>(bad[at] ^ 0x40);
        d = journal::decode(bad, collect);
        CHECK(d.error == store_errc::corrupt);
        CHECK(d.error_offset == journal::header_size);
    }
    // Another file's salt: its records never validate.
    auto foreign = journal::encode_header(salt + 1) + journal::encode_record(a, salt) +
                   journal::encode_record(b, salt);
    CHECK(journal::decode(foreign, collect).error == store_errc::corrupt);
    // A UID the store would refuse is refused by the decoder too.
    std::string payload;
    journal::encode_change(payload, {"bad uid", stored});
    CHECK_FALSE(journal::decode_payload(payload, 1, collect));
    // Encoding is canonical: what decode_payload accepts encodes back to the same bytes.
    payload.clear();
    for (const auto& c : a) journal::encode_change(payload, c);
    seen.clear();
    REQUIRE(journal::decode_payload(payload, 2, collect));
    std::string again;
    for (const auto& c : seen) journal::encode_change(again, c);
    CHECK(again == payload);
    CHECK_FALSE(journal::decode_payload(payload, 3, collect)); // the count must match
}
