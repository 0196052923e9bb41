// SPDX-License-Identifier: MIT
// The conformance suite: every client-visible behaviour of the core, written once against the
// client_backend interface and instantiated for each backend (mock here; the real syscall
// backend instantiates the same cases), so a client sees identical results and errnos.
//
// A fixture F provides:
//   B& client();                               the backend (client_backend)
//   std::string compute(unsigned i), monitor(unsigned i)   node paths of test device i
//       (device 0: test_driver, device 1: exclusive_test_driver)
//   bool privileged();                         whether the default caller is privileged
//   void as_unprivileged(fn);                  runs fn as an unprivileged caller
//   static constexpr bool maps_objects;        whether the backend serves mmap of buffer objects
//   static constexpr bool passes_descriptors;  (optional, default false) whether calls that hand
//       out a descriptor (PRIME_HANDLE_TO_FD) or take one (PRIME_FD_TO_HANDLE) reach the caller's
//       descriptor table (mock: yes; FUSE: once the host's token mechanism and fget exist)
#pragma once
#include "test_drivers.hpp"

#include <accel/uapi/accel_info.h>
#include <accel/uapi/accel_reset.h>

#include <sys/mman.h>

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <set>
#include <string>
#include <vector>

namespace accel::test {

inline std::uint64_t uptr(const void* p) { return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(p)); }

/// A request number like `cmd` but with another size or direction.
constexpr unsigned long with_size(unsigned long cmd, unsigned size) {
    return _IOC(_IOC_DIR(cmd), _IOC_TYPE(cmd), _IOC_NR(cmd), size);
}
constexpr unsigned long with_dir(unsigned long cmd, unsigned dir) {
    return _IOC(dir, _IOC_TYPE(cmd), _IOC_NR(cmd), _IOC_SIZE(cmd));
}

/// Issues INFO for the given items; returns the ioctl's result.
template <class B>
int info(B& c, int fd, std::vector<accel_info_item>& items, std::uint32_t flags = 0) {
    accel_info a{};
    a.num_items = static_cast<std::uint32_t>(items.size());
    a.flags = flags;
    a.items = uptr(items.data());
    return c.ioctl(fd, ACCEL_IOCTL_INFO, &a);
}

/// Reads one INFO item through the two-call size negotiation.
template <class B>
std::vector<unsigned char> info_item(B& c, int fd, std::uint32_t id) {
    std::vector<accel_info_item> items(1);
    items[0].id = id;
    REQUIRE(info(c, fd, items) == 0);
    REQUIRE(items[0].length > 0);
    std::vector<unsigned char> buf(static_cast<std::size_t>(items[0].length));
    items[0].data = uptr(buf.data());
    REQUIRE(info(c, fd, items) == 0);
    REQUIRE(items[0].length == static_cast<std::int32_t>(buf.size()));
    return buf;
}

template <class T>
T item_as(const std::vector<unsigned char>& b, std::size_t offset = 0) {
    T v;
    REQUIRE(b.size() >= offset + sizeof v);
    std::memcpy(&v, b.data() + offset, sizeof v);
    return v;
}

template <class F>
constexpr bool passes_descriptors() {
    if constexpr (requires { { F::passes_descriptors } -> std::convertible_to<bool>; })
        return F::passes_descriptors;
    else
        return false;
}

TEST_CASE_TEMPLATE_DEFINE("conformance", F, conformance) {
    F fx;
    auto& c = fx.client();

    SUBCASE("open and close: descriptors, smallest free number first") {
        int a = c.open(fx.compute(0), O_RDWR);
        int b = c.open(fx.compute(0), O_RDWR);
        REQUIRE(a >= 0);
        REQUIRE(b > a);
        CHECK(c.close(a) == 0);
        int a2 = c.open(fx.monitor(0), O_RDWR);
        CHECK(a2 == a);
        CHECK(c.close(a) == 0);
        CHECK(c.close(a) == -EBADF);
        test_echo e{};
        CHECK(c.ioctl(a, TEST_IOCTL_ECHO, &e) == -EBADF);
        CHECK(c.ioctl(-1, TEST_IOCTL_ECHO, &e) == -EBADF);
        CHECK(c.close(b) == 0);
    }

    SUBCASE("open errors") {
        CHECK(c.open(std::string(c.root()) + "/accel/not_a_node", O_RDWR) == -ENOENT);
        CHECK(c.open(fx.compute(0), O_RDWR | O_EXCL) == -EBUSY);
    }

    SUBCASE("ioctl numbers: ENOTTY only for a foreign type byte, EINVAL for unknown numbers") {
        int fd = c.open(fx.compute(0), O_RDWR);
        REQUIRE(fd >= 0);
        test_echo e{};
        CHECK(c.ioctl(fd, _IOWR('x', 0x40, struct test_echo), &e) == -ENOTTY);
        CHECK(c.ioctl(fd, ACCEL_IOWR(0x5f, struct test_echo), &e) == -EINVAL); // past the last row
        CHECK(c.ioctl(fd, TEST_IOCTL_HOLE, &e) == -EINVAL);                    // empty slot
        CHECK(c.ioctl(fd, ACCEL_IOWR(0x3f, struct test_echo), &e) == -EINVAL); // empty core slot
        CHECK(c.ioctl(fd, ACCEL_IOWR(0xEF, struct test_echo), &e) == -EINVAL); // past the core table
        CHECK(c.ioctl(fd, _IOWR(ACCEL_INFO_IOCTL_BASE, 0x7f, struct test_echo), &e) == -EINVAL);
        CHECK(e.report == 0); // no handler ran
        CHECK(c.ioctl(fd, ACCEL_IOCTL_GEM_CLOSE, &e) == -EINVAL); // handle 0 is never valid
        accel_get_cap cap{};
        CHECK(c.ioctl(fd, _IOW(ACCEL_IOCTL_BASE, 0x0d, struct accel_get_cap), &cap) == -EOPNOTSUPP); // SET_CLIENT_CAP
        CHECK(c.close(fd) == 0);
    }

    SUBCASE("size reconciliation") {
        int fd = c.open(fx.compute(0), O_RDWR);
        REQUIRE(fd >= 0);
        struct {
            test_echo e;
            std::uint64_t extra[4];
        } buf{};
        for (int i = 0; i < 7; ++i)
            buf.e.words[i] = 100 + static_cast<std::uint64_t>(i);
        for (int i = 0; i < 4; ++i)
            buf.extra[i] = 900 + static_cast<std::uint64_t>(i);

        SUBCASE("equal size: everything in and out") {
            REQUIRE(c.ioctl(fd, TEST_IOCTL_ECHO, &buf.e) == 0);
            CHECK(buf.e.report == (TEST_ECHO_RAN | 0x7f));
            CHECK(buf.e.words[6] == 107);
        }
        SUBCASE("smaller user struct: zero-extended in, truncated out") {
            REQUIRE(c.ioctl(fd, with_size(TEST_IOCTL_ECHO, 32), &buf.e) == 0);
            CHECK(buf.e.report == (TEST_ECHO_RAN | 0x7)); // words[3..6] arrived as zero
            CHECK(buf.e.words[2] == 103);
            CHECK(buf.e.words[3] == 103); // not copied back
        }
        SUBCASE("larger user struct: extra bytes ignored, copied back unchanged") {
            REQUIRE(c.ioctl(fd, with_size(TEST_IOCTL_ECHO, sizeof buf), &buf) == 0);
            CHECK(buf.e.report == (TEST_ECHO_RAN | 0x7f));
            CHECK(buf.e.words[6] == 107);
            CHECK(buf.extra[3] == 903);
        }
        SUBCASE("user command without IOC_IN: the handler sees zeros") {
            REQUIRE(c.ioctl(fd, with_dir(TEST_IOCTL_ECHO, _IOC_READ), &buf.e) == 0);
            CHECK(buf.e.report == TEST_ECHO_RAN);
            CHECK(buf.e.words[0] == 1);
        }
        SUBCASE("user command without IOC_OUT: nothing comes back") {
            REQUIRE(c.ioctl(fd, with_dir(TEST_IOCTL_ECHO, _IOC_WRITE), &buf.e) == 0);
            CHECK(buf.e.report == 0);
            CHECK(buf.e.words[0] == 100);
        }
        SUBCASE("table row IOW only: nothing comes back even for an IOWR caller") {
            REQUIRE(c.ioctl(fd, with_dir(TEST_IOCTL_ECHO_IN, _IOC_READ | _IOC_WRITE), &buf.e) == 0);
            CHECK(buf.e.report == 0);
            CHECK(buf.e.words[0] == 100);
        }
        SUBCASE("table row IOR only: nothing goes in even for an IOWR caller") {
            REQUIRE(c.ioctl(fd, with_dir(TEST_IOCTL_ECHO_OUT, _IOC_READ | _IOC_WRITE), &buf.e) == 0);
            CHECK(buf.e.report == TEST_ECHO_RAN);
            CHECK(buf.e.words[0] == 1);
        }
        SUBCASE("argument larger than the stack buffer") {
            test_big big{};
            big.words[38] = 5;
            REQUIRE(c.ioctl(fd, TEST_IOCTL_BIG, &big) == 0);
            CHECK(big.report == (TEST_ECHO_RAN | (1ull << 38)));
            CHECK(big.words[38] == 6);
            CHECK(big.words[0] == 1);
        }
        SUBCASE("ioctl without an argument") {
            CHECK(c.ioctl(fd, TEST_IOCTL_NOARG, nullptr) == 0);
            CHECK(c.ioctl(fd, TEST_IOCTL_NOARG, nullptr) == 0);
            test_count n{};
            REQUIRE(c.ioctl(fd, TEST_IOCTL_COUNT, &n) == 0);
            CHECK(n.noarg_calls == 2);
        }
        CHECK(c.close(fd) == 0);
    }

    SUBCASE("output is copied back even when the handler fails") {
        int fd = c.open(fx.compute(0), O_RDWR);
        REQUIRE(fd >= 0);
        test_fail f{};
        CHECK(c.ioctl(fd, TEST_IOCTL_FAIL, &f) == -EIO);
        CHECK(f.words[0] == TEST_FAIL_MARKER);
        CHECK(f.words[1] == TEST_FAIL_MARKER);
        CHECK(c.close(fd) == 0);
    }

    SUBCASE("bad user pointers give EFAULT") {
        int fd = c.open(fx.compute(0), O_RDWR);
        REQUIRE(fd >= 0);
        CHECK(c.ioctl(fd, TEST_IOCTL_ECHO, nullptr) == -EFAULT);
        alignas(8) std::uint64_t values[5] = {1, 2, 3, 4, 5};
        test_sum s{};
        s.values = uptr(values);
        s.count = 4;
        REQUIRE(c.ioctl(fd, TEST_IOCTL_SUM, &s) == 0);
        CHECK(s.sum == 10);
        s.values = 0;
        CHECK(c.ioctl(fd, TEST_IOCTL_SUM, &s) == -EFAULT);
        // accel's rule, not copy_from_user's (which copies from any address): a typed copy
        // needs an address aligned for its type (core/user_memory.hpp), on every backend.
        s.values = uptr(values) + 1; // misaligned for __u64
        CHECK(c.ioctl(fd, TEST_IOCTL_SUM, &s) == -EFAULT);
        s.values = ~std::uint64_t{0} - 7; // wraps past the end of the address space
        CHECK(c.ioctl(fd, TEST_IOCTL_SUM, &s) == -EFAULT);
        s.values = uptr(values);
        s.count = 0; // nothing to read: no fault even with a pointer
        CHECK(c.ioctl(fd, TEST_IOCTL_SUM, &s) == 0);
        CHECK(s.sum == 0);
        CHECK(c.close(fd) == 0);
    }

    SUBCASE("permissions") {
        int fd = c.open(fx.compute(0), O_RDWR);
        REQUIRE(fd >= 0);
        test_echo e{};
        CHECK(c.ioctl(fd, TEST_IOCTL_MASTER, &e) == -EACCES);
        CHECK(e.report == 0);
        if (fx.privileged()) {
            CHECK(c.ioctl(fd, TEST_IOCTL_ROOT, &e) == 0);
            CHECK(c.ioctl(fd, TEST_IOCTL_AUTH, &e) == 0);
        }
        fx.as_unprivileged([&] {
            int ufd = c.open(fx.compute(0), O_RDWR);
            REQUIRE(ufd >= 0);
            test_echo u{};
            CHECK(c.ioctl(ufd, TEST_IOCTL_ROOT, &u) == -EACCES);
            CHECK(c.ioctl(ufd, TEST_IOCTL_AUTH, &u) == -EACCES);
            CHECK(c.ioctl(ufd, TEST_IOCTL_MASTER, &u) == -EACCES);
            CHECK(u.report == 0);
            CHECK(c.ioctl(ufd, TEST_IOCTL_ECHO, &u) == 0);
            CHECK(c.close(ufd) == 0);
        });
        CHECK(c.close(fd) == 0);
    }

    SUBCASE("monitor node: many opens, only monitor-flagged ioctls") {
        std::vector<int> fds;
        for (int i = 0; i < 5; ++i) {
            fds.push_back(c.open(fx.monitor(1), O_RDWR));
            REQUIRE(fds.back() >= 0);
        }
        test_echo e{};
        CHECK(c.ioctl(fds[0], TEST_IOCTL_ECHO, &e) == -EACCES);
        CHECK(e.report == 0);
        CHECK(c.ioctl(fds[0], TEST_IOCTL_MONITOR, &e) == 0);
        CHECK(e.report == TEST_ECHO_RAN);
        accel_get_cap cap{ACCEL_CAP_PRIME, 0};
        CHECK(c.ioctl(fds[1], ACCEL_IOCTL_GET_CAP, &cap) == 0);
        accel_version v{};
        CHECK(c.ioctl(fds[2], ACCEL_IOCTL_VERSION, &v) == 0);
        CHECK(c.ioctl(fds[2], ACCEL_IOCTL_GEM_CLOSE, &e) == -EACCES);
        std::vector<accel_info_item> items(1);
        items[0].id = ACCEL_INFO_STATUS;
        CHECK(info(c, fds[3], items) == 0);
        // The monitor node works while the exclusive compute node is held.
        int comp = c.open(fx.compute(1), O_RDWR);
        REQUIRE(comp >= 0);
        int mon = c.open(fx.monitor(1), O_RDWR);
        CHECK(mon >= 0);
        CHECK(c.close(mon) == 0);
        CHECK(c.close(comp) == 0);
        for (int fd : fds)
            CHECK(c.close(fd) == 0);
    }

    SUBCASE("exclusive compute node") {
        int a = c.open(fx.compute(1), O_RDWR);
        REQUIRE(a >= 0);
        CHECK(c.open(fx.compute(1), O_RDWR) == -EBUSY);
        CHECK(c.close(a) == 0);
        int b = c.open(fx.compute(1), O_RDWR);
        CHECK(b >= 0);
        CHECK(c.close(b) == 0);
        // The non-exclusive device admits several.
        int x = c.open(fx.compute(0), O_RDWR), y = c.open(fx.compute(0), O_RDWR);
        CHECK(x >= 0);
        CHECK(y >= 0);
        c.close(x);
        c.close(y);
    }

    SUBCASE("an exclusive node closed and opened at once opens, also when postclose is slow") {
        // On the FUSE backend close(2) returns before postclose has run (RELEASE is asynchronous);
        // the open must still find the node free, as on a kernel where close runs release first.
        int a = c.open(fx.compute(1), O_RDWR);
        REQUIRE(a >= 0);
        test_slow_close bad{10, 1};
        CHECK(c.ioctl(a, TEST_IOCTL_SLOW_CLOSE, &bad) == -EINVAL);
        test_slow_close slow{300, 0};
        REQUIRE(c.ioctl(a, TEST_IOCTL_SLOW_CLOSE, &slow) == 0);
        for (int i = 0; i < 3; ++i) {
            CHECK(c.close(a) == 0);
            a = c.open(fx.compute(1), O_RDWR);
            REQUIRE(a >= 0);
        }
        test_count n{};
        REQUIRE(c.ioctl(a, TEST_IOCTL_COUNT, &n) == 0);
        CHECK(n.postcloses == 3); // each reopen came after its predecessor's postclose
        CHECK(c.open(fx.compute(1), O_RDWR) == -EBUSY); // and nothing was left half-open
        slow.postclose_ms = 0;
        CHECK(c.ioctl(a, TEST_IOCTL_SLOW_CLOSE, &slow) == 0);
        CHECK(c.close(a) == 0);
    }

    SUBCASE("client ids: strictly increasing, never reused") {
        std::uint64_t last = 0;
        for (int i = 0; i < 4; ++i) {
            int fd = c.open(fx.compute(0), O_RDWR);
            REQUIRE(fd >= 0);
            auto id = item_as<accel_info_identity>(info_item(c, fd, ACCEL_INFO_IDENTITY));
            CHECK(id.client_id > last);
            last = id.client_id;
            CHECK(c.close(fd) == 0);
        }
        CHECK(last >= 4);
    }

    SUBCASE("VERSION: true lengths, partial copies without terminator") {
        int fd = c.open(fx.compute(0), O_RDWR);
        REQUIRE(fd >= 0);
        accel_version v{};
        REQUIRE(c.ioctl(fd, ACCEL_IOCTL_VERSION, &v) == 0);
        CHECK(v.version_major == 3);
        CHECK(v.version_minor == 14);
        CHECK(v.version_patchlevel == 15);
        CHECK(v.name_len == 4);
        CHECK(v.date_len == 8);
        CHECK(v.desc_len == std::strlen("accel test driver"));
        char name[8], date[16], desc[32];
        std::memset(name, '#', sizeof name);
        std::memset(date, '#', sizeof date);
        std::memset(desc, '#', sizeof desc);
        v.name = uptr(name);
        v.name_len = 2; // shorter than the name
        v.date = uptr(date);
        v.date_len = sizeof date;
        v.desc = uptr(desc);
        v.desc_len = sizeof desc;
        REQUIRE(c.ioctl(fd, ACCEL_IOCTL_VERSION, &v) == 0);
        CHECK(std::string(name, 3) == "te#"); // two bytes, no terminator
        CHECK(v.name_len == 4);
        CHECK(std::string(date, 9) == "20261127#");
        CHECK(std::string(desc, v.desc_len) == "accel test driver");
        CHECK(desc[v.desc_len] == '#');
        v.name = ~std::uint64_t{0} - 1; // a pointer whose range wraps, with room claimed
        v.name_len = 4;
        CHECK(c.ioctl(fd, ACCEL_IOCTL_VERSION, &v) == -EFAULT);
        accel_version z{}; // null buffers with lengths: nothing copied, lengths reported
        z.name_len = 10;
        CHECK(c.ioctl(fd, ACCEL_IOCTL_VERSION, &z) == 0);
        CHECK(z.name_len == 4);
        CHECK(c.close(fd) == 0);
    }

    SUBCASE("GET_CAP advertises only what works") {
        int fd = c.open(fx.compute(0), O_RDWR);
        REQUIRE(fd >= 0);
        // A driver with buffer objects in a program with share/prime.hpp: import and export, as
        // a kernel GEM driver reports them (drivers without objects: core.prime tests).
        accel_get_cap cap{ACCEL_CAP_PRIME, 99};
        CHECK(c.ioctl(fd, ACCEL_IOCTL_GET_CAP, &cap) == 0);
        CHECK(cap.value == (ACCEL_PRIME_CAP_IMPORT | ACCEL_PRIME_CAP_EXPORT));
        accel_prime_handle ph{1, 0, -1};
        CHECK(c.ioctl(fd, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, &ph) == -ENOENT); // no handle 1 here
        // No DRIVER_SYNCOBJ: the caps read 0 and every syncobj ioctl is -EOPNOTSUPP, as on a
        // kernel accel node without it (not an empty slot's -EINVAL).
        cap = {ACCEL_CAP_SYNCOBJ_TIMELINE, 99};
        CHECK(c.ioctl(fd, ACCEL_IOCTL_GET_CAP, &cap) == 0);
        CHECK(cap.value == 0);
        for (unsigned nr : {0xBFu, 0xC0u, 0xC1u, 0xC2u, 0xC3u, 0xC4u, 0xC5u, 0xCAu, 0xCBu, 0xCCu, 0xCDu, 0xCFu}) {
            unsigned char arg[48] = {};
            CAPTURE(nr);
            CHECK(c.ioctl(fd, _IOC(_IOC_READ | _IOC_WRITE, ACCEL_IOCTL_BASE, nr, 16), arg) == -EOPNOTSUPP);
        }
        cap = {ACCEL_CAP_TIMESTAMP_MONOTONIC, 99};
        CHECK(c.ioctl(fd, ACCEL_IOCTL_GET_CAP, &cap) == 0);
        CHECK(cap.value == 1);
        cap = {ACCEL_CAP_SYNCOBJ, 99};
        CHECK(c.ioctl(fd, ACCEL_IOCTL_GET_CAP, &cap) == 0);
        CHECK(cap.value == 0);
        cap = {0x1 /* DRM_CAP_DUMB_BUFFER: KMS only */, 99};
        CHECK(c.ioctl(fd, ACCEL_IOCTL_GET_CAP, &cap) == -EOPNOTSUPP);
        CHECK(cap.value == 0); // zeroed before the answer, copied back on failure
        CHECK(c.close(fd) == 0);
    }

    SUBCASE("SET_CLIENT_NAME validation") {
        int fd = c.open(fx.compute(0), O_RDWR);
        REQUIRE(fd >= 0);
        auto set = [&](const char* s, std::size_t len) {
            accel_set_client_name n{len, uptr(s)};
            return c.ioctl(fd, ACCEL_IOCTL_SET_CLIENT_NAME, &n);
        };
        CHECK(set("trainer-7", 9) == 0);
        CHECK(set("has space", 9) == -EINVAL);
        CHECK(set("tab\there", 8) == -EINVAL);
        CHECK(set("nul\0byte", 8) == -EINVAL);
        CHECK(set("\x80high", 5) == -EINVAL);
        std::string longest(64, 'x'), too_long(65, 'x');
        CHECK(set(longest.c_str(), 64) == 0);
        CHECK(set(too_long.c_str(), 65) == -EINVAL);
        CHECK(set(nullptr, 0) == 0); // clears
        CHECK(set(nullptr, 4) == -EFAULT);
        CHECK(c.close(fd) == 0);
    }

    SUBCASE("INFO: size negotiation and per-item errors") {
        int fd = c.open(fx.compute(0), O_RDWR);
        REQUIRE(fd >= 0);
        std::vector<accel_info_item> items(3);
        items[0].id = ACCEL_INFO_IDENTITY;
        items[1].id = 0xdead; // unknown
        items[2].id = ACCEL_INFO_CAPABILITIES;
        REQUIRE(info(c, fd, items) == 0);
        CHECK(items[0].length == static_cast<std::int32_t>(sizeof(accel_info_identity)));
        CHECK(items[1].length == -EINVAL);
        CHECK(items[2].length == static_cast<std::int32_t>(sizeof(accel_info_capabilities)));

        accel_info_identity idn{};
        accel_info_capabilities caps{};
        items[0].data = uptr(&idn);
        items[1].id = ACCEL_INFO_CAPABILITIES;
        items[1].length = static_cast<std::int32_t>(sizeof caps) - 1; // too short
        items[1].data = uptr(&caps);
        items[2].data = uptr(&caps);
        REQUIRE(info(c, fd, items) == 0);
        CHECK(items[0].length == static_cast<std::int32_t>(sizeof idn));
        CHECK(std::string(idn.name) == "test");
        CHECK(idn.version_minor == 14);
        CHECK(std::string(idn.desc) == "accel test driver");
        CHECK(items[1].length == -EINVAL);
        CHECK(items[2].length == static_cast<std::int32_t>(sizeof caps));
        CHECK(caps.flags == ACCEL_INFO_CAP_MMU);
        CHECK(caps.va_bits == 48);

        std::vector<accel_info_item> one(1);
        one[0].id = ACCEL_INFO_IDENTITY;
        one[0].flags = 1;
        REQUIRE(info(c, fd, one) == 0);
        CHECK(one[0].length == -EINVAL); // item flags must be zero
        one[0] = {};
        one[0].id = ACCEL_INFO_IDENTITY;
        one[0].length = static_cast<std::int32_t>(sizeof idn);
        one[0].data = ~std::uint64_t{0} - 8; // the range wraps: unwritable
        REQUIRE(info(c, fd, one) == 0);
        CHECK(one[0].length == -EFAULT);
        CHECK(info(c, fd, one, 1) == -EINVAL); // ioctl flags must be zero
        std::vector<accel_info_item> many(ACCEL_INFO_MAX_ITEMS + 1);
        CHECK(info(c, fd, many) == -EINVAL);
        accel_info bad{2, 0, 0};
        CHECK(c.ioctl(fd, ACCEL_IOCTL_INFO, &bad) == -EFAULT);
        CHECK(c.close(fd) == 0);
    }

    SUBCASE("INFO: fixed and dynamic items") {
        int fd = c.open(fx.compute(0), O_RDWR);
        REQUIRE(fd >= 0);
        auto regions = info_item(c, fd, ACCEL_INFO_MEMORY_REGIONS);
        auto rh = item_as<accel_info_memory_regions>(regions);
        REQUIRE(rh.count == 2);
        auto r1 = item_as<accel_info_memory_region>(regions, sizeof rh + sizeof(accel_info_memory_region));
        CHECK(r1.kind == ACCEL_MEMORY_SRAM);
        CHECK(r1.size == (4ull << 20));
        CHECK(std::string(r1.name) == "sram");
        auto engines = info_item(c, fd, ACCEL_INFO_ENGINES);
        CHECK(item_as<accel_info_engines>(engines).count == 2);
        CHECK(item_as<accel_info_engine>(engines, sizeof(accel_info_engines)).instances == 4);
        auto st = item_as<accel_info_status>(info_item(c, fd, ACCEL_INFO_STATUS));
        CHECK(st.state == ACCEL_STATE_OPERATIONAL);
        int fd2 = c.open(fx.monitor(0), O_RDWR);
        REQUIRE(fd2 >= 0);
        auto st2 = item_as<accel_info_status>(info_item(c, fd2, ACCEL_INFO_STATUS));
        CHECK(st2.open_files == st.open_files + 1);
        CHECK(c.ioctl(fd, TEST_IOCTL_RESET, nullptr) == 0); // a completed reset is counted
        CHECK(c.ioctl(fd, TEST_IOCTL_RESET, nullptr) == 0);
        CHECK(item_as<accel_info_status>(info_item(c, fd2, ACCEL_INFO_STATUS)).reset_count == st.reset_count + 2);
        auto usage = info_item(c, fd, ACCEL_INFO_MEMORY_USAGE);
        CHECK(item_as<accel_info_memory_usage>(usage).count == 2);
        CHECK(item_as<accel_info_memory_use>(usage, sizeof(accel_info_memory_usage)).used == 4096);
        auto busy = info_item(c, fd, ACCEL_INFO_ENGINE_BUSY);
        CHECK(item_as<accel_info_engine_busy>(busy).count == 2);
        CHECK(item_as<accel_info_engine_time>(busy, sizeof(accel_info_engine_busy)).busy_ns > 0);
        CHECK(c.close(fd2) == 0);
        CHECK(c.close(fd) == 0);
    }

    SUBCASE("device status: MALFUNCTION refuses compute ioctls only; RESET is root only") {
        int fd = c.open(fx.compute(0), O_RDWR);
        int mon = c.open(fx.monitor(0), O_RDWR);
        REQUIRE(fd >= 0);
        REQUIRE(mon >= 0);
        auto status = [&](int on) { return item_as<accel_info_status>(info_item(c, on, ACCEL_INFO_STATUS)); };
        const std::uint64_t resets = status(mon).reset_count;
        accel_reset_request rr{};
        fx.as_unprivileged([&] {
            int u = c.open(fx.monitor(0), O_RDWR);
            REQUIRE(u >= 0);
            CHECK(c.ioctl(u, ACCEL_IOCTL_RESET, &rr) == -EACCES);
            CHECK(c.close(u) == 0);
        });
        if (fx.privileged()) {
            accel_reset_request bad{2, 0};
            CHECK(c.ioctl(mon, ACCEL_IOCTL_RESET, &bad) == -EINVAL);
            bad = {0, 1};
            CHECK(c.ioctl(mon, ACCEL_IOCTL_RESET, &bad) == -EINVAL);
            rr.flags = ACCEL_RESET_WAIT;
            CHECK(c.ioctl(mon, ACCEL_IOCTL_RESET, &rr) == 0); // from the monitor node
            CHECK(c.ioctl(fd, ACCEL_IOCTL_RESET, &rr) == 0);  // and the compute node
            CHECK(status(mon).reset_count == resets + 2);
            CHECK(status(mon).state == ACCEL_STATE_OPERATIONAL);
            // A failing reset leaves MALFUNCTION: the driver's ioctls answer -EIO on the compute
            // node; core and framework ioctls, the monitor node and close keep working.
            test_set_state fail{ACCEL_STATE_OPERATIONAL, 1};
            CHECK(c.ioctl(fd, TEST_IOCTL_SET_STATE, &fail) == 0);
            CHECK(c.ioctl(mon, ACCEL_IOCTL_RESET, &rr) == -EIO);
            CHECK(status(fd).state == ACCEL_STATE_MALFUNCTION);
            CHECK(status(mon).reset_count == resets + 2);
            test_echo e{};
            CHECK(c.ioctl(fd, TEST_IOCTL_ECHO, &e) == -EIO);
            CHECK(e.report == 0);
            test_set_state ok{ACCEL_STATE_OPERATIONAL, 0};
            CHECK(c.ioctl(fd, TEST_IOCTL_SET_STATE, &ok) == -EIO);
            accel_version v{};
            CHECK(c.ioctl(fd, ACCEL_IOCTL_VERSION, &v) == 0);
            int fd2 = c.open(fx.compute(0), O_RDWR);
            REQUIRE(fd2 >= 0);
            CHECK(c.ioctl(fd2, TEST_IOCTL_ECHO, &e) == -EIO);
            CHECK(c.close(fd2) == 0);
            // The next reset succeeds (fail_reset is one-shot) and brings the device back.
            test_set_state heal{ACCEL_STATE_MALFUNCTION, 0};
            CHECK(c.ioctl(mon, TEST_IOCTL_SET_STATE, &heal) == -EACCES); // monitor: not a monitor ioctl
            CHECK(c.ioctl(mon, ACCEL_IOCTL_RESET, &rr) == 0);
            CHECK(status(mon).state == ACCEL_STATE_OPERATIONAL);
            CHECK(c.ioctl(fd, TEST_IOCTL_ECHO, &e) == 0);
            // The exclusive test driver has no reset.
            int x = c.open(fx.monitor(1), O_RDWR);
            REQUIRE(x >= 0);
            rr.flags = 0;
            CHECK(c.ioctl(x, ACCEL_IOCTL_RESET, &rr) == -EOPNOTSUPP);
            CHECK(c.close(x) == 0);
        }
        CHECK(c.close(mon) == 0);
        CHECK(c.close(fd) == 0);
    }

    SUBCASE("buffer objects: sizes, handles from 1, lowest free reused, GEM_CLOSE") {
        int fd = c.open(fx.compute(0), O_RDWR);
        REQUIRE(fd >= 0);
        test_bo_create b{};
        b.size = 0;
        CHECK(c.ioctl(fd, TEST_IOCTL_BO_CREATE, &b) == -EINVAL);
        b.size = ~0ull; // rounding up to a page overflows
        CHECK(c.ioctl(fd, TEST_IOCTL_BO_CREATE, &b) == -EINVAL);
        b = {1, 1, 0, 0}; // flags the driver does not know
        CHECK(c.ioctl(fd, TEST_IOCTL_BO_CREATE, &b) == -EINVAL);
        std::vector<test_bo_create> bos(3);
        for (std::size_t i = 0; i < bos.size(); ++i) {
            bos[i].size = 1 + i * 5000;
            REQUIRE(c.ioctl(fd, TEST_IOCTL_BO_CREATE, &bos[i]) == 0);
            CHECK(bos[i].handle == i + 1);
            CHECK(bos[i].size % 4096 == 0);
            CHECK(bos[i].size >= 1 + i * 5000);
            CHECK(bos[i].size < 1 + i * 5000 + 4096);
            CHECK(bos[i].mmap_offset >= (1ull << 32)); // DRM_FILE_PAGE_OFFSET_START
            CHECK(bos[i].mmap_offset % 4096 == 0);
        }
        CHECK(bos[0].mmap_offset + bos[0].size <= bos[1].mmap_offset); // distinct, non-overlapping
        test_bo_info inf{};
        inf.handle = 2;
        REQUIRE(c.ioctl(fd, TEST_IOCTL_BO_INFO, &inf) == 0);
        CHECK(inf.size == bos[1].size);
        CHECK(inf.mmap_offset == bos[1].mmap_offset);
        CHECK(inf.handle_count == 1);

        accel_gem_close gc{2, 0};
        CHECK(c.ioctl(fd, ACCEL_IOCTL_GEM_CLOSE, &gc) == 0);
        CHECK(c.ioctl(fd, ACCEL_IOCTL_GEM_CLOSE, &gc) == -EINVAL); // already closed
        CHECK(c.ioctl(fd, TEST_IOCTL_BO_INFO, &inf) == -ENOENT);
        gc = {0, 0};
        CHECK(c.ioctl(fd, ACCEL_IOCTL_GEM_CLOSE, &gc) == -EINVAL);
        gc = {99, 0};
        CHECK(c.ioctl(fd, ACCEL_IOCTL_GEM_CLOSE, &gc) == -EINVAL);
        gc = {1, 0xdead}; // the pad is not checked (drm_gem_close_ioctl)
        CHECK(c.ioctl(fd, ACCEL_IOCTL_GEM_CLOSE, &gc) == 0);
        test_bo_create again{4096, 0, 0, 0};
        REQUIRE(c.ioctl(fd, TEST_IOCTL_BO_CREATE, &again) == 0);
        CHECK(again.handle == 1); // the lowest free number
        REQUIRE(c.ioctl(fd, TEST_IOCTL_BO_CREATE, &again) == 0);
        CHECK(again.handle == 2);
        REQUIRE(c.ioctl(fd, TEST_IOCTL_BO_CREATE, &again) == 0);
        CHECK(again.handle == 4);
        CHECK(c.close(fd) == 0); // releases every handle
    }

    SUBCASE("buffer objects: handles and offsets are per file, offsets unique per device") {
        int a = c.open(fx.compute(0), O_RDWR);
        int b = c.open(fx.compute(0), O_RDWR);
        REQUIRE(a >= 0);
        REQUIRE(b >= 0);
        test_bo_create ba{8192, 0, 0, 0}, bb{8192, 0, 0, 0};
        REQUIRE(c.ioctl(a, TEST_IOCTL_BO_CREATE, &ba) == 0);
        test_bo_info inf{};
        inf.handle = ba.handle;
        CHECK(c.ioctl(b, TEST_IOCTL_BO_INFO, &inf) == -ENOENT); // a's handle means nothing in b
        accel_gem_close gc{ba.handle, 0};
        CHECK(c.ioctl(b, ACCEL_IOCTL_GEM_CLOSE, &gc) == -EINVAL);
        REQUIRE(c.ioctl(b, TEST_IOCTL_BO_CREATE, &bb) == 0);
        CHECK(bb.handle == 1); // b numbers from 1 on its own
        CHECK(ba.handle == bb.handle);
        CHECK(ba.mmap_offset != bb.mmap_offset);
        CHECK(c.ioctl(a, TEST_IOCTL_BO_INFO, &inf) == 0); // a's object untouched by b
        test_mem_stats ma{}, mb{};
        test_bo_poke p{ba.handle, 1, 4096, 42}; // the driver touches a's second page
        REQUIRE(c.ioctl(a, TEST_IOCTL_BO_POKE, &p) == 0);
        REQUIRE(c.ioctl(a, TEST_IOCTL_MEM_STATS, &ma) == 0);
        CHECK(ma.handles == 1);
        CHECK(ma.total == 8192);
        CHECK(ma.shared == 0);
        CHECK(ma.resident == 4096); // one page touched
        REQUIRE(c.ioctl(b, TEST_IOCTL_MEM_STATS, &mb) == 0);
        CHECK(mb.total == 8192);
        CHECK(mb.resident == 0);
        CHECK(c.close(a) == 0);
        CHECK(c.close(b) == 0);
    }

    SUBCASE("PRIME: drm_prime.c's errno rules") {
        int fd = c.open(fx.compute(0), O_RDWR);
        REQUIRE(fd >= 0);
        test_bo_create b{8192, 0, 0, 0};
        REQUIRE(c.ioctl(fd, TEST_IOCTL_BO_CREATE, &b) == 0);
        // HANDLE_TO_FD: flags other than ACCEL_CLOEXEC | ACCEL_RDWR, then an unknown handle.
        accel_prime_handle ph{b.handle, O_NONBLOCK, -1};
        CHECK(c.ioctl(fd, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, &ph) == -EINVAL);
        ph = {b.handle, 0x80000000u, -1};
        CHECK(c.ioctl(fd, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, &ph) == -EINVAL);
        ph = {b.handle + 7, ACCEL_CLOEXEC | ACCEL_RDWR, -1};
        CHECK(c.ioctl(fd, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, &ph) == -ENOENT);
        ph = {0, ACCEL_CLOEXEC, -1}; // handle 0 is never valid
        CHECK(c.ioctl(fd, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, &ph) == -ENOENT);
        CHECK(ph.fd == -1);
        // The monitor node answers only rows flagged for it, and PRIME rows are not.
        int mon = c.open(fx.monitor(0), O_RDWR);
        REQUIRE(mon >= 0);
        ph = {b.handle, ACCEL_CLOEXEC, -1};
        CHECK(c.ioctl(mon, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, &ph) == -EACCES);
        CHECK(c.close(mon) == 0);
        if constexpr (passes_descriptors<F>()) {
            // FD_TO_HANDLE: a descriptor that is not open, and one that is not a dma-buf.
            accel_prime_handle in{0, 0, -1};
            CHECK(c.ioctl(fd, ACCEL_IOCTL_PRIME_FD_TO_HANDLE, &in) == -EBADF);
            in.fd = fd + 1000;
            CHECK(c.ioctl(fd, ACCEL_IOCTL_PRIME_FD_TO_HANDLE, &in) == -EBADF);
            in.fd = fd; // the device file itself
            CHECK(c.ioctl(fd, ACCEL_IOCTL_PRIME_FD_TO_HANDLE, &in) == -EINVAL);
            // One object exported twice is one dma-buf: two descriptors, and importing either
            // into the exporting file gives back the original handle (self-import + cache).
            accel_prime_handle e1{b.handle, ACCEL_CLOEXEC | ACCEL_RDWR, -1}, e2{b.handle, ACCEL_CLOEXEC, -1};
            REQUIRE(c.ioctl(fd, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, &e1) == 0);
            REQUIRE(c.ioctl(fd, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, &e2) == 0);
            CHECK(e1.fd >= 0);
            CHECK(e2.fd >= 0);
            CHECK(e1.fd != e2.fd);
            accel_prime_handle i1{0, 0, e1.fd}, i2{0, 0, e2.fd};
            REQUIRE(c.ioctl(fd, ACCEL_IOCTL_PRIME_FD_TO_HANDLE, &i1) == 0);
            REQUIRE(c.ioctl(fd, ACCEL_IOCTL_PRIME_FD_TO_HANDLE, &i2) == 0);
            CHECK(i1.handle == b.handle);
            CHECK(i2.handle == b.handle);
            test_bo_info inf{};
            inf.handle = b.handle;
            REQUIRE(c.ioctl(fd, TEST_IOCTL_BO_INFO, &inf) == 0);
            CHECK(inf.handle_count == 1); // no new handle
            // Another file of the device: a new handle to the same object; again: the same one.
            int other = c.open(fx.compute(0), O_RDWR);
            REQUIRE(other >= 0);
            accel_prime_handle o1{0, 0, e1.fd}, o2{0, 0, e2.fd};
            REQUIRE(c.ioctl(other, ACCEL_IOCTL_PRIME_FD_TO_HANDLE, &o1) == 0);
            REQUIRE(c.ioctl(other, ACCEL_IOCTL_PRIME_FD_TO_HANDLE, &o2) == 0);
            CHECK(o1.handle == o2.handle);
            REQUIRE(c.ioctl(fd, TEST_IOCTL_BO_INFO, &inf) == 0);
            CHECK(inf.handle_count == 2);
            test_bo_poke w{b.handle, 1, 4096, 0xabcd};
            REQUIRE(c.ioctl(fd, TEST_IOCTL_BO_POKE, &w) == 0);
            test_bo_poke r{o1.handle, 0, 4096, 0};
            REQUIRE(c.ioctl(other, TEST_IOCTL_BO_POKE, &r) == 0);
            CHECK(r.value == 0xabcd); // the same object
            // The mapping rules of a dma-buf descriptor hold on both backends.
            if constexpr (F::maps_objects) {
                CHECK(c.mmap(e1.fd, 0, 3 * 4096, PROT_READ, MAP_SHARED).error() == -EINVAL); // past the end
                CHECK(c.mmap(e1.fd, 4096, 2 * 4096, PROT_READ, MAP_SHARED).error() == -EINVAL);
                auto m = c.mmap(e1.fd, 4096, 4096, PROT_READ | PROT_WRITE, MAP_SHARED);
                REQUIRE(m);
                CHECK(static_cast<const std::uint64_t*>(*m)[0] == 0xabcd);
                CHECK(c.munmap(*m, 4096) == 0);
            }
            CHECK(c.close(other) == 0);
            CHECK(c.close(e1.fd) == 0);
            CHECK(c.close(e2.fd) == 0);
        }
        CHECK(c.close(fd) == 0);
    }

    if constexpr (F::maps_objects) {
        SUBCASE("mmap of buffer objects: the rules of drm_gem_mmap") {
            int fd = c.open(fx.compute(0), O_RDWR);
            int other = c.open(fx.compute(0), O_RDWR);
            int ro = c.open(fx.compute(0), O_RDONLY);
            REQUIRE(fd >= 0);
            REQUIRE(other >= 0);
            REQUIRE(ro >= 0);
            test_bo_create b{3 * 4096, 0, 0, 0};
            REQUIRE(c.ioctl(fd, TEST_IOCTL_BO_CREATE, &b) == 0);
            const int rw = PROT_READ | PROT_WRITE;
            CHECK(c.mmap(fd, b.mmap_offset, 0, rw, MAP_SHARED).error() == -EINVAL);             // empty
            CHECK(c.mmap(fd, b.mmap_offset + 1, 4096, rw, MAP_SHARED).error() == -EINVAL);      // misaligned
            CHECK(c.mmap(fd, b.mmap_offset + 4096, 4096, rw, MAP_SHARED).error() == -EINVAL);   // not its start
            CHECK(c.mmap(fd, b.mmap_offset, 4 * 4096, rw, MAP_SHARED).error() == -EINVAL);      // past its end
            CHECK(c.mmap(fd, 4096, 4096, rw, MAP_SHARED).error() == -EINVAL);                   // no object there
            // drm_gem_shmem_mmap refuses copy-on-write mappings (is_cow_mapping), and mmap(2)
            // gives every MAP_PRIVATE mapping VM_MAYWRITE: no private mapping, whatever the
            // protection or the file's mode (see `ro` below).
            CHECK(c.mmap(fd, b.mmap_offset, 4096, rw, MAP_PRIVATE).error() == -EINVAL);
            CHECK(c.mmap(fd, b.mmap_offset, 4096, PROT_READ, MAP_PRIVATE).error() == -EINVAL);
            CHECK(c.mmap(other, b.mmap_offset, 4096, rw, MAP_SHARED).error() == -EACCES);       // no handle there
            CHECK(c.mmap(ro, b.mmap_offset, 4096, PROT_WRITE, MAP_SHARED).error() == -EACCES);  // read-only file
            CHECK(c.mmap(ro, b.mmap_offset, 4096, PROT_READ, MAP_SHARED).error() == -EACCES);   // no handle there
            CHECK(c.mmap(fd + 1000, b.mmap_offset, 4096, rw, MAP_SHARED).error() == -EBADF);
            {
                test_bo_create rb{4096, 0, 0, 0}; // objects of the read-only file itself
                REQUIRE(c.ioctl(ro, TEST_IOCTL_BO_CREATE, &rb) == 0);
                CHECK(c.mmap(ro, rb.mmap_offset, 4096, PROT_READ, MAP_PRIVATE).error() == -EINVAL); // still COW
                CHECK(c.mmap(ro, rb.mmap_offset, 4096, PROT_WRITE, MAP_SHARED).error() == -EACCES);
                auto m = c.mmap(ro, rb.mmap_offset, 4096, PROT_READ, MAP_SHARED);
                CHECK(m);
                if (m)
                    CHECK(c.munmap(*m, 4096) == 0);
                // mmap(2) needs a file opened for reading (FMODE_READ): O_WRONLY gets -EACCES for
                // any mapping, before the driver's checks.
                int wo = c.open(fx.compute(0), O_WRONLY);
                REQUIRE(wo >= 0);
                test_bo_create wb{4096, 0, 0, 0};
                REQUIRE(c.ioctl(wo, TEST_IOCTL_BO_CREATE, &wb) == 0);
                CHECK(c.mmap(wo, wb.mmap_offset, 4096, PROT_READ, MAP_SHARED).error() == -EACCES);
                CHECK(c.mmap(wo, wb.mmap_offset, 4096, PROT_WRITE, MAP_SHARED).error() == -EACCES);
                CHECK(c.mmap(wo, wb.mmap_offset + 4096 * 1000, 4096, PROT_READ, MAP_SHARED).error() == -EACCES);
                CHECK(c.close(wo) == 0);
            }

            auto whole = c.mmap(fd, b.mmap_offset, 3 * 4096, rw, MAP_SHARED);
            REQUIRE(whole);
            auto head = c.mmap(fd, b.mmap_offset, 100, PROT_READ, MAP_SHARED); // shorter: allowed
            REQUIRE(head);
            auto* words = static_cast<std::uint64_t*>(*whole);
            words[0] = 0x1111; // the client writes, the driver reads the same memory
            words[512] = 0x2222; // byte 4096
            test_bo_poke p{b.handle, 0, 0, 0};
            REQUIRE(c.ioctl(fd, TEST_IOCTL_BO_POKE, &p) == 0);
            CHECK(p.value == 0x1111);
            p = {b.handle, 0, 4096, 0};
            REQUIRE(c.ioctl(fd, TEST_IOCTL_BO_POKE, &p) == 0);
            CHECK(p.value == 0x2222);
            p = {b.handle, 1, 2 * 4096, 0x3333}; // the driver writes, the client sees it
            REQUIRE(c.ioctl(fd, TEST_IOCTL_BO_POKE, &p) == 0);
            CHECK(words[1024] == 0x3333); // byte 8192
            CHECK(static_cast<const std::uint64_t*>(*head)[0] == 0x1111);
            CHECK(c.munmap(*head, 100) == 0);
            CHECK(c.munmap(*whole, 3 * 4096) == 0);
            CHECK(c.close(ro) == 0);
            CHECK(c.close(other) == 0);
            CHECK(c.close(fd) == 0);
        }

        SUBCASE("mmap of buffer objects: a mapping outlives its handle and its file") {
            int fd = c.open(fx.compute(0), O_RDWR);
            REQUIRE(fd >= 0);
            test_bo_create b{4096, 0, 0, 0};
            REQUIRE(c.ioctl(fd, TEST_IOCTL_BO_CREATE, &b) == 0);
            auto m = c.mmap(fd, b.mmap_offset, 4096, PROT_READ | PROT_WRITE, MAP_SHARED);
            REQUIRE(m);
            auto* w = static_cast<volatile std::uint64_t*>(*m);
            w[7] = 77;
            accel_gem_close gc{b.handle, 0};
            REQUIRE(c.ioctl(fd, ACCEL_IOCTL_GEM_CLOSE, &gc) == 0);
            // Without a handle the file may not map it again, but the mapping it has stays.
            CHECK(c.mmap(fd, b.mmap_offset, 4096, PROT_READ, MAP_SHARED).error() == -EACCES);
            w[8] = 88;
            CHECK(w[7] == 77);
            REQUIRE(c.close(fd) == 0);
            w[9] = 99;
            CHECK(w[8] == 88);
            CHECK(w[9] == 99);
            CHECK(c.munmap(*m, 4096) == 0);
            CHECK(c.munmap(*m, 4096) == 0); // nothing mapped there any more: munmap(2) says 0
        }
    }
}

} // namespace accel::test
