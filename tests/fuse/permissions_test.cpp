// SPDX-License-Identifier: MIT
// Node permissions through FUSE as an unprivileged user (fuse/device_tree.hpp, fuse/handlers.hpp,
// monitor/access.hpp): the served files report the owner, group and mode the server's access
// policy gives them; the kernel enforces them at open (the mount's default_permissions, with the
// caller's supplementary groups) and so does the host; root-only ioctls stay root-only for a
// user the mode lets open a node read-write.
//
// The clients that must be refused run in forked children that drop to uid 65534 (nobody) with
// setgroups/setgid/setuid; the server (a child too, test_server.hpp) runs as root and mounts with
// allow_other, and the mount's parent directories are 0755 (make_temp_dir), so they reach it.
// Dropping privileges needs root: run as another user, the tests say so and check nothing.
#include "fuse_fixture.hpp"
#include "test_server.hpp"

#include <accel/core/dispatch.hpp>
#include <accel/monitor/access.hpp>
#include <accel/uapi/accel_monitor.h>
#include <accel/uapi/accel_reset.h>

#include <fstream>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include <vector>

namespace accel::test {
namespace {

constexpr uid_t nobody = 65534;
constexpr gid_t nogroup = 65534;
constexpr uid_t accel1_owner = 1234;
constexpr gid_t accel1_group = 4242;

/// The server's policy (this program's server only: it re-executes this program, whose static
/// initialiser sets it there too): nodes root:root 0660; monitor nodes 0644; device 1 (driver
/// test_excl) owned by 1234:4242; device 2's compute node 0666 (anyone may open it read-write),
/// and its sysfs reset writable by group 4242.
const bool policy_configured = [] {
    access_policy& p = extra_device().options.access;
    p.set_node_defaults({0, 0, 0660});
    for (const char* rule : {R"(KERNEL=="accel_controlD*", MODE="0644")",
                             R"(DRIVER=="test_excl", KERNEL=="accel1", OWNER="1234", GROUP="4242")",
                             R"(PATH=="accel/accel2", MODE="0666")",
                             R"(PATH=="sys/class/accel/accel2/reset", GROUP="4242", MODE="0220")"}) {
        auto r = access_policy::parse_rule(rule);
        if (!r)
            std::abort(); // a typo in this table
        p.add_rule(std::move(*r));
    }
    return true;
}();

bool can_drop_privileges() {
    if (::geteuid() == 0)
        return true;
    MESSAGE("not root: the permission tests need to drop to another user; skipped");
    return false;
}

/// Runs `fn()` in a forked child as `uid`:`gid` with supplementary `groups`, and returns the
/// ints it returned (results, -errno). The child checks the drop took effect.
template <class Fn>
std::vector<int> as_user(uid_t uid, gid_t gid, const std::vector<gid_t>& groups, Fn&& fn) {
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::close(p[0]);
        if (::setgroups(groups.size(), groups.data()) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0)
            ::_exit(3);
        if (::geteuid() != uid || ::getegid() != gid || ::setuid(0) == 0) // no way back to root
            ::_exit(4);
        const std::vector<int> out = fn();
        const int n = static_cast<int>(out.size());
        bool ok = ::write(p[1], &n, sizeof n) == static_cast<ssize_t>(sizeof n);
        ok = ok && ::write(p[1], out.data(), out.size() * sizeof(int)) == static_cast<ssize_t>(out.size() * sizeof(int));
        ::_exit(ok ? 0 : 5);
    }
    ::close(p[1]);
    std::vector<int> out;
    int n = 0;
    if (::read(p[0], &n, sizeof n) == static_cast<ssize_t>(sizeof n) && n >= 0 && n < 1024) {
        out.resize(static_cast<std::size_t>(n));
        const auto bytes = static_cast<ssize_t>(out.size() * sizeof(int));
        if (::read(p[0], out.data(), out.size() * sizeof(int)) != bytes)
            out.clear();
    }
    ::close(p[0]);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    return out;
}

/// open(2) with `flags`: 0 when it opened (the descriptor is closed again), else -errno.
int try_open(const std::string& path, int flags) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ::close(fd);
    return 0;
}

int try_ioctl(int fd, unsigned long request, void* arg) {
    return ::ioctl(fd, request, arg) == 0 ? 0 : -errno;
}

/// st_uid, st_gid and the permission bits of `path` (and -errno on failure, in the first).
std::vector<int> owner_group_mode(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return {-errno, 0, 0};
    return {static_cast<int>(st.st_uid), static_cast<int>(st.st_gid), static_cast<int>(st.st_mode & 07777)};
}

/// The options /proc/self/mounts shows for the mount at `dir` (empty if none).
std::string mount_options(const std::string& dir) {
    std::ifstream in("/proc/self/mounts");
    std::string src, where, type, opts, rest;
    while (in >> src >> where >> type >> opts && std::getline(in, rest))
        if (where == dir)
            return opts;
    return {};
}

} // namespace

TEST_CASE("fuse permissions: stat shows the owner, group and mode the policy gives") {
    REQUIRE(policy_configured);
    fuse_fixture fx;
    using v = std::vector<int>;
    CHECK(owner_group_mode(fx.compute(0)) == v{0, 0, 0660});
    CHECK(owner_group_mode(fx.monitor(0)) == v{0, 0, 0644});
    CHECK(owner_group_mode(fx.compute(1)) == v{static_cast<int>(accel1_owner), static_cast<int>(accel1_group), 0660});
    CHECK(owner_group_mode(fx.monitor(1)) == v{0, 0, 0644}); // KERNEL=="accel1" is the compute node's only
    CHECK(owner_group_mode(fx.compute(2)) == v{0, 0, 0666});
    CHECK(owner_group_mode(fx.monitor(2)) == v{0, 0, 0644});
    // Directories are root's, 0755, as sysfs's and /dev's.
    for (const char* d : {"", "/accel", "/sys", "/sys/class", "/sys/class/accel", "/sys/class/accel/accel0"})
        CHECK(owner_group_mode(fx.mnt + d) == v{0, 0, 0755});
    struct stat st {};
    REQUIRE(::stat(fx.compute(0).c_str(), &st) == 0);
    CHECK(S_ISREG(st.st_mode));
    REQUIRE(::stat(fx.mnt.c_str(), &st) == 0);
    CHECK(S_ISDIR(st.st_mode));

    // Another process sees its own view of a compute node (another inode, fuse/process_view.hpp)
    // with the node's owner, group and mode; so does an unprivileged one.
    if (!can_drop_privileges())
        return;
    const v theirs = as_user(nobody, nogroup, {}, [&] {
        v out = owner_group_mode(fx.compute(1));
        struct stat mine {};
        out.push_back(::stat(fx.compute(1).c_str(), &mine) == 0 ? static_cast<int>(mine.st_ino) : -errno);
        return out;
    });
    REQUIRE(theirs.size() == 4);
    CHECK(theirs[0] == static_cast<int>(accel1_owner));
    CHECK(theirs[1] == static_cast<int>(accel1_group));
    CHECK(theirs[2] == 0660);
    struct stat mine {};
    REQUIRE(::stat(fx.compute(1).c_str(), &mine) == 0);
    CHECK(theirs[3] > 0);
    CHECK(static_cast<ino_t>(theirs[3]) != mine.st_ino);
}

TEST_CASE("fuse permissions: a user the mode does not admit gets EACCES at open") {
    REQUIRE(policy_configured);
    if (!can_drop_privileges())
        return;
    fuse_fixture fx;
    const std::vector<int> r = as_user(nobody, nogroup, {}, [&] {
        return std::vector<int>{
            try_open(fx.compute(0), O_RDWR),   // root:root 0660
            try_open(fx.compute(0), O_RDONLY), //
            try_open(fx.monitor(0), O_RDONLY), // 0644: anyone reads
            try_open(fx.monitor(0), O_RDWR),   // but only root writes
            try_open(fx.compute(2), O_RDWR),   // 0666
            try_open(fx.mnt + "/sys/class/accel/accel0/dev", O_RDONLY),
        };
    });
    CHECK(r == std::vector<int>{-EACCES, -EACCES, 0, -EACCES, 0, 0});
    // Root passes (CAP_DAC_OVERRIDE).
    CHECK(try_open(fx.compute(0), O_RDWR) == 0);
    CHECK(try_open(fx.monitor(0), O_RDWR) == 0);
}

TEST_CASE("fuse permissions: a rule's group admits its members, supplementary groups included") {
    REQUIRE(policy_configured);
    if (!can_drop_privileges())
        return;
    fuse_fixture fx;
    auto opens = [&] {
        return std::vector<int>{try_open(fx.compute(1), O_RDWR), try_open(fx.monitor(1), O_RDONLY),
                                try_open(fx.compute(0), O_RDWR)};
    };
    // 1234:4242 0660: a member of 4242 reads and writes; device 0 stays root's.
    CHECK(as_user(nobody, accel1_group, {}, opens) == std::vector<int>{0, 0, -EACCES});
    CHECK(as_user(nobody, nogroup, {accel1_group}, opens) == std::vector<int>{0, 0, -EACCES});
    CHECK(as_user(nobody, nogroup, {}, opens) == std::vector<int>{-EACCES, 0, -EACCES});
    // The owner has the owner's bits.
    CHECK(as_user(accel1_owner, nogroup, {}, opens) == std::vector<int>{0, 0, -EACCES});
}

TEST_CASE("fuse permissions: root-only ioctls stay root-only on a node anyone may open read-write") {
    REQUIRE(policy_configured);
    if (!can_drop_privileges())
        return;
    fuse_fixture fx;
    auto calls = [&] {
        std::vector<int> out;
        const int fd = ::open(fx.compute(2).c_str(), O_RDWR | O_CLOEXEC);
        out.push_back(fd >= 0 ? 0 : -errno);
        if (fd < 0)
            return out;
        accel_reset_request reset{};
        out.push_back(try_ioctl(fd, ACCEL_IOCTL_RESET, &reset));
        accel_clear_stats clear{};
        out.push_back(try_ioctl(fd, ACCEL_IOCTL_CLEAR_STATS, &clear));
        out.push_back(try_ioctl(fd, GATE_IOCTL_OPEN, nullptr)); // the node itself works
        ::close(fd);
        const int mon = ::open(fx.monitor(2).c_str(), O_RDONLY | O_CLOEXEC);
        out.push_back(mon >= 0 ? 0 : -errno);
        if (mon >= 0) {
            out.push_back(try_ioctl(mon, ACCEL_IOCTL_RESET, &reset));
            ::close(mon);
        }
        return out;
    };
    // CLEAR_STATS is checked where the core has its row (it comes with the monitor items).
    bool not_tty = false;
    auto probe = device<gate_driver>::create();
    REQUIRE(probe);
    const bool has_clear_stats = accel::detail::find_slot(**probe, ACCEL_IOCTL_CLEAR_STATS, not_tty) != nullptr;
    if (!has_clear_stats)
        MESSAGE("this core has no ACCEL_IOCTL_CLEAR_STATS row: its checks are left out");
    const std::vector<int> theirs = as_user(nobody, nogroup, {}, calls);
    REQUIRE(theirs.size() == 6);
    CHECK(theirs[0] == 0);
    CHECK(theirs[1] == -EACCES);
    if (has_clear_stats)
        CHECK(theirs[2] == -EACCES);
    CHECK(theirs[3] == 0);
    CHECK(theirs[4] == 0);
    CHECK(theirs[5] == -EACCES);
    // Root gets past the check: the gate device has no reset handler, and its statistics clear.
    const std::vector<int> root = calls();
    REQUIRE(root.size() == 6);
    CHECK(root[1] == -EOPNOTSUPP);
    if (has_clear_stats)
        CHECK(root[2] == 0);
    CHECK(root[5] == -EOPNOTSUPP);
}

TEST_CASE("fuse permissions: the host refuses by itself on a mount without default_permissions") {
    REQUIRE(policy_configured);
    if (!can_drop_privileges())
        return;
    REQUIRE(::setenv("ACCEL_TEST_SERVE_NO_DEFAULT_PERMISSIONS", "1", 1) == 0);
    struct unset {
        ~unset() { ::unsetenv("ACCEL_TEST_SERVE_NO_DEFAULT_PERMISSIONS"); }
    } after;
    fuse_fixture fx;
    const std::string opts = mount_options(fx.mnt);
    CHECK(opts.find("allow_other") != std::string::npos);
    CHECK(opts.find("default_permissions") == std::string::npos); // the kernel checks nothing
    auto opens = [&] {
        return std::vector<int>{try_open(fx.compute(0), O_RDWR), try_open(fx.monitor(0), O_RDWR),
                                try_open(fx.monitor(0), O_RDONLY), try_open(fx.compute(1), O_RDWR),
                                try_open(fx.compute(2), O_RDWR)};
    };
    CHECK(as_user(nobody, nogroup, {}, opens) == std::vector<int>{-EACCES, -EACCES, 0, -EACCES, 0});
    CHECK(as_user(nobody, nogroup, {}, [&] {
              return std::vector<int>{try_open(fx.mnt + "/sys/class/accel/accel0/reset", O_WRONLY),
                                      try_open(fx.mnt + "/sys/class/accel/accel0/status", O_RDONLY),
                                      try_open(fx.mnt + "/sys/class/accel/accel0/status", O_WRONLY)};
          }) == std::vector<int>{-EACCES, 0, -EACCES});
    CHECK(as_user(nobody, nogroup, {accel1_group}, opens) == std::vector<int>{-EACCES, -EACCES, 0, 0, 0});
    CHECK(opens() == std::vector<int>{0, 0, 0, 0, 0}); // root
}

TEST_CASE("fuse permissions: the mount is made with allow_other and default_permissions as root") {
    REQUIRE(policy_configured);
    if (!can_drop_privileges())
        return;
    fuse_fixture fx;
    const std::string opts = mount_options(fx.mnt);
    CHECK(opts.find("allow_other") != std::string::npos);
    CHECK(opts.find("default_permissions") != std::string::npos);
}

TEST_CASE("fuse permissions: attribute files - reset is root's whatever a rule opens it to, debugfs is root's") {
    REQUIRE(policy_configured);
    fuse_fixture fx;
    const std::string sys0 = fx.mnt + "/sys/class/accel/accel0", sys2 = fx.mnt + "/sys/class/accel/accel2";
    const std::string dbg0 = fx.mnt + "/sys/kernel/debug/accel/0";
    using v = std::vector<int>;
    CHECK(owner_group_mode(sys0 + "/reset") == v{0, 0, 0200});
    CHECK(owner_group_mode(sys0 + "/status") == v{0, 0, 0444});
    CHECK(owner_group_mode(sys2 + "/reset") == v{0, static_cast<int>(accel1_group), 0220});
    CHECK(owner_group_mode(dbg0 + "/name") == v{0, 0, 0444});
    CHECK(owner_group_mode(dbg0 + "/clients") == v{0, 0, 0400}); // the kernel's debugfs root is 0700
    if (!can_drop_privileges())
        return;
    auto attempts = [&] {
        auto write_reset = [](const std::string& path) {
            const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
            if (fd < 0)
                return -errno;
            const int r = ::write(fd, "1\n", 2) == 2 ? 0 : -errno;
            ::close(fd);
            return r;
        };
        return v{write_reset(sys0 + "/reset"),        try_open(sys0 + "/status", O_RDONLY),
                 try_open(sys0 + "/status", O_WRONLY), try_open(dbg0 + "/name", O_RDONLY),
                 try_open(sys2 + "/reset", O_WRONLY),  write_reset(sys2 + "/reset"),
                 try_open(dbg0 + "/clients", O_RDONLY)};
    };
    CHECK(as_user(nobody, nogroup, {}, attempts) == v{-EACCES, 0, -EACCES, 0, -EACCES, -EACCES, -EACCES});
    // The rule's group opens sys2's reset (its mode says so) but its write is refused: the store
    // is root's, as ACCEL_IOCTL_RESET is.
    CHECK(as_user(nobody, accel1_group, {}, attempts) == v{-EACCES, 0, -EACCES, 0, 0, -EACCES, -EACCES});
    CHECK(as_user(nobody, nogroup, {accel1_group}, attempts) == v{-EACCES, 0, -EACCES, 0, 0, -EACCES, -EACCES});
    // Root writes reset (the gate device has no reset handler: a permitted store answers
    // EOPNOTSUPP) and reads debugfs; no one, root included, writes a file without a store.
    const v root = attempts();
    REQUIRE(root.size() == 7);
    CHECK(root[0] != -EACCES);
    CHECK(root[2] == -EACCES);
    CHECK(root[5] == -EOPNOTSUPP);
    CHECK(root[6] == 0);
}

} // namespace accel::test
