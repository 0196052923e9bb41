// SPDX-License-Identifier: MIT
#pragma once
/// \file `reset_domain`: the device's reset and hang recovery, owned by the framework.
///
/// A driver puts the schedulers whose engines reset together into one domain (amdgpu's
/// reset domain; for most accelerators: all of a device's engines) and gives it the hardware
/// reset and a policy. The domain is the device's reset handler (core/device_status.hpp), so
/// ACCEL_IOCTL_RESET reaches it, and the driver's `timedout_job` hands a hung job to it:
/// \code
///     accel::timeout_status timedout_job(npu_job& j) { return domain.job_timed_out(j); }
/// \endcode
/// The recovery runs on the domain's own thread (never on a scheduler's worker: stopping the
/// other schedulers waits for their passes, and one of them could be in its own timedout_job),
/// one at a time. The status is IN_RESET from the request on. The flow is the kernel's typical
/// driver sequence (KERNEL-EXEC.md 1.7), with the device status around it:
///   1. every scheduler of the domain stop()s: jobs on the hardware are detached from their
///      hardware fences. Requests and timeouts that come until then join this recovery (a
///      timeout handler in progress is waited for, so a second timeout of the same hung job,
///      or of another scheduler's, is part of it); later ones get a recovery of their own;
///   2. every job handed to job_timed_out that is still on a stopped scheduler gets -ETIMEDOUT
///      on its finished fence (the error drm_sched's own tests give a timed-out job; a job keeps
///      its first error); one that completed meanwhile keeps its result;
///   3. the driver's reset callback resets the hardware (0, or -errno);
///   4. success: with reset_policy::resubmit the detached jobs run again (resubmit_jobs; a
///      driver's run_job returns nullptr for a job whose finished fence already carries an
///      error, as amdgpu skips it, or the blamed job runs again), then start(0); with
///      reset_policy::cancel start(-ECANCELED) ends them with -ECANCELED. The reset is counted
///      and the status returns to OPERATIONAL;
///      failure: start(-EIO) ends them with -EIO and the status is MALFUNCTION (compute ioctls
///      answer -EIO from then on, core/dispatch.hpp; a later successful reset brings the device
///      back).
/// Jobs submitted meanwhile wait in their entities (the schedulers are stopped): "submissions
/// wait during a reset". A driver that wants non-blocking submitters to get -EAGAIN checks
/// `in_reset()` (vdnn does). The domain calls the schedulers, the device status and the driver
/// without its lock held.
///
/// Unplug: the driver's remove() calls fini(), which stops the thread (a recovery under way
/// finishes, one only requested does not run) and tears down the schedulers (their queued and
/// pending jobs end with -ECANCELED, every fence signalled). The schedulers must outlive fini()
/// and the device the domain: keep it in the device's data, declared after the schedulers.
#include <accel/base/fault_injection.hpp>
#include <accel/core/device_base.hpp>
#include <accel/core/device_status.hpp>
#include <accel/exec/fence.hpp>
#include <accel/exec/scheduler.hpp>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace accel {

enum class reset_policy {
    resubmit, ///< the innocent jobs that were on the hardware run again
    cancel,   ///< they end with -ECANCELED
};

class reset_domain final : public reset_handler {
public:
    /// The driver's hardware reset: 0 when the hardware works again, else -errno.
    using reset_fn = std::function<int()>;

    reset_domain(device_base& dev, reset_policy policy, reset_fn hw_reset)
        : dev_(&dev), policy_(policy), hw_reset_(std::move(hw_reset)), thread_([this] { run(); }) {
        dev_->status().set_reset_handler(this);
    }
    reset_domain(const reset_domain&) = delete;
    reset_domain& operator=(const reset_domain&) = delete;
    ~reset_domain() { fini(); }

    /// Adds a scheduler to the domain (before jobs run on it; waits for a recovery under way).
    /// It must outlive the domain's fini(). Throws std::bad_alloc.
    void add(sched_base& s) {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return !recovering_; });
        work_.reserve(scheds_.size() + 1); // what a recovery copies them into: no allocation there
        guilty_.reserve(2 * (scheds_.size() + 1));
        blamed_.reserve(2 * (scheds_.size() + 1));
        scheds_.push_back(&s);
    }

    reset_policy policy() const noexcept { return policy_; }
    bool in_reset() const noexcept { return dev_->status().state() == ACCEL_STATE_IN_RESET; }

    /// For the driver's timedout_job: blames `bad` and starts a recovery, or joins the one under
    /// way if it has not reset the hardware yet. The job stays on its scheduler's pending list
    /// until the recovery handles it. ENODEV once fini() has begun.
    timeout_status job_timed_out(sched_job& bad) noexcept {
        if (!announce())
            return timeout_status::enodev;
        std::lock_guard lock(mutex_);
        if (stopping_)
            return timeout_status::enodev;
        const fence_ptr& f = bad.finished();
        if (f && std::find(guilty_.begin(), guilty_.end(), f) == guilty_.end()) {
            try {
                guilty_.push_back(f);
            } catch (...) { // no memory: the job is reset with the others, unblamed
            }
        }
        request_locked();
        return timeout_status::reset;
    }

    /// ACCEL_IOCTL_RESET: a recovery without a guilty job. -ENODEV once fini() has begun.
    int request_reset() noexcept override {
        if (!announce())
            return -ENODEV;
        std::lock_guard lock(mutex_);
        if (stopping_)
            return -ENODEV;
        request_locked();
        return 0;
    }

    /// Recoveries completed by this domain (failed ones included).
    unsigned recoveries() const noexcept {
        std::lock_guard lock(mutex_);
        return recoveries_;
    }

    /// Stops the recovery thread (a recovery in progress finishes first; one only requested does
    /// not run), unregisters from the device and tears down the schedulers. Idempotent; not from
    /// the reset callback or a scheduler's callback.
    void fini() noexcept {
        std::lock_guard once(fini_mutex_);
        if (fini_done_)
            return;
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
            cv_.notify_all();
        }
        if (thread_.joinable())
            thread_.join();
        dev_->status().set_reset_handler(nullptr);
        std::vector<sched_base*> scheds;
        std::vector<fence_ptr> guilty;
        {
            std::lock_guard lock(mutex_);
            scheds.swap(scheds_);
            guilty.swap(guilty_);
        }
        for (sched_base* s : scheds)
            s->fini();
        fini_done_ = true;
    }

private:
    // IN_RESET before the request is made, so that a waiter (ACCEL_IOCTL_RESET) sees the reset
    // it asked for or a later state, never the one from before it (MALFUNCTION). Not under the
    // lock: a state change wakes its waiters, and those may take the driver's locks.
    bool announce() noexcept {
        {
            std::lock_guard lock(mutex_);
            if (stopping_)
                return false;
        }
        dev_->status().set_state(ACCEL_STATE_IN_RESET);
        return true;
    }
    void request_locked() noexcept {
        requested_ = true;
        cv_.notify_all();
    }

    void run() noexcept {
        std::unique_lock lock(mutex_);
        for (;;) {
            cv_.wait(lock, [&] { return requested_ || stopping_; });
            if (stopping_)
                return;
            recovering_ = true;
            work_.assign(scheds_.begin(), scheds_.end()); // capacity reserved by add()
            lock.unlock();
            // Again: a recovery that ended meanwhile may have published its result over it.
            dev_->status().set_state(ACCEL_STATE_IN_RESET);
            const int err = recover(work_);
            lock.lock();
            recovering_ = false;
            ++recoveries_;
            cv_.notify_all(); // add()
            lock.unlock();
            if (err)
                dev_->status().set_state(ACCEL_STATE_MALFUNCTION);
            else
                dev_->reset_completed();
            lock.lock();
        }
    }

    int recover(const std::vector<sched_base*>& scheds) noexcept {
        // Stopping waits for each scheduler's pass in progress, a timeout handler's included:
        // whatever it blamed meanwhile (the same hung job again, another scheduler's) joins here.
        for (sched_base* s : scheds)
            s->stop(nullptr);
        {
            std::lock_guard lock(mutex_);
            blamed_.swap(guilty_);
            requested_ = false;
        }
        // Only a job found on a stopped scheduler is blamed: detached, nothing else signals it
        // (one that completed meanwhile was freed by stop() and keeps its result).
        for (const fence_ptr& f : blamed_)
            for (sched_base* s : scheds)
                if (s->pending_job_with(*f)) {
                    if (f->error() == 0) // a job keeps its first error
                        (void)f->set_error(-ETIMEDOUT);
                    break;
                }
        blamed_.clear();
        int err = 0;
        try {
            if (hw_reset_) { // only a hook the driver supplied can fail
                err = detail::callback_may_fail("reset_domain.hw_reset");
                if (err == 0)
                    err = hw_reset_();
            }
        } catch (...) {
            err = -EIO;
        }
        if (err) {
            for (sched_base* s : scheds)
                s->start(-EIO);
            return err;
        }
        if (policy_ == reset_policy::resubmit)
            for (sched_base* s : scheds)
                s->resubmit_jobs();
        for (sched_base* s : scheds)
            s->start(policy_ == reset_policy::resubmit ? 0 : -ECANCELED);
        return 0;
    }

    device_base* dev_;
    const reset_policy policy_;
    reset_fn hw_reset_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<sched_base*> scheds_;
    std::vector<fence_ptr> guilty_; // blamed by job_timed_out, for the next stop phase
    bool requested_ = false;
    bool stopping_ = false;
    bool recovering_ = false;
    unsigned recoveries_ = 0;
    // The recovery thread's own (add() changes them only while no recovery runs).
    std::vector<sched_base*> work_;
    std::vector<fence_ptr> blamed_;
    std::mutex fini_mutex_;
    bool fini_done_ = false;
    std::thread thread_; // last: started once everything above exists
};

} // namespace accel
