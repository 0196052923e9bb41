// SPDX-License-Identifier: MIT
#pragma once
/// \file `scheduler<Ops>`: a job scheduler per hardware ring (struct drm_gpu_scheduler).
///
/// Entities (sched_entity.hpp) queue jobs (sched_job.hpp); the scheduler picks the next job,
/// waits for its dependencies, hands it to the driver's `run_job` while the ring has credits
/// for it, watches the hardware fence run_job returned, signals the job's fences, and gives the
/// job back to `free_job` in hardware order. The semantics are drm_sched's (classic, up to about
/// 6.19; ../shared/KERNEL-EXEC.md section 1); accel's differences are listed at the end.
///
/// Threads. Each scheduler has one worker thread, started by the constructor and joined by
/// fini(): it is the kernel's ordered submit_wq and runs the run work, the free work, the
/// timeout handler (TDR) and the kill work, one at a time, so the driver's run_job, free_job,
/// timedout_job and cancel_job are never called concurrently with each other for one scheduler.
/// That "one at a time" is a token (`token_`): the worker takes it for each pass, and so do the
/// fast path, stop/start/resubmit_jobs (unless called from inside a pass, e.g. timedout_job)
/// and fini. The timeout is the worker's own wait deadline rather than a deadline_timer entry:
/// nothing outside the scheduler holds it, and it is ordered with the free work, so the head job
/// cannot be freed under the handler. The driver's callbacks may push, kill, stop, start,
/// resubmit and fault; they must not call flush() or fini() (both wait for the worker).
///
/// Selection (the run work). Priorities KERNEL, HIGH, NORMAL, LOW in that order; the first
/// priority with a ready entity (queued jobs, not waiting for a dependency) is served: the entity
/// with the oldest head job (FIFO by submit time) or, with sched_policy::round_robin, the next
/// ready entity after the last one served. If that head job does not fit the free credits
/// (credit_limit - credit_count < credits), nothing runs: lower priorities are not tried.
/// The head job's dependencies are resolved then (see sched_job.hpp); an unsignalled one parks
/// the entity until it signals. A job from a guilty entity gets -ECANCELED on its finished fence.
/// Then: credit_count += credits, the job joins the pending list (oldest first), the timeout is
/// (re)armed, run_job is called, the scheduled fence signals and the hardware fence becomes the
/// job's `parent` with a callback on it; a nullptr from run_job completes the job at once, an
/// error completes it with that error.
///
/// Fast path. push() runs run_job on the pushing thread itself, with no hand-off to the worker,
/// when all of these hold: the scheduler is idle (no pass in progress or waiting, not stopped),
/// the entity has nothing queued and is not waiting for a dependency, every dependency of the
/// job has already signalled (as resolved above: a same-scheduler one only needs to be
/// scheduled), the job fits the free credits, and no other entity is ready at the same or a
/// higher priority (that one's head job is older, or more important). Otherwise the job is
/// queued and the worker woken. `sched_config::fast_path = false` disables it.
///
/// Completion runs in the hardware fence's callback, on whichever thread signals it (the
/// "interrupt"), under that fence's lock, so it only does bookkeeping: credits back, the busy-time
/// account, the finished fence signalled with the hardware fence's error (its own callbacks run
/// there too, as in the kernel), and the free work requested (the worker woken at once when a
/// queued job may now run). The free work takes finished jobs from the head of the pending list
/// only, so jobs are freed in hardware order, and calls free_job.
///
/// Freeing. The kernel queues the free work at every completion; a thread wake-up per job costs
/// more here (a context switch, or on another CPU an inter-processor wake-up), so completions
/// that follow each other are freed in batches: after a completion the worker wakes every
/// `sched_config::free_delay` (1 ms by default) for 16 such periods after the last one, and a
/// completion wakes it only when it would not wake within free_delay anyway (the first after a
/// quiet spell). A finished job therefore waits at most about free_delay for free_job; 0 frees
/// each job at once. Likewise arming the timeout wakes the worker only when it sleeps past the
/// new deadline: with no deadline left it keeps sleeping towards the last one (waking early
/// finds nothing due), so a stream of short jobs re-arms the timer without waking it; and
/// giving the token back wakes it only when it waits for the token.
///
/// Timeout (TDR). When `timeout` is set, the timer is (re)armed when a job joins the pending list
/// and when the head retires with others left, and cancelled when none are left. When it fires,
/// the worker unlinks the head of the pending list (the oldest job, always the one blamed) and
/// calls timedout_job. `no_hang`: the job goes back to the head and the timer is re-armed;
/// `reset`: re-armed; `enodev`: not re-armed (until the next job). A driver's reset, from
/// timedout_job or from any thread, follows the kernel:
///   stop(bad) -> increase_karma(bad) -> reset the hardware -> [resubmit_jobs()] -> start(errno)
///   - stop(bad): pauses the work (waiting for a pass in progress), puts `bad` back at the head,
///     and walks the pending list newest to oldest: a job whose hardware callback can still be
///     removed is detached (parent dropped, credits returned); a job that already completed is
///     unlinked and freed (`bad` instead is freed after timedout_job returns, or by start() when
///     stop was not called from the timeout handler). The timer is cancelled.
///   - increase_karma(bad): unless KERNEL priority, karma++ and the job's entity becomes guilty.
///   - resubmit_jobs(): the first job with karma > hang_limit marks its context; every job of
///     that context gets -ECANCELED; every detached job is run again (deprecated in the kernel,
///     kept for the reset policy "resubmit").
///   - start(errno): oldest to newest, credits back; a job without a parent completes with errno
///     (-ECANCELED if 0); a parent gets the callback again, or if it signalled meanwhile the job
///     completes with its error, or errno. The timer is re-armed and the work restarted.
///   - fault(): fires the timeout handler now (drm_sched_fault).
///
/// Teardown, fini() (and the destructor): stops the worker; every queued job of every entity is
/// cancelled (scheduled signalled, finished -ECANCELED, free_job); every pending job, newest
/// first, gets cancel_job (when Ops has it; the driver signals its hardware fence with
/// -ECANCELED), is completed with -ECANCELED if its hardware fence did not signal, and is freed;
/// jobs of killed entities still waiting for dependencies are finished at once with -ESRCH.
/// No callback of the scheduler is left on any fence, entities are detached, nothing leaks.
///
/// Accounting. Busy time is the length of the union of the [scheduled, finished] timestamp
/// intervals of the completed jobs (exact when the ring completes in order), plus the elapsed
/// part of the oldest job still running; `busy_ns()` never decreases. Each interval's new part
/// is also added to the job's entity (`sched_entity_base::runtime_ns()`, per-client engine time).
/// This is the kernel's "scheduled timestamp of the next job := finish time of the previous"
/// without rewriting a signalled fence's timestamp.
///
/// Lock order: a fence's lock, then the scheduler's. The scheduler never calls into a fence or
/// the driver while holding its own lock.
///
/// Differences from drm_sched (besides the fast path above):
///   - One worker thread per scheduler also runs the TDR and the kill work (the kernel uses
///     timeout_wq and system_wq), so a run_job that blocks delays the timeout handler.
///   - A timed-out job that timedout_job neither put back (stop) nor freed is put back at the head
///     whatever the status, so it is freed once its finished fence signals (the kernel leaks it
///     unless NO_HANG). A `bad` job of stop() outside the timeout handler is freed by start().
///   - Teardown without cancel_job does not leak: pending jobs lose their hardware callback and
///     complete with -ECANCELED (a driver without cancel_job stops its hardware first). With
///     cancel_job, a hardware fence the driver left unsignalled is handled the same way. Queued
///     jobs are cancelled (-ECANCELED) without waiting for their dependencies; kill-chain jobs
///     get their -ESRCH without waiting further.
///   - set_priority applies at the next selection; pushing to a killed entity kills the job.
///   - Credits above the limit are truncated at init (the kernel does it at selection).
///   - A job keeps the first error its finished fence got: completing it later with another
///     error (start(errno) after a reset, a hardware fence's error) does not replace the one a
///     reset flow gave the guilty job (-ETIMEDOUT) or a guilty entity gave it (-ECANCELED); the
///     kernel's dma_fence_set_error overwrites.
///   - A hardware fence that refuses the callback for another reason than being signalled
///     completes the job with that error (the kernel only logs it).
///   - Not implemented: entities on several schedulers (modify_sched, pick_best, score),
///     prepare_job, update_job_credits, DRM_SCHED_FENCE_DONT_PIPELINE, deadline forwarding,
///     suspend/resume_timeout, tdr_queue_imm, the fair (vruntime) scheduler.
#include <accel/exec/fence.hpp>
#include <accel/exec/sched_entity.hpp>
#include <accel/exec/sched_fence.hpp>
#include <accel/exec/sched_job.hpp>
#include <accel/exec/sched_ops.hpp>

#include <boost/intrusive/list.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

namespace accel {

namespace detail {
inline std::uint64_t next_scheduler_id() noexcept {
    static std::atomic<std::uint64_t> next{0};
    return next.fetch_add(1, std::memory_order_relaxed) + 1;
}
} // namespace detail

/// Everything of the scheduler that does not depend on the driver's types; scheduler<Ops> adds
/// the ops object and the typed vtable.
class sched_base {
public:
    using clock = std::chrono::steady_clock;

    sched_base(const sched_base&) = delete;
    sched_base& operator=(const sched_base&) = delete;

    std::string_view name() const noexcept { return *name_; }
    /// Unique per scheduler in the process (what sched_fence::scheduler_id() compares).
    std::uint64_t id() const noexcept { return id_; }
    std::uint32_t credit_limit() const noexcept { return credit_limit_; }
    /// Credits of the jobs on the hardware now.
    std::uint32_t credit_count() const noexcept {
        std::lock_guard g(mu_);
        return credit_count_;
    }
    std::optional<std::chrono::nanoseconds> timeout() const noexcept { return timeout_; }
    unsigned hang_limit() const noexcept { return hang_limit_; }
    sched_policy policy() const noexcept { return policy_; }
    /// False once torn down (drm_sched_wqueue_ready).
    bool ready() const noexcept {
        std::lock_guard g(mu_);
        return !fini_;
    }
    /// The job on the pending list whose finished fence is `finished`, or nullptr: how a reset
    /// flow finds the job it blames after the scheduler stopped. Only meaningful while the
    /// scheduler is stopped (otherwise the job may be freed as soon as this returns).
    sched_job* pending_job_with(const fence& finished) const noexcept {
        std::lock_guard g(mu_);
        for (const sched_job& j : pending_)
            if (j.finished_.get() == &finished)
                return const_cast<sched_job*>(&j);
        return nullptr;
    }

    /// Jobs on the pending list (handed to the hardware, not yet freed).
    std::size_t pending_jobs() const noexcept {
        std::lock_guard g(mu_);
        return pending_.size();
    }

    /// drm_sched_stop (see the file comment).
    void stop(sched_job* bad) noexcept;
    /// drm_sched_start(sched, errno).
    void start(int error) noexcept;
    /// drm_sched_resubmit_jobs.
    void resubmit_jobs() noexcept;
    /// drm_sched_increase_karma.
    void increase_karma(sched_job& bad) noexcept;
    /// drm_sched_fault: run the timeout handler now.
    void fault() noexcept;
    /// Engine busy time in ns (see the file comment); never decreases.
    std::int64_t busy_ns() const noexcept;
    /// drm_sched_fini (see the file comment). Not from inside one of the driver's callbacks.
    void fini() noexcept;

protected:
    sched_base(const sched_config& cfg, const detail::sched_vtable& vt)
        : vt_(&vt), name_(std::make_shared<const std::string>(cfg.name)), id_(detail::next_scheduler_id()),
          credit_limit_(cfg.credit_limit ? cfg.credit_limit : 1), timeout_(cfg.timeout), hang_limit_(cfg.hang_limit),
          policy_(cfg.policy), fast_path_(cfg.fast_path),
          free_delay_(std::max(cfg.free_delay, std::chrono::nanoseconds(0))) {
        if (timeout_ && timeout_->count() < 0)
            timeout_.reset();
    }
    ~sched_base() { fini(); }

    /// Starts the worker once `ops` exists (throws std::system_error if no thread can start).
    void launch(void* ops) {
        ops_ = ops;
        worker_ = std::thread([this] { worker_main(); });
    }

private:
    friend class sched_job;
    friend class sched_entity_base;

    using lock_t = std::unique_lock<std::mutex>;
    // What the worker does: a pass (or deciding), waiting for the token, or sleeping idle.
    enum class worker_state { running, token, idle };
    using job_list = sched_job::list_type;
    using run_queue = boost::intrusive::list<
        sched_entity_base,
        boost::intrusive::member_hook<sched_entity_base, sched_entity_base::hook_type, &sched_entity_base::rq_hook_>,
        boost::intrusive::constant_time_size<false>>;
    using entity_list = boost::intrusive::list<
        sched_entity_base,
        boost::intrusive::member_hook<sched_entity_base, sched_entity_base::hook_type, &sched_entity_base::all_hook_>,
        boost::intrusive::constant_time_size<false>>;

    // ---- the token: one pass at a time (the ordered submit_wq) ----

    // Waits for the token unless this thread holds it already (a driver callback calling back
    // in); true when taken here, to be given back by the caller.
    bool take_token(lock_t& lk) noexcept {
        const auto self = std::this_thread::get_id();
        if (token_ == self)
            return false;
        ++token_waiters_;
        state_cv_.wait(lk, [&] { return token_ == std::thread::id{}; });
        --token_waiters_;
        token_ = self;
        return true;
    }
    void give_token() noexcept {
        token_ = std::thread::id{};
        state_cv_.notify_all();
        if (worker_state_ == worker_state::token) // otherwise the worker needs nothing from the token
            work_cv_.notify_one();
    }

    // ---- small helpers, lock held ----

    bool fits_locked(const sched_job& job) const noexcept { return credit_limit_ - credit_count_ >= job.credits_; }

    void arm_tdr_locked() noexcept {
        if (!timeout_ || pending_.empty())
            return;
        tdr_deadline_ = clock::now() + *timeout_;
        if (worker_sleeps_past_locked(*tdr_deadline_))
            work_cv_.notify_one();
    }

    // True when the worker sleeps idle beyond `t` (it must be woken to act by then). A worker
    // that is running looks at everything again before it sleeps; one waiting for the token is
    // woken by give_token().
    bool worker_sleeps_past_locked(clock::time_point t) const noexcept {
        return worker_state_ == worker_state::idle && worker_wake_at_ > t;
    }

    static bool entity_ready(const sched_entity_base& e) noexcept { return !e.blocked_ && !e.queue_.empty(); }

    static bool older(const sched_job& a, const sched_job& b) noexcept {
        return a.submit_ts_ != b.submit_ts_ ? a.submit_ts_ < b.submit_ts_ : a.submit_seq_ < b.submit_seq_;
    }

    void rq_add_locked(sched_entity_base& e) noexcept {
        if (!e.rq_hook_.is_linked())
            rq_[static_cast<int>(e.priority())].push_back(e);
    }
    void rq_remove_locked(sched_entity_base& e) noexcept {
        if (!e.rq_hook_.is_linked())
            return;
        const int p = static_cast<int>(e.priority());
        rq_[p].erase(rq_[p].iterator_to(e));
        if (rr_current_[p] == &e)
            rr_current_[p] = nullptr;
    }

    // drm_sched_select_entity: nullptr when nothing is ready or the chosen head does not fit.
    sched_entity_base* select_locked() noexcept {
        for (int p = 0; p < sched_priority_count; ++p) {
            run_queue& rq = rq_[p];
            sched_entity_base* best = nullptr;
            if (policy_ == sched_policy::fifo) {
                for (sched_entity_base& e : rq)
                    if (entity_ready(e) && (!best || older(e.queue_.front(), best->queue_.front())))
                        best = &e;
            } else if (!rq.empty()) {
                // Round robin: the first ready entity after the one served last, wrapping.
                auto start = rr_current_[p] ? std::next(rq.iterator_to(*rr_current_[p])) : rq.begin();
                auto it = start;
                do {
                    if (it == rq.end()) {
                        it = rq.begin();
                        if (it == start)
                            break;
                    }
                    if (entity_ready(*it)) {
                        best = &*it;
                        break;
                    }
                    ++it;
                } while (it != start);
            }
            if (!best)
                continue;
            if (!fits_locked(best->queue_.front()))
                return nullptr; // -ENOSPC: lower priorities are not tried
            if (policy_ == sched_policy::round_robin)
                rr_current_[p] = best;
            return best;
        }
        return nullptr;
    }

    // Another entity ready at `prio` or above (the fast path must not overtake it).
    bool ready_at_or_above_locked(int prio, const sched_entity_base* self) const noexcept {
        for (int p = 0; p <= prio; ++p)
            for (const sched_entity_base& e : rq_[p])
                if (&e != self && entity_ready(e))
                    return true;
        return false;
    }

    // What a dependency `f` of a job of entity `e` must wait for, or nullptr: ignored (own
    // entity's) or nothing to wait for.
    fence* dependency_target(const sched_entity_base& e, fence& f) const noexcept {
        if (f.context() == e.ctx_ || f.context() == e.ctx_ + 1)
            return nullptr;
        fence* target = &f;
        if (sched_fence* sf = to_sched_fence(&f); sf && sf->scheduler_id() == id_ && f.error() == 0)
            target = &sf->scheduled();
        return target->is_signaled() ? nullptr : target;
    }

    // Unlinks the entity's head `job` (drm_sched_entity_pop_job's tail).
    void pop_locked(sched_entity_base& e, sched_job& job) noexcept {
        e.queue_.erase(e.queue_.iterator_to(job));
        e.last_scheduled_ = job.finished_;
        if (e.queue_.empty())
            rq_remove_locked(e);
        e.in_use_ = false;
        state_cv_.notify_all(); // flush() and kill() wait for this
    }

    // The job goes to the hardware (drm_sched_job_begin).
    void begin_locked(sched_job& job) noexcept {
        credit_count_ += job.credits_;
        pending_.push_back(job);
        arm_tdr_locked();
    }

    // The oldest job on the hardware whose time is running.
    const sched_job* running_locked() const noexcept {
        if (tdr_job_ && !tdr_job_->hw_done_ && !tdr_job_->detached_)
            return tdr_job_;
        for (const sched_job& j : pending_)
            if (!j.hw_done_ && !j.detached_)
                return &j;
        return nullptr;
    }

    // The new part of [scheduled, end] (see "Accounting"), to the scheduler and the entity.
    void account_locked(sched_job& job, std::int64_t end) noexcept {
        const std::int64_t s = job.scheduled_ ? job.scheduled_->timestamp() : 0;
        if (!s)
            return;
        const std::int64_t from = std::max(s, busy_until_);
        if (end <= from)
            return;
        busy_total_ += end - from;
        busy_until_ = end;
        if (job.entity_)
            job.entity_->runtime_ns_ += end - from;
    }
    // The elapsed part of a running job, as account_locked would count it now.
    std::int64_t running_part_locked(const sched_entity_base* only) const noexcept {
        const sched_job* r = running_locked();
        if (!r || (only && r->entity_ != only))
            return 0;
        const std::int64_t s = r->scheduled_ ? r->scheduled_->timestamp() : 0;
        if (!s)
            return 0;
        const std::int64_t from = std::max(s, busy_until_);
        const std::int64_t now = monotonic_ns();
        return now > from ? now - from : 0;
    }

    // ---- driver calls (never under the lock) ----

    void free_job(sched_job& job) noexcept { vt_->free_job(ops_, &job); }

    // Signals a job that never ran: scheduled, then finished with `error` (kill, teardown, or a
    // push the scheduler refused).
    static void fail_unrun(sched_job& job, int error) noexcept {
        if (!job.armed())
            return;
        if (!job.scheduled_->is_signaled())
            job.scheduled_->signal();
        job.finished_->set_error(error);
        job.finished_->signal();
    }

    // ---- completion ----

    static void hw_done_cb(fence& f, fence_cb& cb) noexcept {
        sched_job& job = *static_cast<sched_job::job_cb&>(cb).job;
        job.sched_->job_done(job, f.error());
    }

    // drm_sched_job_done: credits back, account, finished signalled with `error`, worker woken.
    // Runs in the hardware fence's callback (under that fence's lock) or on a scheduler path.
    void job_done(sched_job& job, int error) noexcept {
        const std::int64_t end = monotonic_ns();
        fence_ptr finished = job.finished_; // the job may be freed once it signals
        {
            std::lock_guard g(mu_);
            ++inflight_;
            credit_count_ -= job.credits_;
            job.hw_done_ = true;
            account_locked(job, end);
        }
        if (error < 0 && finished->error() == 0) // a job keeps its first error (accel's rule)
            finished->set_error(error);
        finished->signal(end);
        {
            std::lock_guard g(mu_);
            free_requested_ = true;
            run_requested_ = true; // credits came back
            // The worker is woken at once when a queued job may run on the credits that came
            // back; for the free alone, only if it would not tick within free_delay anyway
            // (see "Freeing" in the file comment).
            const auto now = clock::now();
            if (free_delay_.count() > 0)
                ticking_until_ = now + free_linger_ticks * free_delay_;
            const bool queued = std::any_of(rq_.begin(), rq_.end(), [](const run_queue& q) { return !q.empty(); });
            if (worker_state_ == worker_state::idle && (queued || worker_wake_at_ > now + free_delay_))
                work_cv_.notify_one();
            if (--inflight_ == 0)
                state_cv_.notify_all();
        }
    }

    // run_job and what follows it; the token is held, the lock is not.
    void run_and_complete(sched_job& job) noexcept {
        result<fence_ptr> r = vt_->run_job(ops_, job);
        job.scheduled_->signal();
        if (!r.ok()) {
            job_done(job, r.error());
            return;
        }
        fence_ptr hw = std::move(r.value());
        if (!hw) {
            job_done(job, 0);
            return;
        }
        {
            std::lock_guard g(mu_);
            job.parent_ = hw;
        }
        const int e = hw->add_callback(job.hw_cb_, &hw_done_cb);
        if (e == -ENOENT)
            job_done(job, hw->error());
        else if (e)
            job_done(job, e);
    }

    // ---- dependencies ----

    static void entity_dep_cb(fence&, fence_cb& cb) noexcept {
        sched_entity_base& e = *static_cast<sched_entity_base::dep_cb_t&>(cb).entity;
        sched_base& s = *e.sched_.load(std::memory_order_acquire);
        std::lock_guard g(s.mu_);
        e.blocked_ = false;
        s.run_requested_ = true;
        s.work_cv_.notify_one();
    }

    // Walks the head job's remaining dependencies (lock not held); true when the entity now
    // waits for one (its callback will wake the worker).
    bool resolve_dependencies(sched_entity_base& e, sched_job& job, lock_t& lk) noexcept {
        while (job.next_dep_ < job.deps_.size()) {
            const fence_ptr& dep = job.deps_[job.next_dep_++];
            fence* target = dependency_target(e, *dep);
            if (!target)
                continue;
            lk.lock();
            e.blocked_ = true;
            e.dependency_ = dep;
            e.dep_target_ = target;
            lk.unlock();
            if (target->add_callback(e.dep_cb_, &entity_dep_cb) == 0)
                return true;
            lk.lock(); // signalled meanwhile
            e.blocked_ = false;
            e.dep_target_ = nullptr;
            lk.unlock();
        }
        return false;
    }

    bool dependencies_signaled(const sched_entity_base& e, const sched_job& job) const noexcept {
        for (const fence_ptr& dep : job.deps_)
            if (dependency_target(e, *dep))
                return false;
        return true;
    }

    // ---- push (drm_sched_entity_push_job) ----

    void push(sched_entity_base& e, sched_job& job) noexcept {
        lock_t lk(mu_);
        job.pushed_ = true;
        if (fini_) { // racing with teardown: cancelled like the jobs teardown found queued
            job.entity_ = nullptr;
            lk.unlock();
            fail_unrun(job, -ECANCELED);
            free_job(job);
            return;
        }
        if (e.stopped_) {
            send_to_kill_locked(e, job);
            return;
        }
        job.submit_ts_ = monotonic_ns();
        job.submit_seq_ = ++submit_seq_;
        const bool fast = fast_path_ && !paused_ && token_ == std::thread::id{} && token_waiters_ == 0 &&
                          e.queue_.empty() && !e.blocked_ && fits_locked(job) && dependencies_signaled(e, job) &&
                          !ready_at_or_above_locked(static_cast<int>(e.priority()), &e);
        if (!fast) {
            e.queue_.push_back(job);
            rq_add_locked(e);
            run_requested_ = true;
            work_cv_.notify_one();
            return;
        }
        token_ = std::this_thread::get_id();
        job.next_dep_ = job.deps_.size();
        e.last_scheduled_ = job.finished_;
        begin_locked(job);
        const bool guilty = e.guilty();
        lk.unlock();
        if (guilty)
            job.finished_->set_error(-ECANCELED);
        run_and_complete(job);
        lk.lock();
        give_token();
    }

    // ---- the worker ----

    void worker_main() noexcept {
        lock_t lk(mu_);
        while (!fini_) {
            if (token_ != std::thread::id{} || token_waiters_ > 0) {
                worker_sleep(lk, worker_state::token, clock::time_point::max());
                continue;
            }
            if (!kill_ready_.empty()) {
                token_ = std::this_thread::get_id();
                kill_pass(lk);
                give_token();
                continue;
            }
            if (!paused_) {
                if (free_requested_) {
                    free_requested_ = false;
                    token_ = std::this_thread::get_id();
                    free_pass(lk);
                    give_token();
                    continue;
                }
                if (run_requested_) {
                    run_requested_ = false;
                    token_ = std::this_thread::get_id();
                    run_pass(lk);
                    give_token();
                    continue;
                }
                if (tdr_deadline_ && clock::now() >= *tdr_deadline_) {
                    token_ = std::this_thread::get_id();
                    tdr_pass(lk);
                    give_token();
                    continue;
                }
            }
            worker_sleep(lk, worker_state::idle, idle_until_locked());
        }
    }

    // When the idle worker wakes by itself: at the TDR deadline; with none, at the last deadline
    // it slept towards if that is still ahead (so that the next job's deadline, always later,
    // needs no wake-up: an early wake-up only finds nothing due); and while completions come,
    // every free_delay to free the finished jobs. Never while paused (start() wakes it).
    clock::time_point idle_until_locked() noexcept {
        auto until = clock::time_point::max();
        if (paused_)
            return until;
        const auto now = clock::now();
        if (tdr_deadline_)
            until = tdr_wake_ = *tdr_deadline_;
        else if (tdr_wake_ > now)
            until = tdr_wake_;
        if (ticking_until_ > now)
            until = std::min(until, now + free_delay_);
        return until;
    }

    void worker_sleep(lock_t& lk, worker_state why, clock::time_point until) noexcept {
        worker_state_ = why;
        worker_wake_at_ = until;
        if (until == clock::time_point::max())
            work_cv_.wait(lk);
        else
            work_cv_.wait_until(lk, until);
        worker_state_ = worker_state::running;
    }

    // drm_sched_run_job_work, looping while something can run.
    void run_pass(lock_t& lk) noexcept {
        while (!paused_ && !fini_) {
            sched_entity_base* e = select_locked();
            if (!e)
                return;
            sched_job& job = e->queue_.front();
            e->in_use_ = true;
            fence_ptr old_dep = std::move(e->dependency_); // signalled: it no longer blocks
            e->dep_target_ = nullptr;
            lk.unlock();
            old_dep.reset();
            const bool blocked = resolve_dependencies(*e, job, lk);
            lk.lock();
            if (blocked || e->stopped_) { // stopped: kill() takes the job
                e->in_use_ = false;
                state_cv_.notify_all();
                continue;
            }
            pop_locked(*e, job);
            begin_locked(job);
            const bool guilty = e->guilty();
            lk.unlock();
            if (guilty)
                job.finished_->set_error(-ECANCELED);
            run_and_complete(job);
            lk.lock();
        }
    }

    // drm_sched_free_job_work: finished jobs from the head of the pending list only.
    void free_pass(lock_t& lk) noexcept {
        while (!paused_ && !pending_.empty()) {
            sched_job& job = pending_.front();
            if (!job.finished_->is_signaled())
                return;
            pending_.pop_front();
            tdr_deadline_.reset();
            arm_tdr_locked(); // for the next job, if any
            lk.unlock();
            free_job(job);
            lk.lock();
        }
    }

    // drm_sched_job_timedout.
    void tdr_pass(lock_t& lk) noexcept {
        tdr_deadline_.reset();
        timeout_status status = timeout_status::reset;
        if (!pending_.empty()) {
            sched_job& job = pending_.front();
            pending_.pop_front(); // so no free pass can take it meanwhile
            tdr_job_ = &job;
            lk.unlock();
            status = vt_->timedout_job(ops_, job);
            lk.lock();
            tdr_job_ = nullptr;
            if (free_guilty_ == &job) { // stop() found it completed
                free_guilty_ = nullptr;
                lk.unlock();
                free_job(job);
                lk.lock();
            } else if (!job.link_.is_linked()) { // NO_HANG, or not put back by stop(): accel puts it back
                pending_.push_front(job);
                free_requested_ = true;
            }
        }
        if (status != timeout_status::enodev)
            arm_tdr_locked();
    }

    // ---- entity kill (drm_sched_entity_kill and its callbacks) ----

    // Lock held. The job goes into the kill chain, behind the previous killed job of `e` (the
    // first behind the last one popped); the worker takes it from there.
    void send_to_kill_locked(sched_entity_base& e, sched_job& job) noexcept {
        job.entity_ = nullptr;
        job.kill_prev_ = e.kill_tail_ ? e.kill_tail_ : e.last_scheduled_;
        e.kill_tail_ = job.finished_;
        job.kill_next_ = 0;
        kill_ready_.push_back(job);
        work_cv_.notify_one();
    }

    static void kill_dep_cb(fence&, fence_cb& cb) noexcept {
        sched_job& job = *static_cast<sched_job::job_cb&>(cb).job;
        sched_base& s = *job.sched_;
        std::lock_guard g(s.mu_);
        if (job.link_.is_linked())
            s.kill_waiting_.erase(s.kill_waiting_.iterator_to(job));
        job.kill_target_ = nullptr;
        s.kill_ready_.push_back(job);
        s.work_cv_.notify_one();
    }

    // Moves a killed job along its waits (lock not held): true when it now waits on a fence.
    bool kill_advance(sched_job& job, lock_t& lk) noexcept {
        for (;;) {
            fence_ptr hold;
            if (job.kill_next_ == 0)
                hold = std::move(job.kill_prev_);
            else if (job.kill_next_ - 1 < job.deps_.size())
                hold = job.deps_[job.kill_next_ - 1];
            else
                return false;
            ++job.kill_next_;
            if (!hold)
                continue;
            fence* target = hold.get();
            if (sched_fence* sf = to_sched_fence(target); sf && !sf->is_finished())
                target = &sf->finished(); // a scheduled dependency: wait for the job to finish
            if (target->is_signaled())
                continue;
            lk.lock();
            std::swap(job.kill_wait_, hold); // the previous one is dropped below, unlocked
            job.kill_target_ = target;
            kill_waiting_.push_back(job);
            lk.unlock();
            hold.reset();
            if (target->add_callback(job.kill_cb_, &kill_dep_cb) == 0)
                return true;
            lk.lock(); // signalled meanwhile
            kill_waiting_.erase(kill_waiting_.iterator_to(job));
            job.kill_target_ = nullptr;
            lk.unlock();
        }
    }

    void kill_pass(lock_t& lk) noexcept {
        while (!kill_ready_.empty()) {
            sched_job& job = kill_ready_.front();
            kill_ready_.pop_front();
            lk.unlock();
            if (!kill_advance(job, lk)) {
                fail_unrun(job, -ESRCH);
                free_job(job);
            }
            lk.lock();
        }
    }

    void kill_entity(sched_entity_base& e) noexcept {
        lock_t lk(mu_);
        if (e.stopped_) {
            // Stopped by fini(), which may still hold it (in_use_) while it waits, unlocked,
            // for the entity's dependency callback: the caller may free it once this returns.
            state_cv_.wait(lk, [&] { return !e.in_use_; });
            return;
        }
        e.stopped_ = true;
        rq_remove_locked(e);
        state_cv_.wait(lk, [&] { return !e.in_use_; }); // the scheduler no longer looks at it
        fence* target = std::exchange(e.dep_target_, nullptr);
        fence_ptr dep = std::move(e.dependency_);
        e.blocked_ = false;
        lk.unlock();
        if (target)
            target->remove_callback(e.dep_cb_); // false: it ran, and has finished running
        dep.reset();
        lk.lock();
        while (!e.queue_.empty()) {
            sched_job& job = e.queue_.front();
            e.queue_.pop_front();
            send_to_kill_locked(e, job);
        }
        state_cv_.notify_all(); // flush() waiters: stopped
    }

    // The entity goes away: kill it, then forget it.
    void entity_fini(sched_entity_base& e) noexcept {
        kill_entity(e);
        fence_ptr last, tail;
        {
            std::lock_guard g(mu_);
            if (e.all_hook_.is_linked())
                entities_.erase(entities_.iterator_to(e));
            for (sched_job& j : pending_)
                if (j.entity_ == &e)
                    j.entity_ = nullptr;
            if (tdr_job_ && tdr_job_->entity_ == &e)
                tdr_job_->entity_ = nullptr;
            if (free_guilty_ && free_guilty_->entity_ == &e)
                free_guilty_->entity_ = nullptr;
            last = std::move(e.last_scheduled_);
            tail = std::move(e.kill_tail_);
        }
    }

    std::chrono::nanoseconds flush_entity(sched_entity_base& e, std::chrono::nanoseconds timeout) noexcept {
        lock_t lk(mu_);
        auto idle = [&] { return e.queue_.empty() || e.stopped_ || fini_; };
        if (timeout.count() < 0) {
            state_cv_.wait(lk, idle);
            return timeout;
        }
        const auto deadline = clock::now() + timeout;
        if (!state_cv_.wait_until(lk, deadline, idle))
            return std::chrono::nanoseconds(0);
        return std::max(std::chrono::nanoseconds(0), std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - clock::now()));
    }

    void set_entity_priority(sched_entity_base& e, sched_priority p) noexcept {
        std::lock_guard g(mu_);
        const bool queued = e.rq_hook_.is_linked();
        if (queued)
            rq_remove_locked(e);
        e.priority_.store(p, std::memory_order_relaxed);
        if (queued)
            rq_add_locked(e);
        run_requested_ = true;
        work_cv_.notify_one();
    }

    const detail::sched_vtable* vt_;
    void* ops_ = nullptr;
    const std::shared_ptr<const std::string> name_;
    const std::uint64_t id_;
    const std::uint32_t credit_limit_;
    std::optional<std::chrono::nanoseconds> timeout_;
    const unsigned hang_limit_;
    const sched_policy policy_;
    const bool fast_path_;
    const std::chrono::nanoseconds free_delay_;
    std::atomic<std::uint64_t> job_id_count_{0};

    mutable std::mutex mu_;
    std::condition_variable work_cv_;  // the worker
    std::condition_variable state_cv_; // the token, entity idle, completions in flight
    std::thread worker_;
    std::thread::id token_{};
    unsigned token_waiters_ = 0;
    bool paused_ = false;   // stop() .. start()
    bool fini_ = false;     // teardown started
    bool fini_done_ = false;
    bool run_requested_ = false;
    bool free_requested_ = false;
    std::optional<clock::time_point> tdr_deadline_;
    worker_state worker_state_ = worker_state::running;
    clock::time_point worker_wake_at_{};
    clock::time_point tdr_wake_{};     // the last TDR deadline the worker slept towards
    clock::time_point ticking_until_{}; // the worker ticks every free_delay until then
    static constexpr int free_linger_ticks = 16;
    sched_job* tdr_job_ = nullptr;     // unlinked while timedout_job runs
    sched_job* free_guilty_ = nullptr; // a completed `bad` job of stop()
    std::uint32_t credit_count_ = 0;
    std::uint64_t submit_seq_ = 0;
    unsigned inflight_ = 0; // job_done calls between their two locked parts
    std::int64_t busy_total_ = 0;
    std::int64_t busy_until_ = 0;
    job_list pending_;
    job_list kill_waiting_;
    job_list kill_ready_;
    std::array<run_queue, sched_priority_count> rq_;
    std::array<sched_entity_base*, sched_priority_count> rr_current_{};
    entity_list entities_;
};

// ---- recovery ----

inline void sched_base::stop(sched_job* bad) noexcept {
    lock_t lk(mu_);
    const bool took = take_token(lk);
    paused_ = true;
    if (bad && bad->sched_ == this && bad->pushed_ && !bad->link_.is_linked())
        pending_.push_front(*bad); // the job the timeout handler unlinked
    // Newest to oldest. The list holds still while the token is held (completions do not unlink).
    for (auto it = pending_.end(); it != pending_.begin();) {
        --it;
        sched_job& job = *it;
        if (job.detached_)
            continue;
        fence_ptr parent = job.hw_done_ ? nullptr : job.parent_;
        bool removed = false;
        if (parent) {
            lk.unlock();
            removed = parent->remove_callback(job.hw_cb_);
            lk.lock();
        }
        if (removed) {
            fence_ptr drop = std::move(job.parent_);
            credit_count_ -= job.credits_;
            account_locked(job, monotonic_ns()); // its time so far; busy_ns() must not go back
            job.detached_ = true;
            lk.unlock();
            drop.reset();
            parent.reset();
            lk.lock();
            continue;
        }
        // It completed; make sure its finished fence is signalled before freeing it.
        lk.unlock();
        parent.reset();
        job.finished_->wait(std::chrono::nanoseconds(-1));
        lk.lock();
        it = pending_.erase(it);
        if (&job == bad) {
            free_guilty_ = &job;
        } else {
            lk.unlock();
            free_job(job);
            lk.lock();
        }
    }
    tdr_deadline_.reset();
    if (took)
        give_token();
}

inline void sched_base::start(int error) noexcept {
    lock_t lk(mu_);
    const bool took = take_token(lk);
    for (sched_job& job : pending_) { // oldest first; job_done does not unlink
        if (!job.detached_)
            continue;
        job.detached_ = false;
        credit_count_ += job.credits_;
        fence_ptr parent = job.parent_;
        lk.unlock();
        if (!parent)
            job_done(job, error ? error : -ECANCELED);
        else if (parent->add_callback(job.hw_cb_, &hw_done_cb) != 0)
            job_done(job, parent->error() ? parent->error() : error);
        parent.reset();
        lk.lock();
    }
    if (free_guilty_ && free_guilty_ != tdr_job_) { // stop(bad) outside the timeout handler
        sched_job* guilty = std::exchange(free_guilty_, nullptr);
        lk.unlock();
        free_job(*guilty);
        lk.lock();
    }
    paused_ = false;
    arm_tdr_locked();
    run_requested_ = free_requested_ = true;
    work_cv_.notify_one();
    if (took)
        give_token();
}

inline void sched_base::resubmit_jobs() noexcept {
    lock_t lk(mu_);
    const bool took = take_token(lk);
    bool found_guilty = false;
    std::uint64_t guilty_context = 0;
    for (sched_job& job : pending_) {
        if (!job.detached_)
            continue;
        if (!found_guilty && job.karma() > hang_limit_) {
            found_guilty = true;
            guilty_context = job.scheduled_->context();
        }
        const bool cancel = found_guilty && job.scheduled_->context() == guilty_context;
        lk.unlock();
        if (cancel)
            job.finished_->set_error(-ECANCELED);
        result<fence_ptr> r = vt_->run_job(ops_, job);
        fence_ptr hw;
        if (r.ok())
            hw = std::move(r.value());
        else
            job.finished_->set_error(r.error());
        lk.lock();
        std::swap(job.parent_, hw); // the old parent (none after stop) is dropped below
        lk.unlock();
        hw.reset();
        lk.lock();
    }
    if (took)
        give_token();
}

inline void sched_base::increase_karma(sched_job& bad) noexcept {
    if (bad.priority_ == sched_priority::kernel) // kernel jobs are always considered good
        return;
    bad.karma_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard g(mu_);
    if (bad.entity_)
        bad.entity_->set_guilty(true);
}

inline void sched_base::fault() noexcept {
    std::lock_guard g(mu_);
    tdr_deadline_ = clock::now();
    work_cv_.notify_one();
}

inline std::int64_t sched_base::busy_ns() const noexcept {
    std::lock_guard g(mu_);
    return busy_total_ + running_part_locked(nullptr);
}

// ---- teardown ----

inline void sched_base::fini() noexcept {
    lock_t lk(mu_);
    if (fini_done_)
        return;
    take_token(lk);
    fini_ = true;
    paused_ = true;
    work_cv_.notify_all();
    lk.unlock();
    if (worker_.joinable())
        worker_.join();
    lk.lock();

    // Queued jobs of every entity: cancelled without waiting for their dependencies.
    job_list cancelled;
    for (sched_entity_base& e : entities_) {
        e.stopped_ = true;
        rq_remove_locked(e);
        fence* target = std::exchange(e.dep_target_, nullptr);
        fence_ptr dep = std::move(e.dependency_);
        e.blocked_ = false;
        if (target || dep) {
            // Held (in_use_) while unlocked: an entity destroyed meanwhile waits in kill_entity
            // until this loop has let go of it, instead of being freed under it.
            e.in_use_ = true;
            lk.unlock();
            if (target)
                target->remove_callback(e.dep_cb_);
            dep.reset();
            lk.lock();
            e.in_use_ = false;
        }
        for (sched_job& j : e.queue_)
            j.entity_ = nullptr;
        cancelled.splice(cancelled.end(), e.queue_);
    }
    state_cv_.notify_all();
    while (!cancelled.empty()) {
        sched_job& job = cancelled.front();
        cancelled.pop_front();
        lk.unlock();
        fail_unrun(job, -ECANCELED);
        free_job(job);
        lk.lock();
    }

    // Jobs on the hardware, newest first (drm_sched_cancel_remaining_jobs).
    while (!pending_.empty()) {
        sched_job& job = pending_.back();
        const bool detached = job.detached_;
        if (detached) { // stop() without start(): job_done gives its credits back once more
            job.detached_ = false;
            credit_count_ += job.credits_;
        }
        if (!job.hw_done_) {
            fence_ptr parent = job.parent_;
            const bool callback_on = parent && !detached;
            lk.unlock();
            if (vt_->cancel_job)
                vt_->cancel_job(ops_, job); // the driver signals the hardware fence (-ECANCELED)
            // Still on the fence: the driver did not signal it (or has no cancel_job): take the
            // callback away and complete the job here.
            if (!callback_on || parent->remove_callback(job.hw_cb_))
                job_done(job, -ECANCELED);
            parent.reset();
            lk.lock();
        }
        lk.unlock();
        job.finished_->wait(std::chrono::nanoseconds(-1)); // signalled, or being signalled
        lk.lock();
        pending_.erase(pending_.iterator_to(job));
        lk.unlock();
        free_job(job);
        lk.lock();
    }
    if (free_guilty_) {
        sched_job* guilty = std::exchange(free_guilty_, nullptr);
        lk.unlock();
        free_job(*guilty);
        lk.lock();
    }

    // Killed jobs still waiting for a fence: finished now, without waiting further.
    while (!kill_waiting_.empty()) {
        sched_job& job = kill_waiting_.front();
        fence* target = job.kill_target_;
        lk.unlock();
        const bool removed = target->remove_callback(job.kill_cb_);
        lk.lock();
        if (removed) { // otherwise its callback moved it to kill_ready_
            kill_waiting_.erase(kill_waiting_.iterator_to(job));
            job.kill_target_ = nullptr;
            kill_ready_.push_back(job);
        }
    }
    while (!kill_ready_.empty()) {
        sched_job& job = kill_ready_.front();
        kill_ready_.pop_front();
        lk.unlock();
        fail_unrun(job, -ESRCH);
        free_job(job);
        lk.lock();
    }

    // Completions still between their two locked parts touch this object: let them leave.
    state_cv_.wait(lk, [&] { return inflight_ == 0; });
    while (!entities_.empty()) {
        // Unlinked first, detached last: once its sched_ reads null, an entity being destroyed
        // on another thread skips entity_fini and may be freed at once, so this is the last
        // touch (with the acquire in ~sched_entity_base, the unlink happens before its end).
        // An entity whose destructor read sched_ before this store goes on into entity_fini:
        // the scheduler object must outlive fini() (drivers destroy it after their files).
        sched_entity_base& e = entities_.front();
        entities_.pop_front();
        e.sched_.store(nullptr, std::memory_order_release);
    }
    tdr_deadline_.reset();
    fini_done_ = true;
    token_ = std::thread::id{};
}

/// The scheduler of one engine, driving the driver's `Ops` (see the file comment).
template <sched_ops Ops>
class scheduler : public sched_base {
public:
    using ops_type = Ops;
    using job_type = typename Ops::job_type;
    using entity_type = sched_entity<Ops>;

    /// Starts the worker. Throws std::bad_alloc / std::system_error when that is impossible.
    scheduler(Ops ops, const sched_config& cfg) : sched_base(cfg, detail::sched_vtable_for<Ops>), ops_(std::move(ops)) {
        launch(&ops_);
    }
    ~scheduler() { fini(); } // before ops_ goes: teardown still calls it

    Ops& ops() noexcept { return ops_; }
    const Ops& ops() const noexcept { return ops_; }

private:
    Ops ops_;
};

// ---- sched_job and sched_entity_base operations that need the scheduler ----

inline int sched_job::init(sched_entity_base& entity, std::uint32_t credits) noexcept {
    if (armed() || pushed_)
        return -EBUSY;
    sched_base* s = entity.sched_.load(std::memory_order_acquire);
    if (!s)
        return -ENOENT;
    if (credits == 0)
        return -EINVAL;
    if (!fence_storage_) {
        if (detail::alloc_may_fail())
            return -ENOMEM;
        fence_storage_ = sched_fence_pair::allocate();
        if (!fence_storage_)
            return -ENOMEM;
    }
    entity_ = &entity;
    sched_ = s;
    credits_ = std::min(credits, s->credit_limit_); // more than the ring holds: truncated
    hw_cb_.job = this;
    kill_cb_.job = this;
    return 0;
}

inline void sched_job::arm() noexcept {
    if (armed() || !fence_storage_ || !entity_)
        return;
    id_ = sched_->job_id_count_.fetch_add(1, std::memory_order_relaxed) + 1;
    priority_ = entity_->priority();
    const std::uint64_t seqno = entity_->fence_seq_.fetch_add(1, std::memory_order_relaxed) + 1;
    auto* pair = new (fence_storage_) sched_fence_pair(entity_->ctx_, seqno, sched_->name_, sched_->id_);
    fence_storage_ = nullptr;
    scheduled_ = fence_ptr(&pair->scheduled());
    finished_ = fence_ptr(&pair->finished());
}

inline fence_ptr sched_job::parent() const noexcept {
    if (!sched_)
        return nullptr;
    std::lock_guard g(sched_->mu_);
    return parent_;
}

inline sched_entity_base::sched_entity_base(sched_base& sched, sched_priority priority) noexcept
    : sched_(&sched), ctx_(fence_context_alloc(2)),
      priority_(static_cast<int>(priority) < 0 || static_cast<int>(priority) >= sched_priority_count
                    ? sched_priority::low
                    : priority) {
    dep_cb_.entity = this;
    std::lock_guard g(sched.mu_);
    if (sched.fini_)
        sched_.store(nullptr, std::memory_order_relaxed);
    else
        sched.entities_.push_back(*this);
}

inline sched_entity_base::~sched_entity_base() {
    if (sched_base* s = sched_.load(std::memory_order_acquire))
        s->entity_fini(*this);
}

inline void sched_entity_base::set_priority(sched_priority p) noexcept {
    if (static_cast<int>(p) < 0 || static_cast<int>(p) >= sched_priority_count)
        p = sched_priority::low;
    if (sched_base* s = sched_.load(std::memory_order_acquire))
        s->set_entity_priority(*this, p);
    else
        priority_.store(p, std::memory_order_relaxed);
}

inline std::chrono::nanoseconds sched_entity_base::flush(std::chrono::nanoseconds timeout) noexcept {
    sched_base* s = sched_.load(std::memory_order_acquire);
    return s ? s->flush_entity(*this, timeout) : timeout;
}

inline void sched_entity_base::kill() noexcept {
    if (sched_base* s = sched_.load(std::memory_order_acquire))
        s->kill_entity(*this);
}

inline bool sched_entity_base::killed() const noexcept {
    sched_base* s = sched_.load(std::memory_order_acquire);
    if (!s)
        return true;
    std::lock_guard g(s->mu_);
    return stopped_;
}

inline int sched_entity_base::error() const noexcept {
    sched_base* s = sched_.load(std::memory_order_acquire);
    if (!s)
        return last_scheduled_ ? last_scheduled_->error() : 0;
    fence_ptr last;
    {
        std::lock_guard g(s->mu_);
        last = last_scheduled_;
    }
    return last ? last->error() : 0;
}

inline std::int64_t sched_entity_base::runtime_ns() const noexcept {
    sched_base* s = sched_.load(std::memory_order_acquire);
    if (!s)
        return runtime_ns_;
    std::lock_guard g(s->mu_);
    return runtime_ns_ + s->running_part_locked(this);
}

inline bool sched_entity_base::push_job(sched_job& job) noexcept {
    if (job.pushed_)
        return true; // already the scheduler's (a second push of one job is a driver bug)
    if (job.entity_ != this) {
        sched_base::fail_unrun(job, -EINVAL);
        return false;
    }
    sched_base* s = sched_.load(std::memory_order_acquire);
    if (!s) {
        sched_base::fail_unrun(job, -ESRCH);
        return false;
    }
    job.arm();
    s->push(*this, job);
    return true;
}

} // namespace accel
