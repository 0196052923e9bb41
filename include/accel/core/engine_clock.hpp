// SPDX-License-Identifier: MIT
#pragma once
/// \file `engine_clock`: an engine's cumulative busy time, as INFO's ENGINE_BUSY item reports it.
///
/// The execution layer's schedulers measure busy time from their jobs' fence timestamps
/// (scheduled to finished) and register one clock per engine with the device, so a driver gets
/// ENGINE_BUSY without writing a callback (a driver's `engine_busy` callback still overrides
/// it, core/info_items.hpp). Several clocks may share an engine id (instances of one engine
/// group): their times add up, as drm-engine-<name> sums over an engine's instances.
#include <boost/intrusive/list.hpp>

#include <cstdint>
#include <mutex>

namespace accel {

class engine_clock
    : public boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::safe_link>> {
public:
    /// The accel_info_engine id this clock counts for.
    virtual std::uint32_t engine_id() const noexcept = 0;
    /// Busy nanoseconds so far, monotonic (a job still running counts up to now).
    virtual std::uint64_t busy_ns() const noexcept = 0;

protected:
    ~engine_clock() = default;
};

/// The clocks registered with a device. A clock unregisters before it is destroyed.
class engine_clocks {
public:
    void add(engine_clock& c) noexcept {
        std::lock_guard lock(mutex_);
        if (!c.is_linked())
            list_.push_back(c);
    }
    void remove(engine_clock& c) noexcept {
        std::lock_guard lock(mutex_);
        if (c.is_linked())
            list_.erase(list_.iterator_to(c));
    }
    /// Calls fn(id, busy_ns) per clock, under the registry's lock.
    template <class Fn>
    void for_each(Fn&& fn) const {
        std::lock_guard lock(mutex_);
        for (const engine_clock& c : list_)
            fn(c.engine_id(), c.busy_ns());
    }

private:
    mutable std::mutex mutex_;
    boost::intrusive::list<engine_clock, boost::intrusive::constant_time_size<false>> list_;
};

} // namespace accel
