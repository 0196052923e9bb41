// SPDX-License-Identifier: MIT
#pragma once
/// \file Compile-time ioctl tables: typed rows, checked when the driver is instantiated.
///
/// A row binds a request number built with ACCEL_IOWR & co. to a handler
///     int handler(accel::device<D>&, accel::file<D>&, Arg&)
/// that returns 0 or a negative errno. The table is a type; `device<D>` builds from it a
/// constexpr array indexed by `nr - ACCEL_COMMAND_BASE` (as DRM_IOCTL_DEF_DRV does), so dispatch
/// is one index and one indirect call. Each row is checked on its own, and a failing check names
/// the row (its name is part of the row's type, so it appears in the diagnostic):
///   - the type byte is 'd' and the number lies in [0x40, 0xA0);
///   - no other row uses the same number;
///   - the argument struct's size equals the size field of the request number;
///   - the argument struct is trivially copyable (it is copied in and out as bytes);
///   - the handler takes exactly (device<D>&, file<D>&, Arg&) for *this* driver and returns int;
///   - the flags are known ioctl_flags;
///   - a row that returns a descriptor (ACCEL_IOCTL_FD) names a 4-byte-aligned __s32 field inside
///     its argument, in an ioctl that copies out (_IOR/_IOWR).
/// Gaps are allowed and answer -EINVAL, as empty slots do in the kernel.
///
/// A row whose handler hands the caller a new descriptor (accel::fd_install) says where:
///     ACCEL_IOCTL_FD(MY_IOCTL_EXPORT, &my_export, flags, offsetof(struct my_export, fd))
/// Backends that cannot create a descriptor in the caller use it (the FUSE host refuses such a
/// call made without accel's syscall backend before the handler runs, and checks the offset the
/// backend's wrapper names: see core/descriptors.hpp and fuse/caller_descriptors.hpp); the
/// driver's client code registers the same row with backend::syscall::register_fd_ioctl.
#include <accel/base/fixed_string.hpp>
#include <accel/core/fwd.hpp>
#include <accel/core/ioctl_flags.hpp>
#include <accel/core/ioctl_number.hpp>

#include <array>
#include <cstddef>
#include <new>
#include <string_view>
#include <type_traits>

namespace accel {

namespace detail {
/// Splits a handler's function-pointer type into its parts.
template <class F>
struct handler_traits {
    static constexpr bool is_function_pointer = false;
    using device_param = void;
    using file_param = void;
    using arg_type = void;
};
template <class R, class Dev, class File, class Arg>
struct handler_traits<R (*)(Dev, File, Arg)> {
    static constexpr bool is_function_pointer = true;
    using device_param = Dev;
    using file_param = File;
    using arg_type = std::remove_reference_t<Arg>;
    static constexpr bool returns_int = std::is_same_v<R, int>;
    static constexpr bool arg_by_ref = std::is_lvalue_reference_v<Arg> && !std::is_const_v<std::remove_reference_t<Arg>>;
};
template <class R, class Dev, class File, class Arg>
struct handler_traits<R (*)(Dev, File, Arg) noexcept> : handler_traits<R (*)(Dev, File, Arg)> {};
} // namespace detail

/// The argument of an ioctl without one (_IO): its handler takes `no_arg&`.
struct no_arg {};

/// One row of a driver's ioctl table. Write rows with ACCEL_IOCTL so the name is the macro's.
template <fixed_string Name, ioctl_cmd Cmd, auto Handler, unsigned Flags = ioctl_flags::none, int FdField = -1>
struct ioctl {
    static constexpr std::string_view name = Name.view();
    static constexpr ioctl_cmd cmd = Cmd;
    static constexpr unsigned flags = Flags;
    static constexpr int fd_field = FdField; ///< offset of the __s32 descriptor it returns, or -1
    static constexpr auto handler = Handler;
    using traits = detail::handler_traits<decltype(Handler)>;
    using arg_type = typename traits::arg_type;
};

/// `ACCEL_IOCTL(MY_IOCTL_SUBMIT, &my_submit, accel::ioctl_flags::none)`: a row named after its
/// request macro, like DRM_IOCTL_DEF_DRV.
#define ACCEL_IOCTL(cmd, handler, flags) ::accel::ioctl<#cmd, (cmd), (handler), (flags)>
/// A row whose handler returns a new descriptor in the __s32 at byte `fd_offset` of its argument
/// (`offsetof(struct my_arg, fd)`), as PRIME_HANDLE_TO_FD returns one in `fd`.
#define ACCEL_IOCTL_FD(cmd, handler, flags, fd_offset) \
    ::accel::ioctl<#cmd, (cmd), (handler), (flags), static_cast<int>(fd_offset)>

/// A driver's ioctl table: `using ioctls = accel::ioctl_table<ACCEL_IOCTL(...), ...>;`
template <class... Rows>
struct ioctl_table {
    static constexpr std::size_t size = sizeof...(Rows);
};

/// Type-erased handler the dispatcher calls with the zero-extended argument buffer.
using ioctl_fn = int (*)(device_base&, file_base&, void* kdata);

/// One slot of a dispatch array: the row's request number, flags and trampoline.
struct ioctl_slot {
    ioctl_cmd cmd = 0;
    unsigned flags = 0;
    ioctl_fn fn = nullptr;
    std::string_view name{};
    /// Offset in the argument of the __s32 field through which the call returns a new
    /// descriptor (core/descriptors.hpp), or -1: backends that cannot create a descriptor in
    /// the caller (FUSE) complete such calls with the client's help.
    int fd_field = -1;
};

namespace detail {

template <class Row, class... Rows>
constexpr std::size_t rows_with_nr() {
    return ((ioc_nr(Rows::cmd) == ioc_nr(Row::cmd) ? 1u : 0u) + ... + 0u);
}

/// Checks one row. Instantiated with the row as a template argument, so a failing
/// static_assert is reported "in instantiation of check_ioctl_row<..., accel::ioctl<"NAME", ...>>".
template <class D, class Row, class... Rows>
consteval bool check_ioctl_row() {
    using traits = typename Row::traits;
    static_assert(ioc_type(Row::cmd) == ACCEL_IOCTL_BASE,
                  "accel ioctl table: a driver ioctl must use the 'd' type byte (ACCEL_IOWR & co.)");
    static_assert(is_driver_nr(ioc_nr(Row::cmd)),
                  "accel ioctl table: driver ioctl numbers must lie in [ACCEL_COMMAND_BASE, ACCEL_COMMAND_END) = [0x40, 0xA0)");
    static_assert(rows_with_nr<Row, Rows...>() == 1, "accel ioctl table: two rows use the same ioctl number");
    static_assert((Row::flags & ~ioctl_flags::known) == 0, "accel ioctl table: unknown ioctl flags");
    static_assert(traits::is_function_pointer,
                  "accel ioctl table: the handler must be a function int(accel::device<D>&, accel::file<D>&, Arg&)");
    if constexpr (traits::is_function_pointer) {
        static_assert(std::is_same_v<typename traits::device_param, device<D>&>,
                      "accel ioctl table: the handler's first parameter must be accel::device<D>& of this driver");
        static_assert(std::is_same_v<typename traits::file_param, file<D>&>,
                      "accel ioctl table: the handler's second parameter must be accel::file<D>& of this driver");
        static_assert(traits::arg_by_ref, "accel ioctl table: the handler must take its argument struct as Arg&");
        static_assert(traits::returns_int, "accel ioctl table: the handler must return int (0 or -errno)");
        static_assert(std::is_trivially_copyable_v<typename traits::arg_type> &&
                          std::is_standard_layout_v<typename traits::arg_type>,
                      "accel ioctl table: the argument must be a plain uAPI struct (trivially copyable, standard layout)");
        if constexpr (std::is_same_v<typename traits::arg_type, no_arg>)
            static_assert(ioc_size(Row::cmd) == 0, "accel ioctl table: accel::no_arg is only for ioctls without an argument (_IO)");
        else if constexpr (std::is_object_v<typename traits::arg_type>)
            static_assert(sizeof(typename traits::arg_type) == ioc_size(Row::cmd),
                          "accel ioctl table: sizeof(argument struct) differs from the size encoded in the ioctl number");
    }
    static_assert(Row::fd_field == -1 || (Row::fd_field >= 0 && Row::fd_field % 4 == 0 &&
                                          static_cast<unsigned>(Row::fd_field) + 4 <= ioc_size(Row::cmd)),
                  "accel ioctl table: the descriptor field of ACCEL_IOCTL_FD must be a 4-byte-aligned __s32 inside the argument");
    static_assert(Row::fd_field == -1 || (ioc_dir(Row::cmd) & _IOC_READ),
                  "accel ioctl table: a row that returns a descriptor must copy its argument out (_IOR or _IOWR)");
    return true;
}

template <class D, class Row>
int call_row(device_base& dev, file_base& f, void* kdata) {
    using arg = typename Row::arg_type;
    // kdata is suitably aligned storage into which the argument's bytes were copied; copying
    // bytes into it implicitly created the (implicit-lifetime) argument object.
    return Row::handler(static_cast<device<D>&>(dev), static_cast<file<D>&>(f),
                        *std::launder(reinterpret_cast<arg*>(kdata)));
}

template <class D, class Table>
struct driver_dispatch;

template <class D, class... Rows>
struct driver_dispatch<D, ioctl_table<Rows...>> {
    static constexpr bool valid = (check_ioctl_row<D, Rows, Rows...>() && ... && true);
    static constexpr std::size_t slots = ACCEL_COMMAND_END - ACCEL_COMMAND_BASE;

    static constexpr std::array<ioctl_slot, slots> make() {
        std::array<ioctl_slot, slots> a{};
        // Out-of-range rows were already reported by check_ioctl_row; skip them here so the
        // diagnostic is that message and not an out-of-bounds constant evaluation.
        ((is_driver_nr(ioc_nr(Rows::cmd))
              ? void(a[ioc_nr(Rows::cmd) - ACCEL_COMMAND_BASE] =
                         ioctl_slot{Rows::cmd, Rows::flags, &call_row<D, Rows>, Rows::name, Rows::fd_field})
              : void()),
         ...);
        return a;
    }
    static constexpr std::array<ioctl_slot, slots> table = make();
};

} // namespace detail
} // namespace accel
