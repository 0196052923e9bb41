// SPDX-License-Identifier: MIT
#pragma once
// The whole scenario both fault sweeps run: two devices (vdnn, vdsp) on the mock, then open,
// BO create, mmap, VM bind, dma-buf export, import into vdsp (cross-driver: attach, map, vmap)
// and into a second vdnn file (self-import), mmap of the dma-buf, syncobjs and a sync file
// between the drivers, submit and wait on both, INFO and FDINFO, a reset, a submit after it,
// unbind, unmap and close, unregister. One operation per step, so that a step either happens
// whole or fails leaving everything as it was.
//
// run(): before each step a snapshot of what a client can observe (mock descriptors and host
// mappings; per device through its monitor node: STATUS, MEMORY_USAGE, CLIENTS, CLIENT_MEMORY;
// vdnn's host-aperture and page-table use); the first step that fails stops the scenario, its
// errno is recorded and the snapshot after it must equal the one before. Then the device must
// still work (smoke(): a reset if it was left MALFUNCTION, then open, create, map, bind, submit,
// wait, check the data, close, on both drivers), then everything closes (teardown()) and
// nothing may be left: no descriptor, no mapping, no open file on either device, no memory used.
// Snapshots, smoke() and teardown() run with the injectors paused.
#include "vdnn_commands.hpp"
#include "vdnn_driver.hpp"
#include "vdsp_driver.hpp"
#include "vdsp_test_util.hpp"

#include <accel/accel.hpp>
#include <accel/uapi/accel_monitor.h>
#include <accel/uapi/accel_reset.h>

#include <doctest/doctest.h>

#include <linux/dma-buf.h>
#include <poll.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace faults {

using mock = accel::backend::mock;
inline constexpr std::int64_t second = 1'000'000'000;
inline constexpr std::uint32_t samples = 1024; // floats in the shared buffer (one page)

inline std::uint64_t uptr(const void* p) { return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(p)); }

/// The shipped vdsp firmware in a temporary directory, written once per program.
inline const std::string& firmware_dir() {
    static vdsp::test::temp_dir dir;
    static const bool written = (dir.write("accel/vdsp.fw", vdsp::test::shipped_image()), true);
    (void)written;
    return dir.path;
}

/// One INFO item on `fd`: its bytes, or {} with `err` set.
inline std::vector<unsigned char> info_item(mock& m, int fd, std::uint32_t id, int& err) {
    std::vector<unsigned char> out(16384);
    accel_info_item item{id, static_cast<std::int32_t>(out.size()), 0, 0, uptr(out.data())};
    accel_info q{1, 0, uptr(&item)};
    err = m.ioctl(fd, ACCEL_IOCTL_INFO, &q);
    if (err == 0 && item.length < 0)
        err = item.length;
    out.resize(err == 0 ? static_cast<std::size_t>(item.length) : 0);
    return out;
}

struct scenario {
    struct step {
        const char* name;
        std::function<int()> run;
    };

    // ---- the environment ----
    accel::subsystem sub;
    mock m{sub};
    mock::identity root{{0, 1, true}}; // RESET is root-only; everything else works as root too
    accel::device<vdnn::driver>::ref dnn;
    accel::device<vdsp::driver>::ref dsp;
    accel::registration reg_dnn, reg_dsp;

    // ---- what the steps made (0 / -1 / nullptr: not made) ----
    int mon_dnn = -1, mon_dsp = -1, fd_dnn = -1, fd_dnn2 = -1, fd_dsp = -1, dmabuf = -1, sync_file = -1;
    int dmabuf_fence = -1, syncobj_fd = -1, attr_fd = -1;
    std::uint32_t bo_a = 0, bo_b = 0, bo_cmd = 0, imp_dsp = 0, imp_dnn2 = 0, out_dsp = 0, syn_dnn = 0, syn_dsp = 0;
    std::uint32_t syn_empty = 0, syn_imported = 0;
    std::uint64_t off_a = 0, off_cmd = 0, va_a = 0, va_b = 0, job_dnn = 0, job_dsp = 0, job_dnn_after = 0;
    void* map_a = nullptr;
    void* map_cmd = nullptr;
    void* map_dmabuf = nullptr;
    std::uint64_t size_a = 0;

    // ---- what run() found ----
    const char* failed_step = nullptr;
    int failed_errno = 0;
    std::size_t steps_done = 0;
    bool registered_dnn = false, registered_dsp = false; // the scenario registered them (once)

    std::vector<step> steps;

    scenario() { build(); }
    ~scenario() {
        accel::fault_injection_pause pause;
        teardown();
    }

    std::string node(unsigned minor, accel::node_kind k) const {
        return std::string(m.root()) + "/" + accel::node_name(k, minor);
    }

    // ---- helpers the steps use ----
    int open_node(const accel::registration& r, accel::node_kind k, int& fd) {
        if (!r)
            return -ENODEV;
        int f = m.open(node(r.minor(), k));
        if (f < 0)
            return f;
        fd = f;
        return 0;
    }
    int dnn_create(std::uint64_t size, std::uint32_t region, std::uint32_t& handle) {
        vdnn_bo_create c{size, region, 0, 0, 0};
        int r = m.ioctl(fd_dnn, VDNN_IOCTL_BO_CREATE, &c);
        if (r == 0)
            handle = c.handle;
        return r;
    }
    int dnn_offset(std::uint32_t handle, std::uint64_t& off, std::uint64_t* size = nullptr) {
        vdnn_bo_info i{handle, 0, 0, 0, 0, 0, 0};
        int r = m.ioctl(fd_dnn, VDNN_IOCTL_BO_INFO, &i);
        if (r == 0) {
            off = i.mmap_offset;
            if (size)
                *size = i.size;
        }
        return r;
    }
    int map(int fd, std::uint64_t off, std::size_t len, void*& out) {
        auto p = m.mmap(fd, off, len, PROT_READ | PROT_WRITE, MAP_SHARED);
        if (!p)
            return p.error();
        out = *p;
        return 0;
    }
    int unmap(void*& p, std::size_t len) {
        int r = m.munmap(p, len);
        if (r == 0)
            p = nullptr;
        return r;
    }
    int dnn_bind(std::uint32_t handle, std::uint64_t size, std::uint64_t& va) {
        vdnn_vm_bind b{handle, VDNN_BIND_READ | VDNN_BIND_WRITE, 0, 0, size};
        int r = m.ioctl(fd_dnn, VDNN_IOCTL_VM_BIND, &b);
        if (r == 0)
            va = b.va;
        return r;
    }
    /// A FILL of `bytes` at `va` with `pattern` on vdnn's DMA engine, its finished fence into
    /// syncobj `out` (0: none); the seqno in `job`.
    int dnn_fill(int fd, std::uint32_t cmd, void* cmd_map, std::uint64_t va, std::uint64_t bytes, std::uint32_t pattern,
                 std::uint32_t bo, std::uint32_t out, std::uint64_t& job, bool event = false) {
        vdnn::stream_writer s;
        vdnn_cmd_fill f{};
        f.dst = va;
        f.bytes = bytes;
        f.pattern = pattern;
        s.add(f);
        std::memcpy(cmd_map, s.bytes().data(), s.bytes().size());
        vdnn_submit sub_args{};
        sub_args.engine = VDNN_ENGINE_DMA;
        sub_args.cmd_handle = cmd;
        sub_args.cmd_size = s.bytes().size();
        sub_args.bo_count = 1;
        sub_args.bo_handles = uptr(&bo);
        sub_args.out_sync.handle = out;
        sub_args.flags = event ? VDNN_SUBMIT_EVENT : 0;
        int r = m.ioctl(fd, VDNN_IOCTL_SUBMIT, &sub_args);
        if (r == 0)
            job = sub_args.seqno;
        return r;
    }
    /// WAIT for a vdnn job: the ioctl's error, else the job's.
    int dnn_wait(int fd, std::uint64_t job) {
        vdnn_wait w{};
        w.flags = VDNN_WAIT_JOB;
        w.handle_or_seqno = job;
        w.timeout_ns = accel::monotonic_ns() + 10 * second;
        int r = m.ioctl(fd, VDNN_IOCTL_WAIT, &w);
        return r ? r : w.error;
    }
    int dsp_wait(int fd, std::uint64_t job) {
        vdsp_wait w{job, accel::monotonic_ns() + 10 * second, 0, 0};
        int r = m.ioctl(fd, VDSP_IOCTL_WAIT, &w);
        return r ? r : w.error;
    }
    int syncobj_create(int fd, std::uint32_t& h) {
        accel_syncobj_create c{0, 0};
        int r = m.ioctl(fd, ACCEL_IOCTL_SYNCOBJ_CREATE, &c);
        if (r == 0)
            h = c.handle;
        return r;
    }
    int reset_wait(int fd) {
        accel_reset_request rq{ACCEL_RESET_WAIT, 0};
        return m.ioctl(fd, ACCEL_IOCTL_RESET, &rq);
    }

    void build() {
        steps = {
            {"create vdnn",
             [this] {
                 vdnn::device_config c;
                 c.job_timeout = std::chrono::milliseconds(2000);
                 auto d = accel::device<vdnn::driver>::create(c);
                 if (!d)
                     return d.error();
                 dnn = *d;
                 return 0;
             }},
            {"create vdsp",
             [this] {
                 vdsp::device_config c;
                 c.loader = accel::firmware_loader::with_path({firmware_dir()});
                 auto d = accel::device<vdsp::driver>::create(std::move(c));
                 if (!d)
                     return d.error();
                 dsp = *d;
                 return 0;
             }},
            {"register vdnn",
             [this] {
                 auto r = sub.register_device(dnn);
                 if (!r)
                     return r.error();
                 reg_dnn = std::move(*r);
                 registered_dnn = true;
                 return 0;
             }},
            {"register vdsp",
             [this] {
                 auto r = sub.register_device(dsp);
                 if (!r)
                     return r.error();
                 reg_dsp = std::move(*r);
                 registered_dsp = true;
                 return 0;
             }},
            {"open vdnn monitor", [this] { return open_node(reg_dnn, accel::node_kind::monitor, mon_dnn); }},
            {"open vdsp monitor", [this] { return open_node(reg_dsp, accel::node_kind::monitor, mon_dsp); }},
            {"open vdnn", [this] { return open_node(reg_dnn, accel::node_kind::compute, fd_dnn); }},
            {"open vdnn again", [this] { return open_node(reg_dnn, accel::node_kind::compute, fd_dnn2); }},
            {"open vdsp", [this] { return open_node(reg_dsp, accel::node_kind::compute, fd_dsp); }},
            {"open sysfs attribute",
             [this] {
                 int f = m.open(std::string(m.root()) + "/" + accel::sysfs_device_dir(reg_dnn.minor()) + "/device/job_timeout_ms",
                                O_RDONLY);
                 if (f < 0)
                     return f;
                 attr_fd = f;
                 return 0;
             }},
            {"read sysfs attribute",
             [this] {
                 char text[32];
                 long n = m.read(attr_fd, text, sizeof text);
                 return n < 0 ? static_cast<int>(n) : (n > 0 && text[n - 1] == '\n' ? 0 : -EPROTO);
             }},
            {"close sysfs attribute", [this] { return m.close(std::exchange(attr_fd, -1)); }},
            {"write sysfs attribute", // its default again: a store that works changes nothing either
             [this] {
                 int f = m.open(std::string(m.root()) + "/" + accel::sysfs_device_dir(reg_dnn.minor()) + "/device/fault_log_size",
                                O_WRONLY);
                 if (f < 0)
                     return f;
                 const long n = m.write(f, "16\n", 3);
                 const int c = m.close(f);
                 return n < 0 ? static_cast<int>(n) : (n != 3 ? -EPROTO : c);
             }},
            {"set client name",
             [this] {
                 static const char name[] = "faults";
                 accel_set_client_name n{6, uptr(name)};
                 return m.ioctl(fd_dnn, ACCEL_IOCTL_SET_CLIENT_NAME, &n);
             }},
            {"vdnn bo create host", [this] { return dnn_create(std::uint64_t{samples} * 4, VDNN_REGION_HOST, bo_a); }},
            {"vdnn bo info", [this] { return dnn_offset(bo_a, off_a, &size_a); }},
            {"vdnn mmap", [this] { return map(fd_dnn, off_a, size_a, map_a); }},
            {"vdnn bo create dram", [this] { return dnn_create(65536, VDNN_REGION_DRAM, bo_b); }},
            {"vdnn bo create cmd", [this] { return dnn_create(4096, VDNN_REGION_HOST, bo_cmd); }},
            {"vdnn bo info cmd", [this] { return dnn_offset(bo_cmd, off_cmd); }},
            {"vdnn mmap cmd", [this] { return map(fd_dnn, off_cmd, 4096, map_cmd); }},
            {"vdnn vm bind host", [this] { return dnn_bind(bo_a, size_a, va_a); }},
            {"vdnn vm bind dram", [this] { return dnn_bind(bo_b, 65536, va_b); }},
            {"prime export",
             [this] {
                 accel_prime_handle ph{bo_a, ACCEL_CLOEXEC | ACCEL_RDWR, -1};
                 int r = m.ioctl(fd_dnn, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, &ph);
                 if (r == 0)
                     dmabuf = ph.fd;
                 return r;
             }},
            {"prime import into vdsp",
             [this] {
                 accel_prime_handle ph{0, 0, dmabuf};
                 int r = m.ioctl(fd_dsp, ACCEL_IOCTL_PRIME_FD_TO_HANDLE, &ph);
                 if (r == 0)
                     imp_dsp = ph.handle;
                 return r;
             }},
            {"prime import into another vdnn file",
             [this] {
                 accel_prime_handle ph{0, 0, dmabuf};
                 int r = m.ioctl(fd_dnn2, ACCEL_IOCTL_PRIME_FD_TO_HANDLE, &ph);
                 if (r == 0)
                     imp_dnn2 = ph.handle;
                 return r;
             }},
            {"mmap dma-buf", [this] { return map(dmabuf, 0, size_a, map_dmabuf); }},
            {"dma-buf sync",
             [this] {
                 dma_buf_sync s{DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW};
                 if (int r = m.ioctl(dmabuf, DMA_BUF_IOCTL_SYNC, &s))
                     return r;
                 s.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
                 return m.ioctl(dmabuf, DMA_BUF_IOCTL_SYNC, &s);
             }},
            {"dma-buf set name",
             [this] {
                 static char name[] = "faults-buffer";
                 return m.ioctl(dmabuf, DMA_BUF_SET_NAME_B, name);
             }},
            {"ioctl from a newer client",
             [this] {
                 // A caller whose struct grew (256 bytes): the dispatcher's buffer is on the heap.
                 alignas(8) unsigned char big[256] = {};
                 vdnn_get_param p{VDNN_PARAM_NUM_ENGINES, 0, 0};
                 std::memcpy(big, &p, sizeof p);
                 const unsigned long cmd = _IOC(_IOC_READ | _IOC_WRITE, ACCEL_IOCTL_BASE, _IOC_NR(VDNN_IOCTL_GET_PARAM), sizeof big);
                 int r = m.ioctl(fd_dnn, cmd, big);
                 std::memcpy(&p, big, sizeof p);
                 return r ? r : (p.value == 3 ? 0 : -EPROTO);
             }},
            {"vdnn syncobj create", [this] { return syncobj_create(fd_dnn, syn_dnn); }},
            {"vdnn syncobj create empty", [this] { return syncobj_create(fd_dnn, syn_empty); }},
            {"syncobj wait for submit",
             [this] {
                 // Nothing will be submitted: the waiter parks until its 1 ms deadline.
                 accel_syncobj_wait w{};
                 w.handles = uptr(&syn_empty);
                 w.count_handles = 1;
                 w.flags = ACCEL_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT;
                 w.timeout_nsec = accel::monotonic_ns() + 1'000'000;
                 int r = m.ioctl(fd_dnn, ACCEL_IOCTL_SYNCOBJ_WAIT, &w);
                 return r == -ETIME ? 0 : (r == 0 ? -EPROTO : r);
             }},
            {"vdnn submit",
             [this] {
                 return dnn_fill(fd_dnn, bo_cmd, map_cmd, va_a, std::uint64_t{samples} * 4, 0x3f800000, bo_a, syn_dnn, job_dnn,
                                 true);
             }},
            {"vdnn wait", [this] { return dnn_wait(fd_dnn, job_dnn); }},
            {"syncobj transfer to a timeline point",
             [this] {
                 accel_syncobj_transfer t{};
                 t.src_handle = syn_dnn;
                 t.dst_handle = syn_empty;
                 t.dst_point = 1;
                 return m.ioctl(fd_dnn, ACCEL_IOCTL_SYNCOBJ_TRANSFER, &t);
             }},
            {"read event",
             [this] {
                 // The JOB_DONE event was queued when the job's fence signalled, before WAIT
                 // returned; vdnn drops it when the framework's event queue has no memory
                 // (file_base::send_event's -ENOMEM; DRM reserves it at submit instead), so a
                 // missing event is that -ENOMEM, seen here.
                 pollfd p{fd_dnn, POLLIN, 0};
                 if (m.poll(&p, 1, 1000) != 1)
                     return -ENOMEM;
                 alignas(8) unsigned char buf[256];
                 long n = m.read(fd_dnn, buf, sizeof buf);
                 return n == static_cast<long>(sizeof(vdnn_event_job_done)) ? 0 : (n < 0 ? static_cast<int>(n) : -EPROTO);
             }},
            {"syncobj export sync file",
             [this] {
                 accel_syncobj_handle ex{};
                 ex.handle = syn_dnn;
                 ex.flags = ACCEL_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE;
                 ex.fd = -1;
                 int r = m.ioctl(fd_dnn, ACCEL_IOCTL_SYNCOBJ_HANDLE_TO_FD, &ex);
                 if (r == 0)
                     sync_file = ex.fd;
                 return r;
             }},
            {"vdsp syncobj create", [this] { return syncobj_create(fd_dsp, syn_dsp); }},
            {"syncobj import sync file",
             [this] {
                 accel_syncobj_handle im{};
                 im.handle = syn_dsp;
                 im.flags = ACCEL_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE;
                 im.fd = sync_file;
                 return m.ioctl(fd_dsp, ACCEL_IOCTL_SYNCOBJ_FD_TO_HANDLE, &im);
             }},
            {"syncobj export fd",
             [this] {
                 accel_syncobj_handle ex{};
                 ex.handle = syn_dnn;
                 ex.fd = -1;
                 int r = m.ioctl(fd_dnn, ACCEL_IOCTL_SYNCOBJ_HANDLE_TO_FD, &ex);
                 if (r == 0)
                     syncobj_fd = ex.fd;
                 return r;
             }},
            {"syncobj import fd into another vdnn file",
             [this] {
                 accel_syncobj_handle im{};
                 im.fd = syncobj_fd;
                 int r = m.ioctl(fd_dnn2, ACCEL_IOCTL_SYNCOBJ_FD_TO_HANDLE, &im);
                 if (r == 0)
                     syn_imported = im.handle;
                 return r;
             }},
            {"close syncobj fd", [this] { return m.close(std::exchange(syncobj_fd, -1)); }},
            {"vdsp bo create",
             [this] {
                 vdsp_bo_create c{std::uint64_t{samples} * 4, 0, 0};
                 int r = m.ioctl(fd_dsp, VDSP_IOCTL_BO_CREATE, &c);
                 if (r == 0)
                     out_dsp = c.handle;
                 return r;
             }},
            {"vdsp submit on the import",
             [this] {
                 static const float one = 1.0f;
                 vdsp_submit s{};
                 s.op = VDSP_OP_FIR;
                 s.in_handle = imp_dsp;
                 s.out_handle = out_dsp;
                 s.count = samples;
                 s.fir_taps = 1;
                 s.coef = uptr(&one);
                 s.in_syncobj = syn_dsp;
                 int r = m.ioctl(fd_dsp, VDSP_IOCTL_SUBMIT, &s);
                 if (r == 0)
                     job_dsp = s.seqno;
                 return r;
             }},
            {"vdsp wait", [this] { return dsp_wait(fd_dsp, job_dsp); }},
            {"dma-buf export sync file",
             [this] {
                 dma_buf_export_sync_file e{DMA_BUF_SYNC_RW, -1};
                 int r = m.ioctl(dmabuf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &e);
                 if (r == 0)
                     dmabuf_fence = e.fd;
                 return r;
             }},
            {"close dma-buf sync file", [this] { return m.close(std::exchange(dmabuf_fence, -1)); }},
            {"info", [this] {
                 int err = 0;
                 for (std::uint32_t id : {ACCEL_INFO_MEMORY_USAGE, ACCEL_INFO_CLIENTS, ACCEL_INFO_CLIENT_MEMORY, ACCEL_INFO_ENGINES})
                     if ((void)info_item(m, fd_dnn, id, err), err)
                         return err;
                 return 0;
             }},
            {"fdinfo",
             [this] {
                 int err = 0;
                 auto c = info_item(m, fd_dnn, ACCEL_INFO_CLIENTS, err);
                 if (err)
                     return err;
                 accel_info_client me{};
                 std::memcpy(&me, c.data() + sizeof(accel_info_clients), sizeof me);
                 char text[4096];
                 accel_fdinfo q{me.client_id, uptr(text), sizeof text, 0};
                 return m.ioctl(mon_dnn, ACCEL_IOCTL_FDINFO, &q);
             }},
            {"clear stats",
             [this] {
                 accel_clear_stats c{0, 0};
                 return m.ioctl(mon_dnn, ACCEL_IOCTL_CLEAR_STATS, &c);
             }},
            {"reset vdnn", [this] { return reset_wait(fd_dnn); }},
            {"vdnn submit after reset",
             [this] {
                 return dnn_fill(fd_dnn, bo_cmd, map_cmd, va_a, 64, 0x40000000, bo_a, 0, job_dnn_after);
             }},
            {"vdnn wait after reset", [this] { return dnn_wait(fd_dnn, job_dnn_after); }},
            {"vdnn vm unbind",
             [this] {
                 vdnn_vm_unbind u{};
                 u.va = va_b;
                 u.size = 65536;
                 return m.ioctl(fd_dnn, VDNN_IOCTL_VM_UNBIND, &u);
             }},
            {"munmap dma-buf", [this] { return unmap(map_dmabuf, size_a); }},
            {"close sync file", [this] { return m.close(std::exchange(sync_file, -1)); }},
            {"close dma-buf", [this] { return m.close(std::exchange(dmabuf, -1)); }},
            {"gem close",
             [this] {
                 accel_gem_close gc{std::exchange(bo_b, 0u), 0};
                 return m.ioctl(fd_dnn, ACCEL_IOCTL_GEM_CLOSE, &gc);
             }},
            {"close vdsp", [this] { return m.close(std::exchange(fd_dsp, -1)); }},
            {"close vdnn again", [this] { return m.close(std::exchange(fd_dnn2, -1)); }},
            {"munmap vdnn", [this] { return unmap(map_a, size_a); }},
            {"close vdnn", [this] { return m.close(std::exchange(fd_dnn, -1)); }},
            {"close monitors", [this] { return m.close(std::exchange(mon_dsp, -1)) | m.close(std::exchange(mon_dnn, -1)); }},
            {"unregister vdsp", [this] { return reg_dsp.reset(), 0; }},
            {"unregister vdnn", [this] { return reg_dnn.reset(), 0; }},
        };
    }

    // ---- observable state ----
    /// What a failed step may change documentedly (see allowed_change()).
    struct mask {
        bool status = false; ///< STATUS (state, reset count)
        bool shared = false; ///< CLIENT_MEMORY's drm-shared-
    };

    std::string snapshot() { return snapshot(mask{false, false}); }
    std::string snapshot(mask ignore) {
        accel::fault_injection_pause pause;
        std::ostringstream s;
        s << "descriptors " << m.open_descriptors() << " mappings " << m.mappings() << " devices " << sub.devices().size()
          << "\n";
        auto dump = [&](const char* who, int mon) {
            if (mon < 0)
                return;
            for (std::uint32_t id : {ACCEL_INFO_STATUS, ACCEL_INFO_MEMORY_USAGE, ACCEL_INFO_CLIENTS, ACCEL_INFO_CLIENT_MEMORY}) {
                if (id == ACCEL_INFO_STATUS && ignore.status)
                    continue;
                int err = 0;
                auto b = info_item(m, mon, id, err);
                s << who << " item " << id << " err " << err << ":";
                if (id == ACCEL_INFO_CLIENT_MEMORY && b.size() >= sizeof(accel_info_client_memories)) {
                    // drm-active- follows the jobs: leave it out, compare the rest.
                    const std::size_t n = (b.size() - sizeof(accel_info_client_memories)) / sizeof(accel_info_client_memory);
                    for (std::size_t i = 0; i < n; ++i) {
                        accel_info_client_memory u;
                        std::memcpy(&u, b.data() + sizeof(accel_info_client_memories) + i * sizeof u, sizeof u);
                        // drm-resident- follows the pages the client touched through its mappings
                        // (a step's own writes to a command buffer): left out as well.
                        s << " [" << u.client_id << " r" << u.region_id << " t" << u.total << " s" << (ignore.shared ? 0 : u.shared) << "]";
                    }
                } else {
                    for (unsigned char c : b)
                        s << ' ' << unsigned(c);
                }
                s << "\n";
            }
        };
        dump("vdnn", mon_dnn);
        dump("vdsp", mon_dsp);
        if (dnn) {
            std::shared_lock lock(dnn->data().mem.mmu_lock);
            s << "vdnn aperture " << dnn->data().mem.aperture.used() << " open " << dnn->open_count() << "\n";
        }
        if (dsp)
            s << "vdsp open " << dsp->open_count() << "\n";
        return s.str();
    }

    /// Runs the steps until one fails: that one's errno is recorded and the snapshot after it
    /// must equal the one before.
    void run() {
        for (steps_done = 0; steps_done < steps.size(); ++steps_done) {
            step& st = steps[steps_done];
            const mask enomem = allowed_change(st.name, -ENOMEM), eio = allowed_change(st.name, -EIO);
            const std::string before = snapshot();
            const std::string before_masked = enomem.status || enomem.shared ? snapshot(enomem) : before;
            const std::string before_reset = eio.status ? snapshot(eio) : before;
            const int r = st.run();
            if (r != 0) {
                failed_step = st.name;
                failed_errno = r;
                const mask m_ = allowed_change(st.name, r);
                if (m_.status) // the reset went ahead: let it end
                    for (int i = 0; i < 1000 && dnn->status().state() == ACCEL_STATE_IN_RESET; ++i)
                        std::this_thread::sleep_for(std::chrono::milliseconds(1));
                const std::string after = snapshot(m_);
                INFO("step: ", std::string(st.name), " errno ", r);
                if (m_.status || m_.shared)
                    CHECK((m_.status && !m_.shared ? before_reset : before_masked) == after);
                else
                    CHECK(before == after);
                return;
            }
        }
    }

    /// The failures that documentedly change state, and what they may change:
    ///  - RESET with ACCEL_RESET_WAIT: the reset is requested before the wait is set up, so a
    ///    wait that cannot be parked (-ENOMEM) or is interrupted answers after the reset
    ///    started, which goes ahead (accel_reset.h); a failed hardware reset (-EIO) leaves the
    ///    device MALFUNCTION. The reset count and state may change, nothing else.
    ///  - PRIME_HANDLE_TO_FD failing after the export (adding the file's handle <-> buffer entry,
    ///    or installing the descriptor): the object keeps its dma-buf cached (obj->dma_buf) until
    ///    its last handle goes, as drm_gem_prime_handle_to_dmabuf's fail_put_dmabuf path does,
    ///    so fdinfo counts it shared; no reference is leaked (the cycle breaks at the last handle).
    static mask allowed_change(const char* step, int err) {
        mask m_;
        m_.status = std::strcmp(step, "reset vdnn") == 0 && (err == -ENOMEM || err == -EIO);
        m_.shared = std::strcmp(step, "prime export") == 0 && err == -ENOMEM;
        return m_;
    }

    /// The devices still work: a failed reset is recovered by another, then a fresh client on
    /// each driver creates, maps, binds, submits and waits, and sees the job's result.
    void smoke() {
        accel::fault_injection_pause pause;
        INFO("smoke after step: ", std::string(failed_step ? failed_step : "(none)"), " errno ", failed_errno);
        // A registration that failed is tried again (probe after a failed probe); a device the
        // scenario itself unregistered is gone for good (drm_dev_unplug), nothing to check.
        if (dnn && !reg_dnn && !registered_dnn) {
            auto r = sub.register_device(dnn);
            REQUIRE_MESSAGE(r, "re-registering: ", r ? 0 : r.error());
            reg_dnn = std::move(*r);
        }
        if (dsp && !reg_dsp && !registered_dsp) {
            auto r = sub.register_device(dsp);
            REQUIRE_MESSAGE(r, "re-registering: ", r ? 0 : r.error());
            reg_dsp = std::move(*r);
        }
        if (dnn && reg_dnn) {
            int fd = m.open(node(reg_dnn.minor(), accel::node_kind::compute));
            REQUIRE(fd >= 0);
            if (dnn->status().state() == ACCEL_STATE_MALFUNCTION)
                CHECK(reset_wait(fd) == 0);
            CHECK(dnn->status().state() == ACCEL_STATE_OPERATIONAL);
            std::swap(fd, fd_dnn);
            std::uint32_t bo = 0, cmd = 0;
            std::uint64_t off = 0, cmd_off = 0, va = 0, job = 0;
            void *p = nullptr, *c = nullptr;
            REQUIRE(dnn_create(4096, VDNN_REGION_HOST, bo) == 0);
            REQUIRE(dnn_create(4096, VDNN_REGION_HOST, cmd) == 0);
            REQUIRE(dnn_offset(bo, off) == 0);
            REQUIRE(dnn_offset(cmd, cmd_off) == 0);
            REQUIRE(map(fd_dnn, off, 4096, p) == 0);
            REQUIRE(map(fd_dnn, cmd_off, 4096, c) == 0);
            REQUIRE(dnn_bind(bo, 4096, va) == 0);
            REQUIRE(dnn_fill(fd_dnn, cmd, c, va, 4096, 0x01020304, bo, 0, job) == 0);
            CHECK(dnn_wait(fd_dnn, job) == 0);
            CHECK(static_cast<std::uint32_t*>(p)[1023] == 0x01020304u);
            CHECK(m.munmap(p, 4096) == 0);
            CHECK(m.munmap(c, 4096) == 0);
            std::swap(fd, fd_dnn);
            CHECK(m.close(fd) == 0);
        }
        if (dsp && reg_dsp) {
            int fd = m.open(node(reg_dsp.minor(), accel::node_kind::compute));
            REQUIRE(fd >= 0);
            vdsp_bo_create a{4096, 0, 0}, b{4096, 0, 0};
            REQUIRE(m.ioctl(fd, VDSP_IOCTL_BO_CREATE, &a) == 0);
            REQUIRE(m.ioctl(fd, VDSP_IOCTL_BO_CREATE, &b) == 0);
            static const float one = 1.0f;
            vdsp_submit s{};
            s.op = VDSP_OP_FIR;
            s.in_handle = a.handle;
            s.out_handle = b.handle;
            s.count = 1024;
            s.fir_taps = 1;
            s.coef = uptr(&one);
            REQUIRE(m.ioctl(fd, VDSP_IOCTL_SUBMIT, &s) == 0);
            CHECK(dsp_wait(fd, s.seqno) == 0);
            CHECK(m.close(fd) == 0);
        }
    }

    /// Closes whatever the steps left open, then unregisters (idempotent).
    void teardown() {
        for (void** p : {&map_a, &map_cmd, &map_dmabuf})
            if (*p) {
                (void)m.munmap(*p, p == &map_cmd ? 4096 : size_a);
                *p = nullptr;
            }
        for (int* fd : {&attr_fd, &dmabuf_fence, &syncobj_fd, &sync_file, &dmabuf, &fd_dsp, &fd_dnn2, &fd_dnn, &mon_dsp, &mon_dnn})
            if (*fd >= 0)
                (void)m.close(std::exchange(*fd, -1));
        reg_dsp.reset();
        reg_dnn.reset();
    }

    /// After teardown(): nothing of the scenario is left anywhere a client or the devices see.
    void check_nothing_left() {
        CHECK(m.open_descriptors() == 0);
        CHECK(m.mappings() == 0);
        CHECK(sub.devices().empty());
        if (dnn) {
            CHECK(dnn->open_count() == 0);
            // A finished job holds its file's VM (and so the pins of its host BOs) until the
            // scheduler frees it, a moment after its fences signalled (sched_config::free_delay).
            auto aperture = [&] {
                std::shared_lock lock(dnn->data().mem.mmu_lock);
                return dnn->data().mem.aperture.used();
            };
            // Every object gone (each has an mmap offset until it is freed): none leaked.
            for (int i = 0; i < 2000 && (aperture() != 0 || dnn->mmap_offsets().size() != 0); ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            CHECK(aperture() == 0);
            CHECK(dnn->mmap_offsets().size() == 0);
            std::shared_lock lock(dnn->data().mem.mmu_lock);
            CHECK(dnn->data().mem.dram.stats().used == 0);
            CHECK(dnn->data().mem.sram.stats().used == 0);
        }
        if (dsp) {
            CHECK(dsp->open_count() == 0);
            for (int i = 0; i < 2000 && dsp->mmap_offsets().size() != 0; ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            CHECK(dsp->mmap_offsets().size() == 0); // the import and vdsp's own objects too
        }
        // A device keeps its minor until its last reference goes: only the two held here.
        CHECK(sub.minors_in_use() == unsigned(dnn ? 1 : 0) + unsigned(dsp ? 1 : 0));
    }
};

} // namespace faults
