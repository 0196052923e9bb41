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
/// one at a time; requests that come while one is under way join it. The flow is the kernel's
/// typical driver sequence (KERNEL-EXEC.md 1.7), with the device status around it:
///   1. status IN_RESET; every scheduler of the domain stop()s (the hung job's scheduler with the
///      hung job as `bad`): jobs on the hardware are detached from their hardware fences;
///   2. the hung job's finished fence gets -ETIMEDOUT (the error drm_sched's own tests give a
///      timed-out job; a job's first error is the one it keeps);
///   3. the driver's reset callback resets the hardware (0, or -errno);
///   4. success: with reset_policy::resubmit the detached jobs run again (resubmit_jobs; the
///      hung job is not re-run: a driver's run_job returns nullptr for a job whose finished
///      fence already carries an error, as amdgpu skips it), then start(0); with
///      reset_policy::cancel start(-ECANCELED) ends them with -ECANCELED. The reset is counted
///      and the status returns to OPERATIONAL;
///      failure: start(-EIO) ends them with -EIO and the status is MALFUNCTION (compute ioctls
///      answer -EIO from then on, core/dispatch.hpp; a later successful reset brings the device
///      back).
/// Jobs submitted meanwhile wait in their entities (the schedulers are stopped): "submissions
/// wait during a reset". A driver that wants non-blocking submitters to get -EAGAIN checks
/// `in_reset()` (vdnn does).
///
/// Unplug: the driver's remove() calls fini(), which stops the thread and tears down the
/// schedulers (their queued and pending jobs end with -ECANCELED, every fence signalled); no
/// reset runs after it.
#include <accel/core/device_base.hpp>
#include <accel/core/device_status.hpp>
#include <accel/exec/fence.hpp>
#include <accel/exec/scheduler.hpp>

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

    /// Adds a scheduler to the domain (before jobs run on it).
    void add(sched_base& s) {
        std::lock_guard lock(mutex_);
        scheds_.push_back(&s);
    }

    reset_policy policy() const noexcept { return policy_; }
    bool in_reset() const noexcept { return dev_->status().state() == ACCEL_STATE_IN_RESET; }

    /// For the driver's timedout_job: blames `bad` and starts a recovery (or joins the one under
    /// way). The job stays on its scheduler's pending list until the recovery handles it.
    timeout_status job_timed_out(sched_job& bad) noexcept {
        std::lock_guard lock(mutex_);
        if (stopping_)
            return timeout_status::enodev;
        if (bad.finished() && !guilty_)
            guilty_ = bad.finished();
        requested_ = true;
        cv_.notify_one();
        return timeout_status::reset;
    }

    /// ACCEL_IOCTL_RESET: a recovery without a guilty job. -ENODEV once torn down.
    int request_reset() noexcept override {
        std::lock_guard lock(mutex_);
        if (stopping_)
            return -ENODEV;
        requested_ = true;
        cv_.notify_one();
        return 0;
    }

    /// Recoveries completed by this domain (failed ones included).
    unsigned recoveries() const noexcept {
        std::lock_guard lock(mutex_);
        return recoveries_;
    }

    /// Stops the recovery thread (a recovery in progress finishes first), unregisters from the
    /// device and tears down the schedulers. Idempotent.
    void fini() noexcept {
        {
            std::lock_guard lock(mutex_);
            if (stopping_ && !thread_.joinable())
                return;
            stopping_ = true;
            cv_.notify_one();
        }
        if (thread_.joinable())
            thread_.join();
        dev_->status().set_reset_handler(nullptr);
        std::vector<sched_base*> scheds;
        {
            std::lock_guard lock(mutex_);
            scheds.swap(scheds_);
        }
        for (sched_base* s : scheds)
            s->fini();
    }

private:
    void run() noexcept {
        std::unique_lock lock(mutex_);
        for (;;) {
            cv_.wait(lock, [&] { return requested_ || stopping_; });
            if (stopping_)
                return;
            requested_ = false;
            fence_ptr guilty = std::exchange(guilty_, nullptr);
            std::vector<sched_base*> scheds = scheds_;
            lock.unlock();
            recover(scheds, guilty.get());
            lock.lock();
            ++recoveries_;
        }
    }

    void recover(const std::vector<sched_base*>& scheds, fence* guilty) noexcept {
        dev_->status().set_state(ACCEL_STATE_IN_RESET);
        for (sched_base* s : scheds)
            s->stop(guilty ? s->pending_job_with(*guilty) : nullptr);
        if (guilty && !guilty->is_signaled())
            (void)guilty->set_error(-ETIMEDOUT);
        int err = 0;
        try {
            err = hw_reset_ ? hw_reset_() : 0;
        } catch (...) {
            err = -EIO;
        }
        if (err) {
            for (sched_base* s : scheds)
                s->start(-EIO);
            dev_->status().set_state(ACCEL_STATE_MALFUNCTION);
            return;
        }
        if (policy_ == reset_policy::resubmit)
            for (sched_base* s : scheds)
                s->resubmit_jobs();
        for (sched_base* s : scheds)
            s->start(policy_ == reset_policy::resubmit ? 0 : -ECANCELED);
        dev_->reset_completed();
    }

    device_base* dev_;
    const reset_policy policy_;
    reset_fn hw_reset_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<sched_base*> scheds_;
    fence_ptr guilty_;
    bool requested_ = false;
    bool stopping_ = false;
    unsigned recoveries_ = 0;
    std::thread thread_; // last: started once everything above exists
};

} // namespace accel
