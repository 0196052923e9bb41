// SPDX-License-Identifier: MIT
#pragma once
/// \file The scheduler's vocabulary: priorities, the timeout handler's answer, the configuration,
/// and `sched_ops`, the concept a driver's job operations model (drm_sched_backend_ops).
///
/// A driver writes one ops type per engine kind, typed on its own job type as Rust's drm::sched
/// JobImpl trait is, so the framework never hands it a job of another driver:
/// \code
///   struct npu_job : accel::sched_job { ... };            // the driver's job derives from sched_job
///   struct npu_ops {
///       using job_type = npu_job;
///       accel::result<accel::fence_ptr> run_job(npu_job&);  // the hardware fence; nullptr: done
///                                                         // now; an error: complete with it
///       accel::timeout_status timedout_job(npu_job&);     // reset, enodev or no_hang
///       void free_job(npu_job*);                          // owns the job from here on
///       void cancel_job(npu_job&);                        // optional: at teardown, signal the
///                                                         // job's hardware fence (-ECANCELED)
///   };
///   static_assert(accel::sched_ops<npu_ops>);            // diagnose_sched_ops<npu_ops>() explains a miss
/// \endcode
/// The scheduler owns one `Ops` object and calls its members, so ops may hold the engine they
/// drive. The scheduler builds a constant table of trampolines from `Ops` (the computed vtable of
/// the Rust abstraction) and calls only through it; a member named `cancel_job` with another
/// signature is a compile error naming the hook, never silently ignored. Nothing a driver throws
/// crosses into the scheduler: run_job's exception completes the job with -ENOMEM/-EIO
/// (exception_errno), timedout_job's counts as `reset`, free_job's and cancel_job's are dropped.
#include <accel/base/errno.hpp>
#include <accel/base/fault_injection.hpp>
#include <accel/exec/fence.hpp>

#include <chrono>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>

namespace accel {

class sched_job;

/// Entity priorities (enum drm_sched_priority since 6.7): lower value, served first.
enum class sched_priority : int { kernel = 0, high = 1, normal = 2, low = 3 };
inline constexpr int sched_priority_count = 4;

/// What `timedout_job` reports (enum drm_gpu_sched_stat; 0, NONE, is reserved there).
enum class timeout_status : int {
    reset = 1,   ///< the device was reset (NOMINAL before 6.17); the timer is re-armed
    enodev = 2,  ///< the device is gone; the timer is not re-armed
    no_hang = 3, ///< the job is still progressing: it is put back and the timer re-armed
};

/// Order among the ready entities of one priority (the classic scheduler's sched_policy).
enum class sched_policy {
    fifo,        ///< oldest head job first, by submit time (drm_sched's default since about 6.2)
    round_robin, ///< the next ready entity after the one served last (sched_policy=0)
};

/// drm_sched_init_args, the parts that mean something here.
struct sched_config {
    std::string_view name = "accel-sched";      ///< copied; the timeline name of the job fences
    std::uint32_t credit_limit = 1;             ///< credits of the jobs on the hardware at once (0 acts as 1)
    std::optional<std::chrono::nanoseconds> timeout{}; ///< job timeout; none: no TDR (MAX_SCHEDULE_TIMEOUT)
    unsigned hang_limit = 0;                    ///< karma above which resubmit_jobs() cancels a context
    sched_policy policy = sched_policy::fifo;
    bool fast_path = true;                      ///< run_job on the pushing thread when nothing is in the way
    /// How long a finished job may wait for free_job while jobs keep completing: the worker frees
    /// them in batches, waking every free_delay, rather than waking at every completion (see
    /// "Freeing" in scheduler.hpp). 0: woken at every completion.
    std::chrono::nanoseconds free_delay = std::chrono::milliseconds(1);
};

namespace detail {
template <class Ops>
concept sched_ops_job = requires { typename Ops::job_type; } && std::is_class_v<typename Ops::job_type> &&
                        std::derived_from<typename Ops::job_type, sched_job> &&
                        requires(sched_job* j) { static_cast<typename Ops::job_type*>(j); }; // no virtual base
} // namespace detail

/// A type whose members run, time out and free the jobs of one driver's job type.
template <class Ops>
concept sched_ops = detail::sched_ops_job<Ops> && std::is_object_v<Ops> &&
                    requires(Ops& ops, typename Ops::job_type& job, typename Ops::job_type* owned) {
                        { ops.run_job(job) } -> std::same_as<result<fence_ptr>>;
                        { ops.timedout_job(job) } -> std::same_as<timeout_status>;
                        { ops.free_job(owned) } -> std::same_as<void>;
                    };

/// The optional teardown hook (drm_sched_backend_ops.cancel_job, 6.17+).
template <class Ops>
concept sched_ops_has_cancel_job = sched_ops<Ops> && requires(Ops& ops, typename Ops::job_type& job) {
    { ops.cancel_job(job) } -> std::same_as<void>;
};

/// Explains the first requirement of `sched_ops` that Ops misses.
template <class Ops>
consteval bool diagnose_sched_ops() {
    if constexpr (!requires { typename Ops::job_type; }) {
        static_assert(sizeof(Ops) == 0, "accel sched_ops: declare `using job_type = <your job>;`");
        return false;
    } else if constexpr (!detail::sched_ops_job<Ops>) {
        static_assert(sizeof(Ops) == 0,
                      "accel sched_ops: job_type must derive (publicly, not virtually) from accel::sched_job");
        return false;
    } else if constexpr (!requires(Ops& o, typename Ops::job_type& j) {
                             { o.run_job(j) } -> std::same_as<result<fence_ptr>>;
                         }) {
        static_assert(sizeof(Ops) == 0, "accel sched_ops: declare `accel::result<accel::fence_ptr> run_job(job_type&)`");
        return false;
    } else if constexpr (!requires(Ops& o, typename Ops::job_type& j) {
                             { o.timedout_job(j) } -> std::same_as<timeout_status>;
                         }) {
        static_assert(sizeof(Ops) == 0, "accel sched_ops: declare `accel::timeout_status timedout_job(job_type&)`");
        return false;
    } else if constexpr (!requires(Ops& o, typename Ops::job_type* j) {
                             { o.free_job(j) } -> std::same_as<void>;
                         }) {
        static_assert(sizeof(Ops) == 0, "accel sched_ops: declare `void free_job(job_type*)` (it owns the job)");
        return false;
    } else if constexpr (requires { &Ops::cancel_job; } && !sched_ops_has_cancel_job<Ops>) {
        static_assert(sizeof(Ops) == 0, "accel sched_ops: hook `cancel_job` must be `void cancel_job(job_type&)`");
        return false;
    } else {
        return true;
    }
}

namespace detail {

/// The table the scheduler calls through: one trampoline per operation, built from Ops at
/// compile time; `cancel_job` is null when Ops has none.
struct sched_vtable {
    result<fence_ptr> (*run_job)(void* ops, sched_job& job) noexcept;
    timeout_status (*timedout_job)(void* ops, sched_job& job) noexcept;
    void (*free_job)(void* ops, sched_job* job) noexcept;
    void (*cancel_job)(void* ops, sched_job& job) noexcept;
};

template <class Ops>
struct sched_trampolines {
    using job_type = typename Ops::job_type;
    static Ops& self(void* p) noexcept { return *static_cast<Ops*>(p); }

    static result<fence_ptr> run_job(void* ops, sched_job& job) noexcept {
        if (int e = detail::callback_may_fail("sched.run_job"))
            return result<fence_ptr>::failure(e);
        try {
            return self(ops).run_job(static_cast<job_type&>(job));
        } catch (...) {
            return result<fence_ptr>::failure(exception_errno());
        }
    }
    static timeout_status timedout_job(void* ops, sched_job& job) noexcept {
        try {
            return self(ops).timedout_job(static_cast<job_type&>(job));
        } catch (...) {
            return timeout_status::reset;
        }
    }
    static void free_job(void* ops, sched_job* job) noexcept {
        try {
            self(ops).free_job(static_cast<job_type*>(job));
        } catch (...) {
        }
    }
    static void cancel_job(void* ops, sched_job& job) noexcept {
        try {
            self(ops).cancel_job(static_cast<job_type&>(job));
        } catch (...) {
        }
    }
};

template <class Ops>
consteval sched_vtable make_sched_vtable() {
    static_assert(diagnose_sched_ops<Ops>());
    using t = sched_trampolines<Ops>;
    sched_vtable vt{&t::run_job, &t::timedout_job, &t::free_job, nullptr};
    if constexpr (sched_ops_has_cancel_job<Ops>)
        vt.cancel_job = &t::cancel_job;
    return vt;
}

template <class Ops>
inline constexpr sched_vtable sched_vtable_for = make_sched_vtable<Ops>();

} // namespace detail
} // namespace accel
