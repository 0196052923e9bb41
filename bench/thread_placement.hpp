// SPDX-License-Identifier: MIT
// Where a benchmark's threads run, shared by the programs that report both placements of a
// hand-off (exec_latency, sharing): both sides on one CPU (every hand-off is a context switch:
// the steadiest figure) or on two (every hand-off wakes the other CPU; on a VM dominated by
// waking an idle vCPU). Unpinned, the scheduler flips between those two regimes from one run to
// the next, which is why the programs pin rather than trust one unpinned figure.
#pragma once
#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <sys/types.h>
#include <unistd.h>

namespace accel::bench {

/// Where the two sides of a hand-off run: where the scheduler puts them, both on one CPU
/// (each hand-off is a context switch there), or one on each of two CPUs (each hand-off wakes
/// the other CPU).
enum class placement { any_cpu, one_cpu, two_cpus };

/// The first `n` CPUs this process may run on (fewer if it has fewer).
inline std::vector<int> allowed_cpus(std::size_t n) {
    cpu_set_t set;
    std::vector<int> cpus;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return cpus;
    for (int c = 0; c < CPU_SETSIZE && cpus.size() < n; ++c)
        if (CPU_ISSET(c, &set))
            cpus.push_back(c);
    return cpus;
}

inline void pin_to(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}
/// Sets the affinity of every thread of process `pid` (0: this one) but thread `except`.
inline bool pin_threads_of(pid_t pid, const cpu_set_t& set, pid_t except) {
    const std::string dir = pid ? "/proc/" + std::to_string(pid) + "/task" : std::string("/proc/self/task");
    DIR* d = ::opendir(dir.c_str());
    if (!d)
        return false;
    bool all = true;
    while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.')
            continue;
        const auto tid = static_cast<pid_t>(std::atoi(e->d_name));
        if (tid != except && ::sched_setaffinity(tid, sizeof set, &set) != 0 && errno != ESRCH)
            all = false;
    }
    ::closedir(d);
    return all;
}

/// While alive: the calling thread (the client) on the first allowed CPU, and every other
/// thread of this process and of process `server` (if any) on the same CPU (one_cpu) or on the
/// second (two_cpus); any_cpu changes nothing. Threads started meanwhile inherit their
/// creator's mask. Everything goes back to the calling thread's former mask afterwards.
class thread_placement {
public:
    explicit thread_placement(placement where, pid_t server = 0) : server_(server) {
        if (where == placement::any_cpu)
            return;
        const std::vector<int> cpus = allowed_cpus(2);
        if (cpus.empty() || (where == placement::two_cpus && cpus.size() < 2) ||
            ::sched_getaffinity(0, sizeof saved_, &saved_) != 0) {
            error_ = where == placement::two_cpus ? "needs two CPUs" : "no CPU to pin to";
            return;
        }
        cpu_set_t client, rest;
        CPU_ZERO(&client);
        CPU_ZERO(&rest);
        CPU_SET(cpus[0], &client);
        CPU_SET(where == placement::one_cpu ? cpus[0] : cpus[1], &rest);
        active_ = true;
        if (::sched_setaffinity(0, sizeof client, &client) != 0 || !pin_threads_of(0, rest, ::gettid()) ||
            (server_ > 0 && !pin_threads_of(server_, rest, 0)))
            error_ = "sched_setaffinity failed";
    }
    ~thread_placement() {
        if (!active_)
            return;
        ::sched_setaffinity(0, sizeof saved_, &saved_);
        pin_threads_of(0, saved_, ::gettid());
        if (server_ > 0)
            pin_threads_of(server_, saved_, 0);
    }
    thread_placement(const thread_placement&) = delete;
    thread_placement& operator=(const thread_placement&) = delete;
    /// Empty when placed as asked.
    const std::string& error() const noexcept { return error_; }

private:
    pid_t server_;
    cpu_set_t saved_{};
    bool active_ = false;
    std::string error_;
};
} // namespace accel::bench
