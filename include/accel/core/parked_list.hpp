// SPDX-License-Identifier: MIT
#pragma once
/// \file `parked_list`: the requests parked on one device, so unplug and close can end them.
///
/// Every parked request (core/parked_call.hpp) is on its device's list while it waits. Unplug
/// ends them all with -ENODEV without waiting for their conditions (drm_dev_unplug's promise that
/// the device can go, kept without sleeping waiters holding it); a backend that closes a file
/// while requests on it wait (the mock's close) ends that file's.
#include <boost/intrusive/list.hpp>

#include <mutex>
#include <vector>

namespace accel {

class open_file;

/// A parked request as its device's list sees it.
class parkable : public boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::normal_link>> {
public:
    /// Ends the wait with `error` unless it already ended.
    virtual void cancel(int error) noexcept = 0;
    virtual void get_ref() noexcept = 0;
    virtual void put_ref() noexcept = 0;
    /// The file the request came through.
    const open_file* file() const noexcept { return file_; }

protected:
    explicit parkable(const open_file* f) noexcept : file_(f) {}
    ~parkable() = default;

private:
    friend class parked_list;
    const open_file* file_;
    bool linked_ = false; // guarded by the list's lock
};

class parked_list {
public:
    parked_list() = default;
    parked_list(const parked_list&) = delete;
    parked_list& operator=(const parked_list&) = delete;
    ~parked_list() { list_.clear(); }

    void add(parkable& p) noexcept {
        std::lock_guard lock(mutex_);
        p.get_ref();
        p.linked_ = true;
        list_.push_back(p);
    }
    void remove(parkable& p) noexcept {
        {
            std::lock_guard lock(mutex_);
            if (!p.linked_)
                return;
            list_.erase(list_.iterator_to(p));
            p.linked_ = false;
        }
        p.put_ref();
    }

    /// Cancels with `error` every request parked through `f` (every request when f is null).
    /// Returns how many there were.
    std::size_t cancel(const open_file* f, int error) noexcept {
        std::vector<parkable*> hit;
        {
            std::lock_guard lock(mutex_);
            try {
                for (parkable& p : list_)
                    if (!f || p.file() == f) {
                        p.get_ref();
                        hit.push_back(&p);
                    }
            } catch (...) { // out of memory for the list: cancel one at a time, under the lock's protection
                for (parkable* p : hit)
                    p->put_ref();
                hit.clear();
                return cancel_one_by_one(f, error);
            }
        }
        for (parkable* p : hit) {
            p->cancel(error);
            p->put_ref();
        }
        return hit.size();
    }

    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return list_.size();
    }

private:
    std::size_t cancel_one_by_one(const open_file* f, int error) noexcept {
        std::size_t n = 0;
        for (;;) {
            parkable* p = nullptr;
            {
                std::lock_guard lock(mutex_);
                for (parkable& q : list_)
                    if (!f || q.file() == f) {
                        p = &q;
                        p->get_ref();
                        break;
                    }
            }
            if (!p)
                return n;
            p->cancel(error); // unlinks it
            p->put_ref();
            ++n;
        }
    }

    mutable std::mutex mutex_;
    boost::intrusive::list<parkable, boost::intrusive::constant_time_size<false>> list_;
};

} // namespace accel
