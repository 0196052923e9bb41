// SPDX-License-Identifier: MIT
#pragma once
/// \file The host's thread for work that must not run inside a request handler.
///
/// Telling the kernel that an entry went (fuse_lowlevel_notify_delete / notify_inval_entry)
/// takes the directory's lock in the kernel; a request in that directory (a LOOKUP, for
/// instance) may hold it while it waits for the server, so a handler that notified could wait
/// for itself. The host queues such work and this thread does it, soon after a poke() and
/// otherwise every period: also what has no request to ride on (reconciling the tree with the
/// subsystem after an unregistration nobody looked up, reclaiming pins of unmapped objects).
/// The thread must stop while the session loop still serves (host.hpp): its notifications may
/// wait for writeback that the loop answers.
#include <accel/fuse/unsignalled_thread.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>

namespace accel::fuse {

class housekeeping {
public:
    housekeeping() = default;
    housekeeping(const housekeeping&) = delete;
    housekeeping& operator=(const housekeeping&) = delete;
    ~housekeeping() { stop(); }

    /// Runs `tick()` on a thread of its own every `period` and soon after each poke().
    template <class Tick>
    void start(std::chrono::milliseconds period, Tick tick) {
        stop();
        {
            std::lock_guard lock(m_);
            stopping_ = false;
            poked_ = false;
        }
        thread_ = unsignalled_thread([this, period, tick = std::move(tick)]() mutable {
            std::unique_lock lock(m_);
            while (!stopping_) {
                cv_.wait_for(lock, period, [this] { return stopping_ || poked_; });
                if (stopping_)
                    break;
                poked_ = false;
                lock.unlock();
                tick();
                lock.lock();
            }
        });
    }

    /// Asks for a tick soon. Not async-signal-safe (a mutex).
    void poke() noexcept {
        {
            std::lock_guard lock(m_);
            poked_ = true;
        }
        cv_.notify_one();
    }

    /// Waits for the tick under way, if any, and ends the thread. Idempotent.
    void stop() noexcept {
        {
            std::lock_guard lock(m_);
            stopping_ = true;
        }
        cv_.notify_one();
        if (thread_.joinable())
            thread_.join();
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    bool stopping_ = false;
    bool poked_ = false;
    std::thread thread_;
};

} // namespace accel::fuse
