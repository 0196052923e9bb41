// SPDX-License-Identifier: MIT
// The driver accel_fuzz_ioctl_core fuzzes: the core ioctls need a driver under them, and this one
// turns on everything the core offers - buffer objects (GEM_CLOSE, PRIME, mmap offsets), DRM
// syncobjs with timelines, INFO's items, fdinfo keys, a reset handler (RESET, CLEAR_STATS) -
// with a few driver rows to create objects and to put fences into syncobjs. It takes the
// test drivers' rows (tests/core/test_drivers.hpp, syncobj_driver.hpp) without what a fuzzer
// must not reach: waits without a deadline, sleeps, job threads, process-wide fences.
#pragma once
#include "tests/core/syncobj_driver.hpp"
#include "tests/core/test_uapi.h"

#include <accel/accel.hpp>
#include <accel/share/sync_file.hpp>
#include <accel/share/syncobj.hpp>

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace accel::test {

struct core_driver {
    static constexpr driver_info info{1, 0, 0, "fuzzcore", "accel core ioctl fuzz driver", "20261205"};
    static constexpr unsigned features = driver_feature::syncobj | driver_feature::syncobj_timeline;

    struct device_data {
        /// The device's "hardware" fences by index (SO_TEST_*), per device so runs stay apart.
        std::mutex m;
        std::array<fence_ptr, 8> fences;
        std::uint64_t ctx = fence_context_alloc(8);
        fence_ptr fence(unsigned i) {
            std::lock_guard lock(m);
            if (i >= fences.size())
                return nullptr;
            if (!fences[i])
                fences[i] = make_fence(ctx + i, 1, "fuzzcore", "ring0");
            return fences[i];
        }
        struct resetter final : reset_handler {
            device_status* status = nullptr;
            int request_reset() noexcept override {
                status->set_state(ACCEL_STATE_IN_RESET);
                status->reset_completed();
                return 0;
            }
        } reset;
        ~device_data() {
            for (auto& f : fences)
                if (f && !f->is_signaled())
                    f->signal(); // nobody waits past the device's end
        }
    };
    struct file_data {
        std::uint64_t calls = 0;
    };
    struct object_data {};
    using dev = device<core_driver>;
    using fil = file<core_driver>;

    static int probe(dev& d) {
        d->reset.status = &d.status();
        d.status().set_reset_handler(&d->reset);
        return 0;
    }
    static void remove(dev& d) { d.status().set_reset_handler(nullptr); }

    static int bo_create(dev& d, fil& f, test_bo_create& a) {
        if (a.flags)
            return -EINVAL;
        auto obj = bo<core_driver>::create(d, a.size, object_data{});
        if (!obj)
            return obj.error();
        auto h = create_handle(f, **obj);
        if (!h)
            return h.error();
        a.handle = *h;
        a.size = (*obj)->size();
        a.mmap_offset = (*obj)->mmap_offset();
        f->calls++;
        return 0;
    }
    static int bo_info(dev&, fil& f, test_bo_info& a) {
        auto obj = lookup(f, a.handle);
        if (!obj)
            return -ENOENT;
        a.size = obj->size();
        a.mmap_offset = obj->mmap_offset();
        a.handle_count = obj->handle_count();
        return 0;
    }
    static int bo_poke(dev&, fil& f, test_bo_poke& a) {
        auto obj = lookup(f, a.handle);
        if (!obj)
            return -ENOENT;
        if (a.op > 1 || a.offset % 8 || a.offset >= obj->size())
            return -EINVAL;
        std::byte* cpu = obj->vaddr();
        if (!cpu)
            return -ENOMEM;
        auto* word = reinterpret_cast<std::uint64_t*>(cpu + a.offset);
        if (a.op == 1)
            *word = a.value;
        else
            a.value = *word;
        return 0;
    }
    static int mem_stats(dev&, fil& f, test_mem_stats& a) {
        const file_memory_stats m = memory_stats(f);
        a = {m.handles, m.total, m.shared, m.resident};
        return 0;
    }
    static int so_set(dev& d, fil& f, so_set_arg& a) {
        fence_ptr fence = d->fence(a.fence);
        if (!fence)
            return -EINVAL;
        return a.point ? syncobj_add_point(f, a.handle, fence, a.point) : syncobj_replace_fence(f, a.handle, fence);
    }
    static int so_find(dev&, fil& f, so_find_arg& a) {
        auto r = syncobj_find_fence(f, a.handle, a.point, a.flags);
        a.result = r ? 0 : r.error();
        if (r)
            a.seqno = (*r)->seqno();
        return 0;
    }
    static int so_signal(dev& d, fil&, so_fence_arg& a) {
        fence_ptr fence = d->fence(a.fence);
        return fence ? fence->signal() : -EINVAL;
    }
    static int so_error(dev& d, fil&, so_fence_arg& a) {
        fence_ptr fence = d->fence(a.fence);
        return fence ? fence->set_error(a.fd) : -EINVAL;
    }
    static int so_export(dev& d, fil&, so_fence_arg& a) {
        auto file = sync_file_create(d->fence(a.fence));
        if (!file)
            return file.error();
        auto fd = fd_install(std::move(*file), O_CLOEXEC);
        if (!fd)
            return fd.error();
        a.fd = *fd;
        return 0;
    }

    using ioctls = ioctl_table<ACCEL_IOCTL(SO_TEST_SET, &so_set, ioctl_flags::render_allow),
                               ACCEL_IOCTL(SO_TEST_FIND, &so_find, ioctl_flags::render_allow),
                               ACCEL_IOCTL(SO_TEST_SIGNAL, &so_signal, ioctl_flags::render_allow),
                               ACCEL_IOCTL_FD(SO_TEST_EXPORT, &so_export, ioctl_flags::render_allow, offsetof(so_fence_arg, fd)),
                               ACCEL_IOCTL(SO_TEST_ERROR, &so_error, ioctl_flags::render_allow),
                               ACCEL_IOCTL(TEST_IOCTL_BO_CREATE, &bo_create, ioctl_flags::render_allow),
                               ACCEL_IOCTL(TEST_IOCTL_BO_INFO, &bo_info, ioctl_flags::render_allow),
                               ACCEL_IOCTL(TEST_IOCTL_BO_POKE, &bo_poke, ioctl_flags::render_allow),
                               ACCEL_IOCTL(TEST_IOCTL_MEM_STATS, &mem_stats, ioctl_flags::render_allow | ioctl_flags::monitor)>;

    // INFO's items (core/info_items.hpp).
    static std::vector<accel_info_memory_region> memory_regions(dev&) {
        std::vector<accel_info_memory_region> r(2);
        r[0] = {0, ACCEL_MEMORY_SYSTEM, 1ull << 30, "system"};
        r[1] = {1, ACCEL_MEMORY_SRAM, 4ull << 20, "sram"};
        return r;
    }
    static std::vector<accel_info_engine> engines(dev&) { return {{0, 4, "compute"}, {1, 1, "dma"}}; }
    static accel_info_capabilities capabilities(dev&) { return {ACCEL_INFO_CAP_MMU, (1ull << 12) | (1ull << 21), 48, 0}; }
    static std::vector<accel_info_memory_use> memory_usage(dev&) { return {{0, 0, 4096}, {1, 0, 0}}; }
    static std::vector<accel_info_engine_time> engine_busy(dev&) { return {{0, 0, 1000}, {1, 0, 0}}; }
    static std::vector<accel_info_sensor> sensors(dev&) {
        std::vector<accel_info_sensor> s(1);
        s[0] = {ACCEL_SENSOR_TEMP, 1, 42'000, "edge"};
        return s;
    }
    static void show_fdinfo(fil& f, std::string& out) { out += "fuzzcore-calls:\t" + std::to_string(f->calls) + "\n"; }
};

} // namespace accel::test
