// SPDX-License-Identifier: MIT
#pragma once
/// \file `deadline_timer`: ends waits whose time is up, from one thread for the whole process.
///
/// A parked request with a timeout (core/parked_call.hpp) is scheduled here; the timer thread
/// calls its expire() at the deadline, unless it was cancelled first. One thread serves every
/// device and backend (the kernel's hrtimers do this from interrupt context); it starts with the
/// first timed wait and stops at process exit.
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

namespace accel {

class timed_entry {
public:
    virtual void expire() noexcept = 0;
    virtual void get_ref() noexcept = 0;
    virtual void put_ref() noexcept = 0;

protected:
    ~timed_entry() = default;

private:
    friend class deadline_timer;
    using clock = std::chrono::steady_clock;
    std::multimap<clock::time_point, timed_entry*>::iterator at_;
    bool scheduled_ = false; // guarded by the timer's lock
};

class deadline_timer {
public:
    using clock = std::chrono::steady_clock;

    static deadline_timer& instance() {
        static deadline_timer t;
        return t;
    }

    /// Calls e.expire() at `when` unless cancel(e) comes first. -ENOMEM (nothing scheduled).
    int schedule(timed_entry& e, clock::time_point when) noexcept {
        std::lock_guard lock(mutex_);
        if (!thread_.joinable()) {
            try {
                thread_ = std::thread([this] { run(); });
            } catch (...) {
                return -ENOMEM;
            }
        }
        try {
            e.at_ = queue_.emplace(when, &e);
        } catch (...) {
            return -ENOMEM;
        }
        e.get_ref();
        e.scheduled_ = true;
        if (e.at_ == queue_.begin())
            cv_.notify_one();
        return 0;
    }

    /// Unschedules e (a no-op once it has fired or was never scheduled).
    void cancel(timed_entry& e) noexcept {
        {
            std::lock_guard lock(mutex_);
            if (!e.scheduled_)
                return;
            queue_.erase(e.at_);
            e.scheduled_ = false;
        }
        e.put_ref();
    }

    ~deadline_timer() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        cv_.notify_one();
        if (thread_.joinable())
            thread_.join();
    }

private:
    deadline_timer() = default;

    void run() noexcept {
        std::unique_lock lock(mutex_);
        while (!stop_) {
            if (queue_.empty()) {
                cv_.wait(lock);
                continue;
            }
            auto first = queue_.begin();
            if (clock::now() < first->first) {
                cv_.wait_until(lock, first->first);
                continue;
            }
            timed_entry* e = first->second;
            queue_.erase(first);
            e->scheduled_ = false; // the queue's reference passes to this call
            lock.unlock();
            e->expire();
            e->put_ref();
            lock.lock();
        }
    }

    std::mutex mutex_;
    std::condition_variable cv_;
    std::multimap<clock::time_point, timed_entry*> queue_;
    std::thread thread_;
    bool stop_ = false;
};

} // namespace accel
