// SPDX-License-Identifier: MIT
// A small driver with DRIVER_SYNCOBJ | DRIVER_SYNCOBJ_TIMELINE for the syncobj and sync-file
// tests. Its ioctls stand in for a submit: they put test-owned fences into syncobjs
// (syncobj_replace_fence / syncobj_add_point), look fences up (syncobj_find_fence), signal
// them (with an error first, if asked), and hand a fence out as a sync file (sync_file_create +
// fd_install: a descriptor-returning driver ioctl, at byte 4, which a FUSE client registers with
// backend::syscall::register_fd_ioctl).
#pragma once
#include <accel/accel.hpp>
#include <accel/share/sync_file.hpp>
#include <accel/share/syncobj.hpp>

#include <array>
#include <cstdint>
#include <mutex>

namespace accel::test {

/// The fences the test's "hardware" owns, by index.
struct syncobj_test_fences {
    static constexpr unsigned count = 16;
    std::mutex m;
    std::array<fence_ptr, count> f;
    std::uint64_t ctx = fence_context_alloc(count); // fence i on context ctx + i: merges keep them all
    fence_ptr get(unsigned i) {
        std::lock_guard lock(m);
        if (i >= count)
            return nullptr;
        if (!f[i])
            f[i] = make_fence(ctx + i, 1, "sotest", "ring0");
        return f[i];
    }
    void reset() {
        std::lock_guard lock(m);
        for (auto& x : f) {
            if (x && !x->is_signaled())
                x->signal();
            x.reset();
        }
    }
};
inline syncobj_test_fences test_fences;

struct so_set_arg {
    __u32 handle;
    __u32 fence; // index into test_fences
    __u64 point; // 0: replace, else add_point
};
struct so_find_arg {
    __u32 handle;
    __u32 flags;
    __u64 point;
    __s32 result; // out: 0 or -errno
    __u32 is_stub; // out: the fence found is not one of the test's
    __u64 seqno;   // out
};
struct so_fence_arg {
    __u32 fence;
    __s32 fd; // out (EXPORT); in (ERROR): the negative errno to record
};
#define SO_TEST_SET ACCEL_IOWR(0x40, struct so_set_arg)
#define SO_TEST_FIND ACCEL_IOWR(0x41, struct so_find_arg)
#define SO_TEST_SIGNAL ACCEL_IOWR(0x42, struct so_fence_arg)
#define SO_TEST_EXPORT ACCEL_IOWR(0x43, struct so_fence_arg)
#define SO_TEST_ERROR ACCEL_IOWR(0x44, struct so_fence_arg) /* dma_fence_set_error before the signal */

struct syncobj_driver {
    static constexpr driver_info info{1, 0, 0, "sotest", "syncobj test driver", "20261205"};
    static constexpr unsigned features = driver_feature::syncobj | driver_feature::syncobj_timeline;
    struct device_data {};
    struct file_data {};
    static int set(device<syncobj_driver>&, file<syncobj_driver>& f, so_set_arg& a) {
        fence_ptr fence = test_fences.get(a.fence);
        if (!fence)
            return -EINVAL;
        return a.point ? syncobj_add_point(f, a.handle, fence, a.point) : syncobj_replace_fence(f, a.handle, fence);
    }
    static int find(device<syncobj_driver>&, file<syncobj_driver>& f, so_find_arg& a) {
        auto r = syncobj_find_fence(f, a.handle, a.point, a.flags);
        a.result = r ? 0 : r.error();
        if (r) {
            a.is_stub = (*r)->driver_name() == "stub";
            a.seqno = (*r)->seqno();
        }
        return 0;
    }
    static int signal(device<syncobj_driver>&, file<syncobj_driver>&, so_fence_arg& a) {
        fence_ptr fence = test_fences.get(a.fence);
        return fence ? fence->signal() : -EINVAL;
    }
    static int set_error(device<syncobj_driver>&, file<syncobj_driver>&, so_fence_arg& a) {
        fence_ptr fence = test_fences.get(a.fence);
        return fence ? fence->set_error(a.fd) : -EINVAL;
    }
    static int export_fence(device<syncobj_driver>&, file<syncobj_driver>&, so_fence_arg& a) {
        auto file = sync_file_create(test_fences.get(a.fence));
        if (!file)
            return file.error();
        auto fd = fd_install(std::move(*file), O_CLOEXEC);
        if (!fd)
            return fd.error();
        a.fd = *fd;
        return 0;
    }
    using ioctls = ioctl_table<ACCEL_IOCTL(SO_TEST_SET, &set, ioctl_flags::render_allow),
                               ACCEL_IOCTL(SO_TEST_FIND, &find, ioctl_flags::render_allow),
                               ACCEL_IOCTL(SO_TEST_SIGNAL, &signal, ioctl_flags::render_allow),
                               ACCEL_IOCTL(SO_TEST_EXPORT, &export_fence, ioctl_flags::render_allow),
                               ACCEL_IOCTL(SO_TEST_ERROR, &set_error, ioctl_flags::render_allow)>;
};

} // namespace accel::test
