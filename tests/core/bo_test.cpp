// SPDX-License-Identifier: MIT
// Buffer objects on the mock, beyond the shared conformance suite: what only the framework's
// side can see (offset space, references, the driver API), unplug while mapped, injected
// allocation failures, and concurrent handle and mapping traffic (run under TSan in CI).
#include "test_drivers.hpp"

#include <accel/accel.hpp>
#include <accel/core/gem/host_aperture.hpp>
#include <accel/mm/range/best_fit.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <cstring>
#include <string>
#include <sys/mman.h>
#include <thread>
#include <vector>

using namespace accel;
using accel::test::test_driver;

namespace {

/// A driver without buffer objects (no object_data): no DRIVER_GEM.
struct plain_driver {
    static constexpr driver_info info{1, 0, 0, "plain", "no buffer objects"};
    struct device_data {};
    struct file_data {};
    using ioctls = ioctl_table<>;
};

struct registered {
    subsystem sub;
    device<test_driver>::ref dev;
    registration reg;
    backend::mock mock{sub};

    registered() {
        auto d = device<test_driver>::create();
        REQUIRE(d);
        dev = *d;
        auto r = sub.register_device(dev);
        REQUIRE(r);
        reg = std::move(*r);
    }
    std::string compute() const { return std::string(mock.root()) + "/" + node_name(node_kind::compute, reg.minor()); }
    test_bo_create create(int fd, std::uint64_t size) {
        test_bo_create b{size, 0, 0, 0};
        REQUIRE(mock.ioctl(fd, TEST_IOCTL_BO_CREATE, &b) == 0);
        return b;
    }
};

file<test_driver>& typed(file_base* f) { return static_cast<file<test_driver>&>(*f); }

} // namespace

TEST_CASE("a driver without buffer objects answers GEM_CLOSE with EOPNOTSUPP, as without DRIVER_GEM") {
    subsystem sub;
    auto d = device<plain_driver>::create();
    REQUIRE(d);
    auto r = sub.register_device(*d);
    REQUIRE(r);
    backend::mock m{sub};
    int fd = m.open(std::string(m.root()) + "/" + node_name(node_kind::compute, r->minor()));
    REQUIRE(fd >= 0);
    accel_gem_close gc{1, 0};
    CHECK(m.ioctl(fd, ACCEL_IOCTL_GEM_CLOSE, &gc) == -EOPNOTSUPP);
    CHECK(m.mmap(fd, 1ull << 32, 4096, PROT_READ, MAP_SHARED).error() == -EINVAL);
    CHECK(m.close(fd) == 0);
}

TEST_CASE("the first object of a device sits at 4 GiB, and offsets return when objects go") {
    registered r;
    int fd = r.mock.open(r.compute());
    REQUIRE(fd >= 0);
    auto a = r.create(fd, 4096);
    CHECK(a.mmap_offset == 0x100000000ull); // DRM_FILE_PAGE_OFFSET_START << PAGE_SHIFT
    auto b = r.create(fd, 3 * 4096);
    CHECK(b.mmap_offset == a.mmap_offset + 4096);
    CHECK(r.dev->mmap_offsets().size() == 2);
    accel_gem_close gc{a.handle, 0};
    REQUIRE(r.mock.ioctl(fd, ACCEL_IOCTL_GEM_CLOSE, &gc) == 0);
    CHECK(r.dev->mmap_offsets().size() == 1); // the last reference freed it
    auto c = r.create(fd, 4096);
    CHECK(c.mmap_offset == a.mmap_offset); // best fit reuses the hole
    CHECK(r.mock.close(fd) == 0);
    CHECK(r.dev->mmap_offsets().size() == 0);
}

TEST_CASE("object operations: per-handle open and close, free, and a failing open undoes the handle") {
    registered r;
    int fd = r.mock.open(r.compute());
    int other = r.mock.open(r.compute());
    REQUIRE(fd >= 0);
    REQUIRE(other >= 0);
    auto& d = *r.dev;
    auto a = r.create(fd, 4096);
    CHECK(d->handle_opens == 1);
    CHECK(d->handle_closes == 0);
    accel_gem_close gc{a.handle, 0};
    REQUIRE(r.mock.ioctl(fd, ACCEL_IOCTL_GEM_CLOSE, &gc) == 0);
    CHECK(d->handle_closes == 1); // close before the object goes
    CHECK(d->objects_freed == 1);

    d->fail_handle_open = -EPERM; // the driver refuses the handle: nothing is left behind
    test_bo_create b{4096, 0, 0, 0};
    CHECK(r.mock.ioctl(fd, TEST_IOCTL_BO_CREATE, &b) == -EPERM);
    CHECK(d->handle_opens == 1);
    CHECK(d->handle_closes == 1); // an open that failed is not closed
    CHECK(d->objects_freed == 2); // the creator's reference was the last
    CHECK(r.dev->mmap_offsets().size() == 0);
    test_mem_stats m{};
    REQUIRE(r.mock.ioctl(fd, TEST_IOCTL_MEM_STATS, &m) == 0);
    CHECK(m.handles == 0);
    d->fail_handle_open = 0;
    auto c = r.create(fd, 4096);
    CHECK(c.handle == a.handle); // the failed handle's number was given back

    // Handles left at close: each gets its close, then the objects go.
    r.create(fd, 4096);
    r.create(other, 4096);
    CHECK(d->handle_opens == 4);
    CHECK(r.mock.close(fd) == 0);
    CHECK(d->handle_closes == 3);
    CHECK(d->objects_freed == 4);
    CHECK(r.mock.close(other) == 0);
    CHECK(d->handle_closes == 4);
    CHECK(d->objects_freed == 5);
}

TEST_CASE("handles held in two files: handle_count, shared accounting, permission per file") {
    registered r;
    auto f1 = r.dev->open(node_kind::compute, O_RDWR);
    auto f2 = r.dev->open(node_kind::compute, O_RDWR);
    REQUIRE(f1);
    REQUIRE(f2);
    auto obj = bo<test_driver>::create(*r.dev, 10000);
    REQUIRE(obj);
    CHECK((*obj)->size() == 3 * 4096);
    auto h1 = create_handle(typed(*f1), **obj);
    REQUIRE(h1);
    CHECK(memory_stats(**f1).shared == 0);
    CHECK((*obj)->mmap_allowed(**f1));
    CHECK(!(*obj)->mmap_allowed(**f2));
    auto h2 = create_handle(typed(*f2), **obj);
    REQUIRE(h2);
    CHECK(*h1 == 1);
    CHECK(*h2 == 1);
    CHECK((*obj)->handle_count() == 2);
    CHECK(memory_stats(**f1).shared == 3 * 4096);
    CHECK(memory_stats(**f2).total == 3 * 4096);
    CHECK(lookup(typed(*f2), *h2).get() == obj->get());
    CHECK(lookup(typed(*f2), 2) == nullptr);
    auto h3 = create_handle(typed(*f1), **obj); // a second handle in the same file counts twice
    REQUIRE(h3);
    CHECK(*h3 == 2);
    CHECK(memory_stats(**f1).total == 2 * 3 * 4096);
    CHECK((*f1)->handles().remove(*h1) == 0);
    CHECK((*obj)->mmap_allowed(**f1)); // still one handle in f1: the permission is counted
    CHECK((*f1)->handles().remove(*h3) == 0);
    CHECK(!(*obj)->mmap_allowed(**f1));
    r.dev->close(*f2);
    CHECK((*obj)->handle_count() == 0);
    CHECK(memory_stats(**f1).handles == 0);
    r.dev->close(*f1);
    CHECK(r.dev->mmap_offsets().size() == 1); // our reference keeps it
    obj.value().reset();
    CHECK(r.dev->mmap_offsets().size() == 0);
}

TEST_CASE("unplug while mapped: the mapping stays, new mappings get ENODEV") {
    registered r;
    int fd = r.mock.open(r.compute());
    REQUIRE(fd >= 0);
    auto b = r.create(fd, 2 * 4096);
    auto m = r.mock.mmap(fd, b.mmap_offset, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED);
    REQUIRE(m);
    auto* w = static_cast<volatile std::uint64_t*>(*m);
    w[0] = 5;
    r.reg.reset(); // unregister: the device is unplugged
    CHECK(r.mock.mmap(fd, b.mmap_offset, 4096, PROT_READ, MAP_SHARED).error() == -ENODEV);
    test_bo_info inf{b.handle, 0, 0, 0, 0};
    CHECK(r.mock.ioctl(fd, TEST_IOCTL_BO_INFO, &inf) == -ENODEV);
    w[1] = 6;
    CHECK(w[0] == 5);
    CHECK(r.mock.munmap(*m, 4096) == -EINVAL); // part of a mapping: the mock unmaps whole ones
    CHECK(r.mock.munmap(static_cast<char*>(*m) + 4096, 4096) == -EINVAL);
    CHECK(r.mock.munmap(static_cast<char*>(*m) + 1, 4096) == -EINVAL); // not page-aligned
    CHECK(r.mock.close(fd) == 0);
    r.dev.reset(); // the mapping still holds the device and the object
    CHECK(w[1] == 6);
    CHECK(r.mock.mappings() == 1);
    CHECK(r.mock.munmap(*m, 2 * 4096) == 0);
    CHECK(r.mock.mappings() == 0);
}

TEST_CASE("injected allocation failures in create, handle and mmap leave nothing behind") {
    registered r;
    int fd = r.mock.open(r.compute());
    REQUIRE(fd >= 0);
    int failures = 0;
    for (std::int64_t n = 1; n < 16; ++n) {
        fail_nth_allocation(n);
        test_bo_create b{4096, 0, 0, 0};
        const int ret = r.mock.ioctl(fd, TEST_IOCTL_BO_CREATE, &b);
        void* p = nullptr;
        int mret = 0;
        if (ret == 0) {
            auto m = r.mock.mmap(fd, b.mmap_offset, 4096, PROT_READ, MAP_SHARED);
            mret = m.error();
            if (m)
                p = *m;
        }
        disarm_allocation_faults();
        if (ret != 0) {
            CHECK(ret == -ENOMEM);
            ++failures;
            CHECK(r.dev->mmap_offsets().size() == 0); // no offset, no object left
            test_mem_stats s{};
            REQUIRE(r.mock.ioctl(fd, TEST_IOCTL_MEM_STATS, &s) == 0);
            CHECK(s.handles == 0);
            continue;
        }
        if (mret != 0) {
            CHECK(mret == -ENOMEM);
            ++failures;
            CHECK(r.mock.mappings() == 0);
        } else {
            CHECK(r.mock.munmap(p, 4096) == 0);
        }
        accel_gem_close gc{b.handle, 0};
        REQUIRE(r.mock.ioctl(fd, ACCEL_IOCTL_GEM_CLOSE, &gc) == 0);
        CHECK(r.dev->mmap_offsets().size() == 0);
    }
    CHECK(failures >= 3); // backing, object, handle slot (and the mapping record) each failed once
    CHECK(r.mock.close(fd) == 0);
}

TEST_CASE("concurrent handle and mapping traffic on one file") {
    registered r;
    int fd = r.mock.open(r.compute());
    REQUIRE(fd >= 0);
    std::atomic<int> errors{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 200; ++i) {
                test_bo_create b{4096u * static_cast<unsigned>(1 + (i + t) % 3), 0, 0, 0};
                if (r.mock.ioctl(fd, TEST_IOCTL_BO_CREATE, &b) != 0) {
                    ++errors;
                    continue;
                }
                auto m = r.mock.mmap(fd, b.mmap_offset, 4096, PROT_READ | PROT_WRITE, MAP_SHARED);
                if (!m) {
                    ++errors;
                    continue;
                }
                static_cast<std::uint64_t*>(*m)[0] = static_cast<std::uint64_t>(t * 1000 + i);
                test_bo_poke p{b.handle, 0, 0, 0};
                if (r.mock.ioctl(fd, TEST_IOCTL_BO_POKE, &p) != 0 || p.value != static_cast<std::uint64_t>(t * 1000 + i))
                    ++errors;
                accel_gem_close gc{b.handle, 0};
                if (r.mock.ioctl(fd, ACCEL_IOCTL_GEM_CLOSE, &gc) != 0)
                    ++errors;
                if (r.mock.munmap(*m, 4096) != 0)
                    ++errors;
            }
        });
    for (auto& th : threads)
        th.join();
    CHECK(errors == 0);
    test_mem_stats s{};
    REQUIRE(r.mock.ioctl(fd, TEST_IOCTL_MEM_STATS, &s) == 0);
    CHECK(s.handles == 0);
    CHECK(r.dev->mmap_offsets().size() == 0);
    CHECK(r.mock.close(fd) == 0);
}

namespace {

/// A driver whose objects may live in an on-chip SRAM region (region 1) instead of host memory.
struct sram_driver {
    static constexpr driver_info info{1, 0, 0, "sram", "objects in device memory"};
    struct device_data {
        bo_region<mm::best_fit> sram{1};
        device_data() { REQUIRE(sram.init("sram", 0x40000000ull, 16 * 4096, 256) == 0); }
    };
    struct file_data {};
    struct object_data {};
    struct create_arg {
        __u64 size;
        __u32 in_sram;
        __u32 handle;
        __u64 mmap_offset;
        __u64 device_address;
    };
    static int create(device<sram_driver>& d, file<sram_driver>& f, create_arg& a) {
        auto obj = a.in_sram ? bo<sram_driver>::create_in(d, d->sram, a.size, 0) : bo<sram_driver>::create(d, a.size);
        if (!obj)
            return obj.error();
        auto h = create_handle(f, **obj);
        if (!h)
            return h.error();
        a.handle = *h;
        a.mmap_offset = (*obj)->mmap_offset();
        a.device_address = (*obj)->device_address();
        return 0;
    }
    using ioctls = ioctl_table<ACCEL_IOCTL(ACCEL_IOWR(0x40, create_arg), &create, ioctl_flags::none)>;
};
constexpr unsigned long sram_create = ACCEL_IOWR(0x40, sram_driver::create_arg);

} // namespace

TEST_CASE("objects in a device memory region: placement, ENOSPC, mapping, per-region accounting") {
    subsystem sub;
    auto d = device<sram_driver>::create();
    REQUIRE(d);
    auto reg = sub.register_device(*d);
    REQUIRE(reg);
    auto& sram = (**d)->sram;
    backend::mock m{sub};
    int fd = m.open(std::string(m.root()) + "/" + node_name(node_kind::compute, reg->minor()));
    REQUIRE(fd >= 0);

    sram_driver::create_arg a{5000, 1, 0, 0, 0}; // two pages of SRAM
    REQUIRE(m.ioctl(fd, sram_create, &a) == 0);
    CHECK(a.device_address >= 0x40000000ull);
    CHECK(a.device_address % 4096 == 0); // client-mappable: page-aligned in the region
    CHECK(sram.objects() == 1);
    CHECK(sram.stats().used == 2 * 4096);
    auto map = m.mmap(fd, a.mmap_offset, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED);
    REQUIRE(map);
    static_cast<std::uint64_t*>(*map)[513] = 0xc0ffee; // what the device sees at that address
    std::uint64_t seen = 0;
    std::memcpy(&seen, sram.region().host_ptr(a.device_address + 513 * 8, 8), 8);
    CHECK(seen == 0xc0ffee);

    sram_driver::create_arg host{4096, 0, 0, 0, 0};
    REQUIRE(m.ioctl(fd, sram_create, &host) == 0);
    CHECK(host.device_address == 0);

    { // Per-region accounting of a file: region 0 is host memory, 1 the SRAM.
        auto f = d->get()->open(node_kind::compute, O_RDWR);
        REQUIRE(f);
        auto& typed_file = static_cast<file<sram_driver>&>(**f);
        auto in_sram = bo<sram_driver>::create_in(**d, sram, 4096, 0);
        auto in_host = bo<sram_driver>::create(**d, 3 * 4096);
        REQUIRE(in_sram);
        REQUIRE(in_host);
        CHECK((*in_sram)->region_id() == 1);
        CHECK((*in_host)->region_id() == 0);
        REQUIRE(create_handle(typed_file, **in_sram));
        REQUIRE(create_handle(typed_file, **in_host));
        CHECK(memory_stats(**f, 1).total == 4096);
        CHECK(memory_stats(**f, 1).resident == 4096); // device memory is resident whole
        CHECK(memory_stats(**f, 0).total == 3 * 4096);
        CHECK(memory_stats(**f, 0).resident == 0); // no page touched yet
        CHECK(memory_stats(**f).total == 4 * 4096);
        CHECK(memory_stats(**f, 2).handles == 0);
        d->get()->close(*f);
    }
    CHECK(sram.objects() == 1); // the file's object went with its last reference

    // The region holds 16 pages: 14 more fit, the 15th does not; a failure holds nothing.
    std::vector<sram_driver::create_arg> fill;
    int err = 0;
    for (int i = 0; i < 20 && !err; ++i) {
        sram_driver::create_arg b{4096, 1, 0, 0, 0};
        err = m.ioctl(fd, sram_create, &b);
        if (!err)
            fill.push_back(b);
    }
    CHECK(err == -ENOSPC);
    CHECK(fill.size() == 14);
    CHECK(sram.objects() == 15);
    CHECK(d->get()->mmap_offsets().size() == 16); // 15 in SRAM, 1 in host memory: no stray offset

    for (const auto& b : fill) {
        accel_gem_close gc{b.handle, 0};
        REQUIRE(m.ioctl(fd, ACCEL_IOCTL_GEM_CLOSE, &gc) == 0);
    }
    CHECK(sram.objects() == 1);
    accel_gem_close gc{a.handle, 0};
    REQUIRE(m.ioctl(fd, ACCEL_IOCTL_GEM_CLOSE, &gc) == 0);
    CHECK(sram.objects() == 1); // the mapping still holds the object
    CHECK(static_cast<std::uint64_t*>(*map)[513] == 0xc0ffee);
    CHECK(m.munmap(*map, 2 * 4096) == 0);
    CHECK(sram.objects() == 0);
    CHECK(sram.stats().used == 0);
    CHECK(m.close(fd) == 0);
}

TEST_CASE("userptr: a host object pinned into the device's view, reached through page tables") {
    registered r;
    int fd = r.mock.open(r.compute());
    REQUIRE(fd >= 0);
    auto b = r.create(fd, 2 * 4096);
    auto map = r.mock.mmap(fd, b.mmap_offset, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED);
    REQUIRE(map);

    // The device: page tables in a small DRAM region, host memory behind a bus aperture.
    mm::device_memory_region<mm::best_fit> dram;
    REQUIRE(dram.init("dram", 0x100000000ull, 1 << 20, 4096) == 0);
    mm::vm::page_table<mm::vm::lpae_4k, mm::device_memory_region<mm::best_fit>> pt;
    REQUIRE(pt.init(dram) == 0);
    mm::vm::phys_map phys;
    REQUIRE(phys.add_region(dram) == 0);
    host_aperture<mm::best_fit> aperture;
    REQUIRE(aperture.init(0x800000000ull, 1ull << 30) == 0);

    auto f = r.dev->open(node_kind::compute, O_RDWR); // the driver side: look the handle up
    REQUIRE(f);
    auto obj = r.dev->mmap_offsets().with_exact(b.mmap_offset / 4096, 1, [](const mmap_offset_node* n) {
        return gem_ref(gem_object::from_offset_node(n));
    });
    REQUIRE(obj);
    auto pin = aperture.pin(*obj, phys);
    REQUIRE(pin);
    CHECK(pin->bus_address() >= 0x800000000ull);
    CHECK(aperture.used() == 2 * 4096);
    const std::uint64_t va = 0x40000000;
    REQUIRE(pt.map(va, pin->bus_address(), 2 * 4096, mm::vm::vm_perm::rw) == 0);

    const std::uint64_t job_output = 0xfeedface;
    REQUIRE(mm::vm::dma_write(pt, phys, va + 4096 + 16, &job_output, sizeof job_output) == 0); // the "device" writes
    CHECK(static_cast<std::uint64_t*>(*map)[512 + 2] == job_output); // the client sees it
    static_cast<std::uint64_t*>(*map)[0] = 0xabc; // the client writes, the device reads
    std::uint64_t in = 0;
    REQUIRE(mm::vm::dma_read(pt, phys, va, &in, sizeof in) == 0);
    CHECK(in == 0xabc);

    // The pin keeps the object after the client lets go of everything.
    accel_gem_close gc{b.handle, 0};
    REQUIRE(r.mock.ioctl(fd, ACCEL_IOCTL_GEM_CLOSE, &gc) == 0);
    REQUIRE(r.mock.munmap(*map, 2 * 4096) == 0);
    obj.reset();
    CHECK(r.dev->mmap_offsets().size() == 1);
    REQUIRE(mm::vm::dma_read(pt, phys, va, &in, sizeof in) == 0);
    CHECK(in == 0xabc);
    {
        auto again = aperture.pin(*pin->object(), phys); // a second pin: another bus window
        REQUIRE(again);
        CHECK(again->bus_address() != pin->bus_address());
    } // ...whose release leaves the first one working
    REQUIRE(mm::vm::dma_read(pt, phys, va, &in, sizeof in) == 0);
    CHECK(in == 0xabc);

    REQUIRE(pt.unmap(va, 2 * 4096));
    pin->reset(); // unpinned after the unmap: the object goes, the window too
    CHECK(r.dev->mmap_offsets().size() == 0);
    CHECK(aperture.used() == 0);
    CHECK(phys.resolve(0x800000000ull, 1) == nullptr);
    r.dev->close(*f);
    CHECK(r.mock.close(fd) == 0);
}
