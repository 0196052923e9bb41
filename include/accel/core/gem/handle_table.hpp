// SPDX-License-Identifier: MIT
#pragma once
/// \file `handle_table`: a file's buffer-object handles (drm_file.object_idr).
///
/// Handles are the numbers a client uses for objects: per file, from 1, the lowest free number
/// first (idr_alloc(.., 1, 0)), 0 never valid. A handle holds a reference to its object and
/// allows its file to mmap the object (drm_vma_node_allow); deleting it revokes that and drops
/// the reference, and its number becomes reusable only after that cleanup, as in
/// drm_gem_handle_delete. Another file's numbers mean nothing here: lookups are per table.
#include <accel/base/errno.hpp>
#include <accel/base/fault_injection.hpp>
#include <accel/core/gem/extension.hpp>
#include <accel/core/gem/object.hpp>
#include <accel/core/user_memory.hpp>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <new>
#include <vector>

namespace accel {

class handle_table {
public:
    /// The file whose table this is (its mmap permission is granted per file) and its
    /// extension slots (told of each handle's release: core/gem/extension.hpp).
    handle_table(const file_base& owner, std::atomic<file_extension*>* extensions) noexcept
        : owner_(&owner), extensions_(extensions) {}
    handle_table(const handle_table&) = delete;
    handle_table& operator=(const handle_table&) = delete;
    ~handle_table() { release_all(); }

    /// drm_gem_handle_create: a new handle to `obj` (which gains a reference). -ENOMEM when the
    /// table or the object's permission list cannot grow, or the driver's per-handle open
    /// error; nothing changes then. The driver's open runs outside the table's lock, with the
    /// number reserved (lookups miss it until it is published), as drm_gem_handle_create_tail
    /// calls obj->funcs->open after idr_alloc.
    result<std::uint32_t> create(gem_object& obj) {
        std::unique_lock lock(mutex_);
        std::size_t i = lowest_free_;
        while (i < slots_.size() && slots_[i])
            ++i;
        if (i == slots_.size()) {
            if (i >= max_handles)
                return result<std::uint32_t>::failure(-ENOSPC);
            if (detail::alloc_may_fail())
                return result<std::uint32_t>::failure(-ENOMEM);
            try {
                slots_.push_back(nullptr);
            } catch (...) {
                return result<std::uint32_t>::failure(-ENOMEM);
            }
        }
        if (int e = obj.allow(*owner_))
            return result<std::uint32_t>::failure(e);
        intrusive_ptr_add_ref(&obj);
        obj.handle_count_.fetch_add(1, std::memory_order_relaxed);
        slots_[i] = closing(); // reserved: not found, not reusable
        lowest_free_ = i + 1;
        lock.unlock();
        int err;
        try {
            err = obj.funcs_->open(obj, const_cast<file_base&>(*owner_));
        } catch (...) {
            err = exception_errno();
        }
        lock.lock();
        if (err) {
            slots_[i] = nullptr;
            if (i < lowest_free_)
                lowest_free_ = i;
            lock.unlock();
            obj.revoke(*owner_);
            obj.handle_count_.fetch_sub(1, std::memory_order_relaxed);
            intrusive_ptr_release(&obj);
            return result<std::uint32_t>::failure(err < 0 ? err : -EINVAL);
        }
        slots_[i] = &obj;
        ++count_;
        return static_cast<std::uint32_t>(i + 1);
    }

    /// drm_gem_object_lookup: a reference to the object `handle` names, or null (callers map
    /// that to -ENOENT, as drivers do).
    /// The current call's object_observer hears of the object (user_memory.hpp).
    gem_ref lookup(std::uint32_t handle) const {
        gem_ref r;
        {
            std::lock_guard lock(mutex_);
            gem_object* o = handle && handle <= slots_.size() ? slots_[handle - 1] : nullptr;
            r = gem_ref(o == closing() ? nullptr : o); // adds a reference
        }
        if (r)
            note_object_reached(*r);
        return r;
    }

    /// drm_gem_handle_delete: -EINVAL for a handle this table does not hold.
    int remove(std::uint32_t handle) noexcept {
        gem_object* o;
        {
            std::lock_guard lock(mutex_);
            if (!handle || handle > slots_.size() || !slots_[handle - 1] || slots_[handle - 1] == closing())
                return -EINVAL;
            o = slots_[handle - 1];
            slots_[handle - 1] = closing(); // looked up as absent, not reusable yet
            --count_;
        }
        drop(*o, handle);
        std::lock_guard lock(mutex_);
        slots_[handle - 1] = nullptr;
        if (handle - 1 < lowest_free_)
            lowest_free_ = handle - 1;
        return 0;
    }

    /// drm_gem_release: every handle, at file close.
    void release_all() noexcept {
        std::vector<gem_object*> objs;
        {
            std::lock_guard lock(mutex_);
            objs.swap(slots_);
            lowest_free_ = 0;
            count_ = 0;
        }
        for (std::size_t i = 0; i < objs.size(); ++i)
            if (objs[i] && objs[i] != closing())
                drop(*objs[i], static_cast<std::uint32_t>(i + 1));
    }

    /// Live handles.
    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return count_;
    }

    /// Calls `fn(handle, gem_object&)` for every live handle, in handle order, under the lock
    /// (fn must not call back into this table).
    template <class Fn>
    void for_each(Fn&& fn) const {
        std::lock_guard lock(mutex_);
        for (std::size_t i = 0; i < slots_.size(); ++i)
            if (slots_[i] && slots_[i] != closing())
                fn(static_cast<std::uint32_t>(i + 1), *slots_[i]);
    }

private:
    /// idr handles are ints: the largest is INT_MAX.
    static constexpr std::size_t max_handles = 0x7fffffff;
    /// The placeholder of a handle being deleted (lookups miss it; its number is not free yet).
    static gem_object* closing() noexcept { return reinterpret_cast<gem_object*>(alignof(gem_object)); }

    /// drm_gem_object_release_handle's order: the driver's close, the file's PRIME cache entry
    /// (the extensions hear of it), the mmap permission; then drm_gem_object_handle_put: the
    /// last handle drops the object's exported dma-buf (handles_gone), then the reference.
    void drop(gem_object& o, std::uint32_t handle) noexcept {
        o.funcs_->close(o, const_cast<file_base&>(*owner_));
        for (unsigned i = 0; i < static_cast<unsigned>(file_extension_slot::count); ++i)
            if (file_extension* e = extensions_[i].load(std::memory_order_acquire))
                e->handle_released(handle, o);
        o.revoke(*owner_);
        if (o.handle_count_.fetch_sub(1, std::memory_order_acq_rel) == 1)
            if (object_extension* e = o.extension())
                e->handles_gone(o);
        intrusive_ptr_release(&o);
    }

    const file_base* owner_;
    std::atomic<file_extension*>* extensions_;
    mutable std::mutex mutex_;
    std::vector<gem_object*> slots_; ///< handle - 1 -> object
    std::size_t lowest_free_ = 0;    ///< no free slot below this index
    std::size_t count_ = 0;
};

} // namespace accel
