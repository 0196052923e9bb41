// SPDX-License-Identifier: MIT
#pragma once
/// \file Vocabulary of a device VA space (va_space.hpp): mappings, split/merge operations, the
/// op list and the pre-allocated mapping objects.
///
/// As in drm_gpuvm, a bind request is first turned into a list of steps (va_ops), without
/// changing anything; the driver walks it to prepare (allocate page tables, pin BOs), then
/// va_space::apply() commits it without failing or allocating, consuming mapping objects the
/// driver allocated beforehand (va_prealloc) - fence-signalling paths cannot allocate.
#include <accel/mm/range.hpp>
#include <accel/mm/range/best_fit.hpp>

#include <boost/intrusive/set_hook.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace accel::mm::vm {

template <class Obj>
class va_space;

/// A mapping's description: VA [addr, addr + range) shows `obj` from byte `offset` on. `obj` is
/// opaque (compared only, for "same BO"); null is allowed (e.g. sparse mappings, never kept).
/// `flags` are the driver's (permissions, caching); mappings with different flags are never
/// "kept" (their PTEs differ).
template <class Obj>
struct va_piece {
    u64 addr = 0;
    u64 range = 0;
    Obj* obj = nullptr;
    u64 offset = 0;
    std::uint32_t flags = 0;
    u64 last() const noexcept { return addr + (range - 1); }
    friend bool operator==(const va_piece&, const va_piece&) = default;
};

/// A mapping object, owned by the driver (heap, pool or embedded; drivers may derive from it).
/// Linked into one va_space at a time by apply(); it must stay alive, unmoved, while linked.
template <class Obj>
class va_mapping {
public:
    va_mapping() = default;
    va_mapping(const va_mapping&) = delete;
    va_mapping& operator=(const va_mapping&) = delete;

    u64 addr() const noexcept { return desc_.addr; }
    u64 range() const noexcept { return desc_.range; }
    u64 last() const noexcept { return desc_.last(); }
    Obj* obj() const noexcept { return desc_.obj; }
    u64 offset() const noexcept { return desc_.offset; }
    std::uint32_t flags() const noexcept { return desc_.flags; }
    const va_piece<Obj>& piece() const noexcept { return desc_; }
    bool linked() const noexcept { return hook_.is_linked(); }

private:
    friend class va_space<Obj>;
    boost::intrusive::set_member_hook<boost::intrusive::link_mode<boost::intrusive::safe_link>> hook_;
    best_fit::node va_node_; ///< its VA in the space's address allocator
    va_piece<Obj> desc_;
};

enum class va_op_kind : std::uint8_t {
    map,   ///< create `map`
    remap, ///< `old` goes; what is left of it (`prev` below, `next` above the request) stays
    unmap, ///< `old` goes entirely
};

/// One step of an op list (drm_gpuva_op).
template <class Obj>
struct va_op {
    va_op_kind kind = va_op_kind::map;
    va_piece<Obj> map{};                 ///< map: the new mapping
    va_mapping<Obj>* old = nullptr;      ///< remap/unmap: the mapping removed (the driver's again after apply)
    /// remap/unmap: the PTEs of the part being replaced may stay, because the request maps the
    /// same object at the same offsets with the same flags (drm_gpuva_op_unmap.keep).
    bool keep = false;
    bool has_prev = false, has_next = false;
    va_piece<Obj> prev{}, next{};        ///< remap: the surviving pieces
    /// Filled by apply(): the driver's objects now linked as `map`, `prev` and `next`.
    va_mapping<Obj>* new_map = nullptr;
    va_mapping<Obj>* new_prev = nullptr;
    va_mapping<Obj>* new_next = nullptr;

    /// remap/unmap: the VA range whose translations go away (old minus prev and next).
    u64 unmap_addr() const noexcept { return has_prev ? prev.addr + prev.range : old->addr(); }
    u64 unmap_range() const noexcept {
        const u64 end_last = has_next ? next.addr - 1 : old->last();
        return end_last - unmap_addr() + 1;
    }
};

/// An op list: zero or more unmaps, at most two remaps (the mappings straddling the request's
/// two ends), then at most one map; valid for apply() until the space changes.
template <class Obj>
class va_ops {
public:
    using value_type = va_op<Obj>;
    auto begin() noexcept { return ops_.begin(); }
    auto end() noexcept { return ops_.end(); }
    auto begin() const noexcept { return ops_.begin(); }
    auto end() const noexcept { return ops_.end(); }
    std::size_t size() const noexcept { return ops_.size(); }
    bool empty() const noexcept { return ops_.empty(); }
    const va_op<Obj>& operator[](std::size_t i) const noexcept { return ops_[i]; }
    const va_op<Obj>& back() const noexcept { return ops_.back(); }
    /// Mapping objects apply() will take from the va_prealloc (0 to 3).
    std::size_t mappings_needed() const noexcept {
        std::size_t n = 0;
        for (const auto& op : ops_)
            n += (op.kind == va_op_kind::map) + op.has_prev + op.has_next;
        return n;
    }

private:
    friend class va_space<Obj>;
    std::vector<va_op<Obj>> ops_;
    std::uint64_t generation_ = 0; ///< the space's generation when computed (0: never)
};

/// Mapping objects handed to apply() beforehand, so that apply cannot fail. A sm_map needs at
/// most three (the new mapping and two surviving pieces), a sm_unmap at most two.
template <class Obj>
class va_prealloc {
public:
    static constexpr std::size_t capacity = 3;
    /// Adds an unlinked object; false when full.
    bool push(va_mapping<Obj>* m) noexcept {
        if (count_ == capacity || !m || m->linked())
            return false;
        slots_[count_++] = m;
        return true;
    }
    /// Takes one back (the driver frees what apply() did not use); null when empty.
    va_mapping<Obj>* pop() noexcept { return count_ ? slots_[--count_] : nullptr; }
    std::size_t count() const noexcept { return count_; }

private:
    std::array<va_mapping<Obj>*, capacity> slots_{};
    std::size_t count_ = 0;
};

} // namespace accel::mm::vm
