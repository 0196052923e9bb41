// SPDX-License-Identifier: MIT
// accel_fuzz_ioctl_vdnn: examples/vdnn's ioctls (GET_PARAM, BO_CREATE/INFO, VM_BIND/UNBIND,
// SUBMIT, WAIT) with the core's (PRIME export/import, syncobjs as SUBMIT's in/out fences, INFO,
// FDINFO) through the reusable harness. Hooks: WAIT's absolute deadline is clamped; after the
// files close, every engine's jobs must drain (settle) and none may stay pending (check_idle).
#include "seeds.hpp"
#include "vdnn_driver.hpp"

#include <accel/fuzz/ioctl_harness.hpp>

#include <chrono>
#include <thread>

namespace vdnn_fuzz {

using P = accel::fuzz::patch;

struct hooks : accel::fuzz::default_ioctl_hooks<vdnn::driver> {
    static constexpr unsigned devices = 2; // export to the other device, import there
    static accel::result<vdnn::device::ref> create_device(unsigned) {
        vdnn::device_config c;
        c.job_timeout = std::chrono::milliseconds(200); // a fuzzed job that hangs is reset quickly
        return vdnn::device::create(c);
    }
    static void prepare(accel::ioctl_cmd cmd, std::uint8_t* arg, std::size_t size) noexcept {
        if (accel::ioc_type(cmd) == ACCEL_IOCTL_BASE && accel::ioc_nr(cmd) == accel::ioc_nr(VDNN_IOCTL_WAIT))
            accel::fuzz::clamp_deadline(arg, size, offsetof(vdnn_wait, timeout_ns));
    }
    /// Jobs outlive their file (they hold their objects and VA space until they end), and a job
    /// still queued in its entity is not yet on the scheduler's pending list: wait for both the
    /// jobs and the objects they hold to go, up to 5 s (a real leak is still reported then).
    static void settle(vdnn::device& d) noexcept {
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while ((pending(d) || d.mmap_offsets().size() || memory_used(d)) && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    static void check_idle(vdnn::device& d) noexcept {
        if (std::size_t n = pending(d))
            accel::fuzz::violation("vdnn: %zu jobs still pending 5 s after every file closed", n);
        // Every file's VA space gone with its page tables (so no VA mapping is left), and no
        // SRAM or DRAM still allocated to an object.
        if (auto u = d->mem.tables.stats().used)
            accel::fuzz::violation("vdnn: %llu bytes of page tables still allocated after every file closed",
                                   static_cast<unsigned long long>(u));
        if (auto u = d->mem.sram.stats().used + d->mem.dram.stats().used)
            accel::fuzz::violation("vdnn: %llu bytes of SRAM/DRAM still allocated after every file closed",
                                   static_cast<unsigned long long>(u));
    }
    static std::uint64_t memory_used(vdnn::device& d) noexcept {
        return d->mem.tables.stats().used + d->mem.sram.stats().used + d->mem.dram.stats().used;
    }
    static std::size_t pending(vdnn::device& d) noexcept {
        std::size_t n = 0;
        for (auto& e : d->engines)
            if (e->sched)
                n += e->sched->pending_jobs();
        return n;
    }
};

void write_seeds(const std::string& dir) {
    using W = accel::fuzz::program_writer<vdnn::driver>;
    constexpr std::uint64_t va = 1ull << 24;
    {
        W w;
        w.open();
        for (std::uint32_t p = 0; p <= VDNN_PARAM_DEBUG_HANG; p += 3)
            w.ioctl(0, VDNN_IOCTL_GET_PARAM, vdnn_get_param{p, 0, 0});
        for (std::uint32_t region : {VDNN_REGION_HOST, VDNN_REGION_SRAM, VDNN_REGION_DRAM})
            w.ioctl(0, VDNN_IOCTL_BO_CREATE, vdnn_bo_create{8192, region, 0, 0, 0});
        w.ioctl(0, VDNN_IOCTL_BO_INFO, vdnn_bo_info{2, 0, 0, 0, 0, 0, 0});
        w.mmap(0, 3, 2);
        w.ioctl(0, VDNN_IOCTL_VM_BIND, vdnn_vm_bind{1, VDNN_BIND_READ | VDNN_BIND_WRITE, 0, 0, 8192});
        w.ioctl(0, VDNN_IOCTL_VM_BIND, vdnn_vm_bind{2, VDNN_BIND_READ | VDNN_BIND_FIXED, 4096, va, 4096});
        w.ioctl(0, VDNN_IOCTL_VM_UNBIND, vdnn_vm_unbind{va, 4096});
        w.ioctl(0, ACCEL_IOCTL_GEM_CLOSE, accel_gem_close{3, 0});
        w.save(dir, "bo_vm");
    }
    {
        // A command stream in BO 1 (FILL 256 bytes of BO 2 at va, then NOP), submitted with BO 2
        // listed, an out-fence syncobj, then waited for by job and by BO, and through the syncobj.
        W w;
        struct {
            vdnn_cmd_fill fill;
            vdnn_cmd_nop nop;
        } stream{{{VDNN_OP_FILL, sizeof(vdnn_cmd_fill)}, 0xabcd1234u, 0, 256, va}, {{VDNN_OP_NOP, sizeof(vdnn_cmd_nop)}}};
        w.arena(0, &stream, sizeof stream);
        const std::uint32_t handles[1] = {2};
        w.arena(512, handles, sizeof handles);
        w.open();
        w.ioctl(0, VDNN_IOCTL_BO_CREATE, vdnn_bo_create{4096, VDNN_REGION_HOST, 0, 0, 0});
        w.ioctl(0, VDNN_IOCTL_BO_CREATE, vdnn_bo_create{4096, VDNN_REGION_DRAM, 0, 0, 0});
        w.ioctl(0, VDNN_IOCTL_BO_INFO, vdnn_bo_info{1, 0, 0, 0, 0, 0, 0});
        w.mmap(0, 2, 1, true, true); // the stream into BO 1
        w.ioctl(0, VDNN_IOCTL_VM_BIND, vdnn_vm_bind{2, VDNN_BIND_READ | VDNN_BIND_WRITE | VDNN_BIND_FIXED, 0, va, 4096});
        w.ioctl(0, ACCEL_IOCTL_SYNCOBJ_CREATE, accel_syncobj_create{0, 0});
        vdnn_submit s{};
        s.engine = VDNN_ENGINE_DMA;
        s.flags = VDNN_SUBMIT_EVENT;
        s.cmd_handle = 1;
        s.bo_count = 1;
        s.cmd_size = sizeof stream;
        s.out_sync.handle = 1;
        w.ioctl(0, VDNN_IOCTL_SUBMIT, s, {{P::arena_ptr, offsetof(vdnn_submit, bo_handles), 512}});
        vdnn_wait wt{VDNN_WAIT_JOB, 0, 1, 0x7fffffffffffffff, 0, 0, 0};
        w.ioctl(0, VDNN_IOCTL_WAIT, wt);
        vdnn_wait wb{VDNN_WAIT_BO, 0, 2, 0x7fffffffffffffff, 0, 0, 0};
        w.ioctl(0, VDNN_IOCTL_WAIT, wb);
        const std::uint32_t so[1] = {1};
        w.arena(600, so, sizeof so);
        accel_syncobj_wait sw{};
        sw.count_handles = 1;
        sw.timeout_nsec = 0x7fffffffffffffff;
        w.ioctl(0, ACCEL_IOCTL_SYNCOBJ_WAIT, sw, {{P::arena_ptr, 0, 600}});
        // a second job on a compute engine depending on the first, the syncobj as in-fence
        vdnn_sync in{1, 0, 0};
        w.arena(640, &in, sizeof in);
        const std::uint64_t deps[1] = {1};
        w.arena(700, deps, sizeof deps);
        vdnn_submit s2 = s;
        s2.engine = VDNN_ENGINE_COMPUTE0;
        s2.dep_count = 1;
        s2.in_sync_count = 1;
        s2.out_sync.handle = 0;
        w.ioctl(0, VDNN_IOCTL_SUBMIT, s2,
                {{P::arena_ptr, offsetof(vdnn_submit, bo_handles), 512},
                 {P::arena_ptr, offsetof(vdnn_submit, deps), 700},
                 {P::arena_ptr, offsetof(vdnn_submit, in_syncs), 640}});
        w.close(0); // with the job maybe still running
        w.save(dir, "submit_wait");
    }
    {
        W w;
        w.open(0).open(1);
        w.ioctl(0, VDNN_IOCTL_BO_CREATE, vdnn_bo_create{4096, VDNN_REGION_HOST, 0, 0, 0});
        w.ioctl(0, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, accel_prime_handle{1, O_RDWR, -1});
        w.ioctl(1, ACCEL_IOCTL_PRIME_FD_TO_HANDLE, accel_prime_handle{0, 0, 0}, {{P::descriptor, 8, 2}});
        w.ioctl(1, VDNN_IOCTL_VM_BIND, vdnn_vm_bind{1, VDNN_BIND_READ, 0, 0, 4096});
        w.ioctl(0, ACCEL_IOCTL_GEM_CLOSE, accel_gem_close{1, 0});
        w.close(0);
        accel_fdinfo fi{};
        fi.length = 512;
        w.ioctl(0, ACCEL_IOCTL_FDINFO, fi, {{P::arena_ptr, 8, 1024}});
        w.save(dir, "prime_import");
    }
}

} // namespace vdnn_fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    accel::fuzz_test::write_seeds_if_asked(vdnn_fuzz::write_seeds);
    return 0;
}

ACCEL_FUZZ_IOCTL_TARGET_WITH(vdnn::driver, vdnn_fuzz::hooks)
