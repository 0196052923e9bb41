// SPDX-License-Identifier: MIT
#pragma once
/// \file `drm_exec`: locking the reservation objects of several buffers for one job, with the
/// ww_mutex back-off done for the caller (struct drm_exec, drivers/gpu/drm/drm_exec.c).
///
/// The loop, as drm_exec_until_all_locked / drm_exec_retry_on_contention:
///
///     accel::drm_exec<my_bo> exec(accel::drm_exec_flags::interruptible_wait);
///     while (exec.cleanup()) {
///         int r = exec.prepare_obj(a, 1);
///         if (exec.retry_on_contention()) continue;  // -EDEADLK: everything unlocked, go again
///         if (r) return r;                           // (exec's destructor unlocks)
///         r = exec.prepare_obj(b, 1);
///         if (exec.retry_on_contention()) continue;
///         if (r) return r;
///     }
///     ... every object locked, a fence slot reserved in each; add the job's fence ...
///     exec.fini();   // or let the destructor do it
///
/// or `exec.lock_all([&](auto& e) { ... return r; })`, which runs that loop around a body
/// returning its first error. `cleanup()` starts the acquire context on the first pass, unlocks
/// everything (newest first) after a contention, and ends the acquire phase once a pass went
/// through (ww_acquire_done). On the pass after -EDEADLK the next lock_obj first takes the
/// contended object with the slow lock, then the call for that object returns 0 at once
/// ("prelocked"); -EALREADY is 0 with `ignore_duplicates`; a failed reservation unlocks the
/// object it locked; `unlock_obj` removes one object; `fini` unlocks everything and drops the
/// references.
///
/// Objects: any type with a reservation object, found by `resv_of(obj)`: a `dma_resv` itself, a
/// type with a member `dma_resv& resv()`, or a free `dma_resv& resv_of(T&)` found by ADL. A type
/// reference-counted through boost::intrusive_ptr (intrusive_ptr_add_ref / _release) is held by
/// reference while locked and while contended, as drm_exec holds GEM object references; other
/// types are held by address and must outlive their lock.
///
/// accel's differences: one object type per drm_exec (a template) instead of drm_gem_object;
/// `interruptible_wait` is accepted and has no effect (a user-space lock wait has no signal to
/// end it, see exec/ww_mutex.hpp); the destructor finishes an exec not finished yet.
#include <accel/base/fault_injection.hpp>
#include <accel/base/page_size.hpp>
#include <accel/exec/dma_resv.hpp>
#include <accel/exec/ww_mutex.hpp>

#include <boost/intrusive_ptr.hpp>

#include <cassert>
#include <cerrno>
#include <concepts>
#include <cstddef>
#include <memory>
#include <new>
#include <span>
#include <type_traits>
#include <utility>

namespace accel {

/// The reservation object of `r` itself, and of any object with `dma_resv& resv()`.
inline dma_resv& resv_of(dma_resv& r) noexcept { return r; }
template <class T>
    requires requires(T& o) {
        { o.resv() } -> std::same_as<dma_resv&>;
    }
dma_resv& resv_of(T& o) noexcept(noexcept(o.resv())) {
    return o.resv();
}

/// An object drm_exec can lock: it has a reservation object.
template <class T>
concept resv_object = requires(T& o) {
    { resv_of(o) } -> std::same_as<dma_resv&>;
};

/// DRM_EXEC_INTERRUPTIBLE_WAIT, DRM_EXEC_IGNORE_DUPLICATES.
enum class drm_exec_flags : unsigned { none = 0, interruptible_wait = 1u << 0, ignore_duplicates = 1u << 1 };
constexpr drm_exec_flags operator|(drm_exec_flags a, drm_exec_flags b) noexcept {
    return static_cast<drm_exec_flags>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
constexpr bool has_flag(drm_exec_flags set, drm_exec_flags f) noexcept {
    return (static_cast<unsigned>(set) & static_cast<unsigned>(f)) != 0;
}

namespace detail {

template <class T>
concept intrusive_refcounted = requires(T* p) {
    intrusive_ptr_add_ref(p);
    intrusive_ptr_release(p);
};

/// How drm_exec holds an object: a reference when it is reference-counted, else its address.
template <class T>
struct exec_ref {
    using type = T*;
    static type make(T& o) noexcept { return &o; }
};
template <intrusive_refcounted T>
struct exec_ref<T> {
    using type = boost::intrusive_ptr<T>;
    static type make(T& o) noexcept { return type(&o); }
};

} // namespace detail

template <resv_object T = dma_resv>
class drm_exec {
public:
    /// A locked object as held: boost::intrusive_ptr<T> or T*.
    using ref = typename detail::exec_ref<T>::type;

    /// drm_exec_init: `nr` objects expected (0: a page's worth); the array grows by a page.
    explicit drm_exec(drm_exec_flags flags = drm_exec_flags::none, unsigned nr = 0) noexcept { init(flags, nr); }
    drm_exec(const drm_exec&) = delete;
    drm_exec& operator=(const drm_exec&) = delete;
    ~drm_exec() { fini(); }

    /// Starts again after fini() (or on a new exec).
    void init(drm_exec_flags flags = drm_exec_flags::none, unsigned nr = 0) noexcept {
        fini();
        flags_ = flags;
        first_pass_ = true;
        const unsigned n = nr ? nr : page_objects();
        objects_.reset(detail::alloc_may_fail() ? nullptr : new (std::nothrow) ref[n]); // on failure the first lock grows it
        max_ = objects_ ? n : 0;
        num_ = 0;
        live_ = true;
    }

    /// drm_exec_fini: unlocks everything, drops the contended object, ends the acquire context.
    /// Idempotent.
    void fini() noexcept {
        if (!live_)
            return;
        unlock_all();
        objects_.reset();
        max_ = 0;
        if (!first_pass_) {
            contended_ = ref{};
            ticket_.fini();
        }
        live_ = false;
    }

    /// The loop's head (drm_exec_cleanup): true to run the body (first pass, or again after a
    /// contention, with everything unlocked), false once a pass ended without contention.
    bool cleanup() noexcept {
        assert(live_ && "drm_exec used after fini");
        if (first_pass_) {
            first_pass_ = false;
            ticket_.init(reservation_ww_class);
            return true;
        }
        if (!contended_) {
            ticket_.done();
            return false;
        }
        unlock_all();
        return true;
    }

    /// Whether the last lock met contention: the body must go back to cleanup() (`continue`).
    bool retry_on_contention() const noexcept { return is_contended(); }
    bool is_contended() const noexcept { return static_cast<bool>(contended_); }

    /// drm_exec_lock_obj: 0 (locked, or already locked with ignore_duplicates), -EDEADLK
    /// (contended: retry), -EALREADY, -ENOMEM.
    int lock_obj(T& obj) noexcept {
        assert(!first_pass_ && "drm_exec_lock_obj outside the cleanup() loop");
        if (int r = lock_contended())
            return r;
        if (prelocked_ && &*prelocked_ == &obj) {
            prelocked_ = ref{};
            return 0;
        }
        int r = resv_of(obj).lock(&ticket_);
        if (r == -EDEADLK) {
            contended_ = detail::exec_ref<T>::make(obj);
            return r;
        }
        if (r == -EALREADY && has_flag(flags_, drm_exec_flags::ignore_duplicates))
            return 0;
        if (r)
            return r;
        if ((r = obj_locked(obj))) {
            resv_of(obj).unlock();
            return r;
        }
        return 0;
    }

    /// drm_exec_prepare_obj: lock_obj, then reserve `num_fences` slots (on failure the object is
    /// unlocked again).
    int prepare_obj(T& obj, unsigned num_fences) noexcept {
        if (int r = lock_obj(obj))
            return r;
        if (int r = resv_of(obj).reserve_fences(num_fences)) {
            unlock_obj(obj);
            return r;
        }
        return 0;
    }

    /// drm_exec_prepare_array: prepare_obj for each, stopping at the first error.
    int prepare_array(std::span<T* const> objs, unsigned num_fences) noexcept {
        for (T* o : objs)
            if (int r = prepare_obj(*o, num_fences))
                return r;
        return 0;
    }

    /// drm_exec_unlock_obj: unlocks one locked object and forgets it (the array stays in order).
    void unlock_obj(T& obj) noexcept {
        for (unsigned i = num_; i--;) {
            if (&*objects_[i] != &obj)
                continue;
            resv_of(obj).unlock();
            [[maybe_unused]] ref keep = std::move(objects_[i]); // the reference goes last
            for (++i; i < num_; ++i)
                objects_[i - 1] = std::move(objects_[i]);
            --num_;
            return;
        }
    }

    /// The loop around `body(*this)` (returning 0 or its first error): 0 once everything is
    /// locked, or the body's error (the objects locked so far stay locked until fini).
    template <class Body>
    int lock_all(Body&& body) {
        while (cleanup()) {
            int r = body(*this);
            if (retry_on_contention())
                continue;
            if (r)
                return r;
        }
        return 0;
    }

    unsigned num_objects() const noexcept { return num_; }
    /// The locked objects in locking order (drm_exec_for_each_locked_object's array).
    std::span<const ref> objects() const noexcept { return {objects_.get(), num_}; }
    T& obj(unsigned index) const noexcept { return *objects_[index]; }
    ww_acquire_ctx& ticket() noexcept { return ticket_; }

    template <class Fn>
    void for_each_locked_object(Fn&& fn) const {
        for (unsigned i = 0; i < num_; ++i)
            fn(*objects_[i]);
    }
    template <class Fn>
    void for_each_locked_object_reverse(Fn&& fn) const {
        for (unsigned i = num_; i--;)
            fn(*objects_[i]);
    }

private:
    static unsigned page_objects() noexcept { return static_cast<unsigned>(host_page_size() / sizeof(ref)); }

    /// Takes the object of the last contention first, with the slow lock (drm_exec_lock_contended).
    int lock_contended() noexcept {
        if (!contended_)
            return 0;
        ref obj = std::move(contended_); // cleared whatever happens, so errors are reported once
        contended_ = ref{};
        if (int r = resv_of(*obj).lock_slow(&ticket_))
            return r;
        if (int r = obj_locked(*obj)) {
            resv_of(*obj).unlock();
            return r;
        }
        prelocked_ = std::move(obj);
        return 0;
    }

    /// Records a locked object, growing the array by a page (drm_exec_obj_locked): -ENOMEM.
    int obj_locked(T& obj) noexcept {
        if (num_ == max_) {
            const unsigned n = max_ + page_objects();
            std::unique_ptr<ref[]> grown(detail::alloc_may_fail() ? nullptr : new (std::nothrow) ref[n]);
            if (!grown)
                return -ENOMEM;
            for (unsigned i = 0; i < num_; ++i)
                grown[i] = std::move(objects_[i]);
            objects_ = std::move(grown);
            max_ = n;
        }
        objects_[num_++] = detail::exec_ref<T>::make(obj);
        return 0;
    }

    /// Unlocks every object, newest first, and drops the prelocked reference.
    void unlock_all() noexcept {
        while (num_) {
            ref o = std::move(objects_[--num_]);
            resv_of(*o).unlock();
        }
        prelocked_ = ref{};
    }

    drm_exec_flags flags_ = drm_exec_flags::none;
    ww_acquire_ctx ticket_;
    std::unique_ptr<ref[]> objects_;
    unsigned num_ = 0;
    unsigned max_ = 0;
    ref contended_{};       // the object whose lock answered -EDEADLK, taken first next pass
    ref prelocked_{};       // that object once taken: its next lock_obj is a no-op
    bool first_pass_ = true; // the kernel's DRM_EXEC_DUMMY: the ticket is not initialised yet
    bool live_ = false;
};

} // namespace accel
