// Benchmark of the leave-on-server planner: a 100,000-UID mailbox with 99,990 UIDs already
// in a file_uid_store (the realistic case: the store is loaded from its journal first).
//
// Prints "METRIC <name> <value>" lines (best of several runs); not a pass/fail test. Exits
// non-zero only when the plan is wrong.
//
//   plan_100k_ms        plan_fetch: 100,000 UIDs, 99,990 known (10 to fetch, 1 to forget)
//   store_open_100k_ms  file_uid_store::open of a journal holding those 99,990 entries
//   store_record_us     one durable record (append + fdatasync) in that store
#include <pop3/fetch_plan.hpp>
#include <pop3/uid_store.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

using bench_clock = std::chrono::steady_clock;

double ms_since(bench_clock::time_point start)
{
    return std::chrono::duration<double, std::milli>(bench_clock::now() - start).count();
}

} // namespace

int main()
{
    constexpr std::size_t total = 100000;
    constexpr int runs = 7;
    const auto now = pop3::uid_clock_now();

    // A listing like Dovecot's (16 hex digits), in message-number order.
    std::vector<pop3::message_uid> listing;
    listing.reserve(total);
    std::vector<pop3::uid_change> known;
    known.reserve(total);
    for (std::size_t i = 0; i < total; ++i) {
        char uid[40];
        std::snprintf(uid, sizeof uid, "%08zx%08x", i * 3 + 1, 0x6553f101u);
        listing.push_back({static_cast<pop3::message_number>(i + 1), uid});
        if (i % 10000 != 0) // 10 unknown
            known.push_back({uid, pop3::uid_entry{now - std::chrono::hours(24 * (i % 30)), true,
                                                  false, std::nullopt}});
    }
    known.push_back({"vanished", pop3::uid_entry{now, true, false, std::nullopt}});

    std::string dir_template =
        (std::filesystem::temp_directory_path() / "pop3-bench-plan-XXXXXX").string();
    if (::mkdtemp(dir_template.data()) == nullptr) {
        std::perror("mkdtemp");
        return 1;
    }
    const std::string dir = dir_template;
    const auto path = dir + "/bench.uids";
    int status = 0;
    {
        pop3::file_uid_store store(path);
        store.apply(known); // one batch: one record, one sync
    }

    double best_open = 1e300, best_plan = 1e300, best_record = 1e300;
    for (int r = 0; r < runs; ++r) {
        auto start = bench_clock::now();
        pop3::file_uid_store store(path);
        best_open = std::min(best_open, ms_since(start));
        if (store.size() != known.size()) {
            std::fprintf(stderr, "store holds %zu entries, expected %zu\n", store.size(),
                         known.size());
            status = 1;
        }

        start = bench_clock::now();
        const auto plan =
            pop3::plan_fetch(listing, {}, store, pop3::leave_policy::delete_older_than_days(14), now);
        best_plan = std::min(best_plan, ms_since(start));
        if (plan.fetch.size() != 10 || plan.forget_count != 1 || plan.known != total - 10) {
            std::fprintf(stderr, "wrong plan: fetch %zu forget %zu known %zu\n", plan.fetch.size(),
                         plan.forget_count, plan.known);
            status = 1;
        }

        start = bench_clock::now();
        store.record("new-" + std::to_string(r), pop3::uid_entry{now, true, false, std::nullopt});
        best_record = std::min(best_record, ms_since(start) * 1000.0);
        store.forget("new-" + std::to_string(r));
    }

    std::printf("METRIC plan_100k_ms %.3f\n", best_plan);
    std::printf("METRIC store_open_100k_ms %.3f\n", best_open);
    std::printf("METRIC store_record_us %.1f\n", best_record);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return status;
}
