// SPDX-License-Identifier: MIT
#pragma once
/// \file `sched_job`: the base of a driver's job (struct drm_sched_job).
///
/// A driver derives its job type from it and follows the kernel's lifecycle:
///   1. `init(entity, credits)`: binds the job to an entity and reserves its fences. -ENOENT
///      when the entity has no scheduler (torn down), -EINVAL for 0 credits, -ENOMEM; credits
///      above the scheduler's limit are truncated to it. Until arm, the job may simply be
///      destroyed (drm_sched_job_cleanup is the destructor).
///   2. `add_dependency(f)`: fences to wait for before it runs (see below).
///   3. `arm()`: the point of no return: it gets its id and its two fences (`scheduled()`,
///      `finished()`), which may be published from now on. An armed job must be pushed.
///   4. `sched_entity<Ops>::push(std::unique_ptr<job>)`: the scheduler owns it from here until it
///      hands it to the driver's `free_job`, after `finished()` signalled.
/// Dependencies: nullptr is a no-op; fences of one context are de-duplicated, keeping the later
/// one; -ENOMEM. When the job reaches the head of its entity, fences of its own entity are
/// ignored, a fence of the same scheduler (without error) is awaited only until that job is
/// *scheduled*, any other fence until it signals.
///
/// The scheduler's bookkeeping lives here too (list hook, callback slots for the hardware fence
/// and for kill chains), so pushing and running a job allocate nothing. Jobs are operated on by
/// `sched_base` (accel/exec/scheduler.hpp; this header pulls in the entity's and the scheduler's
/// at its end, so any of the three may be included first).
#include <accel/base/fault_injection.hpp>
#include <accel/exec/dma_resv.hpp>
#include <accel/exec/fence.hpp>
#include <accel/exec/sched_fence.hpp>
#include <accel/exec/sched_ops.hpp>

#include <boost/intrusive/list.hpp>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace accel {

class sched_base;
class sched_entity_base;

class sched_job {
public:
    sched_job() noexcept = default;
    sched_job(const sched_job&) = delete;
    sched_job& operator=(const sched_job&) = delete;
    /// Drops the fences and dependencies (drm_sched_job_cleanup).
    virtual ~sched_job() {
        if (fence_storage_)
            sched_fence_pair::deallocate(fence_storage_);
    }

    /// drm_sched_job_init. -EBUSY once armed (accel's rule: the kernel re-zeroes the job).
    int init(sched_entity_base& entity, std::uint32_t credits) noexcept;

    /// drm_sched_job_add_dependency: 0, or -ENOMEM; -EBUSY once pushed. Consumes `f` always.
    int add_dependency(fence_ptr f) noexcept {
        if (!f)
            return 0;
        if (pushed_)
            return -EBUSY;
        for (fence_ptr& dep : deps_) {
            if (dep->context() != f->context())
                continue;
            if (f->is_later(*dep))
                dep = std::move(f);
            return 0;
        }
        if (detail::alloc_may_fail())
            return -ENOMEM;
        try {
            deps_.push_back(std::move(f));
        } catch (...) {
            return -ENOMEM;
        }
        return 0;
    }

    /// drm_sched_job_add_resv_dependencies: every fence of `resv` with a usage up to `usage`
    /// becomes a dependency (implicit sync). The caller holds the reservation lock, as in the
    /// kernel, so that no fence is added between this and the job's own add_fence. 0 or -ENOMEM.
    int add_resv_dependencies(const dma_resv& resv, resv_usage usage) noexcept {
        std::vector<fence_ptr> fences;
        try {
            fences = resv.get_fences(usage);
        } catch (...) {
            return -ENOMEM;
        }
        for (fence_ptr& f : fences)
            if (int e = add_dependency(std::move(f)))
                return e;
        return 0;
    }
    /// drm_sched_job_add_implicit_dependencies: a writer waits for every reader and writer, a
    /// reader for the writers (dma_resv_usage_rw).
    int add_implicit_dependencies(const dma_resv& resv, bool write) noexcept {
        return add_resv_dependencies(resv, resv_usage_rw(write));
    }

    /// drm_sched_job_arm: id and fences; a no-op when not initialised or already armed.
    void arm() noexcept;

    bool armed() const noexcept { return finished_ != nullptr; }
    /// Signalled after run_job returned (or when the job is killed). nullptr before arm.
    const fence_ptr& scheduled() const noexcept { return scheduled_; }
    /// Signalled when the job completed, with its error. nullptr before arm.
    const fence_ptr& finished() const noexcept { return finished_; }
    std::uint32_t credits() const noexcept { return credits_; }
    /// ++job_id_count of the scheduler, at arm (0 before).
    std::uint64_t id() const noexcept { return id_; }
    /// How often this job was blamed for a hang (increase_karma).
    unsigned karma() const noexcept { return karma_.load(std::memory_order_relaxed); }
    /// The entity's priority when the job was armed (s_priority).
    sched_priority priority() const noexcept { return priority_; }
    /// CLOCK_MONOTONIC ns of the push (0 before).
    std::int64_t submit_ts() const noexcept { return submit_ts_; }
    /// The dependencies added (the later fence of each context). Stable once pushed.
    std::span<const fence_ptr> dependencies() const noexcept { return deps_; }
    /// The hardware fence run_job returned while the job is on the hardware (s_fence->parent);
    /// nullptr before it ran, and after stop() detached it.
    fence_ptr parent() const noexcept;
    /// The scheduler of its entity, from init on.
    sched_base* sched() const noexcept { return sched_; }

private:
    friend class sched_base;
    friend class sched_entity_base;

    struct job_cb : fence_cb {
        sched_job* job = nullptr;
    };
    using hook_type = boost::intrusive::list_member_hook<boost::intrusive::link_mode<boost::intrusive::safe_link>>;

    // On one list at a time: its entity's queue, the pending list, or a kill list.
    hook_type link_;
    using list_type = boost::intrusive::list<sched_job, boost::intrusive::member_hook<sched_job, hook_type, &sched_job::link_>,
                                             boost::intrusive::constant_time_size<false>>;
    // Set at init; the scheduler clears it (under its lock) when the entity goes away, so a job
    // on the hardware can outlive its entity (accounting and karma then skip the entity).
    sched_entity_base* entity_ = nullptr;
    sched_base* sched_ = nullptr;
    void* fence_storage_ = nullptr; // reserved at init, becomes the fence pair at arm
    fence_ptr scheduled_;
    fence_ptr finished_;
    std::vector<fence_ptr> deps_;
    fence_ptr parent_;     // the hardware fence; under the scheduler's lock
    job_cb hw_cb_;         // on parent_ while the job is on the hardware
    job_cb kill_cb_;       // on kill_wait_ while a killed job waits
    fence_ptr kill_prev_;  // a killed job first waits for this (the previous job's finished)
    fence_ptr kill_wait_;  // what keeps kill_target_ alive
    fence* kill_target_ = nullptr;
    std::size_t next_dep_ = 0;  // next dependency to resolve (run pass)
    std::size_t kill_next_ = 0; // 0: kill_prev_; i > 0: deps_[i - 1]
    std::uint32_t credits_ = 0;
    std::uint64_t id_ = 0;
    std::atomic<unsigned> karma_{0};
    sched_priority priority_ = sched_priority::normal;
    std::int64_t submit_ts_ = 0;
    std::uint64_t submit_seq_ = 0; // ties of submit_ts_ keep push order
    bool pushed_ = false;
    bool hw_done_ = false;  // completion ran (credits returned, finished signalled or about to be)
    bool detached_ = false; // stop() took its hardware callback away; start() puts it back
};

} // namespace accel

// The operations above need the entity and the scheduler, which need this class complete: the
// entity's header comes next and includes the scheduler's at its end.
#include <accel/exec/sched_entity.hpp>
