// SPDX-License-Identifier: MIT
// PRIME on the mock, for bench/sharing (which includes this header; it is not a program by itself).
//
//   prime_cycle/mock       what a client does per shared buffer, through the mock's ioctls:
//                          PRIME_HANDLE_TO_FD on the exporter (after the first export the
//                          object's dma-buf is reused, as drm_prime does: a cache lookup and an
//                          fd_install), PRIME_FD_TO_HANDLE on another driver's device (dma_buf_get,
//                          attach, map, the DMA domain, vmap, a wrapped object and its handle),
//                          GEM_CLOSE of the import (domain unmap, vunmap, unmap, detach) and
//                          close() of the dma-buf descriptor
//   prime_cycle/mock_api   the same without descriptors or handles, and with a new dma-buf each
//                          time: gem_prime_export + gem_prime_import + release of both
//   bo_cycle/mock          the baseline: BO_CREATE + GEM_CLOSE through the mock
#pragma once
#include <accel/accel.hpp>
#include <accel/share/prime.hpp>

#include <benchmark/benchmark.h>

#include <fcntl.h>

#include <cstdint>
#include <string>

namespace accel::bench_prime {

struct bo_create_arg {
    __u64 size;
    __u32 handle;
    __u32 pad;
};
#define BENCH_PRIME_BO_CREATE ACCEL_IOWR(0x40, struct accel::bench_prime::bo_create_arg)

/// Two distinct drivers (N = 0 exports, N = 1 imports): the import is a foreign one.
template <int N>
struct driver {
    static constexpr driver_info info{1, 0, 0, N == 0 ? "bench_exp" : "bench_imp", "PRIME benchmark driver", "20261205"};
    struct device_data {};
    struct file_data {};
    struct object_data {};
    static int bo_create(device<driver>& d, file<driver>& f, bo_create_arg& a) {
        auto obj = bo<driver>::create(d, a.size);
        if (!obj)
            return obj.error();
        auto h = create_handle(f, **obj);
        if (!h)
            return h.error();
        a.handle = *h;
        return 0;
    }
    using ioctls = ioctl_table<ACCEL_IOCTL(BENCH_PRIME_BO_CREATE, &bo_create, ioctl_flags::render_allow)>;
};

struct setup {
    subsystem sub;
    registration exp_reg, imp_reg;
    device<driver<0>>::ref exp_dev;
    device<driver<1>>::ref imp_dev;
    backend::mock mock{sub};
    int exp_fd = -1, imp_fd = -1;
    bool ok = false;

    setup() {
        auto e = device<driver<0>>::create();
        auto i = device<driver<1>>::create();
        if (!e || !i)
            return;
        exp_dev = *e;
        imp_dev = *i;
        auto r1 = sub.register_device(*e);
        auto r2 = sub.register_device(*i);
        if (!r1 || !r2)
            return;
        exp_reg = std::move(*r1);
        imp_reg = std::move(*r2);
        exp_fd = mock.open(std::string(mock.root()) + "/" + node_name(node_kind::compute, exp_reg.minor()), O_RDWR);
        imp_fd = mock.open(std::string(mock.root()) + "/" + node_name(node_kind::compute, imp_reg.minor()), O_RDWR);
        ok = exp_fd >= 0 && imp_fd >= 0;
    }
};

inline void prime_cycle_ioctls(benchmark::State& state) {
    setup s;
    bo_create_arg b{static_cast<__u64>(state.range(0)), 0, 0};
    if (!s.ok || s.mock.ioctl(s.exp_fd, BENCH_PRIME_BO_CREATE, &b) != 0) {
        state.SkipWithError("setup failed");
        return;
    }
    for (auto _ : state) {
        accel_prime_handle ex{b.handle, ACCEL_CLOEXEC | ACCEL_RDWR, -1};
        if (s.mock.ioctl(s.exp_fd, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, &ex) != 0) {
            state.SkipWithError("export failed");
            break;
        }
        accel_prime_handle im{0, 0, ex.fd};
        if (s.mock.ioctl(s.imp_fd, ACCEL_IOCTL_PRIME_FD_TO_HANDLE, &im) != 0) {
            state.SkipWithError("import failed");
            break;
        }
        accel_gem_close gc{im.handle, 0};
        (void)s.mock.ioctl(s.imp_fd, ACCEL_IOCTL_GEM_CLOSE, &gc);
        (void)s.mock.close(ex.fd);
    }
    state.SetItemsProcessed(state.iterations());
}

inline void prime_cycle_api(benchmark::State& state) {
    setup s;
    if (!s.ok) {
        state.SkipWithError("setup failed");
        return;
    }
    auto obj = bo<driver<0>>::create(*s.exp_dev, static_cast<std::uint64_t>(state.range(0)));
    if (!obj) {
        state.SkipWithError("no object");
        return;
    }
    for (auto _ : state) {
        auto buf = gem_prime_export(**obj, O_RDWR);
        if (!buf) {
            state.SkipWithError("export failed");
            break;
        }
        auto imp = gem_prime_import(*s.imp_dev, **buf); // attach + map + domain + vmap + object
        if (!imp) {
            state.SkipWithError("import failed");
            break;
        }
        benchmark::DoNotOptimize(imp->get());
        imp->reset(); // unmap + detach
        buf->reset(); // release
    }
    state.SetItemsProcessed(state.iterations());
}

inline void bo_cycle(benchmark::State& state) {
    setup s;
    if (!s.ok) {
        state.SkipWithError("setup failed");
        return;
    }
    for (auto _ : state) {
        bo_create_arg b{static_cast<__u64>(state.range(0)), 0, 0};
        if (s.mock.ioctl(s.exp_fd, BENCH_PRIME_BO_CREATE, &b) != 0) {
            state.SkipWithError("create failed");
            break;
        }
        accel_gem_close gc{b.handle, 0};
        (void)s.mock.ioctl(s.exp_fd, ACCEL_IOCTL_GEM_CLOSE, &gc);
    }
    state.SetItemsProcessed(state.iterations());
}

} // namespace accel::bench_prime

BENCHMARK(accel::bench_prime::prime_cycle_ioctls)->Name("prime_cycle/mock")->Arg(4096)->Arg(1 << 20);
BENCHMARK(accel::bench_prime::prime_cycle_api)->Name("prime_cycle/mock_api")->Arg(4096)->Arg(1 << 20);
BENCHMARK(accel::bench_prime::bo_cycle)->Name("bo_cycle/mock")->Arg(4096)->Arg(1 << 20);
