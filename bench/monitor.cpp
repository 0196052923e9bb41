// SPDX-License-Identifier: MIT
// What monitoring costs (issue 13), each figure against a baseline measured in the same run.
//
//   monitor_query/<backend>/clients:N : one monitoring snapshot as accel-smi takes it, on the
//       monitor node of a vdnn device that has N open compute clients (N = 1, 16, 256; each has
//       one 64 KiB buffer object): ACCEL_IOCTL_INFO with STATUS, MEMORY_USAGE, ENGINE_BUSY,
//       CLIENTS, CLIENT_ENGINES, CLIENT_MEMORY and SENSORS, first sized (lengths 0), then read -
//       two ioctls. Counter bytes: the snapshot's size.
//   monitor_status/<backend> : its floor, INFO with the STATUS item alone (one ioctl, 16 bytes).
//   <backend> is mock (vdnn in this process) or fuse (vdnn served by accel::fuse::host in a child
//   process; the client is accel::backend::syscall, real ioctl(2) on the mount).
//   Ratios printed: monitor_query/<backend>/clients:N / monitor_status/<backend>, and
//   clients:256 / clients:1 (what one more client costs a query).
//
//   monitor_overhead/<backend>/quiet        : the null job (bench/null_job_client.hpp) back to back
//   monitor_overhead/<backend>/polled_10hz  : the same while a monitoring client (a thread of this
//       process with its own descriptor on the monitor node) takes the snapshot above every
//       100 ms, as accel-smi --watch 0.1 would.
//   Target: polled_10hz / quiet <= 1.02 (a monitor at 10 Hz slows the null-job rate by at most 2%),
//   the median of per-repetition ratios; the repetitions of both are interleaved at random so
//   both see the same machine. Each repetition runs at least 2 s, so it sees about 20 polls.
//
// Every benchmark runs 9 times by default (--benchmark_repetitions=N to change it). The summary
// (medians, spreads, ratios) goes to stdout in console format and to stderr otherwise, so
// --benchmark_format=json prints JSON only. The FUSE server is this program re-executed
// (exec_fuse_servers.hpp); without /dev/fuse the FUSE benchmarks are skipped.
#include "null_job_client.hpp"
#include "ratio_reporter.hpp"
#if MONITOR_WITH_FUSE
#include "exec_fuse_servers.hpp"
#include <accel/backend/syscall.hpp>
#endif

#include <accel/uapi/accel_info.h>

#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace {

using accel::bench::mock_device;
using accel::bench::null_job_client;

constexpr int client_counts[] = {1, 16, 256};

/// The items of one snapshot, as accel-smi reads them.
constexpr std::uint32_t snapshot_items[] = {
    ACCEL_INFO_STATUS,         ACCEL_INFO_MEMORY_USAGE,   ACCEL_INFO_ENGINE_BUSY, ACCEL_INFO_CLIENTS,
    ACCEL_INFO_CLIENT_ENGINES, ACCEL_INFO_CLIENT_MEMORY, ACCEL_INFO_SENSORS,
};

std::uint64_t uptr(const void* p) { return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(p)); }

/// A monitoring client: its descriptor on the monitor node and its buffers, reused per query.
template <class B>
class monitor_client {
public:
    monitor_client(B& b, const std::string& node) : b_(&b) {
        fd_ = b.open(node, O_RDWR);
        if (fd_ < 0)
            error_ = "open " + node + ": " + std::strerror(-fd_);
        items_.resize(std::size(snapshot_items));
        data_.resize(std::size(snapshot_items));
    }
    ~monitor_client() {
        if (fd_ >= 0)
            b_->close(fd_);
    }
    monitor_client(const monitor_client&) = delete;
    monitor_client& operator=(const monitor_client&) = delete;

    const std::string& error() const noexcept { return error_; }

    /// One snapshot: the sizes, then the data. Bytes read, or -errno (an item's error too).
    long snapshot() {
        for (std::size_t i = 0; i < items_.size(); ++i)
            items_[i] = accel_info_item{snapshot_items[i], 0, 0, 0, 0};
        if (int r = info())
            return r;
        long total = 0;
        for (std::size_t i = 0; i < items_.size(); ++i) {
            if (items_[i].length < 0)
                return items_[i].length;
            // Room for a few more entries than now: the lists may grow between the two calls.
            data_[i].resize(static_cast<std::size_t>(items_[i].length) + 1024);
            items_[i].length = static_cast<std::int32_t>(data_[i].size());
            items_[i].data = uptr(data_[i].data());
        }
        if (int r = info())
            return r;
        for (const accel_info_item& it : items_) {
            if (it.length < 0)
                return it.length;
            total += it.length;
        }
        return total;
    }

    /// INFO with the STATUS item alone: 0 or -errno.
    int status() {
        accel_info_item item{ACCEL_INFO_STATUS, static_cast<std::int32_t>(sizeof status_), 0, 0, uptr(&status_)};
        accel_info a{1, 0, uptr(&item)};
        if (int r = b_->ioctl(fd_, ACCEL_IOCTL_INFO, &a))
            return r;
        return item.length == static_cast<std::int32_t>(sizeof status_) ? 0 : -EIO;
    }

private:
    int info() {
        accel_info a{static_cast<std::uint32_t>(items_.size()), 0, uptr(items_.data())};
        return b_->ioctl(fd_, ACCEL_IOCTL_INFO, &a);
    }

    B* b_;
    int fd_ = -1;
    std::string error_;
    std::vector<accel_info_item> items_;
    std::vector<std::vector<unsigned char>> data_;
    accel_info_status status_{};
};

/// N compute clients of vdnn, each with one 64 KiB buffer object, open for the scope.
template <class B>
class idle_clients {
public:
    idle_clients(B& b, const std::string& node, int n) : b_(&b) {
        for (int i = 0; i < n && error_.empty(); ++i) {
            const int fd = b.open(node, O_RDWR);
            if (fd < 0) {
                error_ = "open " + node + ": " + std::strerror(-fd);
                break;
            }
            fds_.push_back(fd);
            vdnn_bo_create c{64 * 1024, VDNN_REGION_HOST, 0, 0, 0};
            if (int r = b.ioctl(fd, VDNN_IOCTL_BO_CREATE, &c))
                error_ = std::string("BO_CREATE: ") + std::strerror(-r);
        }
    }
    ~idle_clients() {
        for (int fd : fds_)
            b_->close(fd);
    }
    idle_clients(const idle_clients&) = delete;
    idle_clients& operator=(const idle_clients&) = delete;
    const std::string& error() const noexcept { return error_; }

private:
    B* b_;
    std::vector<int> fds_;
    std::string error_;
};

/// The monitor node next to a compute node path ".../accel/accel<N>".
std::string monitor_node_of(const std::string& compute) {
    const std::size_t at = compute.rfind("/accel");
    return compute.substr(0, at) + "/accel_controlD" + compute.substr(at + 6);
}

template <class B>
void query(benchmark::State& state, B& b, const std::string& compute, int clients) {
    idle_clients<B> idle(b, compute, clients);
    if (!idle.error().empty()) {
        state.SkipWithError(idle.error().c_str());
        return;
    }
    monitor_client<B> mon(b, monitor_node_of(compute));
    if (!mon.error().empty()) {
        state.SkipWithError(mon.error().c_str());
        return;
    }
    long bytes = mon.snapshot();
    if (bytes < 0) {
        state.SkipWithError((std::string("snapshot: ") + std::strerror(static_cast<int>(-bytes))).c_str());
        return;
    }
    long failed = 0;
    for (auto _ : state) {
        const long r = mon.snapshot();
        if (r < 0)
            failed = r;
        else
            bytes = r;
    }
    if (failed) {
        state.SkipWithError((std::string("snapshot: ") + std::strerror(static_cast<int>(-failed))).c_str());
        return;
    }
    state.counters["bytes"] = static_cast<double>(bytes);
}

template <class B>
void status(benchmark::State& state, B& b, const std::string& compute) {
    monitor_client<B> mon(b, monitor_node_of(compute));
    if (!mon.error().empty()) {
        state.SkipWithError(mon.error().c_str());
        return;
    }
    int failed = 0;
    for (auto _ : state)
        failed |= mon.status();
    if (failed)
        state.SkipWithError("INFO STATUS failed");
}

/// A monitoring client polling every `period` on its own thread while it lives.
template <class B>
class poller {
public:
    poller(B& b, const std::string& compute, std::chrono::milliseconds period)
        : mon_(b, monitor_node_of(compute)), period_(period) {
        if (mon_.error().empty())
            thread_ = std::thread([this] { loop(); });
    }
    ~poller() {
        {
            std::lock_guard lock(m_);
            stop_ = true;
        }
        cv_.notify_one();
        if (thread_.joinable())
            thread_.join();
    }
    poller(const poller&) = delete;
    poller& operator=(const poller&) = delete;
    const std::string& error() const noexcept { return mon_.error(); }
    long polls() const noexcept { return polls_.load(); }
    long failures() const noexcept { return failures_.load(); }

private:
    void loop() {
        std::unique_lock lock(m_);
        auto next = std::chrono::steady_clock::now();
        while (!stop_) {
            lock.unlock();
            if (mon_.snapshot() < 0)
                failures_.fetch_add(1);
            polls_.fetch_add(1);
            lock.lock();
            next += period_;
            cv_.wait_until(lock, next, [&] { return stop_; });
        }
    }

    monitor_client<B> mon_;
    std::chrono::milliseconds period_;
    std::mutex m_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::atomic<long> polls_{0}, failures_{0};
    std::thread thread_;
};

/// The null job back to back, with a monitor polling at 10 Hz or without one. Counters polls
/// (snapshots taken during the repetition) and jobs_per_s.
template <class B>
void overhead(benchmark::State& state, B& b, const std::string& compute, bool polled) {
    null_job_client<B> c(b, compute);
    if (!c.error().empty()) {
        state.SkipWithError(c.error().c_str());
        return;
    }
    (void)c.run_one(); // the first job allocates what later ones reuse
    std::optional<poller<B>> mon;
    if (polled) {
        mon.emplace(b, compute, std::chrono::milliseconds(100));
        if (!mon->error().empty()) {
            state.SkipWithError(mon->error().c_str());
            return;
        }
    }
    int failed = 0;
    for (auto _ : state)
        failed |= c.run_one();
    const long polls = mon ? mon->polls() : 0, poll_failures = mon ? mon->failures() : 0;
    mon.reset();
    if (failed || poll_failures) {
        state.SkipWithError(failed ? "a null job failed" : "a monitor snapshot failed");
        return;
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["polls"] = static_cast<double>(polls);
}

// ---- the mock ----------------------------------------------------------------------------------

std::unique_ptr<mock_device> mock_instance;
mock_device* mock_or_skip(benchmark::State& state) {
    if (!mock_instance)
        mock_instance = std::make_unique<mock_device>();
    if (!mock_instance->error.empty()) {
        state.SkipWithError(mock_instance->error.c_str());
        return nullptr;
    }
    return mock_instance.get();
}

void query_mock(benchmark::State& state, int clients) {
    if (mock_device* md = mock_or_skip(state))
        query(state, *md->m, md->node, clients);
}
void status_mock(benchmark::State& state) {
    if (mock_device* md = mock_or_skip(state))
        status(state, *md->m, md->node);
}
void overhead_mock(benchmark::State& state, bool polled) {
    if (mock_device* md = mock_or_skip(state))
        overhead(state, *md->m, md->node, polled);
}

// ---- FUSE --------------------------------------------------------------------------------------

#if MONITOR_WITH_FUSE
namespace srv = accel::bench::exec_servers;

std::string& temp_base() {
    static std::string dir = srv::make_temp_base("accel-monitor-bench");
    return dir;
}
srv::server vdnn_server{"vdnn", "accel/accel0"};

bool fuse_or_skip(benchmark::State& state) {
    if (const std::string& e = vdnn_server.ensure(temp_base()); !e.empty()) {
        state.SkipWithError(e.c_str());
        return false;
    }
    return true;
}

void query_fuse(benchmark::State& state, int clients) {
    accel::backend::syscall sys;
    if (fuse_or_skip(state))
        query(state, sys, vdnn_server.node(), clients);
}
void status_fuse(benchmark::State& state) {
    accel::backend::syscall sys;
    if (fuse_or_skip(state))
        status(state, sys, vdnn_server.node());
}
void overhead_fuse(benchmark::State& state, bool polled) {
    accel::backend::syscall sys;
    if (fuse_or_skip(state))
        overhead(state, sys, vdnn_server.node(), polled);
}
#endif

std::vector<std::string>& backends() {
    static std::vector<std::string> all = {"mock"
#if MONITOR_WITH_FUSE
                                           ,
                                           "fuse"
#endif
    };
    return all;
}

[[maybe_unused]] const bool registered = [] {
    for (const std::string& be : backends()) {
        const bool fuse = be == "fuse";
        auto status_fn = fuse ?
#if MONITOR_WITH_FUSE
                              &status_fuse
#else
                              &status_mock
#endif
                              : &status_mock;
        auto query_fn = fuse ?
#if MONITOR_WITH_FUSE
                             &query_fuse
#else
                             &query_mock
#endif
                             : &query_mock;
        auto overhead_fn = fuse ?
#if MONITOR_WITH_FUSE
                                &overhead_fuse
#else
                                &overhead_mock
#endif
                                : &overhead_mock;
        benchmark::RegisterBenchmark(("monitor_status/" + be).c_str(), status_fn)
            ->UseRealTime()
            ->Unit(benchmark::kMicrosecond);
        for (int n : client_counts)
            benchmark::RegisterBenchmark(("monitor_query/" + be + "/clients:" + std::to_string(n)).c_str(), query_fn, n)
                ->UseRealTime()
                ->Unit(benchmark::kMicrosecond);
        benchmark::RegisterBenchmark(("monitor_overhead/" + be + "/quiet").c_str(), overhead_fn, false)
            ->UseRealTime()
            ->MinTime(2.0)
            ->Unit(benchmark::kMicrosecond);
        benchmark::RegisterBenchmark(("monitor_overhead/" + be + "/polled_10hz").c_str(), overhead_fn, true)
            ->UseRealTime()
            ->MinTime(2.0)
            ->Unit(benchmark::kMicrosecond);
    }
    return true;
}();

void print_summary(const accel::bench::sample_reporter& reporter) {
    std::FILE* out = reporter.summary_stream();
    bool header = false;
    auto line = [&](const std::string& label, const accel::bench::spread& s) {
        if (s.n == 0)
            return;
        if (!std::exchange(header, true))
            accel::bench::print_spread_header(out, "time per query (us)");
        accel::bench::print_spread(out, label.c_str(), s, "%10.2f");
    };
    for (const std::string& be : backends()) {
        line("status/" + be, reporter.stats("monitor_status/" + be));
        for (int n : client_counts)
            line("query/" + be + "/" + std::to_string(n), reporter.stats("monitor_query/" + be + "/clients:" + std::to_string(n)));
    }
    bool ratios = false;
    auto ratio = [&](const std::string& num, const std::string& den, std::optional<accel::bench::target> goal) {
        const accel::bench::spread r = reporter.ratio(num, den);
        if (r.n == 0 || r.median <= 0)
            return;
        if (!std::exchange(ratios, true))
            std::fprintf(out, "\nratios (median of per-repetition ratios)\n");
        const std::string label = num + " / " + den;
        accel::bench::print_ratio(out, label.c_str(), r, goal);
    };
    for (const std::string& be : backends()) {
        for (int n : client_counts)
            ratio("monitor_query/" + be + "/clients:" + std::to_string(n), "monitor_status/" + be, {});
        ratio("monitor_query/" + be + "/clients:256", "monitor_query/" + be + "/clients:1", {});
        ratio("monitor_overhead/" + be + "/polled_10hz", "monitor_overhead/" + be + "/quiet",
              accel::bench::target{1.02});
    }
}

} // namespace

int main(int argc, char** argv) {
#if MONITOR_WITH_FUSE
    if (const int rc = accel::bench::exec_servers::server_main(argc, argv); rc >= 0)
        return rc; // this process was the benchmark's FUSE server
#endif
    accel::bench::sample_reporter reporter;
    if (!accel::bench::initialize(argc, argv, reporter, 9, benchmark::PrintDefaultHelp,
                                  {"--benchmark_enable_random_interleaving=true"}))
        return 1;
    accel::bench::run(reporter);
    int rc = 0;
#if MONITOR_WITH_FUSE
    if (!vdnn_server.stop()) {
        std::fprintf(stderr, "monitor: the FUSE server did not stop cleanly\n");
        rc = 1;
    }
    if (!temp_base().empty())
        ::rmdir(temp_base().c_str());
#endif
    mock_instance.reset();
    print_summary(reporter);
    return rc;
}
