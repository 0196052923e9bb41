// SPDX-License-Identifier: MIT
#pragma once
/// \file The framework's side of an open file (struct drm_file's role).
///
/// One object per open() of a node. It keeps what the framework tracks for every driver: which
/// device and node it belongs to, the client id (global, strictly increasing from 1, never
/// reused, as drm_file_alloc assigns it), who opened it, and the client name set by
/// SET_CLIENT_NAME. `file<D>` adds the driver's typed per-file data.
#include <accel/core/driver_info.hpp>
#include <accel/core/fwd.hpp>
#include <accel/core/user_memory.hpp>

#include <boost/intrusive/list_hook.hpp>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

namespace accel {

namespace detail {
inline std::atomic<std::uint64_t> next_client_id{1};
} // namespace detail

class file_base : public boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::normal_link>> {
public:
    file_base(const file_base&) = delete;
    file_base& operator=(const file_base&) = delete;

    accel::device_base& base_device() const noexcept { return *dev_; }
    node_kind kind() const noexcept { return kind_; }
    std::uint64_t client_id() const noexcept { return client_id_; }
    /// drm_file.authenticated: whether the opener was privileged.
    bool authenticated() const noexcept { return opener_.privileged; }
    const caller_identity& opener() const noexcept { return opener_; }

    std::string client_name() const {
        std::lock_guard lock(name_mutex_);
        return client_name_;
    }
    /// Replaces the client name (no validation here: SET_CLIENT_NAME validates).
    void set_client_name(std::string name) noexcept {
        std::lock_guard lock(name_mutex_);
        client_name_.swap(name);
    }

protected:
    file_base(accel::device_base& dev, node_kind kind, const caller_identity& opener) noexcept
        : dev_(&dev), kind_(kind), client_id_(detail::next_client_id.fetch_add(1, std::memory_order_relaxed)),
          opener_(opener) {}
    virtual ~file_base() = default;

private:
    friend class accel::device_base;
    accel::device_base* dev_;
    node_kind kind_;
    std::uint64_t client_id_;
    caller_identity opener_;
    mutable std::mutex name_mutex_;
    std::string client_name_;
};

} // namespace accel
