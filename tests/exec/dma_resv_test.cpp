// SPDX-License-Identifier: MIT
// dma_resv: the st-dma-resv.c selftests (sanitycheck; for each usage signaling, for_each,
// for_each_unlocked with a restart, get_fences), usage ordering, the add_fence replacement rules,
// reserve-before-add, replace_fences, get_singleton, wait_timeout, and readers racing a writer.
#include <accel/exec/dma_resv.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <latch>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using accel::dma_resv;
using accel::fence_ptr;
using accel::resv_usage;

constexpr resv_usage all_usages[] = {resv_usage::kernel, resv_usage::write, resv_usage::read, resv_usage::bookkeep};

fence_ptr alloc_fence(std::uint64_t ctx = accel::fence_context_alloc(), std::uint64_t seqno = 1) {
    return accel::make_fence(ctx, seqno);
}

// Adds `f` with `u` under the lock, reserving a slot first.
void add_locked(dma_resv& r, fence_ptr f, resv_usage u) {
    REQUIRE(r.lock(nullptr) == 0);
    REQUIRE(r.reserve_fences(1) == 0);
    REQUIRE(r.add_fence(std::move(f), u) == 0);
    r.unlock();
}

std::string name(resv_usage u) {
    switch (u) {
    case resv_usage::kernel: return "kernel";
    case resv_usage::write: return "write";
    case resv_usage::read: return "read";
    case resv_usage::bookkeep: return "bookkeep";
    }
    return "?";
}

} // namespace

TEST_CASE("dma-resv: sanitycheck") {
    fence_ptr f = alloc_fence();
    f->enable_sw_signaling();
    CHECK(f->signal() == 0);
    f.reset();
    dma_resv resv;
    CHECK(resv.lock(nullptr) == 0);
    CHECK(resv.is_locked());
    resv.unlock();
    CHECK_FALSE(resv.is_locked());
}

TEST_CASE("dma-resv: usage order and resv_usage_rw") {
    CHECK(resv_usage::kernel < resv_usage::write);
    CHECK(resv_usage::write < resv_usage::read);
    CHECK(resv_usage::read < resv_usage::bookkeep);
    CHECK(static_cast<int>(resv_usage::bookkeep) == 3);
    CHECK(accel::resv_usage_rw(true) == resv_usage::read);
    CHECK(accel::resv_usage_rw(false) == resv_usage::write);
}

TEST_CASE("dma-resv: test_signaling, for each usage") {
    for (resv_usage usage : all_usages) {
        CAPTURE(name(usage));
        dma_resv resv;
        fence_ptr f = alloc_fence();
        add_locked(resv, f, usage);
        CHECK_FALSE(resv.test_signaled(usage));
        CHECK_FALSE(resv.test_signaled(resv_usage::bookkeep)); // asking for more sees it too
        f->signal();
        CHECK(resv.test_signaled(usage));
    }
}

TEST_CASE("dma-resv: test_for_each, for each usage") {
    for (resv_usage usage : all_usages) {
        CAPTURE(name(usage));
        dma_resv resv;
        fence_ptr f = alloc_fence();
        REQUIRE(resv.lock(nullptr) == 0);
        REQUIRE(resv.reserve_fences(1) == 0);
        REQUIRE(resv.add_fence(f, usage) == 0);
        int found = 0;
        resv.for_each(usage, [&](accel::fence& fence, resv_usage u) {
            ++found;
            CHECK(&fence == f.get());
            CHECK(u == usage);
        });
        CHECK(found == 1);
        f->signal(); // the locked walk sees signalled fences too
        found = 0;
        resv.for_each(resv_usage::bookkeep, [&](accel::fence&, resv_usage) { ++found; });
        CHECK(found == 1);
        resv.unlock();
    }
}

// The kernel forces a restart by corrupting the cursor; here a real reallocation of the fence
// table (reserve_fences beyond its capacity) between two steps does it.
TEST_CASE("dma-resv: test_for_each_unlocked with a restart, for each usage") {
    for (resv_usage usage : all_usages) {
        CAPTURE(name(usage));
        dma_resv resv;
        fence_ptr f = alloc_fence();
        add_locked(resv, f, usage);
        dma_resv::unlocked_iter it(resv, usage);
        int found = 0;
        for (fence_ptr fence = it.first(); fence; fence = it.next()) {
            ++found;
            REQUIRE(found <= 2);
            CHECK(it.is_restarted());
            CHECK(fence == f);
            CHECK(it.usage() == usage);
            if (found == 1) {
                REQUIRE(resv.lock(nullptr) == 0);
                REQUIRE(resv.reserve_fences(64) == 0); // grows the table: iterators restart
                resv.unlock();
            }
        }
        CHECK(found == 2);
        f->signal();
        CHECK_FALSE(dma_resv::unlocked_iter(resv, usage).first()); // only unsignalled fences
    }
}

TEST_CASE("dma-resv: test_get_fences, for each usage") {
    for (resv_usage usage : all_usages) {
        CAPTURE(name(usage));
        dma_resv resv;
        fence_ptr f = alloc_fence();
        add_locked(resv, f, usage);
        auto fences = resv.get_fences(usage);
        REQUIRE(fences.size() == 1);
        CHECK(fences[0] == f);
        f->signal();
        CHECK(resv.get_fences(usage).empty());
    }
}

TEST_CASE("dma-resv: a query for usage U sees the fences of usage <= U only") {
    dma_resv resv;
    std::vector<fence_ptr> f;
    REQUIRE(resv.lock(nullptr) == 0);
    REQUIRE(resv.reserve_fences(4) == 0);
    for (resv_usage u : all_usages) {
        f.push_back(alloc_fence());
        REQUIRE(resv.add_fence(f.back(), u) == 0);
    }
    resv.unlock();
    for (int i = 0; i < 4; ++i) {
        CAPTURE(i);
        const auto u = all_usages[i];
        auto got = resv.get_fences(u);
        REQUIRE(got.size() == static_cast<std::size_t>(i + 1));
        for (int j = 0; j <= i; ++j)
            CHECK(got[static_cast<std::size_t>(j)] == f[static_cast<std::size_t>(j)]);
    }
    // Signalling the read fence makes "write" no different, "read" signalled only with the
    // kernel and write fences done as well.
    f[2]->signal();
    CHECK_FALSE(resv.test_signaled(resv_usage::read));
    f[0]->signal();
    f[1]->signal();
    CHECK(resv.test_signaled(resv_usage::read));
    CHECK_FALSE(resv.test_signaled(resv_usage::bookkeep));
    f[3]->signal();
    CHECK(resv.test_signaled(resv_usage::bookkeep));
}

TEST_CASE("dma-resv: add_fence replacement rules") {
    dma_resv resv;
    const auto ctx = accel::fence_context_alloc();
    REQUIRE(resv.lock(nullptr) == 0);

    SUBCASE("a later fence of the same context and usage replaces the entry") {
        REQUIRE(resv.reserve_fences(1) == 0);
        auto f1 = alloc_fence(ctx, 1), f2 = alloc_fence(ctx, 2);
        REQUIRE(resv.add_fence(f1, resv_usage::write) == 0);
        CHECK(resv.add_fence(f2, resv_usage::write) == 0); // no second slot needed
        CHECK(resv.num_fences() == 1);
        CHECK(f1->use_count() == 1); // dropped
        auto got = resv.get_fences(resv_usage::write);
        REQUIRE(got.size() == 1);
        CHECK(got[0] == f2);
    }
    SUBCASE("the same fence twice needs no slot") {
        REQUIRE(resv.reserve_fences(1) == 0);
        auto f = alloc_fence(ctx, 1);
        REQUIRE(resv.add_fence(f, resv_usage::read) == 0);
        CHECK(resv.add_fence(f, resv_usage::read) == 0);
        CHECK(resv.num_fences() == 1);
        CHECK(resv.add_fence(alloc_fence(), resv_usage::read) == -ENOSPC); // the one slot is used
    }
    SUBCASE("promotion: bookkeep replaced by read of the same context") {
        REQUIRE(resv.reserve_fences(1) == 0);
        auto f1 = alloc_fence(ctx, 1), f2 = alloc_fence(ctx, 2);
        REQUIRE(resv.add_fence(f1, resv_usage::bookkeep) == 0);
        CHECK(resv.add_fence(f2, resv_usage::read) == 0);
        CHECK(resv.num_fences() == 1);
        CHECK(resv.get_fences(resv_usage::read).size() == 1);
    }
    SUBCASE("no demotion: a kernel fence is not replaced by a read one, which needs its own slot") {
        REQUIRE(resv.reserve_fences(1) == 0);
        auto f1 = alloc_fence(ctx, 1), f2 = alloc_fence(ctx, 2);
        REQUIRE(resv.add_fence(f1, resv_usage::kernel) == 0);
        CHECK(resv.add_fence(f2, resv_usage::read) == -ENOSPC);
        REQUIRE(resv.reserve_fences(1) == 0);
        CHECK(resv.add_fence(f2, resv_usage::read) == 0);
        CHECK(resv.num_fences() == 2);
        CHECK(resv.get_fences(resv_usage::kernel).size() == 1);
        CHECK(resv.get_fences(resv_usage::read).size() == 2);
    }
    SUBCASE("an earlier fence of the same context does not replace a later one") {
        REQUIRE(resv.reserve_fences(2) == 0);
        auto f5 = alloc_fence(ctx, 5), f3 = alloc_fence(ctx, 3);
        REQUIRE(resv.add_fence(f5, resv_usage::write) == 0);
        CHECK(resv.add_fence(f3, resv_usage::write) == 0);
        CHECK(resv.num_fences() == 2);
    }
    SUBCASE("a signalled entry of any context is replaced") {
        REQUIRE(resv.reserve_fences(1) == 0);
        auto f1 = alloc_fence();
        REQUIRE(resv.add_fence(f1, resv_usage::kernel) == 0);
        f1->signal();
        CHECK(resv.add_fence(alloc_fence(), resv_usage::bookkeep) == 0);
        CHECK(resv.num_fences() == 1);
    }
    SUBCASE("null and container fences are refused") {
        REQUIRE(resv.reserve_fences(1) == 0);
        CHECK(resv.add_fence(nullptr, resv_usage::read) == -EINVAL);
        std::vector<fence_ptr> members{alloc_fence(), alloc_fence()};
        fence_ptr array = accel::fence_array::create(members, accel::fence_context_alloc(), 1);
        REQUIRE(array);
        CHECK(resv.add_fence(array, resv_usage::read) == -EINVAL);
        CHECK(resv.num_fences() == 0);
    }
    resv.unlock();
}

TEST_CASE("dma-resv: reserve before add, reservations end at unlock and do not add up") {
    dma_resv resv;
    REQUIRE(resv.lock(nullptr) == 0);
    CHECK(resv.add_fence(alloc_fence(), resv_usage::write) == -ENOSPC); // nothing reserved
    CHECK(resv.num_fences() == 0);
    CHECK(resv.reserve_fences(0) == -EINVAL);
    CHECK(resv.reserve_fences(1) == 0);
    CHECK(resv.reserve_fences(1) == 0); // still one free slot, not two
    CHECK(resv.add_fence(alloc_fence(), resv_usage::write) == 0);
    CHECK(resv.add_fence(alloc_fence(), resv_usage::write) == -ENOSPC);
    CHECK(resv.reserve_fences(3) == 0);
    resv.unlock();
    REQUIRE(resv.lock(nullptr) == 0);
    CHECK(resv.add_fence(alloc_fence(), resv_usage::write) == -ENOSPC); // forgotten at unlock
    CHECK(resv.num_fences() == 1);
    resv.unlock();
}

TEST_CASE("dma-resv: growing the table drops signalled entries") {
    dma_resv resv;
    REQUIRE(resv.lock(nullptr) == 0);
    REQUIRE(resv.reserve_fences(4) == 0);
    std::vector<fence_ptr> f;
    for (int i = 0; i < 4; ++i) {
        f.push_back(alloc_fence());
        REQUIRE(resv.add_fence(f.back(), resv_usage::read) == 0);
    }
    f[1]->signal();
    f[2]->signal();
    REQUIRE(resv.reserve_fences(100) == 0);
    CHECK(resv.num_fences() == 2);
    CHECK(f[1]->use_count() == 1);
    resv.for_each(resv_usage::bookkeep, [&](accel::fence& x, resv_usage) { CHECK_FALSE(x.is_signaled()); });
    resv.unlock();
}

TEST_CASE("dma-resv: replace_fences replaces every fence of a context") {
    dma_resv resv;
    const auto ctx = accel::fence_context_alloc();
    REQUIRE(resv.lock(nullptr) == 0);
    REQUIRE(resv.reserve_fences(3) == 0);
    auto a = alloc_fence(ctx, 1), b = alloc_fence(ctx, 2), other = alloc_fence();
    REQUIRE(resv.add_fence(a, resv_usage::kernel) == 0);
    REQUIRE(resv.add_fence(b, resv_usage::read) == 0); // kernel < read: not replaced, own entry
    REQUIRE(resv.add_fence(other, resv_usage::write) == 0);
    fence_ptr stub = accel::signaled_stub();
    CHECK(resv.replace_fences(ctx, stub, resv_usage::bookkeep) == 0);
    CHECK(resv.replace_fences(ctx, nullptr, resv_usage::bookkeep) == -EINVAL);
    int stubs = 0, others = 0;
    resv.for_each(resv_usage::bookkeep, [&](accel::fence& f, resv_usage u) {
        if (&f == stub.get()) {
            ++stubs;
            CHECK(u == resv_usage::bookkeep);
        } else if (&f == other.get()) {
            ++others;
            CHECK(u == resv_usage::write);
        }
    });
    CHECK(stubs == 2);
    CHECK(others == 1);
    CHECK(a->use_count() == 1);
    CHECK(b->use_count() == 1);
    resv.unlock();
    CHECK(resv.test_signaled(resv_usage::read) == false); // `other` still pending
}

TEST_CASE("dma-resv: get_singleton: none, the fence itself, or an array of one fence per context") {
    dma_resv resv;
    {
        auto none = resv.get_singleton(resv_usage::bookkeep);
        REQUIRE(none.ok());
        CHECK_FALSE(none.value());
    }
    auto f1 = alloc_fence();
    add_locked(resv, f1, resv_usage::write);
    {
        auto one = resv.get_singleton(resv_usage::write);
        REQUIRE(one.ok());
        CHECK(one.value() == f1);
    }
    const auto ctx = accel::fence_context_alloc();
    auto g1 = alloc_fence(ctx, 1), g2 = alloc_fence(ctx, 2);
    add_locked(resv, g1, resv_usage::kernel);
    add_locked(resv, g2, resv_usage::read); // same context, not replaced (kernel < read)
    REQUIRE(resv.num_fences() == 3);
    auto many = resv.get_singleton(resv_usage::read);
    REQUIRE(many.ok());
    auto* array = accel::to_fence_array(many.value().get());
    REQUIRE(array);
    REQUIRE(array->num_fences() == 2); // f1 and g2 (g1 is implied by g2)
    CHECK(array->fences()[0] == f1);
    CHECK(array->fences()[1] == g2);
    // What a poll does: a callback on the singleton, run when all of them have signalled.
    struct flag_cb : accel::fence_cb {
        std::atomic<bool> ran{false};
    } cb;
    REQUIRE(many.value()->add_callback(cb, [](accel::fence&, accel::fence_cb& c) noexcept {
        static_cast<flag_cb&>(c).ran.store(true);
    }) == 0);
    f1->signal();
    g1->signal();
    CHECK_FALSE(cb.ran.load());
    g2->signal();
    CHECK(cb.ran.load());
    CHECK_FALSE(resv.get_singleton(resv_usage::bookkeep).value());
}

TEST_CASE("dma-resv: wait_timeout") {
    dma_resv resv;
    CHECK(resv.wait_timeout(resv_usage::bookkeep, 0ns) == 1); // nothing: signalled
    CHECK(resv.wait_timeout(resv_usage::bookkeep, 1s) > 0);
    auto f = alloc_fence();
    add_locked(resv, f, resv_usage::write);
    CHECK(resv.wait_timeout(resv_usage::kernel, 0ns) == 1); // the write fence is not asked for
    CHECK(resv.wait_timeout(resv_usage::read, 0ns) == 0);
    CHECK(resv.wait_timeout(resv_usage::read, 1ms) == 0);
    std::latch waiting(1);
    long left = -1;
    std::thread waiter([&] {
        waiting.count_down();
        left = resv.wait_timeout(resv_usage::read, 10s);
    });
    waiting.wait();
    f->signal();
    waiter.join();
    CHECK(left > 0);
    CHECK(left <= std::chrono::nanoseconds(10s).count());
    CHECK(resv.wait_timeout(resv_usage::read, std::chrono::nanoseconds::max()) == LONG_MAX);
    CHECK(resv.wait_timeout(resv_usage::read, -1ns) == LONG_MAX);
}

TEST_CASE("dma-resv: locking: -EALREADY, trylock, the locking context") {
    dma_resv resv;
    accel::ww_acquire_ctx ctx(accel::reservation_ww_class);
    REQUIRE(resv.lock(&ctx) == 0);
    CHECK(resv.locking_ctx() == &ctx);
    CHECK(resv.lock(&ctx) == -EALREADY);
    CHECK_FALSE(resv.trylock());
    resv.unlock();
    CHECK(resv.locking_ctx() == nullptr);
    CHECK(resv.trylock());
    resv.unlock();
    ctx.fini();
}

// Readers without the lock against a writer that adds, replaces, signals and grows the table:
// every fence a reader sees is one the writer added and the walk ends (TSan checks the rest).
TEST_CASE("dma-resv: unlocked readers race a writer") {
    dma_resv resv;
    std::atomic<bool> stop{false};
    std::latch started(3);
    std::atomic<long> seen{0}, restarts{0};
    auto reader = [&] {
        started.count_down();
        while (!stop.load(std::memory_order_relaxed)) {
            dma_resv::unlocked_iter it(resv, resv_usage::bookkeep);
            int n = 0;
            for (fence_ptr f = it.first(); f; f = it.next()) {
                CHECK_FALSE(f->driver_name().empty());
                if (it.is_restarted() && n > 0)
                    restarts.fetch_add(1, std::memory_order_relaxed);
                ++n;
                seen.fetch_add(1, std::memory_order_relaxed);
            }
            (void)resv.test_signaled(resv_usage::read);
            auto s = resv.get_singleton(resv_usage::bookkeep);
            CHECK(s.ok());
        }
    };
    std::thread r1(reader), r2(reader);
    started.arrive_and_wait();
    const auto ctx = accel::fence_context_alloc();
    std::vector<fence_ptr> pending;
    // At least 2000 rounds, and until the readers have met fences (bounded: 10 s).
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    for (unsigned i = 1; i <= 2000 || (seen.load() < 100 && std::chrono::steady_clock::now() < give_up); ++i) {
        REQUIRE(resv.lock(nullptr) == 0);
        REQUIRE(resv.reserve_fences(1 + i % 7) == 0);
        auto f = alloc_fence(i % 3 ? accel::fence_context_alloc() : ctx, i);
        REQUIRE(resv.add_fence(f, all_usages[i % 4]) == 0);
        resv.unlock();
        pending.push_back(std::move(f));
        if (pending.size() > 8) {
            pending.front()->signal();
            pending.erase(pending.begin());
        }
    }
    stop.store(true);
    r1.join();
    r2.join();
    for (auto& f : pending)
        f->signal();
    CHECK(resv.test_signaled(resv_usage::bookkeep));
    CHECK(seen.load() > 0);
    MESSAGE("fences seen: " << seen.load() << ", restarts mid-walk: " << restarts.load());
}

TEST_CASE("dma-resv: reserve_fences out of memory is -ENOMEM and changes nothing") {
    dma_resv resv;
    auto f = alloc_fence();
    add_locked(resv, f, resv_usage::read);
    REQUIRE(resv.lock(nullptr) == 0);
    accel::fail_nth_allocation(1);
    CHECK(resv.reserve_fences(100) == -ENOMEM);
    accel::disarm_allocation_faults();
    CHECK(resv.add_fence(alloc_fence(), resv_usage::read) == -ENOSPC); // nothing reserved
    CHECK(resv.num_fences() == 1);
    CHECK(resv.get_fences(resv_usage::read).at(0) == f);
    CHECK(resv.reserve_fences(100) == 0);
    resv.unlock();
}

TEST_CASE("dma-resv: wait_timeout waits for every fence: one left pending is a timeout") {
    dma_resv resv;
    auto a = alloc_fence(), b = alloc_fence();
    add_locked(resv, a, resv_usage::write);
    add_locked(resv, b, resv_usage::read);
    std::thread signaller([&] { a->signal(); });
    CHECK(resv.wait_timeout(resv_usage::read, 20ms) == 0); // b never signals in time
    signaller.join();
    CHECK(resv.wait_timeout(resv_usage::write, 20ms) > 0); // a alone is done
    b->signal();
    CHECK(resv.wait_timeout(resv_usage::read, 0ns) == 1);
}
