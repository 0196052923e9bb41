// SPDX-License-Identifier: MIT
#pragma once
/// \file The subsystem: registered devices, their minors and their nodes.
///
/// Like the kernel's accel core, a subsystem hands out minors densely from 0, lowest free
/// first, up to ACCEL_MAX_MINORS (256) devices. The 257th registration fails with -ENOSPC, as
/// idr_alloc did in the kernels that introduced accel (v6.2-6.7); today's xarray-based kernels
/// answer -EBUSY and, through an inclusive limit, even admit a 257th minor (KERNEL.md section 1)
/// - accel keeps the documented limit of 256 and the idr errno.
///
/// Each device has two nodes: the compute node `accel/accel<N>` and the monitor node
/// `accel/accel_controlD<N>` (the name habanalabs gives its control node). Names are relative
/// to the backend's root ("/dev" for kernel devices, a mount point, or the mock's root).
///
/// A minor stays taken until the device's last reference goes (an unregistered device that
/// still has open files keeps its number), as drm_minor_free runs at the final drm_dev_put.
/// The subsystem must outlive every device registered in it.
#include <accel/core/device_base.hpp>
#include <accel/base/errno.hpp>
#include <accel/base/fault_injection.hpp>
#include <accel/uapi/accel_drm.h>

#include <array>
#include <cassert>
#include <charconv>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace accel {

/// The name of a node relative to the root, e.g. "accel/accel0" or "accel/accel_controlD0".
inline std::string node_name(node_kind kind, unsigned minor) {
    return std::string(kind == node_kind::compute ? "accel/accel" : "accel/accel_controlD") + std::to_string(minor);
}

/// Parses a node name; false if `name` is not the name of an accel node.
constexpr bool parse_node_name(std::string_view name, node_kind& kind, unsigned& minor) noexcept {
    constexpr std::string_view monitor_prefix = "accel/accel_controlD", compute_prefix = "accel/accel";
    std::string_view digits;
    if (name.starts_with(monitor_prefix)) {
        kind = node_kind::monitor;
        digits = name.substr(monitor_prefix.size());
    } else if (name.starts_with(compute_prefix)) {
        kind = node_kind::compute;
        digits = name.substr(compute_prefix.size());
    } else {
        return false;
    }
    if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0'))
        return false;
    unsigned v = 0;
    for (char c : digits) {
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v >= ACCEL_MAX_MINORS)
        return false;
    minor = v;
    return true;
}

/// Keeps a device registered; destroying it (or reset()) unregisters it: new opens and ioctls
/// get -ENODEV, in-flight calls finish, then the driver's remove() runs.
class registration {
public:
    registration() = default;
    registration(registration&& o) noexcept : sub_(o.sub_), dev_(std::move(o.dev_)) { o.sub_ = nullptr; }
    registration& operator=(registration&& o) noexcept {
        if (this != &o) {
            reset();
            sub_ = o.sub_;
            dev_ = std::move(o.dev_);
            o.sub_ = nullptr;
        }
        return *this;
    }
    registration(const registration&) = delete;
    registration& operator=(const registration&) = delete;
    ~registration() { reset(); }

    /// Unregisters now (idempotent).
    inline void reset() noexcept;
    explicit operator bool() const noexcept { return sub_ != nullptr; }
    device_base* device() const noexcept { return dev_.get(); }
    unsigned minor() const noexcept { return dev_ ? dev_->minor() : 0; }

private:
    friend class subsystem;
    registration(subsystem* s, device_ref d) noexcept : sub_(s), dev_(std::move(d)) {}
    subsystem* sub_ = nullptr;
    device_ref dev_;
};

class subsystem {
public:
    static constexpr unsigned max_devices = ACCEL_MAX_MINORS;

    subsystem() = default;
    subsystem(const subsystem&) = delete;
    subsystem& operator=(const subsystem&) = delete;
    ~subsystem() {
        // Every device must be gone (registrations reset, files closed) before the subsystem.
        for ([[maybe_unused]] auto* d : minors_)
            assert(d == nullptr && "accel::subsystem destroyed while a device still holds a minor");
    }

    /// Registers a device (drm_dev_register): takes the lowest free minor, runs the driver's
    /// probe, then publishes both nodes. Errors: -EINVAL (null or already registered), -ENOSPC
    /// (256 devices), -ENOMEM, or probe's error; nothing stays allocated on failure.
    result<registration> register_device(device_ref dev) {
        if (!dev || dev->registered_once_.exchange(true))
            return result<registration>::failure(-EINVAL); // a device registers once, in one subsystem
        if (detail::alloc_may_fail()) {
            dev->registered_once_ = false;
            return result<registration>::failure(-ENOMEM);
        }
        unsigned minor = 0;
        {
            std::lock_guard lock(mutex_);
            while (minor < max_devices && minors_[minor] != nullptr)
                ++minor;
            if (minor == max_devices) {
                dev->registered_once_ = false;
                return result<registration>::failure(-ENOSPC);
            }
            minors_[minor] = dev.get(); // reserved, not yet published: lookups fail
            dev->minor_ = minor;
            dev->subsystem_ = this;
            dev->release_minor_ = &subsystem::release_minor;
        }
        if (int e = dev->ops().probe(*dev)) {
            std::lock_guard lock(mutex_);
            minors_[minor] = nullptr;
            dev->subsystem_ = nullptr;
            dev->release_minor_ = nullptr;
            dev->registered_once_ = false;
            return result<registration>::failure(e);
        }
        {
            std::lock_guard lock(mutex_);
            published_[minor] = true;
        }
        return registration(this, std::move(dev));
    }

    /// A node found by name, with a reference on its device.
    struct node_ref {
        device_ref device;
        node_kind kind = node_kind::compute;
    };

    /// Looks a node up by name. -ENOENT: not an accel node name; -ENODEV: no registered device
    /// has that minor (never registered, or unregistered since).
    result<node_ref> find_node(std::string_view name) const {
        node_kind kind;
        unsigned minor;
        if (!parse_node_name(name, kind, minor))
            return result<node_ref>::failure(-ENOENT);
        std::lock_guard lock(mutex_);
        if (!published_[minor])
            return result<node_ref>::failure(-ENODEV);
        return node_ref{device_ref(minors_[minor]), kind};
    }

    /// A registered node, as nodes() lists it.
    struct node_entry {
        std::string name;
        node_kind kind;
        unsigned minor;
        device_ref device;
    };

    /// The registered devices, by minor (a snapshot).
    std::vector<device_ref> devices() const {
        std::vector<device_ref> out;
        std::lock_guard lock(mutex_);
        for (unsigned m = 0; m < max_devices; ++m)
            if (published_[m])
                out.emplace_back(minors_[m]);
        return out;
    }

    /// Every node of every registered device, compute node first, by minor (a snapshot).
    std::vector<node_entry> nodes() const {
        std::vector<node_entry> out;
        for (device_ref& d : devices()) {
            out.push_back({node_name(node_kind::compute, d->minor()), node_kind::compute, d->minor(), d});
            out.push_back({node_name(node_kind::monitor, d->minor()), node_kind::monitor, d->minor(), d});
        }
        return out;
    }

    /// Minors held, registered or not: a device keeps its minor until its last reference goes
    /// (for leak checks: 0 once every device is unregistered and every file closed).
    unsigned minors_in_use() const {
        std::lock_guard lock(mutex_);
        unsigned n = 0;
        for (const device_base* d : minors_)
            n += d != nullptr;
        return n;
    }

private:
    friend class registration;

    void unregister(device_base& dev) noexcept {
        {
            std::lock_guard lock(mutex_);
            published_[dev.minor_] = false;
        }
        dev.unplug();
        dev.ops().remove(dev);
    }

    static void release_minor(subsystem* s, unsigned minor) noexcept {
        std::lock_guard lock(s->mutex_);
        s->minors_[minor] = nullptr;
    }

    mutable std::mutex mutex_;
    std::array<device_base*, max_devices> minors_{};
    std::array<bool, max_devices> published_{};
};

inline void registration::reset() noexcept {
    if (sub_) {
        sub_->unregister(*dev_);
        sub_ = nullptr;
        dev_.reset(); // may be the last reference: the minor is released then
    }
}

} // namespace accel
