// SPDX-License-Identifier: MIT
#pragma once
/// \file `sched_fence`: a job's scheduled and finished fences (struct drm_sched_fence).
///
/// Both fences of a job live in one allocation, a `sched_fence_pair`, as the kernel embeds both
/// dma_fences in one drm_sched_fence: the scheduled fence on the entity's context `ctx`, the
/// finished fence on `ctx + 1`, both with the same sequence number; driver name "drm_sched",
/// timeline name the scheduler's name (kept alive by the pair, since a fence may outlive its
/// scheduler). The pair's memory stays until both fences have lost their last reference, so a
/// holder of one may look at the other (`scheduled()`, `finished()`): test it, add or remove a
/// callback. It must not take a new reference to the other one, which may already have lost
/// its last (the kernel's dma_fence_get_rcu problem); the scheduler never needs to. The
/// scheduler itself holds both until the job is freed, and signals neither after that.
///
/// `scheduler_id()` names the scheduler that made the pair: a dependency on a finished fence of
/// the same scheduler only waits for its scheduled fence (the job runs after it on the same
/// ring anyway).
#include <accel/exec/fence.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <utility>

namespace accel {

class sched_fence_pair;

/// One of the two fences of a job.
class sched_fence final : public fence {
public:
    std::string_view driver_name() const noexcept override { return "drm_sched"; }
    std::string_view timeline_name() const noexcept override;

    bool is_finished() const noexcept;
    /// The pair's scheduled / finished fence (see the file comment: no new reference to it).
    sched_fence& scheduled() noexcept;
    sched_fence& finished() noexcept;
    /// The scheduler that made this fence (never 0).
    std::uint64_t scheduler_id() const noexcept;

private:
    friend class sched_fence_pair;
    sched_fence(sched_fence_pair& pair, std::uint64_t context, std::uint64_t seqno) noexcept
        : fence(context, seqno), pair_(&pair) {}
    void release() noexcept override;

    sched_fence_pair* pair_;
};

/// The allocation holding both fences of a job. Built by the scheduler in storage reserved at
/// job init (so arming, the point of no return, cannot fail), freed when both fences are gone.
class sched_fence_pair {
public:
    sched_fence_pair(std::uint64_t context, std::uint64_t seqno, std::shared_ptr<const std::string> timeline,
                     std::uint64_t scheduler_id) noexcept
        : scheduled_(*this, context, seqno), finished_(*this, context + 1, seqno), timeline_(std::move(timeline)),
          scheduler_id_(scheduler_id) {}
    sched_fence_pair(const sched_fence_pair&) = delete;
    sched_fence_pair& operator=(const sched_fence_pair&) = delete;

    sched_fence& scheduled() noexcept { return scheduled_; }
    sched_fence& finished() noexcept { return finished_; }
    std::string_view timeline() const noexcept { return timeline_ ? std::string_view(*timeline_) : "drm_sched"; }
    std::uint64_t scheduler_id() const noexcept { return scheduler_id_; }

    /// Raw storage for one pair (the kernel's drm_sched_fence_alloc); nullptr when out of memory.
    static void* allocate() noexcept { return ::operator new(sizeof(sched_fence_pair), std::nothrow); }
    static void deallocate(void* storage) noexcept { ::operator delete(storage); }

private:
    friend class sched_fence;
    ~sched_fence_pair() = default;
    // One of the fences lost its last reference; the second one frees the pair.
    void put() noexcept {
        if (live_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            this->~sched_fence_pair();
            deallocate(this);
        }
    }

    sched_fence scheduled_;
    sched_fence finished_;
    std::shared_ptr<const std::string> timeline_;
    std::uint64_t scheduler_id_;
    std::atomic<int> live_{2};
};

inline std::string_view sched_fence::timeline_name() const noexcept { return pair_->timeline(); }
inline bool sched_fence::is_finished() const noexcept { return this == &pair_->finished_; }
inline sched_fence& sched_fence::scheduled() noexcept { return pair_->scheduled_; }
inline sched_fence& sched_fence::finished() noexcept { return pair_->finished_; }
inline std::uint64_t sched_fence::scheduler_id() const noexcept { return pair_->scheduler_id_; }
// Called once per fence, when its own count reaches 0; nothing touches it afterwards.
inline void sched_fence::release() noexcept { pair_->put(); }

/// The scheduler fence behind `f`, or nullptr when f is another kind (to_drm_sched_fence).
inline sched_fence* to_sched_fence(fence* f) noexcept { return dynamic_cast<sched_fence*>(f); }

} // namespace accel
