// SPDX-License-Identifier: MIT
#pragma once
// vdnn's sysfs attributes and debugfs entries (core/attribute.hpp), declared in vdnn_driver.hpp:
//
//   sys/class/accel/accel<N>/device/
//     job_timeout_ms    0444  the engines' job timeout (fixed at probe: the schedulers take
//                             their timeout when they are made)
//     fault_log_size    0644  how many MMU faults `mmu_faults` keeps, 1..1024 (default 16):
//                             past unsigned -ERANGE, other input -EINVAL, changing nothing; a smaller size drops
//                             the oldest entries
//   sys/kernel/debug/accel/<N>/      (root's, 0400, as the kernel's debugfs root is 0700; an
//                                    access rule may widen them)
//     engine_queues     0400  per engine: jobs queued (submitted, waiting for a dependency or
//                             for ring space), running (handed to the engine's ring, not
//                             finished: with 8 ring credits several may be), the scheduler's pending
//                             list and credits, and the engine's hardware resets
//     mmu_faults        0400  the fault log, oldest first, then the total count
//
// The callbacks are templates on the device type so that this header can come before the
// driver's definition (their bodies need device_data complete; they are instantiated later).
#include "vdnn_fault_log.hpp"
#include "vdnn_jobs.hpp"

#include <accel/core/attribute.hpp>
#include <accel/core/file_base.hpp>
#include <accel/exec/sched_fence.hpp>

#include <array>
#include <cinttypes>
#include <cstdio>
#include <string>
#include <string_view>

namespace vdnn::attributes {

template <class Dev>
int job_timeout_show(Dev& d, std::string& out) {
    out += std::to_string(d->config.job_timeout.count()) + "\n";
    return 0;
}

template <class Dev>
int fault_log_size_show(Dev& d, std::string& out) {
    out += std::to_string(d->faults.capacity()) + "\n";
    return 0;
}

template <class Dev>
int fault_log_size_store(Dev& d, std::string_view in) {
    unsigned n = 0;
    if (int e = accel::parse_attribute_number(in, n))
        return e; // -EINVAL or -ERANGE, as kstrtoul's caller returns it
    return d->faults.set_capacity(n);
}

inline const char* engine_name(unsigned i) noexcept {
    return i == VDNN_ENGINE_DMA ? "dma" : (i == VDNN_ENGINE_COMPUTE0 ? "compute0" : "compute1");
}

/// Queued and running jobs per engine, from the open files' job records: an unfinished job's
/// finished fence is its scheduler's (sched_fence::scheduler_id names the engine), and its
/// scheduled fence tells whether it reached the engine.
template <class Dev>
int engine_queues_show(Dev& d, std::string& out) {
    using file_type = accel::file<typename Dev::driver_type>;
    std::uint64_t queued[num_engines] = {}, running[num_engines] = {};
    d.for_each_file([&](const accel::file_base& fb) {
        const auto& f = static_cast<const file_type&>(fb);
        if (!f.data().st)
            return;
        std::lock_guard lock(f.data().st->mutex);
        for (const auto& [seqno, record] : f.data().st->jobs) {
            if (!record->finished || record->finished->is_signaled())
                continue;
            accel::sched_fence* sf = accel::to_sched_fence(record->finished.get());
            if (!sf)
                continue;
            for (unsigned i = 0; i < num_engines; ++i) {
                if (d->engines[i]->sched && d->engines[i]->sched->id() == sf->scheduler_id()) {
                    ++(sf->scheduled().is_signaled() ? running[i] : queued[i]);
                    break;
                }
            }
        }
    });
    char line[160];
    std::snprintf(line, sizeof line, "%-10s %8s %8s %8s %9s %10s\n", "engine", "queued", "running", "pending",
                  "credits", "hw_resets");
    out += line;
    for (unsigned i = 0; i < num_engines; ++i) {
        const engine_slot& e = *d->engines[i];
        const std::size_t pending = e.sched ? e.sched->pending_jobs() : 0;
        const std::string credits = e.sched ? std::to_string(e.sched->credit_count()) + "/" +
                                                  std::to_string(e.sched->credit_limit())
                                            : "-";
        std::snprintf(line, sizeof line, "%-10s %8" PRIu64 " %8" PRIu64 " %8zu %9s %10" PRIu64 "\n", engine_name(i),
                      queued[i], running[i], pending, credits.c_str(), static_cast<std::uint64_t>(e.generation.load()));
        out += line;
    }
    return 0;
}

template <class Dev>
int mmu_faults_show(Dev& d, std::string& out) {
    char line[160];
    std::snprintf(line, sizeof line, "%-16s %-10s %8s %18s %8s\n", "time_ns", "engine", "seqno", "va", "command");
    out += line;
    for (const mmu_fault_log::entry& e : d->faults.entries()) {
        std::snprintf(line, sizeof line, "%-16" PRIu64 " %-10s %8" PRIu64 " 0x%016" PRIx64 " %8" PRIu32 "\n",
                      e.when_ns, engine_name(e.engine), e.seqno, e.va, e.command);
        out += line;
    }
    out += "total " + std::to_string(d->faults.total()) + "\n";
    return 0;
}

template <class D>
inline constexpr std::array sysfs{
    accel::attribute<D>{"job_timeout_ms", 0444, &job_timeout_show<accel::device<D>>, nullptr},
    accel::attribute<D>{"fault_log_size", 0644, &fault_log_size_show<accel::device<D>>,
                        &fault_log_size_store<accel::device<D>>, 16},
};

template <class D>
inline constexpr std::array debugfs{
    accel::attribute<D>{"engine_queues", 0400, &engine_queues_show<accel::device<D>>, nullptr},
    accel::attribute<D>{"mmu_faults", 0400, &mmu_faults_show<accel::device<D>>, nullptr},
};

} // namespace vdnn::attributes
