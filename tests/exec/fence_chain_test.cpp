// SPDX-License-Identifier: MIT
// fence_chain (dma_fence_chain): the kernel's st-dma-fence-chain.c selftests ported one by one
// (sanitycheck, find_seqno, find_signaled, find_out_of_order, find_gap, find_race,
// signal_forward, signal_backward, wait_forward, wait_backward, wait_random), plus the init
// rules (context reuse, a new context for an out-of-order point), garbage collection and the
// iterative release. The race and wait tests keep the kernel's 4096 nodes but bound their time,
// so they also pass under TSan.
#include <accel/exec/fence_chain.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

namespace {

using namespace accel;

constexpr unsigned chain_sz = 4 << 10;

fence_ptr mock_fence() { return make_fence(0, 0, "mock", "mock"); }

/// fence_chains_init / fence_chains_fini: `count` payloads, each in a node after the previous.
struct fence_chains {
    std::vector<fence_ptr> fences;
    std::vector<fence_ptr> chains;
    fence_ptr tail;
    fence_chains(unsigned count, std::uint64_t (*seqno_fn)(unsigned)) {
        for (unsigned i = 0; i < count; ++i) {
            fences.push_back(mock_fence());
            chains.push_back(fence_chain::create(tail, fences.back(), seqno_fn(i)));
            REQUIRE(chains.back());
            tail = chains.back();
        }
    }
    ~fence_chains() {
        for (auto& f : fences)
            f->signal();
    }
    unsigned length() const { return static_cast<unsigned>(chains.size()); }
};

std::uint64_t seqno_inc(unsigned i) { return i + 1; }
std::uint64_t seqno_inc2(unsigned i) { return 2 * i + 2; }

int find(fence_ptr& f, std::uint64_t n) { return fence_chain_find_seqno(f, n); }

} // namespace

TEST_CASE("fence_chain: sanitycheck") {
    fence_ptr f = mock_fence();
    fence_ptr chain = fence_chain::create(nullptr, f, 1);
    REQUIRE(chain);
    CHECK(chain->driver_name() == "dma_fence_chain");
    CHECK(chain->timeline_name() == "unbound");
    CHECK(f->signal() == 0);
    CHECK(fence_is_signaled(*chain));
}

TEST_CASE("fence_chain: init reuses the context for a later point, starts a new one out of order") {
    fence_ptr a = fence_chain::create(nullptr, mock_fence(), 5);
    fence_ptr b = fence_chain::create(a, mock_fence(), 7);
    REQUIRE((a && b));
    CHECK(b->context() == a->context());
    CHECK(to_fence_chain(b.get())->prev_seqno() == 5);
    CHECK(b->seqno() == 7);
    // An older point after 7: a new context, the seqno clamped to 7, no prev_seqno.
    fence_ptr c = fence_chain::create(b, mock_fence(), 3);
    REQUIRE(c);
    CHECK(c->context() != b->context());
    CHECK(c->seqno() == 7);
    CHECK(to_fence_chain(c.get())->prev_seqno() == 0);
    // The same point again: not later either.
    fence_ptr d = fence_chain::create(c, mock_fence(), 7);
    CHECK(d->context() != c->context());
    // After a plain fence (not a chain): a new context and the seqno as given.
    fence_ptr plain = make_fence(fence_context_alloc(), 100);
    fence_ptr e = fence_chain::create(plain, mock_fence(), 2);
    CHECK(e->seqno() == 2);
    CHECK(e->context() != plain->context());
    // A chain as payload, or no payload, is refused.
    CHECK_FALSE(fence_chain::create(nullptr, a, 9));
    CHECK_FALSE(fence_chain::create(nullptr, nullptr, 9));
    for (auto* n : {a.get(), b.get(), c.get(), d.get(), e.get()})
        to_fence_chain(n)->payload()->signal();
}

TEST_CASE("fence_chain: find_seqno (self, previous and future points on 64 nodes)") {
    fence_chains fc(64, seqno_inc);
    fence_ptr f = fc.tail;
    CHECK(find(f, 0) == 0);
    CHECK(f == fc.tail); // n == 0 leaves it alone
    for (unsigned i = 0; i < fc.length(); ++i) {
        CAPTURE(i);
        f = fc.tail;
        REQUIRE(find(f, i + 1) == 0);
        CHECK(f == fc.chains[i]);
        REQUIRE(find(f, i + 1) == 0); // find self
        CHECK(f == fc.chains[i]);
        fence_ptr g = f;
        CHECK(find(g, i + 2) == -EINVAL); // a future point
        REQUIRE(find(f, i) == 0);          // the previous one
        if (i > 0)
            CHECK(f == fc.chains[i - 1]);
    }
    fence_ptr plain = mock_fence();
    CHECK(find(plain, 1) == -EINVAL); // not a chain
    plain->signal();
}

TEST_CASE("fence_chain: find_signaled returns null or node 1") {
    fence_chains fc(2, seqno_inc);
    fc.fences[0]->signal();
    fence_ptr f = fc.tail;
    REQUIRE(find(f, 1) == 0);
    CHECK((!f || f == fc.chains[0]));
    CHECK_FALSE(f); // accel's walk splices the signalled node out: everything up to 1 is done
}

TEST_CASE("fence_chain: find_out_of_order returns node 1 when only 2 of 1-2-3 signalled") {
    fence_chains fc(3, seqno_inc);
    fc.fences[1]->signal();
    fence_ptr f = fc.tail;
    REQUIRE(find(f, 2) == 0);
    CHECK(f == fc.chains[0]);
}

TEST_CASE("fence_chain: find_gap: an odd point returns the next even node") {
    fence_chains fc(64, seqno_inc2);
    for (unsigned i = 0; i < fc.length(); ++i) {
        CAPTURE(i);
        fence_ptr f = fc.tail;
        REQUIRE(find(f, 2 * i + 1) == 0);
        CHECK(f == fc.chains[i]);
        REQUIRE(find(f, 2 * i + 2) == 0);
        CHECK(f == fc.chains[i]);
    }
}

TEST_CASE("fence_chain: find_race: lookups and signals from every thread on 4096 nodes") {
    fence_chains fc(chain_sz, seqno_inc);
    std::atomic<bool> stop{false};
    std::atomic<int> errors{0};
    const unsigned nthreads = std::max(2u, std::min(4u, std::thread::hardware_concurrency()));
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < nthreads; ++t)
        threads.emplace_back([&, t] {
            std::mt19937 rng(t + 1);
            while (!stop.load(std::memory_order_relaxed)) {
                fence_ptr f = fc.tail;
                const std::uint64_t seqno = rng() % fc.length() + 1;
                if (find(f, seqno) != 0) {
                    errors.fetch_add(1);
                    break;
                }
                // We can only find ourselves if we are on the fence we were looking for.
                if (f && f->seqno() == seqno && find(f, seqno) != 0) {
                    errors.fetch_add(1);
                    break;
                }
                fc.fences[rng() % (fc.length() - 1)]->signal();
            }
        });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop = true;
    for (auto& t : threads)
        t.join();
    CHECK(errors == 0);
}

TEST_CASE("fence_chain: signal_forward: a node signals only when it and all older nodes have") {
    fence_chains fc(64, seqno_inc);
    for (unsigned i = 0; i < fc.length(); ++i) {
        CAPTURE(i);
        fc.fences[i]->signal();
        CHECK(fence_is_signaled(*fc.chains[i]));
        if (i + 1 < fc.length())
            CHECK_FALSE(fence_is_signaled(*fc.chains[i + 1]));
    }
}

TEST_CASE("fence_chain: signal_backward") {
    fence_chains fc(64, seqno_inc);
    for (unsigned i = fc.length(); i--;) {
        CAPTURE(i);
        fc.fences[i]->signal();
        if (i > 0)
            CHECK_FALSE(fence_is_signaled(*fc.chains[i]));
    }
    for (unsigned i = 0; i < fc.length(); ++i)
        CHECK(fence_is_signaled(*fc.chains[i]));
}

namespace {
/// __wait_fence_chains with the three signal orders of wait_forward/backward/random: a thread
/// waits on the tail (enabling signalling, so the node signals by itself), the test signals.
void wait_chain(int order) {
    fence_chains fc(chain_sz, seqno_inc);
    std::vector<fence_ptr> order_fences = fc.fences;
    if (order < 0)
        std::reverse(order_fences.begin(), order_fences.end());
    else if (order > 0)
        std::shuffle(order_fences.begin(), order_fences.end(), std::mt19937(42));
    std::atomic<int> result{1};
    std::thread waiter([&] { result = fc.tail->wait(std::chrono::seconds(30)); });
    std::this_thread::yield();
    for (auto& f : order_fences) {
        CHECK_FALSE(fc.tail->is_signaled());
        f->signal();
    }
    waiter.join();
    CHECK(result == 0);
    CHECK(fc.tail->is_signaled());
}
} // namespace

TEST_CASE("fence_chain: wait_forward") { wait_chain(0); }
TEST_CASE("fence_chain: wait_backward") { wait_chain(-1); }
TEST_CASE("fence_chain: wait_random") { wait_chain(1); }

TEST_CASE("fence_chain: a waiter enabled midway signals with the last pending payload") {
    fence_chains fc(8, seqno_inc);
    fc.fences[3]->signal();
    fc.fences[0]->signal();
    std::atomic<int> calls{0};
    struct cb_t : fence_cb {
        std::atomic<int>* calls;
    } cb;
    cb.calls = &calls;
    REQUIRE(fc.tail->add_callback(cb, [](fence&, fence_cb& c) noexcept { static_cast<cb_t&>(c).calls->fetch_add(1); }) == 0);
    for (unsigned i : {7u, 6u, 5u, 4u, 2u}) {
        fc.fences[i]->signal();
        CHECK(calls == 0);
    }
    fc.fences[1]->signal();
    CHECK(calls == 1);
    CHECK(fc.tail->is_signaled());
}

TEST_CASE("fence_chain: walking collects signalled nodes, the release of a long chain is iterative") {
    {
        fence_chains fc(16, seqno_inc);
        for (unsigned i = 0; i < 15; ++i)
            fc.fences[i]->signal();
        // Only the tail's and the test's references keep node 14 alive.
        CHECK(fc.chains[14]->use_count() == 2);
        fence_ptr prev = fence_chain_walk(fc.tail);
        CHECK_FALSE(prev); // everything before the tail signalled: spliced out
        CHECK_FALSE(to_fence_chain(fc.tail.get())->prev());
        CHECK(fc.chains[14]->use_count() == 1);
    }
    // 200000 nodes referenced only by their successor: dropping the tail must not recurse.
    fence_ptr tail;
    for (unsigned i = 0; i < 200000; ++i) {
        fence_ptr p = mock_fence();
        p->signal();
        tail = fence_chain::create(tail, p, i + 1);
        REQUIRE(tail);
    }
    tail.reset();
}
