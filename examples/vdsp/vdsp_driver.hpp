// SPDX-License-Identifier: MIT
#pragma once
// vdsp: a virtual DSP whose functions come from a firmware file (README.md, vdsp_uapi.h).
//
// probe() requests the firmware ("accel/vdsp.fw", device_config::firmware_name) through
// accel::firmware_loader and checks it (vdsp_firmware.hpp). A missing file (-ENOENT) or one that
// fails a check (-EINVAL, one log line naming the file and the check) leaves the device
// registered but NEEDS_RESET: SUBMIT answers -EIO (the dispatcher itself refuses driver ioctls
// only in MALFUNCTION), GET_PARAM's firmware items -EIO, VDSP_PARAM_FW_STATUS the errno. The
// reset domain is the device's reset handler: ACCEL_IOCTL_RESET (root) runs its hardware reset,
// which reloads the firmware; success: OPERATIONAL; failure: MALFUNCTION (the framework's state
// for a failed reset; another RESET with a good file recovers from it too).
//
// One engine, one scheduler, an entity per file: a file's jobs run in submission order.
#include "vdsp_firmware.hpp"
#include "vdsp_jobs.hpp"
#include "vdsp_uapi.h"

#include <accel/accel.hpp>
#include <accel/exec/fence_wait.hpp>
#include <accel/exec/drm_exec.hpp>
#include <accel/share/gem_exporter.hpp>
#include <accel/share/prime.hpp>
#include <accel/share/syncobj.hpp>

#include <fcntl.h>

#include <cerrno>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

namespace vdsp {

struct driver;
using device = accel::device<driver>;
using file = accel::file<driver>;
using bo = accel::bo<driver>;

struct driver {
    static constexpr accel::driver_info info{1, 0, 0, "vdsp", "virtual firmware-loaded DSP (accel example)", "20261205"};
    /// DRM syncobjs: SUBMIT's in_syncobj and out_syncobj name them.
    static constexpr unsigned features = accel::driver_feature::syncobj | accel::driver_feature::syncobj_timeline;

    struct device_data : device_state {
        explicit device_data(device_config c = {}) : device_state(std::move(c)) {}
    };

    struct file_state {
        std::unique_ptr<entity_type> entity;
        /// The entity's engine time in the file's registry (fdinfo's drm-engine-dsp): attached
        /// at the first submit, detached in postclose before the entity goes.
        std::unique_ptr<accel::entity_clock> clock;
        std::mutex mutex; // guards what follows
        std::uint64_t next_seqno = 1;
        std::map<std::uint64_t, std::shared_ptr<job_record>> jobs;
    };
    struct file_data {
        std::shared_ptr<file_state> st;
        file_state* operator->() const noexcept { return st.get(); }
    };

    struct object_data {};

    static int probe(device& d) {
        device_state& st = d.data();
        accel::sched_config cfg;
        cfg.name = "vdsp";
        cfg.credit_limit = 4;
        cfg.timeout = std::chrono::nanoseconds(st.config.job_timeout);
        st.sched = std::make_unique<scheduler_type>(engine_ops{&st}, cfg);
        st.domain = std::make_unique<accel::reset_domain>(d, accel::reset_policy::cancel, [&st] { return st.reset_hardware(); });
        st.domain->add(*st.sched);
        st.clock = std::make_unique<accel::scheduler_clock>(*st.sched, 0);
        d.engine_time().add(*st.clock);
        // The device exists without firmware: it waits for a reset with a good file.
        if (st.load_firmware() != 0)
            d.status().set_state(ACCEL_STATE_NEEDS_RESET);
        return 0;
    }

    static void remove(device& d) {
        if (d->clock)
            d.engine_time().remove(*d->clock);
        if (d->domain)
            d->domain->fini();
        d->hw.reset(-ECANCELED);
        // A job cancelled while running may still be inside its work, whose captures can hold
        // the device's last reference (an imported object's attachment): they must go before
        // the client's last reference can, or the engine thread would destroy its own engine.
        d->hw.wait_idle();
    }

    static accel::result<file_data> open(device& d) {
        auto st = std::make_shared<file_state>();
        st->entity = std::make_unique<entity_type>(*d->sched);
        st->clock = std::make_unique<accel::entity_clock>(*st->entity, 0);
        return file_data{std::move(st)};
    }

    static void postclose(device&, file& f) {
        f->st->clock->detach();
        f->st->entity.reset();
    }

    // ---- INFO and monitoring ----
    static std::vector<accel_info_engine> engines(device&) {
        std::vector<accel_info_engine> e(1);
        e[0].id = 0;
        e[0].instances = 1;
        accel::detail::copy_name(e[0].name, "dsp");
        return e;
    }
    /// The simulated DSP's clock (fdinfo's drm-cycles-dsp / drm-total-cycles-dsp): 600 MHz.
    static std::uint64_t engine_clock_hz(device&, std::uint32_t engine_id) { return engine_id == 0 ? 600'000'000u : 0u; }
    /// Simulated sensors following the engine's busy time (exec/sim_sensors.hpp).
    static std::vector<accel_info_sensor> sensors(device& d) {
        return d->sensors.read(accel::monotonic_ns(), d->clock ? d->clock->busy_ns() : 0);
    }

    static int get_param(device& d, file&, vdsp_get_param& a) {
        if (a.pad)
            return -EINVAL;
        switch (a.param) {
        case VDSP_PARAM_FW_STATUS: a.value = static_cast<std::uint64_t>(-d->firmware_status()); return 0;
        case VDSP_PARAM_MAX_TAPS: a.value = VDSP_MAX_TAPS; return 0;
        case VDSP_PARAM_MAX_SAMPLES: a.value = VDSP_MAX_SAMPLES; return 0;
        case VDSP_PARAM_FW_VERSION:
        case VDSP_PARAM_FUNCTIONS:
        case VDSP_PARAM_FFT_MAX_SIZE: break;
        default: return -EINVAL;
        }
        const auto fw = d->firmware();
        if (!fw)
            return -EIO;
        a.value = a.param == VDSP_PARAM_FW_VERSION ? fw->version : a.param == VDSP_PARAM_FUNCTIONS ? fw->functions() : fw->fft_max;
        return 0;
    }

    static int bo_create(device& d, file& f, vdsp_bo_create& a) {
        if (a.flags || a.size == 0)
            return -EINVAL;
        auto obj = bo::create(d, a.size);
        if (!obj)
            return obj.error();
        auto h = accel::create_handle(f, **obj);
        if (!h)
            return h.error();
        a.handle = *h;
        return 0;
    }

    static int bo_info(device&, file& f, vdsp_bo_info& a) {
        if (a.pad)
            return -EINVAL;
        auto obj = accel::lookup(f, a.handle);
        if (!obj)
            return -ENOENT;
        a.mmap_offset = obj->mmap_offset();
        a.size = obj->size();
        return 0;
    }

    /// SUBMIT's field rules (vdsp_uapi.h), independent of the firmware and of the objects.
    static int check_fields(const vdsp_submit& a) noexcept {
        const bool fir = a.op == VDSP_OP_FIR, fft = a.op == VDSP_OP_FFT;
        if (a.op == VDSP_OP_NOP)
            return (a.in_handle | a.out_handle | a.fir_taps | a.coef_handle | a.fft_size | a.fft_flags) ||
                           (a.in_offset | a.out_offset | a.count | a.coef)
                       ? -EINVAL
                       : 0;
        if (!fir && !fft)
            return -EINVAL;
        if (a.count == 0 || a.count > VDSP_MAX_SAMPLES || (a.in_offset | a.out_offset) % 4)
            return -EINVAL;
        if (fir) {
            if (a.fft_size || a.fft_flags || a.fir_taps == 0 || a.fir_taps > VDSP_MAX_TAPS)
                return -EINVAL;
            if (a.coef_handle && a.coef % 4)
                return -EINVAL;
            return 0;
        }
        if (a.fir_taps || a.coef_handle || a.coef)
            return -EINVAL;
        if (a.fft_size < 2 || (a.fft_size & (a.fft_size - 1)) || a.count % a.fft_size)
            return -EINVAL;
        if ((a.fft_flags & ~(VDSP_FFT_INVERSE | VDSP_FFT_WINDOW)) ||
            a.fft_flags == (VDSP_FFT_INVERSE | VDSP_FFT_WINDOW)) // the window is for forward transforms
            return -EINVAL;
        return 0;
    }

    static bool overlap(const accel::gem_ref& a, std::uint64_t aoff, std::uint64_t alen, const accel::gem_ref& b,
                        std::uint64_t boff, std::uint64_t blen) noexcept {
        return a && a == b && aoff < boff + blen && boff < aoff + alen;
    }

    static int submit(device& d, file& f, vdsp_submit& a) {
        if (a.flags)
            return -EINVAL;
        if (int e = check_fields(a))
            return e;
        const auto fw = d->firmware();
        if (!fw)
            return -EIO; // no firmware loaded: NEEDS_RESET (or a reset is reloading it)
        if ((f.flags() & O_NONBLOCK) && d->domain->in_reset())
            return -EAGAIN;

        auto desc = std::make_shared<job_desc>();
        desc->op = a.op;
        desc->count = a.count;
        desc->in_offset = a.in_offset;
        desc->out_offset = a.out_offset;
        desc->taps = a.fir_taps;
        desc->fft_size = a.fft_size;
        desc->fft_flags = a.fft_flags;
        if (int e = check_firmware(*fw, *desc))
            return e;
        if (a.op != VDSP_OP_NOP) {
            auto in = accel::lookup(f, a.in_handle);
            auto out = accel::lookup(f, a.out_handle);
            if (!in || !out)
                return -ENOENT;
            desc->in = accel::gem_ref(in.get());
            desc->out = accel::gem_ref(out.get());
            if (auto r = object_bytes(*desc->in, a.in_offset, desc->in_bytes()); !r)
                return r.error();
            if (auto r = object_bytes(*desc->out, a.out_offset, desc->out_bytes()); !r)
                return r.error();
            if (overlap(desc->in, a.in_offset, desc->in_bytes(), desc->out, a.out_offset, desc->out_bytes()))
                return -EINVAL;
            if (a.op == VDSP_OP_FIR) {
                const std::uint64_t bytes = std::uint64_t{a.fir_taps} * 4;
                if (a.coef_handle) {
                    auto c = accel::lookup(f, a.coef_handle);
                    if (!c)
                        return -ENOENT;
                    desc->coef = accel::gem_ref(c.get());
                    desc->coef_offset = a.coef;
                    if (auto r = object_bytes(*desc->coef, a.coef, bytes); !r)
                        return r.error();
                    if (overlap(desc->coef, a.coef, bytes, desc->out, a.out_offset, desc->out_bytes()))
                        return -EINVAL;
                } else {
                    desc->inline_taps.resize(a.fir_taps);
                    if (accel::copy_from_user(desc->inline_taps.data(), a.coef, bytes))
                        return -EFAULT;
                }
            }
        }
        // The out-fence's syncobj is looked up before the point of no return.
        accel::syncobj_ref out_sync;
        if (a.out_syncobj) {
            auto s = accel::syncobj_lookup(f, a.out_syncobj);
            if (!s)
                return s.error();
            out_sync = std::move(*s);
        }
        auto j = std::make_unique<job>();
        j->desc = std::move(desc);
        if (int e = j->init(*f->st->entity, 1))
            return e;
        if (a.in_syncobj) { // explicit sync: the job waits for the syncobj's fence
            auto fence = accel::syncobj_find_fence(f, a.in_syncobj, 0, 0);
            if (!fence)
                return fence.error();
            if (int e = j->add_dependency(std::move(*fence)))
                return e;
        }
        // Implicit sync through the objects' reservation objects (an imported buffer's is its
        // exporter's, so a vdnn job writing it orders before this one): the input and the taps
        // are read (the job waits for their writers and is added as a reader), the output is
        // written (it waits for everyone and is added as the writer). All locked at once.
        struct access {
            accel::dma_resv* resv;
            bool write;
        } objs[3];
        std::size_t n = 0;
        auto note = [&](const accel::gem_ref& o, bool write) {
            if (!o)
                return 0;
            accel::dma_resv* r = accel::gem_object_resv(*o);
            if (!r)
                return -ENOMEM;
            for (std::size_t i = 0; i < n; ++i)
                if (objs[i].resv == r) {
                    objs[i].write |= write;
                    return 0;
                }
            objs[n++] = {r, write};
            return 0;
        };
        if (int e = note(j->desc->in, false); e || (e = note(j->desc->coef, false)) || (e = note(j->desc->out, true)))
            return e;
        accel::drm_exec<accel::dma_resv> exec(accel::drm_exec_flags::none, 3);
        if (int e = exec.lock_all([&](auto& x) {
                for (std::size_t i = 0; i < n; ++i)
                    if (int r = x.prepare_obj(*objs[i].resv, 1))
                        return r;
                return 0;
            }))
            return e;
        for (std::size_t i = 0; i < n; ++i)
            if (int e = j->add_implicit_dependencies(*objs[i].resv, objs[i].write))
                return e;
        auto record = std::make_shared<job_record>();
        std::lock_guard lock(f->st->mutex);
        // The record's place is made before the point of no return (an allocation after arm()
        // would leave a fence that never signals in the reservation objects).
        const auto slot = f->st->jobs.try_emplace(f->st->next_seqno).first;
        // Nothing can fail from here on.
        j->arm();
        record->seqno = f->st->next_seqno++;
        record->finished = j->finished();
        if (out_sync)
            out_sync->replace_fence(j->finished());
        for (std::size_t i = 0; i < n; ++i) // the slots were reserved
            (void)objs[i].resv->add_fence(j->finished(), objs[i].write ? accel::resv_usage::write : accel::resv_usage::read);
        slot->second = record;
        trim_history(*f->st);
        a.seqno = record->seqno;
        f->st->clock->attach(f.engine_time());
        f->st->entity->push(std::move(j));
        return 0;
    }

    static int wait(device&, file& f, vdsp_wait& a) {
        if (a.pad)
            return -EINVAL;
        accel::fence_ptr fence;
        {
            std::lock_guard lock(f->st->mutex);
            if (a.seqno == 0 || a.seqno >= f->st->next_seqno)
                return -EINVAL;
            auto it = f->st->jobs.find(a.seqno);
            if (it == f->st->jobs.end())
                return -ENOENT;
            fence = it->second->finished;
        }
        auto done = [](vdsp_wait& w, accel::fence& fe) -> int {
            w.error = fe.error();
            return 0;
        };
        const std::int64_t now = accel::monotonic_ns();
        const std::int64_t left = a.timeout_ns > now ? a.timeout_ns - now : 0;
        return accel::park_on_fence(a, std::move(fence), std::chrono::nanoseconds(left), done, -ETIME);
    }

    using ioctls = accel::ioctl_table<ACCEL_IOCTL(VDSP_IOCTL_GET_PARAM, &get_param, accel::ioctl_flags::render_allow),
                                      ACCEL_IOCTL(VDSP_IOCTL_BO_CREATE, &bo_create, accel::ioctl_flags::render_allow),
                                      ACCEL_IOCTL(VDSP_IOCTL_BO_INFO, &bo_info, accel::ioctl_flags::render_allow),
                                      ACCEL_IOCTL(VDSP_IOCTL_SUBMIT, &submit, accel::ioctl_flags::render_allow),
                                      ACCEL_IOCTL(VDSP_IOCTL_WAIT, &wait, accel::ioctl_flags::render_allow)>;

private:
    static void trim_history(file_state& st) {
        while (st.jobs.size() > job_history) {
            auto it = st.jobs.begin();
            if (!it->second->finished->is_signaled())
                break;
            st.jobs.erase(it);
        }
    }
};

} // namespace vdsp
