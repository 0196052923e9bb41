// SPDX-License-Identifier: MIT
// accel::park with a timeout too long for the clock: it waits until woken (as
// MAX_SCHEDULE_TIMEOUT does), instead of overflowing into a deadline in the past. Syncobj waits
// with INT64_MAX absolute timeouts (libdrm's "for ever") reach this.
#include <accel/accel.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace {

using namespace accel;

struct wait_arg {
    __s64 timeout_ns; // < 0: no timeout
    __u32 woken;      // out
    __u32 pad;
};
#define PARK_TEST_WAIT ACCEL_IOWR(0x40, struct wait_arg)

struct park_driver {
    static constexpr driver_info info{1, 0, 0, "park", "park timeout test driver", "20261205"};
    struct device_data {
        wait_queue queue;
        std::atomic<bool> ready{false};
    };
    struct file_data {};
    static int wait(device<park_driver>& d, file<park_driver>&, wait_arg& a) {
        const auto timeout = a.timeout_ns == INT64_MAX ? std::chrono::nanoseconds::max() : std::chrono::nanoseconds(a.timeout_ns);
        return park(a, d->queue, timeout, [&d](wait_arg& arg) -> std::optional<int> {
            if (!d->ready.load())
                return std::nullopt;
            arg.woken = 1;
            return 0;
        });
    }
    using ioctls = ioctl_table<ACCEL_IOCTL(PARK_TEST_WAIT, &wait, ioctl_flags::render_allow)>;
};

} // namespace

TEST_CASE("park: nanoseconds::max() waits for the wake-up instead of timing out at once") {
    subsystem sub;
    auto d = device<park_driver>::create();
    REQUIRE(d);
    auto r = sub.register_device(*d);
    REQUIRE(r);
    backend::mock mock{sub};
    int fd = mock.open(std::string(mock.root()) + "/" + node_name(node_kind::compute, r->minor()));
    REQUIRE(fd >= 0);
    std::thread waker([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        (**d)->ready = true;
        (**d)->queue.wake_all();
    });
    wait_arg a{INT64_MAX, 0, 0};
    CHECK(mock.ioctl(fd, PARK_TEST_WAIT, &a) == 0);
    CHECK(a.woken == 1);
    waker.join();
    // A short timeout still times out.
    (**d)->ready = false;
    wait_arg b{1'000'000, 0, 0};
    CHECK(mock.ioctl(fd, PARK_TEST_WAIT, &b) == -ETIME);
    CHECK(mock.close(fd) == 0);
}
