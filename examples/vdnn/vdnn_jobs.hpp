// SPDX-License-Identifier: MIT
#pragma once
// vdnn's jobs: what SUBMIT builds, what the schedulers run, and how a job's end reaches WAIT
// and the client's event queue.
//
// One scheduler per engine (COMPUTE0, COMPUTE1, DMA), each over a simulated engine thread
// (accel::sim_engine) that runs the command stream through the MMU (vdnn_engine_exec.hpp) and
// signals the job's hardware fence from that thread. Every file has an entity on each
// scheduler. All three schedulers form one reset domain (accel::reset_domain): a hung job (the
// scheduler's timeout) or ACCEL_IOCTL_RESET stops them all, resets the engines, and either
// resubmits the innocent jobs (vdnn's policy) or cancels them.
//
// How a job ended is read from its finished fence, whatever ended it:
//   0            VDNN_STATUS_OK
//   -EFAULT      VDNN_STATUS_MMU_FAULT (fault_va from the engine)
//   -EINVAL      VDNN_STATUS_BAD_COMMAND
//   -ENOMEM      VDNN_STATUS_BAD_COMMAND (no scratch memory for a command, as the uAPI says)
//   -ETIMEDOUT   VDNN_STATUS_TIMEOUT (the reset domain blames the hung job)
//   anything else (-ECANCELED, -ESRCH from a closed file, -EIO from a failed reset)
//                VDNN_STATUS_CANCELLED
#include "vdnn_engine_exec.hpp"
#include "vdnn_fault_log.hpp"
#include "vdnn_memory.hpp"
#include "vdnn_mmu.hpp"
#include "vdnn_uapi.h"
#include "vdnn_vm.hpp"

#include <accel/accel.hpp>
#include <accel/exec/reset_domain.hpp>
#include <accel/exec/scheduler.hpp>
#include <accel/exec/sim_hw.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <thread>
#include <vector>

namespace vdnn {

inline constexpr unsigned num_engines = 3;
inline constexpr std::uint32_t max_bo_handles = 64;
inline constexpr std::uint32_t max_deps = 16;
/// Finished jobs a file remembers for WAIT by seqno; older ones answer -ENOENT.
inline constexpr std::size_t job_history = 4096;

/// Where a file's job-completion events go; detached when the file closes (events for a closed
/// file are dropped, as drm_send_event drops them for a file being released).
class event_sink {
public:
    explicit event_sink(accel::file_base& f) noexcept : file_(&f) {}
    void detach() noexcept {
        std::lock_guard lock(mutex_);
        file_ = nullptr;
    }
    /// -ENOMEM when the file's 4096 bytes of event space are used up (the event is lost, as
    /// with drm_event_reserve_init), 0 otherwise (also when the file is gone).
    int send(const void* ev, std::size_t len) noexcept {
        std::lock_guard lock(mutex_);
        return file_ ? file_->send_event(ev, len) : 0;
    }

private:
    std::mutex mutex_;
    accel::file_base* file_;
};

/// What the file keeps of a job: its fence and what the engine reported.
struct job_record {
    std::uint64_t seqno = 0;
    accel::fence_ptr finished;
    mutable std::mutex mutex;
    exec_result result; // what the engine reported (guarded by mutex: a stopped engine may
                        // still write it while a reset has already completed the job)

    void set_result(const exec_result& r) noexcept {
        std::lock_guard lock(mutex);
        result = r;
    }

    /// The job's status and error once `finished` signalled.
    void outcome(__u32& status, __s32& error, __u64& fault_va) const noexcept {
        std::lock_guard lock(mutex);
        error = finished->error();
        fault_va = 0;
        switch (error) {
        case 0: status = VDNN_STATUS_OK; break;
        case -EFAULT:
            status = VDNN_STATUS_MMU_FAULT;
            fault_va = result.fault_va;
            break;
        case -EINVAL:
        case -ENOMEM: status = VDNN_STATUS_BAD_COMMAND; break;
        case -ETIMEDOUT: status = VDNN_STATUS_TIMEOUT; break;
        default: status = VDNN_STATUS_CANCELLED; break;
        }
    }
};

/// The job the schedulers run.
struct job : accel::sched_job {
    unsigned engine = 0;
    std::shared_ptr<const std::vector<std::byte>> stream; // copied and validated at SUBMIT
    std::vector<accel::gem_ref> bos;          // bo_handles: kept alive until the job is freed
    std::shared_ptr<vm> space;                // the submitter's VA space, alive while the job runs
    std::shared_ptr<job_record> record;
};

/// The JOB_DONE event of a job submitted with VDNN_SUBMIT_EVENT: a callback on the job's
/// finished fence that owns what the event needs and frees itself once it ran. It is not part
/// of the job: the scheduler may free a job as soon as its finished fence reads signalled,
/// which is before that fence's callbacks have all run.
struct done_event final : accel::fence_cb {
    std::shared_ptr<event_sink> sink;
    std::shared_ptr<job_record> record;
    std::uint64_t user_data = 0;
};

struct device_state;

/// The scheduler operations of one engine.
struct engine_ops {
    using job_type = job;
    device_state* dev = nullptr;
    unsigned index = 0;

    accel::result<accel::fence_ptr> run_job(job& j);
    accel::timeout_status timedout_job(job& j);
    void free_job(job* j) { delete j; }
    void cancel_job(job& j);
};

using scheduler_type = accel::scheduler<engine_ops>;
using entity_type = accel::sched_entity<engine_ops>;

/// One engine: its command executor, the simulated ring, the stop switch of its running job
/// and its scheduler.
struct engine_slot {
    explicit engine_slot(unsigned kind, bool debug_hang) : exec(kind, debug_hang) {}
    engine exec;
    exec_control control;
    /// Hardware resets of this engine so far: a job submitted before a reset must not run
    /// after it (its hardware fence was detached; a resubmit runs it again under the new one).
    std::atomic<std::uint64_t> generation{0};
    accel::sim_engine hw;
    std::unique_ptr<scheduler_type> sched;
};

} // namespace vdnn

namespace vdnn {

/// How a vdnn device is made (device<driver>::create's arguments).
struct device_config {
    bool debug_hang = false;                                   // accept VDNN_OP_DEBUG_HANG
    std::chrono::milliseconds job_timeout{2000};               // a job running longer hung
    accel::reset_policy policy = accel::reset_policy::resubmit;
};

/// The clock INFO's ENGINE_BUSY reads for one engine (engine id 0: the compute engines, 1: DMA).
struct engine_busy_clock final : accel::engine_clock {
    const scheduler_type* sched = nullptr;
    std::uint32_t id = 0;
    std::uint32_t engine_id() const noexcept override { return id; }
    std::uint64_t busy_ns() const noexcept override { return static_cast<std::uint64_t>(sched->busy_ns()); }
};

/// Everything of a device that jobs reach (the driver's device_data holds it).
struct device_state {
    explicit device_state(const device_config& c)
        : config(c), engines{std::make_unique<engine_slot>(VDNN_ENGINE_COMPUTE0, c.debug_hang),
                             std::make_unique<engine_slot>(VDNN_ENGINE_COMPUTE1, c.debug_hang),
                             std::make_unique<engine_slot>(VDNN_ENGINE_DMA, c.debug_hang)} {}

    device_config config;
    device_memory mem;
    std::unique_ptr<engine_slot> engines[num_engines];
    engine_busy_clock clocks[num_engines];
    std::unique_ptr<accel::reset_domain> domain;
    std::mutex bo_fences; // guards every object's last_job
    mmu_fault_log faults; // the engines' last MMU faults (debugfs mmu_faults)

    /// The hardware reset of the reset domain: stop what the engines run, drop what they hold.
    int reset_hardware() noexcept {
        for (auto& e : engines)
            e->hw.hang(); // start nothing new while the running job is being stopped
        for (auto& e : engines) {
            // The generation goes first: a job just starting on the engine either sees it (and
            // does not run) or cleared its control before this stop (and sees the stop).
            e->generation.fetch_add(1);
            e->control.stop(VDNN_STATUS_TIMEOUT); // a hung job (DEBUG_HANG) returns now
        }
        for (auto& e : engines)
            e->hw.reset(-ECANCELED); // drops the rest; fences of detached jobs matter to no one
        return fail_next_reset.exchange(0);
    }
    /// Unplug, after the schedulers are gone: every engine drops what it holds, and the job
    /// running on it (a hung one too) is stopped and has returned before this does: no engine
    /// is still inside a job of an unplugged device (destroying the device joins the engine
    /// threads, and a hung one would never return). The stop is repeated until the engine is
    /// idle: a job that was just starting clears its engine's control first.
    void stop_engines() noexcept {
        for (auto& e : engines) {
            e->hw.reset(-ECANCELED);
            while (e->hw.in_flight() != 0) {
                e->control.stop(VDNN_STATUS_CANCELLED);
                std::this_thread::sleep_for(std::chrono::microseconds(100));
            }
        }
    }
    /// Test and demo hook: the next hardware reset fails with this error (once).
    std::atomic<int> fail_next_reset{0};
};

/// Runs a job's stream on an engine a command at a time, each under the MMU lock held for
/// reading (for that command's page-table walks and copies), except VDNN_OP_DEBUG_HANG, which
/// touches no memory and waits for its stop without the lock: a hung engine must not hold off
/// every VM_BIND, VM_UNBIND and file close of the device (they take the lock for writing) until
/// the job timeout. So a job's VA space and the physical map stay unchanged while a command
/// runs; between two commands a bind of another file may come. `command` in the result counts
/// over the whole stream, as engine::run's.
inline exec_result run_stream(engine_slot& slot, device_memory& mem, std::span<const std::byte> stream, const vm& space) {
    page_table_mmu<page_table> mmu(space.tables());
    exec_result r;
    u32 index = 0;
    for (std::size_t off = 0; off < stream.size(); ++index) {
        vdnn_cmd_header h;
        std::memcpy(&h, stream.data() + off, sizeof h);
        const std::size_t size = h.length_bytes; // validated at SUBMIT: a whole command
        const std::span<const std::byte> cmd = stream.subspan(off, size);
        off += size;
        if (h.op == VDNN_OP_DEBUG_HANG) {
            r = slot.exec.run(cmd, mmu, mem.phys, &slot.control);
        } else {
            std::shared_lock lock(mem.mmu_lock);
            r = slot.exec.run(cmd, mmu, mem.phys, &slot.control);
        }
        if (r.error) {
            r.command = index;
            return r;
        }
    }
    r.command = index;
    return r;
}

inline accel::result<accel::fence_ptr> engine_ops::run_job(job& j) {
    // A job that already carries an error (the hung job of a reset being resubmitted, a job of
    // a guilty context) is not run again: it completes with that error (amdgpu skips it too).
    if (j.finished()->error())
        return accel::fence_ptr();
    engine_slot& slot = *dev->engines[index];
    accel::fence_ptr hw = slot.hw.make_fence();
    if (!hw)
        return accel::result<accel::fence_ptr>::failure(-ENOMEM);
    // The work owns what it uses: a reset may complete and free the job while a hung engine is
    // still inside the work.
    slot.hw.submit(
        [&slot, d = dev, stream = j.stream, space = j.space, record = j.record, bos = j.bos,
         gen = slot.generation.load()]() -> int {
            slot.control.reset();
            if (slot.generation.load() != gen)
                return -ECANCELED; // submitted before a reset that has stopped this engine since

            const exec_result r = run_stream(slot, d->mem, *stream, *space);
            // The device wrote the job's objects (those SUBMIT named): before the job's fences
            // signal, so a client that waits or reads the event then sees the results through
            // its mapping (a FUSE client's cached pages of them are dropped at that answer).
            for (const accel::gem_ref& o : bos)
                o->device_wrote();
            record->set_result(r);
            if (r.status == VDNN_STATUS_MMU_FAULT)
                d->faults.record(slot.exec.kind(), record->seqno, r.fault_va, r.command);
            return r.error;
        },
        hw);
    return hw;
}

inline accel::timeout_status engine_ops::timedout_job(job& j) { return dev->domain->job_timed_out(j); }

inline void engine_ops::cancel_job(job& j) {
    // Teardown: the job's hardware fence is the parent; the engine drops it with -ECANCELED.
    if (accel::fence_ptr hw = j.parent())
        dev->engines[index]->hw.cancel(hw, -ECANCELED);
}

} // namespace vdnn
