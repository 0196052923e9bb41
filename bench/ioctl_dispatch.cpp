// SPDX-License-Identifier: MIT
// The cost of one driver ioctl through the mock backend, against two baselines measured in the
// same run:
//   mock_roundtrip : a 64-byte _IOWR driver ioctl through accel::backend::mock (fd lookup,
//                    device guard, table lookup, size reconciliation, permission, copy in,
//                    typed handler, copy out);
//   direct_call    : a non-inlined function doing the same two 64-byte copies around the same
//                    handler - the floor any dispatcher has to pay;
//   bare_syscall   : ioctl(2) on /dev/null with a request the kernel rejects (ENOTTY): the
//                    cheapest real system call of this kind.
// Targets (issue 2): mock_roundtrip <= 3x direct_call and <= 0.5x bare_syscall. Each benchmark
// runs 9 times by default (--benchmark_repetitions=N to change it); after gbench's output come
// each one's median and spread, and each ratio as the median of the per-repetition ratios with
// its quartiles and extremes (on stdout in console format, on stderr with json or csv).
#include "ratio_reporter.hpp"

#include <accel/accel.hpp>

#include <benchmark/benchmark.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/ioctl.h>
#include <unistd.h>

namespace {

struct bench_arg {
    __u64 words[8];
};
static_assert(sizeof(bench_arg) == 64);
#define BENCH_IOCTL_BUMP ACCEL_IOWR(0x40, struct bench_arg)

__attribute__((noinline)) int bump(bench_arg& a) {
    a.words[0] += a.words[1];
    return 0;
}

struct bench_driver {
    static constexpr accel::driver_info info{1, 0, 0, "bench", "ioctl dispatch benchmark"};
    struct device_data {};
    struct file_data {};
    static int handler(accel::device<bench_driver>&, accel::file<bench_driver>&, bench_arg& a) { return bump(a); }
    using ioctls = accel::ioctl_table<ACCEL_IOCTL(BENCH_IOCTL_BUMP, &handler, accel::ioctl_flags::none)>;
};

__attribute__((noinline)) int direct_call(void* user) {
    bench_arg k;
    std::memcpy(&k, user, sizeof k);
    int r = bump(k);
    std::memcpy(user, &k, sizeof k);
    return r;
}

void mock_roundtrip(benchmark::State& state) {
    accel::subsystem sub;
    auto dev = accel::device<bench_driver>::create();
    auto reg = sub.register_device(*dev);
    accel::backend::mock client(sub);
    int fd = client.open(std::string(client.root()) + "/accel/accel0", O_RDWR);
    if (!reg || fd < 0) {
        state.SkipWithError("cannot open the bench device");
        return;
    }
    bench_arg arg{};
    arg.words[1] = 1;
    for (auto _ : state) {
        int r = client.ioctl(fd, BENCH_IOCTL_BUMP, &arg);
        benchmark::DoNotOptimize(r);
    }
    if (arg.words[0] != static_cast<__u64>(state.iterations()))
        state.SkipWithError("the handler did not run once per iteration");
    client.close(fd);
}

void direct(benchmark::State& state) {
    bench_arg arg{};
    arg.words[1] = 1;
    for (auto _ : state) {
        int r = direct_call(&arg);
        benchmark::DoNotOptimize(r);
    }
}

void bare_syscall(benchmark::State& state) {
    int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    bench_arg arg{};
    for (auto _ : state) {
        int r = ::ioctl(fd, BENCH_IOCTL_BUMP, &arg);
        benchmark::DoNotOptimize(r);
    }
    ::close(fd);
}

BENCHMARK(mock_roundtrip);
BENCHMARK(direct)->Name("direct_call");
BENCHMARK(bare_syscall);

} // namespace

int main(int argc, char** argv) {
    // Nine repetitions unless the command line says otherwise: one sample of a few-ns benchmark
    // on a shared machine is as likely to be an outlier as not.
    accel::bench::sample_reporter reporter;
    if (!accel::bench::initialize(argc, argv, reporter, 9))
        return 1;
    accel::bench::run(reporter);

    using accel::bench::spread;
    const spread mock = reporter.stats("mock_roundtrip"), dir = reporter.stats("direct_call"),
                 sys = reporter.stats("bare_syscall");
    if (mock.median <= 0 || dir.median <= 0 || sys.median <= 0)
        return 0; // filtered out or skipped: nothing to compare
    std::FILE* out = reporter.summary_stream();
    accel::bench::print_spread_header(out, "ns per call");
    accel::bench::print_spread(out, "mock_roundtrip", mock);
    accel::bench::print_spread(out, "direct_call", dir);
    accel::bench::print_spread(out, "bare_syscall", sys);
    // Ratios per repetition (the i-th of each benchmark), then their median and spread; targets
    // are judged on the median.
    std::fprintf(out, "\n");
    accel::bench::print_ratio(out, "mock / direct", reporter.ratio("mock_roundtrip", "direct_call"), accel::bench::target{3.0});
    accel::bench::print_ratio(out, "mock / syscall", reporter.ratio("mock_roundtrip", "bare_syscall"), accel::bench::target{0.5});
    return 0;
}
