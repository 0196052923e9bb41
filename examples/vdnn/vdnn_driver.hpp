// SPDX-License-Identifier: MIT
#pragma once
// vdnn: a virtual DNN accelerator driver, the example a driver author copies from.
//
// Hardware (simulated): on-chip SRAM, device DRAM, one MMU with a page table per file, two
// compute engines (GEMM, CONV2D, RELU, ADD, COPY, FILL) and a DMA engine (COPY, FILL), each
// behind its own scheduler (exec/scheduler.hpp) on a simulated engine thread (exec/sim_hw.hpp).
// uAPI: vdnn_uapi.h. This header is the driver: identity, per-device and per-file data, object
// data, and the ioctl table; the memory and VM parts are in vdnn_memory.hpp and vdnn_vm.hpp,
// the jobs in vdnn_jobs.hpp.
#include "vdnn_attributes.hpp"
#include "vdnn_jobs.hpp"
#include "vdnn_memory.hpp"
#include "vdnn_uapi.h"
#include "vdnn_vm.hpp"

#include <accel/accel.hpp>
#include <accel/exec/fence_wait.hpp>
#include <accel/exec/drm_exec.hpp>
#include <accel/exec/entity_clock.hpp>
#include <accel/share/gem_exporter.hpp>
#include <accel/share/prime.hpp>
#include <accel/share/syncobj.hpp>
#include <accel/uapi/accel_info.h>

#include <fcntl.h>
#include <map>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>

namespace vdnn {

struct driver;
using device = accel::device<driver>;
using file = accel::file<driver>;
using bo = accel::bo<driver>;

struct driver {
    static constexpr accel::driver_info info{1, 0, 0, "vdnn", "virtual DNN accelerator (accel example)", "20261205"};
    /// DRM syncobjs (binary and timeline): SUBMIT's in- and out-fences name them.
    static constexpr unsigned features = accel::driver_feature::syncobj | accel::driver_feature::syncobj_timeline;
    /// sysfs attributes and debugfs entries (vdnn_attributes.hpp).
    static constexpr std::array sysfs_attributes = attributes::sysfs<driver>;
    static constexpr std::array debugfs_entries = attributes::debugfs<driver>;

    struct device_data : device_state {
        explicit device_data(const device_config& c = {}) : device_state(c) {}
    };

    /// A file: its VA space (shared with the jobs still walking it after the file closed), an
    /// entity per engine, its job numbers and the records WAIT reads.
    struct file_state {
        std::shared_ptr<vm> space;
        std::shared_ptr<event_sink> sink;
        std::unique_ptr<entity_type> entities[num_engines];
        /// Each entity's engine time in the file's registry (fdinfo's drm-engine-compute/-dma),
        /// attached at the first submit to it, detached in postclose before the entities go.
        std::unique_ptr<accel::entity_clock> clocks[num_engines];
        std::mutex mutex; // guards what follows
        std::uint64_t next_seqno = 1;
        std::map<std::uint64_t, std::shared_ptr<job_record>> jobs;
    };
    struct file_data {
        std::shared_ptr<file_state> st;
        file_state* operator->() const noexcept { return st.get(); }
    };

    struct object_data {
        std::uint32_t region = 0;
        std::uint32_t flags = 0;
        std::shared_ptr<job_record> last_job; // the last job using it: its fence and how it ended
                                              // (guarded by the device's bo_fences)
    };

    static int probe(device& d) {
        if (int e = d->mem.init())
            return e;
        device_state& st = d.data();
        for (unsigned i = 0; i < num_engines; ++i) {
            accel::sched_config cfg;
            cfg.name = i == VDNN_ENGINE_DMA ? "vdnn-dma" : (i == 0 ? "vdnn-compute0" : "vdnn-compute1");
            cfg.credit_limit = 8; // jobs queued on the engine's ring at once
            cfg.timeout = std::chrono::nanoseconds(st.config.job_timeout);
            st.engines[i]->sched = std::make_unique<scheduler_type>(engine_ops{&st, i}, cfg);
            st.clocks[i].sched = st.engines[i]->sched.get();
            st.clocks[i].id = engine_group(i);
        }
        st.domain = std::make_unique<accel::reset_domain>(d, st.config.policy, [&st] { return st.reset_hardware(); });
        for (auto& e : st.engines)
            st.domain->add(*e->sched);
        for (auto& c : st.clocks)
            d.engine_time().add(c);
        return 0;
    }

    /// Unplug: no reset runs any more; every queued and running job ends (-ECANCELED), every
    /// fence signals, the engines stop (a hung job's too: stop_engines).
    static void remove(device& d) {
        for (auto& c : d->clocks)
            d.engine_time().remove(c);
        if (d->domain)
            d->domain->fini();
        d->stop_engines();
    }

    static accel::result<file_data> open(device& d) {
        auto st = std::make_shared<file_state>();
        st->space = std::shared_ptr<vm>(new vm, [dev = &d.data()](vm* v) {
            std::unique_lock lock(dev->mem.mmu_lock); // unpins and frees tables: the MMU lock
            delete v;
        });
        {
            std::unique_lock lock(d->mem.mmu_lock);
            if (int e = st->space->init(d->mem.tables, memory_layout::va_start, memory_layout::va_size))
                return accel::result<file_data>::failure(e);
        }
        for (unsigned i = 0; i < num_engines; ++i) {
            st->entities[i] = std::make_unique<entity_type>(*d->engines[i]->sched);
            st->clocks[i] = std::make_unique<accel::entity_clock>(*st->entities[i], engine_group(i));
        }
        return file_data{std::move(st)};
    }

    static void postclose(device&, file& f) {
        // drm_sched_entity_destroy without the flush: jobs never run end with -ESRCH, jobs on
        // an engine finish; their events go nowhere.
        if (f->st->sink)
            f->st->sink->detach();
        for (auto& c : f->st->clocks)
            c->detach();
        for (auto& e : f->st->entities)
            e.reset();
    }

    static int get_param(device& d, file&, vdnn_get_param& a) {
        if (a.pad)
            return -EINVAL;
        switch (a.param) {
        case VDNN_PARAM_NUM_ENGINES: a.value = 3; return 0;
        case VDNN_PARAM_SRAM_SIZE: a.value = memory_layout::sram_size; return 0;
        case VDNN_PARAM_DRAM_SIZE: a.value = memory_layout::dram_size; return 0;
        case VDNN_PARAM_VA_START: a.value = memory_layout::va_start; return 0;
        case VDNN_PARAM_VA_SIZE: a.value = memory_layout::va_size; return 0;
        case VDNN_PARAM_PAGE_SIZE: a.value = page_size; return 0;
        case VDNN_PARAM_MAX_CMD_SIZE: a.value = VDNN_MAX_CMD_SIZE; return 0;
        case VDNN_PARAM_MAX_BO_HANDLES: a.value = max_bo_handles; return 0;
        case VDNN_PARAM_MAX_DEPS: a.value = max_deps; return 0;
        case VDNN_PARAM_OPS:
            a.value = (1u << VDNN_OP_GEMM) | (1u << VDNN_OP_CONV2D) | (1u << VDNN_OP_RELU) | (1u << VDNN_OP_ADD) |
                      (1u << VDNN_OP_COPY) | (1u << VDNN_OP_FILL) | (1u << VDNN_OP_NOP);
            if (d->config.debug_hang)
                a.value |= 1u << VDNN_OP_DEBUG_HANG;
            return 0;
        case VDNN_PARAM_DEBUG_HANG: a.value = d->config.debug_hang; return 0;
        default: return -EINVAL;
        }
    }

    static int bo_create(device& d, file& f, vdnn_bo_create& a) {
        if (a.flags || a.pad || a.size == 0)
            return -EINVAL;
        accel::result<bo::ref> obj = accel::result<bo::ref>::failure(-EINVAL);
        switch (a.region) {
        case VDNN_REGION_HOST: obj = bo::create(d, a.size, object_data{a.region, a.flags, {}}); break;
        case VDNN_REGION_SRAM: obj = bo::create_in(d, d->mem.sram, a.size, page_size, object_data{a.region, a.flags, {}}); break;
        case VDNN_REGION_DRAM: obj = bo::create_in(d, d->mem.dram, a.size, page_size, object_data{a.region, a.flags, {}}); break;
        default: return -EINVAL;
        }
        if (!obj)
            return obj.error();
        auto h = accel::create_handle(f, **obj);
        if (!h)
            return h.error();
        a.handle = *h;
        return 0;
    }

    static int bo_info(device&, file& f, vdnn_bo_info& a) {
        if (a.pad)
            return -EINVAL;
        auto obj = accel::lookup(f, a.handle);
        if (!obj)
            return -ENOENT;
        a.mmap_offset = obj->mmap_offset();
        a.device_addr = obj->device_address();
        a.size = obj->size();
        a.region = (*obj)->region;
        a.flags = (*obj)->flags;
        return 0;
    }

    static int vm_bind(device& d, file& f, vdnn_vm_bind& a) {
        constexpr std::uint32_t known = VDNN_BIND_READ | VDNN_BIND_WRITE | VDNN_BIND_FIXED;
        if ((a.flags & ~known) || !(a.flags & (VDNN_BIND_READ | VDNN_BIND_WRITE)))
            return -EINVAL;
        if (a.size == 0 || (a.size | a.bo_offset) % page_size)
            return -EINVAL;
        auto obj = accel::lookup(f, a.handle);
        if (!obj)
            return -ENOENT;
        if (a.bo_offset > obj->size() || a.size > obj->size() - a.bo_offset)
            return -EINVAL;
        auto perms = accel::mm::vm::vm_perm::none;
        if (a.flags & VDNN_BIND_READ)
            perms = perms | accel::mm::vm::vm_perm::read;
        if (a.flags & VDNN_BIND_WRITE)
            perms = perms | accel::mm::vm::vm_perm::write;

        std::unique_lock lock(d->mem.mmu_lock);
        auto b = std::make_shared<binding>();
        b->obj = accel::gem_ref(obj.get());
        if (obj->region_id() == device_memory::host_region) {
            auto pin = d->mem.aperture.pin(*obj, d->mem.phys);
            if (!pin)
                return pin.error();
            b->base_pa = pin->bus_address();
            b->pin = std::move(*pin);
        } else {
            b->base_pa = obj->device_address();
        }
        std::uint64_t va = a.va;
        if (int e = f->st->space->bind(std::move(b), a.bo_offset, va, a.size, perms, a.flags & VDNN_BIND_FIXED))
            return e; // the binding (and its pin) went with the failed bind
        a.va = va;
        return 0;
    }

    static int vm_unbind(device& d, file& f, vdnn_vm_unbind& a) {
        std::unique_lock lock(d->mem.mmu_lock);
        return f->st->space->unbind(a.va, a.size);
    }

    static int submit(device& d, file& f, vdnn_submit& a) {
        if ((a.flags & ~VDNN_SUBMIT_EVENT) || a.pad || a.pad2 || a.engine >= num_engines)
            return -EINVAL;
        if (a.in_sync_count > max_deps || a.out_sync.flags || a.out_sync.point)
            return -EINVAL;
        if (a.cmd_size == 0 || a.cmd_size > VDNN_MAX_CMD_SIZE || a.cmd_size % 8 || a.cmd_offset % 8)
            return -EINVAL;
        if (a.bo_count > max_bo_handles || a.dep_count > max_deps)
            return -EINVAL;
        // During a reset, submissions queue behind it; a non-blocking submitter is told to
        // come back (-EAGAIN) instead.
        if ((f.flags() & O_NONBLOCK) && d->domain->in_reset())
            return -EAGAIN;

        auto cmd = accel::lookup(f, a.cmd_handle);
        if (!cmd)
            return -ENOENT;
        if (a.cmd_offset > cmd->size() || a.cmd_size > cmd->size() - a.cmd_offset)
            return -EINVAL;
        // The driver's CPU view of the command BO, mapped on first use: null out of address space.
        const std::byte* cmd_bytes = cmd->vaddr();
        if (!cmd_bytes)
            return -ENOMEM;
        auto j = std::make_unique<job>();
        {
            const std::byte* src = cmd_bytes + a.cmd_offset;
            auto stream = std::make_shared<std::vector<std::byte>>(src, src + a.cmd_size);
            if (validate(*stream, d->engines[a.engine]->exec.limits()) != 0)
                return -EINVAL;
            j->stream = std::move(stream);
        }
        std::uint32_t handles[max_bo_handles];
        if (a.bo_count && accel::copy_from_user(handles, a.bo_handles, a.bo_count * sizeof handles[0]))
            return -EFAULT;
        std::uint64_t deps[max_deps];
        if (a.dep_count && accel::copy_from_user(deps, a.deps, a.dep_count * sizeof deps[0]))
            return -EFAULT;
        vdnn_sync in_syncs[max_deps];
        if (a.in_sync_count && accel::copy_from_user(in_syncs, a.in_syncs, a.in_sync_count * sizeof in_syncs[0]))
            return -EFAULT;
        for (std::uint32_t i = 0; i < a.in_sync_count; ++i)
            if (in_syncs[i].flags)
                return -EINVAL;
        // The out-fence's syncobj is looked up now: once the job is armed nothing may fail.
        accel::syncobj_ref out_sync;
        if (a.out_sync.handle) {
            auto s = accel::syncobj_lookup(f, a.out_sync.handle);
            if (!s)
                return s.error();
            out_sync = std::move(*s);
        }
        // The command BO is not one of the job's objects: its stream was copied above, so the
        // job neither waits for earlier users of it nor holds later ones back (one command
        // buffer can serve every job, as vdnn_client.hpp's does). bo_handles may name it.
        j->bos.reserve(a.bo_count);
        for (std::uint32_t i = 0; i < a.bo_count; ++i) {
            auto o = accel::lookup(f, handles[i]);
            if (!o)
                return -ENOENT;
            j->bos.emplace_back(o.get());
        }
        j->engine = a.engine;
        j->space = f->st->space;
        if (int e = j->init(*f->st->entities[a.engine], 1))
            return e;
        // Explicit sync: each in-fence is a dependency (drm_sched_job_add_syncobj_dependency).
        for (std::uint32_t i = 0; i < a.in_sync_count; ++i) {
            auto fence = accel::syncobj_find_fence(f, in_syncs[i].handle, in_syncs[i].point, 0);
            if (!fence)
                return fence.error();
            if (int e = j->add_dependency(std::move(*fence)))
                return e;
        }

        std::lock_guard lock(f->st->mutex);
        for (std::uint32_t i = 0; i < a.dep_count; ++i) {
            if (deps[i] == 0 || deps[i] >= f->st->next_seqno)
                return -EINVAL; // not a job of this file (yet)
            if (auto it = f->st->jobs.find(deps[i]); it != f->st->jobs.end())
                if (int e = j->add_dependency(it->second->finished))
                    return e;
            // (a seqno no longer remembered ended long ago)
        }
        // Implicit sync through the objects' reservation objects (shared with their dma-bufs
        // and with every importer, so other drivers' jobs order against this one): all of them
        // locked at once (drm_exec: deadlock avoidance when two submits name the same objects in
        // another order), a slot reserved in each, and the job after every fence there. vdnn
        // does not know which objects a job only reads, so each is a write: the job waits for
        // earlier readers and writers, and later jobs wait for it.
        accel::drm_exec<accel::dma_resv> exec(accel::drm_exec_flags::ignore_duplicates, static_cast<unsigned>(j->bos.size()));
        accel::dma_resv* resvs[max_bo_handles];
        for (std::size_t i = 0; i < j->bos.size(); ++i)
            if (!(resvs[i] = accel::gem_object_resv(*j->bos[i])))
                return -ENOMEM;
        if (int e = exec.lock_all([&](auto& x) {
                for (std::size_t i = 0; i < j->bos.size(); ++i)
                    if (int r = x.prepare_obj(*resvs[i], 1))
                        return r;
                return 0;
            }))
            return e;
        for (std::size_t i = 0; i < j->bos.size(); ++i)
            if (int e = j->add_implicit_dependencies(*resvs[i], true))
                return e;
        auto record = std::make_shared<job_record>();
        std::unique_ptr<done_event> event;
        if (a.flags & VDNN_SUBMIT_EVENT) {
            if (!f->st->sink)
                f->st->sink = std::make_shared<event_sink>(f);
            event = std::make_unique<done_event>();
            event->sink = f->st->sink;
            event->record = record;
            event->user_data = a.user_data;
        }
        // The record's place in the file's map is made before the point of no return: a failed
        // allocation after arm() would leave an armed fence that never signals in the
        // reservation objects and the out-syncobj.
        const auto slot = f->st->jobs.try_emplace(f->st->next_seqno).first;
        // Nothing can fail from here on: arm (the point of no return) and push.
        j->arm();
        record->seqno = f->st->next_seqno++;
        record->finished = j->finished();
        j->record = record;
        {
            std::lock_guard bl(d->bo_fences);
            for (const auto& o : j->bos)
                static_cast<bo&>(*o)->last_job = record;
        }
        for (std::size_t i = 0; i < j->bos.size(); ++i)
            (void)resvs[i]->add_fence(j->finished(), accel::resv_usage::write); // the slot was reserved
        // Armed, not yet pushed: the fence is pending, so the callback is taken (and then owns
        // the event; it frees it when it runs).
        if (event && j->finished()->add_callback(*event, &send_done_event) == 0)
            (void)event.release();
        if (out_sync)
            out_sync->replace_fence(j->finished());
        slot->second = record;
        trim_history(*f.data().st);
        a.seqno = record->seqno;
        f->st->clocks[a.engine]->attach(f.engine_time());
        f->st->entities[a.engine]->push(std::move(j));
        return 0;
    }

    static int wait(device&, file& f, vdnn_wait& a) {
        if (a.pad || (a.flags != VDNN_WAIT_JOB && a.flags != VDNN_WAIT_BO))
            return -EINVAL;
        accel::fence_ptr fence;
        std::shared_ptr<job_record> record;
        if (a.flags == VDNN_WAIT_JOB) {
            std::lock_guard lock(f->st->mutex);
            if (a.handle_or_seqno == 0 || a.handle_or_seqno >= f->st->next_seqno)
                return -EINVAL;
            auto it = f->st->jobs.find(a.handle_or_seqno);
            if (it == f->st->jobs.end())
                return -ENOENT; // ended too long ago to be remembered
            record = it->second;
            fence = record->finished;
        } else {
            if (a.handle_or_seqno > UINT32_MAX)
                return -EINVAL;
            auto o = accel::lookup(f, static_cast<std::uint32_t>(a.handle_or_seqno));
            if (!o)
                return -ENOENT;
            std::lock_guard bl(f.device()->bo_fences);
            record = (*o)->last_job; // the job to wait for; its outcome is WAIT_BO's
            if (record)
                fence = record->finished;
        }
        auto done = [record](vdnn_wait& w, accel::fence&) -> int {
            record->outcome(w.status, w.error, w.fault_va);
            return 0;
        };
        if (!fence) { // no job ever used the object
            a.status = VDNN_STATUS_OK;
            a.error = 0;
            a.fault_va = 0;
            return 0;
        }
        // A deadline in the past is no wait at all (compared, not subtracted: INT64_MIN - now
        // would overflow).
        const std::int64_t now = accel::monotonic_ns();
        const std::int64_t left = a.timeout_ns > now ? a.timeout_ns - now : 0;
        return accel::park_on_fence(a, std::move(fence), std::chrono::nanoseconds(left), done, -ETIME);
    }

    using ioctls = accel::ioctl_table<
        ACCEL_IOCTL(VDNN_IOCTL_GET_PARAM, &get_param, accel::ioctl_flags::render_allow),
        ACCEL_IOCTL(VDNN_IOCTL_BO_CREATE, &bo_create, accel::ioctl_flags::render_allow),
        ACCEL_IOCTL(VDNN_IOCTL_BO_INFO, &bo_info, accel::ioctl_flags::render_allow),
        ACCEL_IOCTL(VDNN_IOCTL_VM_BIND, &vm_bind, accel::ioctl_flags::render_allow),
        ACCEL_IOCTL(VDNN_IOCTL_VM_UNBIND, &vm_unbind, accel::ioctl_flags::render_allow),
        ACCEL_IOCTL(VDNN_IOCTL_SUBMIT, &submit, accel::ioctl_flags::render_allow),
        ACCEL_IOCTL(VDNN_IOCTL_WAIT, &wait, accel::ioctl_flags::render_allow)>;

    // ---- INFO ----
    static std::vector<accel_info_memory_region> memory_regions(device&) {
        std::vector<accel_info_memory_region> r(2);
        r[0].id = device_memory::sram_region;
        r[0].kind = ACCEL_MEMORY_SRAM;
        r[0].size = memory_layout::sram_size;
        accel::detail::copy_name(r[0].name, "sram");
        r[1].id = device_memory::dram_region;
        r[1].kind = ACCEL_MEMORY_DEVICE;
        r[1].size = memory_layout::dram_size;
        accel::detail::copy_name(r[1].name, "dram");
        return r;
    }
    static std::vector<accel_info_engine> engines(device&) {
        std::vector<accel_info_engine> e(2);
        e[0].id = 0;
        e[0].instances = 2;
        accel::detail::copy_name(e[0].name, "compute");
        e[1].id = 1;
        e[1].instances = 1;
        accel::detail::copy_name(e[1].name, "dma");
        return e;
    }
    /// The simulated engines' clocks (fdinfo's drm-cycles-/drm-total-cycles-): compute 1 GHz,
    /// DMA 800 MHz.
    static std::uint64_t engine_clock_hz(device&, std::uint32_t engine_id) {
        return engine_id == 0 ? 1'000'000'000u : engine_id == 1 ? 800'000'000u : 0u;
    }
    /// The engine group of ring `i` in ENGINES: 0 the compute engines, 1 DMA.
    static constexpr std::uint32_t engine_group(unsigned i) noexcept { return i == VDNN_ENGINE_DMA ? 1 : 0; }
    /// Simulated sensors following the engines' busy time (exec/sim_sensors.hpp).
    static std::vector<accel_info_sensor> sensors(device& d) {
        std::uint64_t busy = 0;
        for (const auto& c : d->clocks)
            busy += c.busy_ns();
        return d->sensors.read(accel::monotonic_ns(), busy);
    }
    static accel_info_capabilities capabilities(device&) {
        accel_info_capabilities c{};
        c.flags = ACCEL_INFO_CAP_MMU;
        c.page_sizes = page_size;
        c.va_bits = 40;
        return c;
    }
    static std::vector<accel_info_memory_use> memory_usage(device& d) {
        return {accel_info_memory_use{device_memory::sram_region, 0, d->mem.sram.stats().used},
                accel_info_memory_use{device_memory::dram_region, 0, d->mem.dram.stats().used}};
    }

private:
    /// Forgets the oldest finished jobs beyond job_history (file mutex held).
    static void trim_history(file_state& st) {
        while (st.jobs.size() > job_history) {
            auto it = st.jobs.begin();
            if (!it->second->finished->is_signaled())
                break;
            st.jobs.erase(it);
        }
    }

    /// The finished fence's callback of a job submitted with VDNN_SUBMIT_EVENT.
    static void send_done_event(accel::fence& fe, accel::fence_cb& cb) noexcept {
        const std::unique_ptr<done_event> done(static_cast<done_event*>(&cb)); // off the fence's list now
        vdnn_event_job_done ev{};
        ev.base.type = VDNN_EVENT_JOB_DONE;
        ev.base.length = sizeof ev;
        ev.user_data = done->user_data;
        ev.seqno = done->record->seqno;
        done->record->outcome(ev.status, ev.error, ev.fault_va);
        (void)fe;
        (void)done->sink->send(&ev, sizeof ev); // -ENOMEM: the client never reads its events; lost
    }
};

} // namespace vdnn
