// SPDX-License-Identifier: MIT
// park_on_fence through the mock backend: a driver ioctl parks on a fence and is answered when
// another thread signals it, or when its timeout passes. A small driver of its own (the shared
// test drivers in tests/core are not touched).
#include <accel/accel.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

struct fence_wait_arg {
    __u32 timeout_ms; // ~0u: no limit
    __u32 flags;      // FENCE_WAIT_MAX: the driver passes nanoseconds::max() as the timeout
    __s32 status;     // out: the fence's status when the wait ended
    __u32 pad;
    __u64 seqno; // out
};
constexpr __u32 FENCE_WAIT_MAX = 1;
#define FENCE_TEST_IOCTL_WAIT ACCEL_IOWR(0x40, struct fence_wait_arg)

struct fence_driver {
    static constexpr accel::driver_info info{1, 0, 0, "fence_wait", "park_on_fence test driver"};
    struct device_data {
        std::mutex m;
        accel::fence_ptr current; // what WAIT waits for
    };
    struct file_data {};
    using dev = accel::device<fence_driver>;
    using fil = accel::file<fence_driver>;

    static int wait(dev& d, fil&, fence_wait_arg& a) {
        if (a.pad || (a.flags & ~FENCE_WAIT_MAX))
            return -EINVAL;
        accel::fence_ptr f;
        {
            std::lock_guard lock(d->m);
            f = d->current;
        }
        const std::chrono::nanoseconds timeout = (a.flags & FENCE_WAIT_MAX) ? std::chrono::nanoseconds::max()
                                                 : a.timeout_ms == ~0u      ? std::chrono::nanoseconds(-1)
                                                                            : std::chrono::milliseconds(a.timeout_ms);
        return accel::park_on_fence(a, std::move(f), timeout, [](fence_wait_arg& w, accel::fence& done) {
            w.status = done.status();
            w.seqno = done.seqno();
            return 0;
        });
    }
    using ioctls = accel::ioctl_table<ACCEL_IOCTL(FENCE_TEST_IOCTL_WAIT, &wait, accel::ioctl_flags::none)>;
};

struct fixture {
    accel::subsystem sub;
    accel::device<fence_driver>::ref dev;
    accel::registration reg;
    accel::backend::mock client{sub};
    int fd = -1;

    fixture() {
        auto d = accel::device<fence_driver>::create();
        REQUIRE(d);
        dev = std::move(*d);
        auto r = sub.register_device(dev);
        REQUIRE(r);
        reg = std::move(*r);
        fd = client.open(std::string(client.root()) + "/accel/accel" + std::to_string(reg.minor()), O_RDWR);
        REQUIRE(fd >= 0);
    }
    ~fixture() { client.close(fd); }

    accel::fence_ptr arm(std::uint64_t seqno) {
        auto f = accel::make_fence(accel::fence_context_alloc(), seqno);
        std::lock_guard lock((*dev)->m);
        (*dev)->current = f;
        return f;
    }
    void disarm() {
        std::lock_guard lock((*dev)->m);
        (*dev)->current.reset();
    }
    bool wait_until_parked(std::size_t n) {
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (dev->parked().size() != n)
            if (std::chrono::steady_clock::now() > deadline)
                return false;
            else
                std::this_thread::sleep_for(1ms);
        return true;
    }
};

/// The parked request gives its fence reference back when it is freed, which may be just after
/// the answer reached the client (the thread that answered drops it last): wait up to 10 s.
bool use_count_becomes(const accel::fence_ptr& f, std::uint32_t n) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (f->use_count() != n)
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        else
            std::this_thread::sleep_for(1ms);
    return true;
}

} // namespace

TEST_CASE("park_on_fence: the ioctl is answered when another thread signals the fence") {
    fixture fx;
    auto f = fx.arm(41);
    fence_wait_arg a{~0u, 0, 99, 0, 0};
    std::atomic<int> result{1};
    std::thread waiter([&] { result = fx.client.ioctl(fx.fd, FENCE_TEST_IOCTL_WAIT, &a); });
    REQUIRE(fx.wait_until_parked(1));
    CHECK(result == 1); // still waiting: no thread of the driver is held meanwhile
    fx.disarm();        // the parked request holds its own reference
    CHECK(f->use_count() == 2);
    f->set_error(-ECANCELED);
    f->signal();
    waiter.join();
    CHECK(result == 0);
    CHECK(a.status == -ECANCELED);
    CHECK(a.seqno == 41);
    CHECK(fx.dev->parked().size() == 0);
    CHECK(use_count_becomes(f, 1)); // given back with the request
}

TEST_CASE("park_on_fence: a fence that stays pending ends the wait with -ETIME at the timeout") {
    fixture fx;
    auto f = fx.arm(1);
    fence_wait_arg a{30, 0, 99, 0, 0};
    const auto start = std::chrono::steady_clock::now();
    CHECK(fx.client.ioctl(fx.fd, FENCE_TEST_IOCTL_WAIT, &a) == -ETIME);
    CHECK(std::chrono::steady_clock::now() - start >= 25ms);
    CHECK(a.status == 99); // the done function did not run
    CHECK(use_count_becomes(f, 2)); // ours and the device's: the request's went with it
    SUBCASE("a timeout of 0 only tests") {
        fence_wait_arg now{0, 0, 99, 0, 0};
        CHECK(fx.client.ioctl(fx.fd, FENCE_TEST_IOCTL_WAIT, &now) == -ETIME);
        CHECK(fx.dev->parked().size() == 0);
    }
}

TEST_CASE("park_on_fence: a signalled fence answers at once, without parking") {
    fixture fx;
    auto f = fx.arm(7);
    f->signal();
    fence_wait_arg a{0, 0, 99, 0, 0};
    CHECK(fx.client.ioctl(fx.fd, FENCE_TEST_IOCTL_WAIT, &a) == 0);
    CHECK(a.status == 1);
    CHECK(a.seqno == 7);
    fx.disarm();
    CHECK(fx.client.ioctl(fx.fd, FENCE_TEST_IOCTL_WAIT, &a) == -EINVAL); // no fence
}

TEST_CASE("park_on_fence: the largest timeout (nanoseconds::max()) waits for the signal") {
    // The deadline must not overflow the timer's clock into the past (an immediate -ETIME).
    fixture fx;
    auto f = fx.arm(3);
    fence_wait_arg a{0, FENCE_WAIT_MAX, 99, 0, 0};
    std::atomic<int> result{1};
    std::thread waiter([&] { result = fx.client.ioctl(fx.fd, FENCE_TEST_IOCTL_WAIT, &a); });
    const bool parked = fx.wait_until_parked(1) || result != 1;
    std::this_thread::sleep_for(20ms);
    CHECK(result == 1);
    f->signal();
    waiter.join();
    CHECK(parked);
    CHECK(result == 0);
    CHECK(a.status == 1);
}

TEST_CASE("park_on_fence: many waiters on one fence, signalled from another thread") {
    fixture fx;
    auto f = fx.arm(5);
    constexpr int n = 8;
    std::atomic<int> answered{0};
    std::vector<std::thread> waiters;
    for (int i = 0; i < n; ++i)
        waiters.emplace_back([&] {
            fence_wait_arg a{10'000, 0, 99, 0, 0};
            if (fx.client.ioctl(fx.fd, FENCE_TEST_IOCTL_WAIT, &a) == 0 && a.status == 1)
                answered.fetch_add(1);
        });
    REQUIRE(fx.wait_until_parked(n));
    std::thread signaller([f] { f->signal(); });
    signaller.join();
    for (auto& t : waiters)
        t.join();
    CHECK(answered == n);
}

TEST_CASE("park_on_fence: a fence array's waiters are answered when its last member signals") {
    fixture fx;
    std::vector<accel::fence_ptr> members{accel::make_fence(accel::fence_context_alloc(), 1),
                                          accel::make_fence(accel::fence_context_alloc(), 1)};
    members[0]->set_error(-EIO);
    {
        std::lock_guard lock((*fx.dev)->m);
        (*fx.dev)->current = accel::fence_array::create(members, accel::fence_context_alloc(), 9);
    }
    fence_wait_arg a{~0u, 0, 99, 0, 0};
    std::atomic<int> result{1};
    std::thread waiter([&] { result = fx.client.ioctl(fx.fd, FENCE_TEST_IOCTL_WAIT, &a); });
    REQUIRE(fx.wait_until_parked(1));
    fx.disarm(); // the request and the member callbacks keep the array
    std::thread([&] { members[0]->signal(); }).join();
    CHECK(result == 1);
    std::thread([&] { members[1]->signal(); }).join();
    waiter.join();
    CHECK(result == 0);
    CHECK(a.status == -EIO);
    CHECK(a.seqno == 9);
}
