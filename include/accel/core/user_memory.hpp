// SPDX-License-Identifier: MIT
#pragma once
/// \file Reaching the caller's memory: copy_from_user / copy_to_user and the current caller.
///
/// As in the kernel, a handler never dereferences a user pointer: pointers travel as __u64 in
/// uAPI structs and are read and written only through copy_from_user()/copy_to_user(), which go
/// to the memory of whoever made the current call. The backend that delivered the call says how
/// (a direct copy in the in-process mock, process_vm_readv/writev for a FUSE-served client) by
/// installing a `call_context` for the duration of the call.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <sys/types.h>
#include <type_traits>

namespace accel {

/// Who is calling: the identity the permission checks use. `privileged` stands for
/// capable(CAP_SYS_ADMIN); backends that only see a uid grant it to uid 0.
struct caller_identity {
    uid_t uid = 0;
    pid_t pid = 0;
    bool privileged = false;
    /// The caller's effective group (FUSE's request gid; the mock's getegid()). Supplementary
    /// groups are not carried: the kernel checks them on a FUSE mount (default_permissions),
    /// the mock checks the owner and this group only.
    gid_t gid = 0;
};

/// How the current call reaches its caller's memory. Both operations return 0 or -EFAULT and
/// either copy everything or report the fault.
class user_access {
public:
    virtual int read(void* dst, std::uint64_t src, std::size_t n) noexcept = 0;
    virtual int write(std::uint64_t dst, const void* src, std::size_t n) noexcept = 0;

protected:
    ~user_access() = default;
};

/// Null pointers and ranges that wrap around the address space are faults for every backend.
constexpr bool user_range_invalid(std::uint64_t addr, std::size_t n) noexcept {
    return n != 0 && (addr == 0 || addr + n < addr);
}

/// The caller is in this very process (mock backend): copies are plain memcpy. A non-null
/// pointer is trusted; a wild one crashes the process like any in-process bug would.
class direct_user_access final : public user_access {
public:
    int read(void* dst, std::uint64_t src, std::size_t n) noexcept override {
        if (user_range_invalid(src, n))
            return -EFAULT;
        if (n)
            std::memcpy(dst, reinterpret_cast<const void*>(static_cast<std::uintptr_t>(src)), n);
        return 0;
    }
    int write(std::uint64_t dst, const void* src, std::size_t n) noexcept override {
        if (user_range_invalid(dst, n))
            return -EFAULT;
        if (n)
            std::memcpy(reinterpret_cast<void*>(static_cast<std::uintptr_t>(dst)), src, n);
        return 0;
    }
};

class gem_object;

/// Told of each buffer object a handler reaches through a handle lookup during the call. The
/// FUSE host uses it to make such an object coherent with the caller's mapping (its cached
/// pages written back before the handler reads the object, dropped after the call): only the
/// objects a call touches pay for coherency, never everything the caller has mapped.
class object_observer {
public:
    virtual void reached(gem_object& obj) noexcept = 0;

protected:
    ~object_observer() = default;
};

class call;
struct park_request;
class descriptor_table;

/// What a backend installs for the duration of one call (ioctl, open, close).
struct call_context {
    user_access* memory = nullptr;
    caller_identity caller{};
    object_observer* objects = nullptr; ///< null: nobody needs to know
    /// The backend's request when it can be answered later (core/call.hpp); null: the call
    /// must complete before it returns, and accel::park refuses with -EAGAIN.
    accel::call* async = nullptr;
    /// Set by the dispatcher while a handler runs that may park (core/parked_call.hpp).
    park_request* park = nullptr;
    /// The caller's descriptor table (core/descriptors.hpp: fd_install, fget); null: the
    /// caller cannot receive or name descriptors.
    descriptor_table* files = nullptr;
};

namespace detail {
inline thread_local call_context* current_call = nullptr;
} // namespace detail

/// Installs `ctx` as the current call on this thread for the guard's lifetime (nests).
class call_scope {
public:
    explicit call_scope(call_context& ctx) noexcept : saved_(detail::current_call) { detail::current_call = &ctx; }
    ~call_scope() { detail::current_call = saved_; }
    call_scope(const call_scope&) = delete;
    call_scope& operator=(const call_scope&) = delete;

private:
    call_context* saved_;
};

/// The identity of the current caller (a default, unprivileged identity outside any call).
inline caller_identity current_caller() noexcept {
    return detail::current_call ? detail::current_call->caller : caller_identity{};
}

/// Tells the current call's observer that the handler reached `obj` (see object_observer).
inline void note_object_reached(gem_object& obj) noexcept {
    if (detail::current_call && detail::current_call->objects)
        detail::current_call->objects->reached(obj);
}

/// Copies `n` bytes from the caller's address `src`. 0 or -EFAULT.
inline int copy_from_user(void* dst, std::uint64_t src, std::size_t n) noexcept {
    if (!detail::current_call || !detail::current_call->memory)
        return -EFAULT;
    return detail::current_call->memory->read(dst, src, n);
}

/// Copies `n` bytes to the caller's address `dst`. 0 or -EFAULT.
inline int copy_to_user(std::uint64_t dst, const void* src, std::size_t n) noexcept {
    if (!detail::current_call || !detail::current_call->memory)
        return -EFAULT;
    return detail::current_call->memory->write(dst, src, n);
}

/// Typed copies: the address must also be aligned for T (-EFAULT otherwise), so a handler that
/// reads an array of structs never sees a misaligned one, whichever backend delivered the call.
template <class T>
    requires std::is_trivially_copyable_v<T>
int copy_from_user(T& dst, std::uint64_t src) noexcept {
    if (src % alignof(T) != 0)
        return -EFAULT;
    return copy_from_user(&dst, src, sizeof(T));
}

template <class T>
    requires std::is_trivially_copyable_v<T>
int copy_to_user(std::uint64_t dst, const T& src) noexcept {
    if (dst % alignof(T) != 0)
        return -EFAULT;
    return copy_to_user(dst, &src, sizeof(T));
}

} // namespace accel
