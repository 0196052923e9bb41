// SPDX-License-Identifier: MIT
// accel_fuzz_info: the INFO producer (core/info_ioctl.hpp, core/info_items.hpp, uapi
// accel_info.h) through backend::mock, on the compute and the monitor node of a test_driver
// device (tests/core/test_drivers.hpp: every INFO callback, sensors, fdinfo keys).
//
// Input: a 16-byte header, then items of 24 bytes (struct accel_info_item as it is, except data).
//   byte 0: bit 0 query through the monitor node (else the compute node); bit 1 a second
//           compute file is open (CLIENTS and friends list two); bit 2 the caller is not root;
//   bytes 4-7: num_items (any u32); bytes 8-11: accel_info.flags; byte 12: bit 0 a null item
//           array.
//   Each item's data: bit 63 set -> a null pointer, else a pointer into a canary-filled arena
//   at (data & 0xffff).
// Checks, per call:
//  - the ioctl answers 0, or -EINVAL (flags, more than ACCEL_INFO_MAX_ITEMS) / -EFAULT (null
//    array) with every item left as it was;
//  - each item keeps its id, flags, pad and data; its length becomes: -EINVAL for flags/pad or
//    an unknown id or a length (negative too) below the size the item needs; the size needed
//    for length 0; -EFAULT for a null data pointer; otherwise the size, which matches what a
//    length-0 probe of the same item said, or the probe's own errno (-EBUSY for hardware items);
//  - the size is the item's struct, or a list header plus count elements;
//  - nothing in the arena changes outside [data, data + size) of the items that succeeded.
#include "parsers_common.hpp"
#include "test_drivers.hpp"

#include <accel/accel.hpp>
#include <accel/backend/mock.hpp>
#include <accel/uapi/accel_info.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace accel;
using accel::fuzz_parsers::fail;

const char accel::fuzz_parsers::target_name[] = "accel_fuzz_info";

namespace {

using world = fuzz_parsers::device_world<test::test_driver>;

constexpr std::size_t arena_size = 128 * 1024; // data at offsets < 64 KiB, each item < 64 KiB
constexpr unsigned char canary = 0xA5;

/// Size of a list item with `count` elements, or of a fixed item; 0 for an unknown id.
std::size_t expected_size(std::uint32_t id, const unsigned char* p, std::size_t have) {
    auto list = [&](std::size_t header, std::size_t elem) -> std::size_t {
        if (have < 4)
            return 0;
        std::uint32_t count;
        std::memcpy(&count, p, 4);
        return header + std::size_t{count} * elem;
    };
    switch (id) {
    case ACCEL_INFO_IDENTITY:
        return sizeof(accel_info_identity);
    case ACCEL_INFO_MEMORY_REGIONS:
        return list(sizeof(accel_info_memory_regions), sizeof(accel_info_memory_region));
    case ACCEL_INFO_ENGINES:
        return list(sizeof(accel_info_engines), sizeof(accel_info_engine));
    case ACCEL_INFO_CAPABILITIES:
        return sizeof(accel_info_capabilities);
    case ACCEL_INFO_STATUS:
        return sizeof(accel_info_status);
    case ACCEL_INFO_MEMORY_USAGE:
        return list(sizeof(accel_info_memory_usage), sizeof(accel_info_memory_use));
    case ACCEL_INFO_ENGINE_BUSY:
        return list(sizeof(accel_info_engine_busy), sizeof(accel_info_engine_time));
    case ACCEL_INFO_CLIENTS:
        return list(sizeof(accel_info_clients), sizeof(accel_info_client));
    case ACCEL_INFO_CLIENT_ENGINES:
        return list(sizeof(accel_info_client_engines), sizeof(accel_info_client_engine));
    case ACCEL_INFO_CLIENT_MEMORY:
        return list(sizeof(accel_info_client_memories), sizeof(accel_info_client_memory));
    case ACCEL_INFO_SENSORS:
        return list(sizeof(accel_info_sensors), sizeof(accel_info_sensor));
    default:
        return 0;
    }
}

bool known_id(std::uint32_t id) { return id >= ACCEL_INFO_IDENTITY && id <= ACCEL_INFO_SENSORS; }

/// A length-0 probe of one item: the size it needs, or its errno.
std::int32_t probe(backend::mock& m, int fd, std::uint32_t id) {
    accel_info_item it{id, 0, 0, 0, 0};
    accel_info q{1, 0, reinterpret_cast<std::uintptr_t>(&it)};
    EXPECT(m.ioctl(fd, ACCEL_IOCTL_INFO, &q) == 0);
    return it.length;
}

/// A full read of one item into `buf`: its bytes, for the layout check.
std::vector<unsigned char> read_item(backend::mock& m, int fd, std::uint32_t id, std::int32_t size) {
    std::vector<unsigned char> buf(static_cast<std::size_t>(size));
    accel_info_item it{id, size, 0, 0, reinterpret_cast<std::uintptr_t>(buf.data())};
    accel_info q{1, 0, reinterpret_cast<std::uintptr_t>(&it)};
    EXPECT(m.ioctl(fd, ACCEL_IOCTL_INFO, &q) == 0);
    if (it.length != size)
        fail("a second read of an item answered another size", size, it.length);
    return buf;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 16)
        return 0;
    world& w = fuzz_parsers::the_world<world>();
    const bool monitor = data[0] & 1, second = data[0] & 2, unprivileged = data[0] & 4;
    std::uint32_t num_items, flags;
    std::memcpy(&num_items, data + 4, 4);
    std::memcpy(&flags, data + 8, 4);
    const bool null_array = data[12] & 1;

    int second_fd = -1;
    if (second)
        second_fd = w.mock.open(w.node(node_kind::compute));
    int fd;
    {
        backend::mock::identity who(unprivileged ? caller_identity{65534, 4242, false, 65534}
                                                 : caller_identity{0, 1, true, 0});
        fd = w.mock.open(w.node(monitor ? node_kind::monitor : node_kind::compute));
    }
    if (fd < 0) {
        EXPECT(fd == -EACCES || fd == -EPERM, fd);
        if (second_fd >= 0)
            EXPECT(w.mock.close(second_fd) == 0);
        return 0;
    }

    // The item array (room for ACCEL_INFO_MAX_ITEMS) and the data arena.
    const std::size_t given = (size - 16) / sizeof(accel_info_item);
    std::vector<accel_info_item> items(ACCEL_INFO_MAX_ITEMS);
    std::memcpy(items.data(), data + 16, std::min<std::size_t>(given, ACCEL_INFO_MAX_ITEMS) * sizeof(accel_info_item));
    std::vector<unsigned char> arena(arena_size, canary);
    std::vector<std::size_t> offset(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
        offset[i] = items[i].data & 0xffff;
        items[i].data = (items[i].data >> 63) ? 0 : reinterpret_cast<std::uintptr_t>(arena.data() + offset[i]);
    }
    const std::vector<accel_info_item> before = items;

    // What each known item needs, asked one at a time.
    std::int32_t need[ACCEL_INFO_SENSORS + 1] = {};
    for (std::uint32_t id = ACCEL_INFO_IDENTITY; id <= ACCEL_INFO_SENSORS; ++id) {
        need[id] = probe(w.mock, fd, id);
        if (need[id] < 0) {
            EXPECT(need[id] == -EBUSY || need[id] == -EACCES, id, need[id]);
            continue;
        }
        EXPECT(need[id] > 0 && need[id] < 0x10000, id, need[id]);
        const auto bytes = read_item(w.mock, fd, id, need[id]);
        if (expected_size(id, bytes.data(), bytes.size()) != static_cast<std::size_t>(need[id]))
            fail("an item's size is not its layout's", id, need[id]);
    }

    accel_info q{num_items, flags, null_array ? 0 : reinterpret_cast<std::uintptr_t>(items.data())};
    const int ret = w.mock.ioctl(fd, ACCEL_IOCTL_INFO, &q);
    if (flags || num_items > ACCEL_INFO_MAX_ITEMS) {
        EXPECT(ret == -EINVAL, ret);
    } else if (null_array && num_items) {
        EXPECT(ret == -EFAULT, ret);
    } else {
        EXPECT(ret == 0, ret);
    }
    // The arena as it must be: canary everywhere but where a successful item could write.
    std::vector<unsigned char> expect_arena(arena_size, canary);
    for (std::size_t i = 0; i < items.size(); ++i) {
        const accel_info_item& a = before[i];
        const accel_info_item& b = items[i];
        EXPECT(a.id == b.id && a.flags == b.flags && a.pad == b.pad && a.data == b.data, static_cast<long long>(i));
        if (ret != 0 || i >= num_items) {
            EXPECT(a.length == b.length, static_cast<long long>(i), b.length);
            continue;
        }
        std::int32_t want;
        if (a.flags || a.pad || !known_id(a.id))
            want = -EINVAL;
        else if (need[a.id] < 0)
            want = need[a.id];
        else if (a.length == 0)
            want = need[a.id];
        else if (a.length < need[a.id])
            want = -EINVAL;
        else if (a.data == 0)
            want = -EFAULT;
        else
            want = need[a.id];
        if (b.length != want) {
            std::fprintf(stderr, "item %zu: id %u length %d flags %u pad %u data %s\n", i, a.id, a.length, a.flags, a.pad,
                         a.data ? "arena" : "null");
            fail("item length result", b.length, want);
        }
        if (a.length > 0 && want > 0 && a.data)
            std::memcpy(expect_arena.data() + offset[i], arena.data() + offset[i], static_cast<std::size_t>(want));
    }
    if (std::memcmp(arena.data(), expect_arena.data(), arena_size) != 0)
        fail("INFO wrote outside the items' data");

    EXPECT(w.mock.close(fd) == 0);
    if (second_fd >= 0)
        EXPECT(w.mock.close(second_fd) == 0);
    return 0;
}
