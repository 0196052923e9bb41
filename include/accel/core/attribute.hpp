// SPDX-License-Identifier: MIT
#pragma once
/// \file `attribute<D>`: how a driver declares sysfs-like attributes and debugfs-like entries
/// with typed show/store callbacks (struct device_attribute's DEVICE_ATTR_RW and
/// debugfs_create_file's role), and the type-erased rows the framework serves them from.
///
/// A driver declares either table, or both, or none:
///
///     static int timeout_show(accel::device<my_driver>&, std::string& out);
///     static int timeout_store(accel::device<my_driver>&, std::string_view in);
///     static constexpr std::array sysfs_attributes{
///         accel::attribute<my_driver>{"job_timeout_ms", 0644, &timeout_show, &timeout_store},
///     };
///     static constexpr std::array debugfs_entries{
///         accel::attribute<my_driver>{"engines/queues", 0444, &queues_show, nullptr},
///     };
///
/// (The callbacks must be declared before the tables in the class body: a static data member's
/// initializer sees only what precedes it.)
///
/// show appends the attribute's text to `out` and returns 0 or -errno (sysfs_emit's role; the
/// errno is what read(2) returns). store gets the bytes of one write(2), newline included as
/// sysfs passes it ("1\n" from `echo 1 >`), and returns 0 (the write then reports every byte
/// taken) or -errno (the write fails with it; the store must then have changed nothing).
/// Either may be null: a file whose mode is readable needs a show, a writable one a store
/// (checked at compile time, as is everything below).
///
/// Names: non-empty, '/'-separated components for subdirectories (debugfs_create_dir), no
/// empty component, no "." or "..", no leading or trailing '/', at most 255 bytes a component,
/// no NUL. Modes follow VERIFY_OCTAL_PERMISSIONS (what DEVICE_ATTR checks): at most 0777, the
/// owner's read/write bits at least the group's, the group's at least the others', and no
/// write bit for others. A table with two entries of one name does not compile.
///
/// The limit (default one page, 4096, at most 4096): a sysfs attribute's show output past
/// limit - 1 bytes is cut (sysfs keeps PAGE_SIZE - 1 of an overlong show; a debugfs entry's
/// show is cut only at monitor/attribute_file.hpp's debugfs_limit, 1 MiB, as seq_file has no
/// page limit), and a write longer than the limit is
/// -EINVAL without calling store (the kernel's sysfs cuts such a write to one page and
/// cgroup's kernfs files answer -E2BIG; accel refuses it so a store never sees half a value).
/// See monitor/attribute_file.hpp for the file semantics.
///
/// Where the tables appear: sysfs_attributes under the device's sysfs directory's `device/`
/// subdirectory (sys/class/accel/accel<N>/device/<name>): habanalabs puts its driver
/// attributes on the parent (PCI) device, which /sys/class/accel/accel<N>/device links to, and
/// keeping them apart means a driver name never collides with a framework attribute.
/// debugfs_entries appear at the top of the device's debugfs directory next to the framework's
/// `name`, `clients` and `fdinfo/` (a clash with those does not compile either).
#include <accel/core/device_base.hpp>
#include <accel/core/driver_hooks.hpp>
#include <accel/core/fwd.hpp>
#include <accel/uapi/accel_info.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace accel {

/// One page: the most a show produces (less one byte) and a store receives.
inline constexpr std::size_t attribute_page_size = 4096;

namespace detail {
// Called in a constant expression only when a declaration is wrong: the compiler names it.
inline void attribute_name_is_invalid() {}
inline void attribute_mode_is_invalid() {}
inline void attribute_readable_without_show_or_writable_without_store() {}
inline void attribute_limit_must_be_1_to_4096() {}
inline void attribute_name_declared_twice() {}

/// True for a valid attribute path (see the file comment).
constexpr bool valid_attribute_name(std::string_view name) noexcept {
    if (name.empty() || name.front() == '/' || name.back() == '/')
        return false;
    std::size_t start = 0;
    while (start <= name.size()) {
        std::size_t end = name.find('/', start);
        if (end == std::string_view::npos)
            end = name.size();
        const std::string_view part = name.substr(start, end - start);
        if (part.empty() || part == "." || part == ".." || part.size() > 255)
            return false;
        for (char c : part)
            if (c == '\0')
                return false;
        start = end + 1;
    }
    return true;
}

/// VERIFY_OCTAL_PERMISSIONS (include/linux/kernel.h).
constexpr bool valid_attribute_mode(unsigned mode) noexcept {
    return mode <= 0777 && ((mode >> 6) & 4) >= ((mode >> 3) & 4) && ((mode >> 3) & 4) >= (mode & 4) &&
           ((mode >> 6) & 2) >= ((mode >> 3) & 2) && (mode & 2) == 0;
}
} // namespace detail

/// One attribute of driver D (see the file comment). Built in constant expressions only.
template <class D>
struct attribute {
    using show_fn = int (*)(device<D>&, std::string& out);
    using store_fn = int (*)(device<D>&, std::string_view in);

    std::string_view name;
    mode_t mode;
    show_fn show;
    store_fn store;
    std::size_t limit;

    consteval attribute(std::string_view n, unsigned m, show_fn sh, store_fn st,
                        std::size_t lim = attribute_page_size)
        : name(n), mode(static_cast<mode_t>(m)), show(sh), store(st), limit(lim) {
        if (!detail::valid_attribute_name(n))
            detail::attribute_name_is_invalid();
        if (!detail::valid_attribute_mode(m))
            detail::attribute_mode_is_invalid();
        if (((m & 0444) && !sh) || ((m & 0222) && !st) || (!sh && !st))
            detail::attribute_readable_without_show_or_writable_without_store();
        if (lim == 0 || lim > attribute_page_size)
            detail::attribute_limit_must_be_1_to_4096();
    }
};

/// An attribute with its callbacks type-erased: what driver_ops carries. show/store are null
/// when the declaration's are.
struct attribute_row {
    std::string_view name;
    mode_t mode;
    std::size_t limit;
    int (*show)(device_base&, std::string& out);
    int (*store)(device_base&, std::string_view in);
};

/// A table of rows (a span; C++20's std::span would do, but this stays a literal aggregate).
struct attribute_rows {
    const attribute_row* rows = nullptr;
    std::size_t count = 0;
    const attribute_row* begin() const noexcept { return rows; }
    const attribute_row* end() const noexcept { return rows + count; }
};

/// What the framework's attribute trees need from driver D (driver_ops::attributes): its two
/// tables, and the INFO callbacks that take only the device, for the framework attributes
/// (status, memory/). Each answers what INFO's item of the same name answers.
struct attribute_tables {
    attribute_rows sysfs;
    attribute_rows debugfs;
    accel_device_state (*state)(device_base&);
    std::vector<accel_info_memory_region> (*memory_regions)(device_base&);
    std::vector<accel_info_memory_use> (*memory_usage)(device_base&);
};

/// kstrtoul's parse of a store's input: decimal digits after at most one '+', with at most one
/// trailing newline (what `echo N >` writes). 0, -EINVAL (not a number), or -ERANGE (past T's
/// range); a store returns these as they are, as kernel stores return kstrtoul's.
template <class T>
constexpr int parse_attribute_number(std::string_view in, T& out) noexcept {
    if (!in.empty() && in.back() == '\n')
        in.remove_suffix(1);
    if (!in.empty() && in.front() == '+')
        in.remove_prefix(1);
    if (in.empty() || in.front() == '-' || in.front() == '+')
        return -EINVAL;
    T v{};
    auto [end, ec] = std::from_chars(in.data(), in.data() + in.size(), v);
    if (ec == std::errc::result_out_of_range)
        return -ERANGE;
    if (ec != std::errc{} || end != in.data() + in.size())
        return -EINVAL;
    out = v;
    return 0;
}

namespace detail {

template <class D, bool Debugfs>
constexpr auto declared_attributes() noexcept {
    if constexpr (!Debugfs && requires { D::sysfs_attributes; })
        return D::sysfs_attributes;
    else if constexpr (Debugfs && requires { D::debugfs_entries; })
        return D::debugfs_entries;
    else
        return std::array<attribute<D>, 0>{};
}

/// Whether `table` has two entries of one name, or one that is `reserved` or lies under it.
template <class Table>
constexpr bool names_clash(const Table& table, std::initializer_list<std::string_view> reserved) noexcept {
    for (std::size_t i = 0; i < table.size(); ++i) {
        const std::string_view a = table[i].name;
        for (std::size_t j = 0; j < i; ++j) {
            const std::string_view b = table[j].name;
            // equal, or one is a directory of the other ("x" and "x/y" cannot both exist)
            if (a == b || (a.size() > b.size() && a.starts_with(b) && a[b.size()] == '/') ||
                (b.size() > a.size() && b.starts_with(a) && b[a.size()] == '/'))
                return true;
        }
        for (std::string_view r : reserved)
            if (a == r || (a.size() > r.size() && a.starts_with(r) && a[r.size()] == '/') ||
                (r.size() > a.size() && r.starts_with(a) && r[a.size()] == '/'))
                return true;
    }
    return false;
}

// A parameter, so that the compiler does not warn that a function's address is never null.
template <class Fn>
constexpr bool declared(Fn fn) noexcept {
    return fn != nullptr;
}

template <class D, bool Debugfs>
struct attribute_trampolines {
    static constexpr auto table = declared_attributes<D, Debugfs>();
    static_assert(!names_clash(table, Debugfs ? std::initializer_list<std::string_view>{"name", "clients", "fdinfo"}
                                              : std::initializer_list<std::string_view>{}),
                  "two attributes of one name, a file that is also a directory, or a debugfs entry named "
                  "like a framework entry (name, clients, fdinfo)");

    template <std::size_t I>
    static int show(device_base& d, std::string& out) {
        return table[I].show(static_cast<device<D>&>(d), out);
    }
    template <std::size_t I>
    static int store(device_base& d, std::string_view in) {
        return table[I].store(static_cast<device<D>&>(d), in);
    }
    template <std::size_t... I>
    static constexpr std::array<attribute_row, sizeof...(I)> make(std::index_sequence<I...>) noexcept {
        return {attribute_row{table[I].name, table[I].mode, table[I].limit, declared(table[I].show) ? &show<I> : nullptr,
                              declared(table[I].store) ? &store<I> : nullptr}...};
    }
    static constexpr auto rows = make(std::make_index_sequence<table.size()>{});
};

// The tables' type-erased view of the driver's hooks (core/driver_hooks.hpp has the answers).
template <class D>
accel_device_state attribute_state(device_base& d) {
    return device_state_of(static_cast<device<D>&>(d));
}
template <class D>
std::vector<accel_info_memory_region> attribute_memory_regions(device_base& d) {
    return regions_of(static_cast<device<D>&>(d));
}
template <class D>
std::vector<accel_info_memory_use> attribute_memory_usage(device_base& d) {
    return memory_usage_of(static_cast<device<D>&>(d));
}

/// driver_ops::attributes of driver D.
template <class D>
inline constexpr attribute_tables attribute_tables_of{
    {attribute_trampolines<D, false>::rows.data(), attribute_trampolines<D, false>::rows.size()},
    {attribute_trampolines<D, true>::rows.data(), attribute_trampolines<D, true>::rows.size()},
    &attribute_state<D>,
    &attribute_memory_regions<D>,
    &attribute_memory_usage<D>,
};

} // namespace detail
} // namespace accel
