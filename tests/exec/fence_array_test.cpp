// SPDX-License-Identifier: MIT
// fence_array (dma_fence_array): all-of and any-of, errors, members signalled before, the empty
// array, lifetime without outside references, where the signal runs, and concurrency.
#include <accel/exec/fence_array.hpp>

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <latch>
#include <thread>
#include <vector>

namespace {

using accel::fence_ptr;

std::vector<fence_ptr> make_fences(std::size_t n, std::uint64_t ctx = accel::fence_context_alloc()) {
    std::vector<fence_ptr> v;
    for (std::size_t i = 0; i < n; ++i)
        v.push_back(accel::make_fence(ctx, i + 1));
    return v;
}

// A callback counting its calls (atomically: members may signal on any thread).
struct counting_cb : accel::fence_cb {
    std::atomic<int> calls{0};
    int add(accel::fence& f) {
        return f.add_callback(*this, [](accel::fence&, accel::fence_cb& cb) noexcept {
            static_cast<counting_cb&>(cb).calls.fetch_add(1, std::memory_order_relaxed);
        });
    }
};

constexpr std::chrono::nanoseconds no_wait{0};

} // namespace

TEST_CASE("fence_array: names, its own context and sequence number, references to its members") {
    auto members = make_fences(3);
    const auto ctx = accel::fence_context_alloc();
    auto a = accel::fence_array::create(members, ctx, 7);
    REQUIRE(a);
    CHECK(a->driver_name() == "dma_fence_array");
    CHECK(a->timeline_name() == "unbound");
    CHECK(a->context() == ctx);
    CHECK(a->seqno() == 7);
    CHECK(a->num_fences() == 3);
    CHECK_FALSE(a->signal_on_any());
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(a->fences()[i] == members[i]);
        CHECK(members[i]->use_count() == 2); // ours and the array's
    }
    CHECK(accel::to_fence_array(a.get()) == a.get());
    CHECK(accel::to_fence_array(members[0].get()) == nullptr);
    {
        std::array<fence_ptr, 2> with_null{members[0], nullptr};
        CHECK_FALSE(accel::fence_array::create(with_null, ctx, 8));
    }
    a.reset();
    for (auto& m : members)
        CHECK(m->use_count() == 1);
}

TEST_CASE("fence_array: all-of signals when the last member does, and only once signalling is enabled") {
    auto members = make_fences(4);
    auto a = accel::fence_array::create(members, accel::fence_context_alloc(), 1);
    REQUIRE(a);
    // Lazy: with signalling not enabled, members signalling do not reach the array.
    members[0]->signal();
    CHECK_FALSE(a->is_signaled());
    counting_cb cb;
    REQUIRE(cb.add(*a) == 0); // enables signalling; member 0 counts down at once
    members[2]->signal();
    members[1]->signal();
    CHECK_FALSE(a->is_signaled());
    CHECK(a->wait(no_wait) == -ETIME);
    CHECK(cb.calls == 0);
    members[3]->signal();
    CHECK(a->is_signaled());
    CHECK(a->status() == 1);
    CHECK(cb.calls == 1);
    CHECK(a->timestamp() >= members[3]->timestamp());
    CHECK(a->wait(no_wait) == 0);
}

TEST_CASE("fence_array: any-of signals with the first member, and the others change nothing") {
    auto members = make_fences(3);
    auto a = accel::fence_array::create(members, accel::fence_context_alloc(), 1, true);
    REQUIRE(a);
    CHECK(a->signal_on_any());
    counting_cb cb;
    REQUIRE(cb.add(*a) == 0);
    CHECK_FALSE(a->is_signaled());
    members[1]->signal();
    CHECK(a->is_signaled());
    CHECK(cb.calls == 1);
    const auto ts = a->timestamp();
    members[0]->set_error(-EIO); // after the array signalled: not its error
    members[0]->signal();
    members[2]->signal();
    CHECK(cb.calls == 1);
    CHECK(a->status() == 1);
    CHECK(a->timestamp() == ts);
}

TEST_CASE("fence_array: the error is the first member error seen, whatever the order of members") {
    SUBCASE("all-of: an error on a later member, the array still waits for every member") {
        auto members = make_fences(3);
        auto a = accel::fence_array::create(members, accel::fence_context_alloc(), 1);
        a->enable_sw_signaling();
        members[2]->set_error(-EIO);
        members[2]->signal();
        CHECK_FALSE(a->is_signaled());
        CHECK(a->error() == 0); // not the array's until it signals
        members[0]->set_error(-ENODEV);
        members[0]->signal();
        members[1]->signal();
        CHECK(a->status() == -EIO);
    }
    SUBCASE("members signalled with errors before signalling is enabled: the first in member order") {
        auto members = make_fences(3);
        members[1]->set_error(-ECANCELED);
        members[1]->signal();
        members[2]->set_error(-EIO);
        members[2]->signal();
        members[0]->signal();
        auto a = accel::fence_array::create(members, accel::fence_context_alloc(), 1);
        a->enable_sw_signaling();
        CHECK(a->status() == -ECANCELED);
    }
    SUBCASE("any-of: the member that completes the array brings its error") {
        auto members = make_fences(2);
        auto a = accel::fence_array::create(members, accel::fence_context_alloc(), 1, true);
        a->enable_sw_signaling();
        members[1]->set_error(-ETIMEDOUT);
        members[1]->signal();
        CHECK(a->status() == -ETIMEDOUT);
        members[0]->signal(); // its callback holds the array: a member that never signals leaks it
    }
    SUBCASE("no member error: no array error") {
        auto members = make_fences(2);
        auto a = accel::fence_array::create(members, accel::fence_context_alloc(), 1);
        a->enable_sw_signaling();
        for (auto& m : members)
            m->signal();
        CHECK(a->status() == 1);
        CHECK(a->error() == 0);
    }
}

TEST_CASE("fence_array: members signalled before signalling is enabled count down at once") {
    SUBCASE("all-of, all signalled: the array signals when enabled, and a callback is refused") {
        auto members = make_fences(3);
        for (auto& m : members)
            m->signal();
        auto a = accel::fence_array::create(members, accel::fence_context_alloc(), 1);
        CHECK_FALSE(a->is_signaled());
        counting_cb cb;
        CHECK(cb.add(*a) == -ENOENT);
        CHECK(cb.calls == 0);
        CHECK(a->is_signaled());
        CHECK(a->use_count() == 1); // no member callback holds it
    }
    SUBCASE("any-of, one signalled: signals at once, and no later member gets a callback") {
        auto members = make_fences(3);
        members[1]->signal();
        auto a = accel::fence_array::create(members, accel::fence_context_alloc(), 1, true);
        CHECK(a->wait(std::chrono::milliseconds(1)) == 0);
        CHECK(a->is_signaled());
        // Member 0 got a callback (it holds the array), member 2 none.
        CHECK(a->use_count() == 2);
        members[0]->signal();
        CHECK(a->use_count() == 1);
    }
}

TEST_CASE("fence_array: an array without members is signalled when created") {
    for (bool any : {false, true}) {
        auto a = accel::fence_array::create({}, accel::fence_context_alloc(), 1, any);
        REQUIRE(a);
        CHECK(a->is_signaled());
        CHECK(a->status() == 1);
        CHECK(a->num_fences() == 0);
        CHECK(a->match_context(12345));
        counting_cb cb;
        CHECK(cb.add(*a) == -ENOENT);
    }
}

TEST_CASE("fence_array: outlives the references given up, while members can still call it back") {
    SUBCASE("all-of: callbacks and waiters on an array nobody else holds") {
        auto members = make_fences(2);
        auto a = accel::fence_array::create(members, accel::fence_context_alloc(), 1);
        counting_cb cb;
        REQUIRE(cb.add(*a) == 0);
        accel::fence* raw = a.get();
        a.reset(); // the two member callbacks hold it now
        CHECK(raw->use_count() == 2);
        members[0]->signal();
        CHECK(raw->use_count() == 1);
        members[1]->signal(); // signals, then the last reference goes
        CHECK(cb.calls == 1);
        for (auto& m : members)
            CHECK(m->use_count() == 1); // freed: it gave its member references back
    }
    SUBCASE("any-of: alive after its signal until its last member signals") {
        auto members = make_fences(3);
        auto a = accel::fence_array::create(members, accel::fence_context_alloc(), 1, true);
        a->enable_sw_signaling();
        accel::fence* raw = a.get();
        a.reset();
        members[2]->signal();
        CHECK(raw->is_signaled());
        CHECK(members[0]->use_count() == 2);
        members[0]->signal();
        CHECK(members[1]->use_count() == 2);
        members[1]->signal();
        for (auto& m : members)
            CHECK(m->use_count() == 1);
    }
    SUBCASE("members dropped by everyone else stay alive in the array") {
        auto members = make_fences(2);
        auto a = accel::fence_array::create(members, accel::fence_context_alloc(), 1);
        a->enable_sw_signaling();
        members.clear();
        CHECK(a->fences()[0]->use_count() == 1);
        a->fences()[0]->signal();
        a->fences()[1]->signal();
        CHECK(a->is_signaled());
    }
}

TEST_CASE("fence_array: match_context checks every member") {
    const auto ctx = accel::fence_context_alloc();
    auto same = make_fences(3, ctx);
    auto a = accel::fence_array::create(same, accel::fence_context_alloc(), 1);
    CHECK(a->match_context(ctx));
    CHECK(accel::fence_match_context(*a, ctx));
    CHECK_FALSE(accel::fence_match_context(*a, a->context()));
    CHECK(accel::fence_match_context(*same[0], ctx));
    auto mixed = same;
    mixed.push_back(accel::make_fence(accel::fence_context_alloc(), 1));
    auto b = accel::fence_array::create(mixed, accel::fence_context_alloc(), 1);
    CHECK_FALSE(b->match_context(ctx));
    CHECK_FALSE(accel::fence_match_context(*b, ctx));
}

TEST_CASE("fence_array: its callbacks run after the member's signal() left the member's lock") {
    // An array callback that adds a callback to the member which completed the array: under
    // that member's lock (the kernel defers through irq_work to avoid it) this deadlocks.
    auto members = make_fences(1);
    auto a = accel::fence_array::create(members, accel::fence_context_alloc(), 1);
    struct touch_member : accel::fence_cb {
        accel::fence* member = nullptr;
        accel::fence_cb probe;
        int answer = 0;
    } cb;
    cb.member = members[0].get();
    REQUIRE(a->add_callback(cb, [](accel::fence&, accel::fence_cb& c) noexcept {
        auto& t = static_cast<touch_member&>(c);
        t.answer = t.member->add_callback(t.probe, [](accel::fence&, accel::fence_cb&) noexcept {});
    }) == 0);
    CHECK(members[0]->signal() == 0);
    CHECK(a->is_signaled()); // before the member's signal() returned
    CHECK(cb.answer == -ENOENT);
}

TEST_CASE("fence_array: an array of arrays") {
    auto inner1 = make_fences(2), inner2 = make_fences(2);
    std::vector<fence_ptr> outer_members{accel::fence_array::create(inner1, accel::fence_context_alloc(), 1),
                                         accel::fence_array::create(inner2, accel::fence_context_alloc(), 1, true)};
    auto outer = accel::fence_array::create(outer_members, accel::fence_context_alloc(), 1);
    counting_cb cb;
    REQUIRE(cb.add(*outer) == 0);
    inner2[1]->signal();
    inner1[0]->signal();
    CHECK_FALSE(outer->is_signaled());
    inner1[1]->signal();
    CHECK(outer->is_signaled());
    CHECK(cb.calls == 1);
    inner2[0]->signal();
}

TEST_CASE("fence_array: many threads signalling members while others enable, wait and add callbacks") {
    // Signalling is enabled by the waiters' first callback or wait, racing with the members'
    // signals: every member counts down exactly once, the array signals exactly once, every
    // waiter wakes, and the array is freed once its members have all signalled.
    constexpr int rounds = 1000;
    constexpr std::size_t n = 16;
    constexpr int signallers = 4, waiters = 2;
    for (int round = 0; round < rounds; ++round) {
        const bool any = round % 2 == 1;
        auto members = make_fences(n);
        members[static_cast<std::size_t>(round) % n]->set_error(-EIO);
        auto array = accel::fence_array::create(members, accel::fence_context_alloc(), 1, any);
        REQUIRE(array);
        counting_cb cbs[waiters];
        std::atomic<int> woke{0}, added{0};
        std::latch go(1);
        std::vector<std::thread> threads;
        for (int w = 0; w < waiters; ++w)
            threads.emplace_back([&, w, a = fence_ptr(array)] {
                go.wait();
                if (cbs[w].add(*a) == 0)
                    added.fetch_add(1);
                if (a->wait(std::chrono::seconds(30)) == 0)
                    woke.fetch_add(1);
            });
        for (int s = 0; s < signallers; ++s)
            threads.emplace_back([&, s] {
                go.wait();
                for (std::size_t i = static_cast<std::size_t>(s); i < n; i += signallers)
                    members[i]->signal();
            });
        const fence_ptr keep = array; // for the checks below; the waiters hold their own
        array.reset();
        go.count_down();
        for (auto& t : threads)
            t.join();
        CHECK(woke == waiters);
        int calls = 0;
        for (auto& cb : cbs)
            calls += cb.calls.load();
        CHECK(calls == added.load());
        CHECK(keep->is_signaled());
        if (any)
            CHECK((keep->status() == 1 || keep->status() == -EIO));
        else
            CHECK(keep->status() == -EIO);
        CHECK(keep->use_count() == 1); // no member callback left holding it
    }
}
