// SPDX-License-Identifier: MIT
#pragma once
/// \file The `page_table_format` concept: the geometry and PTE layout of a device MMU.
///
/// A device MMU is a radix tree of tables. The driver describes its hardware with a format
/// policy; page_table<Format, Region> (page_table.hpp) does the rest. A format gives:
/// - `levels`: number of table levels (level 0 is the root);
/// - `level_bits[levels]`: index bits resolved at each level (a level-l table holds
///   2^level_bits[l] 8-byte entries);
/// - `page_shift`: log2 of the smallest page (what one last-level entry maps);
/// - `pa_bits`: width of the physical addresses an entry can hold;
/// - `leaf_allowed(l)`: whether level l may hold leaf entries (a block/page mapping 2^shift(l)
///   bytes). The last level must, and leaf levels must be contiguous down to it (splitting a
///   leaf needs leaves one level below);
/// - `encode_table(pa)`, `encode_leaf(pa, perms, level)` and `decode(pte, level)` -> pte_info:
///   entries are little-endian u64 in memory (as a device would read them); 0 is always invalid
///   (fresh tables are zero-filled).
/// The VA width, page_shift + sum(level_bits), must stay below 64 bits.
/// `page_table_geometry<F>` derives the sizes; `diagnose_page_table_format<F>()` explains failures.
#include <accel/mm/range.hpp>

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace accel::mm::vm {

/// Access the device may make through a mapping.
enum class vm_perm : std::uint8_t { none = 0, read = 1, write = 2, exec = 4, rw = 3, rwx = 7 };
constexpr vm_perm operator|(vm_perm a, vm_perm b) noexcept {
    return static_cast<vm_perm>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
constexpr vm_perm operator&(vm_perm a, vm_perm b) noexcept {
    return static_cast<vm_perm>(static_cast<unsigned>(a) & static_cast<unsigned>(b));
}
/// All of `want` is granted by `have`.
constexpr bool allows(vm_perm have, vm_perm want) noexcept { return (have & want) == want; }

enum class pte_kind : std::uint8_t { invalid, table, leaf };

/// A decoded entry: for a table, `pa` is the next table's address; for a leaf, the first byte
/// it maps.
struct pte_info {
    pte_kind kind = pte_kind::invalid;
    u64 pa = 0;
    vm_perm perms = vm_perm::none;
};

template <class F>
concept page_table_format = requires(u64 pa, vm_perm p, unsigned level) {
    { F::levels } -> std::convertible_to<unsigned>;
    { F::level_bits[0] } -> std::convertible_to<unsigned>;
    { F::page_shift } -> std::convertible_to<unsigned>;
    { F::pa_bits } -> std::convertible_to<unsigned>;
    { F::leaf_allowed(level) } -> std::same_as<bool>;
    { F::encode_table(pa) } -> std::same_as<u64>;
    { F::encode_leaf(pa, p, level) } -> std::same_as<u64>;
    { F::decode(pa, level) } -> std::same_as<pte_info>;
};

/// Sizes derived from a format, all constexpr.
template <page_table_format F>
struct page_table_geometry {
    static constexpr unsigned levels = F::levels;
    /// log2 of the bytes one entry of level l spans.
    static constexpr unsigned shift(unsigned l) noexcept {
        unsigned s = F::page_shift;
        for (unsigned i = l + 1; i < levels; ++i)
            s += F::level_bits[i];
        return s;
    }
    static constexpr u64 entry_span(unsigned l) noexcept { return u64{1} << shift(l); }
    static constexpr u64 entries(unsigned l) noexcept { return u64{1} << F::level_bits[l]; }
    static constexpr u64 table_bytes(unsigned l) noexcept { return entries(l) * 8; }
    static constexpr unsigned va_bits = shift(0) + F::level_bits[0];
    static constexpr u64 min_page = u64{1} << F::page_shift;
    static constexpr unsigned first_leaf_level() noexcept {
        unsigned l = levels - 1;
        while (l > 0 && F::leaf_allowed(l - 1))
            --l;
        return l;
    }
    /// Bitmask of the page sizes the format can map with one leaf.
    static constexpr u64 page_sizes() noexcept {
        u64 m = 0;
        for (unsigned l = 0; l < levels; ++l)
            if (F::leaf_allowed(l))
                m |= entry_span(l);
        return m;
    }
    static constexpr std::size_t index(u64 va, unsigned l) noexcept {
        return static_cast<std::size_t>((va >> shift(l)) & (entries(l) - 1));
    }

    /// The structural rules of the file comment.
    static constexpr bool valid() noexcept {
        if (levels < 1 || levels > 8 || F::page_shift < 3 || F::pa_bits > 64 || F::pa_bits <= F::page_shift)
            return false;
        unsigned total = F::page_shift;
        for (unsigned l = 0; l < levels; ++l) {
            if (F::level_bits[l] < 1 || F::level_bits[l] > 20)
                return false;
            total += F::level_bits[l];
        }
        if (total >= 64 || !F::leaf_allowed(levels - 1))
            return false;
        for (unsigned l = first_leaf_level(); l < levels; ++l)
            if (!F::leaf_allowed(l))
                return false;
        return true;
    }
};

template <class F>
consteval bool diagnose_page_table_format() {
    if constexpr (!page_table_format<F>) {
        static_assert(page_table_format<F>, "page_table_format: needs levels, level_bits[], page_shift, pa_bits, "
                                            "leaf_allowed(l), encode_table(pa), encode_leaf(pa, perms, l), "
                                            "decode(pte, l) -> pte_info");
        return false;
    } else {
        static_assert(page_table_geometry<F>::valid(),
                      "page_table_format: 1..8 levels of 1..20 bits, VA below 64 bits, the last level "
                      "holding leaves and leaf levels contiguous down to it");
        return page_table_geometry<F>::valid();
    }
}

// ---- little-endian PTE access ----------------------------------------------------------------

inline u64 load_le64(const std::byte* p) noexcept {
    u64 v;
    std::memcpy(&v, p, sizeof v);
    if constexpr (std::endian::native == std::endian::big)
        v = __builtin_bswap64(v);
    return v;
}
inline void store_le64(std::byte* p, u64 v) noexcept {
    if constexpr (std::endian::native == std::endian::big)
        v = __builtin_bswap64(v);
    std::memcpy(p, &v, sizeof v);
}

} // namespace accel::mm::vm
