// SPDX-License-Identifier: MIT
#pragma once
/// \file The framework's side of an open device file (struct drm_file's role).
///
/// One object per open() of a node: an open_file (core/open_file.hpp) whose operations are the
/// device file's (core/device_file.hpp). It keeps what the framework tracks for every driver: which
/// device and node it belongs to, the client id (global, strictly increasing from 1, never
/// reused, as drm_file_alloc assigns it), who opened it, and the client name set by
/// SET_CLIENT_NAME. `file<D>` adds the driver's typed per-file data.
///
/// Buffer objects: the file's handle table (drm_file.object_idr). (What a backend that cannot
/// see munmap keeps alive for a mapping is the backend's business: fuse/process_view.hpp.)
#include <accel/core/driver_info.hpp>
#include <accel/base/fault_injection.hpp>
#include <accel/core/fwd.hpp>
#include <accel/core/open_file.hpp>
#include <accel/core/wait_queue.hpp>
#include <accel/core/user_memory.hpp>
#include <accel/core/gem/handle_table.hpp>
#include <accel/core/gem/object.hpp>

#include <boost/intrusive/list_hook.hpp>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace accel {

namespace detail {
inline std::atomic<std::uint64_t> next_client_id{1};
} // namespace detail

class file_base : public open_file,
                  public boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::normal_link>> {
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
    /// drm_file.event_wait: woken when the file's poll mask may have changed (its events, or
    /// whatever a driver's poll hook reports).
    wait_queue& event_wait() noexcept { return event_wait_; }

    handle_table& handles() noexcept { return handles_; }
    const handle_table& handles() const noexcept { return handles_; }

    /// Replaces the client name (no validation here: SET_CLIENT_NAME validates).
    void set_client_name(std::string name) noexcept {
        std::lock_guard lock(name_mutex_);
        client_name_.swap(name);
    }

protected:
    file_base(const file_operations& fops, accel::device_base& dev, node_kind kind, const caller_identity& opener,
              int flags) noexcept
        : open_file(fops, flags), dev_(&dev), kind_(kind),
          client_id_(detail::next_client_id.fetch_add(1, std::memory_order_relaxed)), opener_(opener) {}
    virtual ~file_base() = default;

private:
    friend class accel::device_base;
    /// At close, before postclose: the handles (drm_gem_release).
    void release_objects() noexcept { handles_.release_all(); }

    accel::device_base* dev_;
    node_kind kind_;
    std::uint64_t client_id_;
    caller_identity opener_;
    wait_queue event_wait_;
    mutable std::mutex name_mutex_;
    std::string client_name_;
    handle_table handles_{*this};
};

} // namespace accel
