// SPDX-License-Identifier: MIT
#pragma once
// vdsp's device state and jobs: the firmware the device runs, the one engine (a scheduler over
// a simulated engine thread, accel::sim_engine) in one reset domain whose hardware reset
// reloads the firmware, what SUBMIT builds and what the engine does with it.
//
// Data access: a job reaches an object's memory only through object_bytes() (bounds-checked,
// host memory of one object + offset + length). Objects imported from another driver (PRIME,
// to come) will answer there through their exporter, and nothing else in the job changes.
#include "vdsp_firmware.hpp"
#include "vdsp_kernels.hpp"
#include "vdsp_uapi.h"

#include <accel/accel.hpp>
#include <accel/core/firmware.hpp>
#include <accel/exec/reset_domain.hpp>
#include <accel/exec/scheduler.hpp>
#include <accel/exec/entity_clock.hpp>
#include <accel/exec/sim_hw.hpp>
#include <accel/exec/sim_sensors.hpp>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace vdsp {

/// Finished jobs a file remembers for WAIT; older ones answer -ENOENT.
inline constexpr std::size_t job_history = 4096;

/// How a vdsp device is made (device<driver>::create's argument).
struct device_config {
    std::string firmware_name = "accel/vdsp.fw"; // what probe and reset request
    /// Where the firmware is searched: the kernel's order under / unless the environment says
    /// otherwise (ACCEL_FIRMWARE_ROOT, ACCEL_FIRMWARE_PATH); accel-serve sets --firmware-path.
    accel::firmware_loader loader = accel::firmware_loader::from_environment();
    std::chrono::milliseconds job_timeout{2000};
};

/// The bytes [offset, offset + length) of `o` as host memory: the one place a job (and SUBMIT's
/// checks) reach an object's memory. -EINVAL when the range is not inside the object, -EFAULT
/// when the object has no CPU mapping.
inline accel::result<std::span<std::byte>> object_bytes(accel::gem_object& o, std::uint64_t offset, std::uint64_t length) {
    using out = accel::result<std::span<std::byte>>;
    if (offset > o.size() || length > o.size() - offset)
        return out::failure(-EINVAL);
    std::byte* base = o.vaddr();
    if (!base)
        return out::failure(-EFAULT);
    return std::span<std::byte>(base + offset, static_cast<std::size_t>(length));
}

/// What one job does (checked at SUBMIT, checked again against the firmware when it runs).
struct job_desc {
    std::uint32_t op = VDSP_OP_NOP;
    std::uint64_t count = 0;
    accel::gem_ref in, out, coef; // coef: null when the taps were copied at SUBMIT
    std::uint64_t in_offset = 0, out_offset = 0, coef_offset = 0;
    std::uint32_t taps = 0;
    std::vector<float> inline_taps;
    std::uint32_t fft_size = 0, fft_flags = 0;

    std::uint64_t in_bytes() const noexcept { return op == VDSP_OP_FFT ? count * 8 : count * 4; }
    std::uint64_t out_bytes() const noexcept { return in_bytes(); }
};

/// Whether the firmware runs `d`: -EOPNOTSUPP when it lacks the function (or the window table
/// VDSP_FFT_WINDOW needs), -EINVAL for an FFT larger than its tables.
inline int check_firmware(const fw_image& fw, const job_desc& d) noexcept {
    switch (d.op) {
    case VDSP_OP_NOP: return 0;
    case VDSP_OP_FIR: return fw.has_fir ? 0 : -EOPNOTSUPP;
    case VDSP_OP_FFT:
        if (!fw.has_fft)
            return -EOPNOTSUPP;
        if (d.fft_size > fw.fft_max)
            return -EINVAL;
        if ((d.fft_flags & VDSP_FFT_WINDOW) && fw.window.empty())
            return -EOPNOTSUPP;
        return 0;
    default: return -EINVAL;
    }
}

/// Runs a job on host memory with the firmware's functions and tables: 0 or -errno.
inline int execute(const fw_image& fw, const job_desc& d) noexcept {
    if (int e = check_firmware(fw, d))
        return e;
    if (d.op == VDSP_OP_NOP)
        return 0;
    auto in = object_bytes(*d.in, d.in_offset, d.in_bytes());
    if (!in)
        return in.error();
    auto out = object_bytes(*d.out, d.out_offset, d.out_bytes());
    if (!out)
        return out.error();
    // Offsets are multiples of 4 and object memory is page-aligned: float access is aligned.
    const auto* x = reinterpret_cast<const float*>(in->data());
    auto* y = reinterpret_cast<float*>(out->data());
    if (d.op == VDSP_OP_FIR) {
        std::span<const float> h(d.inline_taps);
        if (d.coef) {
            auto c = object_bytes(*d.coef, d.coef_offset, std::uint64_t{d.taps} * 4);
            if (!c)
                return c.error();
            h = std::span<const float>(reinterpret_cast<const float*>(c->data()), d.taps);
        }
        fir(std::span<const float>(x, d.count), std::span<float>(y, d.count), h);
    } else {
        for (std::uint64_t b = 0; b < d.count / d.fft_size; ++b)
            fft_block(fw, x + 2 * b * d.fft_size, y + 2 * b * d.fft_size, d.fft_size, d.fft_flags);
    }
    // The device wrote the output: before the job's fences signal (architecture.md "Device
    // writes"), so a FUSE client's cached pages of it are dropped at its next sync point.
    d.out->device_wrote();
    return 0;
}

/// What a file keeps of a job for WAIT.
struct job_record {
    std::uint64_t seqno = 0;
    accel::fence_ptr finished;
};

struct job : accel::sched_job {
    std::shared_ptr<const job_desc> desc;
};

struct device_state;

struct engine_ops {
    using job_type = job;
    device_state* dev = nullptr;

    accel::result<accel::fence_ptr> run_job(job& j);
    accel::timeout_status timedout_job(job& j);
    void free_job(job* j) { delete j; }
    void cancel_job(job& j);
};

using scheduler_type = accel::scheduler<engine_ops>;
using entity_type = accel::sched_entity<engine_ops>;

/// Everything of a device that jobs reach.
struct device_state {
    explicit device_state(device_config c) : config(std::move(c)) {}

    device_config config;

    /// The firmware in use, or null (the load failed: NEEDS_RESET, or a reset's reload failed).
    std::shared_ptr<const fw_image> firmware() const {
        std::lock_guard lock(fw_mutex);
        return fw;
    }
    /// 0, or the -errno of the last load.
    int firmware_status() const {
        std::lock_guard lock(fw_mutex);
        return fw_status;
    }

    /// request_firmware + the format's checks; installs the image on success, clears it on
    /// failure (a device whose firmware load failed runs nothing). 0 or -errno (-ENOENT,
    /// -EINVAL, ...), logged through the loader's sink.
    int load_firmware() noexcept {
        int e = 0;
        std::shared_ptr<const fw_image> img;
        try {
            auto blob = config.loader.request(config.firmware_name);
            if (!blob) {
                e = blob.error();
            } else if (auto parsed = parse_firmware(*blob, config.loader); !parsed) {
                e = parsed.error();
            } else {
                img = std::make_shared<const fw_image>(std::move(*parsed));
            }
        } catch (...) {
            e = accel::exception_errno();
        }
        std::lock_guard lock(fw_mutex);
        fw = std::move(img);
        fw_status = e;
        return e;
    }

    /// The reset domain's hardware reset: drop what the engine holds and reload the firmware
    /// (a DSP's reset loses its program memory). Failing to load makes the reset fail.
    int reset_hardware() noexcept {
        hw.reset(-ECANCELED);
        return load_firmware();
    }

    mutable std::mutex fw_mutex;
    std::shared_ptr<const fw_image> fw; // guarded by fw_mutex
    int fw_status = -ENOENT;            // guarded by fw_mutex
    accel::sim_engine hw;
    std::unique_ptr<scheduler_type> sched;
    std::unique_ptr<accel::reset_domain> domain; // after the scheduler: destroyed first
    /// The engine's busy time for INFO's ENGINE_BUSY (registered with the device in probe).
    std::unique_ptr<accel::scheduler_clock> clock;
    /// Simulated hwmon sensors following the engine's load (exec/sim_sensors.hpp).
    accel::sim_sensors sensors{1, accel::monotonic_ns(), 0,
                               accel::sim_sensor_profile{.idle_temp_mc = 30'000, .temp_rise_mc = 30'000,
                                                         .idle_power_uw = 3'000'000, .max_power_uw = 18'000'000,
                                                         .idle_mv = 800, .max_mv = 900, .idle_rpm = 0,
                                                         .max_rpm = 3'000}};
};

inline accel::result<accel::fence_ptr> engine_ops::run_job(job& j) {
    if (j.finished()->error()) // resubmitted after a reset with an error already: not run again
        return accel::fence_ptr();
    accel::fence_ptr hw = dev->hw.make_fence();
    if (!hw)
        return accel::result<accel::fence_ptr>::failure(-ENOMEM);
    dev->hw.submit(
        [d = dev, desc = j.desc]() -> int {
            // The firmware now, not the one at SUBMIT: a reset in between may have loaded another.
            const std::shared_ptr<const fw_image> fw = d->firmware();
            return fw ? execute(*fw, *desc) : -EIO;
        },
        hw);
    return hw;
}

inline accel::timeout_status engine_ops::timedout_job(job& j) { return dev->domain->job_timed_out(j); }

inline void engine_ops::cancel_job(job& j) {
    if (accel::fence_ptr hw = j.parent())
        dev->hw.cancel(hw, -ECANCELED);
}

} // namespace vdsp
