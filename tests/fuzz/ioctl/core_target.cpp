// SPDX-License-Identifier: MIT
// accel_fuzz_ioctl_core: the core ioctls (VERSION, GET_CAP, SET_CLIENT_NAME, GEM_CLOSE, PRIME,
// every syncobj row, INFO, MMAP_PREPARE, RESET, FDINFO, CLEAR_STATS, sync-file and dma-buf
// ioctls) over two devices of core_driver.hpp, through the reusable harness.
#include "core_driver.hpp"
#include "seeds.hpp"

#include <accel/fuzz/ioctl_harness.hpp>

namespace accel::test {
namespace {

using P = accel::fuzz::patch;

struct core_hooks : accel::fuzz::default_ioctl_hooks<core_driver> {
    static constexpr unsigned devices = 2; // PRIME and sync files cross devices
};

void write_seeds(const std::string& dir) {
    using W = accel::fuzz::program_writer<core_driver>;
    const char name[] = "fuzzer";
    {
        W w;
        accel_version v{};
        v.name_len = 16;
        v.date_len = 16;
        v.desc_len = 64;
        w.open().ioctl(0, ACCEL_IOCTL_VERSION, v, {{P::arena_ptr, 16, 0}, {P::arena_ptr, 32, 64}, {P::arena_ptr, 48, 128}});
        accel_get_cap c{ACCEL_CAP_SYNCOBJ_TIMELINE, 0};
        w.ioctl(0, ACCEL_IOCTL_GET_CAP, c);
        w.arena(256, name, 6);
        accel_set_client_name n{6, 0};
        w.ioctl(0, ACCEL_IOCTL_SET_CLIENT_NAME, n, {{P::arena_ptr, 8, 256}});
        w.save(dir, "version_cap_name");
    }
    {
        W w;
        test_bo_create b{8192, 0, 0, 0};
        w.open().ioctl(0, TEST_IOCTL_BO_CREATE, b);
        w.mmap(0, 1, 2);
        test_bo_info i{};
        w.ioctl(0, TEST_IOCTL_BO_INFO, i, {{P::pool32, 0, 0}});
        test_bo_poke k{0, 1, 8, 0x1234};
        w.ioctl(0, TEST_IOCTL_BO_POKE, k, {{P::small, 0, 1}});
        test_mem_stats ms{};
        w.ioctl(0, TEST_IOCTL_MEM_STATS, ms);
        accel_mmap_prepare mp{0x100000000, 8192, PROT_READ | PROT_WRITE, MAP_SHARED}; // the first object's offset
        w.ioctl(0, ACCEL_IOCTL_MMAP_PREPARE, mp);
        w.munmap(0);
        accel_gem_close g{};
        w.ioctl(0, ACCEL_IOCTL_GEM_CLOSE, g, {{P::small, 0, 1}});
        w.save(dir, "bo_mmap_close");
    }
    {
        W w;
        test_bo_create b{4096, 0, 0, 0};
        w.open(0).open(1).ioctl(0, TEST_IOCTL_BO_CREATE, b);
        accel_prime_handle h{0, O_RDWR, -1};
        w.ioctl(0, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, h, {{P::small, 0, 1}});
        accel_prime_handle back{0, 0, 0};
        w.ioctl(1, ACCEL_IOCTL_PRIME_FD_TO_HANDLE, back, {{P::descriptor, 8, 2}});
        dma_buf_sync s{DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW};
        w.ioctl(2, DMA_BUF_IOCTL_SYNC, s);
        dma_buf_export_sync_file e{DMA_BUF_SYNC_RW, -1};
        w.ioctl(2, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, e);
        w.mmap(2, 0x80, 1).close(2).close(1);
        w.save(dir, "prime_dmabuf");
    }
    {
        W w;
        accel_syncobj_create c{0, 0};
        w.open().ioctl(0, ACCEL_IOCTL_SYNCOBJ_CREATE, c);
        accel::test::so_set_arg s{0, 1, 0};
        w.ioctl(0, SO_TEST_SET, s, {{P::pool32, 0, 0}});
        accel::test::so_fence_arg sig{1, 0};
        w.ioctl(0, SO_TEST_SIGNAL, sig);
        w.arena_pool(512, 0);
        accel_syncobj_wait wt{};
        wt.count_handles = 1;
        wt.flags = ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_ALL;
        wt.timeout_nsec = 0x7fffffffffffffff;
        w.ioctl(0, ACCEL_IOCTL_SYNCOBJ_WAIT, wt, {{P::arena_ptr, 0, 512}});
        accel_syncobj_array ar{0, 1, 0};
        w.ioctl(0, ACCEL_IOCTL_SYNCOBJ_RESET, ar, {{P::arena_ptr, 0, 512}});
        w.ioctl(0, ACCEL_IOCTL_SYNCOBJ_SIGNAL, ar, {{P::arena_ptr, 0, 512}});
        accel_syncobj_handle h{0, 0, -1, 0, 0};
        w.ioctl(0, ACCEL_IOCTL_SYNCOBJ_HANDLE_TO_FD, h, {{P::pool32, 0, 0}});
        accel_syncobj_handle imp{0, 0, 0, 0, 0};
        w.ioctl(0, ACCEL_IOCTL_SYNCOBJ_FD_TO_HANDLE, imp, {{P::descriptor, 8, 1}});
        accel_syncobj_destroy d{0, 0};
        w.ioctl(0, ACCEL_IOCTL_SYNCOBJ_DESTROY, d, {{P::pool32, 0, 0}});
        w.save(dir, "syncobj_binary");
    }
    {
        W w;
        accel_syncobj_create c{0, 0};
        w.open().ioctl(0, ACCEL_IOCTL_SYNCOBJ_CREATE, c).ioctl(0, ACCEL_IOCTL_SYNCOBJ_CREATE, c);
        w.arena_pool(512, 1).arena_pool(516, 0);
        const std::uint64_t points[2] = {3, 5};
        w.arena(768, points, sizeof points);
        accel_syncobj_timeline_array ta{0, 0, 2, 0};
        w.ioctl(0, ACCEL_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, ta, {{P::arena_ptr, 0, 512}, {P::arena_ptr, 8, 768}});
        w.ioctl(0, ACCEL_IOCTL_SYNCOBJ_QUERY, ta, {{P::arena_ptr, 0, 512}, {P::arena_ptr, 8, 768}});
        accel_syncobj_timeline_wait tw{};
        tw.count_handles = 2;
        tw.flags = ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_ALL;
        w.ioctl(0, ACCEL_IOCTL_SYNCOBJ_TIMELINE_WAIT, tw, {{P::arena_ptr, 0, 512}, {P::arena_ptr, 8, 768}});
        accel_syncobj_transfer tr{0, 0, 3, 9, 0, 0};
        w.ioctl(0, ACCEL_IOCTL_SYNCOBJ_TRANSFER, tr, {{P::pool32, 0, 1}, {P::pool32, 4, 0}});
        accel::test::so_set_arg s{0, 2, 11};
        w.ioctl(0, SO_TEST_SET, s, {{P::pool32, 0, 0}});
        accel::test::so_find_arg f{0, 0, 11, 0, 0, 0};
        w.ioctl(0, SO_TEST_FIND, f, {{P::pool32, 0, 0}});
        accel_syncobj_handle h{0, ACCEL_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE, -1, 0, 0};
        w.ioctl(0, ACCEL_IOCTL_SYNCOBJ_HANDLE_TO_FD, h, {{P::pool32, 0, 0}});
        accel_syncobj_eventfd ev{0, 0, 3, -1, 0};
        w.ioctl(0, ACCEL_IOCTL_SYNCOBJ_EVENTFD, ev, {{P::pool32, 0, 1}});
        w.save(dir, "syncobj_timeline");
    }
    {
        W w;
        accel::test::so_fence_arg e{0, -1};
        w.open().ioctl(0, SO_TEST_EXPORT, e).ioctl(0, SO_TEST_EXPORT, accel::test::so_fence_arg{1, -1});
        sync_file_info fi{};
        w.ioctl(1, SYNC_IOC_FILE_INFO, fi);
        sync_merge_data md{};
        md.fd2 = 2;
        w.ioctl(1, SYNC_IOC_MERGE, md, {{P::descriptor, 32, 2}});
        sync_set_deadline sd{};
        w.ioctl(2, SYNC_IOC_SET_DEADLINE, sd);
        accel::test::so_fence_arg er{0, -EIO};
        w.ioctl(0, SO_TEST_ERROR, er).ioctl(0, SO_TEST_SIGNAL, er);
        accel_syncobj_handle imp{0, ACCEL_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE, 0, 0, 0};
        accel_syncobj_create c{0, 0};
        w.ioctl(0, ACCEL_IOCTL_SYNCOBJ_CREATE, c);
        w.ioctl(0, ACCEL_IOCTL_SYNCOBJ_FD_TO_HANDLE, imp, {{P::pool32, 0, 0}, {P::descriptor, 8, 1}});
        w.save(dir, "sync_file");
    }
    {
        W w;
        accel_info_item items[3] = {{ACCEL_INFO_IDENTITY, 256, 0, 0, 0}, {ACCEL_INFO_MEMORY_REGIONS, 256, 0, 0, 0}, {ACCEL_INFO_STATUS, 64, 0, 0, 0}};
        w.arena(1024, items, sizeof items);
        w.open();
        // the items' data pointers, into the arena
        w.arena_ptr(1024 + 16, 2048).arena_ptr(1024 + 40, 2560).arena_ptr(1024 + 64, 3072);
        accel_info q{3, 0, 0};
        w.ioctl(0, ACCEL_IOCTL_INFO, q, {{P::arena_ptr, 8, 1024}});
        accel_fdinfo fd{};
        fd.length = 1024;
        w.ioctl(0, ACCEL_IOCTL_FDINFO, fd, {{P::arena_ptr, 8, 2048}});
        w.open(0, true);
        w.ioctl(1, ACCEL_IOCTL_INFO, q, {{P::arena_ptr, 8, 1024}});
        accel_clear_stats cs{};
        w.ioctl(1, ACCEL_IOCTL_CLEAR_STATS, cs);
        accel_reset_request rr{};
        w.ioctl(1, ACCEL_IOCTL_RESET, rr);
        w.ioctl(0, ACCEL_IOCTL_GET_CAP, accel_get_cap{ACCEL_CAP_PRIME, 0}, {}, true);
        w.save(dir, "info_fdinfo_reset");
    }
}

} // namespace
} // namespace accel::test

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    accel::fuzz_test::write_seeds_if_asked(accel::test::write_seeds);
    return 0;
}

ACCEL_FUZZ_IOCTL_TARGET_WITH(accel::test::core_driver, accel::test::core_hooks)
