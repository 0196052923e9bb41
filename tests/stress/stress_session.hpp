// SPDX-License-Identifier: MIT
// One stress client's life on any client backend (the mock in-process, real system calls on a
// FUSE mount): a session opens a vdnn compute node (and sometimes a vdsp one), makes a random
// run of calls on it - buffer objects created, mapped, written, bound and unbound in the
// device VA space, jobs submitted and waited for (their results checked), buffers exported as
// dma-bufs and imported again (into the same file: the same handle; into vdsp: a job reads
// it), syncobjs created, signalled, reset, waited for and carried as sync files into vdsp,
// INFO on the compute node, the monitor node's CLIENTS and FDINFO - then closes it, either
// tidily (every handle closed first) or with everything still held, for release to clean up.
//
// Every answer is counted (stress_counters.hpp): success, an errno the situation allows, or
// unexpected. What is allowed: on a device that may be unplugged meanwhile (`hotplug`), -ENODEV
// from anything and -ENOENT from open (the minor went away); allocation limits (-ENOMEM,
// -ENOSPC) where memory is allocated; -ENOENT where a job or client may be forgotten or gone.
// A reset makes jobs end with -ECANCELED or -ETIMEDOUT (their status), never fail a call.
#pragma once
#include "stress_counters.hpp"
#include "vdnn_commands.hpp"
#include "vdnn_uapi.h"
#include "vdsp_uapi.h"

#include <accel/exec/fence.hpp>
#include <accel/uapi/accel_drm.h>
#include <accel/uapi/accel_info.h>
#include <accel/uapi/accel_monitor.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <initializer_list>
#include <random>
#include <string>
#include <sys/mman.h>
#include <vector>

namespace accel::stress {

/// The nodes a session uses.
struct session_paths {
    std::string dnn;     // vdnn compute node
    std::string dnn_mon; // its monitor node
    std::string dsp;     // vdsp compute node ("" : none)
    bool hotplug = false; // the vdnn device may be unplugged while the session runs
};

/// How long a job may take before WAIT's -ETIME counts as unexpected: far beyond any job here
/// (a FILL of a few pages), so only a lost fence reaches it, even on a loaded CI machine.
inline constexpr std::int64_t wait_budget_ns = 30'000'000'000;

template <class B>
class session {
public:
    session(B& b, const session_paths& p, counters& c, std::uint64_t seed) : b_(b), p_(p), c_(c), rng_(seed) {}
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    /// One session: open, `steps` random calls, close. False when the open failed.
    bool run(unsigned steps) {
        dnn_ = b_.open(p_.dnn, O_RDWR);
        if (!count(op_open, dnn_, {}, "vdnn")) {
            dnn_ = -1;
            return false;
        }
        if (!p_.dsp.empty() && pick(2) == 0) {
            dsp_ = b_.open(p_.dsp, O_RDWR);
            if (!c_.count(op_open, dsp_, no_errno, "vdsp"))
                dsp_ = -1;
        }
        for (unsigned i = 0; i < steps; ++i)
            step();
        finish(pick(2) == 0);
        return true;
    }

private:
    struct buffer {
        std::uint32_t handle = 0;
        std::uint64_t size = 0;
        std::uint32_t region = VDNN_REGION_HOST;
        void* map = nullptr;
        std::uint64_t va = 0;
        std::uint32_t pattern = 0; // what the last completed FILL wrote
    };

    static constexpr auto no_errno = [](int) { return false; };

    unsigned pick(unsigned n) { return static_cast<unsigned>(rng_() % n); }

    /// Counts `r` of `o`: allowed are the listed errnos, and -ENODEV on a hotplug device.
    bool count(op o, long r, std::initializer_list<int> allowed, const char* what = "") {
        const bool hot = p_.hotplug;
        return c_.count(
            o, r,
            [&](int e) {
                if (hot && e == -ENODEV)
                    return true;
                for (int a : allowed)
                    if (e == a)
                        return true;
                return false;
            },
            p_.hotplug ? (*what ? what : "(hotplug device)") : what);
    }

    void step() {
        switch (pick(16)) {
        case 0:
        case 1:
        case 2: create(); break;
        case 3: close_one(); break;
        case 4:
        case 5: bind(); break;
        case 6: unbind(); break;
        case 7:
        case 8: submit_fill(); break;
        case 9: wait_old(); break;
        case 10: share(); break;
        case 11: syncobjs(); break;
        case 12: info(); break;
        case 13: monitor(); break;
        case 14: wait_bo(); break;
        default: vdsp_job(); break;
        }
    }

    void create() {
        if (bos_.size() >= 8)
            return;
        buffer b;
        const unsigned r = pick(8);
        b.region = r == 0 ? VDNN_REGION_SRAM : r == 1 ? VDNN_REGION_DRAM : VDNN_REGION_HOST;
        vdnn_bo_create c{(1 + pick(4)) * 4096ull, b.region, 0, 0, 0};
        if (!count(op_bo_create, b_.ioctl(dnn_, VDNN_IOCTL_BO_CREATE, &c), {-ENOMEM, -ENOSPC}))
            return;
        b.handle = c.handle;
        vdnn_bo_info i{c.handle, 0, 0, 0, 0, 0, 0};
        if (!count(op_bo_create, b_.ioctl(dnn_, VDNN_IOCTL_BO_INFO, &i), {}, "info")) {
            gem_close(dnn_, c.handle);
            return;
        }
        if (i.size < c.size || i.region != b.region)
            c_.violation(op_bo_create, "BO_INFO: size %llu region %u", static_cast<unsigned long long>(i.size), i.region);
        b.size = i.size;
        auto m = b_.mmap(dnn_, i.mmap_offset, i.size, PROT_READ | PROT_WRITE, MAP_SHARED);
        if (count(op_mmap, m ? 0 : m.error(), {})) {
            b.map = *m;
            std::memset(b.map, 0x5a, 64); // touch it: a fault on a dead mapping would crash here
        }
        bos_.push_back(b);
    }

    /// After a VM_UNBIND: a job submitted before it may fault, and - the VA being free for the
    /// next bind of another buffer - may write that buffer when it runs late: from then on the
    /// session's FILL results are not checked.
    void unbound() {
        ++unbinds_;
        if (!jobs_.empty())
            va_reused_ = true;
    }

    void gem_close(int fd, std::uint32_t handle) {
        accel_gem_close gc{handle, 0};
        count(op_bo_close, b_.ioctl(fd, ACCEL_IOCTL_GEM_CLOSE, &gc), {});
    }

    void release(buffer& b) {
        if (b.map)
            count(op_bo_close, b_.munmap(b.map, b.size), {}, "munmap");
        b.map = nullptr;
        if (b.va && pick(2) == 0) { // else the bind stays: it holds the object until close
            vdnn_vm_unbind u{b.va, b.size};
            count(op_vm_unbind, b_.ioctl(dnn_, VDNN_IOCTL_VM_UNBIND, &u), {});
            unbound();
        }
        gem_close(dnn_, b.handle);
    }

    void close_one() {
        if (bos_.empty())
            return;
        const unsigned i = pick(static_cast<unsigned>(bos_.size()));
        release(bos_[i]);
        bos_.erase(bos_.begin() + i);
    }

    buffer* any_bo() { return bos_.empty() ? nullptr : &bos_[pick(static_cast<unsigned>(bos_.size()))]; }
    buffer* bound_bo() {
        std::vector<buffer*> v;
        for (auto& b : bos_)
            if (b.va)
                v.push_back(&b);
        return v.empty() ? nullptr : v[pick(static_cast<unsigned>(v.size()))];
    }

    void bind() {
        buffer* b = any_bo();
        if (!b || b->va)
            return;
        vdnn_vm_bind a{b->handle, VDNN_BIND_READ | VDNN_BIND_WRITE, 0, 0, b->size};
        if (count(op_vm_bind, b_.ioctl(dnn_, VDNN_IOCTL_VM_BIND, &a), {-ENOMEM, -ENOSPC}))
            b->va = a.va;
    }

    void unbind() {
        buffer* b = bound_bo();
        if (!b)
            return;
        vdnn_vm_unbind u{b->va, b->size};
        count(op_vm_unbind, b_.ioctl(dnn_, VDNN_IOCTL_VM_UNBIND, &u), {});
        b->va = 0;
        unbound();
    }

    /// SUBMIT of `stream`; the seqno or 0.
    std::uint64_t submit(std::uint32_t engine, const vdnn::stream_writer& s, const std::uint32_t* bos, std::uint32_t nbos,
                         std::uint32_t out_sync = 0) {
        if (!cmd_.handle) {
            vdnn_bo_create c{4096, VDNN_REGION_HOST, 0, 0, 0};
            if (!count(op_bo_create, b_.ioctl(dnn_, VDNN_IOCTL_BO_CREATE, &c), {-ENOMEM, -ENOSPC}, "cmd"))
                return 0;
            vdnn_bo_info i{c.handle, 0, 0, 0, 0, 0, 0};
            if (!count(op_bo_create, b_.ioctl(dnn_, VDNN_IOCTL_BO_INFO, &i), {}, "cmd info"))
                return 0;
            auto m = b_.mmap(dnn_, i.mmap_offset, i.size, PROT_READ | PROT_WRITE, MAP_SHARED);
            if (!count(op_mmap, m ? 0 : m.error(), {}, "cmd")) {
                gem_close(dnn_, c.handle);
                return 0;
            }
            cmd_.handle = c.handle;
            cmd_.size = i.size;
            cmd_.map = *m;
        }
        std::memcpy(cmd_.map, s.bytes().data(), s.bytes().size());
        vdnn_submit a{};
        a.engine = engine;
        a.cmd_handle = cmd_.handle;
        a.cmd_size = s.bytes().size();
        a.bo_count = nbos;
        a.bo_handles = reinterpret_cast<std::uintptr_t>(bos);
        a.out_sync.handle = out_sync;
        if (!count(op_submit, b_.ioctl(dnn_, VDNN_IOCTL_SUBMIT, &a), {-ENOMEM}))
            return 0;
        jobs_.push_back({a.seqno, unbinds_});
        return a.seqno;
    }

    /// WAIT for job `seqno` (or for BO `handle`); the job's error through `error`. False when
    /// the call itself failed.
    bool wait(std::uint32_t flags, std::uint64_t what, std::int32_t& error, std::uint32_t& status,
              std::initializer_list<int> allowed = {}) {
        vdnn_wait w{};
        w.flags = flags;
        w.handle_or_seqno = what;
        w.timeout_ns = monotonic_ns() + wait_budget_ns;
        if (!count(op_wait, b_.ioctl(dnn_, VDNN_IOCTL_WAIT, &w), allowed))
            return false;
        error = w.error;
        status = w.status;
        // A job here ends fine, or is cancelled or timed out by a reset (or an unplug), or
        // faults when the session unbound memory after submitting it (the job holds its
        // objects, not their VAs: an MMU fault, as on the hardware).
        bool unbound_since = false;
        if (flags == VDNN_WAIT_JOB)
            for (auto& j : jobs_)
                if (j.seqno == what)
                    unbound_since = j.unbinds_at_submit != unbinds_;
        if (flags == VDNN_WAIT_BO)
            unbound_since = true; // whichever job of the BO failed last
        if (w.error == -EFAULT && unbound_since)
            return true;
        if (!(w.error == 0 || w.error == -ECANCELED || w.error == -ETIMEDOUT))
            c_.violation(op_wait, "job %llu ended with error %d status %u", static_cast<unsigned long long>(what), w.error,
                         w.status);
        return true;
    }

    void submit_fill() {
        buffer* b = bound_bo();
        if (!b)
            return;
        vdnn::stream_writer s;
        vdnn_cmd_fill f{};
        const std::uint32_t pattern = static_cast<std::uint32_t>(rng_()) | 1u;
        f.pattern = pattern;
        f.bytes = b->size;
        f.dst = b->va;
        s.add(f);
        const std::uint32_t engine = pick(3);
        const std::uint32_t bos[] = {b->handle};
        const std::uint64_t seqno = submit(engine, s, bos, 1);
        if (!seqno || pick(2) == 0)
            return;
        std::int32_t err = 0;
        std::uint32_t status = 0;
        if (!wait(VDNN_WAIT_JOB, seqno, err, status))
            return;
        // The session's own jobs are the only writers of its buffers: after the WAIT the
        // mapping shows this FILL's pattern (unless a reset cancelled it).
        if (err == 0 && b->map && !va_reused_) {
            std::uint32_t got[2];
            std::memcpy(got, static_cast<const char*>(b->map) + b->size - sizeof got, sizeof got);
            if (got[0] != pattern || got[1] != pattern)
                c_.violation(op_wait, "FILL result %08x, expected %08x", got[0], pattern);
        }
    }

    void wait_old() {
        if (jobs_.empty())
            return;
        std::int32_t err = 0;
        std::uint32_t status = 0;
        // -ENOENT: a job that ended long enough ago is forgotten (vdnn_uapi.h).
        wait(VDNN_WAIT_JOB, jobs_[pick(static_cast<unsigned>(jobs_.size()))].seqno, err, status, {-ENOENT});
    }

    void wait_bo() {
        buffer* b = any_bo();
        if (!b)
            return;
        std::int32_t err = 0;
        std::uint32_t status = 0;
        wait(VDNN_WAIT_BO, b->handle, err, status);
    }

    /// PRIME: export a host buffer, import it back (the same handle), into vdsp (a job reads
    /// it), then close the imports and the dma-buf.
    void share() {
        buffer* b = any_bo();
        if (!b || b->region != VDNN_REGION_HOST)
            return;
        accel_prime_handle ph{b->handle, ACCEL_CLOEXEC | ACCEL_RDWR, -1};
        if (!count(op_export, b_.ioctl(dnn_, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, &ph), {-EMFILE, -ENOMEM}))
            return;
        const int dmabuf = ph.fd;
        accel_prime_handle back{0, 0, dmabuf};
        if (count(op_import, b_.ioctl(dnn_, ACCEL_IOCTL_PRIME_FD_TO_HANDLE, &back), {}, "self") &&
            back.handle != b->handle)
            c_.violation(op_import, "self-import gave handle %u, not %u", back.handle, b->handle);
        if (dsp_ >= 0) {
            accel_prime_handle imp{0, 0, dmabuf};
            if (count(op_import, b_.ioctl(dsp_, ACCEL_IOCTL_PRIME_FD_TO_HANDLE, &imp), {-ENOMEM}, "vdsp")) {
                dsp_fir(imp.handle, b->size, 0, p_.hotplug);
                accel_gem_close gc{imp.handle, 0};
                count(op_bo_close, b_.ioctl(dsp_, ACCEL_IOCTL_GEM_CLOSE, &gc), {}, "vdsp import");
            }
        }
        count(op_close, b_.close(dmabuf), {}, "dma-buf");
    }

    /// A vdsp output buffer (created once per session).
    std::uint32_t dsp_out() {
        if (!dsp_out_) {
            vdsp_bo_create c{16384, 0, 0};
            if (count(op_bo_create, b_.ioctl(dsp_, VDSP_IOCTL_BO_CREATE, &c), {-ENOMEM}, "vdsp"))
                dsp_out_ = c.handle;
        }
        return dsp_out_;
    }

    /// A FIR on vdsp reading `in` (`bytes` long) into the session's vdsp buffer; waited for.
    /// `hot_import`: `in` is a buffer of the hotplug device, whose CPU view its exporter
    /// refuses once unplugged (share/gem_exporter.hpp: -ENODEV), which vdsp answers -EFAULT
    /// (vdsp_jobs.hpp's object_bytes), at SUBMIT or when the job runs.
    void dsp_fir(std::uint32_t in, std::uint64_t bytes, std::uint32_t in_syncobj = 0, bool hot_import = false) {
        const std::uint32_t out = dsp_out();
        if (!out)
            return;
        const float tap = 1.0f;
        vdsp_submit s{};
        s.op = VDSP_OP_FIR;
        s.in_handle = in;
        s.out_handle = out;
        s.count = (bytes < 16384 ? bytes : 16384) / 4;
        s.fir_taps = 1;
        s.coef = reinterpret_cast<std::uintptr_t>(&tap);
        s.in_syncobj = in_syncobj;
        if (!count(op_vdsp_submit, b_.ioctl(dsp_, VDSP_IOCTL_SUBMIT, &s), {-ENOMEM, hot_import ? -EFAULT : -ENOMEM}))
            return;
        vdsp_wait w{s.seqno, monotonic_ns() + wait_budget_ns, 0, 0};
        if (count(op_vdsp_submit, b_.ioctl(dsp_, VDSP_IOCTL_WAIT, &w), {}, "wait") && w.error != 0 &&
            w.error != -ECANCELED && !(hot_import && w.error == -EFAULT))
            c_.violation(op_vdsp_submit, "vdsp job ended with %d", w.error);
    }

    void vdsp_job() {
        if (dsp_ < 0)
            return;
        const std::uint32_t out = dsp_out();
        if (!out)
            return;
        vdsp_bo_create c{16384, 0, 0};
        if (!count(op_bo_create, b_.ioctl(dsp_, VDSP_IOCTL_BO_CREATE, &c), {-ENOMEM}, "vdsp in"))
            return;
        dsp_fir(c.handle, 16384);
        accel_gem_close gc{c.handle, 0};
        count(op_bo_close, b_.ioctl(dsp_, ACCEL_IOCTL_GEM_CLOSE, &gc), {}, "vdsp in");
    }

    std::uint32_t syncobj_create(int fd, std::uint32_t flags) {
        accel_syncobj_create c{0, flags};
        if (!count(op_syncobj, b_.ioctl(fd, ACCEL_IOCTL_SYNCOBJ_CREATE, &c), {-ENOMEM}, "create"))
            return 0;
        return c.handle;
    }
    void syncobj_destroy(int fd, std::uint32_t h) {
        accel_syncobj_destroy d{h, 0};
        count(op_syncobj, b_.ioctl(fd, ACCEL_IOCTL_SYNCOBJ_DESTROY, &d), {}, "destroy");
    }

    /// A syncobj as a job's out-fence, waited for (WAIT_FOR_SUBMIT), carried as a sync file into
    /// a vdsp syncobj that a vdsp job waits for; signal and reset of a second one.
    void syncobjs() {
        const std::uint32_t s = syncobj_create(dnn_, 0);
        if (!s)
            return;
        vdnn::stream_writer nop;
        nop.add(vdnn_cmd_nop{});
        if (submit(pick(3), nop, nullptr, 0, s)) {
            std::uint32_t h = s;
            accel_syncobj_wait w{};
            w.handles = reinterpret_cast<std::uintptr_t>(&h);
            w.count_handles = 1;
            w.flags = ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT;
            w.timeout_nsec = monotonic_ns() + wait_budget_ns;
            count(op_syncobj_wait, b_.ioctl(dnn_, ACCEL_IOCTL_SYNCOBJ_WAIT, &w), {});
            if (dsp_ >= 0) {
                accel_syncobj_handle ex{s, ACCEL_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE, -1, 0, 0};
                if (count(op_sync_file, b_.ioctl(dnn_, ACCEL_IOCTL_SYNCOBJ_HANDLE_TO_FD, &ex), {-EMFILE, -ENOMEM}, "export")) {
                    const std::uint32_t t = syncobj_create(dsp_, 0);
                    if (t) {
                        accel_syncobj_handle im{t, ACCEL_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE, ex.fd, 0, 0};
                        if (count(op_sync_file, b_.ioctl(dsp_, ACCEL_IOCTL_SYNCOBJ_FD_TO_HANDLE, &im), {}, "import")) {
                            vdsp_bo_create in{4096, 0, 0};
                            if (count(op_bo_create, b_.ioctl(dsp_, VDSP_IOCTL_BO_CREATE, &in), {-ENOMEM}, "vdsp in")) {
                                dsp_fir(in.handle, 4096, t);
                                accel_gem_close gc{in.handle, 0};
                                count(op_bo_close, b_.ioctl(dsp_, ACCEL_IOCTL_GEM_CLOSE, &gc), {}, "vdsp in");
                            }
                        }
                        syncobj_destroy(dsp_, t);
                    }
                    count(op_close, b_.close(ex.fd), {}, "sync file");
                }
            }
        }
        syncobj_destroy(dnn_, s);
        // A second one, signalled by hand, waited for, reset.
        const std::uint32_t u = syncobj_create(dnn_, pick(2) ? ACCEL_SYNCOBJ_CREATE_SIGNALED : 0);
        if (!u)
            return;
        std::uint32_t h = u;
        accel_syncobj_array arr{reinterpret_cast<std::uintptr_t>(&h), 1, 0};
        count(op_syncobj, b_.ioctl(dnn_, ACCEL_IOCTL_SYNCOBJ_SIGNAL, &arr), {}, "signal");
        accel_syncobj_wait w{};
        w.handles = reinterpret_cast<std::uintptr_t>(&h);
        w.count_handles = 1;
        w.timeout_nsec = monotonic_ns() + wait_budget_ns;
        count(op_syncobj_wait, b_.ioctl(dnn_, ACCEL_IOCTL_SYNCOBJ_WAIT, &w), {}, "signalled");
        count(op_syncobj, b_.ioctl(dnn_, ACCEL_IOCTL_SYNCOBJ_RESET, &arr), {}, "reset");
        if (pick(2))
            syncobj_destroy(dnn_, u); // else the file's close destroys it
    }

    /// INFO on the compute node: STATUS, MEMORY_USAGE, IDENTITY (answer in any device state).
    void info() {
        accel_info_status st{};
        alignas(8) unsigned char mem[256] = {};
        accel_info_identity id{};
        accel_info_item items[3] = {
            {ACCEL_INFO_STATUS, static_cast<std::int32_t>(sizeof st), 0, 0, reinterpret_cast<std::uintptr_t>(&st)},
            {ACCEL_INFO_MEMORY_USAGE, static_cast<std::int32_t>(sizeof mem), 0, 0, reinterpret_cast<std::uintptr_t>(mem)},
            {ACCEL_INFO_IDENTITY, static_cast<std::int32_t>(sizeof id), 0, 0, reinterpret_cast<std::uintptr_t>(&id)},
        };
        accel_info q{3, 0, reinterpret_cast<std::uintptr_t>(items)};
        if (!count(op_info, b_.ioctl(dnn_, ACCEL_IOCTL_INFO, &q), {}))
            return;
        for (auto& it : items)
            if (it.length < 0 && !(p_.hotplug && it.length == -ENODEV))
                c_.violation(op_info, "INFO item %u: %d", it.id, it.length);
    }

    /// The monitor node: CLIENTS, then FDINFO of one of them (-ENOENT: it closed meanwhile).
    void monitor() {
        const int m = b_.open(p_.dnn_mon, O_RDWR);
        if (!count(op_monitor, m, {-ENOENT}, "open"))
            return;
        std::vector<unsigned char> buf(sizeof(accel_info_clients) + 128 * sizeof(accel_info_client));
        accel_info_item it{ACCEL_INFO_CLIENTS, static_cast<std::int32_t>(buf.size()), 0, 0,
                           reinterpret_cast<std::uintptr_t>(buf.data())};
        accel_info q{1, 0, reinterpret_cast<std::uintptr_t>(&it)};
        if (count(op_monitor, b_.ioctl(m, ACCEL_IOCTL_INFO, &q), {}, "info") && it.length >= 0) {
            accel_info_clients h;
            std::memcpy(&h, buf.data(), sizeof h);
            if (h.count > 0 && h.count <= 128) {
                accel_info_client cl;
                std::memcpy(&cl, buf.data() + sizeof h + pick(h.count) * sizeof cl, sizeof cl);
                accel_fdinfo f{};
                f.client_id = cl.client_id;
                std::string text(2048, '\0');
                f.data = reinterpret_cast<std::uintptr_t>(text.data());
                f.length = static_cast<std::uint32_t>(text.size());
                if (count(op_fdinfo, b_.ioctl(m, ACCEL_IOCTL_FDINFO, &f), {-ENOENT}) &&
                    std::string_view(text.data(), f.length).find("drm-client-id:") == std::string_view::npos)
                    c_.violation(op_fdinfo, "fdinfo without drm-client-id");
            }
        } else if (it.length < 0 && !(p_.hotplug && it.length == -ENODEV)) {
            c_.violation(op_monitor, "CLIENTS: %d", it.length);
        }
        count(op_close, b_.close(m), {}, "monitor");
    }

    /// Closes the session: tidily (every buffer released first), or with everything still held.
    void finish(bool tidy) {
        for (auto& b : bos_) {
            if (tidy)
                release(b);
            else if (b.map)
                count(op_bo_close, b_.munmap(b.map, b.size), {}, "munmap");
        }
        bos_.clear();
        if (cmd_.map)
            count(op_bo_close, b_.munmap(cmd_.map, cmd_.size), {}, "munmap cmd");
        cmd_ = {};
        count(op_close, b_.close(dnn_), {}, "vdnn");
        dnn_ = -1;
        if (dsp_ >= 0)
            count(op_close, b_.close(dsp_), {}, "vdsp");
        dsp_ = -1;
        dsp_out_ = 0;
        jobs_.clear();
    }

    B& b_;
    const session_paths& p_;
    counters& c_;
    std::mt19937_64 rng_;
    int dnn_ = -1;
    int dsp_ = -1;
    std::uint32_t dsp_out_ = 0;
    buffer cmd_;
    std::vector<buffer> bos_;
    struct job {
        std::uint64_t seqno;
        std::uint64_t unbinds_at_submit;
    };
    std::vector<job> jobs_;
    std::uint64_t unbinds_ = 0; // VM_UNBINDs so far
    bool va_reused_ = false;
};

} // namespace accel::stress
