// SPDX-License-Identifier: MIT
// fence basics (the st-dma-fence port lives in dma_fence_selftest_test.cpp).
#include <accel/exec/fence.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <thread>

TEST_CASE("fence: contexts are distinct and sequence numbers order inside one") {
    auto c = accel::fence_context_alloc(2);
    CHECK(accel::fence_context_alloc() == c + 2);
    auto a = accel::make_fence(c, 1), b = accel::make_fence(c, 2), w = accel::make_fence(c, 0xffff'ffffu);
    CHECK(b->is_later(*a));
    CHECK_FALSE(a->is_later(*b));
    CHECK(a->is_later(*w)); // 32-bit wrap-around
    auto other = accel::make_fence(c + 1, 5);
    CHECK_FALSE(other->is_later(*a));
}

TEST_CASE("fence: signals once, error only with the signal, callbacks and waits") {
    auto f = accel::make_fence(accel::fence_context_alloc(), 1);
    static int calls;
    calls = 0;
    accel::fence_cb cb;
    CHECK(f->add_callback(cb, [](accel::fence&, accel::fence_cb&) noexcept { ++calls; }) == 0);
    CHECK(f->set_error(-EIO) == 0);
    CHECK(f->status() == 0);
    CHECK(f->wait(std::chrono::nanoseconds(0)) == -ETIME);
    CHECK(f->signal() == 0);
    CHECK(calls == 1);
    CHECK(f->status() == -EIO);
    CHECK(f->timestamp() > 0);
    CHECK(f->signal() == -EINVAL);
    CHECK(f->set_error(-EINVAL) == -EBUSY);
    accel::fence_cb late;
    CHECK(f->add_callback(late, [](accel::fence&, accel::fence_cb&) noexcept { ++calls; }) == -ENOENT);
    CHECK(calls == 1);
    CHECK(f->wait(std::chrono::nanoseconds(0)) == 0);
    CHECK(accel::signaled_stub()->is_signaled());
}

TEST_CASE("fence: one nobody holds a reference to (on the stack, a member) survives its own signal") {
    // The reference count starts at 0: a fence owned by its enclosing object rather than by
    // fence_ptr must not be freed by the reference signal() holds while it runs.
    accel::basic_fence f(accel::fence_context_alloc(), 1);
    static int calls;
    calls = 0;
    accel::fence_cb cb;
    CHECK(f.add_callback(cb, [](accel::fence&, accel::fence_cb&) noexcept { ++calls; }) == 0);
    CHECK(f.signal() == 0);
    CHECK(calls == 1);
    CHECK(f.is_signaled());
    CHECK(f.use_count() == 0);
    CHECK(f.wait(std::chrono::nanoseconds(-1)) == 0);
}

TEST_CASE("fence: a wait with the largest timeout waits for the signal") {
    // nanoseconds::max() means "no useful limit", not "already passed": the deadline must not
    // overflow the clock.
    auto f = accel::make_fence(accel::fence_context_alloc(), 1);
    std::thread t([f] {
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        f->signal();
    });
    const auto start = std::chrono::steady_clock::now();
    CHECK(f->wait(std::chrono::nanoseconds::max()) == 0);
    CHECK(f->is_signaled());
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(25));
    t.join();
}
