// SPDX-License-Identifier: MIT
// Descriptors a call makes, through FUSE (uapi/accel_fd.h, fuse/published_files.hpp,
// fuse/caller_descriptors.hpp, backend/syscall.hpp): fd_install publishes a file the client
// opens by token, fget takes the caller's descriptor by pidfd_getfd. The test driver
// (fdpass_driver.hpp) makes "blob" files of its own kind, served as device 3.
#include "fdpass_driver.hpp"
#include "fuse_fixture.hpp"

#include <accel/uapi/accel_fd.h>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <string>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using namespace accel;
using namespace accel::test;
using namespace std::chrono_literals;

constexpr auto token_lifetime = 1000ms;

result<registration> add_fdpass(subsystem& sub) {
    auto d = device<fdpass_driver>::create();
    if (!d)
        return result<registration>::failure(d.error());
    return sub.register_device(*d);
}

// Before main: the server (this program re-executed) serves device 3, with short-lived tokens;
// the client knows FDP_MAKE returns a descriptor at byte 8.
const bool configured = [] {
    extra_device().add = &add_fdpass;
    extra_device().options.token_lifetime = token_lifetime;
    return backend::syscall::register_fd_ioctl(FDP_IOCTL_MAKE, offsetof(fdp_make, fd)) == 0 &&
           backend::syscall::register_fd_ioctl(BLOB_IOC_CLONE, offsetof(blob_clone, fd)) == 0;
}();

int send_fd(int sock, int fd) {
    char byte = 'x';
    iovec iov{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    return ::sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

int recv_fd(int sock) {
    char byte;
    iovec iov{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    if (::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
        return -1;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_type != SCM_RIGHTS)
        return -1;
    int fd;
    std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return fd;
}

/// A word of a mapping, read once (doctest cannot print a volatile).
std::uint32_t word(volatile std::uint32_t* m, std::size_t i) { return m[i]; }

/// Waits for a forked child; its exit status (or 128 + signal).
int wait_child(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct fdpass_fixture : fuse_fixture {
    int node = -1;
    fdpass_fixture() {
        REQUIRE(configured);
        node = sys.open(compute(3));
        REQUIRE(node >= 0);
    }
    ~fdpass_fixture() {
        if (node >= 0)
            sys.close(node);
    }

    int make(std::uint32_t id, std::uint32_t flags = O_RDWR | O_CLOEXEC) {
        fdp_make m{id, flags, -1, 0};
        const int r = sys.ioctl(node, FDP_IOCTL_MAKE, &m);
        REQUIRE(r == 0);
        REQUIRE(m.fd >= 0);
        return m.fd;
    }
    unsigned live() {
        fdp_stats s{};
        REQUIRE(sys.ioctl(node, FDP_IOCTL_STATS, &s) == 0);
        return s.live;
    }
    /// Whether the server's count of live blob files reaches `n` within 3 s (releases are
    /// asynchronous: close(2) returns before the server sees RELEASE).
    bool live_becomes(unsigned n) {
        for (int i = 0; i < 300; ++i) {
            if (live() == n)
                return true;
            std::this_thread::sleep_for(10ms);
        }
        return false;
    }
    /// FDP_MAKE through the wrapper by hand: the published name (the token is not used).
    std::string raw_export(std::uint32_t id, std::uint32_t flags = O_RDWR) {
        fdp_make m{id, flags, -1, 0};
        accel_fd_call w{};
        w.cmd = FDP_IOCTL_MAKE;
        w.arg = reinterpret_cast<std::uintptr_t>(&m);
        w.fd_offset = offsetof(fdp_make, fd);
        REQUIRE(::ioctl(node, ACCEL_IOCTL_FD_CALL, &w) == 0);
        CHECK(m.fd == ACCEL_FD_CALL_PENDING);
        CHECK(w.open_flags == flags);
        REQUIRE(std::strncmp(w.name, ACCEL_FD_DIR "/", sizeof ACCEL_FD_DIR) == 0);
        return mnt + "/" + w.name;
    }
};

} // namespace

TEST_CASE_FIXTURE(fdpass_fixture, "fd_install through FUSE: a real descriptor, and one inode per exported file") {
    const int a = make(1);
    const int b = make(1); // the same file exported again: one dma-buf
    const int c = make(0); // another file
    CHECK(a != b);
    struct stat sa {}, sb {}, sc {}, sn {};
    REQUIRE(::fstat(a, &sa) == 0);
    REQUIRE(::fstat(b, &sb) == 0);
    REQUIRE(::fstat(c, &sc) == 0);
    REQUIRE(::fstat(node, &sn) == 0);
    CHECK(sa.st_ino == sb.st_ino);
    CHECK(sa.st_ino != sc.st_ino);
    CHECK(sa.st_dev == sn.st_dev); // a file of the mount
    CHECK(sa.st_size == static_cast<off_t>(blob_size));
    CHECK((::fcntl(a, F_GETFD) & FD_CLOEXEC) != 0);
    CHECK((::fcntl(a, F_GETFL) & O_ACCMODE) == O_RDWR);
    blob_info i{};
    REQUIRE(sys.ioctl(a, BLOB_IOC_INFO, &i) == 0); // the file's own operations answer on it
    CHECK(i.id == 1);
    CHECK(i.size == blob_size);
    CHECK(sys.ioctl(a, _IO('B', 99), nullptr) == -ENOTTY);
    CHECK(live() == 2);
    // A read-only export opens read-only.
    const int ro = make(0, O_CLOEXEC);
    CHECK((::fcntl(ro, F_GETFL) & O_ACCMODE) == O_RDONLY);
    CHECK(::mmap(nullptr, blob_size, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) == MAP_FAILED);
    for (int fd : {a, b, c, ro})
        CHECK(::close(fd) == 0);
    fdp_import f{0, 1};
    REQUIRE(sys.ioctl(node, FDP_IOCTL_FORGET, &f) == 0);
    CHECK(live_becomes(0));
}

TEST_CASE_FIXTURE(fdpass_fixture, "published files: poll wakes, mmap is coherent at ioctls and polls, lseek gives the size") {
    const int fd = make(0);
    pollfd p{fd, POLLIN, 0};
    CHECK(::poll(&p, 1, 0) == 0);
    std::thread waker([&] {
        std::this_thread::sleep_for(50ms);
        CHECK(sys.ioctl(fd, BLOB_IOC_SIGNAL, nullptr) == 0);
    });
    CHECK(::poll(&p, 1, 5000) == 1);
    CHECK((p.revents & POLLIN) != 0);
    waker.join();

    CHECK(::lseek(fd, 0, SEEK_END) == static_cast<off_t>(blob_size));
    auto* m = static_cast<volatile std::uint32_t*>(::mmap(nullptr, blob_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    REQUIRE(const_cast<std::uint32_t*>(m) != MAP_FAILED);
    m[0] = 0x12345678; // the client's write ...
    __u32 seen = 0;
    REQUIRE(sys.ioctl(fd, BLOB_IOC_PEEK, &seen) == 0); // ... reaches the driver at an ioctl
    CHECK(seen == 0x12345678);
    __u32 byte = 0x5a;
    REQUIRE(sys.ioctl(fd, BLOB_IOC_FILL, &byte) == 0); // the device's write ...
    CHECK(word(m, 0) == 0x5a5a5a5au);                         // ... is seen after the ioctl's answer
    CHECK(word(m, blob_size / 4 - 1) == 0x5a5a5a5au);

    // A device write signalled while the client polls: the poll's answer is a sync point.
    const int other = ::dup(fd);
    std::thread device([&] {
        std::this_thread::sleep_for(50ms);
        __u32 v = 0xa5;
        CHECK(sys.ioctl(other, BLOB_IOC_FILL, &v) == 0);
    });
    CHECK(::poll(&p, 1, 5000) == 1);
    device.join();
    CHECK(word(m, 1) == 0xa5a5a5a5u);
    CHECK(::munmap(const_cast<std::uint32_t*>(m), blob_size) == 0);
    CHECK(::close(other) == 0);
    CHECK(::close(fd) == 0);
    CHECK(live_becomes(0));
}

TEST_CASE_FIXTURE(fdpass_fixture, "SCM_RIGHTS: another process uses the descriptor, and two mappings see each other's writes") {
    const int fd = make(4);
    auto* m = static_cast<volatile std::uint32_t*>(::mmap(nullptr, blob_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    REQUIRE(const_cast<std::uint32_t*>(m) != MAP_FAILED);
    m[0] = 111;
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    int go[2];
    REQUIRE(::pipe2(go, O_CLOEXEC) == 0);
    const std::string dev_node = compute(3);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::close(sv[0]);
        const int got = recv_fd(sv[1]);
        if (got < 0)
            ::_exit(10);
        blob_info i{};
        if (::ioctl(got, BLOB_IOC_INFO, &i) != 0 || i.id != 4) // its ioctls reach the server from here
            ::_exit(11);
        auto* cm = static_cast<volatile std::uint32_t*>(::mmap(nullptr, blob_size, PROT_READ | PROT_WRITE, MAP_SHARED, got, 0));
        if (cm == MAP_FAILED)
            ::_exit(12);
        if (cm[0] != 111) // the parent's write, at once: one page cache
            ::_exit(13);
        cm[1] = 222;
        // An fd-returning ioctl of the received descriptor itself, through a syscall backend
        // that knows nothing of the mount (root /dev): found by the descriptor.
        backend::syscall other_root;
        blob_clone cl{-1, O_CLOEXEC};
        blob_info ci{};
        if (other_root.ioctl(got, BLOB_IOC_CLONE, &cl) != 0 || cl.fd < 0 || ::ioctl(cl.fd, BLOB_IOC_INFO, &ci) != 0 || ci.id != 104)
            ::_exit(17);
        ::close(cl.fd);
        // An import from this process names the same file.
        const int n = ::open(dev_node.c_str(), O_RDWR | O_CLOEXEC);
        fdp_import imp{got, 0};
        if (n < 0 || ::ioctl(n, FDP_IOCTL_IMPORT, &imp) != 0 || imp.id != 4)
            ::_exit(14);
        char b = 0;
        if (::write(sv[1], "k", 1) != 1 || ::read(go[0], &b, 1) != 1)
            ::_exit(15);
        if (cm[2] != 333)
            ::_exit(16);
        ::_exit(0);
    }
    ::close(sv[1]);
    REQUIRE(send_fd(sv[0], fd) == 0);
    char ack = 0;
    REQUIRE(::read(sv[0], &ack, 1) == 1);
    CHECK(word(m, 1) == 222u); // the child's write, at once
    m[2] = 333;
    REQUIRE(::write(go[1], "g", 1) == 1);
    CHECK(wait_child(child) == 0);
    ::close(sv[0]);
    ::close(go[0]);
    ::close(go[1]);
    CHECK(::munmap(const_cast<std::uint32_t*>(m), blob_size) == 0);
    CHECK(::close(fd) == 0);
    fdp_import f{0, 4};
    REQUIRE(sys.ioctl(node, FDP_IOCTL_FORGET, &f) == 0);
    CHECK(live_becomes(0));
}

TEST_CASE_FIXTURE(fdpass_fixture, "release: when the last descriptor or mapping in any process goes") {
    const int fd = make(0);
    CHECK(live() == 1);
    int go[2];
    REQUIRE(::pipe2(go, O_CLOEXEC) == 0);
    const pid_t child = ::fork(); // inherits the descriptor
    REQUIRE(child >= 0);
    if (child == 0) {
        ::close(go[1]);
        char b;
        ::_exit(::read(go[0], &b, 1) == 1 ? 0 : 1);
    }
    ::close(go[0]);
    CHECK(::close(fd) == 0);
    std::this_thread::sleep_for(100ms);
    CHECK(live() == 1); // the child's descriptor holds it
    REQUIRE(::write(go[1], "x", 1) == 1);
    CHECK(wait_child(child) == 0);
    ::close(go[1]);
    CHECK(live_becomes(0));

    // A mapping holds the file as a descriptor does.
    const int f2 = make(0);
    void* m = ::mmap(nullptr, blob_size, PROT_READ, MAP_SHARED, f2, 0);
    REQUIRE(m != MAP_FAILED);
    CHECK(::close(f2) == 0);
    std::this_thread::sleep_for(100ms);
    CHECK(live() == 1);
    CHECK(::munmap(m, blob_size) == 0);
    CHECK(live_becomes(0));
}

TEST_CASE_FIXTURE(fdpass_fixture, "tokens: only the calling process, only once, only for a while") {
    const std::string name = raw_export(0);
    // Another process: EACCES (the token stays usable by its owner).
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        const int r = ::open(name.c_str(), O_RDWR | O_CLOEXEC);
        ::_exit(r < 0 && errno == EACCES ? 0 : 1);
    }
    CHECK(wait_child(child) == 0);
    // Write access to a read-only export: EACCES (and the token stays).
    const std::string ro = raw_export(0, 0);
    CHECK(::open(ro.c_str(), O_RDWR | O_CLOEXEC) == -1);
    CHECK(errno == EACCES);
    // Another thread of the calling process may open it.
    int fd = -1;
    std::thread([&] { fd = ::open(name.c_str(), O_RDWR | O_CLOEXEC); }).join();
    CHECK(fd >= 0);
    // A second open: ENOENT.
    CHECK(::open(name.c_str(), O_RDWR | O_CLOEXEC) == -1);
    CHECK(errno == ENOENT);
    // The directory lists nothing, and a guess is ENOENT.
    CHECK(list_dir(mnt + "/" ACCEL_FD_DIR) == std::set<std::string>{".", ".."});
    CHECK(::open((mnt + "/" ACCEL_FD_DIR "/00000000000000000000000000000000").c_str(), O_RDONLY) == -1);
    CHECK(errno == ENOENT);
    // Reopening the published file through /proc without a token: ENOENT, as a second open.
    const std::string proc = "/proc/self/fd/" + std::to_string(fd);
    CHECK(::open(proc.c_str(), O_RDONLY | O_CLOEXEC) == -1);
    CHECK(errno == ENOENT);
    CHECK(::close(fd) == 0);
    // Expired: ENOENT, and the file it held is released.
    const std::string late = raw_export(0);
    std::this_thread::sleep_for(token_lifetime + 300ms);
    CHECK(::open(late.c_str(), O_RDWR | O_CLOEXEC) == -1);
    CHECK(errno == ENOENT);
    CHECK(live_becomes(0)); // `ro` expired too
}

TEST_CASE_FIXTURE(fdpass_fixture, "without the wrapper an fd-returning ioctl is EOPNOTSUPP, and a failed call publishes nothing") {
    fdp_make m{0, O_RDWR, -1, 0};
    CHECK(::ioctl(node, FDP_IOCTL_MAKE, &m) == -1); // an unmodified program (the driver's row)
    CHECK(errno == EOPNOTSUPP);
    CHECK(m.fd == -1);
    accel_prime_handle p{1, O_RDWR, -1};
    CHECK(::ioctl(node, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, &p) == -1); // a core row with fd_field
    CHECK(errno == EOPNOTSUPP);
    CHECK(p.fd == -1);
    CHECK(live() == 0);
    // A wrapped call that fails after installing: nothing published, the file released.
    fdp_make bad{0, O_RDWR, -1, 1};
    CHECK(sys.ioctl(node, FDP_IOCTL_MAKE, &bad) == -EIO);
    CHECK(live_becomes(0));
    // The wrapper's own rules.
    fdp_make inner{0, O_RDWR, -1, 0};
    accel_fd_call w{};
    w.cmd = FDP_IOCTL_MAKE;
    w.arg = reinterpret_cast<std::uintptr_t>(&inner);
    w.fd_offset = offsetof(fdp_make, fd);
    w.flags = 2; // unknown
    CHECK(::ioctl(node, ACCEL_IOCTL_FD_CALL, &w) == -1);
    CHECK(errno == EINVAL);
    w.flags = 0;
    w.fd_offset = sizeof inner;
    CHECK(::ioctl(node, ACCEL_IOCTL_FD_CALL, &w) == -1);
    CHECK(errno == EINVAL);
    w.fd_offset = 0;
    w.cmd = ACCEL_IOCTL_PRIME_HANDLE_TO_FD; // its row says the fd is at 8
    CHECK(::ioctl(node, ACCEL_IOCTL_FD_CALL, &w) == -1);
    CHECK(errno == EINVAL);
    w.cmd = FDP_IOCTL_MAKE; // a driver row declared with ACCEL_IOCTL_FD: the fd is at 8, not 0
    CHECK(::ioctl(node, ACCEL_IOCTL_FD_CALL, &w) == -1);
    CHECK(errno == EINVAL);
    w.cmd = FDP_IOCTL_MAKE;
    w.fd_offset = offsetof(fdp_make, fd);
    w.arg = 8; // an address the caller cannot read
    CHECK(::ioctl(node, ACCEL_IOCTL_FD_CALL, &w) == -1);
    CHECK(errno == EFAULT);
    CHECK(live() == 0);
}

TEST_CASE_FIXTURE(fdpass_fixture, "fget: a published descriptor names its file; a closed one is EBADF, another file EINVAL") {
    const int fd = make(0);
    fdp_import imp{fd, 99};
    REQUIRE(sys.ioctl(node, FDP_IOCTL_IMPORT, &imp) == 0);
    CHECK(imp.id == 0);
    const int seven = make(7);
    imp = {seven, 0};
    REQUIRE(sys.ioctl(node, FDP_IOCTL_IMPORT, &imp) == 0);
    CHECK(imp.id == 7);
    imp = {1000, 0}; // never opened
    CHECK(sys.ioctl(node, FDP_IOCTL_IMPORT, &imp) == -EBADF);
    CHECK(::close(fd) == 0);
    imp = {fd, 0}; // closed
    CHECK(sys.ioctl(node, FDP_IOCTL_IMPORT, &imp) == -EBADF);
    const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    imp = {null, 0};
    CHECK(sys.ioctl(node, FDP_IOCTL_IMPORT, &imp) == -EINVAL);
    ::close(null);
    imp = {node, 0}; // a device node of the same server
    CHECK(sys.ioctl(node, FDP_IOCTL_IMPORT, &imp) == -EINVAL);
    CHECK(::close(seven) == 0);
    fdp_import f{0, 7};
    REQUIRE(sys.ioctl(node, FDP_IOCTL_FORGET, &f) == 0);
    CHECK(live_becomes(0));
}

TEST_CASE_FIXTURE(fdpass_fixture, "fget never deadlocks the server: device nodes and published files imported over and over") {
    const int blob = make(0);
    std::atomic<bool> failed{false};
    auto worker = [&] {
        const int own = ::open(compute(3).c_str(), O_RDWR | O_CLOEXEC);
        const int other = ::open(monitor(0).c_str(), O_RDWR | O_CLOEXEC);
        if (own < 0 || other < 0) {
            failed = true;
            return;
        }
        for (int i = 0; i < 200 && !failed; ++i) {
            fdp_import a{other, 0}, b{blob, 0}, c{own, 0};
            if (::ioctl(own, FDP_IOCTL_IMPORT, &a) != -1 || errno != EINVAL)
                failed = true;
            if (::ioctl(own, FDP_IOCTL_IMPORT, &b) != 0)
                failed = true;
            if (::ioctl(own, FDP_IOCTL_IMPORT, &c) != -1 || errno != EINVAL)
                failed = true;
            // A descriptor the caller closes while the server holds its duplicate.
            const int tmp = ::open(compute(0).c_str(), O_RDWR | O_CLOEXEC);
            fdp_import d{tmp, 0};
            ::ioctl(own, FDP_IOCTL_IMPORT, &d);
            ::close(tmp);
        }
        ::close(own);
        ::close(other);
    };
    std::vector<std::thread> ts;
    for (int i = 0; i < 4; ++i)
        ts.emplace_back(worker);
    for (auto& t : ts)
        t.join();
    CHECK_FALSE(failed);
    // The server still serves, and the exclusive device still opens after its closes.
    const int ex = sys.open(compute(1));
    CHECK(ex >= 0);
    if (ex >= 0)
        sys.close(ex);
    CHECK(::close(blob) == 0);
    CHECK(live_becomes(0));
}

TEST_CASE_FIXTURE(fdpass_fixture, "an fd-returning ioctl of a published file: wrapped it works, raw it is EOPNOTSUPP") {
    const int fd = make(0);
    blob_clone c{-1, O_CLOEXEC};
    REQUIRE(sys.ioctl(fd, BLOB_IOC_CLONE, &c) == 0);
    REQUIRE(c.fd >= 0);
    blob_info i{};
    REQUIRE(sys.ioctl(c.fd, BLOB_IOC_INFO, &i) == 0);
    CHECK(i.id == 100);
    struct stat a {}, b {};
    REQUIRE(::fstat(fd, &a) == 0);
    REQUIRE(::fstat(c.fd, &b) == 0);
    CHECK(a.st_ino != b.st_ino);
    CHECK(live() == 2);
    blob_clone raw{-1, 0};
    CHECK(::ioctl(fd, BLOB_IOC_CLONE, &raw) == -1); // the handler's fd_install fails
    CHECK(errno == EOPNOTSUPP);
    CHECK(raw.fd == -1);
    CHECK(live() == 2); // the file it made is gone again
    CHECK(::close(c.fd) == 0);
    CHECK(::close(fd) == 0);
    CHECK(live_becomes(0));
}

TEST_CASE_FIXTURE(fdpass_fixture, "a file the driver still holds keeps its inode across closes; an open shows the device's writes") {
    int fd = make(5);
    struct stat first {};
    REQUIRE(::fstat(fd, &first) == 0);
    auto* m = static_cast<volatile std::uint32_t*>(::mmap(nullptr, blob_size, PROT_READ, MAP_SHARED, fd, 0));
    REQUIRE(const_cast<std::uint32_t*>(m) != MAP_FAILED);
    CHECK(word(m, 0) == 0u); // the page is cached now
    CHECK(::munmap(const_cast<std::uint32_t*>(m), blob_size) == 0);
    CHECK(::close(fd) == 0);
    std::this_thread::sleep_for(100ms); // the RELEASE is served
    CHECK(live() == 1);                 // the driver's cache holds the file
    fdp_import fill{0x77, 5};
    REQUIRE(sys.ioctl(node, FDP_IOCTL_FILL, &fill) == 0); // the device writes while nobody has it open
    fd = make(5);
    struct stat again {};
    REQUIRE(::fstat(fd, &again) == 0);
    CHECK(again.st_ino == first.st_ino); // the same dma-buf, the same inode
    m = static_cast<volatile std::uint32_t*>(::mmap(nullptr, blob_size, PROT_READ, MAP_SHARED, fd, 0));
    REQUIRE(const_cast<std::uint32_t*>(m) != MAP_FAILED);
    CHECK(word(m, 0) == 0x77777777u); // not the page cached before
    CHECK(::munmap(const_cast<std::uint32_t*>(m), blob_size) == 0);
    CHECK(::close(fd) == 0);
    fdp_import f{0, 5};
    REQUIRE(sys.ioctl(node, FDP_IOCTL_FORGET, &f) == 0);
    CHECK(live_becomes(0));
}

TEST_CASE_FIXTURE(fdpass_fixture, "housekeeping alone expires and lets go: a held-again file survives its passes, an expired token of a held file leaves it lingering") {
    int fd = make(6);
    struct stat first {};
    REQUIRE(::fstat(fd, &first) == 0);
    CHECK(::close(fd) == 0);
    std::this_thread::sleep_for(100ms); // the RELEASE is served: the entry lingers
    CHECK(live() == 1);
    for (int round = 0; round < 3; ++round) {
        fd = make(6); // held again while the housekeeping thread still remembers it lingering
        std::this_thread::sleep_for(300ms); // at least one housekeeping pass (250 ms) while held
        struct stat st {};
        REQUIRE(::fstat(fd, &st) == 0);
        CHECK(st.st_ino == first.st_ino);
        CHECK(st.st_size == static_cast<off_t>(blob_size));
        auto* m = static_cast<volatile std::uint32_t*>(::mmap(nullptr, blob_size, PROT_READ, MAP_SHARED, fd, 0));
        REQUIRE(const_cast<std::uint32_t*>(m) != MAP_FAILED); // the entry still has its file
        CHECK(::munmap(const_cast<std::uint32_t*>(m), blob_size) == 0);
        CHECK(::close(fd) == 0);
        std::this_thread::sleep_for(300ms); // a pass while it lingers: the driver still holds it
        CHECK(live() == 1);
    }
    // An unused token of the lingering file expires (housekeeping): ENOENT, the file stays with
    // the driver, and the next export is still the same inode.
    const std::string late = raw_export(6);
    std::this_thread::sleep_for(token_lifetime + 300ms);
    CHECK(::open(late.c_str(), O_RDWR | O_CLOEXEC) == -1);
    CHECK(errno == ENOENT);
    CHECK(live() == 1);
    fd = make(6);
    struct stat again {};
    REQUIRE(::fstat(fd, &again) == 0);
    CHECK(again.st_ino == first.st_ino);
    CHECK(::close(fd) == 0);
    // Many exports given back or used in a row: nothing is left behind once the driver lets go.
    for (int i = 0; i < 64; ++i)
        CHECK(::close(make(6)) == 0);
    fdp_import f{0, 6};
    REQUIRE(sys.ioctl(node, FDP_IOCTL_FORGET, &f) == 0);
    CHECK(live_becomes(0));
}
