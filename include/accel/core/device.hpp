// SPDX-License-Identifier: MIT
#pragma once
/// \file `device<D>` and `file<D>`: a driver's typed device and open file.
///
/// `device<D>` is the framework's device with the driver's `device_data` inside; `file<D>` an
/// open file with the driver's `file_data`. Handlers receive both typed, never a void* or a
/// raw request number. The driver_ops table the framework dispatches through is a constant
/// built here from D's declarations (the role of the Rust abstraction's computed vtable), and
/// the ioctl table is checked when it is built: a bad row stops compilation naming the row.
#include <accel/core/attribute.hpp>
#include <accel/core/device_base.hpp>
#include <accel/core/device_file.hpp>
#include <accel/core/dispatch.hpp>
#include <accel/core/driver.hpp>
#include <accel/base/errno.hpp>
#include <accel/base/fault_injection.hpp>
#include <accel/core/file_base.hpp>
#include <accel/core/info_items.hpp>
#include <accel/core/ioctl_table.hpp>

#include <boost/intrusive_ptr.hpp>

#include <new>
#include <type_traits>
#include <utility>

namespace accel {

namespace detail {
/// driver_ops::wrap_object of driver D; defined in core/gem/bo.hpp (included at the end).
template <class D>
result<gem_ref> wrap_object(device_base&, std::uint64_t size, std::unique_ptr<bo_placement> placement);
} // namespace detail

template <class D>
class file final : public file_base {
public:
    typename D::file_data& data() noexcept { return data_; }
    const typename D::file_data& data() const noexcept { return data_; }
    typename D::file_data* operator->() noexcept { return &data_; }
    accel::device<D>& device() const noexcept { return static_cast<accel::device<D>&>(base_device()); }

private:
    friend class accel::device<D>;
    /// `data...`: what file_data is built from (the driver's open() result, or the device).
    template <class... Data>
    file(accel::device<D>& dev, node_kind kind, const caller_identity& opener, int flags, Data&&... data)
        : file_base(device_file_operations, dev, kind, opener, flags), data_(std::forward<Data>(data)...) {}
    typename D::file_data data_;
};

template <class D>
class device final : public device_base {
    static_assert(diagnose_driver<D>());

public:
    using driver_type = D;
    using ref = boost::intrusive_ptr<device>;

    /// Creates an unregistered device whose device_data is built from `args`
    /// (drm_dev_alloc). -ENOMEM when the allocation fails (or is made to fail) or device_data's
    /// constructor throws std::bad_alloc, -EIO when it throws anything else.
    template <class... Args>
    static result<ref> create(Args&&... args) {
        if (detail::alloc_may_fail())
            return result<ref>::failure(-ENOMEM);
        device* d = nullptr;
        try {
            d = new (std::nothrow) device(std::forward<Args>(args)...);
        } catch (...) { // device_data's constructor (or the offset index) threw
            return result<ref>::failure(exception_errno());
        }
        if (!d)
            return result<ref>::failure(-ENOMEM);
        return ref(d, false); // adopts the creator's reference
    }

    typename D::device_data& data() noexcept { return data_; }
    const typename D::device_data& data() const noexcept { return data_; }
    typename D::device_data* operator->() noexcept { return &data_; }

private:
    template <class... Args>
    explicit device(Args&&... args) : device_base(ops), data_(std::forward<Args>(args)...) {
        if constexpr (driver_has_objects<D>)
            mmap_offsets().install(gem::make_offset_index<D>());
    }
    ~device() = default;

    static device& self(device_base& d) noexcept { return static_cast<device&>(d); }
    static file<D>& typed(file_base& f) noexcept { return static_cast<file<D>&>(f); }

    /// drm_open_helper's allocation and the driver's open, as one fallible step.
    static result<file_base*> make_file(device_base& d, node_kind kind, const caller_identity& who, int flags) noexcept {
        using out = result<file_base*>;
        using data = typename D::file_data;
        if (detail::alloc_may_fail())
            return out::failure(-ENOMEM);
        file_base* f = nullptr;
        try {
            if constexpr (driver_has_open<D>) {
                if (int e = detail::callback_may_fail("open"))
                    return out::failure(e);
                result<data> made = D::open(self(d));
                if (!made)
                    return out::failure(made.error() < 0 ? made.error() : -EINVAL);
                f = new (std::nothrow) file<D>(self(d), kind, who, flags, std::move(*made));
            } else if constexpr (std::is_constructible_v<data, accel::device<D>&>) {
                f = new (std::nothrow) file<D>(self(d), kind, who, flags, self(d));
            } else {
                f = new (std::nothrow) file<D>(self(d), kind, who, flags);
            }
        } catch (...) { // the driver's open or file_data's constructor threw
            return out::failure(exception_errno());
        }
        if (!f)
            return out::failure(-ENOMEM);
        return f;
    }
    static void free_file(file_base* f) noexcept { delete static_cast<file<D>*>(f); }

    // Driver callbacks run inside try blocks: nothing a driver throws crosses the boundary.
    template <class Fn>
    static int guarded(Fn&& fn) noexcept {
        try {
            return fn();
        } catch (...) {
            return exception_errno();
        }
    }
    static unsigned poll_cb(device_base& d, file_base& f) {
        if constexpr (driver_has_poll<D>) {
            try {
                return D::poll(self(d), typed(f));
            } catch (...) {
                return POLLERR;
            }
        } else {
            return 0;
        }
    }
    static void postclose_cb(device_base& d, file_base& f) {
        if constexpr (driver_has_postclose<D>)
            guarded([&] { D::postclose(self(d), typed(f)); return 0; });
    }
    static int probe_cb(device_base& d) {
        if constexpr (driver_has_probe<D>) {
            if (int e = detail::callback_may_fail("probe"))
                return e;
            return guarded([&] { return D::probe(self(d)); });
        }
        return 0;
    }
    static void remove_cb(device_base& d) {
        if constexpr (driver_has_remove<D>)
            guarded([&] { D::remove(self(d)); return 0; });
    }
    static void destroy(device_base* d) noexcept { delete static_cast<device*>(d); }
    static accel::dma_domain& dma_domain_cb(device_base& d) noexcept {
        if constexpr (driver_has_dma_domain<D>)
            return D::dma_domain(self(d));
        else
            return identity_dma_domain::instance();
    }
    static constexpr auto wrap_object_fn() noexcept {
        if constexpr (driver_has_objects<D>)
            return &detail::wrap_object<D>;
        else
            return static_cast<result<gem_ref> (*)(device_base&, std::uint64_t, std::unique_ptr<bo_placement>)>(nullptr);
    }
    static int info_cb(device_base& d, file_base& f, std::uint32_t id, std::vector<unsigned char>& out) {
        return detail::info_item<D>(self(d), typed(f), id, out);
    }

    static std::vector<accel_info_sensor> sensors_cb(device_base& d) {
        if constexpr (requires { D::sensors(self(d)); })
            return D::sensors(self(d));
        else
            return {};
    }

    static void fdinfo_cb(device_base& d, file_base& f, std::string& out) {
        out += format_fdinfo(detail::fdinfo_record_of<D>(self(d), typed(f)));
    }
    static std::vector<accel_info_engine_time> engine_busy_cb(device_base& d) {
        return detail::raw_engine_busy<D>(self(d));
    }

    using dispatch = detail::driver_dispatch<D, typename D::ioctls>;
    static_assert(dispatch::valid);

    static constexpr driver_ops ops{
        &D::info,          driver_is_exclusive<D>(), driver_has_objects<D>, &make_file, &free_file,
        &postclose_cb,     &probe_cb,                &remove_cb,            &destroy,    dispatch::table.data(),
        &info_cb,          &poll_cb,                 driver_features<D>(),  &dma_domain_cb,
        wrap_object_fn(),  &sensors_cb,
        &fdinfo_cb,        &engine_busy_cb,
        &detail::attribute_tables_of<D>,
    };

    typename D::device_data data_;
};

} // namespace accel

// bo<D> and detail::wrap_object<D>: every program that makes a device can wrap memory in objects.
#include <accel/core/gem/bo.hpp>
