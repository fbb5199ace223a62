// fuzz_journal: libFuzzer target for the journal codec of pop3::file_uid_store
// (<pop3/leave_on_server/journal.hpp>).
//
// Input layout: h[0] % 3 picks the mode, the rest is the data.
//   0  the data is a whole journal file: `journal::decode` it;
//   1  h[1..8] a salt, h[9..12] a change count, the rest a record payload (no checksum to
//      get past): `decode_payload` it;
//   2  the data describes changes (see `make_changes`): encode them as records and decode.
//
// Properties checked (any violation calls __builtin_trap):
//   * decoding never crashes, and what it accepts re-encodes to the same bytes (the
//     encoding is canonical): decode(encode(x)) == x and encode(decode(b)) == b;
//   * a whole file decodes record by record (`scan_record` + `decode_payload`) to exactly
//     what `decode` reports;
//   * every proper prefix of a last record is torn, never complete; any single damaged
//     byte of a record followed by another record is corrupt, never accepted.
#include <pop3/leave_on_server/journal.hpp>
#include <pop3/leave_on_server/store.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

#define FUZZ_CHECK(cond)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            std::fprintf(stderr, "fuzz_journal: check failed at line %d: %s\n", __LINE__, \
                         #cond);                                                          \
            __builtin_trap();                                                             \
        }                                                                                 \
    } while (0)

namespace journal = pop3::journal;
using changes = std::vector<pop3::uid_change>;

bool same(const changes& a, const changes& b)
{
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i].uid != b[i].uid || a[i].entry != b[i].entry) return false;
    return true;
}

struct collector {
    changes* out;
    void operator()(std::string_view uid, const std::optional<pop3::uid_entry>& entry) const
    {
        out->push_back({std::string(uid), entry});
    }
};

std::uint64_t read_u64(std::string_view s)
{
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8 && i < s.size(); ++i)
        v |= static_cast<std::uint64_t>(static_cast<unsigned char>(s[i])) << (8 * i);
    return v;
}

/// Encodes `x` as one record and checks it decodes back to `x`, that its prefixes are
/// torn and that damage in front of another record is corrupt.
void check_record(const changes& x, std::uint64_t salt, std::size_t damage)
{
    const auto record = journal::encode_record(x, salt);
    FUZZ_CHECK(record.size() % 16 == 0);
    const auto r = journal::scan_record(record, salt);
    FUZZ_CHECK(r.status == journal::record_status::complete);
    FUZZ_CHECK(r.size == record.size());
    FUZZ_CHECK(r.count == x.size());
    changes back;
    FUZZ_CHECK(journal::decode_payload(r.payload, r.count, collector{&back}));
    FUZZ_CHECK(same(back, x));

    // A torn append: every proper prefix (the record is the last one).
    for (std::size_t n = 1; n < record.size(); n += 1 + n / 8) {
        const auto t = journal::scan_record(std::string_view(record).substr(0, n), salt);
        FUZZ_CHECK(t.status == journal::record_status::torn);
    }

    // One damaged byte, with another record after it: never accepted, never torn.
    const auto next = journal::encode_record(changes{}, salt);
    auto damaged = record + next;
    const std::size_t at = damage % record.size();
    const auto flip = static_cast<unsigned char>(1 + (damage >> 8) % 255);
    damaged[at] = static_cast<char>(static_cast<unsigned char>(damaged[at]) ^ flip);
    const auto d = journal::scan_record(damaged, salt);
    FUZZ_CHECK(d.status == journal::record_status::corrupt);

    // The same record under another salt (a record of another file) never validates.
    const auto other = journal::scan_record(record + next, salt ^ 0x5A5A5A5A5A5A5A5Aull);
    FUZZ_CHECK(other.status != journal::record_status::complete);
}

/// Mode 0: a whole file.
void whole_file(std::string_view file)
{
    changes all;
    const auto d = journal::decode(file, collector{&all});
    if (d.error) return;
    FUZZ_CHECK(d.valid_size >= journal::header_size && d.valid_size <= file.size());
    FUZZ_CHECK(d.torn == (d.valid_size < file.size()));

    // Record by record, re-encoded: the same bytes and the same changes.
    // The header re-encodes alike except its reserved field (bytes 24-27), which only the
    // header checksum covers; keep the file's.
    std::string again(file.substr(0, journal::header_size));
    FUZZ_CHECK(journal::encode_header(d.salt).compare(0, 24, again, 0, 24) == 0);
    changes each_all;
    std::size_t at = journal::header_size, records = 0;
    while (at < d.valid_size) {
        const auto r = journal::scan_record(file.substr(at), d.salt);
        FUZZ_CHECK(r.status == journal::record_status::complete);
        changes x;
        FUZZ_CHECK(journal::decode_payload(r.payload, r.count, collector{&x}));
        const auto record = journal::encode_record(x, d.salt);
        FUZZ_CHECK(record == file.substr(at, r.size));
        again += record;
        each_all.insert(each_all.end(), x.begin(), x.end());
        at += r.size;
        ++records;
    }
    FUZZ_CHECK(at == d.valid_size);
    FUZZ_CHECK(records == d.records);
    FUZZ_CHECK(same(each_all, all));

    changes back;
    const auto d2 = journal::decode(again, collector{&back});
    FUZZ_CHECK(!d2.error && !d2.torn && d2.records == d.records && d2.salt == d.salt);
    FUZZ_CHECK(same(back, all));
}

/// Mode 1: a payload without checksums in the way.
void payload(std::string_view data)
{
    if (data.size() < 12) return;
    const auto salt = read_u64(data);
    const auto count = static_cast<std::uint32_t>(read_u64(data.substr(8, 4)));
    const auto p = data.substr(12);
    changes x;
    if (!journal::decode_payload(p, count, collector{&x})) return;
    FUZZ_CHECK(x.size() == count);
    std::string again;
    for (const auto& c : x) journal::encode_change(again, c);
    FUZZ_CHECK(again == p);
    check_record(x, salt, data.size() * 131);
}

/// Mode 2: changes built from the bytes. Each change takes a control byte: bit 0 forget,
/// bits 1-3 the flags, bits 4-7 the UID length - 1; then the UID (bytes below 0x21 are
/// lifted into range, DEL becomes '~': pop3::is_valid_uid) and, for a set, 8 bytes of time.
changes make_changes(std::string_view& data)
{
    changes x;
    while (!data.empty() && x.size() < 64) {
        const auto control = static_cast<unsigned char>(data[0]);
        data.remove_prefix(1);
        const std::size_t len = 1 + (control >> 4);
        std::string uid(data.substr(0, len));
        data.remove_prefix(uid.size());
        if (uid.empty()) uid = "u";
        for (auto& ch : uid)
            if (static_cast<unsigned char>(ch) < 0x21) ch = static_cast<char>(ch + 0x21);
            else if (ch == 0x7F) ch = '~';
        if ((control & 1) != 0) {
            x.push_back({uid, std::nullopt});
            continue;
        }
        const auto t = static_cast<std::int64_t>(read_u64(data));
        data.remove_prefix(data.size() < 8 ? data.size() : 8);
        pop3::uid_entry e;
        e.first_seen = pop3::uid_time(std::chrono::seconds(t));
        e.stored = (control & 2) != 0;
        e.deleted_locally = (control & 4) != 0;
        if ((control & 8) != 0) e.vanished_since = pop3::uid_time(std::chrono::seconds(t / 3));
        x.push_back({uid, e});
    }
    return x;
}

void generated(std::string_view data)
{
    const auto salt = read_u64(data);
    data.remove_prefix(data.size() < 8 ? data.size() : 8);
    const std::size_t damage = data.size() * 7919 + salt % 1000;
    const auto x = make_changes(data);
    check_record(x, salt, damage);

    // Two records in a file: decode gives both, in order.
    const auto y = make_changes(data);
    const auto file = journal::encode_header(salt) + journal::encode_record(x, salt) +
                      journal::encode_record(y, salt);
    changes back;
    const auto d = journal::decode(file, collector{&back});
    FUZZ_CHECK(!d.error && !d.torn && d.records == 2 && d.valid_size == file.size());
    auto both = x;
    both.insert(both.end(), y.begin(), y.end());
    FUZZ_CHECK(same(back, both));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 1) return 0;
    const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 3) {
    case 0: whole_file(rest); break;
    case 1: payload(rest); break;
    default: generated(rest); break;
    }
    return 0;
}
