// SPDX-License-Identifier: MIT
#pragma once
/// \file `sched_entity`: a queue of jobs with a priority, one per context (struct
/// drm_sched_entity).
///
/// A client's context gets an entity on each engine's scheduler. Jobs pushed to it run in push
/// order; among entities the scheduler serves the highest priority first and, within one
/// priority, the oldest head job (FIFO) or the next entity in turn (round robin). An entity owns
/// two fence contexts: its jobs' scheduled fences are on the first, finished fences on the
/// second, numbered by its own sequence.
///
/// Going away, at file close (drm_sched_entity_flush / _kill / _destroy):
///   - `flush(timeout)` waits, at most `timeout`, until the entity is idle: queue empty, or
///     killed. It returns the time left. (The kernel waits without limit unless the caller is
///     exiting and kills only on SIGKILL; accel has no such caller, so the limit is explicit and
///     killing is the driver's call.)
///   - `kill()` stops the entity: it is taken off the scheduler, then every job never run is
///     chained behind the previous one (the first behind the last job that did run), waits for
///     all its dependencies (a scheduled-fence dependency is upgraded to its finished fence),
///     gets its scheduled fence signalled and its finished fence signalled with -ESRCH, and goes
///     to free_job. kill() does not wait for any of that: the scheduler's worker does it. Jobs
///     already on the hardware finish normally (or in a reset).
///   - Pushing to a killed entity sends the job the same way (finished with -ESRCH, freed):
///     accel's rule; the kernel only logs "Trying to push to a killed entity" and loses the job.
///   - `destroy(timeout)` is flush then kill (drm_sched_entity_destroy, the kernel's 1 s by
///     default); the destructor kills.
/// The scheduler must outlive its entities, or have been torn down (fini) first: then the
/// entity is detached, init() on it fails with -ENOENT and a push drops the job (-ESRCH).
///
/// `guilty`: once set (by increase_karma on one of its jobs, or by the driver), every job popped
/// from this entity gets -ECANCELED on its finished fence; run_job is still called (the kernel's
/// *entity->guilty). `set_priority` takes effect at the next selection (the classic kernel
/// scheduler stores the value and, for an entity with one scheduler, never applies it).
/// `runtime_ns()` is the engine time of this entity's jobs (fdinfo's drm-engine-*), see
/// scheduler.hpp for how it is counted.
#include <accel/exec/fence.hpp>
#include <accel/exec/sched_job.hpp>
#include <accel/exec/sched_ops.hpp>

#include <boost/intrusive/list.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

namespace accel {

class sched_base;
template <sched_ops Ops>
class scheduler;

class sched_entity_base {
public:
    sched_entity_base(const sched_entity_base&) = delete;
    sched_entity_base& operator=(const sched_entity_base&) = delete;

    sched_priority priority() const noexcept { return priority_.load(std::memory_order_relaxed); }
    /// drm_sched_entity_set_priority; applied at the next selection (see the file comment).
    void set_priority(sched_priority p) noexcept;

    bool guilty() const noexcept { return guilty_.load(std::memory_order_relaxed); }
    void set_guilty(bool g) noexcept { guilty_.store(g, std::memory_order_relaxed); }

    /// Waits until idle or `timeout` passed (negative: no limit); returns the time left (0 when
    /// it timed out; `timeout` itself when negative).
    std::chrono::nanoseconds flush(std::chrono::nanoseconds timeout) noexcept;
    /// Stops the entity and sends its queued jobs to -ESRCH (see the file comment). Idempotent.
    void kill() noexcept;
    /// flush(timeout) then kill().
    void destroy(std::chrono::nanoseconds flush_timeout = std::chrono::seconds(1)) noexcept {
        flush(flush_timeout);
        kill();
    }
    bool killed() const noexcept;

    /// The error of the last job popped (drm_sched_entity_error); 0 when none or no error yet.
    int error() const noexcept;
    /// Engine time of this entity's jobs so far, in ns, including a running one's elapsed time.
    std::int64_t runtime_ns() const noexcept;
    /// The context of the scheduled fences; finished fences are on fence_context() + 1.
    std::uint64_t fence_context() const noexcept { return ctx_; }
    /// nullptr once the scheduler has been torn down.
    sched_base* sched() const noexcept { return sched_.load(std::memory_order_acquire); }

protected:
    sched_entity_base(sched_base& sched, sched_priority priority) noexcept;
    ~sched_entity_base();
    /// Takes ownership of an initialised job of this entity (drm_sched_entity_push_job): arms it
    /// if the driver has not. `false` when the scheduler did not take it: the caller still owns
    /// it and deletes it. That happens when the scheduler is gone (finished: -ESRCH, there is no
    /// free_job to give it to) and for a job initialised on another entity (a driver bug;
    /// finished: -EINVAL).
    bool push_job(sched_job& job) noexcept;

private:
    friend class sched_base;
    friend class sched_job;

    struct dep_cb_t : fence_cb {
        sched_entity_base* entity = nullptr;
    };
    using hook_type = boost::intrusive::list_member_hook<boost::intrusive::link_mode<boost::intrusive::safe_link>>;

    // Cleared by the scheduler's fini() under its lock while the entity's owner may be using
    // it (a file closing while its device is unplugged): atomic, read once per call.
    std::atomic<sched_base*> sched_;
    const std::uint64_t ctx_;
    std::atomic<std::uint64_t> fence_seq_{0};
    std::atomic<sched_priority> priority_;
    std::atomic<bool> guilty_{false};
    // Everything below is guarded by the scheduler's lock.
    hook_type rq_hook_;  // on its priority's run queue while it has queued jobs
    hook_type all_hook_; // on the scheduler's list of entities
    sched_job::list_type queue_;
    fence_ptr last_scheduled_; // finished fence of the last job popped
    fence_ptr kill_tail_;      // finished fence of the last job sent to the kill chain
    fence_ptr dependency_;     // keeps dep_target_ alive while the entity waits on it
    fence* dep_target_ = nullptr;
    dep_cb_t dep_cb_;
    std::int64_t runtime_ns_ = 0;
    bool blocked_ = false; // waiting for dep_target_
    bool in_use_ = false;  // a run pass is resolving its head job (the kernel's entity_idle)
    bool stopped_ = false; // killed
};

/// An entity of a scheduler<Ops>: its jobs are Ops::job_type.
template <sched_ops Ops>
class sched_entity : public sched_entity_base {
public:
    using job_type = typename Ops::job_type;

    explicit sched_entity(accel::scheduler<Ops>& sched, sched_priority priority = sched_priority::normal) noexcept
        : sched_entity_base(sched, priority) {}
    ~sched_entity() = default;

    /// Hands the job to the scheduler (see sched_entity_base::push_job).
    void push(std::unique_ptr<job_type> job) noexcept {
        if (job && push_job(*job))
            (void)job.release(); // the scheduler owns it now, until free_job
    }
};

} // namespace accel

#include <accel/exec/scheduler.hpp>
