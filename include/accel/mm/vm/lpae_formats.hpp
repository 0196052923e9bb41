// SPDX-License-Identifier: MIT
#pragma once
/// \file Two shipped page-table formats modelled on ARM's long-descriptor (LPAE / AArch64) tables.
///
/// - `lpae_4k`: 4 levels of 9 bits, 4 KiB granule, 48-bit VA; leaves of 1 GiB (level 1),
///   2 MiB (level 2) and 4 KiB (level 3).
/// - `lpae_64k`: 3 levels (6, 13, 13 bits), 64 KiB granule, 48-bit VA; leaves of 512 MiB
///   (level 1) and 64 KiB (level 2). Tables are 64 KiB (the root 512 bytes).
///
/// The entry layout follows the ARM descriptor closely enough to read a dump with an ARM
/// manual at hand, without claiming bit-exact compatibility:
///   bit 0      valid
///   bit 1      above the last level: 1 = table, 0 = block; at the last level 1 = page (0 with
///              bit 0 set is reserved, decoded as invalid)
///   bit 7      AP[2]: read-only (set when write is not granted)
///   bit 10     AF: access flag, set on every leaf (nothing here emulates access faults)
///   bit 54     XN: execute-never (set when exec is not granted)
///   bit 55     software bit: readable (ARM cannot express "no read"; these formats can)
///   bits [47:page_shift]  output address
#include <accel/mm/vm/page_table_format.hpp>

namespace accel::mm::vm {

namespace detail {

template <unsigned Levels, unsigned PageShift>
struct lpae_encoding {
    static constexpr unsigned pa_bits = 48;
    static constexpr u64 valid = u64{1} << 0, table_or_page = u64{1} << 1, ap_ro = u64{1} << 7,
                         af = u64{1} << 10, xn = u64{1} << 54, sw_read = u64{1} << 55;
    static constexpr u64 addr_mask = ((u64{1} << pa_bits) - 1) & ~((u64{1} << PageShift) - 1);

    static constexpr u64 encode_table(u64 pa) noexcept { return (pa & addr_mask) | valid | table_or_page; }
    static constexpr u64 encode_leaf(u64 pa, vm_perm p, unsigned level) noexcept {
        u64 e = (pa & addr_mask) | valid | af;
        if (level == Levels - 1)
            e |= table_or_page;
        if (!allows(p, vm_perm::write))
            e |= ap_ro;
        if (!allows(p, vm_perm::exec))
            e |= xn;
        if (allows(p, vm_perm::read))
            e |= sw_read;
        return e;
    }
    static constexpr pte_info decode(u64 e, unsigned level) noexcept {
        if (!(e & valid))
            return {};
        const bool last = level == Levels - 1;
        if (!last && (e & table_or_page))
            return {pte_kind::table, e & addr_mask, vm_perm::none};
        if (last && !(e & table_or_page))
            return {};
        vm_perm p = vm_perm::none;
        if (e & sw_read)
            p = p | vm_perm::read;
        if (!(e & ap_ro))
            p = p | vm_perm::write;
        if (!(e & xn))
            p = p | vm_perm::exec;
        return {pte_kind::leaf, e & addr_mask, p};
    }
};

} // namespace detail

struct lpae_4k : detail::lpae_encoding<4, 12> {
    static constexpr unsigned levels = 4;
    static constexpr unsigned level_bits[levels] = {9, 9, 9, 9};
    static constexpr unsigned page_shift = 12;
    static constexpr bool leaf_allowed(unsigned level) noexcept { return level >= 1; }
};

struct lpae_64k : detail::lpae_encoding<3, 16> {
    static constexpr unsigned levels = 3;
    static constexpr unsigned level_bits[levels] = {6, 13, 13};
    static constexpr unsigned page_shift = 16;
    static constexpr bool leaf_allowed(unsigned level) noexcept { return level >= 1; }
};

static_assert(page_table_format<lpae_4k> && diagnose_page_table_format<lpae_4k>());
static_assert(page_table_format<lpae_64k> && diagnose_page_table_format<lpae_64k>());
static_assert(page_table_geometry<lpae_4k>::va_bits == 48 && page_table_geometry<lpae_64k>::va_bits == 48);
static_assert(page_table_geometry<lpae_4k>::page_sizes() == ((u64{1} << 12) | (u64{1} << 21) | (u64{1} << 30)));
static_assert(page_table_geometry<lpae_64k>::page_sizes() == ((u64{1} << 16) | (u64{1} << 29)));

} // namespace accel::mm::vm
