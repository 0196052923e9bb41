// SPDX-License-Identifier: MIT
// Syncobjs and sync files through FUSE: the syncobj conformance cases
// (tests/core/syncobj_conformance.hpp, the same as on the mock, descriptors included) on a
// served device<syncobj_driver>; a parked wait ended by a signal with EINTR while the device
// goes on answering; the descriptors' O_CLOEXEC and access mode as the server publishes them;
// a sync file passed to another process over SCM_RIGHTS, polled and imported there while this
// process signals; libdrm's drmSyncobj* calls unmodified on the served node (those that take a
// descriptor work, those that return one get -1/EOPNOTSUPP and leave nothing behind, and the
// same calls through accel's syscall backend succeed); and libsync.h's sync_wait (works
// unmodified: it polls), sync_merge and sync_accumulate (an unmodified merge is EOPNOTSUPP).
#include "fuse_fixture.hpp"
#include "signals.hpp"
#include "syncobj_conformance.hpp"

#include <doctest/doctest.h>

#include <accel/uapi/accel_fd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <new>
#include <poll.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#ifdef ACCEL_HAVE_LIBDRM
#include <xf86drm.h>
#endif
// libsync.h (Debian: libdrm-dev) is header-only: static inline functions, nothing to link.
#if defined(__has_include)
#if __has_include(<libsync.h>)
#include <libsync.h>
#define ACCEL_HAVE_LIBSYNC 1
#endif
#endif

namespace accel::test {
namespace {

/// Asks the server for the syncobj device before it starts (the environment is inherited).
struct serve_syncobj {
    serve_syncobj() { ::setenv("ACCEL_TEST_SERVE_SYNCOBJ", "1", 1); }
};

// Before main: the client knows the test driver's SO_TEST_EXPORT returns a descriptor at byte 4.
const bool export_registered =
    backend::syscall::register_fd_ioctl(SO_TEST_EXPORT, offsetof(so_fence_arg, fd)) == 0;

struct fuse_env : serve_syncobj, fuse_fixture {
    fuse_env() { REQUIRE(export_registered); }
    backend::syscall& client() { return sys; }
    std::string syncobj_node() const { return compute(3); }
    static void reset_fences() {} // they live in the server, which each fixture starts afresh
    /// This process's open descriptors (the listing's own included, the same each time).
    static int open_descriptors() { return static_cast<int>(list_dir("/proc/self/fd").size()) - 2; }
};

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

/// Waits for a forked child; its exit status (or 128 + signal).
int wait_child(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// Whether `fd` is close-on-exec in this process.
bool cloexec(int fd) {
    const int f = ::fcntl(fd, F_GETFD);
    return f >= 0 && (f & FD_CLOEXEC);
}

} // namespace

TEST_CASE_TEMPLATE_INVOKE(so::syncobj_conformance, fuse_env);

TEST_CASE("fuse syncobj: a signal ends a parked WAIT with EINTR, the device answers meanwhile") {
    so::fixture<fuse_env> fx;
    const std::uint32_t h = fx.create();
    REQUIRE(fx.set(h, 0) == 0);
    usr2_interrupts scope;
    std::atomic<int> err{-1};
    std::atomic<bool> started{false};
    pthread_t id{};
    std::thread t([&] {
        id = pthread_self();
        started = true;
        std::uint32_t hs[1] = {h};
        accel_syncobj_wait w{};
        w.handles = so::uptr(hs);
        w.count_handles = 1;
        w.timeout_nsec = so::forever;
        // Raw ioctl(2): backend::syscall retries EINTR as drmIoctl does.
        err = ::ioctl(fx.fd, ACCEL_IOCTL_SYNCOBJ_WAIT, &w) == 0 ? 0 : errno;
    });
    while (!started)
        std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CHECK(err == -1); // still waiting
    // The parked wait holds no thread and no lock: the same file answers other calls.
    CHECK(fx.wait({h}, 0, 0) == -ETIME);
    CHECK(fx.create() != 0);
    REQUIRE(pthread_kill(id, SIGUSR2) == 0);
    t.join();
    CHECK(err == EINTR);
    // The syncobj still works, waits included.
    fx.signal(0);
    CHECK(fx.wait({h}, so::in_ms(1000), 0) == 0);
}

TEST_CASE("fuse syncobj: descriptors come back close-on-exec and read-only, as the kernel's anon files (the raw FD_CALL answer too)") {
    so::fixture<fuse_env> fx;
    const std::uint32_t h = fx.create();
    REQUIRE(fx.set(h, 0) == 0);
    // Through the syscall backend: real descriptors, close-on-exec.
    accel_syncobj_handle a{h, 0, -1, 0, 0};
    REQUIRE(fx.h2f(a) == 0);
    CHECK(cloexec(a.fd));
    CHECK((::fcntl(a.fd, F_GETFL) & O_ACCMODE) == O_RDONLY); // anon_inode_getfile(..., 0)
    accel_syncobj_handle e{h, so::EXPORT_SF, -1, 0, 0};
    REQUIRE(fx.h2f(e) == 0);
    CHECK(cloexec(e.fd));
    CHECK((::fcntl(e.fd, F_GETFL) & O_ACCMODE) == O_RDONLY);
    sync_merge_data m{};
    m.fd2 = e.fd;
    REQUIRE(fx.ioctl(e.fd, SYNC_IOC_MERGE, &m) == 0);
    CHECK(cloexec(m.fence));
    // The server's own answer (uapi/accel_fd.h): what the call asked for, and the file's mode.
    auto raw = [&](int on, unsigned long cmd, const void* arg, std::size_t size, std::uint32_t off, accel_fd_call& w) {
        w = {};
        w.cmd = cmd;
        w.fd_offset = off;
        w.flags = ACCEL_FD_CALL_INLINE;
        std::memcpy(w.data, arg, size);
        return ::ioctl(on, ACCEL_IOCTL_FD_CALL, &w) == 0 ? 0 : -errno;
    };
    auto open_published = [&](const accel_fd_call& w) {
        return ::open((fx.mnt + "/" + w.name).c_str(), static_cast<int>(w.open_flags & O_ACCMODE) | O_CLOEXEC);
    };
    accel_fd_call w{};
    accel_syncobj_handle r{h, 0, -1, 0, 0};
    REQUIRE(raw(fx.fd, ACCEL_IOCTL_SYNCOBJ_HANDLE_TO_FD, &r, sizeof r, offsetof(accel_syncobj_handle, fd), w) == 0);
    CHECK((w.open_flags & O_CLOEXEC) != 0);
    CHECK((w.open_flags & O_ACCMODE) == O_RDONLY);
    std::memcpy(&r, w.data, sizeof r);
    CHECK(r.fd == ACCEL_FD_CALL_PENDING);
    const int s1 = open_published(w);
    REQUIRE(s1 >= 0);
    accel_syncobj_handle back{0, 0, s1, 0, 0};
    REQUIRE(fx.f2h(back) == 0); // the syncobj itself
    CHECK(fx.wait({back.handle}, 0, 0) == -ETIME);
    sync_merge_data rm{};
    std::strcpy(rm.name, "raw");
    rm.fd2 = e.fd;
    REQUIRE(raw(e.fd, SYNC_IOC_MERGE, &rm, sizeof rm, offsetof(sync_merge_data, fence), w) == 0);
    CHECK((w.open_flags & O_CLOEXEC) != 0);
    CHECK((w.open_flags & O_ACCMODE) == O_RDONLY);
    const int s2 = open_published(w);
    REQUIRE(s2 >= 0);
    sync_file_info info{};
    REQUIRE(fx.ioctl(s2, SYNC_IOC_FILE_INFO, &info) == 0);
    CHECK(std::string(info.name) == "raw");
    // A call that fails publishes nothing: the answer names no file.
    accel_syncobj_handle bad{99, 0, -1, 0, 0};
    CHECK(raw(fx.fd, ACCEL_IOCTL_SYNCOBJ_HANDLE_TO_FD, &bad, sizeof bad, offsetof(accel_syncobj_handle, fd), w) == -EINVAL);
    CHECK(w.name[0] == '\0');
    for (int x : {a.fd, e.fd, m.fence, s1, s2})
        CHECK(::close(x) == 0);
}

TEST_CASE("fuse syncobj: a sync file passed to another process (SCM_RIGHTS) is polled and imported there, signalled from here") {
    so::fixture<fuse_env> fx;
    const std::uint32_t h = fx.create();
    REQUIRE(fx.set(h, 0) == 0);
    accel_syncobj_handle e{h, so::EXPORT_SF, -1, 0, 0};
    REQUIRE(fx.h2f(e) == 0);
    const int sf = e.fd;
    // Set by this process just before it signals: the child must not see the fence signalled
    // while it is 0. Anonymous shared memory, no FUSE file.
    auto* released = static_cast<std::atomic<int>*>(
        ::mmap(nullptr, sizeof(std::atomic<int>), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    REQUIRE(released != MAP_FAILED);
    new (released) std::atomic<int>(0);
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    const std::string node = fx.syncobj_node();
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        // Unmodified system calls only: poll and fget-taking ioctls need no help.
        ::close(sv[0]);
        const int got = recv_fd(sv[1]);
        if (got < 0)
            ::_exit(10);
        pollfd p{got, POLLIN, 0};
        if (::poll(&p, 1, 0) != 0) // pending
            ::_exit(11);
        const int n = ::open(node.c_str(), O_RDWR | O_CLOEXEC);
        if (n < 0)
            ::_exit(12);
        accel_syncobj_create c{0, 0};
        accel_syncobj_create t{0, 0};
        if (::ioctl(n, ACCEL_IOCTL_SYNCOBJ_CREATE, &c) != 0 || ::ioctl(n, ACCEL_IOCTL_SYNCOBJ_CREATE, &t) != 0)
            ::_exit(13);
        accel_syncobj_handle imp{c.handle, so::IMPORT_SF, got, 0, 0};
        accel_syncobj_handle tl{t.handle, so::IMPORT_SF | so::IMPORT_TL, got, 0, 2};
        if (::ioctl(n, ACCEL_IOCTL_SYNCOBJ_FD_TO_HANDLE, &imp) != 0 || ::ioctl(n, ACCEL_IOCTL_SYNCOBJ_FD_TO_HANDLE, &tl) != 0)
            ::_exit(14);
        std::uint32_t handles[2] = {c.handle, t.handle};
        std::uint64_t points[2] = {0, 2};
        accel_syncobj_timeline_wait w{};
        w.handles = so::uptr(handles);
        w.points = so::uptr(points);
        w.count_handles = 2;
        w.flags = so::ALL;
        w.timeout_nsec = 0;
        if (::ioctl(n, ACCEL_IOCTL_SYNCOBJ_TIMELINE_WAIT, &w) != -1 || errno != ETIME)
            ::_exit(15);
        if (::write(sv[1], "r", 1) != 1)
            ::_exit(16);
        w.timeout_nsec = so::in_ms(20000);
        int r;
        do
            r = ::ioctl(n, ACCEL_IOCTL_SYNCOBJ_TIMELINE_WAIT, &w);
        while (r == -1 && errno == EINTR);
        if (r != 0)
            ::_exit(17);
        if (released->load() != 1) // woken before the signal
            ::_exit(18);
        if (::poll(&p, 1, 0) != 1 || p.revents != POLLIN)
            ::_exit(19);
        accel_syncobj_wait bw{};
        bw.handles = so::uptr(&c.handle);
        bw.count_handles = 1;
        if (::ioctl(n, ACCEL_IOCTL_SYNCOBJ_WAIT, &bw) != 0)
            ::_exit(20);
        ::close(n);
        ::close(got);
        ::_exit(::write(sv[1], "d", 1) == 1 ? 0 : 21);
    }
    ::close(sv[1]);
    auto read_byte = [&](int timeout_ms) {
        pollfd p{sv[0], POLLIN, 0};
        char b = 0;
        if (::poll(&p, 1, timeout_ms) != 1 || ::read(sv[0], &b, 1) != 1)
            return '\0';
        return b;
    };
    CHECK(send_fd(sv[0], sf) == 0);
    const char ready = read_byte(10000);
    CHECK(ready == 'r');
    if (ready == 'r') {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        int status = 0;
        CHECK(::waitpid(child, &status, WNOHANG) == 0); // still waiting
        // This process's own view: still pending.
        CHECK(fx.poll_in(sf, 0) == 0);
        released->store(1);
        fx.signal(0);
        CHECK(read_byte(10000) == 'd');
    }
    CHECK(wait_child(child) == 0);
    CHECK(fx.poll_in(sf, 0) == POLLIN);
    ::close(sv[0]);
    CHECK(::close(sf) == 0);
    ::munmap(released, sizeof(std::atomic<int>));
}

#ifdef ACCEL_HAVE_LIBDRM
TEST_CASE("fuse syncobj: libdrm's drmSyncobj* calls work unmodified on a served node") {
    so::fixture<fuse_env> fx;
    const int fd = fx.fd;
    std::uint32_t a = 0, b = 0, t = 0;
    REQUIRE(drmSyncobjCreate(fd, 0, &a) == 0);
    REQUIRE(drmSyncobjCreate(fd, DRM_SYNCOBJ_CREATE_SIGNALED, &b) == 0);
    REQUIRE(drmSyncobjCreate(fd, 0, &t) == 0);
    CHECK(a == 1);
    CHECK(b == 2);
    // Wait and TimelineWait return -errno; the others -1 with errno.
    std::uint32_t first = 99;
    std::uint32_t hs[2] = {a, b};
    CHECK(drmSyncobjWait(fd, hs, 2, 0, 0, &first) == -EINVAL); // a has no fence
    CHECK(drmSyncobjWait(fd, &b, 1, 0, 0, &first) == 0);
    CHECK(first == 0);
    CHECK(drmSyncobjWait(fd, hs, 2, 0, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT, &first) == 0);
    CHECK(first == 1);
    CHECK(drmSyncobjWait(fd, hs, 2, 0, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT | DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL, &first) ==
          -ETIME);
    CHECK(drmSyncobjSignal(fd, &a, 1) == 0);
    CHECK(drmSyncobjWait(fd, hs, 2, so::in_ms(100), DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL, &first) == 0);
    CHECK(drmSyncobjReset(fd, &a, 1) == 0);
    CHECK(drmSyncobjWait(fd, &a, 1, 0, 0, &first) == -EINVAL);
    std::uint32_t bad = 77;
    errno = 0;
    CHECK(drmSyncobjReset(fd, &bad, 1) == -1);
    CHECK(errno == ENOENT);
    // Timeline: signal points 1 and 3, query, wait, transfer.
    std::uint64_t p1 = 1, p3 = 3, out = 0;
    CHECK(drmSyncobjTimelineSignal(fd, &t, &p1, 1) == 0);
    CHECK(drmSyncobjQuery(fd, &t, &out, 1) == 0);
    CHECK(out == 1);
    CHECK(drmSyncobjTimelineWait(fd, &t, &p1, 1, 0, 0, &first) == 0);
    CHECK(drmSyncobjTimelineWait(fd, &t, &p3, 1, 0, 0, &first) == -EINVAL);
    CHECK(drmSyncobjTimelineWait(fd, &t, &p3, 1, so::in_ms(20), DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE, &first) == -ETIME);
    CHECK(drmSyncobjTimelineSignal(fd, &t, &p3, 1) == 0);
    CHECK(drmSyncobjTimelineWait(fd, &t, &p3, 1, 0, 0, &first) == 0);
    CHECK(drmSyncobjQuery2(fd, &t, &out, 1, DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED) == 0);
    CHECK(out == 3);
    // Transfer timeline point 3 into binary a, and binary b into timeline point 5 of t.
    CHECK(drmSyncobjTransfer(fd, a, 0, t, 3, 0) == 0);
    CHECK(drmSyncobjWait(fd, &a, 1, 0, 0, &first) == 0);
    CHECK(drmSyncobjTransfer(fd, t, 5, b, 0, 0) == 0);
    CHECK(drmSyncobjQuery2(fd, &t, &out, 1, DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED) == 0);
    CHECK(out == 5);
    errno = 0;
    CHECK(drmSyncobjTransfer(fd, 99, 0, t, 3, 0) == -1);
    CHECK(errno == ENOENT);
    // A pending fence from the driver, waited for by libdrm while another thread signals it;
    // a signal in between interrupts the wait, and drmIoctl restarts it.
    std::uint32_t c = 0;
    REQUIRE(drmSyncobjCreate(fd, 0, &c) == 0);
    REQUIRE(fx.set(c, 2) == 0);
    usr2_interrupts scope;
    std::atomic<int> r{1};
    pthread_t id{};
    std::atomic<bool> started{false};
    std::thread waiter([&] {
        id = pthread_self();
        started = true;
        std::uint32_t f = 0;
        r = drmSyncobjWait(fd, &c, 1, INT64_MAX, 0, &f);
    });
    while (!started)
        std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    REQUIRE(pthread_kill(id, SIGUSR2) == 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(r == 1); // restarted, still waiting
    fx.signal(2);
    waiter.join();
    CHECK(r == 0);
    for (std::uint32_t h : {a, b, t, c})
        CHECK(drmSyncobjDestroy(fd, h) == 0);
    errno = 0;
    CHECK(drmSyncobjDestroy(fd, a) == -1);
    CHECK(errno == EINVAL);
}
TEST_CASE("fuse syncobj: libdrm unmodified: FDToHandle and ImportSyncFile work, HandleToFD and ExportSyncFile are EOPNOTSUPP, through the syscall backend they work") {
    so::fixture<fuse_env> fx;
    const int fd = fx.fd;
    std::uint32_t h = 0, t = 0;
    REQUIRE(drmSyncobjCreate(fd, 0, &h) == 0);
    REQUIRE(drmSyncobjCreate(fd, 0, &t) == 0);
    REQUIRE(fx.set(h, 0) == 0);
    // The calls that return a descriptor, straight at the node: -1/EOPNOTSUPP, no descriptor.
    const int before = fx.open_descriptors();
    int out = -1;
    errno = 0;
    CHECK(drmSyncobjHandleToFD(fd, h, &out) == -1);
    CHECK(errno == EOPNOTSUPP);
    CHECK(out == -1);
    errno = 0;
    CHECK(drmSyncobjExportSyncFile(fd, h, &out) == -1);
    CHECK(errno == EOPNOTSUPP);
    CHECK(out == -1);
    CHECK(fx.open_descriptors() == before);
    // The file goes on answering; the same exports through accel's syscall backend succeed.
    accel_syncobj_handle a{h, 0, -1, 0, 0};
    REQUIRE(fx.h2f(a) == 0);
    const int sfd = a.fd;
    accel_syncobj_handle e{h, so::EXPORT_SF, -1, 0, 0};
    REQUIRE(fx.h2f(e) == 0);
    const int sync = e.fd;
    CHECK(fx.open_descriptors() == before + 2);
    // The calls that take one work unmodified (the server takes the caller's descriptor).
    std::uint32_t h2 = 0, first = 0;
    REQUIRE(drmSyncobjFDToHandle(fd, sfd, &h2) == 0);
    CHECK(h2 != 0);
    CHECK(h2 != h);
    CHECK(h2 != t);
    CHECK(drmSyncobjImportSyncFile(fd, t, sync) == 0);
    CHECK(drmSyncobjWait(fd, &h2, 1, 0, 0, &first) == -ETIME);
    CHECK(drmSyncobjWait(fd, &t, 1, 0, 0, &first) == -ETIME);
    // Their errors, as libdrm reports them (-1 and errno).
    std::uint32_t x = 0;
    errno = 0;
    CHECK(drmSyncobjFDToHandle(fd, fd, &x) == -1); // a device file: no syncobj file
    CHECK(errno == EINVAL);
    errno = 0;
    CHECK(drmSyncobjFDToHandle(fd, sync, &x) == -1); // a sync file: no syncobj file
    CHECK(errno == EINVAL);
    errno = 0;
    CHECK(drmSyncobjImportSyncFile(fd, t, sfd) == -1); // a syncobj file: no sync file
    CHECK(errno == EINVAL);
    errno = 0;
    CHECK(drmSyncobjImportSyncFile(fd, 99, sync) == -1);
    CHECK(errno == ENOENT);
    fx.signal(0);
    CHECK(drmSyncobjWait(fd, &h2, 1, 0, 0, &first) == 0);
    CHECK(drmSyncobjWait(fd, &t, 1, 0, 0, &first) == 0);
    // A second FDToHandle of the same file: a new handle of the same syncobj.
    std::uint32_t h3 = 0;
    REQUIRE(drmSyncobjFDToHandle(fd, sfd, &h3) == 0);
    CHECK(h3 != h2);
    CHECK(drmSyncobjReset(fd, &h3, 1) == 0);
    CHECK(drmSyncobjWait(fd, &h, 1, 0, 0, &first) == -EINVAL); // reset through h3: no fence
    CHECK(::close(sfd) == 0);
    CHECK(::close(sync) == 0);
    CHECK(fx.open_descriptors() == before);
}
#endif

#ifdef ACCEL_HAVE_LIBSYNC
TEST_CASE("fuse syncobj: libsync.h unmodified: sync_wait works, sync_merge is EOPNOTSUPP (and sync_accumulate keeps its fd), the merge through the syscall backend works") {
    so::fixture<fuse_env> fx;
    const int a = fx.export_sync_file(0), b = fx.export_sync_file(1);
    errno = 0;
    CHECK(sync_wait(a, 0) == -1);
    CHECK(errno == ETIME);
    errno = 0;
    CHECK(sync_wait(a, 20) == -1);
    CHECK(errno == ETIME);
    std::atomic<bool> signalled{false};
    std::thread later([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        signalled = true;
        fx.signal(0);
    });
    const int w = sync_wait(a, 10000); // poll(2) blocks, woken by the signal
    const bool seen_after = signalled;
    later.join();
    CHECK(w == 0);
    CHECK(seen_after);
    // sync_merge returns a descriptor: an unmodified call gets -1/EOPNOTSUPP and nothing.
    const int before = fx.open_descriptors();
    errno = 0;
    CHECK(sync_merge("pair", a, b) == -1);
    CHECK(errno == EOPNOTSUPP);
    CHECK(fx.open_descriptors() == before);
    // The same merge through accel's syscall backend.
    sync_merge_data m{};
    std::strcpy(m.name, "pair");
    m.fd2 = b;
    REQUIRE(fx.ioctl(a, SYNC_IOC_MERGE, &m) == 0);
    const int c = m.fence;
    sync_file_info info{};
    REQUIRE(fx.ioctl(c, SYNC_IOC_FILE_INFO, &info) == 0);
    CHECK(std::string(info.name) == "pair");
    CHECK(info.num_fences == 1); // unwrap_merge leaves out a's signalled fence
    errno = 0;
    CHECK(sync_wait(c, 0) == -1); // b is pending
    CHECK(errno == ETIME);
    // sync_accumulate: no fd yet: a dup (local: works); then a merge: EOPNOTSUPP, fd1 kept.
    int acc = -1;
    CHECK(sync_accumulate("acc", &acc, b) == 0);
    REQUIRE(acc >= 0);
    CHECK(acc != b);
    const int kept = acc;
    errno = 0;
    CHECK(sync_accumulate("acc", &acc, a) == -1);
    CHECK(errno == EOPNOTSUPP);
    CHECK(acc == kept);
    CHECK(fx.open_descriptors() == before + 2); // c and acc
    fx.signal(1);
    CHECK(sync_wait(c, 1000) == 0);
    CHECK(sync_wait(acc, 1000) == 0); // the dup: b's file
    for (int x : {a, b, c, acc})
        CHECK(::close(x) == 0);
    errno = 0;
    CHECK(sync_wait(a, 0) == -1); // closed: POLLNVAL
    CHECK(errno == EINVAL);
}
#endif

} // namespace accel::test
