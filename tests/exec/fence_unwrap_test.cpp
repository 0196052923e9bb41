// SPDX-License-Identifier: MIT
// fence_unwrap (dma-fence-unwrap): the kernel's st-dma-fence-unwrap.c selftests ported one by
// one (sanitycheck, unwrap_array, unwrap_chain, unwrap_chain_array, unwrap_merge,
// unwrap_merge_duplicate, unwrap_merge_seqno, unwrap_merge_order, unwrap_merge_complex,
// unwrap_merge_complex_seqno), plus the merge's fast paths (stub with the newest timestamp, a
// single fence returned as is).
#include <accel/exec/fence_unwrap.hpp>

#include <doctest/doctest.h>

#include <array>
#include <vector>

namespace {

using namespace accel;

fence_ptr mock_fence(std::uint64_t ctx = fence_context_alloc(1), std::uint64_t seqno = 1) {
    fence_ptr f = make_fence(ctx, seqno, "mock", "mock");
    f->enable_sw_signaling();
    return f;
}
fence_ptr mock_array(std::vector<fence_ptr> v) { return fence_array::create(v, fence_context_alloc(1), 1, false); }
fence_ptr mock_chain(fence_ptr prev, fence_ptr f) { return fence_chain::create(std::move(prev), std::move(f), 1); }

std::vector<fence*> leaves(const fence_ptr& head) {
    std::vector<fence*> v;
    fence_unwrap_for_each(head, [&](fence& f) { v.push_back(&f); });
    return v;
}

} // namespace

TEST_CASE("fence_unwrap: sanitycheck") {
    fence_ptr f = mock_fence();
    fence_ptr chain = mock_chain(nullptr, mock_array({f}));
    REQUIRE(chain);
    CHECK(leaves(chain) == std::vector<fence*>{f.get()});
    f->signal();
}

TEST_CASE("fence_unwrap: unwrap_array, unwrap_chain, unwrap_chain_array visit every leaf") {
    fence_ptr f1 = mock_fence(), f2 = mock_fence();
    CHECK(leaves(mock_array({f1, f2})) == std::vector<fence*>{f1.get(), f2.get()});
    CHECK(leaves(mock_chain(f1, f2)) == std::vector<fence*>{f2.get(), f1.get()});
    CHECK(leaves(mock_chain(nullptr, mock_array({f1, f2}))) == std::vector<fence*>{f1.get(), f2.get()});
    CHECK(leaves(f1) == std::vector<fence*>{f1.get()}); // a plain fence is its own leaf
    CHECK(leaves(nullptr).empty());
    f1->signal();
    f2->signal();
}

TEST_CASE("fence_unwrap: unwrap_merge of two fences gives both") {
    fence_ptr f1 = mock_fence(), f2 = mock_fence();
    fence_ptr f3 = fence_unwrap_merge({f1, f2});
    REQUIRE(f3);
    CHECK(to_fence_array(f3.get()));
    auto l = leaves(f3);
    CHECK(l.size() == 2);
    CHECK(std::count(l.begin(), l.end(), f1.get()) == 1);
    CHECK(std::count(l.begin(), l.end(), f2.get()) == 1);
    f3->enable_sw_signaling(); // an array signals lazily
    CHECK_FALSE(f3->is_signaled());
    f1->signal();
    f2->signal();
    CHECK(f3->is_signaled());
}

TEST_CASE("fence_unwrap: unwrap_merge_duplicate: (f, f) gives f") {
    fence_ptr f1 = mock_fence();
    fence_ptr f2 = fence_unwrap_merge({f1, f1});
    CHECK(f2 == f1);
    f1->signal();
}

TEST_CASE("fence_unwrap: unwrap_merge_seqno keeps the latest per context") {
    const auto c0 = fence_context_alloc(1), c1 = fence_context_alloc(1);
    fence_ptr f1 = mock_fence(c1, 1), f2 = mock_fence(c1, 2), f3 = mock_fence(c0, 1);
    fence_ptr f4 = fence_unwrap_merge({f1, f2, f3});
    REQUIRE(f4);
    CHECK(leaves(f4) == std::vector<fence*>{f3.get(), f2.get()}); // sorted by context
    for (auto* f : {&f1, &f2, &f3})
        (*f)->signal();
}

TEST_CASE("fence_unwrap: unwrap_merge_order: an array and a chain in reverse order give each fence once") {
    fence_ptr f1 = mock_fence(), f2 = mock_fence();
    fence_ptr a1 = mock_array({f1, f2});
    fence_ptr c2 = mock_chain(mock_chain(nullptr, f1), f2);
    fence_ptr a2 = fence_unwrap_merge({a1, c2});
    REQUIRE(a2);
    CHECK(leaves(a2) == std::vector<fence*>{f1.get(), f2.get()});
    f1->signal();
    f2->signal();
}

TEST_CASE("fence_unwrap: unwrap_merge_complex: stubs dropped, arrays flattened") {
    fence_ptr f1 = mock_fence(), f2 = mock_fence();
    fence_ptr f3 = fence_unwrap_merge({f1, f2});
    fence_ptr f4 = mock_array({f2, f1});
    fence_ptr f5 = fence_unwrap_merge({f3, f4, signaled_stub()});
    REQUIRE(f5);
    auto l = leaves(f5);
    CHECK(l.size() == 2);
    CHECK(std::count(l.begin(), l.end(), f1.get()) == 1);
    CHECK(std::count(l.begin(), l.end(), f2.get()) == 1);
    f1->signal();
    f2->signal();
}

TEST_CASE("fence_unwrap: unwrap_merge_complex_seqno: latest per context across arrays") {
    const auto c0 = fence_context_alloc(1), c1 = fence_context_alloc(1);
    fence_ptr f1 = mock_fence(c0, 2), f2 = mock_fence(c1, 1), f3 = mock_fence(c0, 1), f4 = mock_fence(c1, 2);
    fence_ptr f7 = fence_unwrap_merge({mock_array({f1, f2}), mock_array({f3, f4})});
    REQUIRE(f7);
    CHECK(leaves(f7) == std::vector<fence*>{f1.get(), f4.get()});
    for (auto* f : {&f1, &f2, &f3, &f4})
        (*f)->signal();
}

TEST_CASE("fence_unwrap: merge fast paths: all signalled gives a stub with the newest timestamp, one pending gives it") {
    fence_ptr a = mock_fence(), b = mock_fence(), p = mock_fence();
    a->signal(1000);
    b->signal(5000);
    fence_ptr s = fence_unwrap_merge({a, b});
    REQUIRE(s);
    CHECK(s != a);
    CHECK(s != b);
    CHECK(s->is_signaled());
    CHECK(s->timestamp() == 5000);
    CHECK(fence_unwrap_merge({a, p, b}) == p);
    // A chain whose older payloads signalled: only the pending leaves count.
    fence_ptr c = mock_chain(mock_chain(nullptr, a), p);
    CHECK(fence_unwrap_merge({c}) == p);
    p->signal();
}
