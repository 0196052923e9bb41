// SPDX-License-Identifier: MIT
#pragma once
/// \file The mock backend: a subsystem's devices used in-process, through a POSIX-like API.
///
/// "File descriptors" come from an in-process table, smallest free number first, like POSIX.
/// ioctl is a direct call into the same dispatcher the real backend's server uses, with user
/// memory being this process's memory (copy_from_user is a checked memcpy). Thread-safe.
///
/// fd table: each descriptor names an open_file (core/open_file.hpp) and every call goes
/// through its file operations, whatever its kind. Slots live in fixed-size chunks that are
/// never moved or freed while the mock lives, so an ioctl reaches its slot without a lock. Each
/// slot counts the calls using it; close() detaches the file from the slot, ends the waits of
/// requests parked through it with -EBADF, waits for the calls to finish, then drops the
/// descriptor's reference (the last one releases the file) and only then makes the number
/// reusable. (Unlike the kernel, close() therefore waits for, and ends, the calls other threads
/// are making on the same descriptor.)
///
/// Deferred completion: a handler that parks its request (core/parked_call.hpp) leaves the
/// calling thread asleep on the request until it is answered - by a wake-up, its timeout, an
/// unplug (-ENODEV) or a close of the descriptor (-EBADF). poll() waits on several
/// descriptors at once with a timeout, as poll(2) does.
///
/// mmap: a buffer object is mapped with a real mmap(2) of its memfd backing, so the client sees
/// the very pages the driver writes (coherent both ways, immediately) and `prot` is enforced by
/// the MMU. The mock records each mapping with a reference to the object and its device, so a
/// mapping outlives its handle, its file and an unplug, as a kernel VMA does; munmap drops them.
/// Unlike munmap(2), the mock unmaps whole mappings only (the address and length mmap gave).
///
/// Descriptors made by a call (core/descriptors.hpp): fd_install reserves the lowest free number
/// now and fills its slot only when the call succeeds; a failed call gives the number back and
/// drops the file. fget names any open descriptor of the mock: the mock is one process.
///
/// Caller identity: each thread acts as the process's real uid/pid unless a `mock::identity`
/// scope says otherwise (a test that wants an unprivileged caller opens one).
///
/// Files under the root (the same tree a FUSE mount serves):
///   accel/accel<N>, accel/accel_controlD<N>   the device nodes (character devices)
///   sys/class/accel/accel<N>/...                the sysfs-like attribute tree of minor N
///   sys/kernel/debug/accel/<N>/...              the debugfs-like tree (monitor/attribute_tree.hpp)
/// open() checks the caller against the mock's access_policy (monitor/access.hpp) as the kernel
/// checks a file's mode on a mount with default_permissions: a node gets the policy's
/// for_node() access, an attribute its for_attribute() access (from its declared mode), and
/// may_open() (may_open_attribute() for attributes) decides; -EACCES before anything is opened.
/// stat() and list() describe the files and directories; read, write, pread, pwrite and lseek
/// work on attribute files with their sysfs semantics (monitor/attribute_file.hpp).
#include <accel/backend/client_backend.hpp>
#include <accel/core/device_base.hpp>
#include <accel/core/dispatch.hpp>
#include <accel/base/errno.hpp>
#include <accel/base/fault_injection.hpp>
#include <accel/core/call.hpp>
#include <accel/core/descriptors.hpp>
#include <accel/core/open_file.hpp>
#include <accel/core/subsystem.hpp>
#include <accel/core/user_memory.hpp>
#include <accel/core/wait_queue.hpp>
#include <accel/monitor/access.hpp>
#include <accel/monitor/attribute_paths.hpp>
#include <accel/monitor/attribute_tree.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <fcntl.h>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <poll.h>
#include <string>
#include <string_view>
#include <sys/mman.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace accel::backend {

class mock {
public:
    static constexpr int chunk_slots = 256;
    static constexpr int max_chunks = 64; ///< 16384 descriptors; the 16385th open gets -EMFILE

    explicit mock(subsystem& sub, std::string root = "/dev") : sub_(&sub), root_(std::move(root)) {
        while (root_.size() > 1 && root_.back() == '/')
            root_.pop_back();
    }
    mock(const mock&) = delete;
    mock& operator=(const mock&) = delete;
    ~mock() {
        for (int fd = 0; fd < max_chunks * chunk_slots; ++fd)
            if (slot* s = find_slot(fd); s && s->file.load())
                close(fd);
        for (auto& [addr, m] : mappings_)
            ::munmap(addr, m.length);
    }

    std::string_view root() const noexcept { return root_; }

    /// Acts as `who` on this thread for the scope's lifetime (nests).
    class identity {
    public:
        explicit identity(caller_identity who) noexcept : saved_(current()) { current() = who; }
        ~identity() { current() = saved_; }
        identity(const identity&) = delete;
        identity& operator=(const identity&) = delete;

    private:
        caller_identity saved_;
    };

    /// The access rules open() and stat() apply (monitor/access.hpp); by default every node is
    /// root:root 0666 and every attribute root:root with its declared mode.
    void set_access_policy(accel::access_policy policy) {
        std::lock_guard lock(policy_mutex_);
        policy_ = std::move(policy);
    }
    accel::access_policy access_policy() const {
        std::lock_guard lock(policy_mutex_);
        return policy_;
    }

    /// Opens a node (`root()/accel/accel<N>`, `root()/accel/accel_controlD<N>`) or an attribute
    /// file (`root()/sys/class/accel/accel<N>/<rel>`, `root()/sys/kernel/debug/accel/<N>/<rel>`).
    /// -ENOENT (no such file), -ENODEV (not registered), -EACCES (the access policy, or for an
    /// attribute kernfs's checks), -EISDIR (a directory), -EBUSY, -EMFILE, -ENOMEM, or the
    /// driver's open error.
    int open(std::string_view path, int flags = O_RDWR) {
        std::string_view name;
        if (!strip_root(path, name))
            return -ENOENT;
        if (name.starts_with("sys/") || name == "sys")
            return open_attribute_file(name, flags);
        if (name.empty() || name == "accel")
            return -EISDIR;
        auto node = sub_->find_node(name);
        if (!node)
            return node.error();
        if (int e = may_open(node_access_of(name, *node->device), current(), flags))
            return e;
        int fd = reserve_fd();
        if (fd < 0)
            return fd;
        as_caller scope(*this);
        auto f = node->device->open(node->kind, flags);
        if (!f) {
            unreserve_fd(fd);
            return f.error();
        }
        find_slot(fd)->file.store(*f, std::memory_order_release);
        return fd;
    }

    /// stat(2) of a path under the root: st_mode (type and permission bits), st_uid, st_gid,
    /// st_size, st_rdev for nodes (the rest zero). Directories are root:root 0755. 0, or
    /// -ENOENT / -ENODEV as open() answers.
    int stat(std::string_view path, struct ::stat& out) const {
        out = {};
        std::string_view name;
        if (!strip_root_or_root(path, name))
            return -ENOENT;
        if (name.empty() || name == "accel" || attribute_ancestor_entries(*sub_, name)) {
            out.st_mode = S_IFDIR | 0755;
            out.st_nlink = 2;
            return 0;
        }
        if (name.starts_with("sys/")) {
            auto loc = resolve_attribute_path(*sub_, name);
            if (!loc)
                return loc.error();
            auto entry = find_attribute(*loc->device, loc->tree, loc->rel);
            if (!entry)
                return entry.error();
            if (entry->directory) {
                out.st_mode = S_IFDIR | 0755;
                out.st_nlink = 2;
                return 0;
            }
            const node_access a = attribute_access_of(name, *loc->device, entry->mode);
            out.st_mode = S_IFREG | (a.mode & 07777);
            out.st_uid = a.uid;
            out.st_gid = a.gid;
            out.st_size = static_cast<off_t>(entry->size);
            out.st_nlink = 1;
            return 0;
        }
        auto node = sub_->find_node(name);
        if (!node)
            return node.error();
        const node_access a = node_access_of(name, *node->device);
        out.st_mode = S_IFCHR | (a.mode & 07777);
        out.st_uid = a.uid;
        out.st_gid = a.gid;
        {
            // glibc's makedev (not <sys/sysmacros.h>: its `minor` macro breaks minor()).
            const std::uint64_t ma = accel_char_major, mi = node->device->minor();
            out.st_rdev = static_cast<dev_t>(((ma & 0xfffff000u) << 32) | ((ma & 0xfffu) << 8) |
                                             ((mi & 0xffffff00u) << 12) | (mi & 0xffu));
        }
        out.st_nlink = 1;
        return 0;
    }

    /// The names in a directory under the root, sorted: the root ("accel", "sys"), "accel"
    /// (the nodes), the directories above the trees, and the trees' directories. -ENOENT,
    /// -ENOTDIR (a file), -ENODEV.
    result<std::vector<std::string>> list(std::string_view path) const {
        using out_t = result<std::vector<std::string>>;
        std::string_view name;
        if (!strip_root_or_root(path, name))
            return out_t::failure(-ENOENT);
        while (!name.empty() && name.back() == '/')
            name.remove_suffix(1);
        if (name.empty())
            return std::vector<std::string>{"accel", "sys"};
        if (name == "accel") {
            std::vector<std::string> names;
            for (const auto& n : sub_->nodes())
                names.push_back(n.name.substr(6)); // after "accel/"
            std::sort(names.begin(), names.end());
            return names;
        }
        if (auto above = attribute_ancestor_entries(*sub_, name))
            return above;
        if (name.starts_with("sys/")) {
            auto loc = resolve_attribute_path(*sub_, name);
            if (!loc)
                return out_t::failure(loc.error());
            return list_attribute_directory(*loc->device, loc->tree, loc->rel);
        }
        auto node = sub_->find_node(name);
        return out_t::failure(node ? -ENOTDIR : node.error());
    }

    /// One ioctl; `arg` is a pointer into this process, as with ioctl(2). A parked request
    /// keeps the calling thread until it is answered.
    int ioctl(int fd, unsigned long request, void* arg) noexcept {
        const auto addr = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(arg));
        return static_cast<int>(on_file(fd, [&](open_file& f) -> long { return f.ioctl(static_cast<ioctl_cmd>(request), addr); }));
    }

    /// read(2): bytes read into `buf`, or -errno (-EBADF; the file kind's errors).
    long read(int fd, void* buf, std::size_t n) noexcept {
        const auto addr = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(buf));
        return on_file(fd, [&](open_file& f) { return f.readable() ? f.read(addr, n) : long{-EBADF}; });
    }

    /// write(2): bytes written from `buf`, or -errno.
    long write(int fd, const void* buf, std::size_t n) noexcept {
        const auto addr = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(buf));
        return on_file(fd, [&](open_file& f) { return f.writable() ? f.write(addr, n) : long{-EBADF}; });
    }

    /// pread(2): at `offset`, the file's position untouched. -EINVAL for a negative offset,
    /// -ESPIPE for a file without an llseek operation (the mock's stand-in for a file opened
    /// without FMODE_PREAD), -EBADF.
    long pread(int fd, void* buf, std::size_t n, off_t offset) noexcept {
        if (offset < 0)
            return -EINVAL;
        const auto addr = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(buf));
        return on_file(fd, [&](open_file& f) {
            if (!f.readable())
                return long{-EBADF};
            if (!f.fops().llseek)
                return long{-ESPIPE};
            std::uint64_t pos = static_cast<std::uint64_t>(offset);
            return f.read(addr, n, pos);
        });
    }

    /// pwrite(2): at `offset`, the file's position untouched (errors as pread).
    long pwrite(int fd, const void* buf, std::size_t n, off_t offset) noexcept {
        if (offset < 0)
            return -EINVAL;
        const auto addr = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(buf));
        return on_file(fd, [&](open_file& f) {
            if (!f.writable())
                return long{-EBADF};
            if (!f.fops().llseek)
                return long{-ESPIPE};
            std::uint64_t pos = static_cast<std::uint64_t>(offset);
            return f.write(addr, n, pos);
        });
    }

    /// lseek(2): the new position, or -errno (-EBADF; the file's llseek errors; -ESPIPE
    /// without one).
    long long lseek(int fd, long long offset, int whence) noexcept {
        slot* s = find_slot(fd);
        if (!s)
            return -EBADF;
        slot_use use(*s);
        open_file* f = use.file();
        if (!f)
            return -EBADF;
        return f->llseek(offset, whence);
    }

    /// poll(2) over `n` descriptors: the number with events, 0 on timeout (`timeout_ms` < 0:
    /// none), or -EINVAL / -ENOMEM. A descriptor that is not open gets POLLNVAL; POLLERR and
    /// POLLHUP are reported whatever was asked, as poll(2) does.
    int poll(struct pollfd* fds, std::size_t n, int timeout_ms) noexcept {
        if (n > static_cast<std::size_t>(max_chunks) * chunk_slots)
            return -EINVAL;
        poll_waiter* w = detail::alloc_may_fail() ? nullptr : new (std::nothrow) poll_waiter();
        if (!w)
            return -ENOMEM;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms);
        int ready = 0;
        for (;;) {
            const std::uint64_t seen = w->generation();
            ready = 0;
            const bool register_waits = timeout_ms != 0;
            for (std::size_t i = 0; i < n; ++i) {
                fds[i].revents = 0;
                if (fds[i].fd < 0)
                    continue; // ignored, as poll(2) does
                slot* s = find_slot(fds[i].fd);
                if (!s) {
                    fds[i].revents = POLLNVAL;
                    ++ready;
                    continue;
                }
                slot_use use(*s);
                open_file* f = use.file();
                if (!f) {
                    fds[i].revents = POLLNVAL;
                    ++ready;
                    continue;
                }
                if (register_waits && !w->hold(*f)) {
                    ready = -ENOMEM;
                    break;
                }
                const unsigned mask = register_waits ? f->poll(*w) : f->poll(w->no_wait());
                fds[i].revents = static_cast<short>(mask & (static_cast<unsigned>(fds[i].events) | POLLERR | POLLHUP | POLLNVAL));
                if (fds[i].revents)
                    ++ready;
            }
            if (ready || timeout_ms == 0)
                break;
            if (!w->sleep(seen, timeout_ms < 0 ? nullptr : &deadline))
                break; // timed out
        }
        w->leave_queues();
        {
            as_caller scope(*this);
            w->release_files(); // a file closed meanwhile is released now, as after poll(2)
        }
        w->put();
        return ready;
    }

    int close(int fd) noexcept {
        slot* s = find_slot(fd);
        if (!s)
            return -EBADF;
        open_file* f = nullptr;
        {
            std::lock_guard lock(fd_mutex_);
            f = s->file.exchange(nullptr, std::memory_order_seq_cst);
        }
        if (!f)
            return -EBADF;
        {
            as_caller scope(*this);
            f->flush();
        }
        // Calls on the descriptor end before it goes: those parked get -EBADF (see above).
        for (unsigned spins = 0; s->users.load(std::memory_order_seq_cst) != 0; ++spins) {
            f->cancel_waits(-EBADF);
            spins < 64 ? std::this_thread::yield() : std::this_thread::sleep_for(std::chrono::microseconds(20));
        }
        {
            as_caller scope(*this);
            f->put();
        }
        unreserve_fd(fd);
        return 0;
    }

    /// mmap(2) of `length` bytes at `offset` of an open node, with mmap's `prot` and `flags`
    /// (MAP_SHARED or MAP_PRIVATE, optionally MAP_POPULATE/MAP_NORESERVE; no fixed address):
    /// the address, or -EBADF, the errors of device_base::mmap_object (-EINVAL, -EACCES,
    /// -ENODEV), -ENOMEM.
    result<void*> mmap(int fd, std::uint64_t offset, std::size_t length, int prot, int flags) {
        constexpr int allowed = MAP_SHARED | MAP_PRIVATE | MAP_SHARED_VALIDATE | MAP_POPULATE | MAP_NORESERVE;
        if (flags & ~allowed)
            return result<void*>::failure(-EINVAL);
        slot* s = find_slot(fd);
        if (!s)
            return result<void*>::failure(-EBADF);
        slot_use use(*s);
        open_file* f = use.file();
        if (!f)
            return result<void*>::failure(-EBADF);
        auto target = map_file(*f, offset, length, prot, flags);
        if (!target)
            return result<void*>::failure(target.error());
        const std::uint64_t page = host_page_size();
        const std::size_t span = static_cast<std::size_t>((length + page - 1) / page * page);
        if (detail::alloc_may_fail())
            return result<void*>::failure(-ENOMEM);
        void* p = ::mmap(nullptr, span, prot, flags, target->fd, static_cast<off_t>(target->fd_offset));
        if (p == MAP_FAILED)
            return result<void*>::failure(-errno);
        try {
            std::lock_guard lock(map_mutex_);
            mappings_.emplace(p, mapping{span, std::move(target->device), std::move(target->object)});
        } catch (...) {
            ::munmap(p, span);
            return result<void*>::failure(-ENOMEM);
        }
        return p;
    }

    /// munmap(2) for what mmap() returned: `addr` and the length given to mmap (rounded up to
    /// pages) unmap the mapping and drop its references. A range that only partly covers a
    /// mapping of ours is -EINVAL (the mock unmaps whole mappings); any other range is passed to
    /// munmap(2), which unmaps whatever is there (nothing, usually) and returns 0, as for any
    /// address that was never mapped.
    int munmap(void* addr, std::size_t length) noexcept {
        const std::uint64_t page = host_page_size();
        if (length == 0 || reinterpret_cast<std::uintptr_t>(addr) % page != 0)
            return -EINVAL;
        const std::size_t span = static_cast<std::size_t>((length + page - 1) / page * page);
        auto* lo = static_cast<char*>(addr);
        mapping m;
        {
            std::lock_guard lock(map_mutex_);
            auto it = mappings_.find(addr);
            if (it != mappings_.end() && it->second.length == span) {
                m = std::move(it->second);
                mappings_.erase(it);
            } else {
                auto next = mappings_.lower_bound(addr); // a mapping starting inside the range?
                const bool starts_inside = next != mappings_.end() && static_cast<char*>(next->first) < lo + span;
                bool covered_from_below = false;
                if (next != mappings_.begin()) {
                    auto prev = std::prev(next);
                    covered_from_below = static_cast<char*>(prev->first) + prev->second.length > lo;
                }
                if (starts_inside || covered_from_below)
                    return -EINVAL;
            }
        }
        return ::munmap(addr, span) == 0 ? 0 : -errno; // m's references go after the pages
    }

    /// The memory user pointers reach in every later call: by default this process's, unchecked
    /// (a wild pointer crashes, as any in-process bug would). A fuzzer installs one that answers
    /// -EFAULT outside the memory it handed out, as the kernel does for an unmapped address.
    /// `m` must outlive the calls; null restores the default. Not while calls are running.
    void set_user_memory(user_access* m) noexcept { memory_ = m ? m : &direct_memory_; }

    /// Live mappings (for leak checks in tests).
    std::size_t mappings() const {
        std::lock_guard lock(map_mutex_);
        return mappings_.size();
    }

    /// Open descriptors (for leak checks in tests).
    int open_descriptors() const {
        std::lock_guard lock(fd_mutex_);
        int n = 0;
        for (std::uint64_t w : used_)
            n += std::popcount(w);
        return n;
    }

private:
    struct mapping {
        std::size_t length = 0;
        device_ref device; // declared first, destroyed last: the object's offset is in it
        gem_ref object;
    };

    struct alignas(64) slot { // one cache line each: threads on different fds never share one
        std::atomic<open_file*> file{nullptr};
        std::atomic<std::uint32_t> users{0};
    };
    using chunk = std::array<slot, chunk_slots>;

    /// A call using a slot's file: counted for the scope, so close() waits for it to end.
    class slot_use {
    public:
        explicit slot_use(slot& s) noexcept : s_(&s) { s.users.fetch_add(1, std::memory_order_seq_cst); }
        ~slot_use() { s_->users.fetch_sub(1, std::memory_order_release); }
        slot_use(const slot_use&) = delete;
        slot_use& operator=(const slot_use&) = delete;
        /// The open file, or null (closed, or never opened).
        open_file* file() const noexcept { return s_->file.load(std::memory_order_seq_cst); }

    private:
        slot* s_;
    };

    /// The calling thread as the current call (this process's memory, its identity) for the scope.
    class as_caller {
    public:
        explicit as_caller(mock& m) noexcept : ctx_{m.memory_, current()}, scope_(ctx_) {}
        as_caller(const as_caller&) = delete;
        as_caller& operator=(const as_caller&) = delete;

    private:
        call_context ctx_;
        call_scope scope_;
    };

    /// A request of the calling thread: answered in place, or later by whoever ends its wait
    /// while the thread sleeps on it.
    class mock_call final : public call {
    public:
        void complete(long result) noexcept override {
            std::lock_guard lock(mutex_);
            result_ = result;
            done_ = true;
            cv_.notify_all(); // under the lock: the waiter may destroy *this once it sees done_
        }
        long wait() {
            std::unique_lock lock(mutex_);
            cv_.wait(lock, [&] { return done_; });
            return result_;
        }

    private:
        std::mutex mutex_;
        std::condition_variable cv_;
        bool done_ = false;
        long result_ = 0;
    };

    /// Runs `op(open_file&)` as a call on `fd` (-EBADF when it is not open), sleeping while
    /// the request is parked.
    template <class Op>
    long on_file(int fd, Op&& op) noexcept {
        slot* s = find_slot(fd);
        if (!s)
            return -EBADF;
        slot_use use(*s);
        open_file* f = use.file();
        if (!f)
            return -EBADF;
        mock_call c;
        pending_descriptors fds(*this);
        c.ctx = call_context{memory_, current()};
        c.ctx.async = &c;
        c.ctx.files = &fds;
        long r;
        {
            call_scope scope(c.ctx);
            r = op(*f);
        }
        if (r == call_parked) {
            fds.parked();
            r = c.wait();
        }
        return fds.finish(r);
    }

    /// The descriptor table a call sees: installs wait for the call's result (see the file
    /// comment), lookups see every open descriptor.
    class pending_descriptors final : public descriptor_table {
    public:
        explicit pending_descriptors(mock& m) noexcept : m_(&m) {}
        pending_descriptors(const pending_descriptors&) = delete;
        pending_descriptors& operator=(const pending_descriptors&) = delete;
        ~pending_descriptors() { (void)finish(-EINVAL); }

        result<int> install(open_file_ref file, int) noexcept override {
            if (!file)
                return result<int>::failure(-EINVAL);
            if (n_ == reserved_.size())
                return result<int>::failure(-ENOMEM); // no call of ours returns more than one
            int fd = m_->reserve_fd();
            if (fd < 0)
                return result<int>::failure(fd);
            reserved_[n_++] = {fd, file.detach()};
            return fd;
        }
        result<open_file_ref> get(int fd) noexcept override {
            slot* s = m_->find_slot(fd);
            if (!s)
                return result<open_file_ref>::failure(-EBADF);
            slot_use use(*s);
            open_file* f = use.file();
            if (!f)
                return result<open_file_ref>::failure(-EBADF);
            return open_file_ref(f); // a reference taken while the slot's use keeps it
        }
        /// A handler parked after installing: accel's rule says the call fails.
        void parked() noexcept { parked_with_installs_ = n_ != 0; }
        /// Commits the reserved descriptors when `r` >= 0, else gives them back. The result.
        long finish(long r) noexcept {
            if (r >= 0 && parked_with_installs_)
                r = -EINVAL;
            for (std::size_t i = 0; i < n_; ++i) {
                auto [fd, f] = reserved_[i];
                if (r >= 0) {
                    m_->find_slot(fd)->file.store(f, std::memory_order_release);
                } else {
                    {
                        as_caller scope(*m_);
                        f->put();
                    }
                    m_->unreserve_fd(fd);
                }
            }
            n_ = 0;
            return r;
        }

    private:
        mock* m_;
        std::array<std::pair<int, open_file*>, 4> reserved_{};
        std::size_t n_ = 0;
        bool parked_with_installs_ = false;
    };

    /// poll()'s waiter: joins every queue the files' poll operations name (joined_queues); a
    /// wake-up on any of them bumps a generation the sleeping thread waits on.
    class poll_waiter final : public wait_entry, public poll_table {
    public:
        void wait(wait_queue& q) noexcept override {
            (void)queues_.join(*this, q); // out of memory: this queue cannot wake us; the timeout ends the wait
        }
        void wake() noexcept override {
            std::lock_guard lock(mutex_);
            ++generation_;
            cv_.notify_all();
        }
        std::uint64_t generation() {
            std::lock_guard lock(mutex_);
            return generation_;
        }
        /// false on timeout.
        bool sleep(std::uint64_t seen, const std::chrono::steady_clock::time_point* deadline) {
            std::unique_lock lock(mutex_);
            auto woken = [&] { return generation_ != seen; };
            if (!deadline) {
                cv_.wait(lock, woken);
                return true;
            }
            return cv_.wait_until(lock, *deadline, woken);
        }
        void leave_queues() noexcept { queues_.leave_all(); }
        /// Keeps `f` (and the queues its poll names) alive until release_files(), as poll(2)
        /// holds its files. false: out of memory.
        bool hold(open_file& f) noexcept {
            for (open_file* held : files_)
                if (held == &f)
                    return true;
            try {
                files_.push_back(&f);
            } catch (...) {
                return false;
            }
            f.get();
            return true;
        }
        void release_files() noexcept {
            for (open_file* f : files_)
                f->put();
            files_.clear();
        }
        /// A table that registers nothing (a poll with a zero timeout).
        poll_table& no_wait() noexcept { return none_; }

    private:
        struct nothing final : poll_table {
            void wait(wait_queue&) noexcept override {}
        };
        std::mutex mutex_;
        std::condition_variable cv_;
        std::uint64_t generation_ = 0;
        joined_queues queues_;
        std::vector<open_file*> files_;
        nothing none_;
    };

    node_access node_access_of(std::string_view name, const device_base& dev) const {
        std::lock_guard lock(policy_mutex_);
        return policy_.for_node(name, dev.info().name);
    }
    node_access attribute_access_of(std::string_view name, const device_base& dev, mode_t declared) const {
        std::lock_guard lock(policy_mutex_);
        return policy_.for_attribute(name, dev.info().name, declared);
    }

    int open_attribute_file(std::string_view name, int flags) {
        if (attribute_ancestor_entries(*sub_, name))
            return -EISDIR;
        auto loc = resolve_attribute_path(*sub_, name);
        if (!loc)
            return loc.error();
        auto entry = find_attribute(*loc->device, loc->tree, loc->rel);
        if (!entry)
            return entry.error();
        if (entry->directory)
            return -EISDIR;
        if (int e = may_open_attribute(attribute_access_of(name, *loc->device, entry->mode), current(), flags))
            return e;
        int fd = reserve_fd();
        if (fd < 0)
            return fd;
        auto f = open_attribute(*loc->device, loc->tree, loc->rel, flags, current());
        if (!f) {
            unreserve_fd(fd);
            return f.error();
        }
        find_slot(fd)->file.store(*f, std::memory_order_release);
        return fd;
    }

    static caller_identity& current() noexcept {
        static thread_local caller_identity who{::geteuid(), ::getpid(), ::geteuid() == 0, ::getegid()};
        return who;
    }

    /// strip_root, also accepting the root itself (name "").
    bool strip_root_or_root(std::string_view path, std::string_view& name) const noexcept {
        while (path.size() > 1 && path.back() == '/')
            path.remove_suffix(1);
        if (path == root_) {
            name = {};
            return true;
        }
        return strip_root(path, name);
    }

    bool strip_root(std::string_view path, std::string_view& name) const noexcept {
        if (root_ != "/") {
            if (!path.starts_with(root_) || path.size() <= root_.size() || path[root_.size()] != '/')
                return false;
            path.remove_prefix(root_.size());
        }
        while (!path.empty() && path.front() == '/')
            path.remove_prefix(1);
        name = path;
        return true;
    }

    slot* find_slot(int fd) const noexcept {
        if (fd < 0 || fd >= max_chunks * chunk_slots)
            return nullptr;
        chunk* c = chunks_[fd / chunk_slots].load(std::memory_order_acquire);
        return c ? &(*c)[fd % chunk_slots] : nullptr;
    }

    /// Takes the lowest free descriptor number (its slot stays empty until the open succeeds).
    int reserve_fd() {
        std::lock_guard lock(fd_mutex_);
        int fd = 0;
        for (std::size_t w = 0; w < used_.size(); ++w) {
            if (~used_[w] != 0) {
                fd = static_cast<int>(w * 64 + std::countr_one(used_[w]));
                break;
            }
            fd = static_cast<int>((w + 1) * 64);
        }
        if (fd >= max_chunks * chunk_slots)
            return -EMFILE;
        if (!chunks_[fd / chunk_slots].load(std::memory_order_relaxed)) {
            if (detail::alloc_may_fail())
                return -ENOMEM;
            auto* c = new (std::nothrow) chunk();
            if (!c)
                return -ENOMEM;
            owned_chunks_[fd / chunk_slots].reset(c);
            chunks_[fd / chunk_slots].store(c, std::memory_order_release);
        }
        std::size_t w = static_cast<std::size_t>(fd) / 64;
        if (w >= used_.size())
            used_.resize(w + 1, 0); // at most 256 words; reserved up front below
        used_[w] |= std::uint64_t{1} << (fd % 64);
        return fd;
    }

    void unreserve_fd(int fd) noexcept {
        std::lock_guard lock(fd_mutex_);
        used_[static_cast<std::size_t>(fd) / 64] &= ~(std::uint64_t{1} << (fd % 64));
    }

    subsystem* sub_;
    std::string root_;
    direct_user_access direct_memory_;
    user_access* memory_ = &direct_memory_;
    mutable std::mutex fd_mutex_;
    std::vector<std::uint64_t> used_ = std::vector<std::uint64_t>(max_chunks * chunk_slots / 64, 0);
    std::array<std::atomic<chunk*>, max_chunks> chunks_{};
    std::array<std::unique_ptr<chunk>, max_chunks> owned_chunks_{};
    mutable std::mutex map_mutex_;
    std::map<void*, mapping> mappings_;
    mutable std::mutex policy_mutex_;
    accel::access_policy policy_;
};

static_assert(client_backend<mock>);

} // namespace accel::backend
