// SPDX-License-Identifier: MIT
#pragma once
// vdnn's MMU fault log: the last faults the engines reported, bounded (the oldest go first),
// read through the debugfs entry `mmu_faults` (vdnn_attributes.hpp). A real driver keeps such
// a ring for its debugfs and error-capture dumps (habanalabs' razwi / page-fault info).
#include <accel/exec/fence.hpp>

#include <cerrno>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

namespace vdnn {

class mmu_fault_log {
public:
    struct entry {
        std::uint64_t when_ns; // CLOCK_MONOTONIC
        unsigned engine;
        std::uint64_t seqno;   // the faulting job's number in its file
        std::uint64_t va;      // the faulting device VA
        std::uint32_t command; // the command of the job's stream that faulted
    };
    static constexpr std::size_t default_capacity = 16;
    static constexpr std::size_t max_capacity = 1024;

    /// Records one fault; the oldest entry goes when the log is full. Never throws (an entry
    /// that cannot be stored is dropped: a log must not fail a job).
    void record(unsigned engine, std::uint64_t seqno, std::uint64_t va, std::uint32_t command) noexcept {
        std::lock_guard lock(mutex_);
        ++total_;
        try {
            if (entries_.size() == capacity_)
                entries_.pop_front();
            entries_.push_back({static_cast<std::uint64_t>(accel::monotonic_ns()), engine, seqno, va, command});
        } catch (...) {
        }
    }
    std::vector<entry> entries() const {
        std::lock_guard lock(mutex_);
        return {entries_.begin(), entries_.end()};
    }
    /// Faults recorded since the device was made, including those the log no longer holds.
    std::uint64_t total() const {
        std::lock_guard lock(mutex_);
        return total_;
    }
    std::size_t capacity() const {
        std::lock_guard lock(mutex_);
        return capacity_;
    }
    /// Keeps the newest `n` entries from now on: 0 or -EINVAL (n outside 1..max_capacity), in
    /// which case nothing changes.
    int set_capacity(std::size_t n) noexcept {
        if (n == 0 || n > max_capacity)
            return -EINVAL;
        std::lock_guard lock(mutex_);
        capacity_ = n;
        while (entries_.size() > n)
            entries_.pop_front();
        return 0;
    }

private:
    mutable std::mutex mutex_;
    std::deque<entry> entries_;
    std::size_t capacity_ = default_capacity;
    std::uint64_t total_ = 0;
};

} // namespace vdnn
