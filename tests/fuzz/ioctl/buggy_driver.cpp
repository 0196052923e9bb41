// SPDX-License-Identifier: MIT
// The harness must be able to fail: two deliberately broken drivers, each behind its own
// libFuzzer executable, run by CTest on a fixed program that must end in the harness's
// violation message (tests/fuzz/ioctl.cmake: fuzz.ioctl_selftest.*).
//   ACCEL_FUZZ_BUGGY_LEAK:     BUGGY_CREATE keeps a second reference to each object in the device,
//                              so objects outlive every handle and file (a leak the kernel would
//                              also have): "buffer objects (mmap offsets) leaked";
//   ACCEL_FUZZ_BUGGY_POSITIVE: BUGGY_CREATE returns the new handle as the ioctl's result
//                              instead of 0: "neither 0 nor a kernel errno".
// Run with ACCEL_FUZZ_WRITE_SEEDS=<dir> it writes the fixed program (seeds.hpp).
#include "seeds.hpp"

#include <accel/accel.hpp>
#include <accel/fuzz/ioctl_harness.hpp>

#include <mutex>
#include <vector>

struct buggy_create {
    __u64 size;
    __u32 handle;
    __u32 pad;
};
#define BUGGY_CREATE ACCEL_IOWR(0x40, struct buggy_create)

struct buggy_driver {
    static constexpr accel::driver_info info{1, 0, 0, "buggy", "a driver with a planted bug", "20261205"};
    struct device_data {
        std::mutex m;
        std::vector<accel::gem_ref> kept;
    };
    struct file_data {};
    struct object_data {};
    static int create(accel::device<buggy_driver>& d, accel::file<buggy_driver>& f, buggy_create& a) {
        auto obj = accel::bo<buggy_driver>::create(d, a.size, object_data{});
        if (!obj)
            return obj.error();
        auto h = accel::create_handle(f, **obj);
        if (!h)
            return h.error();
        a.handle = *h;
#if defined(ACCEL_FUZZ_BUGGY_LEAK)
        std::lock_guard lock(d->m);
        d->kept.push_back(*obj); // the planted leak
        return 0;
#else
        return static_cast<int>(*h); // the planted positive result
#endif
    }
    using ioctls = accel::ioctl_table<ACCEL_IOCTL(BUGGY_CREATE, &create, accel::ioctl_flags::render_allow)>;
};

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    accel::fuzz_test::write_seeds_if_asked([](const std::string& dir) {
        accel::fuzz::program_writer<buggy_driver> w;
        w.open().ioctl(0, BUGGY_CREATE, buggy_create{4096, 0, 0});
        w.save(dir, "create_one");
    });
    return 0;
}

ACCEL_FUZZ_IOCTL_TARGET(buggy_driver)
