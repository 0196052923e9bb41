// SPDX-License-Identifier: MIT
#pragma once
/// \file The served tree: a subsystem's devices as directories and files, in an inode table.
///
///   accel/accel<N>                  compute node, regular file
///   accel/accel_controlD<N>         monitor node, regular file
///   sys/class/accel/accel<N>/...    the device's sysfs-like attribute tree, directories and
///                                   files (monitor/attribute_tree.hpp: dev, status, reset,
///                                   memory/<region>/..., device/<driver's>, hwmon/hwmon0/...)
///   sys/kernel/debug/accel/<N>/...  its debugfs-like tree (name, clients, fdinfo/<client-id>,
///                                   the driver's entries)
/// Attribute files are regular files of the size the tree gives (4096 in sysfs, 0 in debugfs,
/// as the kernel reports); their reads and writes are the attribute file's (handlers.hpp).
/// Owner, group and mode: device nodes and attribute files have the ones the server's access
/// policy gives (monitor/access.hpp: root:root 0666 for nodes by default, the declared mode for
/// attributes, then the server-wide settings and the rules), computed once when the device's
/// entries are made (the policy does not change while serving); a compute node's per-process
/// views report their node's. Directories are root:root 0755, as sysfs's and /dev's are. The
/// kernel enforces them at open (the mount's default_permissions, session.hpp), and the open
/// handler checks them again (handlers.hpp).
/// The tree follows the subsystem's registrations: the subsystem has no notifier, so the tree
/// is reconciled with subsystem::devices() at every lookup and listing in accel/ and
/// sys/class/accel/ and sys/kernel/debug/accel/, and periodically (host.hpp), and a device's entries are removed from the
/// inode table (inode_table.hpp) as soon as it is seen unregistered - the kernel is told by the
/// host outside request handlers. Per-device entries get timeouts of 0, so the kernel asks again
/// at every path walk: a device appears at its first lookup, and disappears for new path walks
/// at once even before the notification. An entry for an unregistered but not yet reconciled
/// device answers ENOENT (its device is unplugged).
/// A device's attribute trees change while it is registered: fdinfo/<id> files come and go with
/// clients, hwmon files with the sensors the driver reports. So a LOOKUP or READDIR in one of
/// a device's attribute directories first brings that whole tree in line with
/// list_attributes() (added entries, removed ones unlinked as above, the kernel told by the
/// host); every per-device entry has a timeout of 0, so the kernel asks at each path walk. A
/// client's file vanishes at close(2) as with a kernel file: its RELEASE is asynchronous, so
/// before listing a tree the host waits briefly for the releases of files just flushed
/// (before_attribute_listing(), open_files.hpp).
///
/// Compute nodes come in per-process views: a lookup of accel/accel<N> answers the inode of the
/// caller's own view (process_view.hpp), an unlisted entry created at the process's first
/// lookup and reaped once the process is gone and the kernel holds the view no more (so a
/// process sees one inode number for the node all its life); listings show the node's own,
/// listed entry. One
/// inode per process keeps one process's cached pages out of another's reach, as separate
/// VMAs do. Callers the server cannot identify (pid 0, caller_process.hpp) share one view
/// whose opens the host refuses.
///
/// The tree holds a device reference only in the entries of registered devices (so an
/// unregistered device's minor is freed when its files go, not when the kernel forgets an
/// inode), and a view holds one only while it has open files.
#include <accel/core/gem/mmap_offsets.hpp>
#include <accel/core/subsystem.hpp>
#include <accel/fuse/caller_process.hpp>
#include <accel/fuse/inode_table.hpp>
#include <accel/fuse/lowlevel.hpp>
#include <accel/fuse/process_view.hpp>
#include <accel/monitor/access.hpp>
#include <accel/monitor/attribute_paths.hpp>
#include <accel/monitor/attribute_tree.hpp>
#include <accel/uapi/accel_drm.h>

#include <array>
#include <cerrno>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace accel::fuse {

/// dir: the fixed directories (accel, sys, ...); attr_dir and attr_file: a device's attribute
/// trees, its directory (accel<N>, <N>) included.
enum class node_type { dir, compute, view, monitor, attr_dir, attr_file };

/// What an entry of the tree serves.
struct tree_node {
    node_type type = node_type::dir;
    unsigned minor = 0;
    device_ref dev;                           // per-device entries, while registered
    std::shared_ptr<process_view> view;       // views
    std::map<process_key, fuse_ino_t> views;  // compute nodes: their views by process
    fuse_ino_t node = 0;                      // views: their compute node's entry
    node_access access{};                     // files: owner, group, mode (access_policy)
    attribute_tree tree = attribute_tree::sysfs; // attribute entries: their tree,
    std::string rel;                          // their path in it ("" for the device's directory)
    std::uint64_t size = 0;                   // attribute files: st_size
};

class device_tree {
public:
    /// `policy`: who may open the device nodes and attribute files (monitor/access.hpp).
    explicit device_tree(const subsystem& sub, access_policy policy = {})
        : sub_(&sub), policy_(std::move(policy)), started_(std::time(nullptr)) {
        accel_dir_ = table_.add(FUSE_ROOT_ID, "accel", true, {});
        const fuse_ino_t sys = table_.add(FUSE_ROOT_ID, "sys", true, {});
        const fuse_ino_t cls = table_.add(sys, "class", true, {});
        class_accel_dir_ = table_.add(cls, "accel", true, {});
        const fuse_ino_t kernel = table_.add(sys, "kernel", true, {});
        const fuse_ino_t debug = table_.add(kernel, "debug", true, {});
        debug_accel_dir_ = table_.add(debug, "accel", true, {});
        // Published files (published_files.hpp) live in .accel/fd: .accel is unlisted (found by
        // name only), and .accel/fd lists nothing (a token is found by its name only).
        fd_root_ = table_.add(FUSE_ROOT_ID, ".accel", true, {}, false);
        fd_dir_ = table_.add(fd_root_, "fd", true, {});
    }

    /// The directory of published files (its LOOKUPs are the host's, handlers.hpp).
    fuse_ino_t fd_dir() const noexcept { return fd_dir_; }
    device_tree(const device_tree&) = delete;
    device_tree& operator=(const device_tree&) = delete;

    /// What a LOOKUP replies.
    struct found {
        fuse_ino_t ino;
        std::uint64_t generation;
        struct stat attr;
        double timeout;
    };

    /// LOOKUP of `name` in `parent` by `caller`: counts one kernel reference to the answer
    /// (undo with forget(ino, 1) if the reply fails). -ENOENT, -ENOTDIR, -ENOMEM.
    /// `caller()` gives the caller's process_key; it is asked only for compute nodes.
    template <class Caller>
    result<found> lookup(fuse_ino_t parent, std::string_view name, Caller&& caller) {
        // The listing lock stays held while the name is looked up: the answer is what this
        // listing applied, not what a later one (after a client's close) left.
        const auto listed = reconcile_if_device_dir(parent);
        std::lock_guard lock(m_);
        auto* p = table_.find(parent);
        if (!p || !p->linked)
            return result<found>::failure(-ENOENT);
        if (!p->dir)
            return result<found>::failure(-ENOTDIR);
        fuse_ino_t ino = table_.child(parent, name);
        if (!ino && parent == FUSE_ROOT_ID && name == ".accel")
            ino = fd_root_;
        auto* e = table_.find(ino);
        if (!e || !alive(*e))
            return result<found>::failure(-ENOENT); // not cached by the kernel: a device may appear later
        if (e->node.type == node_type::compute)
            ino = view_of(*e, caller());
        e = table_.find(ino);
        table_.looked_up(ino);
        return found{ino, e->generation, stat_of(*e), timeout_of(*e)};
    }

    /// FORGET.
    void forget(fuse_ino_t ino, std::uint64_t n) {
        std::lock_guard lock(m_);
        table_.forget(ino, n);
    }

    /// Takes out the views the kernel does not hold that have no files and `gone(process_key)`
    /// says belong to a process that is gone (periodic work: a live process keeps its view, and
    /// its inode number, between lookups).
    template <class Gone>
    void reap_views(Gone&& gone) {
        std::vector<std::pair<fuse_ino_t, std::shared_ptr<process_view>>> idle;
        {
            std::lock_guard lock(m_);
            table_.for_each([&](auto& e) {
                if (e.node.type == node_type::view && e.lookups == 0 && e.node.view->idle())
                    idle.emplace_back(e.ino, e.node.view);
            });
        }
        for (auto& [ino, view] : idle) {
            if (!gone(view->process())) // reads /proc: outside the lock
                continue;
            std::lock_guard lock(m_);
            auto* e = table_.find(ino);
            if (!e || e->lookups != 0 || !view->idle())
                continue;
            const fuse_ino_t node = e->node.node;
            if (table_.erase_unused(ino))
                if (auto* n = table_.find(node))
                    n->node.views.erase(view->process());
        }
    }

    /// GETATTR. An entry removed from the tree (or of an unregistered device) that the kernel
    /// still holds - fstat on a descriptor opened before the unplug - is a deleted file, as a
    /// kernel's /dev node is after its device goes: its attributes with no link left.
    result<struct stat> attr(fuse_ino_t ino) {
        std::lock_guard lock(m_);
        auto* e = table_.find(ino);
        if (!e)
            return result<struct stat>::failure(-ENOENT);
        struct stat st = stat_of(*e);
        if (!alive(*e))
            st.st_nlink = 0;
        return st;
    }
    double timeout(fuse_ino_t ino) {
        std::lock_guard lock(m_);
        auto* e = table_.find(ino);
        return e ? timeout_of(*e) : 0.0;
    }

    struct listing_entry {
        std::string name;
        fuse_ino_t ino;
        bool dir;
    };
    /// READDIR's entries, "." and ".." first. -ENOENT, -ENOTDIR.
    result<std::vector<listing_entry>> list(fuse_ino_t ino) {
        const auto listed = reconcile_if_device_dir(ino); // held while the entries are read
        std::lock_guard lock(m_);
        auto* e = table_.find(ino);
        if (!e || !alive(*e))
            return result<std::vector<listing_entry>>::failure(-ENOENT);
        if (!e->dir)
            return result<std::vector<listing_entry>>::failure(-ENOTDIR);
        std::vector<listing_entry> out{{".", ino, true}, {"..", e->parent, true}};
        for (auto& [name, c] : e->children)
            if (auto* ce = table_.find(c))
                out.push_back({name, c, ce->dir});
        return out;
    }

    /// What an open or a read needs to know of an entry.
    struct node_info {
        node_type type;
        unsigned minor;
        device_ref dev;
        std::shared_ptr<process_view> view;
        node_access access; // what the entry's stat reports (files)
        attribute_tree tree; // attribute entries
        std::string rel;
    };
    /// The entry's node, while it is in the tree and its device registered.
    std::optional<node_info> node(fuse_ino_t ino) {
        std::lock_guard lock(m_);
        auto* e = table_.find(ino);
        if (!e || !alive(*e))
            return std::nullopt;
        return node_info{e->node.type, e->node.minor, e->node.dev, e->node.view, e->node.access, e->node.tree, e->node.rel};
    }

    const access_policy& policy() const noexcept { return policy_; }

    /// Brings the tree in line with the subsystem's registrations; the removals wait in
    /// take_removals() for the host to tell the kernel.
    void reconcile() {
        std::vector<device_ref> devs = sub_->devices();
        std::array<device_base*, subsystem::max_devices> now{};
        for (auto& d : devs)
            now[d->minor()] = d.get();
        bool removed = false;
        {
            std::lock_guard lock(m_);
            for (unsigned m = 0; m < subsystem::max_devices; ++m) {
                if (known_[m].dev && known_[m].dev.get() != now[m]) {
                    remove_device(m);
                    removed = true;
                }
                if (now[m] && !known_[m].dev)
                    add_device(device_ref(now[m]));
            }
        }
        if (removed && on_removals_)
            on_removals_();
    }

    /// `fn()` is called (outside the tree's lock, on the reconciling thread) when removals wait.
    void on_removals(std::function<void()> fn) { on_removals_ = std::move(fn); }
    /// `fn(device)` is called (outside the tree's lock) before a device's attribute tree is
    /// listed to bring the tree in line: the host waits there for releases in flight.
    void before_attribute_listing(std::function<void(const device_base&)> fn) { before_listing_ = std::move(fn); }
    /// For tests: `fn(device, tree)` is called between listing a device's attribute tree and
    /// applying the listing (with that tree's listing lock held, outside the tree's lock).
    void after_attribute_listing(std::function<void(const device_base&, attribute_tree)> fn) {
        after_listing_ = std::move(fn);
    }

    /// The names the kernel must forget since the last call (device_tree::reconcile).
    std::vector<removal> take_removals() {
        std::lock_guard lock(m_);
        return std::exchange(removals_, {});
    }

    /// Every view in the table (for periodic work).
    std::vector<std::shared_ptr<process_view>> views() {
        std::vector<std::shared_ptr<process_view>> out;
        std::lock_guard lock(m_);
        table_.for_each([&](auto& e) {
            if (e.node.view)
                out.push_back(e.node.view);
        });
        return out;
    }

private:
    using table = inode_table<tree_node>;

    bool alive(const table::entry& e) const noexcept { return e.linked && (!e.node.dev || !e.node.dev->unplugged()); }

    /// Before a lookup or listing in `dir`: the directories listing devices follow the
    /// registrations, a device's attribute directories its attribute tree. Returns the
    /// attribute tree's listing lock, still held (empty for other directories), so that the
    /// caller reads the table as this listing left it (lock order: listing, then m_).
    std::unique_lock<std::mutex> reconcile_if_device_dir(fuse_ino_t dir) {
        if (dir == accel_dir_ || dir == class_accel_dir_ || dir == debug_accel_dir_) {
            reconcile();
            return {};
        }
        device_ref dev;
        attribute_tree tree;
        {
            std::lock_guard lock(m_);
            auto* e = table_.find(dir);
            if (!e || !e->linked || e->node.type != node_type::attr_dir || !e->node.dev)
                return {};
            dev = e->node.dev;
            tree = e->node.tree;
        }
        return reconcile_attributes(dev, tree);
    }

    /// Brings `dev`'s `tree` in the table in line with list_attributes(): entries the tree has
    /// no more (or whose kind changed) are unlinked, new ones added, parents first.
    /// Listing and applying are one step per device and tree (listing_[minor][tree], taken
    /// before m_): two lookups reconciling at once would otherwise apply their listings in any
    /// order, and an older one (made before a client's close) would add back the fdinfo/<id>
    /// file a newer one had removed. The listing runs driver callbacks, so it stays outside m_.
    /// Returns the listing lock, held.
    std::unique_lock<std::mutex> reconcile_attributes(const device_ref& dev, attribute_tree tree) {
        if (dev->unplugged())
            return {};
        if (before_listing_)
            before_listing_(*dev);
        const unsigned m = dev->minor();
        std::unique_lock listing(listing_[m][tree == attribute_tree::sysfs ? 0 : 1]);
        const std::vector<attribute_entry> want = list_attributes(*dev, tree);
        if (after_listing_)
            after_listing_(*dev, tree);
        bool removed = false;
        {
            std::lock_guard lock(m_);
            per_device& k = known_[m];
            if (k.dev.get() != dev.get())
                return listing; // unregistered meanwhile
            const fuse_ino_t root = tree == attribute_tree::sysfs ? k.sys_dir : k.dbg_dir;
            std::map<std::string, fuse_ino_t, std::less<>> have;
            collect_attributes(root, "", have);
            std::map<std::string_view, const attribute_entry*> wanted;
            for (const attribute_entry& w : want)
                wanted.emplace(w.path, &w);
            for (auto it = have.begin(); it != have.end();) {
                auto w = wanted.find(it->first);
                auto* e = table_.find(it->second);
                if (e && e->linked && w != wanted.end() && w->second->directory == e->dir) {
                    ++it;
                    continue;
                }
                if (e && e->linked) { // its children go with it (and leave `have` below)
                    table_.unlink(it->second, removals_, [](tree_node& n) { n.dev.reset(); });
                    removed = true;
                }
                it = have.erase(it);
            }
            for (auto it = have.begin(); it != have.end();) { // children of removed directories
                auto* e = table_.find(it->second);
                it = e && e->linked ? std::next(it) : have.erase(it);
            }
            const std::string top = attribute_device_dir(tree, m);
            const std::string_view driver = dev->info().name;
            for (const attribute_entry& w : want) {
                if (have.contains(w.path))
                    continue;
                const std::size_t slash = w.path.rfind('/');
                fuse_ino_t parent = root;
                if (slash != std::string::npos) {
                    auto p = have.find(std::string_view(w.path).substr(0, slash));
                    if (p == have.end())
                        continue; // list_attributes() lists directories first: not reached
                    parent = p->second;
                }
                tree_node n{w.directory ? node_type::attr_dir : node_type::attr_file, m, dev, {}, {}, 0, {}, tree, w.path,
                            w.size};
                if (!w.directory)
                    n.access = policy_.for_attribute(top + "/" + w.path, driver, w.mode);
                const std::string name = slash == std::string::npos ? w.path : w.path.substr(slash + 1);
                have.emplace(w.path, table_.add(parent, name, w.directory, std::move(n)));
            }
        }
        if (removed && on_removals_)
            on_removals_();
        return listing;
    }

    /// The linked entries under attribute directory `dir` by their path in the tree.
    void collect_attributes(fuse_ino_t dir, const std::string& prefix, std::map<std::string, fuse_ino_t, std::less<>>& out) {
        auto* e = table_.find(dir);
        if (!e)
            return;
        for (auto& [name, c] : e->children) {
            std::string rel = prefix.empty() ? name : prefix + "/" + name;
            if (auto* ce = table_.find(c); ce && ce->dir)
                collect_attributes(c, rel, out);
            out.emplace(std::move(rel), c);
        }
    }

    /// The caller's view of compute node `e`, created at its first lookup.
    fuse_ino_t view_of(table::entry& e, const process_key& caller) {
        if (auto it = e.node.views.find(caller); it != e.node.views.end())
            return it->second;
        const fuse_ino_t node = e.ino, parent = e.parent;
        const unsigned minor = e.node.minor;
        device_ref dev = e.node.dev;
        const node_access access = e.node.access; // a view is its node, for permissions
        const fuse_ino_t v =
            table_.add(parent, e.name, false, tree_node{node_type::view, minor, std::move(dev), {}, {}, node, access, {}, {}, 0}, false);
        try {
            table_.find(v)->node.view = std::make_shared<process_view>(v, caller);
            table_.find(node)->node.views.emplace(caller, v);
        } catch (...) {
            table_.erase_unused(v); // not known to the kernel yet
            throw;
        }
        return v;
    }

    void add_device(device_ref dev) {
        const unsigned m = dev->minor();
        const std::string n = std::to_string(m);
        const std::string_view driver = dev->info().name;
        const std::string compute = node_name(node_kind::compute, m), monitor = node_name(node_kind::monitor, m);
        per_device& k = known_[m];
        k.compute = table_.add(accel_dir_, compute.substr(compute.rfind('/') + 1), false,
                               tree_node{node_type::compute, m, dev, {}, {}, 0, policy_.for_node(compute, driver), {}, {}, 0});
        k.monitor = table_.add(accel_dir_, monitor.substr(monitor.rfind('/') + 1), false,
                               tree_node{node_type::monitor, m, dev, {}, {}, 0, policy_.for_node(monitor, driver), {}, {}, 0});
        // The attribute trees' directories; their contents come at the first lookup or listing
        // in them (reconcile_attributes).
        k.sys_dir = table_.add(class_accel_dir_, "accel" + n, true,
                               tree_node{node_type::attr_dir, m, dev, {}, {}, 0, {}, attribute_tree::sysfs, {}, 0});
        k.dbg_dir = table_.add(debug_accel_dir_, n, true,
                               tree_node{node_type::attr_dir, m, dev, {}, {}, 0, {}, attribute_tree::debugfs, {}, 0});
        k.dev = std::move(dev);
    }

    void remove_device(unsigned m) {
        per_device& k = known_[m];
        auto drop = [](tree_node& n) { n.dev.reset(); };
        for (fuse_ino_t ino : {k.compute, k.monitor, k.sys_dir, k.dbg_dir})
            table_.unlink(ino, removals_, drop);
        k = {};
    }

    struct stat stat_of(const table::entry& e) const {
        struct stat st {};
        st.st_ino = e.ino;
        st.st_atime = st.st_mtime = st.st_ctime = started_;
        st.st_blksize = 4096;
        if (e.dir) {
            st.st_mode = S_IFDIR | 0755; // root's, as sysfs's and /dev's directories
            st.st_nlink = 2;
            return st;
        }
        st.st_uid = e.node.access.uid;
        st.st_gid = e.node.access.gid;
        st.st_mode = S_IFREG | (e.node.access.mode & 07777);
        st.st_nlink = 1;
        if (e.node.type == node_type::attr_file) {
            st.st_size = static_cast<off_t>(e.node.size);
        } else {
            if (e.node.type != node_type::monitor) // mmap offsets lie inside the file
                st.st_size = static_cast<off_t>(mmap_offset_manager::start_byte + mmap_offset_manager::span_bytes);
        }
        return st;
    }
    /// Per-device entries must not be cached by the kernel: they come and go with
    /// registrations, and the compute node's name means a different inode per process.
    static double timeout_of(const table::entry& e) noexcept { return e.node.type == node_type::dir && !e.node.dev ? 1.0 : 0.0; }

    struct per_device {
        device_ref dev; // the registered device these entries show
        fuse_ino_t compute = 0, monitor = 0, sys_dir = 0, dbg_dir = 0;
    };

    const subsystem* sub_;
    const access_policy policy_;
    std::time_t started_;
    std::mutex m_;
    table table_;
    fuse_ino_t accel_dir_ = 0, class_accel_dir_ = 0, debug_accel_dir_ = 0, fd_root_ = 0, fd_dir_ = 0;
    std::array<per_device, subsystem::max_devices> known_{};
    std::vector<removal> removals_;
    std::function<void()> on_removals_;
    std::function<void(const device_base&)> before_listing_;
    std::function<void(const device_base&, attribute_tree)> after_listing_;
    /// Per minor, the sysfs and the debugfs tree's listing lock (reconcile_attributes).
    std::array<std::array<std::mutex, 2>, subsystem::max_devices> listing_;
};

} // namespace accel::fuse
