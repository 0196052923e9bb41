// SPDX-License-Identifier: MIT
#pragma once
/// \file The inode table of a served tree: numbers, names, lookup counts, removal.
///
/// The FUSE protocol names files by inode number. The kernel learns a number from a LOOKUP
/// reply and may use it until it FORGETs it (a counted reference: every successful lookup
/// reply adds one, FORGET removes n), whatever happened to the name meanwhile. So:
///   - an entry removed from the tree (unlink()) leaves the tree at once - lookups and listings
///     no longer find it - but stays in the table, for the requests on numbers the kernel
///     still holds, until its lookup count falls to zero;
///   - a number is reused only after that, with the next generation number (the pair
///     number/generation never names two files: what NFS export and the kernel rely on), and
///     only once more than `reuse_after` numbers are free, oldest first: the kernel forgets
///     entries with zero timeouts at every path walk, and a number that came back at once
///     would make st_ino of unrelated files look alike to tools comparing them over time;
///   - removals are handed to the caller (`removal` records), which tells the kernel
///     (fuse_lowlevel_notify_delete / notify_inval_entry) outside any request handler: the
///     kernel takes the directory's lock for these, and a request in that directory may hold
///     it while waiting for the server.
/// Entries are directories or files with a payload `Node` (what the served file is). Unlisted
/// entries have a parent and a name but are not found by name: the host's per-process views of
/// a compute node are unlisted entries beside the node's listed one (device_tree.hpp); their
/// owner takes them out (erase_unused) when they are of no more use.
/// Not thread-safe: the owner locks.
#include <accel/fuse/lowlevel.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace accel::fuse {

/// A name the kernel must forget: `child` is the number the kernel may hold for it (0: none).
struct removal {
    fuse_ino_t parent;
    fuse_ino_t child;
    std::string name;
};

template <class Node>
class inode_table {
public:
    /// Free numbers are reused only beyond this many (see above).
    static constexpr std::size_t reuse_after = 1024;

    struct entry {
        fuse_ino_t ino = 0;
        std::uint64_t generation = 0;
        fuse_ino_t parent = 0;
        std::string name;
        bool dir = false;
        bool listed = true;  // found by name in its parent
        bool linked = true;  // in the tree (not removed)
        std::uint64_t lookups = 0;
        Node node{};
        std::map<std::string, fuse_ino_t, std::less<>> children; // listed, linked children
    };

    /// A table holding the root directory (FUSE_ROOT_ID).
    explicit inode_table(Node root_node = {}) {
        entry& r = entries_[FUSE_ROOT_ID];
        r.ino = r.parent = FUSE_ROOT_ID;
        r.generation = 1;
        r.dir = true;
        r.node = std::move(root_node);
        generations_.resize(FUSE_ROOT_ID + 1, 0);
        generations_[FUSE_ROOT_ID] = 1;
        next_ = FUSE_ROOT_ID + 1;
    }

    /// A new entry under directory `parent` (which must be linked). Listed entries are found by
    /// name (a listed name must be free); unlisted ones only by number.
    fuse_ino_t add(fuse_ino_t parent, std::string name, bool dir, Node node, bool listed = true) {
        const fuse_ino_t ino = allocate();
        try {
            entry& e = entries_[ino];
            e.ino = ino;
            e.generation = generations_[ino];
            e.parent = parent;
            e.name = std::move(name);
            e.dir = dir;
            e.listed = listed;
            e.node = std::move(node);
            if (listed)
                entries_.at(parent).children.emplace(e.name, ino);
        } catch (...) {
            entries_.erase(ino);
            free_.push_back(ino);
            throw;
        }
        return ino;
    }

    entry* find(fuse_ino_t ino) noexcept {
        auto it = entries_.find(ino);
        return it == entries_.end() ? nullptr : &it->second;
    }
    /// The listed, linked child `name` of `parent`, or 0.
    fuse_ino_t child(fuse_ino_t parent, std::string_view name) const noexcept {
        auto p = entries_.find(parent);
        if (p == entries_.end())
            return 0;
        auto c = p->second.children.find(name);
        return c == p->second.children.end() ? 0 : c->second;
    }

    /// A lookup reply will carry `ino`: one more reference of the kernel's.
    void looked_up(fuse_ino_t ino) noexcept {
        if (entry* e = find(ino))
            ++e->lookups;
    }

    /// FORGET: the kernel drops `n` references. A removed entry the kernel no longer knows
    /// leaves the table.
    void forget(fuse_ino_t ino, std::uint64_t n) {
        entry* e = find(ino);
        if (!e || ino == FUSE_ROOT_ID)
            return;
        e->lookups -= n < e->lookups ? n : e->lookups;
        if (e->lookups == 0 && !e->linked)
            erase(ino);
    }

    /// Takes `ino` out of the tree and the table if the kernel does not hold it (no removal to
    /// tell: the kernel knows nothing of it). Returns its node then.
    std::optional<Node> erase_unused(fuse_ino_t ino) {
        entry* e = find(ino);
        if (!e || e->lookups != 0 || ino == FUSE_ROOT_ID || !e->children.empty())
            return std::nullopt;
        if (e->linked && e->listed)
            if (entry* p = find(e->parent))
                p->children.erase(e->name);
        return erase(ino);
    }

    /// Removes `ino` and everything under it from the tree (children first), appending what the
    /// kernel must be told to `out`, children before their parents. `on_unlink(node)` is called
    /// for each entry leaving the tree (to drop what it holds). Entries the kernel does not
    /// hold leave the table at once.
    template <class OnUnlink>
    void unlink(fuse_ino_t ino, std::vector<removal>& out, OnUnlink&& on_unlink) {
        entry* e = find(ino);
        if (!e || !e->linked || ino == FUSE_ROOT_ID)
            return;
        std::vector<fuse_ino_t> under;
        for (auto& [name, c] : e->children)
            under.push_back(c);
        for (auto& [key, other] : entries_) // unlisted entries (views) of this one
            if (!other.listed && other.linked && other.parent == e->parent && other.name == e->name && other.ino != ino)
                under.push_back(other.ino);
        for (fuse_ino_t c : under)
            unlink(c, out, on_unlink);
        e = find(ino);
        e->linked = false;
        e->children.clear();
        if (e->listed)
            if (entry* p = find(e->parent))
                p->children.erase(e->name);
        on_unlink(e->node);
        out.push_back({e->parent, e->lookups ? ino : 0, e->name});
        if (e->lookups == 0)
            erase(ino);
    }

    /// Calls fn(entry&) for every entry in the table.
    template <class Fn>
    void for_each(Fn&& fn) {
        for (auto& [ino, e] : entries_)
            fn(e);
    }

private:
    fuse_ino_t allocate() {
        if (free_.size() > reuse_after) {
            const fuse_ino_t ino = free_.front();
            free_.pop_front();
            ++generations_[ino];
            return ino;
        }
        generations_.push_back(1);
        return next_++;
    }
    std::optional<Node> erase(fuse_ino_t ino) {
        auto it = entries_.find(ino);
        Node node = std::move(it->second.node);
        entries_.erase(it);
        try {
            free_.push_back(ino);
        } catch (...) {
            // Out of memory: the number is never reused, which is harmless.
        }
        return node;
    }

    std::unordered_map<fuse_ino_t, entry> entries_;
    std::vector<std::uint64_t> generations_; // by number: the generation last handed out
    std::deque<fuse_ino_t> free_; // oldest first
    fuse_ino_t next_ = 1;
};

} // namespace accel::fuse
