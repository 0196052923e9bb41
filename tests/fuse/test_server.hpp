// SPDX-License-Identifier: MIT
// The server the FUSE tests talk to. The test program re-executes itself in this mode
// (fuse_main.cpp) rather than serving from a thread or a bare fork: a process that serves and
// uses the same mount can deadlock, and a fresh exec has no inherited threads or locks.
//
//   <test program> --accel-fuse-serve <mount point> <ready fd>
// serves device 0 = test_driver, 1 = exclusive_test_driver, 2 = gate_driver; writes mount()'s
// result (an int, 0 or -errno) to <ready fd>, serves until SIGTERM/SIGINT, unmounts, exits 0.
// SIGUSR1 unregisters (unplugs) device 0 while serving, for the hot-unplug tests.
// With ACCEL_TEST_SERVE_SYNCOBJ=1 in the environment (inherited by the re-executed server), it
// also serves device 3 = syncobj_driver (tests/core/syncobj_driver.hpp), for the syncobj tests;
// the other tests see the three devices only. With ACCEL_TEST_SERVE_NO_DEFAULT_PERMISSIONS=1 it
// mounts without default_permissions (the permission tests: the host's own check alone).
// ACCEL_TEST_SERVE_NODE_ACCESS="<uid> <gid> <octal mode>" and ACCEL_TEST_SERVE_RULES (rule lines)
// replace the program's access policy (set_policy_environment: a fixture restarts its server
// with another policy).
#pragma once
#include "gate_driver.hpp"
#include "syncobj_driver.hpp"
#include "test_drivers.hpp"

#include <cstdlib>

#include <accel/fuse/serve.hpp>
#include <accel/monitor/access.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <pthread.h>
#include <string>
#include <thread>
#include <unistd.h>

namespace accel::test {

inline constexpr const char* serve_flag = "--accel-fuse-serve";

/// A test program may serve one more device, as minor 3, and choose the host's options: its
/// static initialiser fills this in (only that program then has the device).
struct extra_serving {
    result<registration> (*add)(subsystem&) = nullptr;
    fuse::host_options options{};
};
inline extra_serving& extra_device() {
    static extra_serving e;
    return e;
}

/// A test program whose tests act as root and as other users (a static initialiser sets it):
/// run as another user, fuse_main.cpp skips it (exit 77) with a message.
inline bool& needs_root() {
    static bool r = false;
    return r;
}


inline constexpr const char* node_access_env = "ACCEL_TEST_SERVE_NODE_ACCESS";
inline constexpr const char* rules_env = "ACCEL_TEST_SERVE_RULES";

/// Puts `p` in the environment the next server inherits (see the file comment); a null `p`
/// takes it out again.
inline void set_policy_environment(const access_policy* p) {
    if (!p) {
        ::unsetenv(node_access_env);
        ::unsetenv(rules_env);
        return;
    }
    const node_access& d = p->node_defaults();
    char defaults[64];
    std::snprintf(defaults, sizeof defaults, "%u %u %o", static_cast<unsigned>(d.uid), static_cast<unsigned>(d.gid),
                  static_cast<unsigned>(d.mode));
    std::string rules;
    for (const access_rule& r : p->rules()) {
        std::string line;
        auto add = [&](const char* key, const char* op, const std::string& v) {
            line += (line.empty() ? "" : ", ") + std::string(key) + op + "\"" + v + "\"";
        };
        if (!r.kernel.empty())
            add("KERNEL", "==", r.kernel);
        if (!r.path.empty())
            add("PATH", "==", r.path);
        if (!r.driver.empty())
            add("DRIVER", "==", r.driver);
        if (r.owner)
            add("OWNER", "=", std::to_string(*r.owner));
        if (r.group)
            add("GROUP", "=", std::to_string(*r.group));
        if (r.mode) {
            char m[16];
            std::snprintf(m, sizeof m, "%04o", static_cast<unsigned>(*r.mode));
            add("MODE", "=", m);
        }
        rules += line + "\n";
    }
    ::setenv(node_access_env, defaults, 1);
    ::setenv(rules_env, rules.c_str(), 1);
}

/// The policy set_policy_environment() left, into `p`: false when there is none or it is bad.
inline bool policy_from_environment(access_policy& p) {
    const char* d = std::getenv(node_access_env);
    const char* r = std::getenv(rules_env);
    if (!d || !r)
        return false;
    unsigned uid = 0, gid = 0, mode = 0;
    if (std::sscanf(d, "%u %u %o", &uid, &gid, &mode) != 3)
        return false;
    access_policy fresh;
    fresh.set_node_defaults({static_cast<uid_t>(uid), static_cast<gid_t>(gid), static_cast<mode_t>(mode)});
    if (fresh.load_rules(r) != 0)
        return false;
    p = std::move(fresh);
    return true;
}

inline int serve_test_devices(const std::string& mount_point, int ready_fd) {
    subsystem sub;
    registration regs[3];
    registration syncobj_reg;
    {
        auto d0 = device<test_driver>::create();
        auto d1 = device<exclusive_test_driver>::create();
        auto d2 = device<gate_driver>::create();
        if (!d0 || !d1 || !d2)
            return 2;
        auto r0 = sub.register_device(*d0);
        auto r1 = sub.register_device(*d1);
        auto r2 = sub.register_device(*d2);
        if (!r0 || !r1 || !r2)
            return 2;
        regs[0] = std::move(*r0);
        regs[1] = std::move(*r1);
        regs[2] = std::move(*r2);
        if (const char* e = std::getenv("ACCEL_TEST_SERVE_SYNCOBJ"); e && e[0] == '1') {
            auto d3 = device<syncobj_driver>::create();
            if (!d3)
                return 2;
            auto r3 = sub.register_device(*d3);
            if (!r3)
                return 2;
            syncobj_reg = std::move(*r3);
        }
    }
    registration extra;
    if (extra_device().add) {
        auto r = extra_device().add(sub);
        if (!r)
            return 2;
        extra = std::move(*r);
    }
    // Unregistering waits for calls in flight, so it runs on its own thread, which takes SIGUSR1
    // with sigtimedwait: the signal is blocked in every thread (they all start after this), so
    // no handler runs anywhere.
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, nullptr);
    std::atomic<bool> serving{true};
    std::thread unplugger([&] {
        const timespec tick{0, 20'000'000};
        while (serving.load())
            if (sigtimedwait(&usr1, nullptr, &tick) == SIGUSR1)
                regs[0].reset();
    });
    fuse::host_options options = extra_device().options;
    if (const char* e = std::getenv("ACCEL_TEST_SERVE_NO_DEFAULT_PERMISSIONS"); e && e[0] == '1')
        options.default_permissions = false;
    if (std::getenv(node_access_env) && !policy_from_environment(options.access))
        return 2;
    fuse::host h(sub, mount_point, options);
    int mount_error = 0;
    int rc = fuse::serve_until_signal(h, [&](int e) {
        mount_error = e;
        [[maybe_unused]] ssize_t w = ::write(ready_fd, &e, sizeof e);
        ::close(ready_fd);
    });
    serving = false;
    unplugger.join();
    if (mount_error)
        return 3;
    return rc == 0 ? 0 : 4;
}

} // namespace accel::test
