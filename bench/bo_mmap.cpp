// SPDX-License-Identifier: MIT
// A buffer object's whole life through the mock, against the same work done with bare system
// calls, both measured in the same run:
//   bo_mock   : BO_CREATE ioctl (memfd + size + fake offset + handle), mmap through the mock,
//               touch one page, munmap, GEM_CLOSE (the last reference frees it);
//   memfd_raw : memfd_create + ftruncate + mmap + touch one page + munmap + close.
// Target (issue 5): bo_mock <= 1.5x memfd_raw. Sizes: 4 KiB and 2 MiB objects (only one page
// is touched either way). Five repetitions by default; after the table, each ratio as the
// median of the per-repetition ratios with its spread (stderr unless the format is console).
#include "ratio_reporter.hpp"

#include <accel/accel.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <fcntl.h>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

namespace {

struct bo_create_arg {
    __u64 size;
    __u32 handle;
    __u32 pad;
    __u64 mmap_offset;
};
#define BENCH_IOCTL_BO_CREATE ACCEL_IOWR(0x40, struct bo_create_arg)

struct bo_driver {
    static constexpr accel::driver_info info{1, 0, 0, "bench_bo", "buffer object benchmark"};
    struct device_data {};
    struct file_data {};
    struct object_data {};
    static int create(accel::device<bo_driver>& d, accel::file<bo_driver>& f, bo_create_arg& a) {
        auto bo = accel::bo<bo_driver>::create(d, a.size);
        if (!bo)
            return bo.error();
        auto h = accel::create_handle(f, **bo);
        if (!h)
            return h.error();
        a.handle = *h;
        a.mmap_offset = (*bo)->mmap_offset();
        return 0;
    }
    using ioctls = accel::ioctl_table<ACCEL_IOCTL(BENCH_IOCTL_BO_CREATE, &create, accel::ioctl_flags::none)>;
};

void bo_mock(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    accel::subsystem sub;
    auto dev = accel::device<bo_driver>::create();
    auto reg = dev ? sub.register_device(*dev) : accel::result<accel::registration>::failure(-ENOMEM);
    accel::backend::mock client{sub};
    int fd = client.open(std::string(client.root()) + "/accel/accel0", O_RDWR);
    if (!reg || fd < 0) {
        state.SkipWithError("cannot open the bench device");
        return;
    }
    for (auto _ : state) {
        bo_create_arg a{size, 0, 0, 0};
        if (client.ioctl(fd, BENCH_IOCTL_BO_CREATE, &a) != 0) {
            state.SkipWithError("BO_CREATE failed");
            break;
        }
        auto m = client.mmap(fd, a.mmap_offset, size, PROT_READ | PROT_WRITE, MAP_SHARED);
        if (!m) {
            state.SkipWithError("mmap failed");
            break;
        }
        *static_cast<volatile char*>(*m) = 1;
        client.munmap(*m, size);
        accel_gem_close gc{a.handle, 0};
        client.ioctl(fd, ACCEL_IOCTL_GEM_CLOSE, &gc);
    }
    client.close(fd);
}

void memfd_raw(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    for (auto _ : state) {
        int fd = ::memfd_create("bench", MFD_CLOEXEC);
        if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(size)) != 0) {
            state.SkipWithError("memfd failed");
            break;
        }
        void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            state.SkipWithError("mmap failed");
            break;
        }
        *static_cast<volatile char*>(p) = 1;
        ::munmap(p, size);
        ::close(fd);
    }
}

BENCHMARK(bo_mock)->Arg(4096)->Arg(2 << 20);
BENCHMARK(memfd_raw)->Arg(4096)->Arg(2 << 20);

} // namespace

int main(int argc, char** argv) {
    // Five repetitions unless the command line says otherwise (one sample is one noisy draw).
    accel::bench::sample_reporter reporter;
    if (!accel::bench::initialize(argc, argv, reporter, 5))
        return 1;
    accel::bench::run(reporter);
    std::FILE* out = reporter.summary_stream();
    for (const char* size : {"4096", "2097152"}) {
        const std::string bo = std::string("bo_mock/") + size, raw = std::string("memfd_raw/") + size;
        const accel::bench::spread b = reporter.stats(bo), m = reporter.stats(raw), r = reporter.ratio(bo, raw);
        if (b.median > 0 && m.median > 0)
            std::fprintf(out,
                         "%s-byte object: bo_mock %.0f ns, memfd_raw %.0f ns (medians), ratio %.2fx (per-repetition "
                         "ratios: q1 %.2f, q3 %.2f, min %.2f, max %.2f; target <= 1.5x) %s\n",
                         size, b.median, m.median, r.median, r.q1, r.q3, r.min, r.max, r.median <= 1.5 ? "met" : "MISSED");
    }
    return 0;
}
