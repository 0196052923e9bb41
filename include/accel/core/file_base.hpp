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
/// Monitoring: the opener's process and command name, captured at open (core/client_process.hpp),
/// and the engine clocks of the file's scheduler entities (`engine_time()`, the per-client
/// drm-engine-<name> time: an entity made for the file registers a clock under its engine id,
/// exec/entity_clock.hpp, and unregisters it before it dies).
///
/// Buffer objects: the file's handle table (drm_file.object_idr). (What a backend that cannot
/// see munmap keeps alive for a mapping is the backend's business: fuse/process_view.hpp.)
#include <accel/core/client_process.hpp>
#include <accel/core/driver_info.hpp>
#include <accel/core/engine_clock.hpp>
#include <accel/base/fault_injection.hpp>
#include <accel/core/fwd.hpp>
#include <accel/core/open_file.hpp>
#include <accel/core/wait_queue.hpp>
#include <accel/core/user_memory.hpp>
#include <accel/core/gem/extension.hpp>
#include <accel/core/gem/handle_table.hpp>
#include <accel/core/gem/object.hpp>

#include <boost/intrusive/list_hook.hpp>

#include <atomic>
#include <cstddef>
#include <cstring>
#include <deque>
#include <iterator>
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
    /// The opener's thread group and command name at open (core/client_process.hpp).
    const client_process& process() const noexcept { return process_; }
    /// The engine clocks of this file's jobs (drm-engine-<name>); see the file comment.
    engine_clocks& engine_time() noexcept { return engine_time_; }
    const engine_clocks& engine_time() const noexcept { return engine_time_; }

    std::string client_name() const {
        std::lock_guard lock(name_mutex_);
        return client_name_;
    }
    /// drm_file.event_wait: woken when the file's poll mask may have changed (its events, or
    /// whatever a driver's poll hook reports).
    wait_queue& event_wait() noexcept { return event_wait_; }

    /// drm_event_reserve_init + drm_send_event: queues one event for read(2), which returns
    /// whole events (drm_read); `event` starts with the `struct drm_event` header {__u32 type;
    /// __u32 length}, and `length` must be its size (8 to 4096 bytes; else -EINVAL). Wakes
    /// readers and pollers. -ENOMEM when the file's event space (4096 bytes, given back as
    /// read(2) takes events: a client that never reads runs out, as in DRM) cannot hold it, or
    /// memory runs out.
    int send_event(const void* event, std::size_t length) {
        std::uint32_t header_length = 0;
        if (length >= 8)
            std::memcpy(&header_length, static_cast<const unsigned char*>(event) + 4, 4);
        if (length < 8 || length > 4096 || header_length != length)
            return -EINVAL;
        if (detail::alloc_may_fail())
            return -ENOMEM;
        try {
            std::lock_guard lock(events_mutex_);
            if (length > event_space_)
                return -ENOMEM;
            auto* p = static_cast<const std::byte*>(event);
            events_.emplace_back(p, p + length);
            event_space_ -= length;
        } catch (...) {
            return -ENOMEM;
        }
        event_wait_.wake_all();
        return 0;
    }
    bool has_events() const {
        std::lock_guard lock(events_mutex_);
        return !events_.empty();
    }
    /// drm_read's loop without its wait: moves the whole events that fit in `n` bytes to `out`,
    /// oldest first; the bytes moved (0 when the first does not fit, as drm_read returns), or
    /// -EAGAIN when there is none.
    long take_events(std::byte* out, std::size_t n) {
        std::lock_guard lock(events_mutex_);
        if (events_.empty())
            return -EAGAIN;
        std::size_t used = 0;
        while (!events_.empty() && events_.front().size() <= n - used) {
            std::memcpy(out + used, events_.front().data(), events_.front().size());
            used += events_.front().size();
            event_space_ += events_.front().size();
            events_.pop_front();
        }
        return static_cast<long>(used);
    }
    /// Puts events taken by take_events back in front (a copy to the reader faulted).
    void return_events(const std::byte* from, std::size_t n) noexcept {
        try {
            std::lock_guard lock(events_mutex_);
            std::deque<std::vector<std::byte>> back;
            for (std::size_t at = 0; at + 8 <= n;) {
                std::uint32_t len;
                std::memcpy(&len, from + at + 4, 4);
                back.emplace_back(from + at, from + at + len);
                at += len;
                event_space_ -= len; // taken back by events that were refunded
            }
            events_.insert(events_.begin(), std::make_move_iterator(back.begin()), std::make_move_iterator(back.end()));
        } catch (...) {
            // Out of memory: the events are lost, as a failed kmalloc loses them in the kernel.
        }
    }

    handle_table& handles() noexcept { return handles_; }
    const handle_table& handles() const noexcept { return handles_; }

    /// The extension in `slot`, or null when none was made.
    file_extension* extension(file_extension_slot slot) const noexcept {
        return extensions_[static_cast<unsigned>(slot)].load(std::memory_order_acquire);
    }
    /// The extension in `slot` of type T, made by `make()` (returning T* from new, or null when
    /// out of memory) if there is none yet; two threads racing keep one. Null: out of memory.
    template <class T, class Make>
    T* extension(file_extension_slot slot, Make&& make) {
        auto& cell = extensions_[static_cast<unsigned>(slot)];
        if (file_extension* e = cell.load(std::memory_order_acquire))
            return static_cast<T*>(e);
        if (detail::alloc_may_fail())
            return nullptr;
        T* fresh = make();
        if (!fresh)
            return nullptr;
        file_extension* expected = nullptr;
        if (cell.compare_exchange_strong(expected, fresh, std::memory_order_acq_rel))
            return fresh;
        delete fresh;
        return static_cast<T*>(expected);
    }

    /// Replaces the client name (no validation here: SET_CLIENT_NAME validates).
    void set_client_name(std::string name) noexcept {
        std::lock_guard lock(name_mutex_);
        client_name_.swap(name);
    }

protected:
    file_base(const file_operations& fops, accel::device_base& dev, node_kind kind, const caller_identity& opener,
              int flags) noexcept
        : open_file(fops, flags), dev_(&dev), kind_(kind),
          client_id_(detail::next_client_id.fetch_add(1, std::memory_order_relaxed)), opener_(opener),
          process_(identify_process(opener.pid)) {}
    virtual ~file_base() = default;

private:
    friend class accel::device_base;
    /// At close, before postclose: the handles (drm_gem_release), then the upper layers' state.
    void release_objects() noexcept {
        handles_.release_all();
        for (unsigned i = static_cast<unsigned>(file_extension_slot::count); i-- > 0;)
            delete extensions_[i].exchange(nullptr, std::memory_order_acq_rel);
    }

    accel::device_base* dev_;
    node_kind kind_;
    std::uint64_t client_id_;
    caller_identity opener_;
    client_process process_;
    engine_clocks engine_time_;
    wait_queue event_wait_;
    mutable std::mutex events_mutex_;
    std::deque<std::vector<std::byte>> events_; // drm_file.event_list
    std::size_t event_space_ = 4096;            // drm_file.event_space
    mutable std::mutex name_mutex_;
    std::string client_name_;
    handle_table handles_{*this, extensions_}; // only the cells' address is taken here
    std::atomic<file_extension*> extensions_[static_cast<unsigned>(file_extension_slot::count)] = {};
};

} // namespace accel
