// SPDX-License-Identifier: MIT
#pragma once
/// \file `buddy`: a binary buddy allocator with drm_buddy semantics, and a range_manager on top.
///
/// Two layers in one type:
/// - the native API follows drm_buddy (drivers/gpu/drm/drm_buddy.c, 2025 design): a chunk size,
///   one root per set bit of the size (largest first), power-of-two blocks split into left/right
///   buddies, `alloc_blocks(start, end, size, min_block_size, list, flags)` with the RANGE, TOPDOWN,
///   CONTIGUOUS, CLEAR_ALLOCATION and TRIM_DISABLE flags, the contiguous "try harder" fallback,
///   `block_trim`, `free_list(list, CLEARED)`, clear/dirty tracking with force-merge, and the
///   same -EINVAL / -ENOSPC rules. Free blocks sit in one red-black tree per (clear state, order),
///   ordered by offset, plus a bitmask of non-empty orders: "the highest-offset free block of the
///   smallest order >= k" is a mask scan and a cached rightmost node.
/// - the `range_manager` concept: a node is one contiguous allocation (the chunk-rounded size,
///   aligned to max(chunk, alignment), from a block of the needed order then trimmed back), so a
///   power-of-two request with natural alignment costs O(orders) and never scans. Placement:
///   best = drm's default (smallest order that fits, highest offset), high = TOPDOWN, low =
///   lowest offset; bounded requests use the range search; an unbounded request with no block
///   of its order left tries harder as drm does for CONTIGUOUS. Alignments must be powers of two,
///   and init()/reserve() take chunk multiples only (-EINVAL otherwise; the chunk is 4 KiB).
///   The node is one pointer (its first block; a trimmed run is a ring through the blocks'
///   `link` hooks), so a driver's node table stays small and cache-friendly.
///
/// Differences from drm_buddy, all deliberate:
/// - Block offsets are absolute. A space that does not start at 0 is cut into naturally aligned
///   roots, so "order-k block" still means "aligned to its size" in absolute terms (a space
///   starting at 0 gets drm's layout exactly).
/// - Failure is all-or-nothing: a failed alloc_blocks() leaves avail, clear_avail and the block
///   tree as they were (drm keeps force-merges and can leave split debris after a failed range
///   search; here force-merges are undone and searches never split speculatively).
/// - The range search picks the candidate directly from the per-order trees (lowest address, as
///   drm's depth-first walk finds it; highest with TOPDOWN) instead of walking the block tree.
///
/// Block structs come from a pool of buddy pairs the manager owns; splitting takes one pair,
/// merging returns it. The pool only grows (by slabs), so steady state allocates nothing.
/// Not thread-safe: callers serialise access, as drm_buddy's callers do with their own lock.
#include <accel/mm/range.hpp>
#include <accel/mm/detail/compact_rb_node.hpp>
#include <accel/mm/range_manager.hpp>

#include <boost/intrusive/circular_list_algorithms.hpp>
#include <boost/intrusive/list.hpp>
#include <boost/intrusive/parent_from_member.hpp>
#include <boost/intrusive/rbtree_algorithms.hpp>

#include <array>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <new>
#include <ranges>

// The block-level steps of the hot paths are forced inline: in a translation unit holding many
// policies (a benchmark, a driver), GCC otherwise keeps them out of line.
#if defined(__GNUC__) || defined(__clang__)
#define ACCEL_MM_BUDDY_HOT [[gnu::always_inline]] inline
#else
#define ACCEL_MM_BUDDY_HOT inline
#endif

namespace accel::mm {

/// Largest block order relative to the chunk (drm: 63 - 12, "order-zero must be at least SZ_4K").
inline constexpr unsigned buddy_max_order = 51;
/// Smallest chunk drm_buddy accepts; smaller chunks need `buddy_chunk::allow_small`.
inline constexpr u64 buddy_min_chunk = 4096;

/// drm_buddy's flag bits (DRM_BUDDY_*), same values.
struct buddy_flags {
    static constexpr unsigned range_allocation = 1u << 0;      ///< stay inside [start, end)
    static constexpr unsigned topdown_allocation = 1u << 1;    ///< highest free block first
    static constexpr unsigned contiguous_allocation = 1u << 2; ///< one contiguous extent
    static constexpr unsigned clear_allocation = 1u << 3;      ///< prefer already-zeroed blocks
    static constexpr unsigned cleared = 1u << 4;               ///< free_list(): the blocks are zeroed
    static constexpr unsigned trim_disable = 1u << 5;          ///< keep the rounded-up size
};

/// The chunk (order-0 block size) for `buddy::init`. drm rules: a power of two >= 4 KiB;
/// `allow_small` lifts the 4 KiB floor for small spaces (orders stay <= 51).
struct buddy_chunk {
    u64 bytes = buddy_min_chunk;
    bool allow_small = false;
};

class buddy;

namespace detail {
// Free trees: Boost.Intrusive's rbtree_algorithms used directly (no container): one descent per
// insert, no successor lookup per erase, no size bookkeeping.
using buddy_rb_node = compact_rb_node;
using buddy_rb_traits = compact_rb_traits;
using buddy_rb_algo = boost::intrusive::rbtree_algorithms<buddy_rb_traits>;
} // namespace detail

/// One power-of-two block: free (in a free tree), split (has two children) or allocated (owned
/// by whoever holds it, linked through `link` into that owner's list, as drm_buddy_block::link).
/// One cache line: the tree hook and the children pointer share storage (a block is never free
/// and split at once), and buddies are the two halves of a 128-byte pool pair.
class alignas(64) buddy_block {
public:
    enum class state_type : unsigned char { allocated = 1, free = 2, split = 3 };

    u64 offset() const noexcept { return offset_; }
    unsigned order() const noexcept { return order_; }
    u64 size() const noexcept { return u64{1} << log2_size_; }
    /// Last byte; valid even for a block that ends at 2^64.
    u64 last() const noexcept { return offset_ + (size() - 1); }
    state_type state() const noexcept { return static_cast<state_type>(state_); }
    bool is_allocated() const noexcept { return state() == state_type::allocated; }
    bool is_free() const noexcept { return state() == state_type::free; }
    bool is_split() const noexcept { return state() == state_type::split; }
    /// The block's contents are known to be zero (drm_buddy_block_is_clear).
    bool is_clear() const noexcept { return clear_; }
    const buddy_block* parent() const noexcept { return parent_; }
    const buddy_block* left() const noexcept { return is_split() ? children_ : nullptr; }
    const buddy_block* right() const noexcept { return is_split() ? children_ + 1 : nullptr; }
    /// The other half of the parent; null for a root (drm_get_buddy).
    const buddy_block* buddy() const noexcept {
        if (!parent_)
            return nullptr;
        return parent_->children_ == this ? parent_->children_ + 1 : parent_->children_;
    }

    buddy_block() noexcept : children_(nullptr) {}
    buddy_block(const buddy_block&) = delete;
    buddy_block& operator=(const buddy_block&) = delete;
    ~buddy_block() = default;

    /// Caller-owned link of an allocated block (the list passed to alloc_blocks / free_list).
    boost::intrusive::list_member_hook<boost::intrusive::link_mode<boost::intrusive::normal_link>> link;

private:
    friend class buddy;
    /// How an allocated block belongs to a range_manager node (for nodes()).
    enum kind_type : unsigned char { native, node_head, node_tail };
    union {
        detail::buddy_rb_node rb_; ///< free: linked into its (clear state, order) tree
        buddy_block* children_;    ///< split: left child, the right one follows it (a pool pair)
    };
    u64 offset_ = 0;
    buddy_block* parent_ = nullptr;
    unsigned char order_ = 0;
    unsigned char log2_size_ = 0;
    unsigned char state_ = 0;
    bool clear_ = false;
    unsigned char kind_ = native;
};
static_assert(sizeof(buddy_block) == 64);

/// A caller's list of allocated blocks (drm passes a struct list_head).
using buddy_block_list =
    boost::intrusive::list<buddy_block,
                           boost::intrusive::member_hook<buddy_block, decltype(buddy_block::link), &buddy_block::link>,
                           boost::intrusive::constant_time_size<false>>;

namespace detail {
using buddy_link_algo = boost::intrusive::circular_list_algorithms<buddy_block_list::node_traits>;
} // namespace detail

/// The block after `b` in the ring of a range_manager node (buddy::node).
inline const buddy_block* ring_next(const buddy_block* b) noexcept {
    using values = buddy_block_list::value_traits;
    return values::to_value_ptr(buddy_block_list::node_traits::get_next(values::to_node_ptr(*b)));
}

class buddy {
public:
    using block = buddy_block;
    using block_list = buddy_block_list;
    using flags = buddy_flags;
    static constexpr bool any_alignment = false;
    static constexpr u64 default_chunk = buddy_min_chunk;

    /// One contiguous allocation of the range_manager layer: a run of blocks in address order.
    /// Eight bytes, so a driver's table of nodes stays small: the node names its first block, and
    /// the blocks of a trimmed allocation are chained through their `link` hooks into a ring
    /// without a list header. Nothing points back at the node, so it may be moved or copied
    /// while allocated (a copy names the same allocation: remove it once).
    class node {
    public:
        /// The blocks of one node, ascending (one unless trimmed).
        class block_range {
        public:
            class iterator {
            public:
                using value_type = block;
                using difference_type = std::ptrdiff_t;
                using iterator_concept = std::forward_iterator_tag;
                iterator() = default;
                const block& operator*() const noexcept { return *cur_; }
                const block* operator->() const noexcept { return cur_; }
                iterator& operator++() noexcept {
                    cur_ = ring_next(cur_);
                    if (cur_ == head_)
                        cur_ = nullptr;
                    return *this;
                }
                iterator operator++(int) noexcept {
                    iterator t = *this;
                    ++*this;
                    return t;
                }
                friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.cur_ == b.cur_; }

            private:
                friend class block_range;
                iterator(const block* head, const block* cur) noexcept : head_(head), cur_(cur) {}
                const block* head_ = nullptr;
                const block* cur_ = nullptr;
            };
            iterator begin() const noexcept { return {head_, head_}; }
            iterator end() const noexcept { return {head_, nullptr}; }

        private:
            friend class node;
            explicit block_range(const block* head) noexcept : head_(head) {}
            const block* head_;
        };

        u64 start() const noexcept { return head_ ? head_->offset() : 0; }
        /// The sum of the blocks' sizes: one block unless the allocation was trimmed.
        u64 size() const noexcept {
            u64 s = 0;
            for (const block& b : blocks())
                s += b.size();
            return s;
        }
        bool allocated() const noexcept { return head_ != nullptr; }
        block_range blocks() const noexcept { return block_range(head_); }

    private:
        friend class buddy;
        block* head_ = nullptr;
    };

    buddy() = default;
    buddy(const buddy&) = delete;
    buddy& operator=(const buddy&) = delete;
    ~buddy() { release_storage(); }

    // ---------------------------------------------------------------------------------------
    // Setup.

    /// drm_buddy_init(size, chunk): manages [0, round_down(size, chunk)). -EINVAL when
    /// size < chunk, chunk < 4 KiB (unless allow_small), chunk not a power of two, or the top
    /// order would exceed 51; -ENOMEM when the roots cannot be allocated.
    int init(u64 size, buddy_chunk chunk) {
        if (int e = check_chunk(chunk))
            return e;
        if (size < chunk.bytes)
            return -EINVAL;
        return setup(0, size & ~(chunk.bytes - 1), chunk.bytes);
    }

    /// range_manager: manages exactly [start, start + size) with a 4 KiB chunk. -EINVAL when the
    /// space is empty, wraps past 2^64, or start/size are not multiples of the chunk.
    int init(u64 start, u64 size) { return init(start, size, buddy_chunk{}); }

    /// Manages exactly [start, start + size) (no rounding): -EINVAL as above.
    int init(u64 start, u64 size, buddy_chunk chunk) {
        if (int e = validate_space(start, size))
            return e;
        if (int e = check_chunk(chunk))
            return e;
        if ((start | size) & (chunk.bytes - 1))
            return -EINVAL;
        return setup(start, size, chunk.bytes);
    }

    /// drm_buddy_fini: force-merges every root and releases everything. Returns 0, or -EBUSY
    /// when a root is still not free or avail != size (a leak; drm WARNs). Blocks still held by
    /// callers dangle afterwards, as in drm.
    int fini() {
        if (!initialized())
            return 0;
        for (std::size_t i = 0; i < n_roots_; ++i)
            force_merge(roots_[i].offset_, roots_[i].last(), roots_[i].order_, false);
        bool clean = avail_ == size_;
        for (std::size_t i = 0; i < n_roots_; ++i)
            clean = clean && roots_[i].is_free();
        release_storage();
        return clean ? 0 : -EBUSY;
    }

    bool initialized() const noexcept { return n_roots_ != 0; }
    u64 chunk_size() const noexcept { return chunk_; }
    /// Managed bytes (after drm's round-down) and the first managed address.
    u64 size() const noexcept { return size_; }
    u64 base() const noexcept { return base_; }
    u64 avail() const noexcept { return avail_; }
    u64 clear_avail() const noexcept { return clear_avail_; }
    /// Order of the largest root (drm: ilog2(size) - ilog2(chunk)).
    unsigned max_order() const noexcept { return max_order_; }
    std::size_t n_roots() const noexcept { return n_roots_; }
    const block& root(std::size_t i) const noexcept { return roots_[i]; }

    // ---------------------------------------------------------------------------------------
    // Native drm_buddy API. Offsets are absolute (a space from init(size, chunk) starts at 0).

    /// drm_buddy_alloc_blocks. Appends the allocated blocks to `out` in allocation order (address
    /// order for one contiguous allocation). -EINVAL: size < chunk, min_block < chunk or not a
    /// power of two, start/end/size not chunk-aligned, end past the space, [start, start + size)
    /// not inside it, an exact range (start + size == end) not aligned to min_block, or a rounded
    /// size beyond the largest order / the space (unless CONTIGUOUS without RANGE, which then goes
    /// to the try-harder path). -ENOSPC: no room. -ENOMEM: the block pool could not grow.
    /// Nothing changes on failure.
    int alloc_blocks(u64 start, u64 end, u64 size, u64 min_block_size, block_list& out, unsigned fl = 0) {
        if (!initialized())
            return -EINVAL;
        if (size < chunk_ || min_block_size < chunk_ || !is_pow2(min_block_size))
            return -EINVAL;
        if ((start | end | size) & (chunk_ - 1))
            return -EINVAL;
        // Offsets relative to the space; an `end` of 0 on a space ending at 2^64 means 2^64.
        const u64 rs = start - base_, re = end - base_;
        if (start < base_ || re > size_)
            return -EINVAL;
        if (rs >= size_ || size > size_ - rs)
            return -EINVAL;
        if (re >= rs && re - rs == size) { // an exact range
            if ((start | end) & (min_block_size - 1))
                return -EINVAL;
            return alloc_exact(start, start + (size - 1), out);
        }
        const u64 lo = start;
        const u64 last = base_ + ((re == 0 || re > size_) ? size_ - 1 : re - 1);
        const bool contiguous = fl & flags::contiguous_allocation;
        const bool ranged = fl & flags::range_allocation;
        const u64 original_size = size, original_min = min_block_size;

        bool exceeds = false;
        if (contiguous) {
            if (size > (u64{1} << 63))
                exceeds = true;
            else
                size = min_block_size = std::bit_ceil(size);
        } else if (!align_up(size, min_block_size, size)) {
            exceeds = true;
        }
        unsigned order = 0, min_order = 0;
        if (!exceeds) {
            order = static_cast<unsigned>(std::bit_width(size >> chunk_shift_)) - 1;
            min_order = static_cast<unsigned>(std::countr_zero(min_block_size)) - chunk_shift_;
            exceeds = order > max_order_ || size > size_;
        }
        if (exceeds) // alloc_exceeds_max_order: only the try-harder path may still succeed
            return contiguous && !ranged ? try_harder(original_size, original_min, out) : -EINVAL;

        undo_len_ = 0;
        block_list got;
        u64 pages = size >> chunk_shift_;
        int err = 0;
        for (;;) {
            order = std::min(order, static_cast<unsigned>(std::bit_width(pages)) - 1);
            block* b = nullptr;
            for (;;) {
                if (!reserve_pairs(2 * (max_order_ + 1))) { // the split, and the trim after it
                    err = -ENOMEM;
                    break;
                }
                b = take_for(order, lo, last, fl);
                if (b)
                    break;
                if (order-- == min_order) {
                    if (clear_avail_ && force_merge(lo, last, min_order, true) == 0) {
                        b = take_for(min_order, lo, last, fl);
                        if (b) {
                            order = min_order;
                            break;
                        }
                    }
                    if (contiguous && !ranged) {
                        err = try_harder(original_size, original_min, out);
                        if (err)
                            undo_force_merges();
                        return err; // nothing was taken in `got` yet: contiguous is one block
                    }
                    err = -ENOSPC;
                    break;
                }
            }
            if (err) {
                free_blocks(got, keep_clear_bit);
                undo_force_merges();
                return err;
            }
            got.push_back(*b);
            pages -= u64{1} << order;
            if (!pages)
                break;
        }
        if (!(fl & flags::trim_disable) && original_size != size) {
            block& tail = got.back();
            const u64 keep = tail.size() - (size - original_size);
            got.pop_back();
            trim_into(&tail, tail.offset_, keep, got);
        }
        out.splice(out.end(), got);
        return 0;
    }

    /// drm_buddy_block_trim: `blocks` must hold exactly one allocated block; keeps
    /// [*start (default: the block's offset), + new_size) of it allocated and frees the rest.
    /// -EINVAL per drm (not one block, not allocated, size 0 / unaligned / too big, start
    /// before the block, unaligned or running past it). Equal size: no-op.
    int block_trim(const u64* start, u64 new_size, block_list& blocks) {
        if (blocks.empty() || std::next(blocks.begin()) != blocks.end())
            return -EINVAL;
        block& b = blocks.front();
        if (!b.is_allocated())
            return -EINVAL;
        if (new_size > b.size() || new_size == 0 || (new_size & (chunk_ - 1)))
            return -EINVAL;
        if (new_size == b.size())
            return 0;
        u64 ns = b.offset_;
        if (start) {
            ns = *start;
            if (ns < b.offset_ || (ns & (chunk_ - 1)))
                return -EINVAL;
            const u64 room = b.size() - (ns - b.offset_); // ns <= last is checked next
            if (ns - b.offset_ >= b.size() || new_size > room)
                return -EINVAL;
        }
        if (!reserve_pairs(max_order_ + 1))
            return -ENOMEM;
        blocks.clear();
        trim_into(&b, ns, new_size, blocks);
        return 0;
    }

    /// drm_buddy_free_list: frees every block and empties the list. CLEARED marks them zeroed,
    /// otherwise they become dirty.
    void free_list(block_list& blocks, unsigned fl = 0) {
        free_blocks(blocks, (fl & flags::cleared) ? mark_clear : mark_dirty);
    }

    /// drm_buddy_free_block: one allocated block (not on any list), keeping its clear bit.
    void free_block(block& b) { release(&b); }

    /// drm_buddy_reset_clear: force-merges everything, then marks all free memory clear or dirty.
    void reset_clear(bool is_clear) {
        for (std::size_t i = 0; i < n_roots_; ++i)
            force_merge(roots_[i].offset_, roots_[i].last(), roots_[i].order_, false);
        const unsigned src = is_clear ? dirty_tree : clear_tree;
        for (unsigned o = 0; o <= max_order_; ++o) {
            trees_[src][o].clear_and_dispose([&](block* b) {
                b->clear_ = is_clear;
                if (is_clear)
                    clear_avail_ += b->size();
                else
                    clear_avail_ -= b->size();
                insert_tree(b);
            });
            nonempty_[src] &= ~(u64{1} << o);
        }
    }

    /// Number of free blocks of `order` in the clear or dirty tree, and the lowest/highest one.
    std::size_t free_count(unsigned order, bool clear) const { return trees_[clear ? 0 : 1][order].size(); }
    const block* free_first(unsigned order, bool clear) const { return trees_[clear ? 0 : 1][order].first(); }
    const block* free_last(unsigned order, bool clear) const { return trees_[clear ? 0 : 1][order].last(); }

    /// Visits every block of the tree (roots in order, each pre-order: parent, left, right).
    template <class F>
    void for_each_block(F&& f) const {
        for (std::size_t i = 0; i < n_roots_; ++i)
            visit(&roots_[i], f);
    }

    // ---------------------------------------------------------------------------------------
    // range_manager.

    int insert(node& n, const alloc_request& req) {
        // The hot case first: unbounded best placement of a whole block (a power-of-two number of
        // chunks, aligned at most to its size) while a dirty block of that order or above is
        // free. It does what the general path below does for such a request (find_free, take_at,
        // no trim), without its detours. (An uninitialised manager has size_ 0: never taken.)
        if (req.mode == placement::best && req.lo <= base_ && req.last >= space_last() && req.size - 1 < size_ &&
            (req.alignment & (req.alignment - 1)) == 0) {
            const u64 pages = (req.size + (chunk_ - 1)) >> chunk_shift_;
            const unsigned order = static_cast<unsigned>(std::countr_zero(pages));
            const u64 mask = nonempty_[dirty_tree] >> order << order;
            if ((pages & (pages - 1)) == 0 && req.alignment <= (pages << chunk_shift_) && mask) {
                const unsigned o = static_cast<unsigned>(std::countr_zero(mask));
                if (spare_pairs_ >= o - order || reserve_pairs(o - order)) {
                    block* top = trees_[dirty_tree][o].last();
                    block* b = take_at({top, top->offset_ + (top->size() - (pages << chunk_shift_))}, order);
                    b->kind_ = block::node_head;
                    detail::buddy_link_algo::init_header(block_list::value_traits::to_node_ptr(*b)); // a ring of one
                    n.head_ = b;
                    ++live_nodes_;
                    return 0;
                }
            }
        }
        return insert_general(n, req);
    }

    int reserve(node& n, u64 start, u64 size) {
        if (!initialized())
            return -EINVAL;
        if (int e = validate_reserve(start, size, base_, space_last()))
            return e;
        if ((start | size) & (chunk_ - 1))
            return -EINVAL;
        block_list got;
        if (int e = alloc_exact(start, start + (size - 1), got))
            return e;
        adopt(n, got);
        return 0;
    }

    void remove(node& n) {
        block* b = n.head_;
        // Both of the first cache misses are known from the node alone: the block's line and its
        // buddy's (the other half of its pool pair). Ask for the buddy before touching the block.
        prefetch(other_half(b));
        n.head_ = nullptr;
        --live_nodes_;
        if (ring_next(b) == b) { // one block: free_blocks() without the list
            b->clear_ = false;
            block* pending = nullptr;
            insert_tree(merge_up(b, pending));
            return;
        }
        // Put a list header back into the ring, before the head: the list is then head..tail.
        block_list blocks;
        detail::buddy_link_algo::link_before(block_list::value_traits::to_node_ptr(*b),
                                             blocks.end().pointed_node());
        free_blocks(blocks, mark_dirty);
    }

    /// Iterates maximal runs of leaves (free ones for holes(), one node / native block each for
    /// nodes()) in address order, walking the block tree without a stack.
    class listing_iterator {
    public:
        using value_type = range;
        using difference_type = std::ptrdiff_t;
        using iterator_concept = std::forward_iterator_tag;
        using iterator_category = std::forward_iterator_tag;

        listing_iterator() = default;
        const range& operator*() const noexcept { return cur_; }
        const range* operator->() const noexcept { return &cur_; }
        listing_iterator& operator++() {
            load(next_);
            return *this;
        }
        listing_iterator operator++(int) {
            auto t = *this;
            ++*this;
            return t;
        }
        friend bool operator==(const listing_iterator& a, const listing_iterator& b) noexcept {
            return a.done_ == b.done_ && (a.done_ || a.cur_.start == b.cur_.start);
        }

    private:
        friend class buddy;
        listing_iterator(const buddy* m, bool holes) : m_(m), holes_(holes), done_(false) { load(m->first_leaf()); }
        void load(const block* b) {
            if (holes_) {
                while (b && !b->is_free())
                    b = m_->next_leaf(b);
                if (!b) {
                    done_ = true;
                    return;
                }
                cur_ = {b->offset_, 0};
                for (; b && b->is_free(); b = m_->next_leaf(b))
                    cur_.size += b->size();
            } else {
                while (b && !(b->is_allocated() && b->kind_ != block::node_tail))
                    b = m_->next_leaf(b);
                if (!b) {
                    done_ = true;
                    return;
                }
                cur_ = {b->offset_, b->size()};
                const bool whole_node = b->kind_ == block::node_head;
                b = m_->next_leaf(b);
                // A node's trimmed blocks are adjacent: its head, then its tails.
                for (; whole_node && b && b->is_allocated() && b->kind_ == block::node_tail; b = m_->next_leaf(b))
                    cur_.size += b->size();
            }
            next_ = b;
        }
        const buddy* m_ = nullptr;
        const block* next_ = nullptr;
        range cur_{};
        bool holes_ = false;
        bool done_ = true;
    };

    /// Allocations in address order: one entry per node (or per natively allocated block).
    auto nodes() const {
        using sub = std::ranges::subrange<listing_iterator>;
        return initialized() ? sub(listing_iterator(this, false), listing_iterator()) : sub();
    }
    /// Maximal free intervals in address order (adjacent free blocks merge into one hole).
    auto holes() const {
        using sub = std::ranges::subrange<listing_iterator>;
        return initialized() ? sub(listing_iterator(this, true), listing_iterator()) : sub();
    }

    range_stats stats() const {
        range_stats s;
        s.free_bytes = avail_;
        for (range h : holes()) {
            ++s.hole_count;
            s.largest_hole = std::max(s.largest_hole, h.size);
        }
        s.fragmentation = fragmentation_of(s.free_bytes, s.largest_hole);
        s.metadata_bytes = pool_pairs_ * sizeof(pair_slot) + n_roots_ * sizeof(block) + sizeof(trees_) +
                           undo_cap_ * sizeof(undo_entry) + live_nodes_ * sizeof(node);
        return s;
    }

private:
    static constexpr unsigned clear_tree = 0, dirty_tree = 1;
    enum class pick : unsigned char { best, high, low };
    enum free_mode : unsigned char { keep_clear_bit, mark_clear, mark_dirty };

    /// Two buddies, adjacent in one 128-byte unit (adjacent-line prefetch fetches both).
    struct alignas(128) pair_slot {
        block b[2];
    };
    static_assert(sizeof(pair_slot) == 2 * sizeof(block), "other_half() relies on 64-byte halves");
    /// The free blocks of one (clear state, order), ordered by offset (drm's free_trees[][]).
    class offset_tree {
    public:
        offset_tree() noexcept { algo::init_header(&header_); }
        offset_tree(const offset_tree&) = delete;
        offset_tree& operator=(const offset_tree&) = delete;

        bool empty() const noexcept { return !traits::get_parent(h()); }
        block* first() const noexcept { return empty() ? nullptr : of(traits::get_left(h())); }
        block* last() const noexcept { return empty() ? nullptr : of(traits::get_right(h())); }
        block* next(const block* b) const noexcept {
            node* n = const_cast<node*>(&b->rb_);
            return n == traits::get_right(h()) ? nullptr : of(algo::next_node(n));
        }
        block* prev(const block* b) const noexcept {
            node* n = const_cast<node*>(&b->rb_);
            return n == traits::get_left(h()) ? nullptr : of(algo::prev_node(n));
        }
        /// First block at or after `key`, or null.
        block* lower_bound(u64 key) const noexcept { return or_null(algo::lower_bound(h(), key, less{})); }
        /// First block after `key`, or null.
        block* upper_bound(u64 key) const noexcept { return or_null(algo::upper_bound(h(), key, less{})); }
        void insert(block* b) noexcept { algo::insert_equal_upper_bound(h(), &b->rb_, less{}); }
        void erase(block* b) noexcept { algo::erase(h(), &b->rb_); }
        void clear() noexcept { algo::init_header(h()); }
        template <class F>
        void clear_and_dispose(F f) {
            algo::clear_and_dispose(h(), [&](node* n) { f(of(n)); });
        }
        std::size_t size() const noexcept { return algo::size(h()); }

    private:
        using traits = detail::buddy_rb_traits;
        using algo = detail::buddy_rb_algo;
        using node = detail::buddy_rb_node;
        struct less {
            bool operator()(const node* a, const node* b) const noexcept { return of(a)->offset_ < of(b)->offset_; }
            bool operator()(const node* a, u64 k) const noexcept { return of(a)->offset_ < k; }
            bool operator()(u64 k, const node* a) const noexcept { return k < of(a)->offset_; }
        };
        static block* of(const node* n) noexcept {
            return boost::intrusive::get_parent_from_member<block>(const_cast<node*>(n), &block::rb_);
        }
        node* h() const noexcept { return const_cast<node*>(&header_); }
        block* or_null(node* n) const noexcept { return n == h() ? nullptr : of(n); }
        node header_;
    };

    /// A chosen free block and where the order-k piece goes inside it.
    struct spot {
        block* b = nullptr;
        u64 at = 0;
    };
    /// One force-merge step (the merged parent's place and its children's clear bits), so a
    /// failed allocation can split it back. Recorded by position, not by pointer: giving back
    /// the partial allocation may merge the parent further, releasing its block struct.
    struct undo_entry {
        u64 offset;
        unsigned char order;
        bool left_clear, right_clear;
    };

    static constexpr bool is_pow2(u64 x) noexcept { return x && !(x & (x - 1)); }

    static int check_chunk(buddy_chunk c) {
        if (!is_pow2(c.bytes))
            return -EINVAL;
        if (c.bytes < buddy_min_chunk && !c.allow_small)
            return -EINVAL;
        return 0;
    }

    u64 space_last() const noexcept { return base_ + (size_ - 1); }

    int setup(u64 start, u64 size, u64 chunk) {
        if (initialized())
            release_storage();
        chunk_ = chunk;
        chunk_shift_ = static_cast<unsigned>(std::countr_zero(chunk));
        // Naturally aligned roots, largest first from 0 (drm's hweight64(size) roots).
        std::size_t count = 0;
        unsigned top = 0;
        for (u64 off = start, rem = size; rem;) {
            const u64 s = root_size_at(off, rem);
            const unsigned o = static_cast<unsigned>(std::countr_zero(s)) - chunk_shift_;
            if (o > buddy_max_order)
                return -EINVAL;
            top = std::max(top, o);
            ++count;
            off += s;
            rem -= s;
        }
        roots_.reset(new (std::nothrow) block[count]);
        if (!roots_)
            return -ENOMEM;
        n_roots_ = count;
        base_ = start;
        size_ = avail_ = size;
        clear_avail_ = 0;
        max_order_ = top;
        std::size_t i = 0;
        for (u64 off = start, rem = size; rem; ++i) {
            const u64 s = root_size_at(off, rem);
            block* r = &roots_[i];
            r->offset_ = off;
            r->log2_size_ = static_cast<unsigned char>(std::countr_zero(s));
            r->order_ = static_cast<unsigned char>(r->log2_size_ - chunk_shift_);
            r->clear_ = false;
            insert_tree(r);
            off += s;
            rem -= s;
        }
        return 0;
    }

    /// The largest naturally aligned power of two that starts at `off` and fits in `rem`.
    static u64 root_size_at(u64 off, u64 rem) noexcept {
        const u64 fit = std::bit_floor(rem);
        if (off == 0)
            return fit;
        const u64 low = off & (~off + 1);
        return low < fit ? low : fit;
    }

    void release_storage() noexcept {
        for (auto& per_state : trees_)
            for (auto& t : per_state)
                t.clear(); // normal_link: only resets the headers
        nonempty_ = {0, 0};
        roots_.reset();
        n_roots_ = 0;
        for (std::size_t i = 0; i < n_slabs_; ++i)
            slabs_[i].reset();
        n_slabs_ = 0;
        free_pairs_ = nullptr;
        pool_pairs_ = spare_pairs_ = 0;
        undo_.reset();
        undo_cap_ = undo_len_ = 0;
        size_ = avail_ = clear_avail_ = 0;
        live_nodes_ = 0;
    }

    // --- pool ----------------------------------------------------------------------------------

    /// Makes sure `n` pairs can be taken without allocating; false when the pool cannot grow.
    bool reserve_pairs(std::size_t n) {
        while (spare_pairs_ < n) {
            const std::size_t grow = std::max<std::size_t>(256, pool_pairs_ / 2);
            if (n_slabs_ == slabs_.size())
                return false;
            std::unique_ptr<pair_slot[]> slab(new (std::nothrow) pair_slot[grow]);
            if (!slab)
                return false;
            for (std::size_t i = 0; i < grow; ++i) {
                slab[i].b[0].children_ = free_pairs_;
                free_pairs_ = slab[i].b;
            }
            slabs_[n_slabs_++] = std::move(slab);
            pool_pairs_ += grow;
            spare_pairs_ += grow;
        }
        return true;
    }
    block* pop_pair() noexcept {
        block* p = free_pairs_;
        free_pairs_ = p->children_;
        --spare_pairs_;
        return p;
    }
    void push_pair(block* p) noexcept {
        p->children_ = free_pairs_;
        free_pairs_ = p;
        ++spare_pairs_;
    }

    // --- free trees ----------------------------------------------------------------------------

    ACCEL_MM_BUDDY_HOT void insert_tree(block* b) noexcept {
        b->state_ = static_cast<unsigned char>(block::state_type::free);
        const unsigned t = b->clear_ ? clear_tree : dirty_tree;
        trees_[t][b->order_].insert(b);
        nonempty_[t] |= u64{1} << b->order_;
    }
    ACCEL_MM_BUDDY_HOT void erase_tree(block* b) noexcept {
        const unsigned t = b->clear_ ? clear_tree : dirty_tree;
        offset_tree& tr = trees_[t][b->order_];
        tr.erase(b);
        if (tr.empty())
            nonempty_[t] &= ~(u64{1} << b->order_);
    }

    /// Splits a free block that is in no tree; the children inherit its clear bit (drm clears
    /// the parent's) and are also in no tree. Needs one reserved pair.
    ACCEL_MM_BUDDY_HOT void split(block* b) noexcept {
        block* l = pop_pair();
        block* r = l + 1;
        const unsigned char o = static_cast<unsigned char>(b->order_ - 1);
        const unsigned char ls = static_cast<unsigned char>(b->log2_size_ - 1);
        for (block* c : {l, r}) {
            c->parent_ = b;
            c->order_ = o;
            c->log2_size_ = ls;
            c->clear_ = b->clear_;
            c->state_ = static_cast<unsigned char>(block::state_type::free);
        }
        l->offset_ = b->offset_;
        r->offset_ = b->offset_ + (u64{1} << ls);
        b->children_ = l;
        b->clear_ = false;
        b->state_ = static_cast<unsigned char>(block::state_type::split);
    }

    void mark_allocated(block* b) noexcept {
        b->state_ = static_cast<unsigned char>(block::state_type::allocated);
        b->kind_ = block::native;
        avail_ -= b->size();
        if (b->clear_)
            clear_avail_ -= b->size();
    }

    /// Frees an allocated block and merges it upward while its buddy is free with the same
    /// clear state (drm_buddy_free_block).
    void release(block* b) noexcept {
        block* pending = nullptr;
        insert_tree(merge_up(b, pending));
    }

    /// The merging half of release(): returns the resulting free block, not yet in a tree.
    /// `pending` is a free block also kept out of the trees (see free_blocks); it merges like any
    /// free buddy and is reset to null when it does.
    ACCEL_MM_BUDDY_HOT block* merge_up(block* b, block*& pending) noexcept {
        // Freeing is bound by cache misses on cold blocks: ask for the buddy's line (the other
        // half of the pair, known from b's address alone) while b's own line is on its way.
        prefetch(other_half(b));
        avail_ += b->size();
        if (b->clear_)
            clear_avail_ += b->size();
        while (b->parent_) {
            block* y = other_half(b);
            if (!y->is_free() || y->clear_ != b->clear_)
                break;
            block* p = b->parent_;
            prefetch(p);
            prefetch(other_half(p));
            if (y == pending)
                pending = nullptr;
            else
                erase_tree(y);
            p->clear_ = b->clear_;
            push_pair(p->children_);
            p->children_ = nullptr;
            b = p;
        }
        b->state_ = static_cast<unsigned char>(block::state_type::free);
        return b;
    }

    /// The buddy of a non-root block: the other half of its 128-byte pool pair. For a root the
    /// address is only good as a prefetch hint (prefetches never fault).
    static block* other_half(block* b) noexcept {
        return reinterpret_cast<block*>(reinterpret_cast<std::uintptr_t>(b) ^ sizeof(block));
    }
    static void prefetch(const void* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
        __builtin_prefetch(p);
#else
        (void)p;
#endif
    }

    /// Frees a list back to front. A trimmed run (ascending, sizes descending) then frees its
    /// smallest block first, and each merged result is the buddy of the next block: it is handed
    /// over as `pending` instead of being put into a tree and taken out again.
    void free_blocks(block_list& blocks, free_mode m) noexcept {
        block* pending = nullptr;
        for (auto it = blocks.end(); it != blocks.begin();) {
            block* b = &*--it;
            if (m != keep_clear_bit)
                b->clear_ = m == mark_clear;
            b = merge_up(b, pending);
            if (pending)
                insert_tree(pending);
            pending = b;
        }
        if (pending)
            insert_tree(pending);
        blocks.clear();
    }

    // --- searches ------------------------------------------------------------------------------

    /// Unrestricted: best = smallest order >= k, highest offset (drm's default); high = highest
    /// offset over all orders >= k (TOPDOWN); low = lowest offset over all orders >= k.
    spot find_free(unsigned k, pick p, unsigned t) noexcept {
        u64 mask = nonempty_[t] >> k << k;
        if (!mask)
            return {};
        const u64 ks = chunk_ << k;
        if (p == pick::best) {
            block* b = trees_[t][std::countr_zero(mask)].last();
            return {b, b->offset_ + (b->size() - ks)};
        }
        block* best = nullptr;
        for (; mask; mask &= mask - 1) {
            const offset_tree& tr = trees_[t][std::countr_zero(mask)];
            block* b = p == pick::high ? tr.last() : tr.first();
            if (!best || (p == pick::high ? b->offset_ > best->offset_ : b->offset_ < best->offset_))
                best = b;
        }
        return {best, p == pick::high ? best->offset_ + (best->size() - ks) : best->offset_};
    }

    /// Restricted to [lo, last]: the order-k piece must lie inside it, aligned to its size. Per
    /// order, only the first and last overlapping free blocks can be cut by the bounds, so each
    /// order costs one tree lookup and at most two probes. low = lowest candidate (drm's
    /// depth-first range search), high = highest, best = smallest order, highest candidate.
    spot find_in_range(unsigned k, u64 lo, u64 last, pick p, unsigned t) noexcept {
        const u64 ks = chunk_ << k;
        if (lo > ~u64{0} - (ks - 1) || last < ks - 1)
            return {};
        const u64 alo = (lo + (ks - 1)) & ~(ks - 1);
        const u64 ahi = (last - (ks - 1)) & ~(ks - 1);
        if (alo > ahi)
            return {};
        spot found{};
        for (u64 mask = nonempty_[t] >> k << k; mask; mask &= mask - 1) {
            const unsigned o = static_cast<unsigned>(std::countr_zero(mask));
            const offset_tree& tr = trees_[t][o];
            const u64 os = chunk_ << o;
            if (p == pick::low) {
                for (block* x = tr.lower_bound(alo & ~(os - 1)); x && x->offset_ <= ahi; x = tr.next(x)) {
                    const u64 c = std::max(x->offset_, alo);
                    if (c > ahi)
                        break;
                    if (c - x->offset_ <= os - ks) {
                        if (!found.b || c < found.at)
                            found = {x, c};
                        break;
                    }
                }
            } else {
                block* x = tr.upper_bound(ahi);
                for (x = x ? tr.prev(x) : tr.last(); x; x = tr.prev(x)) {
                    if (x->last() < alo)
                        break;
                    const u64 c = std::min(x->offset_ + (os - ks), ahi);
                    if (c >= x->offset_ && c >= alo) {
                        if (!found.b || c > found.at)
                            found = {x, c};
                        break;
                    }
                }
                if (p == pick::best && found.b)
                    return found;
            }
        }
        return found;
    }

    /// Native source selection: RANGE uses the range search (low, or high with TOPDOWN),
    /// otherwise the free trees; the requested clear state first, then the other one.
    block* take_for(unsigned order, u64 lo, u64 last, unsigned fl) noexcept {
        const unsigned first = (fl & flags::clear_allocation) ? clear_tree : dirty_tree;
        const bool top = fl & flags::topdown_allocation;
        spot s{};
        for (unsigned t : {first, first ^ 1u}) {
            if (fl & flags::range_allocation)
                s = find_in_range(order, lo, last, top ? pick::high : pick::low, t);
            else
                s = find_free(order, top ? pick::high : pick::best, t);
            if (s.b)
                break;
        }
        return s.b ? take_at(s, order) : nullptr;
    }

    /// Takes the order-k piece at s.at out of free block s.b: splits down toward it, leaving the
    /// other halves free. Needs (s.b order - k) reserved pairs.
    block* take_at(spot s, unsigned k) noexcept {
        block* b = s.b;
        erase_tree(b);
        while (b->order_ > k) {
            split(b);
            block* l = b->children_;
            block* r = l + 1;
            if (s.at < r->offset_) {
                insert_tree(r);
                b = l;
            } else {
                insert_tree(l);
                b = r;
            }
        }
        mark_allocated(b);
        return b;
    }

    // --- exact ranges and trimming -----------------------------------------------------------

    /// True when no allocated block overlaps [lo, last].
    bool range_free(u64 lo, u64 last) const noexcept {
        for (std::size_t i = 0; i < n_roots_; ++i)
            if (!subtree_free(&roots_[i], lo, last))
                return false;
        return true;
    }
    static bool subtree_free(const block* b, u64 lo, u64 last) noexcept {
        if (b->offset_ > last || b->last() < lo || b->is_free())
            return true;
        if (b->is_allocated())
            return false;
        return subtree_free(b->children_, lo, last) && subtree_free(b->children_ + 1, lo, last);
    }

    /// __drm_buddy_alloc_range: takes exactly [lo, last] (chunk-aligned) or fails with -ENOSPC.
    int alloc_exact(u64 lo, u64 last, block_list& out) {
        if (!range_free(lo, last))
            return -ENOSPC;
        if (!reserve_pairs(2 * (max_order_ + 1)))
            return -ENOMEM;
        for (std::size_t i = 0; i < n_roots_; ++i)
            carve(&roots_[i], lo, last, out);
        return 0;
    }
    /// Allocates the blocks of [lo, last] inside b's subtree (known to hold no allocated block
    /// there), splitting free blocks that straddle a bound.
    void carve(block* b, u64 lo, u64 last, block_list& out) noexcept {
        if (b->offset_ > last || b->last() < lo)
            return;
        if (b->is_split()) {
            carve(b->children_, lo, last, out);
            carve(b->children_ + 1, lo, last, out);
            return;
        }
        erase_tree(b); // free
        carve_detached(b, lo, last, out);
    }
    /// b is free and in no tree.
    void carve_detached(block* b, u64 lo, u64 last, block_list& out) noexcept {
        if (b->offset_ > last || b->last() < lo) {
            insert_tree(b);
        } else if (b->offset_ >= lo && b->last() <= last) {
            mark_allocated(b);
            out.push_back(*b);
        } else {
            split(b);
            carve_detached(b->children_, lo, last, out);
            carve_detached(b->children_ + 1, lo, last, out);
        }
    }

    /// drm_buddy_block_trim's core: b is allocated; afterwards [start, start + size) of it is
    /// allocated as blocks appended to `out` in address order, and the rest is free.
    void trim_into(block* b, u64 start, u64 size, block_list& out) noexcept {
        avail_ += b->size();
        if (b->clear_)
            clear_avail_ += b->size();
        b->state_ = static_cast<unsigned char>(block::state_type::free);
        carve_detached(b, start, start + (size - 1), out);
    }

    /// Free bytes starting at `at`, counted until an allocated block or `cap` bytes.
    u64 free_run(u64 at, u64 cap) const noexcept {
        const block* b = leaf_at(at);
        u64 run = 0;
        for (; b && b->is_free() && run < cap; b = next_leaf(b))
            run += b->last() - std::max(b->offset_, at) + 1;
        return std::min(run, cap);
    }

    /// __alloc_contig_try_harder: for each free block of order log2(rounddown_pow2(size)) (clear
    /// tree first, highest offset first), take `size` bytes from it rightward; failing that,
    /// the part that fits plus a min_block-rounded run just to its left.
    int try_harder(u64 size, u64 min_block, block_list& out) {
        const unsigned order = static_cast<unsigned>(std::bit_width(std::bit_floor(size) >> chunk_shift_)) - 1;
        if (order == 0 || order > max_order_)
            return -ENOSPC;
        for (unsigned t : {clear_tree, dirty_tree}) {
            const offset_tree& tr = trees_[t][order];
            for (block* x = tr.last(); x; x = tr.prev(x)) {
                const u64 off = x->offset_;
                const u64 filled = free_run(off, size);
                if (filled >= size)
                    return alloc_exact(off, off + (size - 1), out);
                u64 lhs = std::max(size - filled, min_block);
                if (!align_up(lhs, min_block, lhs) || off - base_ < lhs || !range_free(off - lhs, off - 1))
                    continue;
                block_list got;
                if (int e = alloc_exact(off - lhs, off - 1, got))
                    return e;
                if (filled) {
                    if (int e = alloc_exact(off, off + (filled - 1), got)) {
                        free_blocks(got, keep_clear_bit);
                        return e;
                    }
                }
                out.splice(out.end(), got);
                return 0;
            }
        }
        return -ENOSPC;
    }

    /// The range_manager's try-harder: like drm's, but the start stays aligned to `align` and the
    /// extent is exactly `size` (the right part is shortened by what the left part adds).
    bool try_harder_node(u64 size, u64 align, pick p, block_list& out) {
        const unsigned order = static_cast<unsigned>(std::bit_width(std::bit_floor(size) >> chunk_shift_)) - 1;
        if (order == 0 || order > max_order_ || (chunk_ << order) < align)
            return false;
        for (unsigned t : {dirty_tree, clear_tree}) {
            const offset_tree& tr = trees_[t][order];
            auto attempt = [&](const block& b) {
                const u64 off = b.offset_;
                const u64 filled = free_run(off, size);
                u64 lhs = 0;
                if (filled < size && (!align_up(size - filled, align, lhs) || off - base_ < lhs))
                    return false;
                const u64 start = off - lhs;
                if (last_room(start) < size - 1 || (lhs && !range_free(start, off - 1)))
                    return false;
                return alloc_exact(start, start + (size - 1), out) == 0;
            };
            if (p == pick::low) {
                for (block* x = tr.first(); x; x = tr.next(x))
                    if (attempt(*x))
                        return true;
            } else {
                for (block* x = tr.last(); x; x = tr.prev(x))
                    if (attempt(*x))
                        return true;
            }
        }
        return false;
    }

    /// Bytes from `at` to the end of the space, minus one (so it never overflows).
    u64 last_room(u64 at) const noexcept { return space_last() - at; }

    /// insert() past its hot case: validation, bounds, trimming, low/high, try-harder. Out of
    /// line, so that the hot path's frame stays small.
#if defined(__GNUC__) || defined(__clang__)
    [[gnu::noinline]]
#endif
    int insert_general(node& n, const alloc_request& req) {
        if (!initialized())
            return -EINVAL;
        // validate_request()'s rules, inlined: the hot path must not pay for std::has_single_bit,
        // which is a libgcc popcount call unless the target has POPCNT.
        if (req.size == 0 || (req.alignment > 1 && !is_pow2(req.alignment)) || req.lo > req.last)
            return -EINVAL;
        const u64 lo = std::max(req.lo, base_), last = std::min(req.last, space_last());
        if (lo > last)
            return -EINVAL;
        if (req.size > size_)
            return -ENOSPC;
        const u64 size = (req.size + (chunk_ - 1)) & ~(chunk_ - 1); // no wrap: size_ <= 2^64 - chunk
        const u64 align = std::max(chunk_, req.alignment);
        const u64 pages = size >> chunk_shift_;
        unsigned order = static_cast<unsigned>(std::bit_width(pages - 1)); // ceil(log2(pages))
        const unsigned align_order = static_cast<unsigned>(std::countr_zero(align)) - chunk_shift_;
        if (align_order > order)
            order = align_order;
        const bool whole = lo == base_ && last == space_last();
        const pick p = req.mode == placement::high ? pick::high : req.mode == placement::low ? pick::low : pick::best;
        if (!reserve_pairs(2 * (max_order_ + 1)))
            return -ENOMEM; // the block pool cannot grow (the contract allows it for pooled policies)
        block* b = nullptr;
        if (order <= max_order_) {
            spot s = whole ? find_free(order, p, dirty_tree) : find_in_range(order, lo, last, p, dirty_tree);
            if (!s.b && clear_avail_)
                s = whole ? find_free(order, p, clear_tree) : find_in_range(order, lo, last, p, clear_tree);
            if (s.b)
                b = take_at(s, order);
        }
        if (b && b->size() == size) { // the power-of-two path: one block, nothing to trim
            b->kind_ = block::node_head;
            detail::buddy_link_algo::init_header(block_list::value_traits::to_node_ptr(*b)); // a ring of one
            n.head_ = b;
            ++live_nodes_;
            return 0;
        }
        block_list got;
        if (b) {
            trim_into(b, b->offset_, size, got);
        } else if (!whole || !try_harder_node(size, align, p, got)) {
            return -ENOSPC;
        }
        adopt(n, got);
        return 0;
    }

    /// Makes the blocks of `got` (ascending, not empty) node n's ring, and empties `got`.
    void adopt(node& n, block_list& got) noexcept {
        for (block& b : got)
            b.kind_ = block::node_tail;
        n.head_ = &got.front();
        n.head_->kind_ = block::node_head;
        // Take the list header out of the ring; the blocks stay linked to each other.
        const auto header = got.end().pointed_node();
        detail::buddy_link_algo::unlink(header);
        detail::buddy_link_algo::init_header(header);
        ++live_nodes_;
    }

    // --- clear/dirty merging -------------------------------------------------------------------

    /// __force_merge: merges free buddies whose clear states differ (the result is dirty) inside
    /// [lo, last], smallest orders below min_order, until a block of min_order or more forms.
    /// With `log`, every merge is recorded so undo_force_merges() can split it back.
    int force_merge(u64 lo, u64 last, unsigned min_order, bool log) noexcept {
        if (min_order == 0)
            return -ENOMEM;
        if (min_order > max_order_)
            return -EINVAL;
        for (unsigned t : {clear_tree, dirty_tree}) {
            for (unsigned i = min_order; i-- > 0;) {
                offset_tree& tr = trees_[t][i];
                block* cur = tr.last();
                while (cur) {
                    block* b = cur;
                    cur = tr.prev(b);
                    if (!b->parent_ || b->offset_ < lo || b->last() > last)
                        continue;
                    block* y = b->parent_->children_ == b ? b + 1 : b - 1;
                    if (!y->is_free())
                        continue;
                    if (cur == y)
                        cur = tr.prev(y);
                    if (log && !reserve_undo(undo_len_ + max_order_ + 1))
                        return -ENOMEM;
                    erase_tree(b);
                    if (b->clear_)
                        clear_avail_ -= b->size();
                    if (merge_forced(b, log) >= min_order)
                        return 0;
                }
            }
        }
        return -ENOMEM;
    }
    /// b is free and in no tree (its clear bytes already taken off clear_avail).
    unsigned merge_forced(block* b, bool log) noexcept {
        while (block* p = b->parent_) {
            block* y = p->children_ == b ? b + 1 : b - 1;
            if (!y->is_free())
                break;
            erase_tree(y);
            if (y->clear_)
                clear_avail_ -= y->size();
            if (log)
                undo_[undo_len_++] = {p->offset_, p->order_, p->children_->clear_, (p->children_ + 1)->clear_};
            push_pair(p->children_);
            p->children_ = nullptr;
            p->clear_ = false;
            b = p;
        }
        b->clear_ = false;
        insert_tree(b);
        return b->order_;
    }
    /// Splits the recorded force-merges back, newest first, restoring the children's clear bits.
    /// Runs after the partial allocation was freed, so each recorded region is wholly free, maybe
    /// inside a larger free (dirty) block made by ordinary merges: that block is split down to
    /// the recorded one first, which rebuilds exactly the structure from before the call (those
    /// merges were impossible while the recorded block was split). Pairs cannot run out: the
    /// structure being rebuilt held them before the call.
    void undo_force_merges() noexcept {
        while (undo_len_) {
            const undo_entry e = undo_[--undo_len_];
            reserve_pairs(max_order_ + 1);
            block* f = const_cast<block*>(leaf_at(e.offset));
            erase_tree(f);
            while (f->order_ > e.order) {
                split(f);
                block* l = f->children_;
                block* r = l + 1;
                if (e.offset < r->offset_) {
                    insert_tree(r);
                    f = l;
                } else {
                    insert_tree(l);
                    f = r;
                }
            }
            split(f);
            f->children_->clear_ = e.left_clear;
            (f->children_ + 1)->clear_ = e.right_clear;
            for (block* c : {f->children_, f->children_ + 1}) {
                if (c->clear_)
                    clear_avail_ += c->size();
                insert_tree(c);
            }
        }
    }
    bool reserve_undo(std::size_t n) noexcept {
        if (n <= undo_cap_)
            return true;
        const std::size_t cap = std::max<std::size_t>(n, 2 * undo_cap_);
        std::unique_ptr<undo_entry[]> grown(new (std::nothrow) undo_entry[cap]);
        if (!grown)
            return false;
        for (std::size_t i = 0; i < undo_len_; ++i)
            grown[i] = undo_[i];
        undo_ = std::move(grown);
        undo_cap_ = cap;
        return true;
    }

    // --- leaf walk -----------------------------------------------------------------------------

    const block* first_leaf() const noexcept {
        if (!n_roots_)
            return nullptr;
        const block* b = &roots_[0];
        while (b->is_split())
            b = b->children_;
        return b;
    }
    /// The leaf (free or allocated block) right after b in address order, or null.
    const block* next_leaf(const block* b) const noexcept {
        while (b->parent_ && b == b->parent_->children_ + 1)
            b = b->parent_;
        if (b->parent_) {
            b = b + 1; // left child: its right sibling follows it in the pair
        } else {
            const std::size_t i = static_cast<std::size_t>(b - roots_.get()) + 1;
            if (i == n_roots_)
                return nullptr;
            b = &roots_[i];
        }
        while (b->is_split())
            b = b->children_;
        return b;
    }
    /// The leaf containing address `at`, or null outside the space.
    const block* leaf_at(u64 at) const noexcept {
        for (std::size_t i = 0; i < n_roots_; ++i) {
            const block* b = &roots_[i];
            if (at < b->offset_ || at > b->last())
                continue;
            while (b->is_split())
                b = at < (b->children_ + 1)->offset_ ? b->children_ : b->children_ + 1;
            return b;
        }
        return nullptr;
    }

    template <class F>
    static void visit(const block* b, F& f) {
        f(*b);
        if (b->is_split()) {
            visit(b->children_, f);
            visit(b->children_ + 1, f);
        }
    }

    u64 base_ = 0;
    u64 size_ = 0;
    u64 chunk_ = buddy_min_chunk;
    unsigned chunk_shift_ = 12;
    unsigned max_order_ = 0;
    u64 avail_ = 0;
    u64 clear_avail_ = 0;
    std::array<u64, 2> nonempty_{}; ///< bit o set: trees_[state][o] is not empty
    std::array<std::array<offset_tree, 64>, 2> trees_;
    std::unique_ptr<block[]> roots_;
    std::size_t n_roots_ = 0;
    /// Slabs grow by half the pool each time, so 64 of them outlast any address space.
    std::array<std::unique_ptr<pair_slot[]>, 64> slabs_;
    std::size_t n_slabs_ = 0;
    block* free_pairs_ = nullptr; ///< pool free list, linked through b[0].children_
    std::size_t pool_pairs_ = 0, spare_pairs_ = 0;
    std::unique_ptr<undo_entry[]> undo_;
    std::size_t undo_cap_ = 0, undo_len_ = 0;
    std::size_t live_nodes_ = 0;
};

static_assert(range_manager<buddy>);

} // namespace accel::mm

#undef ACCEL_MM_BUDDY_HOT
