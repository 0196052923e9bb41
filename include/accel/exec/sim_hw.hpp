// SPDX-License-Identifier: MIT
#pragma once
/// \file `sim_engine`: simulated hardware for example drivers and tests: one engine (a ring)
/// that executes submitted work in order on its own thread and signals each job's hardware
/// fence from that thread, as an interrupt handler would.
///
/// A driver's run_job submits to an engine and returns the hardware fence:
/// \code
///   accel::result<accel::fence_ptr> run_job(npu_job& j) {
///       accel::fence_ptr hw = engine.make_fence();
///       engine.submit([&j] { return j.execute(); }, hw, j.duration);
///       return hw;
///   }
/// \endcode
/// Each job: the work function runs on the engine thread (its negative return value is the
/// job's error), the job then takes `duration` plus the engine's `set_delay()` time, and its
/// fence is signalled (with the error, if any) from the engine thread.
///
/// Test controls:
///   - `hang()`: the engine stops starting jobs; what is queued stays unsignalled until
///     `advance(n)` lets n through (the KUnit mock's drm_mock_sched_advance), `resume()`, or
///     `reset()`.
///   - `set_delay(d)`: every job takes d longer (a slow engine).
///   - `fail_next(err)`: the next job to complete gets `err` whatever its work returned.
///   - `cancel(hw, err)`: drops one job (the driver's cancel_job): its fence is signalled with err
///     from the calling thread; if it is running, its completion is suppressed.
///   - `reset(err)`: aborts everything the engine holds (queued and running), signals those
///     fences with err from the calling thread and returns how many; `reset_and_take()` returns
///     them unsignalled instead, for the caller to decide. Either clears hang() and fail_next();
///     the delay stays (it is a property of the engine).
/// The destructor stops the engine: what it still holds is signalled with -ECANCELED (nothing
/// waits for ever on a fence of a destroyed engine).
///
/// Lifetime: the work function (what it captured) is dropped on the engine thread as soon as
/// it returns, while its job still counts as running (in_flight()), so once `wait_idle()`
/// returns after a reset() or cancel() the engine thread holds nothing of the aborted work. A
/// driver's unplug waits so: a capture may hold the last reference to the device that owns
/// the engine, and destroying the engine on its own thread would join that thread from itself.
#include <accel/exec/fence.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace accel {

class sim_engine {
public:
    using work_fn = std::function<int()>;

    /// Starts the engine thread (throws std::system_error if it cannot).
    sim_engine() : context_(fence_context_alloc()), thread_([this] { run(); }) {}
    sim_engine(const sim_engine&) = delete;
    sim_engine& operator=(const sim_engine&) = delete;
    ~sim_engine() {
        std::vector<fence_ptr> left;
        {
            std::lock_guard g(mu_);
            stop_ = true;
            abort_running_locked(left);
            for (entry& e : queue_)
                left.push_back(std::move(e.hw));
            queue_.clear();
        }
        cv_.notify_all();
        thread_.join();
        signal_all(left, -ECANCELED);
    }

    /// The engine's timeline: a new hardware fence, the next on it.
    fence_ptr make_fence() {
        std::lock_guard g(mu_);
        return accel::make_fence(context_, ++seqno_, "accel_sim", "sim_engine");
    }
    std::uint64_t context() const noexcept { return context_; }

    /// Queues a job; `hw` is signalled when it is done (from the engine thread).
    void submit(work_fn work, fence_ptr hw, std::chrono::nanoseconds duration = {}) {
        {
            std::lock_guard g(mu_);
            queue_.push_back(entry{std::move(work), std::move(hw), duration});
            ++submitted_;
        }
        cv_.notify_all();
    }
    /// submit() with a fence of its own.
    fence_ptr submit(work_fn work, std::chrono::nanoseconds duration = {}) {
        fence_ptr hw = make_fence();
        submit(std::move(work), hw, duration);
        return hw;
    }

    void hang() {
        std::lock_guard g(mu_);
        held_ = true;
        permits_ = 0;
    }
    void resume() {
        {
            std::lock_guard g(mu_);
            held_ = false;
        }
        cv_.notify_all();
    }
    /// While hung: lets up to n queued jobs complete and waits until they have; how many did.
    /// Jobs the scheduler is about to hand over count too: it waits (up to 10 s) until n are
    /// queued, as the KUnit mock's timeline counts jobs submitted by then (a worker thread may
    /// still be on its way to run_job when a test advances).
    unsigned advance(unsigned n) {
        std::unique_lock lk(mu_);
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (queue_.size() < n && !stop_ && std::chrono::steady_clock::now() < until)
            done_cv_.wait_for(lk, std::chrono::milliseconds(1));
        const auto k = static_cast<unsigned>(std::min<std::size_t>(n, queue_.size()));
        permits_ += k;
        const std::uint64_t target = completed_ + k;
        cv_.notify_all();
        done_cv_.wait(lk, [&] { return completed_ >= target || stop_; });
        return k;
    }
    void set_delay(std::chrono::nanoseconds d) {
        std::lock_guard g(mu_);
        delay_ = d;
    }
    void fail_next(int error) {
        std::lock_guard g(mu_);
        fail_next_ = error;
    }

    /// Drops the job of `hw` if the engine still holds it; true if it did (fence signalled).
    bool cancel(const fence_ptr& hw, int error = -ECANCELED) {
        std::vector<fence_ptr> found;
        {
            std::lock_guard g(mu_);
            if (running_ && running_->e.hw == hw) {
                abort_running_locked(found);
            } else {
                auto it = std::find_if(queue_.begin(), queue_.end(), [&](const entry& e) { return e.hw == hw; });
                if (it != queue_.end()) {
                    found.push_back(std::move(it->hw));
                    queue_.erase(it);
                    ++completed_;
                }
            }
        }
        cv_.notify_all();
        done_cv_.notify_all();
        signal_all(found, error);
        return !found.empty();
    }

    std::size_t reset(int error = -EIO) {
        std::vector<fence_ptr> fences = reset_and_take();
        signal_all(fences, error);
        return fences.size();
    }
    std::vector<fence_ptr> reset_and_take() {
        std::vector<fence_ptr> fences;
        {
            std::lock_guard g(mu_);
            abort_running_locked(fences);
            for (entry& e : queue_)
                fences.push_back(std::move(e.hw));
            completed_ += queue_.size();
            queue_.clear();
            held_ = false;
            permits_ = 0;
            fail_next_ = 0;
            ++resets_;
        }
        cv_.notify_all();
        done_cv_.notify_all();
        return fences;
    }

    /// Waits until no job runs on the engine: a job reset() or cancel() aborted while it was
    /// running has returned from its work and the work is gone (see the file comment).
    void wait_idle() {
        std::unique_lock lk(mu_);
        done_cv_.wait(lk, [&] { return running_ == nullptr; });
    }

    /// Jobs submitted, not yet completed or dropped.
    std::size_t in_flight() const {
        std::lock_guard g(mu_);
        return queue_.size() + (running_ ? 1 : 0);
    }
    std::uint64_t submitted() const {
        std::lock_guard g(mu_);
        return submitted_;
    }
    unsigned resets() const {
        std::lock_guard g(mu_);
        return resets_;
    }

private:
    struct entry {
        work_fn work;
        fence_ptr hw;
        std::chrono::nanoseconds duration{};
    };
    struct running_job {
        entry e;
        bool aborted = false;
    };

    static void signal_all(std::vector<fence_ptr>& fences, int error) {
        for (fence_ptr& f : fences) {
            if (error < 0)
                f->set_error(error);
            f->signal();
        }
    }

    // The running job's fence is handed to the caller; its completion on the engine is dropped.
    void abort_running_locked(std::vector<fence_ptr>& out) {
        if (!running_ || running_->aborted)
            return;
        running_->aborted = true;
        out.push_back(running_->e.hw);
        ++completed_;
    }

    void run() {
        std::unique_lock lk(mu_);
        for (;;) {
            cv_.wait(lk, [&] { return stop_ || (!queue_.empty() && (!held_ || permits_ > 0)); });
            if (stop_)
                return;
            if (held_)
                --permits_;
            running_job job{std::move(queue_.front()), false};
            queue_.pop_front();
            running_ = &job;
            const int forced = std::exchange(fail_next_, 0);
            const auto takes = job.e.duration + delay_;
            lk.unlock();
            int r = job.e.work ? job.e.work() : 0;
            job.e.work = {}; // its captures go here, unlocked, while the job still counts as running
            lk.lock();
            if (takes.count() > 0)
                cv_.wait_for(lk, takes, [&] { return stop_ || job.aborted; });
            running_ = nullptr;
            if (job.aborted) { // reset, cancel or the destructor took its fence
                done_cv_.notify_all();
                continue;
            }
            ++completed_;
            lk.unlock();
            if (forced < 0)
                r = forced;
            if (r < 0)
                job.e.hw->set_error(r);
            job.e.hw->signal(); // the "interrupt"
            job.e = entry{};    // the fence reference (the work went above)
            lk.lock();
            done_cv_.notify_all();
        }
    }

    const std::uint64_t context_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::condition_variable done_cv_;
    std::deque<entry> queue_;
    running_job* running_ = nullptr;
    std::uint64_t seqno_ = 0;
    std::uint64_t submitted_ = 0;
    std::uint64_t completed_ = 0;
    unsigned permits_ = 0;
    unsigned resets_ = 0;
    int fail_next_ = 0;
    std::chrono::nanoseconds delay_{};
    bool held_ = false;
    bool stop_ = false;
    std::thread thread_; // last: starts after everything above exists
};

} // namespace accel
