// SPDX-License-Identifier: MIT
// Allocation sweep: the whole two-driver scenario (fault_scenario.hpp) run once for each n,
// failing the nth framework allocation, until a run passes with nothing injected. Every run must
// fail exactly one step, with -ENOMEM, leave the state as it was before that step, leave the
// devices working, and leave nothing behind once everything is closed (plus LeakSanitizer under
// the asan preset). Then the sites reached are checked against every alloc_may_fail() call in
// include/accel: each one is reached by the scenario or named below with the reason it is not.
#include "fault_scenario.hpp"
#include "sites.hpp"

#include <cstdlib>
#include <map>

namespace {

/// alloc_may_fail() sites the scenario cannot reach, and why (file names: every site in it).
const std::map<std::string, const char*> unreachable = {
    {"accel/mm/dma_coherent.hpp", "dma_alloc_coherent: neither example driver allocates coherent DMA memory"},
    {"accel/exec/fence_array.hpp",
     "fence arrays: made when several unsignalled fences are merged (sync_file merge, a reservation object's "
     "singleton, syncobj waits on several points); the scenario's fences have signalled or are single by then"},
    {"accel/exec/drm_exec.hpp:278",
     "drm_exec growing its table: the drivers size it for the job's objects at init(), so it grows only after init()'s "
     "own allocation (line 122) failed in the same run, which a one-failure-per-run sweep never combines"},
};

bool listed_unreachable(const std::string& site) {
    return unreachable.count(site.substr(0, site.find(':'))) != 0 || unreachable.count(site) != 0;
}

} // namespace

namespace {

struct sweep_result {
    std::int64_t points = 0; // allocations the scenario crossed (the clean run's n - 1)
    std::set<std::string> reached;
    std::map<std::string, int> failed_steps;
};

/// n = 1, 2, ... until a run passes with nothing injected. `here`: count the test thread's
/// allocations only (deterministic); else every thread's (the background ones too).
sweep_result sweep(bool here) {
    sweep_result out;
    bool clean = false;
    for (std::int64_t n = 1; n < 2000 && !clean; ++n) {
        CAPTURE(n);
        faults::scenario s;
        const auto before = accel::injected_failures();
        if (here)
            accel::fail_nth_allocation_here(n);
        else
            accel::fail_nth_allocation(n);
        s.run();
        accel::disarm_allocation_faults();
        const bool fired = accel::injected_failures() != before;
        if (!fired) {
            CHECK_MESSAGE(s.failed_step == nullptr, "a clean run failed step ",
                          std::string(s.failed_step ? s.failed_step : ""), " errno ", s.failed_errno);
            clean = true;
            out.points = n - 1;
        } else {
            const auto where = accel::last_injected_allocation();
            const auto site = faults::site_key(where.file, where.line);
            CAPTURE(site);
            out.reached.insert(site);
            INFO("failed step: ", std::string(s.failed_step ? s.failed_step : "(none)"));
            if (std::getenv("FAULTS_VERBOSE"))
                MESSAGE(n << " " << site << " -> " << std::string(s.failed_step ? s.failed_step : "(no step)") << " "
                          << s.failed_errno);
            // Only a background allocation (a scheduler worker's) may fail with no step failing:
            // the job or its bookkeeping absorbs it (drm_exec grows its table on the first lock).
            if (s.failed_step) {
                CHECK(s.failed_errno == -ENOMEM);
                ++out.failed_steps[s.failed_step];
            } else {
                // On the scenario's own thread two failures are absorbed by design: drm_exec's
                // init() (its first lock grows the table instead) and the mock's poll joining a
                // wait queue (that queue cannot wake it early, its timeout ends the wait; the
                // event polled for is already there).
                CHECK((!here || site.rfind("accel/exec/drm_exec.hpp:", 0) == 0 ||
                       site.rfind("accel/core/wait_queue.hpp:", 0) == 0));
            }
        }
        s.smoke();
        s.teardown();
        s.check_nothing_left();
    }
    CHECK(clean);
    return out;
}

} // namespace

TEST_CASE("every framework allocation failed in turn: a clean ENOMEM, state unchanged, no leak") {
    const sweep_result own = sweep(true);
    const sweep_result all = sweep(false);
    MESSAGE("allocation points the scenario crosses: " << own.points << " on its own thread, " << all.points
                                                        << " with the background threads; distinct sites: "
                                                        << own.reached.size() << " / " << all.reached.size());
    CHECK(own.points > 60);
    for (const auto& [step, count] : own.failed_steps)
        MESSAGE("  " << step << ": " << count);

    std::set<std::string> reached = own.reached;
    reached.insert(all.reached.begin(), all.reached.end());
    const auto sites = faults::source_sites("alloc_may_fail()");
    auto missing = [&] {
        for (const auto& site : sites)
            if (!reached.count(site) && !listed_unreachable(site))
                return true;
        return false;
    };
    // A fence callback (vdnn's JOB_DONE event) runs on the test thread or on an engine's,
    // as timing has it: on the test thread it shifts the count by one after it, and a run can
    // step over the site next to it; on an engine's only an every-thread sweep fails it, when
    // the background allocations fall right. A few more sweeps of both kinds catch what one
    // stepped over.
    for (int again = 0; again < 6 && missing(); ++again) {
        const sweep_result more = sweep(again % 2 == 1);
        reached.insert(more.reached.begin(), more.reached.end());
    }
    for (const auto& site : sites) {
        if (reached.count(site))
            continue;
        INFO("alloc_may_fail() not reached: ", site);
        CHECK(listed_unreachable(site));
    }
}
