// SPDX-License-Identifier: MIT
// The 64-byte _IOWR driver ioctl through a FUSE-served accel node, next to a bare libfuse3
// daemon answering the same ioctl, in the same run:
//   accel_ioctl : ioctl(2) on <mnt>/accel/accel0, served by accel::fuse::host (the core
//                 dispatcher, caller_memory, the driver's typed handler);
//   bare_ioctl  : ioctl(2) on <mnt>/file, served by a minimal libfuse3 low-level daemon written
//                 below: one regular file whose ioctl handler copies the 64 bytes in, does the
//                 same bump and replies them with fuse_reply_ioctl. Same mount options where
//                 they matter (default_permissions, allow_other as root), same loop (multi-
//                 threaded, clone_fd, 16 threads at most).
// Both run with one and two client threads (each thread its own descriptor); real time, so the
// time per iteration with two threads is wall time / all ioctls of both threads.
// Each daemon is a child process forked before anything else (a process must not serve and use
// the same mount); both stop with SIGTERM at the end, are waited for, and their mounts checked
// gone. Targets (issue 3): accel / bare <= 1.10 with one thread; two threads give accel >= 1.3x
// the throughput of one (a bare daemon: about 1.4x); accel / bare with two threads is shown too.
// cpu_us: CPU per ioctl of the clients and the daemon together (srv_us: the daemon's share), a
// cross-check of the overhead that other load on the machine disturbs less than the wall time.
// ioctl_mapped/<N>: the same driver ioctl on the accel node while the calling process has N
// buffer objects mapped (MMAP_PREPARE + mmap, each page written once) that the handler does not
// touch. An ioctl syncs only the objects its handler reaches (include/accel/fuse/coherency.hpp),
// so N must not matter: target (issue 10) ioctl_mapped/1024 / ioctl_mapped/0 <= 1.2, both
// measured in this run. ioctl_mapped runs 9 repetitions of its own (--benchmark_repetitions
// does not change that); accel_ioctl and bare_ioctl one unless --benchmark_repetitions=N says more.
// Repetitions of all benchmarks are interleaved at random unless the command line says otherwise.
// After gbench's output (bench/ratio_reporter.hpp): each benchmark's median and spread (min, max,
// quartiles) in ns, ops/s and cpu_us, and each ratio as the median of the per-repetition ratios
// (the i-th repetition of each side) with their spread; targets are judged on that median. They
// go to standard output in console format and to standard error with --benchmark_format=json or
// csv, so standard output carries only the JSON or CSV then.
// Without /dev/fuse, or when mounting fails, the benchmarks are skipped and the program exits 0.
#include "ratio_reporter.hpp"

#include <accel/accel.hpp>
#include <accel/fuse/serve.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <iterator>
#include <string>
#include <dirent.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace {

struct bench_arg {
    __u64 words[8];
};
static_assert(sizeof(bench_arg) == 64);
#define BENCH_IOCTL_BUMP ACCEL_IOWR(0x40, struct bench_arg)
struct bench_bo_create {
    __u64 size;        // in: bytes
    __u32 handle;      // out
    __u32 pad;
    __u64 mmap_offset; // out
};
#define BENCH_IOCTL_BO_CREATE ACCEL_IOWR(0x41, struct bench_bo_create)

inline void bump(bench_arg& a) noexcept { a.words[0] += a.words[1]; }

struct bench_driver {
    static constexpr accel::driver_info info{1, 0, 0, "bench", "FUSE ioctl benchmark"};
    struct device_data {};
    struct file_data {};
    struct object_data {};
    using dev = accel::device<bench_driver>;
    using fil = accel::file<bench_driver>;
    static int handler(dev&, fil&, bench_arg& a) {
        bump(a);
        return 0;
    }
    static int bo_create(dev& d, fil& f, bench_bo_create& a) {
        auto obj = accel::bo<bench_driver>::create(d, a.size);
        if (!obj)
            return obj.error();
        auto h = accel::create_handle(f, **obj);
        if (!h)
            return h.error();
        a.handle = *h;
        a.mmap_offset = (*obj)->mmap_offset();
        return 0;
    }
    using ioctls = accel::ioctl_table<ACCEL_IOCTL(BENCH_IOCTL_BUMP, &handler, accel::ioctl_flags::none),
                                      ACCEL_IOCTL(BENCH_IOCTL_BO_CREATE, &bo_create, accel::ioctl_flags::none)>;
};

// ---- the accel daemon ------------------------------------------------------------------------

int serve_accel(const std::string& mnt, int ready_fd) {
    accel::subsystem sub;
    auto dev = accel::device<bench_driver>::create();
    if (!dev)
        return 2;
    auto reg = sub.register_device(*dev);
    if (!reg)
        return 2;
    accel::fuse::host h(sub, mnt);
    int mount_error = 0;
    int rc = accel::fuse::serve_until_signal(h, [&](int e) {
        mount_error = e;
        [[maybe_unused]] ssize_t w = ::write(ready_fd, &e, sizeof e);
        ::close(ready_fd);
    });
    if (mount_error)
        return 3;
    return rc == 0 ? 0 : 4;
}

// ---- the bare daemon: one regular file, the ioctl answered with a memcpy ---------------------

constexpr fuse_ino_t bare_file_ino = 2;
constexpr const char* bare_file_name = "file";

struct stat bare_attr(fuse_ino_t n) {
    struct stat st {};
    st.st_ino = n;
    st.st_uid = ::geteuid();
    st.st_gid = ::getegid();
    if (n == FUSE_ROOT_ID) {
        st.st_mode = S_IFDIR | 0755;
        st.st_nlink = 2;
    } else {
        st.st_mode = S_IFREG | 0666;
        st.st_nlink = 1;
    }
    return st;
}

void bare_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    if (parent != FUSE_ROOT_ID || std::strcmp(name, bare_file_name) != 0) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    fuse_entry_param e{};
    e.ino = bare_file_ino;
    e.generation = 1;
    e.attr = bare_attr(bare_file_ino);
    fuse_reply_entry(req, &e); // timeouts 0, as accel's device nodes
}

void bare_getattr(fuse_req_t req, fuse_ino_t n, fuse_file_info*) {
    if (n != FUSE_ROOT_ID && n != bare_file_ino) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    struct stat st = bare_attr(n);
    fuse_reply_attr(req, &st, 0.0);
}

void bare_open(fuse_req_t req, fuse_ino_t n, fuse_file_info* fi) {
    if (n != bare_file_ino) {
        fuse_reply_err(req, EISDIR);
        return;
    }
    fi->nonseekable = 1; // as accel's nodes
    fuse_reply_open(req, fi);
}

void bare_release(fuse_req_t req, fuse_ino_t, fuse_file_info*) { fuse_reply_err(req, 0); }

void bare_ioctl(fuse_req_t req, fuse_ino_t, unsigned int cmd, void*, fuse_file_info*, unsigned flags, const void* in_buf,
                size_t in_bufsz, size_t out_bufsz) {
    if ((flags & FUSE_IOCTL_COMPAT) || cmd != static_cast<unsigned int>(BENCH_IOCTL_BUMP) || in_bufsz != sizeof(bench_arg) ||
        out_bufsz != sizeof(bench_arg)) {
        fuse_reply_err(req, ENOTTY);
        return;
    }
    bench_arg a;
    std::memcpy(&a, in_buf, sizeof a);
    bump(a);
    fuse_reply_ioctl(req, 0, &a, sizeof a);
}

int serve_bare(const std::string& mnt, int ready_fd) {
    auto report = [&](int e) {
        [[maybe_unused]] ssize_t w = ::write(ready_fd, &e, sizeof e);
        ::close(ready_fd);
    };
    ::mkdir(mnt.c_str(), 0755);
    fuse_lowlevel_ops ops{};
    ops.lookup = bare_lookup;
    ops.getattr = bare_getattr;
    ops.open = bare_open;
    ops.release = bare_release;
    ops.ioctl = bare_ioctl;
    std::string mount_opts = "default_permissions,fsname=bare,subtype=bare";
    if (::geteuid() == 0)
        mount_opts += ",allow_other"; // the accel host's default
    std::vector<std::string> argv_s = {"bare-fuse", "-o", mount_opts};
    std::vector<char*> argv;
    for (auto& s : argv_s)
        argv.push_back(s.data());
    fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
    fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, nullptr);
    fuse_opt_free_args(&args);
    if (!se) {
        report(-EINVAL);
        return 3;
    }
    if (fuse_set_signal_handlers(se) != 0) { // SIGTERM ends the loop
        fuse_session_destroy(se);
        report(-EINVAL);
        return 3;
    }
    errno = 0;
    if (fuse_session_mount(se, mnt.c_str()) != 0) {
        int e = errno ? errno : EIO;
        fuse_remove_signal_handlers(se);
        fuse_session_destroy(se);
        report(-e);
        return 3;
    }
    report(0);
    fuse_loop_config* cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_clone_fd(cfg, 1);
    fuse_loop_cfg_set_max_threads(cfg, 16);
    int rc = fuse_session_loop_mt(se, cfg);
    fuse_loop_cfg_destroy(cfg);
    fuse_session_unmount(se);
    fuse_remove_signal_handlers(se);
    fuse_session_destroy(se);
    // libfuse's signal handler records the signal as the session's error, which the loop returns.
    return rc == 0 || rc == SIGTERM || rc == SIGINT || rc == SIGHUP ? 0 : 4;
}

// ---- the daemons as child processes ----------------------------------------------------------

bool fuse_mounted(const std::string& dir) {
    struct statfs sf {};
    if (::statfs(dir.c_str(), &sf) != 0)
        return errno == ENOTCONN || errno == ECONNABORTED;
    return static_cast<unsigned long>(sf.f_type) == accel::fuse::host::fuse_super_magic;
}

struct daemon_child {
    std::string name, mnt, node; // node: the file the benchmark opens
    pid_t pid = -1;
    std::string error; // why it does not serve; empty when it does

    /// Forks the daemon; waits until it has mounted and answers.
    void start(int (*serve)(const std::string&, int)) {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0) {
            error = std::string("pipe: ") + std::strerror(errno);
            return;
        }
        std::fflush(nullptr);
        pid = ::fork();
        if (pid < 0) {
            error = std::string("fork: ") + std::strerror(errno);
            return;
        }
        if (pid == 0) {
            ::close(p[0]);
            ::prctl(PR_SET_PDEATHSIG, SIGTERM); // never outlive the benchmark
            ::_exit(serve(mnt, p[1]));
        }
        ::close(p[1]);
        int e = 1;
        ssize_t n;
        do
            n = ::read(p[0], &e, sizeof e);
        while (n < 0 && errno == EINTR);
        ::close(p[0]);
        if (n != static_cast<ssize_t>(sizeof e) || e != 0) {
            error = name + " daemon: " + (n == sizeof e ? "mount failed: " + std::string(std::strerror(-e)) : "exited early");
            int status;
            ::waitpid(pid, &status, 0);
            pid = -1;
            return;
        }
        struct stat st {};
        if (::stat(node.c_str(), &st) != 0) // waits for the loop's INIT
            error = name + " daemon: " + node + ": " + std::strerror(errno);
    }

    /// SIGTERM, wait, check the mount is gone. True when clean.
    bool stop() {
        if (pid <= 0) {
            if (!mnt.empty())
                ::rmdir(mnt.c_str()); // a daemon that failed to mount may have created it
            return true;
        }
        ::kill(pid, SIGTERM);
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        pid = -1;
        bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!ok)
            std::fprintf(stderr, "%s daemon: exit status %d\n", name.c_str(),
                         WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        if (fuse_mounted(mnt)) {
            std::fprintf(stderr, "%s daemon: %s still mounted; detaching\n", name.c_str(), mnt.c_str());
            ::umount2(mnt.c_str(), MNT_DETACH);
            ok = false;
        }
        ::rmdir(mnt.c_str());
        return ok;
    }
};

daemon_child accel_daemon, bare_daemon;

/// CPU time (user + system, all threads, in seconds) process `pid` has used so far; -1 if unknown.
double process_cpu_seconds(pid_t pid) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
    FILE* f = std::fopen(path, "re");
    if (!f)
        return -1;
    char buf[1024];
    std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = 0;
    const char* p = std::strrchr(buf, ')'); // the command name may hold spaces
    unsigned long long utime = 0, stime = 0;
    if (!p || std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return -1;
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

/// The daemon's node opened for a benchmark, or -1 (the benchmark is then skipped, saying why).
int open_node(benchmark::State& state, const daemon_child& d) {
    if (!d.error.empty()) {
        state.SkipWithError(d.error.c_str());
        return -1;
    }
    int fd = ::open(d.node.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0)
        state.SkipWithError(("open " + d.node + ": " + std::strerror(errno)).c_str());
    return fd;
}

void run_ioctls(benchmark::State& state, const daemon_child& d) {
    int fd = open_node(state, d);
    if (fd < 0)
        return;
    bench_arg arg{};
    arg.words[1] = 1;
    int failed = 0;
    // The daemon's CPU time over the run (thread 0 reports it for all threads): clock ticks,
    // fine enough over the ~10^4 ioctls of a run.
    const double srv0 = state.thread_index() == 0 ? process_cpu_seconds(d.pid) : -1;
    for (auto _ : state) {
        int r = ::ioctl(fd, BENCH_IOCTL_BUMP, &arg);
        failed |= r;
        benchmark::DoNotOptimize(r);
    }
    if (srv0 >= 0) {
        const double srv1 = process_cpu_seconds(d.pid);
        const double ioctls = static_cast<double>(state.iterations()) * state.threads();
        if (srv1 >= 0 && ioctls > 0)
            state.counters["srv_us"] = (srv1 - srv0) * 1e6 / ioctls; // daemon CPU per ioctl
    }
    ::close(fd);
    if (failed != 0)
        state.SkipWithError("an ioctl failed");
    else if (arg.words[0] != static_cast<__u64>(state.iterations()))
        state.SkipWithError("the handler did not run once per iteration");
}

void accel_ioctl(benchmark::State& state) { run_ioctls(state, accel_daemon); }
void bare_ioctl(benchmark::State& state) { run_ioctls(state, bare_daemon); }

BENCHMARK(accel_ioctl)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(bare_ioctl)->Threads(1)->Threads(2)->UseRealTime();

/// N one-page objects created on `fd`, mapped through it (MMAP_PREPARE first, as
/// backend::syscall::mmap does) and written once, so each is pinned in the process's view and
/// has a cached page. Unmapped by the destructor.
struct mapped_objects {
    std::vector<void*> maps;
    std::string error;
    mapped_objects(int fd, long n) {
        const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
        for (long i = 0; i < n && error.empty(); ++i) {
            bench_bo_create b{page, 0, 0, 0};
            accel_mmap_prepare check{0, page, PROT_READ | PROT_WRITE, MAP_SHARED};
            if (::ioctl(fd, BENCH_IOCTL_BO_CREATE, &b) != 0 ||
                (check.offset = b.mmap_offset, ::ioctl(fd, ACCEL_IOCTL_MMAP_PREPARE, &check) != 0)) {
                error = std::string("creating objects: ") + std::strerror(errno);
                break;
            }
            void* p = ::mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(b.mmap_offset));
            if (p == MAP_FAILED) {
                error = std::string("mmap: ") + std::strerror(errno);
                break;
            }
            maps.push_back(p);
            *static_cast<volatile char*>(p) = 1; // faulted in: pinned, cached, dirty
        }
    }
    ~mapped_objects() {
        for (void* p : maps)
            ::munmap(p, static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)));
    }
};

/// While alive, this thread and every thread of process `pid` run on this thread's CPU only:
/// a FUSE round trip costs about 3 us when client and server threads share a CPU and 20-50 us
/// when a cross-CPU wake-up is needed, and the scheduler picks either from one run to the next
/// (../shared/DESIGN.md), which would swamp what ioctl_mapped compares. New daemon threads
/// inherit the mask from the worker that starts them. Restored to every CPU afterwards.
class one_cpu_placement {
public:
    explicit one_cpu_placement(pid_t pid) : pid_(pid) {
        const int cpu = ::sched_getcpu();
        if (cpu < 0 || ::sched_getaffinity(0, sizeof old_, &old_) != 0)
            return;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        ok_ = ::sched_setaffinity(0, sizeof one, &one) == 0 && for_each_thread(one);
    }
    ~one_cpu_placement() {
        ::sched_setaffinity(0, sizeof old_, &old_);
        cpu_set_t all;
        CPU_ZERO(&all);
        for (long c = 0; c < ::sysconf(_SC_NPROCESSORS_CONF) && c < CPU_SETSIZE; ++c)
            CPU_SET(static_cast<int>(c), &all);
        for_each_thread(all);
    }
    bool ok() const noexcept { return ok_; }

private:
    bool for_each_thread(const cpu_set_t& set) const {
        const std::string dir = "/proc/" + std::to_string(pid_) + "/task";
        DIR* d = ::opendir(dir.c_str());
        if (!d)
            return false;
        bool all = true;
        while (dirent* e = ::readdir(d))
            if (e->d_name[0] != '.')
                all &= ::sched_setaffinity(static_cast<pid_t>(std::atoi(e->d_name)), sizeof set, &set) == 0;
        ::closedir(d);
        return all;
    }
    pid_t pid_;
    cpu_set_t old_{};
    bool ok_ = false;
};

void ioctl_mapped(benchmark::State& state) {
    const daemon_child& d = accel_daemon;
    int fd = open_node(state, d);
    if (fd < 0)
        return;
    {
        mapped_objects objects(fd, state.range(0));
        one_cpu_placement placement(d.pid);
        if (!placement.ok()) {
            state.SkipWithError("cannot place the client and the daemon on one CPU (sched_setaffinity)");
        } else if (!objects.error.empty()) {
            state.SkipWithError(objects.error.c_str());
        } else {
            bench_arg arg{};
            arg.words[1] = 1;
            int failed = 0;
            for (auto _ : state) {
                int r = ::ioctl(fd, BENCH_IOCTL_BUMP, &arg);
                failed |= r;
                benchmark::DoNotOptimize(r);
            }
            if (failed != 0)
                state.SkipWithError("an ioctl failed");
        }
    }
    ::close(fd);
}

// The ratios need repetitions: medians and spread over nine (--benchmark_repetitions does not
// override a benchmark's own count). Repetitions of all benchmarks are interleaved at random
// (main), so that a phase of load from elsewhere on the machine hits every N alike.
BENCHMARK(ioctl_mapped)->Arg(0)->Arg(16)->Arg(1024)->UseRealTime()->Repetitions(9);

std::string make_temp_dir() {
    char tmpl[] = "/tmp/accel-ioctl-real-XXXXXX";
    if (!::mkdtemp(tmpl))
        return {};
    ::chmod(tmpl, 0755);
    return tmpl;
}

using accel::bench::print_ratio;
using accel::bench::print_spread;
using accel::bench::sample_reporter;
using accel::bench::spread;
using accel::bench::target;
using key = sample_reporter::key;

/// CPU per ioctl in us, the clients' (all threads) and the daemon's (counter srv_us) together:
/// less sensitive to other load on the machine than the wall time. NaN without srv_us.
double cpu_us(const benchmark::BenchmarkReporter::Run& r) {
    auto c = r.counters.find("srv_us");
    return c == r.counters.end() ? std::nan("") : r.GetAdjustedCPUTime() / 1e3 + c->second.value;
}

/// ioctl_mapped: each N's median and spread, and its ratio to N = 0 measured in this run (the
/// median of the per-repetition ratios, with their spread).
void print_mapped(const sample_reporter& reporter, std::FILE* out) {
    if (reporter.stats("ioctl_mapped/0").median <= 0)
        return;
    accel::bench::print_spread_header(out, "ns per ioctl");
    for (const char* n : {"ioctl_mapped/0", "ioctl_mapped/16", "ioctl_mapped/1024"})
        if (const spread s = reporter.stats(n); s.median > 0)
            print_spread(out, n, s, "%10.0f");
    std::fprintf(out, "\n");
    print_ratio(out, "ioctl_mapped/16 / ioctl_mapped/0", reporter.ratio("ioctl_mapped/16", "ioctl_mapped/0"));
    print_ratio(out, "ioctl_mapped/1024 / ioctl_mapped/0", reporter.ratio("ioctl_mapped/1024", "ioctl_mapped/0"),
                target{1.2});
}

/// The figures and ratios after the table, on `out`.
void print_figures(const sample_reporter& reporter, std::FILE* out) {
    const key a1{"accel_ioctl", 1}, a2{"accel_ioctl", 2}, b1{"bare_ioctl", 1}, b2{"bare_ioctl", 2};
    const std::pair<key, const char*> rows[] = {{a1, "accel_ioctl 1 thr"}, {a2, "accel_ioctl 2 thr"},
                                                {b1, "bare_ioctl 1 thr"}, {b2, "bare_ioctl 2 thr"}};
    auto table = [&](const char* title, const sample_reporter::projection& value, const char* format) {
        bool header = false;
        for (const auto& [k, label] : rows)
            if (const spread s = reporter.stats(k, value); s.median > 0) {
                if (!std::exchange(header, true))
                    accel::bench::print_spread_header(out, title);
                print_spread(out, label, s, format);
            }
    };
    const bool ran[] = {reporter.stats(a1).median > 0, reporter.stats(a2).median > 0, reporter.stats(b1).median > 0,
                        reporter.stats(b2).median > 0};
    if (std::find(std::begin(ran), std::end(ran), true) != std::end(ran)) {
        table("ns per ioctl", sample_reporter::real_time, "%10.0f");
        table("ops/s", [](const auto& r) { return 1e9 / r.GetAdjustedRealTime(); }, "%10.0f");
        table("cpu_us per ioctl", cpu_us, "%10.2f");
        std::fprintf(out, "\n");
    }
    print_ratio(out, "accel / bare, 1 thread        ", reporter.ratio(a1, b1), target{1.10});
    print_ratio(out, "accel / bare, 2 threads       ", reporter.ratio(a2, b2));
    print_ratio(out, "accel / bare, CPU per ioctl   ", reporter.ratio(a1, b1, cpu_us), {}, "client + daemon CPU, 1 thread");
    print_ratio(out, "accel 2-thread throughput gain", reporter.ratio(a1, a2), target{1.3, false});
    print_ratio(out, "bare  2-thread throughput gain", reporter.ratio(b1, b2), {}, "about 1.4x expected");
    if (ran[1] || ran[3]) {
        // Two clients gain only from an idle core: one synchronous round trip keeps about one
        // CPU busy (cpu_us ~ ns/ioctl), so other load on the machine caps the 2-thread gain.
        double load[3] = {0, 0, 0};
        if (::getloadavg(load, 3) == 3)
            std::fprintf(out, "load average %.2f %.2f %.2f on %ld CPUs (2-thread gains need an idle CPU)\n", load[0], load[1],
                         load[2], ::sysconf(_SC_NPROCESSORS_ONLN));
    }
    print_mapped(reporter, out);
    if (!reporter.skipped.empty() && !ran[0] && !ran[2])
        std::fprintf(out, "\nFUSE benchmarks skipped: %s\n", reporter.skipped.c_str());
}

} // namespace

int main(int argc, char** argv) {
    // The daemons first, while this process has no threads.
    const std::string dir = make_temp_dir();
    accel_daemon.name = "accel";
    bare_daemon.name = "bare";
    if (dir.empty()) {
        accel_daemon.error = bare_daemon.error = std::string("mkdtemp: ") + std::strerror(errno);
    } else if (::access("/dev/fuse", R_OK | W_OK) != 0) {
        accel_daemon.error = bare_daemon.error = std::string("/dev/fuse: ") + std::strerror(errno);
    } else {
        accel_daemon.mnt = dir + "/accel";
        accel_daemon.node = accel_daemon.mnt + "/accel/accel0";
        bare_daemon.mnt = dir + "/bare";
        bare_daemon.node = bare_daemon.mnt + "/" + bare_file_name;
        accel_daemon.start(&serve_accel);
        bare_daemon.start(&serve_bare);
    }
    for (auto* d : {&accel_daemon, &bare_daemon})
        if (!d->error.empty())
            std::fprintf(stderr, "ioctl_real: %s - FUSE benchmarks skipped\n", d->error.c_str());

    // Runs are shown in the format asked for; the figures go where sample_reporter says a summary
    // may go (stdout in console format, stderr with json or csv). Repetitions of all benchmarks
    // are interleaved at random unless the command line says otherwise (see ioctl_mapped).
    sample_reporter reporter;
    const bool flags_ok = accel::bench::initialize(argc, argv, reporter, 0, benchmark::PrintDefaultHelp,
                                                   {"--benchmark_enable_random_interleaving=true"});
    if (flags_ok)
        accel::bench::run(reporter);
    const bool accel_clean = accel_daemon.stop(), bare_clean = bare_daemon.stop(); // both, whatever the first says
    const bool clean = accel_clean && bare_clean;
    if (!dir.empty())
        ::rmdir(dir.c_str());
    if (!flags_ok)
        return 1;
    print_figures(reporter, reporter.summary_stream());
    if (!clean)
        std::fprintf(stderr, "ioctl_real: a daemon did not stop cleanly\n");
    return 0;
}
