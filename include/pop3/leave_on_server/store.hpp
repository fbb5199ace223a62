// pop3/leave_on_server/store.hpp: where leave-on-server remembers which unique ids (UIDL)
// it fetched: the store interface, its error codes and the values it holds.
//
// `pop3::uid_store` is the interface (keep the state in your own database by implementing
// it); `pop3::memory_uid_store` (memory_store.hpp) and `pop3::file_uid_store`
// (file_store.hpp) are the two the library ships.
#ifndef POP3_LEAVE_ON_SERVER_STORE_HPP
#define POP3_LEAVE_ON_SERVER_STORE_HPP

#include <pop3/exception.hpp>
#include <pop3/uid.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

namespace pop3 {

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Errors of a UID store (category "pop3.uid_store"). I/O failures of the file store come
/// as `std::system_category()` codes (errno) instead.
enum class store_errc {
    locked = 1,          ///< another process (or object) has the store open: one run at a time
    not_a_store,         ///< the file is not a pop3 UID state file (wrong magic)
    unsupported_version, ///< the file was written by a newer, incompatible version
    corrupt,             ///< the file is damaged (bad checksum or record) before its last record
    invalid_uid,         ///< a UID that is empty, too long, or has bytes below 0x21
    store_failed,        ///< an earlier write or sync failed; the store refuses writes: reopen it
    not_open,            ///< the store object has no open file
};

namespace detail {

class store_category_impl final : public error_category_base {
public:
    using error_category_base::message; // Boost's has a buffer overload too
    const char* name() const noexcept override { return "pop3.uid_store"; }

    std::string message(int value) const override
    {
        switch (static_cast<store_errc>(value)) {
        case store_errc::locked:
            return "the UID state file is in use by another fetch for this account; wait for "
                   "it to finish (only one run per account at a time)";
        case store_errc::not_a_store:
            return "the file is not a pop3 UID state file (wrong magic); check the path, it "
                   "was not modified";
        case store_errc::unsupported_version:
            return "the UID state file was written by a newer version of the library; "
                   "upgrade the library";
        case store_errc::corrupt:
            return "the UID state file is damaged (checksum mismatch before its last record); "
                   "restore it from a backup: deleting it makes the next run fetch every "
                   "message on the server again";
        case store_errc::invalid_uid:
            return "invalid unique id: it must be 1 to 1 MiB bytes in the range 0x21-0xFF";
        case store_errc::store_failed:
            return "an earlier write to the UID state file failed; close and reopen the store "
                   "(reopening recovers the last acknowledged state)";
        case store_errc::not_open:
            return "the UID store is not open";
        }
        return "unknown pop3 UID store error";
    }
};

} // namespace detail

/// The category of `pop3::store_errc`, named "pop3.uid_store".
inline const error_category_base& store_category() noexcept
{
    static const detail::store_category_impl instance;
    return instance;
}

/// Makes `error_code ec = pop3::store_errc::locked;` work.
inline error_code make_error_code(store_errc e) noexcept
{
    return {static_cast<int>(e), store_category()};
}

} // namespace pop3

POP3_DETAIL_REGISTER_ERROR_CODE_ENUM(pop3::store_errc);

namespace pop3 {

// ---------------------------------------------------------------------------------------------
// What a store holds
// ---------------------------------------------------------------------------------------------

/// A point in time as the stores keep it: `std::chrono::system_clock`, whole seconds.
using uid_time = std::chrono::time_point<std::chrono::system_clock, std::chrono::seconds>;

/// The current time as a `uid_time`.
inline uid_time uid_clock_now() noexcept
{
    return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
}

/// What the store knows about one unique id.
struct uid_entry {
    /// When the UID was first seen (its delivery was first started).
    uid_time first_seen{};
    /// True once the application confirmed the message is stored locally. False means
    /// "delivery started": the intent was recorded before delivering, and the message
    /// may or may not have reached the application's storage (see `fetch_new`).
    bool stored = true;
    /// Set by the application when it deleted its own copy
    /// (`leave_policy::delete_when_deleted_locally`).
    bool deleted_locally = false;
    /// Since when the UID is missing from the server's listing, when the policy forgets
    /// vanished UIDs only after a grace period (`leave_policy::forget_after`).
    std::optional<uid_time> vanished_since;

    /// Equal when every member is.
    friend bool operator==(const uid_entry& a, const uid_entry& b) noexcept
    {
        return a.first_seen == b.first_seen && a.stored == b.stored &&
               a.deleted_locally == b.deleted_locally && a.vanished_since == b.vanished_since;
    }
    /// Different when any member is.
    friend bool operator!=(const uid_entry& a, const uid_entry& b) noexcept { return !(a == b); }
};

/// One change to a store: set the entry of `uid`, or forget `uid` when `entry` is empty.
struct uid_change {
    std::string uid;                ///< the UID to change (must pass `is_storable_uid`)
    std::optional<uid_entry> entry; ///< the new entry; empty to forget the UID
};

/// The longest UID a store accepts: the library's one rule (pop3/uid.hpp).
inline constexpr std::size_t max_stored_uid_length = max_valid_uid_length;

/// True for a UID a store accepts: exactly the UIDs the library accepts anywhere
/// (`pop3::is_valid_uid`), so that nothing the parser hands over is refused here.
inline bool is_storable_uid(std::string_view uid) noexcept { return is_valid_uid(uid); }

// ---------------------------------------------------------------------------------------------
// The interface
// ---------------------------------------------------------------------------------------------

/// The state of leave-on-server for one account: UID -> `uid_entry`.
///
/// To keep the state in your own database, derive and implement the four pure virtual
/// functions: `do_find`, `do_for_each`, `do_apply` and `size`. The contract every
/// implementation must keep:
/// - `apply` is atomic and durable: when it returns without error, every change of the
///   batch survives a crash or power loss; when it fails (or the process dies inside it),
///   either all of the batch or none of it is visible afterwards.
/// - reads reflect every successful `apply`.
/// - one writer per account: refuse a second concurrent user instead of interleaving.
///
/// The public functions validate arguments (UIDs: `is_storable_uid`) before calling the
/// implementation. A store is not thread-safe.
class uid_store {
public:
    virtual ~uid_store() = default;

    /// Looks up one UID. The `ec` form sets `ec` to the store's error; the other throws it.
    /// @return the entry, or empty when the UID is unknown (or on error).
    /// @throws pop3::error (the form without `ec`) with the store's error.
    ///@{
    std::optional<uid_entry> find(std::string_view uid, error_code& ec) const
    {
        ec = {};
        return do_find(uid, ec);
    }
    std::optional<uid_entry> find(std::string_view uid) const
    {
        error_code ec;
        auto result = find(uid, ec);
        if (ec) throw pop3::error(ec);
        return result;
    }
    ///@}

    /// Calls `f(uid, entry)` for every entry, in no particular order. `f` must not
    /// change the store. The `ec` form sets `ec` to the store's error; the other throws it.
    /// @throws pop3::error (the form without `ec`) with the store's error.
    ///
    /// ```
    /// store.for_each([](std::string_view uid, const pop3::uid_entry& e) {
    ///     std::cout << uid << (e.stored ? " stored\n" : " delivery started\n");
    /// });
    /// ```
    ///@{
    void for_each(const std::function<void(std::string_view, const uid_entry&)>& f,
                  error_code& ec) const
    {
        ec = {};
        do_for_each(f, ec);
    }
    void for_each(const std::function<void(std::string_view, const uid_entry&)>& f) const
    {
        error_code ec;
        for_each(f, ec);
        if (ec) throw pop3::error(ec);
    }
    ///@}

    /// Applies a batch of changes atomically and durably (see the class comment): each
    /// `uid_change` sets its UID's entry, or forgets the UID when `entry` is empty. Later
    /// changes of the same UID in a batch win; an empty batch does nothing.
    ///
    /// Errors (set in `ec`, or thrown as `pop3::error` by the form without it):
    /// `store_errc::invalid_uid` when a UID fails `is_storable_uid` (nothing applied), or
    /// the store's own error (for `file_uid_store`: an errno code,
    /// `store_errc::store_failed` after an earlier write failed, `store_errc::not_open`).
    ///@{
    void apply(const std::vector<uid_change>& changes, error_code& ec)
    {
        ec = {};
        for (const auto& c : changes)
            if (!is_storable_uid(c.uid)) {
                ec = store_errc::invalid_uid;
                return;
            }
        if (!changes.empty()) do_apply(changes, ec);
    }
    void apply(const std::vector<uid_change>& changes)
    {
        error_code ec;
        apply(changes, ec);
        if (ec) throw pop3::error(ec);
    }
    ///@}

    /// Sets (inserts or replaces) one UID's entry, durably: `apply` with one change, and
    /// the same errors.
    ///@{
    void record(std::string_view uid, const uid_entry& entry, error_code& ec)
    {
        apply({uid_change{std::string(uid), entry}}, ec);
    }
    void record(std::string_view uid, const uid_entry& entry)
    {
        apply({uid_change{std::string(uid), entry}});
    }
    ///@}

    /// Forgets one UID, durably (nothing happens for an unknown UID): `apply` with one
    /// change, and the same errors.
    ///@{
    void forget(std::string_view uid, error_code& ec)
    {
        apply({uid_change{std::string(uid), std::nullopt}}, ec);
    }
    void forget(std::string_view uid) { apply({uid_change{std::string(uid), std::nullopt}}); }
    ///@}

    /// Tells the store the application deleted its own copy of the message with `uid`
    /// (used by `leave_policy::delete_when_deleted_locally`). Errors as for `find` and
    /// `apply`, set in `ec` or thrown as `pop3::error`.
    /// @return false (and no change) when the UID is unknown or on error; true when it is
    ///         known (also when it was marked already).
    ///@{
    bool mark_deleted_locally(std::string_view uid, error_code& ec)
    {
        auto entry = find(uid, ec);
        if (ec || !entry) return false;
        if (entry->deleted_locally) return true;
        entry->deleted_locally = true;
        record(uid, *entry, ec);
        return !ec;
    }
    bool mark_deleted_locally(std::string_view uid)
    {
        error_code ec;
        const bool known = mark_deleted_locally(uid, ec);
        if (ec) throw pop3::error(ec);
        return known;
    }
    ///@}

    /// The number of entries.
    virtual std::size_t size() const noexcept = 0;

protected:
    /// Looks up `uid`; sets `ec` on failure.
    virtual std::optional<uid_entry> do_find(std::string_view uid, error_code& ec) const = 0;
    /// Enumerates every entry; sets `ec` on failure.
    virtual void do_for_each(const std::function<void(std::string_view, const uid_entry&)>& f,
                             error_code& ec) const = 0;
    /// Applies a non-empty, validated batch atomically and durably; sets `ec` on failure.
    virtual void do_apply(const std::vector<uid_change>& changes, error_code& ec) = 0;
};


} // namespace pop3

#endif // POP3_LEAVE_ON_SERVER_STORE_HPP
