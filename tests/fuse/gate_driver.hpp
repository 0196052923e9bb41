// SPDX-License-Identifier: MIT
// A FUSE-test-only device (served as device 2 next to the conformance devices): an ioctl that
// blocks until another client opens the gate, so a test can tell whether two clients are
// served in parallel (a serialising server would time the waiter out).
#pragma once
#include <accel/accel.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>

struct gate_wait {
	__u64 timeout_ms;
	__u64 waited_ns;
};
#define GATE_IOCTL_WAIT ACCEL_IOWR(0x40, struct gate_wait) /* -ETIMEDOUT without an OPEN in time */
#define GATE_IOCTL_OPEN ACCEL_IO(0x41)                     /* lets one WAIT through */

namespace accel::test {

struct gate_driver {
    static constexpr driver_info info{1, 0, 0, "gate", "accel FUSE test gate"};
    struct device_data {
        std::mutex m;
        std::condition_variable cv;
        unsigned tokens = 0;
    };
    struct file_data {};
    using dev = device<gate_driver>;
    using fil = file<gate_driver>;

    static int wait(dev& d, fil&, gate_wait& a) {
        const auto start = std::chrono::steady_clock::now();
        std::unique_lock lock(d->m);
        if (!d->cv.wait_for(lock, std::chrono::milliseconds(a.timeout_ms), [&] { return d->tokens > 0; }))
            return -ETIMEDOUT;
        --d->tokens;
        a.waited_ns = static_cast<__u64>(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
        return 0;
    }
    static int open_gate(dev& d, fil&, no_arg&) {
        {
            std::lock_guard lock(d->m);
            ++d->tokens;
        }
        d->cv.notify_all();
        return 0;
    }
    using ioctls = ioctl_table<ACCEL_IOCTL(GATE_IOCTL_WAIT, &wait, ioctl_flags::none),
                               ACCEL_IOCTL(GATE_IOCTL_OPEN, &open_gate, ioctl_flags::none)>;
};

} // namespace accel::test
