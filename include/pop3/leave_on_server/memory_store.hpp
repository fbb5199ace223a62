// pop3/leave_on_server/memory_store.hpp: a UID store in memory only (tests, dry runs).
#ifndef POP3_LEAVE_ON_SERVER_MEMORY_STORE_HPP
#define POP3_LEAVE_ON_SERVER_MEMORY_STORE_HPP

#include <pop3/leave_on_server/store.hpp>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

namespace pop3 {

/// A store in memory only: NOT durable (everything is lost with the object). For tests,
/// dry runs, and applications that persist the state by other means.
class memory_uid_store final : public uid_store {
public:
    std::size_t size() const noexcept override { return entries_.size(); }

protected:
    std::optional<uid_entry> do_find(std::string_view uid, error_code&) const override
    {
        const auto it = entries_.find(std::string(uid));
        if (it == entries_.end()) return std::nullopt;
        return it->second;
    }
    void do_for_each(const std::function<void(std::string_view, const uid_entry&)>& f,
                     error_code&) const override
    {
        for (const auto& [uid, entry] : entries_) f(uid, entry);
    }
    void do_apply(const std::vector<uid_change>& changes, error_code&) override
    {
        for (const auto& c : changes) {
            if (c.entry) entries_.insert_or_assign(c.uid, *c.entry);
            else entries_.erase(c.uid);
        }
    }

private:
    std::unordered_map<std::string, uid_entry> entries_;
};

} // namespace pop3

#endif // POP3_LEAVE_ON_SERVER_MEMORY_STORE_HPP
