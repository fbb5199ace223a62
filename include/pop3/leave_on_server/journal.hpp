// pop3/leave_on_server/journal.hpp: the record format of `file_uid_store`'s journal, as a
// pure codec: bytes in, changes out (and back). No I/O, no POSIX header: the file store
// does the reading, writing and syncing; this header says what the bytes mean, so it can
// be tested and fuzzed on its own. The format is described at `namespace journal` below.
#ifndef POP3_LEAVE_ON_SERVER_JOURNAL_HPP
#define POP3_LEAVE_ON_SERVER_JOURNAL_HPP

#include <pop3/leave_on_server/store.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace pop3 {

namespace detail {

/// CRC-32C (Castagnoli), table driven; used to detect torn and damaged journal records.
struct crc32c_table {
    std::array<std::uint32_t, 256> v{};
};

constexpr crc32c_table make_crc32c_table() noexcept
{
    crc32c_table t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        t.v[i] = c;
    }
    return t;
}

inline constexpr crc32c_table crc32c_lookup = make_crc32c_table();

/// Continues a CRC-32C over `size` bytes (start with `crc = 0`).
inline std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t size) noexcept
{
    const auto* p = static_cast<const unsigned char*>(data);
    crc = ~crc;
    for (std::size_t i = 0; i < size; ++i) crc = crc32c_lookup.v[(crc ^ p[i]) & 0xffu] ^ (crc >> 8);
    return ~crc;
}

inline void put_u8(std::string& out, std::uint8_t v) { out.push_back(static_cast<char>(v)); }
inline void put_u32(std::string& out, std::uint32_t v)
{
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xffu));
}
inline void put_u64(std::string& out, std::uint64_t v)
{
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xffu));
}
inline std::uint32_t get_u32(const char* p) noexcept
{
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}
inline std::uint64_t get_u64(const char* p) noexcept
{
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}

} // namespace detail

/// The journal format of `file_uid_store`, as a pure codec (no I/O):
///
/// ```
/// header (32 bytes): "POP3UIDS" | u32 version (1) | u32 header size (32) | u64 salt |
///                    u32 reserved (0) | u32 crc32c(bytes 0..27)
/// record (16-byte aligned): u32 magic "UIDJ" | u32 payload size | u32 change count |
///                    u32 crc32c(salt, bytes 0..11) | payload | u32 crc32c(salt, payload) |
///                    zero padding to a multiple of 16
/// change: u8 op (1 set, 2 forget) | u32 uid size | uid bytes |
///         for set: i64 first_seen (s) | u8 flags (1 stored, 2 deleted locally,
///                  4 vanished) | [i64 vanished_since]
/// ```
///
/// All integers little-endian. Encoding is canonical: a record `decode` accepts encodes
/// back to the same bytes.
namespace journal {

inline constexpr char file_magic[8] = {'P', 'O', 'P', '3', 'U', 'I', 'D', 'S'}; ///< file start
inline constexpr std::uint32_t version = 1;                ///< the format version this code writes
inline constexpr std::size_t header_size = 32;             ///< bytes of the file header
inline constexpr std::uint32_t record_magic = 0x4A444955u; ///< "UIDJ", little-endian
inline constexpr std::size_t record_header_size = 16;      ///< bytes of a record header
/// The largest payload a record may claim: bounds what a damaged file makes us read.
inline constexpr std::uint32_t max_payload = 256u << 20;

inline constexpr std::uint8_t op_set = 1;               ///< change: set a UID's entry
inline constexpr std::uint8_t op_forget = 2;            ///< change: forget a UID
inline constexpr std::uint8_t flag_stored = 1;          ///< `uid_entry::stored`
inline constexpr std::uint8_t flag_deleted_locally = 2; ///< `uid_entry::deleted_locally`
inline constexpr std::uint8_t flag_vanished = 4;        ///< `uid_entry::vanished_since` follows

/// `n` rounded up to the record alignment (16).
constexpr std::size_t padded(std::size_t n) noexcept { return (n + 15u) & ~std::size_t{15}; }

/// CRC-32C of `data` seeded with the file's salt.
inline std::uint32_t salted_crc(std::uint64_t salt, const char* data, std::size_t size) noexcept
{
    char s[8];
    for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((salt >> (8 * i)) & 0xffu);
    return detail::crc32c(detail::crc32c(0, s, sizeof s), data, size);
}

/// The file header for a journal with this salt.
inline std::string encode_header(std::uint64_t salt)
{
    std::string out(file_magic, sizeof file_magic);
    detail::put_u32(out, version);
    detail::put_u32(out, static_cast<std::uint32_t>(header_size));
    detail::put_u64(out, salt);
    detail::put_u32(out, 0);
    detail::put_u32(out, detail::crc32c(0, out.data(), out.size()));
    return out;
}

/// Checks the header at the start of `file` and reads its salt.
/// @return store_errc::not_a_store (not ours), corrupt, unsupported_version, or success
inline error_code decode_header(std::string_view file, std::uint64_t& salt)
{
    if (file.size() < header_size) {
        // The store never creates a journal without its complete header: a short file
        // that starts like ours is damaged, anything else is foreign.
        const auto n = std::min(file.size(), sizeof file_magic);
        if (n > 0 && std::memcmp(file.data(), file_magic, n) != 0) return store_errc::not_a_store;
        return store_errc::corrupt;
    }
    if (std::memcmp(file.data(), file_magic, sizeof file_magic) != 0)
        return store_errc::not_a_store;
    if (detail::get_u32(file.data() + 28) != detail::crc32c(0, file.data(), 28))
        return store_errc::corrupt;
    if (detail::get_u32(file.data() + 8) != version) return store_errc::unsupported_version;
    if (detail::get_u32(file.data() + 12) != header_size) return store_errc::corrupt;
    salt = detail::get_u64(file.data() + 16);
    return {};
}

/// Appends the change "set `uid` to `e`" to a record payload.
inline void encode_set(std::string& payload, std::string_view uid, const uid_entry& e)
{
    detail::put_u8(payload, op_set);
    detail::put_u32(payload, static_cast<std::uint32_t>(uid.size()));
    payload.append(uid);
    detail::put_u64(payload, static_cast<std::uint64_t>(e.first_seen.time_since_epoch().count()));
    std::uint8_t flags = 0;
    if (e.stored) flags |= flag_stored;
    if (e.deleted_locally) flags |= flag_deleted_locally;
    if (e.vanished_since) flags |= flag_vanished;
    detail::put_u8(payload, flags);
    if (e.vanished_since)
        detail::put_u64(payload,
                        static_cast<std::uint64_t>(e.vanished_since->time_since_epoch().count()));
}

/// Appends one change to a record payload.
inline void encode_change(std::string& payload, const uid_change& c)
{
    if (c.entry) return encode_set(payload, c.uid, *c.entry);
    detail::put_u8(payload, op_forget);
    detail::put_u32(payload, static_cast<std::uint32_t>(c.uid.size()));
    payload.append(c.uid);
}

/// The bytes `encode_set(uid, e)` appends.
inline std::size_t encoded_size(std::string_view uid, const uid_entry& e) noexcept
{
    return 1 + 4 + uid.size() + 8 + 1 + (e.vanished_since ? 8 : 0);
}

/// One whole record around a payload of `count` changes.
inline std::string encode_record(std::string_view payload, std::uint32_t count, std::uint64_t salt)
{
    std::string out;
    out.reserve(padded(record_header_size + payload.size() + 4));
    detail::put_u32(out, record_magic);
    detail::put_u32(out, static_cast<std::uint32_t>(payload.size()));
    detail::put_u32(out, count);
    detail::put_u32(out, salted_crc(salt, out.data(), 12));
    out.append(payload);
    detail::put_u32(out, salted_crc(salt, payload.data(), payload.size()));
    out.resize(padded(out.size()), '\0');
    return out;
}

/// One whole record holding `changes` (UIDs must be `is_storable_uid`, or `decode` refuses
/// the record).
inline std::string encode_record(const std::vector<uid_change>& changes, std::uint64_t salt)
{
    std::string payload;
    for (const auto& c : changes) encode_change(payload, c);
    return encode_record(payload, static_cast<std::uint32_t>(changes.size()), salt);
}

/// Decodes a checksummed payload, calling `on_change(std::string_view uid, const
/// std::optional<uid_entry>& entry)` for each change in order (an empty entry: forget).
/// @return false if it is not what `encode_change` writes (the record is corrupt); the
///         changes before the fault were already passed on
template <class OnChange>
bool decode_payload(std::string_view payload, std::uint32_t count, OnChange&& on_change)
{
    const char* p = payload.data();
    const char* end = p + payload.size();
    std::uint32_t seen = 0;
    while (p < end) {
        if (end - p < 5) return false;
        const auto op = static_cast<std::uint8_t>(*p);
        const auto uid_size = detail::get_u32(p + 1);
        p += 5;
        if (uid_size > static_cast<std::size_t>(end - p)) return false;
        const std::string_view uid(p, uid_size);
        if (!is_storable_uid(uid)) return false;
        p += uid_size;
        if (op == op_forget) {
            on_change(uid, std::optional<uid_entry>{});
        } else if (op == op_set) {
            if (end - p < 9) return false;
            uid_entry e;
            e.first_seen =
                uid_time(std::chrono::seconds(static_cast<std::int64_t>(detail::get_u64(p))));
            const auto flags = static_cast<std::uint8_t>(p[8]);
            p += 9;
            if ((flags & ~(flag_stored | flag_deleted_locally | flag_vanished)) != 0) return false;
            e.stored = (flags & flag_stored) != 0;
            e.deleted_locally = (flags & flag_deleted_locally) != 0;
            if ((flags & flag_vanished) != 0) {
                if (end - p < 8) return false;
                e.vanished_since =
                    uid_time(std::chrono::seconds(static_cast<std::int64_t>(detail::get_u64(p))));
                p += 8;
            }
            on_change(uid, std::optional<uid_entry>{e});
        } else {
            return false;
        }
        ++seen;
    }
    return seen == count;
}

/// What `scan_record` found at a record boundary.
enum class record_status {
    complete, ///< a whole record with valid checksums: decode `payload`
    torn,     ///< the tail of an append that never completed: drop it
    corrupt   ///< acknowledged data is damaged: refuse the file
};

/// What `scan_record` returns: the record's status and, when complete, where it is.
struct scanned_record {
    record_status status = record_status::corrupt; ///< what was found
    std::size_t size = 0;     ///< for `complete`: the record's bytes, padding included
    std::string_view payload; ///< for `complete`: its checksummed payload
    std::uint32_t count = 0;  ///< for `complete`: the number of changes it claims
};

/// True when a valid record header (magic and header checksum) starts at `h`, which has
/// at least `record_header_size` bytes.
inline bool valid_record_header(const char* h, std::uint64_t salt) noexcept
{
    return detail::get_u32(h) == record_magic &&
           detail::get_u32(h + 12) == salted_crc(salt, h, 12);
}

/// Checks the record that starts `rest` (the file from a record boundary to its end, not
/// empty). A record is judged torn only when it is the last one: a valid header whose
/// record runs past the end or ends exactly there with a bad checksum, an incomplete
/// header, or an all-zero header (an unwritten block) with no valid record after it.
inline scanned_record scan_record(std::string_view rest, std::uint64_t salt)
{
    scanned_record r;
    if (rest.size() < record_header_size) {
        r.status = record_status::torn;
        return r;
    }
    if (!valid_record_header(rest.data(), salt)) {
        bool zero = true;
        for (std::size_t i = 0; i < record_header_size; ++i)
            if (rest[i] != '\0') zero = false;
        if (!zero) return r;
        for (std::size_t p = 16; p + record_header_size <= rest.size(); p += 16)
            if (valid_record_header(rest.data() + p, salt)) return r;
        r.status = record_status::torn;
        return r;
    }
    const auto payload_size = detail::get_u32(rest.data() + 4);
    if (payload_size > max_payload) return r;
    const auto size = padded(record_header_size + payload_size + 4);
    if (size > rest.size()) {
        r.status = record_status::torn;
        return r;
    }
    const char* payload = rest.data() + record_header_size;
    // The padding is not under the checksum: it must be zeros.
    bool crc_ok = detail::get_u32(payload + payload_size) == salted_crc(salt, payload, payload_size);
    for (std::size_t i = record_header_size + payload_size + 4; i < size; ++i)
        if (rest[i] != '\0') crc_ok = false;
    if (!crc_ok) {
        if (size == rest.size()) r.status = record_status::torn; // the last one, partly written
        return r;
    }
    r.status = record_status::complete;
    r.size = size;
    r.payload = std::string_view(payload, payload_size);
    r.count = detail::get_u32(rest.data() + 8);
    return r;
}

/// What `decode` made of a whole journal file.
struct decoded_journal {
    error_code error;             ///< store_errc::not_a_store, unsupported_version, corrupt
    std::uint64_t salt = 0;       ///< the file's salt (valid once the header was read)
    std::size_t records = 0;      ///< complete records decoded
    std::size_t valid_size = 0;   ///< bytes up to the end of the last good record
    bool torn = false;            ///< bytes after `valid_size` are a torn append: drop them
    std::size_t error_offset = 0; ///< for `corrupt` past the header: where the damage is
};

/// Decodes a whole journal file, calling `on_change` (as `decode_payload`) for every
/// change of every complete record in order. On an error, the changes of the records
/// before the damage were already passed on.
template <class OnChange> decoded_journal decode(std::string_view file, OnChange&& on_change)
{
    decoded_journal d;
    if ((d.error = decode_header(file, d.salt))) return d;
    std::size_t at = header_size;
    while (at < file.size()) {
        const auto r = scan_record(file.substr(at), d.salt);
        if (r.status == record_status::torn) {
            d.torn = true;
            break;
        }
        if (r.status == record_status::corrupt || !decode_payload(r.payload, r.count, on_change)) {
            d.error = store_errc::corrupt;
            d.error_offset = at;
            d.valid_size = at;
            return d;
        }
        ++d.records;
        at += r.size;
    }
    d.valid_size = at;
    return d;
}

} // namespace journal

} // namespace pop3

#endif // POP3_LEAVE_ON_SERVER_JOURNAL_HPP
