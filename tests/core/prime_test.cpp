// SPDX-License-Identifier: MIT
// dma-buf and PRIME through the mock, beyond the conformance suite: the import cache and
// self-import, a cross-driver import through a remapping DMA domain (the importer sees the
// exporter's bytes, writes go both ways, the import binds into a VA space and maps through the
// importer's node), a driver's own exporter (export_dmabuf hook), the dma-buf file operations
// (mmap, llseek, SYNC, SET_NAME, fdinfo, unknown ioctls), vmap counting, and lifetimes in every
// close and unplug order (run under the asan preset for use-after-free).
#include "test_drivers.hpp"

#include <accel/accel.hpp>
#include <accel/mm/range/best_fit.hpp>
#include <accel/share/prime.hpp>

#include <doctest/doctest.h>

#include <linux/dma-buf.h>
#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

using namespace accel;
using accel::test::test_driver;


// ---- the importer: a device that reaches host memory through its own bus window ----------

struct imp_bo_info {
    __u32 handle;
    __u32 ranges;         // out: DMA ranges of an import (0: not imported)
    __u64 size;           // out
    __u64 mmap_offset;    // out
    __u64 device_address; // out: the first range's device address
};
struct imp_poke { // the driver's CPU view (vaddr)
    __u32 handle;
    __u32 op; // 1 write, 0 read
    __u64 offset;
    __u64 value;
};
struct imp_vm_bind {
    __u32 handle;
    __u32 pad;
    __u64 va;
};
struct imp_dma { // the device's DMA through its page table
    __u64 va;
    __u32 op; // 1 write, 0 read
    __u32 pad;
    __u64 value;
};
#define IMP_IOCTL_BO_INFO ACCEL_IOWR(0x40, struct imp_bo_info)
#define IMP_IOCTL_POKE ACCEL_IOWR(0x41, struct imp_poke)
#define IMP_IOCTL_VM_BIND ACCEL_IOW(0x42, struct imp_vm_bind)
#define IMP_IOCTL_DMA ACCEL_IOWR(0x43, struct imp_dma)

constexpr std::uint64_t window_base = 0x40'0000'0000ull;

/// A DMA domain with a window of bus addresses: each host range gets the next free bus range
/// and a phys_map window onto the host memory, so the software device reaches it by bus address.
struct window_domain final : dma_domain {
    std::mutex m;
    mm::vm::phys_map* pm = nullptr;
    std::uint64_t next = window_base;
    std::atomic<int> maps{0}, unmaps{0}, live_windows{0};
    result<dma_ranges> map(std::span<const dma_range> cpu, dma_direction) override {
        std::lock_guard g(m);
        dma_ranges out;
        for (const dma_range& r : cpu) {
            if (int e = pm->add(next, r.length, reinterpret_cast<std::byte*>(static_cast<std::uintptr_t>(r.address)))) {
                for (const dma_range& done : out)
                    (void)pm->remove(done.address);
                return result<dma_ranges>::failure(e);
            }
            out.push_back({next, r.length});
            next += (r.length + 0xfff) & ~std::uint64_t{0xfff};
        }
        maps++;
        live_windows += static_cast<int>(out.size());
        return out;
    }
    void unmap(std::span<const dma_range> mapped, dma_direction) noexcept override {
        std::lock_guard g(m);
        for (const dma_range& r : mapped)
            (void)pm->remove(r.address);
        unmaps++;
        live_windows -= static_cast<int>(mapped.size());
    }
};

struct importer_driver {
    static constexpr driver_info info{1, 0, 0, "winimp", "importer with a bus window", "20261205"};
    using region = mm::device_memory_region<mm::best_fit>;
    struct device_data {
        std::mutex vm_lock;
        mm::vm::phys_map pm;
        region pt_mem;
        mm::vm::page_table<mm::vm::lpae_4k, region> pt;
        window_domain domain;
        std::atomic<int> objects_freed{0};
        device_data() {
            domain.pm = &pm;
            REQUIRE(pt_mem.init("pt", 0x8000'0000, 4u << 20, 4096) == 0);
            REQUIRE(pt.init(pt_mem) == 0);
        }
    };
    struct file_data {};
    struct object_data {
        static void free(bo<importer_driver>& o) { o.device()->objects_freed++; }
    };
    using dev = device<importer_driver>;
    using fil = file<importer_driver>;
    static accel::dma_domain& dma_domain(dev& d) { return d->domain; }

    static int bo_info(dev&, fil& f, imp_bo_info& a) {
        auto obj = lookup(f, a.handle);
        if (!obj)
            return -ENOENT;
        const dma_ranges* r = gem_import_ranges(*obj);
        a.ranges = r ? static_cast<__u32>(r->size()) : 0;
        a.size = obj->size();
        a.mmap_offset = obj->mmap_offset();
        a.device_address = obj->device_address();
        return 0;
    }
    static int poke(dev&, fil& f, imp_poke& a) {
        auto obj = lookup(f, a.handle);
        if (!obj)
            return -ENOENT;
        if (a.offset % 8 || a.offset >= obj->size())
            return -EINVAL;
        std::byte* cpu = obj->vaddr();
        if (!cpu)
            return -ENOMEM;
        if (a.op == 1)
            std::memcpy(cpu + a.offset, &a.value, 8);
        else
            std::memcpy(&a.value, cpu + a.offset, 8);
        return 0;
    }
    /// Binds every DMA range of an imported object, in order, from `va`.
    static int vm_bind(dev& d, fil& f, imp_vm_bind& a) {
        auto obj = lookup(f, a.handle);
        if (!obj)
            return -ENOENT;
        const dma_ranges* r = gem_import_ranges(*obj);
        if (!r)
            return -EINVAL;
        std::lock_guard g(d->vm_lock);
        std::uint64_t va = a.va;
        for (const dma_range& piece : *r) {
            if (int e = d->pt.map(va, piece.address, piece.length, mm::vm::vm_perm::rw))
                return e;
            va += piece.length;
        }
        return 0;
    }
    static int dma(dev& d, fil&, imp_dma& a) {
        std::lock_guard g(d->vm_lock);
        return a.op == 1 ? mm::vm::dma_write(d->pt, d->pm, a.va, &a.value, 8) : mm::vm::dma_read(d->pt, d->pm, a.va, &a.value, 8);
    }
    using ioctls = ioctl_table<ACCEL_IOCTL(IMP_IOCTL_BO_INFO, &bo_info, ioctl_flags::render_allow),
                               ACCEL_IOCTL(IMP_IOCTL_POKE, &poke, ioctl_flags::render_allow),
                               ACCEL_IOCTL(IMP_IOCTL_VM_BIND, &vm_bind, ioctl_flags::render_allow),
                               ACCEL_IOCTL(IMP_IOCTL_DMA, &dma, ioctl_flags::render_allow)>;
};

// ---- a driver with its own exporter: a scatter list of one range per page ----------------

struct export_counts {
    std::atomic<int> attach{0}, detach{0}, map{0}, unmap{0}, release{0}, vmap{0}, vunmap{0}, begin{0}, end{0};
    std::atomic<unsigned> last_dir{99};
    dma_buf* last_buf = nullptr;
};
export_counts counts;

/// The default GEM exporter with the memory split per page (what an sg_table of
/// non-contiguous pages looks like) and the CPU-access hooks counted.
struct page_exporter {
    gem_exporter base;
    int attach(dma_buf_attachment& a) {
        counts.attach++;
        return base.attach(a);
    }
    void detach(dma_buf_attachment&) { counts.detach++; }
    result<dma_ranges> map(dma_buf_attachment& a, dma_direction d) {
        auto whole = base.map(a, d);
        if (!whole)
            return whole;
        dma_ranges pages;
        for (std::uint64_t off = 0; off < whole->front().length; off += 4096)
            pages.push_back({whole->front().address + off, 4096});
        counts.map++;
        return pages;
    }
    void unmap(dma_buf_attachment&, dma_ranges&, dma_direction) { counts.unmap++; }
    void release() {
        counts.release++;
        base.release();
    }
    result<mmap_target> mmap(std::uint64_t off, std::uint64_t len, int prot, int flags) { return base.mmap(off, len, prot, flags); }
    result<std::byte*> vmap() {
        counts.vmap++;
        return base.vmap();
    }
    void vunmap(std::byte*) { counts.vunmap++; }
    int begin_cpu_access(dma_direction d) {
        counts.begin++;
        counts.last_dir = static_cast<unsigned>(d);
        return 0;
    }
    int end_cpu_access(dma_direction d) {
        counts.end++;
        counts.last_dir = static_cast<unsigned>(d);
        return 0;
    }
    gem_object* object() { return base.object(); }
    dma_resv* resv() { return base.resv(); }
};

struct custom_export_driver {
    static constexpr driver_info info{1, 0, 0, "custexp", "exporter with its own dma_buf_ops", "20261205"};
    struct device_data {};
    struct file_data {};
    struct object_data {
        static result<open_file_ref> export_dmabuf(bo<custom_export_driver>& o, int flags) {
            auto b = gem_prime_export(o, flags, page_exporter{gem_exporter(o)});
            if (!b)
                return result<open_file_ref>::failure(b.error());
            counts.last_buf = b->get();
            return open_file_ref(b->get());
        }
    };
    using dev = device<custom_export_driver>;
    using fil = file<custom_export_driver>;
    static int bo_create(dev& d, fil& f, test_bo_create& a) {
        auto obj = bo<custom_export_driver>::create(d, a.size);
        if (!obj)
            return obj.error();
        auto h = create_handle(f, **obj);
        if (!h)
            return h.error();
        a.handle = *h;
        a.size = (*obj)->size();
        a.mmap_offset = (*obj)->mmap_offset();
        return 0;
    }
    using ioctls = ioctl_table<ACCEL_IOCTL(TEST_IOCTL_BO_CREATE, &bo_create, ioctl_flags::render_allow)>;
};

/// No buffer objects: no PRIME.
struct plain_driver {
    static constexpr driver_info info{1, 0, 0, "plain", "no objects", "20261205"};
    struct device_data {};
    struct file_data {};
    using ioctls = ioctl_table<>;
};

struct fixture {
    subsystem sub;
    registration exp_reg, imp_reg, cust_reg, plain_reg;
    device<test_driver>::ref exp_dev;
    device<importer_driver>::ref imp_dev;
    backend::mock mock{sub};
    backend::mock::identity root{{0, 1, true}};

    fixture() {
        counts.attach = counts.detach = counts.map = counts.unmap = counts.release = 0;
        counts.vmap = counts.vunmap = counts.begin = counts.end = 0;
        counts.last_buf = nullptr;
        auto e = device<test_driver>::create();
        auto i = device<importer_driver>::create();
        auto c = device<custom_export_driver>::create();
        auto p = device<plain_driver>::create();
        REQUIRE((e && i && c && p));
        exp_dev = *e;
        imp_dev = *i;
        auto r1 = sub.register_device(*e);
        auto r2 = sub.register_device(*i);
        auto r3 = sub.register_device(*c);
        auto r4 = sub.register_device(*p);
        REQUIRE((r1 && r2 && r3 && r4));
        exp_reg = std::move(*r1);
        imp_reg = std::move(*r2);
        cust_reg = std::move(*r3);
        plain_reg = std::move(*r4);
    }
    int open(const registration& r) {
        int fd = mock.open(std::string(mock.root()) + "/" + node_name(node_kind::compute, r.minor()), O_RDWR);
        REQUIRE(fd >= 0);
        return fd;
    }
    /// A new object of `size` bytes in `fd` (test_driver or custom_export_driver): its handle.
    test_bo_create create(int fd, std::uint64_t size = 2 * 4096) {
        test_bo_create b{size, 0, 0, 0};
        REQUIRE(mock.ioctl(fd, TEST_IOCTL_BO_CREATE, &b) == 0);
        return b;
    }
    int export_fd(int fd, std::uint32_t handle, std::uint32_t flags = ACCEL_CLOEXEC | ACCEL_RDWR) {
        accel_prime_handle a{handle, flags, -1};
        REQUIRE(mock.ioctl(fd, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, &a) == 0);
        REQUIRE(a.fd >= 0);
        return a.fd;
    }
    int import(int fd, int buf_fd, std::uint32_t& handle) {
        accel_prime_handle a{0, 0, buf_fd};
        const int r = mock.ioctl(fd, ACCEL_IOCTL_PRIME_FD_TO_HANDLE, &a);
        handle = a.handle;
        return r;
    }
    void poke(int fd, std::uint32_t h, std::uint64_t off, std::uint64_t v) {
        test_bo_poke p{h, 1, off, v};
        REQUIRE(mock.ioctl(fd, TEST_IOCTL_BO_POKE, &p) == 0);
    }
    std::uint64_t peek(int fd, std::uint32_t h, std::uint64_t off) {
        test_bo_poke p{h, 0, off, 0};
        REQUIRE(mock.ioctl(fd, TEST_IOCTL_BO_POKE, &p) == 0);
        return p.value;
    }
    void imp_poke_(int fd, std::uint32_t h, std::uint64_t off, std::uint64_t v) {
        imp_poke p{h, 1, off, v};
        REQUIRE(mock.ioctl(fd, IMP_IOCTL_POKE, &p) == 0);
    }
    std::uint64_t imp_peek(int fd, std::uint32_t h, std::uint64_t off) {
        imp_poke p{h, 0, off, 0};
        REQUIRE(mock.ioctl(fd, IMP_IOCTL_POKE, &p) == 0);
        return p.value;
    }
};

} // namespace

TEST_CASE_FIXTURE(fixture, "PRIME on a driver without buffer objects: -EOPNOTSUPP and GET_CAP PRIME 0") {
    int fd = open(plain_reg);
    accel_get_cap cap{ACCEL_CAP_PRIME, 99};
    REQUIRE(mock.ioctl(fd, ACCEL_IOCTL_GET_CAP, &cap) == 0);
    CHECK(cap.value == 0);
    accel_prime_handle a{1, 0, -1};
    CHECK(mock.ioctl(fd, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, &a) == -EOPNOTSUPP);
    CHECK(mock.ioctl(fd, ACCEL_IOCTL_PRIME_FD_TO_HANDLE, &a) == -EOPNOTSUPP);
}

TEST_CASE_FIXTURE(fixture, "import cache: one buffer and one handle per file until the handle is closed") {
    int a = open(exp_reg);
    int b = open(exp_reg);
    auto bo1 = create(a);
    int buf = export_fd(a, bo1.handle);
    std::uint32_t h1 = 0, h2 = 0;
    REQUIRE(import(b, buf, h1) == 0);
    REQUIRE(import(b, buf, h2) == 0);
    CHECK(h1 == h2); // the cache
    test_bo_info inf{};
    inf.handle = bo1.handle;
    REQUIRE(mock.ioctl(a, TEST_IOCTL_BO_INFO, &inf) == 0);
    CHECK(inf.handle_count == 2); // self-import: the same object, one handle in b
    // Export from b gives the same dma-buf: importing it into a gives a's own handle.
    int buf2 = export_fd(b, h1);
    std::uint32_t back = 0;
    REQUIRE(import(a, buf2, back) == 0);
    CHECK(back == bo1.handle);
    // GEM_CLOSE removes b's cache entry: a later import makes a handle again.
    accel_gem_close gc{h1, 0};
    REQUIRE(mock.ioctl(b, ACCEL_IOCTL_GEM_CLOSE, &gc) == 0);
    REQUIRE(mock.ioctl(a, TEST_IOCTL_BO_INFO, &inf) == 0);
    CHECK(inf.handle_count == 1);
    std::uint32_t h3 = 0;
    REQUIRE(import(b, buf, h3) == 0);
    REQUIRE(mock.ioctl(a, TEST_IOCTL_BO_INFO, &inf) == 0);
    CHECK(inf.handle_count == 2);
    // mem stats count an exported object as shared.
    test_mem_stats ms{};
    REQUIRE(mock.ioctl(a, TEST_IOCTL_MEM_STATS, &ms) == 0);
    CHECK(ms.shared == bo1.size);
    CHECK(mock.close(buf) == 0);
    CHECK(mock.close(buf2) == 0);
    CHECK(mock.close(a) == 0);
    CHECK(mock.close(b) == 0);
    CHECK((*exp_dev)->objects_freed == 1);
}

TEST_CASE_FIXTURE(fixture, "self-import after the last handle went: the dma-buf still names the object") {
    int a = open(exp_reg);
    auto bo1 = create(a);
    poke(a, bo1.handle, 0, 0x5151);
    int buf = export_fd(a, bo1.handle);
    accel_gem_close gc{bo1.handle, 0};
    REQUIRE(mock.ioctl(a, ACCEL_IOCTL_GEM_CLOSE, &gc) == 0); // obj->dma_buf dropped; the fd holds the object
    CHECK((*exp_dev)->objects_freed == 0);
    std::uint32_t h = 0;
    REQUIRE(import(a, buf, h) == 0);
    CHECK(peek(a, h, 0) == 0x5151);
    CHECK(mock.close(buf) == 0);
    CHECK(mock.close(a) == 0);
    CHECK((*exp_dev)->objects_freed == 1);
}

TEST_CASE_FIXTURE(fixture, "cross-driver import: the exporter's bytes through a remapped DMA domain, a VA space and the importer's node") {
    int e = open(exp_reg);
    int i = open(imp_reg);
    auto bo1 = create(e, 3 * 4096);
    poke(e, bo1.handle, 8, 0x1234);
    int buf = export_fd(e, bo1.handle);
    std::uint32_t h = 0;
    REQUIRE(import(i, buf, h) == 0);
    std::uint32_t again = 0;
    REQUIRE(import(i, buf, again) == 0);
    CHECK(again == h);
    CHECK((*imp_dev)->domain.maps == 1);
    imp_bo_info inf{h, 0, 0, 0, 0};
    REQUIRE(mock.ioctl(i, IMP_IOCTL_BO_INFO, &inf) == 0);
    CHECK(inf.ranges == 1);
    CHECK(inf.size == bo1.size);
    CHECK(inf.device_address == window_base); // the importer's own address, not the host's
    // The driver's CPU view: the same pages both ways.
    CHECK(imp_peek(i, h, 8) == 0x1234);
    imp_poke_(i, h, 16, 0x7777);
    CHECK(peek(e, bo1.handle, 16) == 0x7777);
    // The device's DMA through its page table onto the import.
    imp_vm_bind vb{h, 0, 0x10'0000};
    REQUIRE(mock.ioctl(i, IMP_IOCTL_VM_BIND, &vb) == 0);
    imp_dma d{0x10'0000 + 4096, 1, 0, 0xd0d0};
    REQUIRE(mock.ioctl(i, IMP_IOCTL_DMA, &d) == 0);
    CHECK(peek(e, bo1.handle, 4096) == 0xd0d0);
    poke(e, bo1.handle, 2 * 4096, 0xe0e0);
    d = {0x10'0000 + 2 * 4096, 0, 0, 0};
    REQUIRE(mock.ioctl(i, IMP_IOCTL_DMA, &d) == 0);
    CHECK(d.value == 0xe0e0);
    // A client maps the import through the importer's node, and the dma-buf itself.
    auto m = mock.mmap(i, inf.mmap_offset, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED);
    REQUIRE(m);
    auto* words = static_cast<std::uint64_t*>(*m);
    CHECK(words[1] == 0x1234);
    words[3] = 0x3333;
    CHECK(peek(e, bo1.handle, 24) == 0x3333);
    auto mb = mock.mmap(buf, 4096, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED);
    REQUIRE(mb);
    CHECK(static_cast<std::uint64_t*>(*mb)[0] == 0xd0d0);
    CHECK(mock.munmap(*mb, 2 * 4096) == 0);
    // Re-export of the import is the original buffer: importing it into the exporter's file
    // gives the exporter's handle.
    int re = export_fd(i, h);
    std::uint32_t orig = 0;
    REQUIRE(import(e, re, orig) == 0);
    CHECK(orig == bo1.handle);
    CHECK(mock.close(re) == 0);
    // Closing the import's handle undoes the import: domain windows, the attachment.
    accel_gem_close gc{h, 0};
    REQUIRE(mock.ioctl(i, ACCEL_IOCTL_GEM_CLOSE, &gc) == 0);
    CHECK((*imp_dev)->domain.unmaps == 0); // the client's mapping still holds the object
    CHECK(mock.munmap(*m, 3 * 4096) == 0);
    CHECK((*imp_dev)->domain.unmaps == 1);
    CHECK((*imp_dev)->domain.live_windows == 0);
    CHECK((*imp_dev)->objects_freed == 1);
    CHECK(mock.close(buf) == 0);
    CHECK(mock.close(i) == 0);
    CHECK(mock.close(e) == 0);
    CHECK((*exp_dev)->objects_freed == 1);
}

TEST_CASE_FIXTURE(fixture, "a driver's own exporter: per-page ranges, vmap counted, attach/detach and release once") {
    int c = open(cust_reg);
    int i1 = open(imp_reg);
    int i2 = open(imp_reg);
    auto bo1 = create(c, 4 * 4096);
    int buf = export_fd(c, bo1.handle);
    REQUIRE(counts.last_buf);
    CHECK(counts.last_buf->exp_name() == "custexp");
    std::uint32_t h1 = 0, h2 = 0;
    REQUIRE(import(i1, buf, h1) == 0);
    REQUIRE(import(i2, buf, h2) == 0); // another file: another import (the kernel's rule too)
    imp_bo_info inf{h1, 0, 0, 0, 0};
    REQUIRE(mock.ioctl(i1, IMP_IOCTL_BO_INFO, &inf) == 0);
    CHECK(inf.ranges == 4);
    CHECK(counts.attach == 2);
    CHECK(counts.map == 2);
    CHECK(counts.vmap == 1); // the exporter's vmap for the first user only
    CHECK(counts.last_buf->vmap_count() == 2);
    CHECK(counts.last_buf->attachments() == 2);
    // Pages reached through the per-page windows in order.
    imp_vm_bind vb{h1, 0, 0x20'0000};
    REQUIRE(mock.ioctl(i1, IMP_IOCTL_VM_BIND, &vb) == 0);
    imp_dma d{0x20'0000 + 3 * 4096 + 8, 1, 0, 0x4444};
    REQUIRE(mock.ioctl(i1, IMP_IOCTL_DMA, &d) == 0);
    CHECK(imp_peek(i2, h2, 3 * 4096 + 8) == 0x4444);
    REQUIRE(mock.close(i1) == 0);
    CHECK(counts.detach == 1);
    CHECK(counts.vunmap == 0);
    REQUIRE(mock.close(i2) == 0);
    CHECK(counts.detach == 2);
    CHECK(counts.unmap == 2);
    CHECK(counts.vunmap == 1); // at 0
    CHECK(counts.release == 0); // the exporter's file and the fd still hold it
    REQUIRE(mock.close(buf) == 0);
    CHECK(counts.release == 0); // obj->dma_buf until the last handle goes
    REQUIRE(mock.close(c) == 0);
    CHECK(counts.release == 1);
}

TEST_CASE_FIXTURE(fixture, "dma-buf file operations: SYNC, SET_NAME, unknown ioctls, llseek, fdinfo, mmap rules") {
    int c = open(cust_reg);
    auto bo1 = create(c, 2 * 4096);
    int buf = export_fd(c, bo1.handle);
    dma_buf* b = counts.last_buf;
    REQUIRE(b);
    SUBCASE("DMA_BUF_IOCTL_SYNC: flag validation, START begins, END ends") {
        dma_buf_sync s{DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ};
        CHECK(mock.ioctl(buf, DMA_BUF_IOCTL_SYNC, &s) == 0);
        CHECK(counts.begin == 1);
        CHECK(counts.last_dir == static_cast<unsigned>(dma_direction::from_device));
        s.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
        CHECK(mock.ioctl(buf, DMA_BUF_IOCTL_SYNC, &s) == 0);
        CHECK(counts.end == 1);
        CHECK(counts.last_dir == static_cast<unsigned>(dma_direction::bidirectional));
        s.flags = DMA_BUF_SYNC_WRITE;
        CHECK(mock.ioctl(buf, DMA_BUF_IOCTL_SYNC, &s) == 0);
        CHECK(counts.last_dir == static_cast<unsigned>(dma_direction::to_device));
        s.flags = DMA_BUF_SYNC_START; // neither READ nor WRITE
        CHECK(mock.ioctl(buf, DMA_BUF_IOCTL_SYNC, &s) == -EINVAL);
        s.flags = DMA_BUF_SYNC_END;
        CHECK(mock.ioctl(buf, DMA_BUF_IOCTL_SYNC, &s) == -EINVAL);
        s.flags = DMA_BUF_SYNC_RW | 8; // unknown bit
        CHECK(mock.ioctl(buf, DMA_BUF_IOCTL_SYNC, &s) == -EINVAL);
        s.flags = DMA_BUF_SYNC_RW | (1ull << 40);
        CHECK(mock.ioctl(buf, DMA_BUF_IOCTL_SYNC, &s) == -EINVAL);
        CHECK(counts.begin == 2);
        CHECK(counts.end == 1);
        CHECK(mock.ioctl(buf, DMA_BUF_IOCTL_SYNC, nullptr) == -EFAULT);
    }
    SUBCASE("DMA_BUF_SET_NAME: both numbers, 31 characters at most, -EFAULT") {
        CHECK(mock.ioctl(buf, DMA_BUF_SET_NAME_A, const_cast<char*>("first")) == 0);
        CHECK(b->name() == "first");
        CHECK(mock.ioctl(buf, DMA_BUF_SET_NAME_B, const_cast<char*>("second")) == 0);
        CHECK(b->name() == "second");
        std::string n31(31, 'x'), n32(32, 'y');
        CHECK(mock.ioctl(buf, DMA_BUF_SET_NAME_B, n31.data()) == 0);
        CHECK(b->name() == n31);
        CHECK(mock.ioctl(buf, DMA_BUF_SET_NAME_B, n32.data()) == -EINVAL);
        CHECK(b->name() == n31); // unchanged
        CHECK(mock.ioctl(buf, DMA_BUF_SET_NAME_B, nullptr) == -EFAULT);
        CHECK(mock.ioctl(buf, DMA_BUF_SET_NAME_B, const_cast<char*>("")) == 0);
        CHECK(b->name().empty());
    }
    SUBCASE("unknown ioctls: -ENOTTY; the device's ioctls do not reach a dma-buf") {
        test_echo e{};
        CHECK(mock.ioctl(buf, TEST_IOCTL_ECHO, &e) == -ENOTTY);
        CHECK(mock.ioctl(buf, _IOW('b', 9, __u64), &e) == -ENOTTY);
        accel_prime_handle ph{bo1.handle, 0, -1};
        CHECK(mock.ioctl(buf, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, &ph) == -ENOTTY);
    }
    SUBCASE("llseek: SEEK_END is the size, SEEK_SET 0 is 0, anything else -EINVAL") {
        CHECK(b->llseek(0, SEEK_END) == 2 * 4096);
        CHECK(b->llseek(0, SEEK_SET) == 0);
        CHECK(b->llseek(1, SEEK_SET) == -EINVAL);
        CHECK(b->llseek(-1, SEEK_END) == -EINVAL);
        CHECK(b->llseek(0, SEEK_CUR) == -EINVAL);
    }
    SUBCASE("fdinfo: size, count, exp_name, name") {
        std::string out;
        b->show_fdinfo(out);
        CHECK(out.find("size:\t8192\n") != std::string::npos);
        CHECK(out.find("exp_name:\tcustexp\n") != std::string::npos);
        CHECK(out.find("count:\t") != std::string::npos);
        CHECK(out.find("name:\t") == out.find("exp_name:\t") + 4); // no name line yet
        REQUIRE(mock.ioctl(buf, DMA_BUF_SET_NAME_A, const_cast<char*>("frames")) == 0);
        out.clear();
        b->show_fdinfo(out);
        CHECK(out.find("\nname:\tframes\n") != std::string::npos);
    }
    SUBCASE("mmap of the dma-buf descriptor") {
        const int rw = PROT_READ | PROT_WRITE;
        CHECK(mock.mmap(buf, 0, 0, rw, MAP_SHARED).error() == -EINVAL);
        CHECK(mock.mmap(buf, 100, 4096, rw, MAP_SHARED).error() == -EINVAL);
        CHECK(mock.mmap(buf, 4096, 2 * 4096, rw, MAP_SHARED).error() == -EINVAL); // pgoff + pages > size
        CHECK(mock.mmap(buf, 3 * 4096, 4096, rw, MAP_SHARED).error() == -EINVAL);
        CHECK(mock.mmap(buf, 0, 4096, rw, MAP_PRIVATE).error() == -EINVAL); // copy-on-write
        auto m = mock.mmap(buf, 4096, 4096, rw, MAP_SHARED);
        REQUIRE(m);
        static_cast<std::uint64_t*>(*m)[0] = 0x9999; // the exporter's object's second page
        int c2 = open(cust_reg);
        std::uint32_t h = 0;
        REQUIRE(import(c2, buf, h) == 0); // self-import through the driver's exporter (object())
        CHECK(mock.close(c2) == 0);
        CHECK(mock.munmap(*m, 4096) == 0);
        // Read-only export: no writable shared mapping (mmap(2)'s FMODE_WRITE rule).
        auto bo2 = create(c, 4096);
        int ro = export_fd(c, bo2.handle, ACCEL_CLOEXEC);
        CHECK(mock.mmap(ro, 0, 4096, rw, MAP_SHARED).error() == -EACCES);
        auto r = mock.mmap(ro, 0, 4096, PROT_READ, MAP_SHARED);
        REQUIRE(r);
        CHECK(mock.munmap(*r, 4096) == 0);
        CHECK(mock.close(ro) == 0);
    }
    CHECK(mock.close(buf) == 0);
    CHECK(mock.close(c) == 0);
}

TEST_CASE_FIXTURE(fixture, "vmap is counted: the exporter's vmap for the first user, vunmap at 0") {
    int c = open(cust_reg);
    auto bo1 = create(c);
    int buf = export_fd(c, bo1.handle);
    dma_buf* b = counts.last_buf;
    auto p1 = b->vmap();
    auto p2 = b->vmap();
    REQUIRE(p1);
    REQUIRE(p2);
    CHECK(*p1 == *p2);
    CHECK(counts.vmap == 1);
    b->vunmap();
    CHECK(counts.vunmap == 0);
    b->vunmap();
    CHECK(counts.vunmap == 1);
    b->vunmap(); // unmatched: ignored
    CHECK(counts.vunmap == 1);
    CHECK(b->vmap_count() == 0);
    CHECK(mock.close(buf) == 0);
    CHECK(mock.close(c) == 0);
}

TEST_CASE_FIXTURE(fixture, "dma-buf lifetimes in every close order leave the importer valid memory") {
    int e = open(exp_reg);
    int i = open(imp_reg);
    auto bo1 = create(e);
    poke(e, bo1.handle, 0, 0xa1);
    int buf = export_fd(e, bo1.handle);
    std::uint32_t h = 0;
    REQUIRE(import(i, buf, h) == 0);
    SUBCASE("exporter's file first, then the dma-buf fd, then the importer") {
        REQUIRE(mock.close(e) == 0);
        CHECK((*exp_dev)->objects_freed == 0);
        REQUIRE(mock.close(buf) == 0);
        CHECK(imp_peek(i, h, 0) == 0xa1);
        imp_poke_(i, h, 8, 0xb2);
        CHECK(imp_peek(i, h, 8) == 0xb2);
        REQUIRE(mock.close(i) == 0);
    }
    SUBCASE("importer first, then the exporter, then the fd") {
        REQUIRE(mock.close(i) == 0);
        CHECK((*imp_dev)->objects_freed == 1);
        CHECK(peek(e, bo1.handle, 0) == 0xa1);
        REQUIRE(mock.close(e) == 0);
        CHECK((*exp_dev)->objects_freed == 0); // the fd holds it
        REQUIRE(mock.close(buf) == 0);
    }
    SUBCASE("the dma-buf fd first") {
        REQUIRE(mock.close(buf) == 0);
        CHECK(imp_peek(i, h, 0) == 0xa1);
        REQUIRE(mock.close(e) == 0);
        CHECK(imp_peek(i, h, 0) == 0xa1);
        REQUIRE(mock.close(i) == 0);
    }
    SUBCASE("the exporter's device unplugged while imported") {
        auto m = mock.mmap(buf, 0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED);
        REQUIRE(m);
        exp_reg.reset(); // unplug: the exporter's files answer -ENODEV
        test_bo_poke p{bo1.handle, 0, 0, 0};
        CHECK(mock.ioctl(e, TEST_IOCTL_BO_POKE, &p) == -ENODEV);
        // The importer keeps valid memory: its CPU view, its client's mapping, the fd's mapping.
        CHECK(imp_peek(i, h, 0) == 0xa1);
        imp_poke_(i, h, 8, 0xc3);
        CHECK(static_cast<std::uint64_t*>(*m)[1] == 0xc3);
        // New exporter-side operations: -ENODEV (attach for a new import, mmap of the fd).
        int i2 = open(imp_reg);
        std::uint32_t h2 = 0;
        CHECK(import(i2, buf, h2) == -ENODEV);
        CHECK((*imp_dev)->domain.live_windows == 1); // the failed import left nothing
        CHECK(mock.mmap(buf, 0, 4096, PROT_READ, MAP_SHARED).error() == -ENODEV);
        // Already-imported handles work on: the cache answers in the importing file.
        std::uint32_t same = 0;
        CHECK(import(i, buf, same) == 0);
        CHECK(same == h);
        CHECK(mock.close(i2) == 0);
        REQUIRE(mock.close(e) == 0);
        REQUIRE(mock.close(buf) == 0);
        CHECK(imp_peek(i, h, 8) == 0xc3);
        CHECK(mock.munmap(*m, 4096) == 0);
        REQUIRE(mock.close(i) == 0);
    }
    CHECK((*imp_dev)->domain.live_windows == 0);
    CHECK((*imp_dev)->objects_freed == 1);
    CHECK((*exp_dev)->objects_freed == 1);
    CHECK(mock.open_descriptors() == 0);
}

TEST_CASE_FIXTURE(fixture, "a faulting export leaves no descriptor and a failed import leaves nothing") {
    int e = open(exp_reg);
    int i = open(imp_reg);
    auto bo1 = create(e);
    // A faulting argument fails the call: no descriptor (descriptors_test covers a fault on
    // copy-out after fd_install).
    const int before = mock.open_descriptors();
    CHECK(mock.ioctl(e, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, nullptr) == -EFAULT);
    CHECK(mock.open_descriptors() == before);
    // Allocation failures on import: every one undone.
    int buf = export_fd(e, bo1.handle);
    for (unsigned n = 1; n < 12; ++n) {
        CAPTURE(n);
        std::uint32_t h = 0;
        fail_nth_allocation(n);
        const int r = import(i, buf, h);
        fail_nth_allocation(0);
        if (r == 0) {
            accel_gem_close gc{h, 0};
            REQUIRE(mock.ioctl(i, ACCEL_IOCTL_GEM_CLOSE, &gc) == 0);
            break;
        }
        CHECK(r == -ENOMEM);
        CHECK((*imp_dev)->domain.live_windows == 0);
    }
    CHECK((*imp_dev)->domain.live_windows == 0);
    CHECK(mock.close(buf) == 0);
    CHECK(mock.close(i) == 0);
    CHECK(mock.close(e) == 0);
    CHECK((*exp_dev)->objects_freed == 1);
}

TEST_CASE_FIXTURE(fixture, "implicit sync: poll, EXPORT_SYNC_FILE and IMPORT_SYNC_FILE on the shared reservation object") {
    int c = open(cust_reg);
    int i = open(imp_reg);
    auto bo1 = create(c);
    int buf = export_fd(c, bo1.handle);
    dma_buf* b = counts.last_buf;
    REQUIRE(b);
    REQUIRE(b->object());
    CHECK(gem_object_resv(*b->object()) == &b->resv()); // exp_info.resv = obj->resv
    std::uint32_t h = 0;
    REQUIRE(import(i, buf, h) == 0);
    pollfd p{buf, POLLIN | POLLOUT, 0};
    CHECK(mock.poll(&p, 1, 0) == 1);
    CHECK(p.revents == (POLLIN | POLLOUT)); // nothing pending

    // EXPORT_SYNC_FILE: flags must be a non-empty subset of READ | WRITE.
    dma_buf_export_sync_file ex{0, -1};
    CHECK(mock.ioctl(buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &ex) == -EINVAL);
    ex.flags = DMA_BUF_SYNC_RW | DMA_BUF_SYNC_END;
    CHECK(mock.ioctl(buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &ex) == -EINVAL);
    const int fds_before = mock.open_descriptors();
    CHECK(mock.ioctl(buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, nullptr) == -EFAULT);
    CHECK(mock.open_descriptors() == fds_before);
    ex.flags = DMA_BUF_SYNC_WRITE;
    REQUIRE(mock.ioctl(buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &ex) == 0);
    pollfd sp{ex.fd, POLLIN, 0};
    CHECK(mock.poll(&sp, 1, 0) == 1); // a signalled stub: nothing was pending
    CHECK(mock.close(ex.fd) == 0);

    // A pending write: neither direction is ready, and a READ export waits for it.
    fence_ptr w = make_fence(fence_context_alloc(1), 1);
    REQUIRE(w);
    dma_resv& r = b->resv();
    REQUIRE(r.lock(nullptr) == 0);
    REQUIRE(r.reserve_fences(1) == 0);
    REQUIRE(r.add_fence(w, resv_usage::write) == 0);
    r.unlock();
    CHECK(mock.poll(&p, 1, 0) == 0);
    ex = {DMA_BUF_SYNC_READ, -1};
    REQUIRE(mock.ioctl(buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &ex) == 0);
    sp = {ex.fd, POLLIN, 0};
    CHECK(mock.poll(&sp, 1, 0) == 0);

    // IMPORT_SYNC_FILE into another buffer as a READ fence: its writers' side stays ready.
    auto bo2 = create(c);
    int buf2 = export_fd(c, bo2.handle);
    dma_buf_import_sync_file im{DMA_BUF_SYNC_READ, ex.fd};
    dma_buf_import_sync_file bad{0, ex.fd};
    CHECK(mock.ioctl(buf2, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &bad) == -EINVAL);
    bad = {DMA_BUF_SYNC_READ | 8, ex.fd};
    CHECK(mock.ioctl(buf2, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &bad) == -EINVAL);
    bad = {DMA_BUF_SYNC_READ, buf}; // a dma-buf, not a sync file
    CHECK(mock.ioctl(buf2, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &bad) == -EINVAL);
    bad = {DMA_BUF_SYNC_READ, 4000}; // not open: sync_file_get_fence finds nothing, -EINVAL
    CHECK(mock.ioctl(buf2, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &bad) == -EINVAL);
    REQUIRE(mock.ioctl(buf2, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &im) == 0);
    pollfd p2{buf2, POLLIN | POLLOUT, 0};
    CHECK(mock.poll(&p2, 1, 0) == 1);
    CHECK(p2.revents == POLLIN);

    // The signal wakes a blocked poll through the fence callback.
    std::thread signaller([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        w->signal();
    });
    p = {buf, POLLIN, 0};
    CHECK(mock.poll(&p, 1, 5000) == 1);
    CHECK(p.revents == POLLIN);
    signaller.join();
    p = {buf, POLLIN | POLLOUT, 0};
    CHECK(mock.poll(&p, 1, 0) == 1);
    CHECK(p.revents == (POLLIN | POLLOUT));
    p2 = {buf2, POLLIN | POLLOUT, 0};
    CHECK(mock.poll(&p2, 1, 0) == 1);
    CHECK(p2.revents == (POLLIN | POLLOUT));
    CHECK(mock.close(ex.fd) == 0);
    CHECK(mock.close(buf2) == 0);
    CHECK(mock.close(buf) == 0);
    CHECK(mock.close(i) == 0);
    CHECK(mock.close(c) == 0);
}

TEST_CASE_FIXTURE(fixture, "a dma-buf released with a poll callback armed removes it") {
    int c = open(cust_reg);
    auto bo1 = create(c);
    int buf = export_fd(c, bo1.handle);
    dma_buf* b = counts.last_buf;
    fence_ptr w = make_fence(fence_context_alloc(1), 1);
    REQUIRE(b->resv().lock(nullptr) == 0);
    REQUIRE(b->resv().reserve_fences(1) == 0);
    REQUIRE(b->resv().add_fence(w, resv_usage::write) == 0);
    b->resv().unlock();
    pollfd p{buf, POLLIN | POLLOUT, 0};
    CHECK(mock.poll(&p, 1, 0) == 0); // arms both directions
    CHECK(mock.close(buf) == 0);
    CHECK(mock.close(c) == 0); // the buffer goes here
    CHECK(counts.release == 1);
    w->signal(); // no callback left to run on freed memory
}

TEST_CASE_FIXTURE(fixture, "a dma-buf released while its poll callback runs on another thread is freed only after it") {
    // The race: the signaller's callback has marked the slot fired but not yet woken the
    // queue; a poll sees the slot fired and forgets the fence; the last close releases the
    // buffer. The release must wait for the callback still running (ASan sees it otherwise).
    for (int i = 0; i < 200; ++i) {
        int c = open(cust_reg);
        auto bo1 = create(c);
        int buf = export_fd(c, bo1.handle);
        dma_buf* b = counts.last_buf;
        fence_ptr w = make_fence(fence_context_alloc(1), 1);
        REQUIRE(b->resv().lock(nullptr) == 0);
        REQUIRE(b->resv().reserve_fences(1) == 0);
        REQUIRE(b->resv().add_fence(w, resv_usage::write) == 0);
        b->resv().unlock();
        pollfd p{buf, POLLIN | POLLOUT, 0};
        REQUIRE(mock.poll(&p, 1, 0) == 0); // arms both directions
        std::thread signaller([&] { w->signal(); });
        while (mock.poll(&p, 1, 0) == 0) { // until this thread sees the buffer ready
        }
        CHECK(mock.close(buf) == 0);
        CHECK(mock.close(c) == 0); // the buffer goes here, perhaps while the callback runs
        signaller.join();
    }
}

TEST_CASE_FIXTURE(fixture, "concurrent exports and imports of one object stay consistent") {
    int e = open(exp_reg);
    auto bo1 = create(e);
    int buf = export_fd(e, bo1.handle);
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            backend::mock::identity as{{0, 1, true}};
            const int fd = mock.open(std::string(mock.root()) + "/" +
                                         node_name(node_kind::compute, (t % 2 ? imp_reg : exp_reg).minor()),
                                     O_RDWR);
            if (fd < 0) {
                failures++;
                return;
            }
            for (int i = 0; i < 200; ++i) {
                accel_prime_handle a{0, 0, buf};
                if (mock.ioctl(fd, ACCEL_IOCTL_PRIME_FD_TO_HANDLE, &a) != 0) {
                    failures++;
                    continue;
                }
                accel_prime_handle again{0, 0, buf};
                if (mock.ioctl(fd, ACCEL_IOCTL_PRIME_FD_TO_HANDLE, &again) != 0 || again.handle != a.handle)
                    failures++;
                accel_prime_handle ex{a.handle, ACCEL_CLOEXEC, -1};
                if (mock.ioctl(fd, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, &ex) != 0)
                    failures++;
                else
                    (void)mock.close(ex.fd);
                accel_gem_close gc{a.handle, 0};
                if (mock.ioctl(fd, ACCEL_IOCTL_GEM_CLOSE, &gc) != 0)
                    failures++;
            }
            (void)mock.close(fd);
        });
    for (auto& th : threads)
        th.join();
    CHECK(failures == 0);
    CHECK((*imp_dev)->domain.live_windows == 0);
    CHECK(mock.close(buf) == 0);
    CHECK(mock.close(e) == 0);
    CHECK((*exp_dev)->objects_freed == 1);
    CHECK((*imp_dev)->objects_freed == 400);
}
