// SPDX-License-Identifier: MIT
#pragma once
/// \file Engine clocks (core/engine_clock.hpp) fed by the scheduler: a client's per-entity time
/// and an engine's busy time.
///
/// `entity_clock`: the engine time of one scheduler entity's jobs (sched_entity_base::
/// runtime_ns), registered in its file's registry (file_base::engine_time) under an engine id,
/// so that fdinfo's drm-engine-<name> and INFO's CLIENT_ENGINES show the client's time without
/// the driver summing anything (the kernel's drivers sum their contexts' runtimes in their
/// show_fdinfo; accel does it once, in core). Several entities of one file may register under
/// one id (a context per instance of an engine group): their times add up.
///
/// A driver makes the clock with the entity (usually in its open(), when the file does not
/// exist yet) and attaches it to the file when it first has the file (e.g. at its first submit:
/// attach() is idempotent and cheap). It must detach() before the entity dies, at the latest
/// in postclose (the file's registry goes with the file right after postclose; the destructor
/// detaches too, for a clock that dies first). attach() must not race detach(): postclose runs
/// when no ioctl of the file is in flight.
///
/// `scheduler_clock`: an engine's busy time (sched_base::busy_ns) for the device's registry
/// (device_base::engine_time), what INFO's ENGINE_BUSY reports without a driver callback.
#include <accel/core/engine_clock.hpp>
#include <accel/exec/sched_entity.hpp>

#include <atomic>
#include <cstdint>

namespace accel {

class entity_clock final : public engine_clock {
public:
    entity_clock(const sched_entity_base& entity, std::uint32_t engine_id) noexcept
        : entity_(&entity), id_(engine_id) {}
    entity_clock(const entity_clock&) = delete;
    entity_clock& operator=(const entity_clock&) = delete;
    ~entity_clock() { detach(); }

    /// Registers with `clocks` (a file's engine_time()); a no-op when already attached.
    void attach(engine_clocks& clocks) noexcept {
        engine_clocks* none = nullptr;
        if (registry_.compare_exchange_strong(none, &clocks, std::memory_order_acq_rel))
            clocks.add(*this);
    }
    /// Leaves the registry it is in, if any.
    void detach() noexcept {
        if (engine_clocks* r = registry_.exchange(nullptr, std::memory_order_acq_rel))
            r->remove(*this);
    }
    bool attached() const noexcept { return registry_.load(std::memory_order_acquire) != nullptr; }

    std::uint32_t engine_id() const noexcept override { return id_; }
    std::uint64_t busy_ns() const noexcept override {
        const std::int64_t ns = entity_->runtime_ns();
        return ns > 0 ? static_cast<std::uint64_t>(ns) : 0;
    }

private:
    const sched_entity_base* entity_;
    std::uint32_t id_;
    std::atomic<engine_clocks*> registry_{nullptr};
};

class scheduler_clock final : public engine_clock {
public:
    scheduler_clock(const sched_base& sched, std::uint32_t engine_id) noexcept : sched_(&sched), id_(engine_id) {}
    std::uint32_t engine_id() const noexcept override { return id_; }
    std::uint64_t busy_ns() const noexcept override {
        const std::int64_t ns = sched_->busy_ns();
        return ns > 0 ? static_cast<std::uint64_t>(ns) : 0;
    }

private:
    const sched_base* sched_;
    std::uint32_t id_;
};

} // namespace accel
