// SPDX-License-Identifier: MIT
#pragma once
/// \file `wait_queue`: what waits on a condition (wait_queue_head_t), and who is waiting.
///
/// A driver owns a queue per condition it can signal (a doorbell, a fence, a file's event
/// list) and calls `wake_all()` after changing the condition. Waiters are `wait_entry`s with a
/// wake function, as the kernel's wait_queue_entry has one; unlike a kernel waiter no entry is a
/// sleeping thread: a parked request (core/parked_call.hpp) re-checks its condition and replies,
/// a poll(2) in the mock wakes its thread, a FUSE poll handle notifies the kernel. So a waiting
/// client holds no thread of the server.
///
/// wake_all() runs the wake functions outside the queue's lock, each on an entry it holds a
/// reference to: a wake function may remove entries (its own too), take the driver's locks or
/// complete a request. Entries must leave every queue before the queue is destroyed (a driver's
/// queues live in its device or file data, which outlive every request on them).
#include <accel/base/fault_injection.hpp>

#include <boost/intrusive/list.hpp>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

namespace accel {

class wait_queue;

/// One waiter. Reference-counted: whoever can reach it holds a reference (the queue while it
/// is linked, a wake_all() in progress, its owner).
class wait_entry : public boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::normal_link>> {
public:
    wait_entry(const wait_entry&) = delete;
    wait_entry& operator=(const wait_entry&) = delete;

    /// The condition may have changed: check it (and maybe complete, notify, wake a thread).
    virtual void wake() noexcept = 0;

    void get() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    void put() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1)
            destroy();
    }

protected:
    wait_entry() noexcept = default;
    virtual ~wait_entry() = default;
    /// The last reference went: free the entry (default: delete).
    virtual void destroy() noexcept { delete this; }

private:
    friend class wait_queue;
    std::atomic<std::uint32_t> refs_{1};
    wait_queue* queue_ = nullptr; // guarded by that queue's lock
};

class wait_queue {
public:
    wait_queue() = default;
    wait_queue(const wait_queue&) = delete;
    wait_queue& operator=(const wait_queue&) = delete;
    ~wait_queue() { entries_.clear(); } // by contract empty: entries leave before their queue

    /// Links `e` (which gains a reference). An entry is on at most one queue at a time (one
    /// hook; a waiter on several queues has an entry on each, as a poll_table does); adding it
    /// again to the same queue is a no-op. Allocates nothing.
    void add(wait_entry& e) noexcept {
        std::lock_guard lock(mutex_);
        if (e.queue_ == this)
            return;
        e.get();
        e.queue_ = this;
        entries_.push_back(e);
    }

    /// Unlinks `e` if it is here (dropping the queue's reference). Safe from a wake function.
    void remove(wait_entry& e) noexcept {
        {
            std::lock_guard lock(mutex_);
            if (e.queue_ != this)
                return;
            entries_.erase(entries_.iterator_to(e));
            e.queue_ = nullptr;
        }
        e.put();
    }

    /// Runs every linked entry's wake function, outside the lock (wake_up_all).
    void wake_all() noexcept {
        // Most queues hold a few waiters: a small array on the stack, more on the heap.
        wait_entry* small[16];
        std::vector<wait_entry*> many;
        std::size_t n = 0;
        {
            std::lock_guard lock(mutex_);
            for (wait_entry& e : entries_) {
                e.get();
                if (n < std::size(small)) {
                    small[n++] = &e;
                } else {
                    try {
                        many.push_back(&e);
                    } catch (...) {
                        e.put(); // out of memory: this one misses the wake; its timeout still ends it
                    }
                }
            }
        }
        for (std::size_t i = 0; i < n; ++i) {
            small[i]->wake();
            small[i]->put();
        }
        for (wait_entry* e : many) {
            e->wake();
            e->put();
        }
    }

private:
    mutable std::mutex mutex_;
    boost::intrusive::list<wait_entry, boost::intrusive::constant_time_size<false>> entries_;
};

/// Joins one waiter to several queues, as a poll_table does (a wait_entry is on one queue at a
/// time): an entry per queue, each passing its wake-up to the owner and holding the owner while
/// a wake-up may reach it. Not thread-safe: its user serialises join() and leave_all().
class joined_queues {
public:
    joined_queues() = default;
    joined_queues(const joined_queues&) = delete;
    joined_queues& operator=(const joined_queues&) = delete;
    ~joined_queues() { leave_all(); }

    /// `owner` joins `q` (once per queue). False when out of memory: then `q` cannot wake it.
    bool join(wait_entry& owner, wait_queue& q) noexcept {
        for (auto& [joined, e] : joined_)
            if (joined == &q)
                return true;
        auto* e = detail::alloc_may_fail() ? nullptr : new (std::nothrow) forward(owner);
        if (!e)
            return false;
        try {
            joined_.emplace_back(&q, e);
        } catch (...) {
            e->put();
            return false;
        }
        q.add(*e);
        return true;
    }

    /// Leaves every queue joined.
    void leave_all() noexcept {
        for (auto& [q, e] : joined_) {
            q->remove(*e);
            e->put();
        }
        joined_.clear();
    }

private:
    struct forward final : wait_entry {
        explicit forward(wait_entry& o) noexcept : owner(&o) { owner->get(); }
        ~forward() override { owner->put(); }
        void wake() noexcept override { owner->wake(); }
        wait_entry* owner;
    };
    std::vector<std::pair<wait_queue*, forward*>> joined_;
};

} // namespace accel
