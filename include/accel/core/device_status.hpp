// SPDX-License-Identifier: MIT
#pragma once
/// \file `device_status`: whether a device works, owned by the framework (habanalabs' device
/// status, with the reset flow of the execution layer driving it).
///
///   OPERATIONAL  -> IN_RESET     a reset starts (a job timed out, a client asked, the driver saw
///                                a fault); submissions made meanwhile queue behind it
///   IN_RESET     -> OPERATIONAL  the driver's reset succeeded (reset_count goes up)
///   IN_RESET     -> MALFUNCTION  the driver's reset failed: compute ioctls answer -EIO from then
///                                on; core ioctls (VERSION, GET_CAP, GEM_CLOSE, INFO), the monitor
///                                node and close keep working so clients can learn why and clean up
///   any          -> NEEDS_RESET  the driver saw the hardware wedge and asks for a reset
///
/// core/ knows only the state and who can reset: the execution layer (exec/reset_domain.hpp)
/// registers itself as the device's `reset_handler`, and ACCEL_IOCTL_RESET (a root-only
/// framework ioctl, core/info_ioctl.hpp) asks it to reset. `changed()` is woken on every change,
/// so a request can park until a reset ends.
#include <accel/core/wait_queue.hpp>
#include <accel/uapi/accel_info.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>

namespace accel {

/// Who resets a device: the execution layer's reset domain, registered at probe.
class reset_handler {
public:
    /// Starts a reset of the whole device without waiting for it: 0 (a reset is now under way,
    /// perhaps one that had already started), or -errno (-ENODEV when unplugged).
    virtual int request_reset() noexcept = 0;

protected:
    ~reset_handler() = default;
};

class device_status {
public:
    accel_device_state state() const noexcept { return state_.load(std::memory_order_acquire); }
    bool operational() const noexcept { return state() == ACCEL_STATE_OPERATIONAL; }

    /// Moves to `s` and wakes whoever waits for a change.
    void set_state(accel_device_state s) noexcept {
        state_.store(s, std::memory_order_release);
        changed_.wake_all();
    }

    /// Completed resets, as INFO's STATUS item reports them.
    std::uint64_t reset_count() const noexcept { return reset_count_.load(std::memory_order_acquire); }
    /// A reset succeeded: count it and return to OPERATIONAL (in that order, so a waiter that
    /// sees OPERATIONAL also sees the count).
    void reset_completed() noexcept {
        reset_count_.fetch_add(1, std::memory_order_acq_rel);
        set_state(ACCEL_STATE_OPERATIONAL);
    }

    /// Woken on every state change.
    wait_queue& changed() noexcept { return changed_; }

    /// Installs (or, with nullptr, removes) the device's reset handler.
    void set_reset_handler(reset_handler* h) noexcept {
        std::lock_guard lock(mutex_);
        handler_ = h;
    }
    /// Asks the reset handler for a reset: its answer, or -EOPNOTSUPP when the device has none.
    int request_reset() noexcept {
        std::lock_guard lock(mutex_); // keeps the handler registered while it is called
        return handler_ ? handler_->request_reset() : -EOPNOTSUPP;
    }

private:
    std::atomic<accel_device_state> state_{ACCEL_STATE_OPERATIONAL};
    std::atomic<std::uint64_t> reset_count_{0};
    wait_queue changed_;
    std::mutex mutex_;
    reset_handler* handler_ = nullptr;
};

} // namespace accel
