// SPDX-License-Identifier: MIT
// fence basics (the st-dma-fence port lives in dma_fence_selftest_test.cpp).
#include <accel/exec/fence.hpp>

#include <doctest/doctest.h>

#include <cerrno>
#include <chrono>
#include <thread>
#include <vector>

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

namespace {

// A fence that signals lazily: enable_signaling counts its calls.
struct lazy_fence final : accel::fence {
    lazy_fence() noexcept : fence(accel::fence_context_alloc(), 1) {}
    int enabled = 0;
    void enable_signaling() noexcept override { ++enabled; }
};

// A callback on `a` that signals `b` deferred, and one on `b` that looks at `a` from there.
struct relay : accel::fence_cb {
    accel::fence* b = nullptr;
    bool b_signaled_inside = true;
};
struct observer : accel::fence_cb {
    accel::fence* a = nullptr;
    int add_on_a = 0; // what adding a callback to `a` answered from b's callback
    accel::fence_cb probe;
};

} // namespace

TEST_CASE("fence: enable_sw_signaling arms lazy signalling once, as the first callback or waiter does") {
    boost::intrusive_ptr<lazy_fence> f(new lazy_fence);
    f->enable_sw_signaling();
    CHECK(f->enabled == 1);
    accel::fence_cb cb;
    CHECK(f->add_callback(cb, [](accel::fence&, accel::fence_cb&) noexcept {}) == 0);
    (void)f->waiters();
    CHECK(f->enabled == 1);
    CHECK(f->signal() == 0);
    CHECK_FALSE(cb.is_linked());
}

TEST_CASE("fence: signal_deferred from a callback signals after that signal() has left the lock, before it returns") {
    auto a = accel::make_fence(accel::fence_context_alloc(), 1);
    auto b = accel::make_fence(accel::fence_context_alloc(), 1);
    relay r;
    r.b = b.get();
    observer o;
    o.a = a.get();
    REQUIRE(b->add_callback(o, [](accel::fence&, accel::fence_cb& cb) noexcept {
        auto& ob = static_cast<observer&>(cb);
        // Run under a's lock, this would deadlock; deferred, a is signalled and free.
        ob.add_on_a = ob.a->add_callback(ob.probe, [](accel::fence&, accel::fence_cb&) noexcept {});
    }) == 0);
    REQUIRE(a->add_callback(r, [](accel::fence&, accel::fence_cb& cb) noexcept {
        auto& rl = static_cast<relay&>(cb);
        const auto refs = rl.b->use_count();
        CHECK(rl.b->signal_deferred() == 0);
        CHECK(rl.b->use_count() == refs + 1); // held while deferred
        CHECK(rl.b->signal_deferred() == -EINVAL); // already deferred
        rl.b_signaled_inside = rl.b->is_signaled();
    }) == 0);
    CHECK(a->signal() == 0);
    CHECK_FALSE(r.b_signaled_inside);
    CHECK(b->is_signaled());
    CHECK(o.add_on_a == -ENOENT);
    CHECK(b->signal_deferred() == -EINVAL); // outside any signal(): signal() itself
}

TEST_CASE("fence: a long chain of deferred signals runs as a loop, not a recursion") {
    // Each fence's callback signals the next one deferred: 200000 nested signal() frames would
    // overflow the stack; the deferred list is drained by the outermost signal().
    constexpr std::size_t n = 200'000;
    struct link : accel::fence_cb {
        accel::fence_ptr next;
    };
    std::vector<accel::fence_ptr> fences(n);
    std::vector<link> links(n);
    const auto ctx = accel::fence_context_alloc();
    for (std::size_t i = 0; i < n; ++i)
        fences[i] = accel::make_fence(ctx, i + 1);
    std::size_t added = 0;
    for (std::size_t i = 0; i + 1 < n; ++i) {
        links[i].next = fences[i + 1];
        added += fences[i]->add_callback(links[i], [](accel::fence&, accel::fence_cb& cb) noexcept {
            static_cast<link&>(cb).next->signal_deferred();
        }) == 0;
    }
    REQUIRE(added == n - 1);
    CHECK(fences[0]->signal() == 0);
    CHECK(fences[n - 1]->is_signaled());
    CHECK(fences[n - 1]->timestamp() >= fences[0]->timestamp());
}
