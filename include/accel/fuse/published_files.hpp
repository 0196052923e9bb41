// SPDX-License-Identifier: MIT
#pragma once
/// \file Published files: descriptors a call made (fd_install), served as files of the mount.
///
/// No FUSE reply can create a descriptor in the caller (../shared/DESIGN.md, "FUSE facts"). A
/// call that installs one (core/descriptors.hpp) through ACCEL_IOCTL_FD_CALL (uapi/accel_fd.h)
/// therefore *publishes* the new file: the host gives it an inode and a name in the hidden
/// directory `.accel/fd/`, and a token - the right to open it once - to the calling process;
/// the client opens the name (backend/syscall.hpp):
///   - one inode per exported accel::open_file: a file exported twice (one dma-buf) is one
///     inode, so one st_ino and one page cache in every process that opens it (keep_cache);
///     numbers from `published_ino_base` up, never reused, beside the tree's (device_tree.hpp).
///     Its name is 128 random bits (unguessable), the same for every export of the file;
///   - tokens: committed only when the call succeeds, one open each, only by the calling
///     process, for host_options::token_lifetime. LOOKUP of the name answers the inode when the
///     caller's process holds a token of it (else -EACCES while another process holds one,
///     -ENOENT when none does); the kernel caches that answer (the name means that inode as
///     long as it exists), so the next export of the file costs an OPEN only. OPEN consumes a
///     token of the caller's process (none: -EACCES while another process holds one, else
///     -ENOENT: a second open, an expired token, a reopen of /proc/<pid>/fd/<n>). The owner is
///     the calling thread; another thread passes when /proc says it is of the same thread
///     group (read only then: the usual open comes from the thread that made the call);
///   - references: the entry holds the file while it has *holders* - unused tokens and FUSE
///     file handles. Each OPEN turns a token into a handle, each RELEASE drops one; the last
///     holder lets the file go (open_file::put: "release when the last descriptor in any
///     process closes", as the kernel's fput) - unless others hold the file too (a driver's
///     export cache, as a GEM object keeps its dma-buf): then the entry lingers with its inode
///     and name, so that the next export is the same inode, as the kernel's is the same
///     dma-buf, and the housekeeping thread lets it go once the entry's reference is the file's
///     last (open_file::refs(); up to one housekeeping interval after the others went). The
///     inode stays known for the kernel's lookups until FORGET (st_nlink 0 then);
///   - the names of files let go are handed to the housekeeping thread (take_stale_names),
///     which tells the kernel to drop their dentries (fuse_lowlevel_notify_inval_entry takes
///     the directory's lock, so never from a handler): the kernel then forgets the inode after
///     its last close instead of keeping it in the dentry cache.
/// Handles are opened with FOPEN_NOFLUSH: close(2) sends no FLUSH, so the server's own close of
/// a descriptor it took with pidfd_getfd (caller_descriptors.hpp) never waits for itself. The
/// file's flush operation is therefore never called through FUSE (dma-buf and sync files have
/// none).
///
/// Mapping a published file (a dma-buf): mmap(2) maps the inode's page cache; READ fills a page
/// from the file's mmap target (fops.mmap: a memfd and an offset, e.g. a buffer object's
/// backing) and WRITE with FUSE_WRITE_CACHE writes a dirty page back into it, as
/// page_faults.hpp does for compute nodes. The file's size (its llseek to SEEK_END, as
/// dma_buf_llseek reports it) is the inode's size. Coherency (coherency.hpp's contract for
/// buffer objects, per inode instead of per view): every answer to an ioctl on such a file
/// (DMA_BUF_IOCTL_SYNC) writes the cached pages back before the handler runs and drops them
/// after it; every poll answer drops them when the backing object was marked
/// gem_object::device_wrote() since the inode's last sync, and so does an OPEN (by answering
/// without keep_cache: the kernel drops them itself). Costs nothing until a page of
/// the inode was served (nothing can be cached before). The notification
/// (fuse_lowlevel_notify_inval_inode) runs on the worker answering the request, holding no
/// host lock; the writeback it waits for is served by other workers, as for compute nodes.
/// A file kind without mmap is served with direct I/O instead: read(2) and write(2) reach its
/// read and write operations. A kind without llseek is non-seekable (ESPIPE).
/// Deviation: read(2) of a mappable published file reads its bytes through the page cache (a
/// kernel dma-buf answers EINVAL): the two cannot be told apart without direct I/O.
#include <accel/base/errno.hpp>
#include <accel/core/descriptors.hpp>
#include <accel/core/device_base.hpp>
#include <accel/core/open_file.hpp>
#include <accel/fuse/caller_memory.hpp>
#include <accel/fuse/caller_process.hpp>
#include <accel/fuse/lowlevel.hpp>
#include <accel/fuse/open_files.hpp>
#include <accel/fuse/poll_notify.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace accel::fuse {

/// Inode numbers of published files start here (the tree's numbers stay far below).
inline constexpr fuse_ino_t published_ino_base = fuse_ino_t{1} << 48;
inline constexpr bool is_published_ino(fuse_ino_t ino) noexcept { return ino >= published_ino_base; }

/// One exported accel::open_file (see the file comment).
struct published_file {
    published_file(fuse_ino_t i, std::string n, open_file_ref f) noexcept : ino(i), name(std::move(n)), file(std::move(f)) {}
    const fuse_ino_t ino;
    const std::string name;      // its name in .accel/fd: 32 hex digits of randomness
    // Guarded by publications' lock:
    open_file_ref file;          // while it has holders, or others hold the file too (lingering)
    std::uint64_t holders = 0;   // tokens not yet used or expired + FUSE file handles
    std::uint64_t lookups = 0;   // the kernel's references to the inode
    struct token {
        std::uint64_t id;
        pid_t tid;               // the calling thread
        std::uint32_t tgid;      // its thread group, once /proc was asked (0: not yet)
        std::chrono::steady_clock::time_point deadline;
        bool committed;
    };
    std::vector<token> tokens;   // open rights: one open each, by the calling process
    // Set once when published:
    std::uint64_t size = 0;      // llseek(0, SEEK_END); 0 without llseek
    bool maps = false;           // the kind has mmap: page-cache I/O (else direct I/O)
    bool seekable = false;
    int access = O_RDONLY;       // the file's access mode
    // The page cache (see the file comment):
    std::mutex map_mutex;
    std::optional<mmap_target> target; // made at the first READ or WRITE; dropped with `file`
    std::atomic<bool> cached{false};   // a page was served: the kernel may hold pages
    std::atomic<std::uint64_t> writes_seen{0}; // the object's device_writes() at the last sync
};

class publications {
public:
    explicit publications(std::chrono::milliseconds token_lifetime) noexcept : lifetime_(token_lifetime) {}
    publications(const publications&) = delete;
    publications& operator=(const publications&) = delete;
    ~publications() { close_all(); }

    /// A reserved token: what commit() and give_back() name, and its entry (whose `name` is
    /// the file's name). commit() and give_back() find the token in the entry: no map.
    struct reservation {
        std::uint64_t id = 0;
        std::shared_ptr<published_file> entry;
    };

    /// A token for `file`, made by thread `tid`, not usable before commit(). The token holds
    /// the file. -ENOMEM, or getrandom's error.
    result<reservation> reserve(open_file_ref file, pid_t tid) noexcept {
        if (!file)
            return result<reservation>::failure(-EINVAL);
        try {
            std::unique_lock lock(m_);
            std::shared_ptr<published_file> p;
            if (auto it = by_file_.find(file.get()); it != by_file_.end()) {
                p = by_ino_.at(it->second); // held again (lingering_ forgets it lazily: expire())
            } else {
                lock.unlock();
                std::string name;
                if (int e = random_name(name))
                    return result<reservation>::failure(e);
                lock.lock();
                if (auto again = by_file_.find(file.get()); again != by_file_.end()) { // published meanwhile
                    p = by_ino_.at(again->second);
                } else {
                    // Everything that allocates happens before the entry is findable: a new
                    // entry that failed half-way would hold the file with no holder, and
                    // nothing would ever let it go.
                    p = std::make_shared<published_file>(next_ino_, std::move(name), file);
                    describe(*p);
                    p->tokens.reserve(1);
                    with_tokens_.insert(p);
                    try {
                        by_ino_.emplace(p->ino, p);
                        by_name_.emplace(p->name, p);
                        by_file_.emplace(file.get(), p->ino);
                    } catch (...) {
                        by_file_.erase(file.get());
                        by_name_.erase(p->name);
                        by_ino_.erase(p->ino);
                        with_tokens_.erase(p);
                        throw;
                    }
                    ++next_ino_;
                }
            }
            with_tokens_.insert(p); // before the token: a throw leaves nothing (present: no allocation)
            const std::uint64_t id = ++next_token_;
            p->tokens.push_back({id, tid, 0, {}, false}); // the vector keeps its capacity: no allocation
            ++p->holders;
            return reservation{id, std::move(p)};
        } catch (...) {
            return result<reservation>::failure(-ENOMEM);
        }
    }

    /// The call succeeded: the token may be used from now on, for the token lifetime.
    void commit(const reservation& r) noexcept {
        if (!r.entry)
            return;
        const auto deadline = std::chrono::steady_clock::now() + lifetime_; // outside the lock
        std::lock_guard lock(m_);
        for (auto& t : r.entry->tokens)
            if (t.id == r.id) {
                t.committed = true;
                t.deadline = deadline;
            }
    }

    /// The call failed: the token goes, and with it its hold on the file (put_unused_fd).
    void give_back(const reservation& r) noexcept {
        if (!r.entry)
            return;
        std::vector<open_file_ref> drop;
        {
            std::lock_guard lock(m_);
            published_file& p = *r.entry;
            if (std::erase_if(p.tokens, [&](const auto& t) { return t.id == r.id; }) == 0)
                return; // gone already (close_all)
            unhold(p, drop);
        }
        release_outside(drop);
    }

    struct entry_answer {
        fuse_ino_t ino;
        struct stat attr;
    };
    /// LOOKUP of `name` in .accel/fd by thread `tid`: the published file's inode, counting one
    /// kernel reference, when the caller's process holds a token of it. -ENOENT (unknown name,
    /// no live token), -EACCES (only other processes hold tokens).
    result<entry_answer> lookup(std::string_view name, pid_t tid) {
        std::vector<open_file_ref> drop; // released after the lock (declared before it)
        std::unique_lock lock(m_);
        auto it = by_name_.find(std::string(name));
        if (it == by_name_.end())
            return result<entry_answer>::failure(-ENOENT);
        std::shared_ptr<published_file> p = it->second;
        const int e = find_token(*p, tid, lock, drop);
        if (e < 0)
            return result<entry_answer>::failure(e);
        ++p->lookups;
        return entry_answer{p->ino, stat_of(*p)};
    }

    /// FORGET of a published inode.
    void forget(fuse_ino_t ino, std::uint64_t n) noexcept {
        std::lock_guard lock(m_);
        auto it = by_ino_.find(ino);
        if (it == by_ino_.end())
            return;
        published_file& p = *it->second;
        p.lookups -= n < p.lookups ? n : p.lookups;
        if (p.lookups == 0 && p.holders == 0 && !p.file) // a lingering entry stays
            erase(p);
    }

    /// GETATTR of a published inode: -ENOENT once forgotten.
    result<struct stat> attr(fuse_ino_t ino) {
        std::lock_guard lock(m_);
        auto it = by_ino_.find(ino);
        if (it == by_ino_.end())
            return result<struct stat>::failure(-ENOENT);
        return stat_of(*it->second);
    }

    /// OPEN of a published inode by thread `tid` with open(2)'s `flags`: consumes a token of
    /// the inode held by the caller's process and turns it into a file handle. -ENOENT (the
    /// file is gone, or nobody holds a token: a second open, an expired token, a reopen through
    /// /proc), -EACCES (only other processes hold tokens; write access to a read-only file),
    /// -ENOMEM.
    result<open_file*> open(fuse_ino_t ino, pid_t tid, int flags) {
        std::vector<open_file_ref> drop; // released after the lock (declared before it)
        std::unique_lock lock(m_);
        auto it = by_ino_.find(ino);
        if (it == by_ino_.end() || !it->second->file)
            return result<open_file*>::failure(-ENOENT);
        std::shared_ptr<published_file> p = it->second;
        if ((flags & O_ACCMODE) != O_RDONLY && p->access == O_RDONLY)
            return result<open_file*>::failure(-EACCES);
        const int i = find_token(*p, tid, lock, drop);
        if (i < 0)
            return result<open_file*>::failure(i);
        auto* rec = new (std::nothrow) open_file(*p->file, p);
        if (!rec)
            return result<open_file*>::failure(-ENOMEM);
        rec->fresh_cache = stale_cache(*p);
        try {
            handles_.insert(rec);
        } catch (...) {
            delete rec;
            return result<open_file*>::failure(-ENOMEM);
        }
        p->tokens.erase(p->tokens.begin() + i); // its hold on the file passes to the handle
        return rec;
    }

    /// RELEASE of a published file's handle (or an OPEN whose reply failed): drops its hold;
    /// the last holder releases the file, as thread `tid` (any thread will do).
    void release(open_file* rec, pid_t tid) noexcept {
        if (rec->poll)
            rec->poll->close(); // before the file's queues can go
        std::vector<open_file_ref> drop;
        {
            std::lock_guard lock(m_);
            handles_.erase(rec);
            unhold(*rec->pub, drop);
        }
        {
            caller_call_scope as_caller(tid, caller_identity{});
            drop.clear();
        }
        delete rec;
    }

    /// The file a published inode stands for, with a reference (fget of one of its
    /// descriptors: it has holders then), or null.
    open_file_ref file_of(fuse_ino_t ino) noexcept {
        std::lock_guard lock(m_);
        auto it = by_ino_.find(ino);
        return it == by_ino_.end() ? open_file_ref() : it->second->file;
    }

    /// Periodic (the housekeeping thread only): drops the tokens whose time ran out (and their
    /// hold on the file), lets lingering entries go once their reference is the file's last,
    /// and forgets the entries of both sets that no longer belong there (the hot path only
    /// adds to them, which costs no allocation while an entry stays: see reserve and unhold).
    void expire() noexcept {
        std::vector<open_file_ref> drop;
        {
            std::lock_guard lock(m_);
            const auto now = std::chrono::steady_clock::now();
            for (auto it = with_tokens_.begin(); it != with_tokens_.end();) {
                std::shared_ptr<published_file> p = *it; // erase() below may drop the set's reference
                drop_expired(*p, now, drop);
                it = p->tokens.empty() ? with_tokens_.erase(it) : std::next(it);
            }
            for (auto it = lingering_.begin(); it != lingering_.end();) {
                std::shared_ptr<published_file> p = *it;
                if (!p->file || p->holders != 0) { // let go meanwhile, or held again
                    it = lingering_.erase(it);
                } else if (p->file->refs() == 1) { // ours is the last reference
                    it = lingering_.erase(it);
                    let_go(*p, drop);
                } else {
                    ++it;
                }
            }
        }
        release_outside(drop);
    }

    /// Names the kernel may still have a dentry for (files whose last holder went), for the
    /// housekeeping thread's fuse_lowlevel_notify_inval_entry.
    std::vector<std::string> take_stale_names() {
        std::lock_guard lock(m_);
        return std::exchange(stale_, {});
    }

    /// After the connection ended (unmount): every handle and token goes.
    void close_all() noexcept {
        std::unordered_set<open_file*> left;
        std::vector<open_file_ref> drop;
        {
            std::lock_guard lock(m_);
            left.swap(handles_);
            for (const auto& p : with_tokens_) {
                const std::size_t n = p->tokens.size();
                p->tokens.clear();
                for (std::size_t k = 0; k < n; ++k)
                    unhold(*p, drop);
            }
            with_tokens_.clear();
            for (const auto& p : lingering_)
                if (p->holders == 0 && p->file)
                    let_go(*p, drop);
            lingering_.clear();
        }
        release_outside(drop);
        for (open_file* rec : left) {
            if (rec->poll)
                rec->poll->close();
            {
                std::lock_guard lock(m_);
                unhold(*rec->pub, drop);
            }
            release_outside(drop);
            delete rec;
        }
    }

private:
    static bool expired(const published_file::token& t, std::chrono::steady_clock::time_point now) noexcept {
        return now >= t.deadline;
    }

    /// The index of a committed, live token of `p` held by thread `tid`'s process (m_ held by
    /// `lock`; released while /proc is read), or -ENOENT / -EACCES (see lookup and open).
    /// Expired tokens found on the way go (their files into `drop`).
    int find_token(published_file& p, pid_t tid, std::unique_lock<std::mutex>& lock, std::vector<open_file_ref>& drop) {
        drop_expired(p, std::chrono::steady_clock::now(), drop);
        for (std::size_t i = 0; i < p.tokens.size(); ++i) // the calling thread's own: the usual case
            if (p.tokens[i].committed && p.tokens[i].tid == tid)
                return static_cast<int>(i);
        bool others = false;
        for (const auto& t : p.tokens)
            others = others || t.committed;
        if (!others)
            return -ENOENT;
        // Another thread of the owner's process? Ask /proc outside the lock, then look again.
        std::vector<pid_t> owners;
        for (const auto& t : p.tokens)
            if (t.committed && !t.tgid)
                owners.push_back(t.tid);
        lock.unlock();
        const std::uint32_t mine = thread_group_of(tid);
        std::vector<std::uint32_t> groups;
        for (pid_t o : owners)
            groups.push_back(thread_group_of(o));
        lock.lock();
        for (std::size_t k = 0; k < owners.size(); ++k)
            for (auto& t : p.tokens)
                if (t.tid == owners[k] && !t.tgid)
                    t.tgid = groups[k];
        drop_expired(p, std::chrono::steady_clock::now(), drop);
        others = false;
        for (std::size_t i = 0; i < p.tokens.size(); ++i) {
            if (!p.tokens[i].committed)
                continue;
            if (mine && p.tokens[i].tgid == mine)
                return static_cast<int>(i);
            others = true;
        }
        return others ? -EACCES : -ENOENT;
    }

    /// Drops `p`'s committed tokens past their deadline (m_ held).
    void drop_expired(published_file& p, std::chrono::steady_clock::time_point now, std::vector<open_file_ref>& drop) noexcept {
        std::size_t gone = 0;
        std::erase_if(p.tokens, [&](const published_file::token& t) {
            if (!t.committed || !expired(t, now))
                return false;
            ++gone;
            return true;
        });
        while (gone--)
            unhold(p, drop);
    }

    /// Fills the constant facts of a new entry from its file.
    static void describe(published_file& p) noexcept {
        accel::open_file& f = *p.file;
        p.maps = f.fops().mmap != nullptr;
        p.seekable = f.fops().llseek != nullptr;
        p.access = f.flags() & O_ACCMODE;
        if (p.seekable) {
            const std::uint64_t saved = f.pos();
            const long long end = f.llseek(0, SEEK_END);
            f.pos() = saved;
            p.size = end > 0 ? static_cast<std::uint64_t>(end) : 0;
        }
    }

    struct stat stat_of(const published_file& p) const noexcept {
        struct stat st {};
        st.st_ino = p.ino;
        st.st_mode = S_IFREG | (p.access == O_RDONLY ? 0444 : 0666);
        st.st_nlink = p.holders ? 1 : 0;
        st.st_uid = ::geteuid();
        st.st_gid = ::getegid();
        st.st_size = static_cast<off_t>(p.size);
        st.st_blksize = 4096;
        st.st_atime = st.st_mtime = st.st_ctime = started_;
        return st;
    }

    /// Whether the device wrote `p`'s object since the inode's last sync: an OPEN then drops
    /// the kernel's cached pages (no keep_cache) rather than showing them (m_ held).
    static bool stale_cache(published_file& p) noexcept {
        if (!p.cached.load(std::memory_order_acquire))
            return false;
        std::lock_guard map_lock(p.map_mutex);
        if (!p.target || !p.target->object)
            return false;
        const std::uint64_t w = p.target->object->device_writes();
        if (w == p.writes_seen.load(std::memory_order_acquire))
            return false;
        p.writes_seen.store(w, std::memory_order_release); // the open's invalidation syncs
        return true;
    }

    /// One holder of `p` goes (m_ held). With the last, the entry lets the file go - unless
    /// others hold it too (a driver's export cache: the kernel's GEM object keeps its dma-buf),
    /// when it lingers, keeping its inode and name, so that the next export of the file is the
    /// same inode (one dma-buf, one st_ino) and an OPEN of the cached name; the housekeeping
    /// thread lets it go once its reference is the last (expire()).
    void unhold(published_file& p, std::vector<open_file_ref>& drop) noexcept {
        if (p.holders == 0 || --p.holders != 0)
            return;
        if (p.file && p.file->refs() > 1) {
            try {
                lingering_.insert(by_ino_.at(p.ino));
                return;
            } catch (...) {
                // Cannot remember it: let it go now (a later export gets a new inode).
            }
        }
        let_go(p, drop);
    }

    /// The file's reference moves to `drop`, and the name to the housekeeping thread (the
    /// kernel's cached dentry pins the inode) (m_ held).
    void let_go(published_file& p, std::vector<open_file_ref>& drop) noexcept {
        by_file_.erase(p.file.get());
        try {
            drop.push_back(std::move(p.file));
        } catch (...) {
            p.file.reset(); // released under the lock: a release must not need it (none does)
        }
        {
            std::lock_guard map_lock(p.map_mutex);
            p.target.reset();
        }
        try {
            stale_.push_back(p.name);
        } catch (...) {
            // The dentry stays until the kernel drops it: only memory.
        }
        if (p.lookups == 0)
            erase(p);
    }

    /// `p` leaves the maps (no holder, no kernel reference).
    void erase(published_file& p) noexcept {
        by_name_.erase(p.name);
        by_ino_.erase(p.ino); // last: it may hold the last reference to `p`
    }

    static void release_outside(std::vector<open_file_ref>& drop) noexcept {
        caller_call_scope as_host(0, caller_identity{});
        drop.clear();
    }

    /// 32 hex digits of fresh randomness, from a pool refilled by getrandom 16 names at a time.
    int random_name(std::string& out) {
        unsigned char bytes[16];
        {
            std::lock_guard lock(pool_m_);
            if (pool_used_ + sizeof bytes > sizeof pool_) {
                std::size_t got = 0;
                while (got < sizeof pool_) {
                    const ssize_t n = ::getrandom(pool_ + got, sizeof pool_ - got, 0);
                    if (n < 0) {
                        if (errno == EINTR)
                            continue;
                        return -errno;
                    }
                    got += static_cast<std::size_t>(n);
                }
                pool_used_ = 0;
            }
            std::memcpy(bytes, pool_ + pool_used_, sizeof bytes);
            std::memset(pool_ + pool_used_, 0, sizeof bytes); // each name's bits serve once
            pool_used_ += sizeof bytes;
        }
        static constexpr char hex[] = "0123456789abcdef";
        out.resize(2 * sizeof bytes);
        for (std::size_t i = 0; i < sizeof bytes; ++i) {
            out[2 * i] = hex[bytes[i] >> 4];
            out[2 * i + 1] = hex[bytes[i] & 15];
        }
        return 0;
    }

    std::chrono::milliseconds lifetime_;
    std::mutex m_;
    std::unordered_map<fuse_ino_t, std::shared_ptr<published_file>> by_ino_;
    std::unordered_map<std::string, std::shared_ptr<published_file>> by_name_;
    std::unordered_map<const accel::open_file*, fuse_ino_t> by_file_; // files with holders
    std::unordered_set<std::shared_ptr<published_file>> with_tokens_; // entries that had tokens since the last expire()
    std::unordered_set<open_file*> handles_;
    std::unordered_set<std::shared_ptr<published_file>> lingering_; // lingered since the last expire() (no holders, others hold the file)
    std::vector<std::string> stale_;
    fuse_ino_t next_ino_ = published_ino_base;
    std::uint64_t next_token_ = 0;
    std::time_t started_ = std::time(nullptr);
    std::mutex pool_m_;
    unsigned char pool_[256] = {};
    std::size_t pool_used_ = sizeof pool_;
};

// ---- the page cache of a mappable published file (see the file comment) ----

/// The entry's mmap target, made on first use. -errno of the file's mmap, or -EIO once the
/// file is gone.
inline result<mmap_target> published_target(published_file& p, const open_file_ref& file) {
    std::lock_guard lock(p.map_mutex);
    if (!p.target) {
        if (!file || p.size == 0)
            return result<mmap_target>::failure(-EIO);
        auto t = map_file(*file, 0, p.size, PROT_READ, MAP_SHARED);
        if (!t)
            return result<mmap_target>::failure(t.error());
        p.target = std::move(*t);
        if (p.target->object)
            p.writes_seen.store(p.target->object->device_writes(), std::memory_order_release);
    }
    return *p.target;
}

/// READ from the page cache of a published file: `size` bytes at `off` (zeros past the end).
inline void serve_published_read(fuse_req_t req, open_file& rec, std::uint64_t off, std::size_t size) {
    auto t = published_target(*rec.pub, open_file_ref(rec.served));
    if (!t) {
        fuse_reply_err(req, t.error() == -ENODEV ? EIO : -t.error());
        return;
    }
    std::vector<char> buf(size, 0);
    const std::uint64_t end = rec.pub->size;
    const std::size_t n = off >= end ? 0 : static_cast<std::size_t>(std::min<std::uint64_t>(size, end - off));
    rec.pub->cached.store(true, std::memory_order_release); // before the kernel can hold the page
    if (n && ::pread(t->fd, buf.data(), n, static_cast<off_t>(t->fd_offset + off)) != static_cast<ssize_t>(n)) {
        fuse_reply_err(req, EIO);
        return;
    }
    fuse_reply_buf(req, buf.data(), size);
}

/// WRITE of a dirty page of a published file back into its target.
inline void serve_published_writeback(fuse_req_t req, open_file& rec, std::uint64_t off, const char* data, std::size_t size) {
    auto t = published_target(*rec.pub, open_file_ref(rec.served));
    if (!t) {
        fuse_reply_err(req, EIO);
        return;
    }
    const std::uint64_t end = rec.pub->size;
    const std::size_t n = off >= end ? 0 : static_cast<std::size_t>(std::min<std::uint64_t>(size, end - off));
    if (n && ::pwrite(t->fd, data, n, static_cast<off_t>(t->fd_offset + off)) != static_cast<ssize_t>(n)) {
        fuse_reply_err(req, EIO);
        return;
    }
    fuse_reply_write(req, size);
}

/// The sync point of an answer on a published file (see the file comment): drops the inode's
/// cached pages (writing dirty ones back first) when `always`, or when the backing object was
/// marked device_wrote() since the last sync. Nothing while no page was ever served.
inline void sync_published(fuse_session* se, published_file& p, bool always) noexcept {
    if (!se || !p.cached.load(std::memory_order_acquire))
        return;
    std::uint64_t writes = 0;
    bool moved = false;
    {
        std::lock_guard lock(p.map_mutex);
        if (p.target && p.target->object) {
            writes = p.target->object->device_writes();
            moved = writes != p.writes_seen.load(std::memory_order_acquire);
        }
    }
    if (!always && !moved)
        return;
    fuse_lowlevel_notify_inval_inode(se, p.ino, 0, 0);
    if (moved) { // only once the pages are gone: a concurrent answer does the work too
        std::uint64_t seen = p.writes_seen.load(std::memory_order_acquire);
        while (seen < writes && !p.writes_seen.compare_exchange_weak(seen, writes, std::memory_order_acq_rel)) {
        }
    }
}

} // namespace accel::fuse
