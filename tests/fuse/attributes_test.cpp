// SPDX-License-Identifier: MIT
// The attribute trees served as files (fuse/device_tree.hpp, fuse/handlers.hpp): the attribute
// conformance suite (tests/monitor/attribute_conformance.hpp, the same as on the mock) through a
// FUSE mount with real system calls, and what only a mount shows - cat(1) reading a file whose
// content is shorter than its st_size, partial reads at offsets, O_TRUNC, lseek against the 4096
// bytes of st_size, fdinfo files of clients in other processes (closing or killed), listings.
//
// The test server (test_server.hpp) serves attr_test_driver (tests/monitor) as device 3 besides
// the three test devices.
#include "attribute_conformance.hpp"
#include "attribute_test_driver.hpp"
#include "fuse_fixture.hpp"
#include "mock_attribute_fixture.hpp"
#include "test_server.hpp"

#include <accel/fuse/device_tree.hpp>
#include <accel/monitor/attribute_paths.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <grp.h>
#include <sys/wait.h>
#include <thread>

namespace accel::test {
namespace {

/// A system call's errno when it returned -1 (read at once: doctest's output, with -s, can change
/// errno before a later CHECK reads it), else 0.
template <class R>
int failed_with(R r) {
    return r == -1 ? errno : 0;
}

constexpr unsigned attr_minor = 3;

/// The suite acts as root (reset is root's) and as uid 65534 (fuse_main.cpp skips otherwise).
const bool serves_attr_device = [] {
    needs_root() = true;
    extra_device().add = [](subsystem& sub) -> result<registration> {
        auto d = device<attr_test_driver>::create();
        if (!d)
            return result<registration>::failure(d.error());
        return sub.register_device(*d);
    };
    return true;
}();

/// The attribute suite's fixture on a FUSE mount: paths under the mount, real system calls, the
/// unprivileged caller a forked child as uid and gid 65534.
struct fuse_attribute_fixture : fuse_fixture {
    fuse_attribute_fixture() { REQUIRE(serves_attr_device); }
    ~fuse_attribute_fixture() { set_policy_environment(nullptr); }

    std::string root() const { return mnt; }
    unsigned minor() const { return attr_minor; }
    int open(const std::string& p, int flags) {
        const int fd = ::open(p.c_str(), flags | O_CLOEXEC);
        return fd >= 0 ? fd : -errno;
    }
    long read(int fd, void* buf, std::size_t n) { return result_of(::read(fd, buf, n)); }
    long pread(int fd, void* buf, std::size_t n, off_t off) { return result_of(::pread(fd, buf, n, off)); }
    long write(int fd, const void* buf, std::size_t n) { return result_of(::write(fd, buf, n)); }
    long long lseek(int fd, long long off, int whence) {
        const off_t r = ::lseek(fd, static_cast<off_t>(off), whence);
        return r >= 0 ? static_cast<long long>(r) : -errno;
    }
    int close(int fd) { return ::close(fd) == 0 ? 0 : -errno; }
    int stat(const std::string& p, struct stat& st) { return ::stat(p.c_str(), &st) == 0 ? 0 : -errno; }
    std::vector<std::string> list(const std::string& p) {
        std::vector<std::string> names;
        DIR* d = ::opendir(p.c_str());
        if (!d)
            return names;
        while (dirent* e = ::readdir(d))
            if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..")
                names.emplace_back(e->d_name);
        ::closedir(d);
        std::sort(names.begin(), names.end());
        return names;
    }
    /// open(2) as uid 65534, gid 65534, no supplementary groups, in a forked child (root only;
    /// as another user the test runs unprivileged already and opens itself).
    int open_unprivileged(const std::string& p, int flags) {
        if (::geteuid() != 0) {
            const int fd = open(p, flags);
            return fd >= 0 ? close(fd) : fd;
        }
        const pid_t child = ::fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0)
                ::_exit(255);
            const int fd = ::open(p.c_str(), flags | O_CLOEXEC);
            ::_exit(fd >= 0 ? 0 : errno);
        }
        int status = 0;
        REQUIRE(::waitpid(child, &status, 0) == child);
        REQUIRE(WIFEXITED(status));
        REQUIRE(WEXITSTATUS(status) != 255);
        return -WEXITSTATUS(status);
    }
    /// The server's policy is fixed while it serves: it restarts with `p`.
    void set_access_policy(const access_policy& p) {
        set_policy_environment(&p);
        CHECK(stop_server(SIGTERM) == 0);
        start_server();
    }

    static long result_of(ssize_t r) { return r >= 0 ? static_cast<long>(r) : -errno; }
};

std::string sysfs(const fuse_fixture& fx, const std::string& rel = {}) {
    return fx.mnt + "/" + sysfs_device_dir(attr_minor) + (rel.empty() ? "" : "/" + rel);
}
std::string debugfs(const fuse_fixture& fx, const std::string& rel = {}) {
    return fx.mnt + "/" + debugfs_device_dir(attr_minor) + (rel.empty() ? "" : "/" + rel);
}

/// What cat(1) prints for `path` (its exit status in `status`).
std::string cat(const std::string& path, int& status) {
    const std::string cmd = "cat '" + path + "' 2>/dev/null";
    std::FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out;
    char buf[1024];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
        out.append(buf, n);
    status = ::pclose(p);
    return out;
}

/// The fdinfo file names of the attribute device's clients.
std::vector<std::string> fdinfo_names(fuse_attribute_fixture& fx) { return fx.list(debugfs(fx, "fdinfo")); }

} // namespace

TEST_CASE_TEMPLATE_INSTANTIATE(attribute_conformance, fuse_attribute_fixture);

TEST_CASE("fuse attributes: cat reads the whole content and stops, whatever st_size says") {
    fuse_attribute_fixture fx;
    int status = -1;
    CHECK(cat(sysfs(fx, "dev"), status) == "261:3\n");
    CHECK(status == 0);
    CHECK(cat(sysfs(fx, "hwmon/hwmon0/temp1_input"), status) == "45000\n");
    const std::string big = cat(sysfs(fx, "device/big"), status);
    CHECK(status == 0);
    CHECK(big.size() == 4095); // a show cut to a page less one, as sysfs does
    CHECK(cat(debugfs(fx, "name"), status) == "attr-test dev=accel3 unique=accel3\n"); // st_size 0
    cat(sysfs(fx, "device/show_error"), status);
    CHECK(status != 0);
    struct stat st {};
    REQUIRE(::stat(sysfs(fx, "dev").c_str(), &st) == 0);
    CHECK(st.st_size == 4096);
    CHECK(st.st_blocks == 0);
}

TEST_CASE("fuse attributes: reads of any size at any offset are slices of one show") {
    fuse_attribute_fixture fx;
    const std::string path = sysfs(fx, "uevent");
    const std::string whole = read_file(path);
    REQUIRE(whole == "MAJOR=261\nMINOR=3\nDEVNAME=accel/accel3\n");
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    std::string pieces;
    char c[3];
    ssize_t n;
    while ((n = ::read(fd, c, sizeof c)) > 0) // 3 bytes at a time: the position moves by each
        pieces.append(c, static_cast<std::size_t>(n));
    CHECK(n == 0);
    CHECK(pieces == whole);
    char buf[64] = {};
    CHECK(::pread(fd, buf, 5, 10) == 5);
    CHECK(std::string_view(buf, 5) == whole.substr(10, 5));
    CHECK(::pread(fd, buf, sizeof buf, static_cast<off_t>(whole.size()) - 2) == 2);
    CHECK(::pread(fd, buf, sizeof buf, static_cast<off_t>(whole.size())) == 0);
    CHECK(::pread(fd, buf, sizeof buf, 4096) == 0);
    CHECK(::pread(fd, buf, sizeof buf, 1 << 20) == 0);
    CHECK(::lseek(fd, 0, SEEK_END) == 4096);
    CHECK(::read(fd, buf, sizeof buf) == 0);
    ::close(fd);
    // A big show read at its end, past the first page's worth of FUSE reads.
    const int big = ::open(sysfs(fx, "device/big").c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(big >= 0);
    std::vector<char> b(8192);
    CHECK(::pread(big, b.data(), b.size(), 4090) == 5);
    CHECK(::pread(big, b.data(), b.size(), 0) == 4095);
    ::close(big);
}

TEST_CASE("fuse attributes: stores through open(O_TRUNC), a page at most, errors as the store's") {
    fuse_attribute_fixture fx;
    const std::string value = sysfs(fx, "device/value");
    // `echo 7 > value`: O_WRONLY|O_CREAT|O_TRUNC; the truncation changes nothing.
    int fd = ::open(value.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    CHECK(::write(fd, "7\n", 2) == 2);
    ::close(fd);
    CHECK(read_file(value) == "7\n");
    struct stat st {};
    REQUIRE(::stat(value.c_str(), &st) == 0);
    CHECK(st.st_size == 4096); // still
    fd = ::open(value.c_str(), O_WRONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    const std::string page(4097, '1');
    CHECK(failed_with(::write(fd, page.data(), page.size())) == EINVAL);
    CHECK(failed_with(::write(fd, "1001\n", 5)) == EINVAL); // the driver's range: 0..1000
    ::close(fd);
    CHECK(read_file(value) == "7\n");
    fd = ::open(sysfs(fx, "device/failing").c_str(), O_WRONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    CHECK(failed_with(::write(fd, "1\n", 2)) == EIO);
    ::close(fd);
    // Ownership is the policy's: chmod and chown are refused.
    CHECK(failed_with(::chmod(value.c_str(), 0666)) == EPERM);
    CHECK(failed_with(::chown(value.c_str(), 1, 1)) == EPERM);
    CHECK(failed_with(::truncate(sysfs(fx, "hwmon").c_str(), 0)) == EISDIR);
}

TEST_CASE("fuse attributes: fdinfo/<client-id> of a client in another process, gone when it closes or dies") {
    fuse_attribute_fixture fx;
    CHECK(fdinfo_names(fx).empty());
    const std::string compute = fx.mnt + "/" + node_name(node_kind::compute, attr_minor);
    for (bool killed : {false, true}) {
        CAPTURE(killed);
        int go[2], opened[2];
        REQUIRE(::pipe(go) == 0);
        REQUIRE(::pipe(opened) == 0);
        const pid_t child = ::fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            const int fd = ::open(compute.c_str(), O_RDWR | O_CLOEXEC);
            char c = fd >= 0 ? 'y' : 'n';
            [[maybe_unused]] ssize_t w = ::write(opened[1], &c, 1);
            if (::read(go[0], &c, 1) != 1 || c == 'k')
                ::_exit(0); // dies with the file open: the kernel closes it
            ::close(fd);
            w = ::write(opened[1], &c, 1);
            ::pause();
            ::_exit(0);
        }
        char c = 0;
        REQUIRE(::read(opened[0], &c, 1) == 1);
        REQUIRE(c == 'y');
        const std::vector<std::string> ids = fdinfo_names(fx);
        REQUIRE(ids.size() == 1);
        const std::string path = debugfs(fx, "fdinfo/" + ids[0]);
        // Keys and values as in /proc/<pid>/fdinfo: "key:\tvalue" lines.
        const std::string text = read_file(path);
        CHECK(text.find("drm-driver:\tattr-test\n") != std::string::npos);
        CHECK(text.find("drm-client-id:\t" + ids[0] + "\n") != std::string::npos);
        int status = -1;
        CHECK(cat(path, status) == text);
        struct stat st {};
        REQUIRE(::stat(path.c_str(), &st) == 0);
        CHECK(st.st_size == 0); // debugfs
        CHECK((st.st_mode & 07777) == 0400); // debugfs fdinfo files are root-only by default (the kernel's debugfs root is 0700)
        // The debugfs clients table has the client's process.
        const std::string clients = read_file(debugfs(fx, "clients"));
        CHECK(clients.find(" " + std::to_string(child) + " ") != std::string::npos);
        const int held = ::open(path.c_str(), O_RDONLY | O_CLOEXEC); // read after the client goes
        REQUIRE(held >= 0);
        c = killed ? 'k' : 'c';
        REQUIRE(::write(go[1], &c, 1) == 1);
        if (killed) {
            int s = 0;
            REQUIRE(::waitpid(child, &s, 0) == child);
        } else {
            REQUIRE(::read(opened[0], &c, 1) == 1); // close(2) has returned in the child
        }
        // Gone at once in the usual case: the host waits up to its release grace for a flushed
        // file's RELEASE before listing (close(2)), and exit's close is not a close(2) at all.
        // On a loaded machine either release may come later than one listing: poll, with a
        // deadline (5 s).
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (!fdinfo_names(fx).empty() && std::chrono::steady_clock::now() < deadline)
            ::usleep(2000);
        CHECK(fdinfo_names(fx).empty());
        CHECK(failed_with(::stat(path.c_str(), &st)) == ENOENT);
        char buf[256];
        CHECK(failed_with(::pread(held, buf, sizeof buf, 0)) == EIO); // debugfs: a removed file reads -EIO
        ::close(held);
        if (!killed) {
            ::kill(child, SIGKILL);
            int s = 0;
            ::waitpid(child, &s, 0);
        }
        for (int p : {go[0], go[1], opened[0], opened[1]})
            ::close(p);
    }
}

TEST_CASE("fuse attributes: a listing made before a client's close never re-adds its fdinfo file") {
    // In process, no mount: a device_tree over the mock fixture's subsystem. Lookup A lists the
    // debugfs tree while the client is open; between its listing and applying it (the test
    // hook), the client closes and listing B starts. B must wait for A (one listing per device
    // and tree at a time) and then remove fdinfo/<id>; without that, B removes the file first
    // and A's older listing adds it back.
    mock_attribute_fixture fx;
    fuse::device_tree tree(fx.sub);
    auto no_process = [] { return fuse::process_key{}; };
    auto walk = [&](const std::string& path) {
        fuse_ino_t ino = FUSE_ROOT_ID;
        std::string_view rest = path;
        while (!rest.empty()) {
            const auto slash = rest.find('/');
            auto f = tree.lookup(ino, rest.substr(0, slash), no_process);
            REQUIRE(f);
            ino = f->ino;
            rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
        }
        return ino;
    };
    const int client = fx.open(fx.root() + "/" + node_name(node_kind::monitor, fx.minor()), O_RDONLY);
    REQUIRE(client >= 0);
    std::uint64_t id = 0;
    fx.dev->for_each_file([&](const file_base& f) { id = f.client_id(); });
    const fuse_ino_t fdinfo_dir = walk(debugfs_device_dir(fx.minor()) + "/fdinfo");
    auto listed = tree.list(fdinfo_dir);
    REQUIRE(listed);
    CHECK(std::any_of(listed->begin(), listed->end(), [&](const auto& e) { return e.name == std::to_string(id); }));

    std::atomic<bool> armed{true};
    std::thread b;
    std::future<void> b_done;
    tree.after_attribute_listing([&](const device_base&, attribute_tree t) {
        if (t != attribute_tree::debugfs || !armed.exchange(false))
            return;
        fx.close(client);
        // B's directory goes with the last client: its READDIR answers -ENOENT.
        std::packaged_task<void()> task([&] { (void)tree.list(fdinfo_dir); });
        b_done = task.get_future();
        b = std::thread(std::move(task));
        b_done.wait_for(std::chrono::milliseconds(300)); // B runs to its end unless it waits for A
    });
    auto a = tree.lookup(fdinfo_dir, std::to_string(id), no_process); // A: listed with the client open
    REQUIRE(b.joinable());
    b.join();
    tree.after_attribute_listing(nullptr);
    // A's listing predates the close: the file was there for A (without the lock, B has
    // removed the directory meanwhile and A's lookup answers -ENOENT in it, or re-adds it).
    CHECK(a);
    // B's later listing has removed what A found.
    if (a)
        CHECK_FALSE(tree.node(a->ino).has_value());
}

TEST_CASE("fuse attributes: readdir lists the trees, hwmon and the debugfs root") {
    fuse_attribute_fixture fx;
    CHECK(list_dir(sysfs(fx, "hwmon")) == std::set<std::string>{".", "..", "hwmon0"});
    CHECK(list_dir(sysfs(fx, "hwmon/hwmon0")) ==
          std::set<std::string>{".", "..", "name", "temp1_input", "temp1_label", "in0_input", "curr1_input",
                                "power1_average", "energy1_input", "fan1_input"});
    CHECK(list_dir(fx.mnt + "/sys") == std::set<std::string>{".", "..", "class", "kernel"});
    CHECK(list_dir(fx.mnt + "/sys/kernel/debug/accel") == std::set<std::string>{".", "..", "0", "1", "2", "3"});
    CHECK(list_dir(fx.mnt + "/sys/class/accel") == std::set<std::string>{".", "..", "accel0", "accel1", "accel2", "accel3"});
    // A device without sensors (the gate driver) has no hwmon directory; every device has the
    // framework files.
    CHECK(list_dir(fx.mnt + "/" + sysfs_device_dir(2)).count("hwmon") == 0);
    CHECK(list_dir(fx.mnt + "/" + sysfs_device_dir(2)).count("status") == 1);
    const std::set<std::string> test0 = list_dir(fx.mnt + "/" + sysfs_device_dir(0));
    for (const char* n : {"dev", "uevent", "status", "reset_count", "clients", "driver", "version", "description",
                          "reset", "memory"})
        CHECK_MESSAGE(test0.count(n) == 1, n);
    CHECK(read_file(fx.mnt + "/" + sysfs_device_dir(0) + "/driver") == "test\n");
    struct stat st {};
    REQUIRE(::stat(sysfs(fx, "hwmon/hwmon0").c_str(), &st) == 0);
    CHECK(S_ISDIR(st.st_mode));
    CHECK((st.st_mode & 07777) == 0755);
    const int dir = ::open(sysfs(fx, "hwmon").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(dir >= 0);
    ::close(dir);
}

TEST_CASE("fuse attributes: a device's trees go with its registration") {
    fuse_attribute_fixture fx;
    const std::string sys0 = fx.mnt + "/" + sysfs_device_dir(0);
    const std::string dbg0 = fx.mnt + "/" + debugfs_device_dir(0);
    const int held = ::open((sys0 + "/status").c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(held >= 0);
    fx.unplug0();
    struct stat st {};
    for (int i = 0; i < 2500 && ::stat(sys0.c_str(), &st) == 0; ++i)
        ::usleep(2000);
    CHECK(::stat(sys0.c_str(), &st) == -1);
    CHECK(::stat(dbg0.c_str(), &st) == -1);
    CHECK(::stat((sys0 + "/status").c_str(), &st) == -1);
    CHECK(list_dir(fx.mnt + "/sys/kernel/debug/accel") == std::set<std::string>{".", "..", "1", "2", "3"});
    char buf[64];
    CHECK(failed_with(::pread(held, buf, sizeof buf, 0)) == ENODEV); // kernfs after deactivation
    ::close(held);
}

} // namespace accel::test
