// SPDX-License-Identifier: MIT
// The driver bench/sharing serves through FUSE (sharing_fuse.hpp): the least a driver needs for
// the sharing benchmarks, so that they measure the sharing layer and FUSE, not a driver.
//
//   BO_CREATE  a buffer object and its handle (what PRIME_HANDLE_TO_FD then exports).
//   ARM        a fresh unsignalled fence (accel::make_fence), kept in the file until FIRE, and
//              returned as a sync file descriptor (sync_file_create + fd_install: through FUSE
//              the FD_CALL mechanism publishes it and the client opens it). A new ARM replaces
//              a fence not fired yet (its sync files then never signal: the client's business).
//   FIRE       hands the file's armed fence to the device's signaller thread - a mutex +
//              condition variable hand-off, as the bare daemon's notifier and a driver's engine
//              thread - and answers; the signaller signals the fence, which wakes the sync
//              file's pollers (through FUSE: fuse_lowlevel_notify_poll from that thread).
//              -ENOENT when nothing is armed.
// The signaller is the server's to start (its thread must block the signals the FUSE loop
// waits for: fuse/unsignalled_thread.hpp), and is passed to device::create.
#pragma once
#include <accel/accel.hpp>
#include <accel/core/descriptors.hpp>
#include <accel/exec/fence.hpp>
#include <accel/share/sync_file.hpp>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <utility>

namespace accel::bench_sharing {

struct bo_create_arg {
    __u64 size;
    __u32 handle; /* out */
    __u32 pad;
};
struct arm_arg {
    __s32 fd;     /* out: the sync file */
    __u32 flags;  /* O_CLOEXEC or 0 */
};
struct fire_arg {
    __u64 seqno;  /* out: the fence fired */
};
#define SHARING_BENCH_IOCTL_BO_CREATE ACCEL_IOWR(0x40, struct accel::bench_sharing::bo_create_arg)
#define SHARING_BENCH_IOCTL_ARM ACCEL_IOWR(0x41, struct accel::bench_sharing::arm_arg)
#define SHARING_BENCH_IOCTL_FIRE ACCEL_IOR(0x42, struct accel::bench_sharing::fire_arg)

/// The "engine": a thread that signals the fences handed to it, one at a time.
class signaller {
public:
    /// The thread's body: returns after stop().
    void run() {
        std::unique_lock lock(m_);
        for (;;) {
            cv_.wait(lock, [&] { return stop_ || pending_; });
            if (stop_)
                return;
            fence_ptr f = std::exchange(pending_, nullptr);
            lock.unlock();
            f->signal(); // wakes the sync file's pollers (their FUSE poll notification) here
            f.reset();
            lock.lock();
        }
    }
    void stop() {
        {
            std::lock_guard lock(m_);
            stop_ = true;
        }
        cv_.notify_one();
    }
    /// Hands `f` over. One at a time is all the benchmark needs: a fence handed over before the
    /// previous one was taken is signalled here instead (never lost).
    void fire(fence_ptr f) {
        fence_ptr earlier;
        {
            std::lock_guard lock(m_);
            earlier = std::exchange(pending_, std::move(f));
        }
        cv_.notify_one(); // after unlocking, so the woken thread does not block on the mutex
        if (earlier)
            earlier->signal();
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    fence_ptr pending_;
    bool stop_ = false;
};

struct driver {
    static constexpr driver_info info{1, 0, 0, "bench_sharing", "sharing benchmark driver", "20261205"};
    struct device_data {
        explicit device_data(signaller& s) : sig(&s) {}
        signaller* sig;
        const std::uint64_t context = fence_context_alloc();
        std::mutex m;
        std::uint64_t seqno = 0;
    };
    struct file_data {
        std::mutex m;
        fence_ptr armed;
    };
    struct object_data {};
    using dev = device<driver>;
    using fil = file<driver>;

    static int bo_create(dev& d, fil& f, bo_create_arg& a) {
        auto obj = bo<driver>::create(d, a.size);
        if (!obj)
            return obj.error();
        auto h = create_handle(f, **obj);
        if (!h)
            return h.error();
        a.handle = *h;
        return 0;
    }
    static int arm(dev& d, fil& f, arm_arg& a) {
        if (a.flags & ~static_cast<__u32>(O_CLOEXEC))
            return -EINVAL;
        std::uint64_t seqno;
        {
            std::lock_guard lock(d->m);
            seqno = ++d->seqno;
        }
        fence_ptr fence = make_fence(d->context, seqno, "bench_sharing", "arm");
        if (!fence)
            return -ENOMEM;
        auto file = sync_file_create(fence);
        if (!file)
            return file.error();
        auto fd = fd_install(std::move(*file), static_cast<int>(a.flags));
        if (!fd)
            return fd.error();
        a.fd = *fd;
        // Kept only once the call can no longer fail here (a failed install leaves nothing armed).
        std::lock_guard lock(f->m);
        f->armed = std::move(fence);
        return 0;
    }
    static int fire(dev& d, fil& f, fire_arg& a) {
        fence_ptr fence;
        {
            std::lock_guard lock(f->m);
            fence = std::exchange(f->armed, nullptr);
        }
        if (!fence)
            return -ENOENT;
        a.seqno = fence->seqno();
        d->sig->fire(std::move(fence));
        return 0;
    }
    using ioctls = ioctl_table<ACCEL_IOCTL(SHARING_BENCH_IOCTL_BO_CREATE, &bo_create, ioctl_flags::render_allow),
                               ACCEL_IOCTL_FD(SHARING_BENCH_IOCTL_ARM, &arm, ioctl_flags::render_allow, offsetof(arm_arg, fd)),
                               ACCEL_IOCTL(SHARING_BENCH_IOCTL_FIRE, &fire, ioctl_flags::render_allow)>;
};

} // namespace accel::bench_sharing
