// SPDX-License-Identifier: MIT
#pragma once
/// \file Serving in the foreground until SIGINT or SIGTERM (what accel-serve does).
///
/// Install the handlers before mount(): a signal that arrives between mounting and serving
/// then still ends in a clean unmount (run() returns at once) instead of the default action
/// killing the process and leaving a stale mount behind. One host per process at a time.
#include <accel/fuse/host.hpp>

#include <atomic>
#include <csignal>

namespace accel::fuse {

namespace detail {
inline std::atomic<host*> signal_target{nullptr};
inline void stop_on_signal(int) noexcept {
    if (host* h = signal_target.load())
        h->stop(); // async-signal-safe: an atomic store and a write(2)
}
} // namespace detail

/// While alive, SIGINT, SIGTERM and SIGHUP make `h` stop; the previous handlers come back after.
class signal_stopper {
public:
    explicit signal_stopper(host& h) noexcept {
        detail::signal_target.store(&h);
        struct sigaction sa {};
        sa.sa_handler = &detail::stop_on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0; // no SA_RESTART: a blocking wait in run() sees EINTR and rechecks
        for (int i = 0; i < 3; ++i)
            ::sigaction(signals[i], &sa, &old_[i]);
    }
    ~signal_stopper() {
        for (int i = 0; i < 3; ++i)
            ::sigaction(signals[i], &old_[i], nullptr);
        detail::signal_target.store(nullptr);
    }
    signal_stopper(const signal_stopper&) = delete;
    signal_stopper& operator=(const signal_stopper&) = delete;

private:
    static constexpr int signals[3] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction old_[3] {};
};

/// The whole foreground life of a server: installs the signal handlers, mounts `h`, tells
/// `on_mounted(error)` how mounting went (0 or -errno: print the nodes, wake a parent, ...),
/// then, if mounted, serves until SIGINT/SIGTERM/SIGHUP or stop() and unmounts. The handlers
/// go in before mount() so that a signal arriving early still ends in a clean unmount.
/// Returns mount()'s error, else run()'s result.
template <class OnMounted>
int serve_until_signal(host& h, OnMounted&& on_mounted) {
    signal_stopper stopper(h);
    int e = h.mount();
    on_mounted(e);
    if (e)
        return e;
    int rc = h.run();
    h.unmount(); // while the caller's devices and registrations are still alive
    return rc;
}

} // namespace accel::fuse
