// SPDX-License-Identifier: MIT
#pragma once
// The vdnn uAPI suite, written once against the client backend interface and instantiated for
// each fixture (vdnn_driver_fixtures.hpp): the mock in one process, and accel-serve on a FUSE
// mount through real system calls. A client must see the same results and errnos through
// both.
//
//   uAPI          GET_PARAM, BO_CREATE/BO_INFO, mmap, VM_BIND/VM_UNBIND, SUBMIT (every bad
//                 field, every malformed stream, what the DMA engine refuses), WAIT (flags,
//                 unknown seqnos, -ETIME, status/error/fault_va), INFO, the FUSE coherency
//                 contract (a WAIT_BO on the object makes a job's writes show in the mapping)
//   faults        unmapped input and output, a write through a read-only binding, a read
//                 through a write-only one: -EFAULT, VDNN_STATUS_MMU_FAULT, the faulting VA,
//                 and no memory outside the job's mappings (nor the faulting op's output) touched;
//                 an unbind while a job is queued
//   events        JOB_DONE through read(2): events_checks<F>(), run by each program itself so
//                 that a fixture without events_via_read can mark it an expected failure
#include "../core/monitor_helpers.hpp"
#include "vdnn_driver_util.hpp"
#include "vdnn_memory.hpp"

#include <doctest/doctest.h>

#include <accel/exec/sim_sensors.hpp>
#include <accel/uapi/accel_monitor.h>

#include <climits>
#include <unistd.h>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <vector>

namespace vdnn::dtest {

inline constexpr u32 all_ops = (1u << VDNN_OP_GEMM) | (1u << VDNN_OP_CONV2D) | (1u << VDNN_OP_RELU) | (1u << VDNN_OP_ADD) |
                               (1u << VDNN_OP_COPY) | (1u << VDNN_OP_FILL) | (1u << VDNN_OP_NOP) |
                               (1u << VDNN_OP_DEBUG_HANG);

// ---- GET_PARAM -------------------------------------------------------------------------------

TEST_CASE_TEMPLATE_DEFINE("GET_PARAM: every parameter, unknown ones, a non-zero pad", F, vdnn_get_param_t) {
    F fx;
    session s(fx.client(), fx.node());
    const struct {
        u32 param;
        u64 value;
    } want[] = {
        {VDNN_PARAM_NUM_ENGINES, 3},
        {VDNN_PARAM_SRAM_SIZE, memory_layout::sram_size},
        {VDNN_PARAM_DRAM_SIZE, memory_layout::dram_size},
        {VDNN_PARAM_VA_START, memory_layout::va_start},
        {VDNN_PARAM_VA_SIZE, memory_layout::va_size},
        {VDNN_PARAM_PAGE_SIZE, 4096},
        {VDNN_PARAM_MAX_CMD_SIZE, VDNN_MAX_CMD_SIZE},
        {VDNN_PARAM_MAX_BO_HANDLES, 64},
        {VDNN_PARAM_MAX_DEPS, 16},
        {VDNN_PARAM_OPS, all_ops},
        {VDNN_PARAM_DEBUG_HANG, 1},
    };
    for (const auto& w : want) {
        CAPTURE(w.param);
        vdnn_get_param a{w.param, 0, ~u64{0}};
        CHECK(s.ioctl(VDNN_IOCTL_GET_PARAM, &a) == 0);
        CHECK(a.value == w.value);
    }
    for (u32 p : {11u, 31u, 0x80000000u, ~0u}) {
        CAPTURE(p);
        vdnn_get_param a{p, 0, 0};
        CHECK(s.ioctl(VDNN_IOCTL_GET_PARAM, &a) == -EINVAL);
    }
    vdnn_get_param padded{VDNN_PARAM_NUM_ENGINES, 1, 0};
    CHECK(s.ioctl(VDNN_IOCTL_GET_PARAM, &padded) == -EINVAL);
}

// ---- BO_CREATE, BO_INFO ----------------------------------------------------------------------

TEST_CASE_TEMPLATE_DEFINE("BO_CREATE and BO_INFO: each region, sizes, bad region, flags, pad, handles", F, vdnn_bo_create_t) {
    F fx;
    session s(fx.client(), fx.node());
    std::set<u32> handles;
    std::set<u64> offsets;
    for (u32 region : {u32{VDNN_REGION_HOST}, u32{VDNN_REGION_SRAM}, u32{VDNN_REGION_DRAM}}) {
        for (u64 size : {u64{1}, page, 3 * page + 1}) {
            CAPTURE(region);
            CAPTURE(size);
            vdnn_bo_create a{size, region, 0, 0, 0};
            REQUIRE(s.ioctl(VDNN_IOCTL_BO_CREATE, &a) == 0);
            CHECK(a.handle != 0);
            CHECK(handles.insert(a.handle).second);
            vdnn_bo_info i{a.handle, 0, 0, 0, 0, 0, 0};
            REQUIRE(s.ioctl(VDNN_IOCTL_BO_INFO, &i) == 0);
            const u64 rounded = (size + page - 1) / page * page;
            CHECK(i.size == rounded);
            CHECK(i.region == region);
            CHECK(i.flags == 0);
            CHECK(i.mmap_offset != 0);
            CHECK(i.mmap_offset % page == 0);
            CHECK(offsets.insert(i.mmap_offset).second);
            if (region == VDNN_REGION_HOST) {
                CHECK(i.device_addr == 0);
            } else {
                const u64 base = region == VDNN_REGION_SRAM ? memory_layout::sram_base : memory_layout::dram_base;
                const u64 limit = region == VDNN_REGION_SRAM ? memory_layout::sram_size : memory_layout::dram_size;
                CHECK(i.device_addr >= base);
                CHECK(i.device_addr % page == 0);
                CHECK(i.device_addr + i.size <= base + limit);
            }
        }
    }
    SUBCASE("bad arguments: -EINVAL") {
        const vdnn_bo_create bad[] = {
            {0, VDNN_REGION_HOST, 0, 0, 0},         {0, VDNN_REGION_SRAM, 0, 0, 0},
            {page, 3, 0, 0, 0},                     {page, ~0u, 0, 0, 0},
            {page, VDNN_REGION_HOST, 1, 0, 0},      {page, VDNN_REGION_DRAM, 0x80000000u, 0, 0},
            {page, VDNN_REGION_SRAM, 0, 0, 1},      {~u64{0}, VDNN_REGION_HOST, 0, 0, 0},
            {~u64{0} - 100, VDNN_REGION_DRAM, 0, 0, 0},
        };
        for (vdnn_bo_create a : bad) {
            CAPTURE(a.size);
            CAPTURE(a.region);
            CAPTURE(a.flags);
            CAPTURE(a.pad);
            CHECK(s.ioctl(VDNN_IOCTL_BO_CREATE, &a) == -EINVAL);
        }
    }
    SUBCASE("BO_INFO: unknown and closed handles -ENOENT, a non-zero pad -EINVAL") {
        for (u32 h : {0u, 777777u, ~0u}) {
            vdnn_bo_info i{h, 0, 0, 0, 0, 0, 0};
            CHECK(s.ioctl(VDNN_IOCTL_BO_INFO, &i) == -ENOENT);
        }
        const u32 h = *handles.begin();
        vdnn_bo_info padded{h, 1, 0, 0, 0, 0, 0};
        CHECK(s.ioctl(VDNN_IOCTL_BO_INFO, &padded) == -EINVAL);
        CHECK(s.close_handle(h) == 0);
        vdnn_bo_info closed{h, 0, 0, 0, 0, 0, 0};
        CHECK(s.ioctl(VDNN_IOCTL_BO_INFO, &closed) == -ENOENT);
    }
    SUBCASE("handles are per file") {
        session other(fx.client(), fx.node());
        vdnn_bo_create a{page, VDNN_REGION_HOST, 0, 0, 0};
        REQUIRE(other.ioctl(VDNN_IOCTL_BO_CREATE, &a) == 0);
        vdnn_bo_info i{*handles.rbegin() + 1000, 0, 0, 0, 0, 0, 0};
        CHECK(s.ioctl(VDNN_IOCTL_BO_INFO, &i) == -ENOENT);
    }
}

TEST_CASE_TEMPLATE_DEFINE("BO_CREATE: SRAM exhaustion is -ENOSPC, and freeing gives the room back", F, vdnn_sram_full_t) {
    F fx;
    session s(fx.client(), fx.node());
    const u64 before = region_used(fx.client(), s.fd(), VDNN_REGION_SRAM);
    CHECK(before == 0);
    vdnn_bo_create too_big{memory_layout::sram_size + 1, VDNN_REGION_SRAM, 0, 0, 0};
    CHECK(s.ioctl(VDNN_IOCTL_BO_CREATE, &too_big) == -ENOSPC);
    vdnn_bo_create all{memory_layout::sram_size, VDNN_REGION_SRAM, 0, 0, 0};
    REQUIRE(s.ioctl(VDNN_IOCTL_BO_CREATE, &all) == 0);
    CHECK(region_used(fx.client(), s.fd(), VDNN_REGION_SRAM) == memory_layout::sram_size);
    vdnn_bo_create one{1, VDNN_REGION_SRAM, 0, 0, 0};
    CHECK(s.ioctl(VDNN_IOCTL_BO_CREATE, &one) == -ENOSPC);
    // Other regions are not affected, and neither is another file.
    vdnn_bo_create dram{page, VDNN_REGION_DRAM, 0, 0, 0}, host{page, VDNN_REGION_HOST, 0, 0, 0};
    CHECK(s.ioctl(VDNN_IOCTL_BO_CREATE, &dram) == 0);
    CHECK(s.ioctl(VDNN_IOCTL_BO_CREATE, &host) == 0);
    {
        session other(fx.client(), fx.node());
        vdnn_bo_create again{page, VDNN_REGION_SRAM, 0, 0, 0};
        CHECK(other.ioctl(VDNN_IOCTL_BO_CREATE, &again) == -ENOSPC);
    }
    CHECK(s.close_handle(all.handle) == 0);
    CHECK(region_used(fx.client(), s.fd(), VDNN_REGION_SRAM) == 0);
    vdnn_bo_create after{page, VDNN_REGION_SRAM, 0, 0, 0};
    CHECK(s.ioctl(VDNN_IOCTL_BO_CREATE, &after) == 0);
}

// ---- mmap ------------------------------------------------------------------------------------

TEST_CASE_TEMPLATE_DEFINE("mmap: what the CPU writes a job reads, what a job writes the CPU reads", F, vdnn_mmap_t) {
    F fx;
    session s(fx.client(), fx.node());
    test::rng r;
    INFO("seed " << r.seed);
    const u32 regions[] = {VDNN_REGION_HOST, VDNN_REGION_SRAM, VDNN_REGION_DRAM};
    for (u32 from : regions)
        for (u32 to : regions) {
            CAPTURE(from);
            CAPTURE(to);
            const u64 size = 3 * page;
            client_buffer& src = s.bound(size, from, VDNN_BIND_READ);
            client_buffer& dst = s.bound(size, to, VDNN_BIND_WRITE, 0);
            const auto data = r.int8s(size);
            std::memcpy(src.map, data.data(), size);
            const u64 seq = s.run(VDNN_ENGINE_DMA, one(copy_cmd(src.va, dst.va, size)), {src.handle, dst.handle});
            CHECK(s.wait_job(seq).status == VDNN_STATUS_OK);
            s.sync(dst);
            CHECK(std::memcmp(dst.map, data.data(), size) == 0);
        }
    // A job's FILL, seen through the mapping of each region.
    for (u32 to : regions) {
        client_buffer& dst = s.bound(2 * page, to, VDNN_BIND_READ | VDNN_BIND_WRITE, 0x11);
        const u64 seq = s.run(VDNN_ENGINE_COMPUTE1, one(fill_cmd(dst.va + 8, page, 0xa1b2c3d4)), {dst.handle});
        CHECK(s.wait_job(seq).status == VDNN_STATUS_OK);
        s.sync(dst);
        const auto* b = dst.as<unsigned char>();
        CHECK(b[7] == 0x11);
        CHECK(b[8] == 0xd4);
        CHECK(b[9] == 0xc3);
        CHECK(b[10] == 0xb2);
        CHECK(b[11] == 0xa1);
        CHECK(b[page + 7] == 0xa1);
        CHECK(b[page + 8] == 0x11);
    }
}

// ---- VM_BIND, VM_UNBIND ----------------------------------------------------------------------

TEST_CASE_TEMPLATE_DEFINE("VM_BIND: flags, alignment, ranges outside the BO, FIXED overlaps, handles", F, vdnn_vm_bind_t) {
    F fx;
    session s(fx.client(), fx.node());
    client_buffer& bo = s.buffer(4 * page, VDNN_REGION_HOST);
    const u32 h = bo.handle;
    const u64 fixed = s.fixed_va(64 * page);
    auto try_bind = [&](u32 handle, u32 flags, u64 offset, u64 va, u64 size) { return s.bind(handle, flags, offset, va, size); };
    const u32 rw = VDNN_BIND_READ | VDNN_BIND_WRITE;

    // flags: READ and/or WRITE required, nothing unknown
    CHECK(try_bind(h, 0, 0, 0, page) == -EINVAL);
    CHECK(try_bind(h, VDNN_BIND_FIXED, 0, fixed, page) == -EINVAL);
    CHECK(try_bind(h, VDNN_BIND_READ | 0x8, 0, 0, page) == -EINVAL);
    CHECK(try_bind(h, rw | 0x80000000u, 0, 0, page) == -EINVAL);
    // alignment and size
    CHECK(try_bind(h, rw, 0, 0, 0) == -EINVAL);
    CHECK(try_bind(h, rw, 0, 0, 100) == -EINVAL);
    CHECK(try_bind(h, rw, 0, 0, page + 1) == -EINVAL);
    CHECK(try_bind(h, rw, 100, 0, page) == -EINVAL);
    CHECK(try_bind(h, rw | VDNN_BIND_FIXED, 0, fixed + 100, page) == -EINVAL);
    // outside the BO
    CHECK(try_bind(h, rw, 4 * page, 0, page) == -EINVAL);
    CHECK(try_bind(h, rw, 3 * page, 0, 2 * page) == -EINVAL);
    CHECK(try_bind(h, rw, 0, 0, 5 * page) == -EINVAL);
    CHECK(try_bind(h, rw, ~u64{0} & ~(page - 1), 0, 2 * page) == -EINVAL);
    CHECK(try_bind(h, rw, page, 0, ~u64{0} & ~(page - 1)) == -EINVAL);
    // handles
    CHECK(try_bind(0, rw, 0, 0, page) == -ENOENT);
    CHECK(try_bind(h + 777, rw, 0, 0, page) == -ENOENT);
    // outside the VA space
    CHECK(try_bind(h, rw | VDNN_BIND_FIXED, 0, 0, page) == -EINVAL);
    CHECK(try_bind(h, rw | VDNN_BIND_FIXED, 0, memory_layout::va_start - page, 2 * page) == -EINVAL);
    CHECK(try_bind(h, rw | VDNN_BIND_FIXED, 0, memory_layout::va_start + memory_layout::va_size - page, 2 * page) == -EINVAL);

    // The driver's picks: page-aligned, inside the VA space, never overlapping.
    std::vector<std::pair<u64, u64>> ranges;
    for (u32 flags : {u32{VDNN_BIND_READ}, u32{VDNN_BIND_WRITE}, rw}) {
        for (u64 size : {page, 4 * page}) {
            u64 va = 12345; // ignored without FIXED
            REQUIRE(s.bind(h, flags, 0, va, size) == 0);
            CHECK(va % page == 0);
            CHECK(va >= memory_layout::va_start);
            CHECK(va + size <= memory_layout::va_start + memory_layout::va_size);
            for (const auto& [o, n] : ranges)
                CHECK((va + size <= o || o + n <= va));
            ranges.emplace_back(va, size);
        }
    }
    // FIXED: exactly there, and never over what is mapped.
    u64 va = fixed + 8 * page;
    REQUIRE(s.bind(h, rw | VDNN_BIND_FIXED, 0, va, 4 * page) == 0);
    CHECK(va == fixed + 8 * page);
    CHECK(try_bind(h, rw | VDNN_BIND_FIXED, 0, fixed + 8 * page, 4 * page) == -EEXIST);
    CHECK(try_bind(h, rw | VDNN_BIND_FIXED, 0, fixed + 9 * page, page) == -EEXIST);
    CHECK(try_bind(h, rw | VDNN_BIND_FIXED, 0, fixed + 11 * page, 2 * page) == -EEXIST);
    CHECK(try_bind(h, rw | VDNN_BIND_FIXED, 0, fixed + 7 * page, 2 * page) == -EEXIST);
    CHECK(try_bind(h, rw | VDNN_BIND_FIXED, 0, fixed + 6 * page, 4 * page) == -EEXIST);
    CHECK(try_bind(h, rw | VDNN_BIND_FIXED, 0, fixed + 7 * page, page) == 0);  // just before
    CHECK(try_bind(h, rw | VDNN_BIND_FIXED, 0, fixed + 12 * page, page) == 0); // just after
    // One BO bound several times, and a bind keeps the BO alive after its handle is closed.
    const u64 word = 0x0123456789abcdefull;
    std::memcpy(static_cast<std::byte*>(bo.map) + 2 * page, &word, sizeof word);
    client_buffer& out = s.bound(page, VDNN_REGION_DRAM, VDNN_BIND_WRITE, 0);
    u64 tail = fixed + 32 * page;
    REQUIRE(s.bind(h, VDNN_BIND_READ | VDNN_BIND_FIXED, 2 * page, tail, page) == 0);
    const u64 seq = s.run(VDNN_ENGINE_DMA, one(copy_cmd(tail, out.va, 8)), {h, out.handle});
    CHECK(s.wait_job(seq).status == VDNN_STATUS_OK);
    s.sync(out);
    CHECK(std::memcmp(out.map, &word, sizeof word) == 0);
}

TEST_CASE_TEMPLATE_DEFINE("VM_UNBIND: partial unbinds split mappings, holes are fine, geometry", F, vdnn_vm_unbind_t) {
    F fx;
    session s(fx.client(), fx.node());
    client_buffer& bo = s.buffer(4 * page, VDNN_REGION_SRAM, 0x33);
    const u32 rw = VDNN_BIND_READ | VDNN_BIND_WRITE;
    const u64 v = s.fixed_va(64 * page) + 16 * page;
    u64 va = v;
    REQUIRE(s.bind(bo.handle, rw | VDNN_BIND_FIXED, 0, va, 4 * page) == 0);

    CHECK(s.unbind(v + page, 2 * page) == 0); // the middle: two pieces stay
    u64 x = v;
    CHECK(s.bind(bo.handle, rw | VDNN_BIND_FIXED, 0, x, page) == -EEXIST);
    x = v + 3 * page;
    CHECK(s.bind(bo.handle, rw | VDNN_BIND_FIXED, 0, x, page) == -EEXIST);
    // The pieces still reach their pages of the BO; the hole faults.
    const u64 a = s.run(VDNN_ENGINE_DMA, one(fill_cmd(v, page, 0x01010101)), {bo.handle});
    const u64 b = s.run(VDNN_ENGINE_DMA, one(fill_cmd(v + page, page, 0x02020202)), {bo.handle});
    const u64 c = s.run(VDNN_ENGINE_DMA, one(fill_cmd(v + 3 * page, page, 0x04040404)), {bo.handle});
    CHECK(s.wait_job(a).status == VDNN_STATUS_OK);
    const vdnn_wait wb = s.wait_job(b);
    CHECK(wb.status == VDNN_STATUS_MMU_FAULT);
    CHECK(wb.error == -EFAULT);
    CHECK(wb.fault_va == v + page);
    CHECK(s.wait_job(c).status == VDNN_STATUS_OK);
    s.sync(bo);
    const auto* m = bo.as<unsigned char>();
    CHECK(m[0] == 0x01);
    CHECK(m[page - 1] == 0x01);
    CHECK(m[page] == 0x33);
    CHECK(m[3 * page - 1] == 0x33);
    CHECK(m[3 * page] == 0x04);
    // The hole takes a new mapping, of any BO page.
    x = v + page;
    REQUIRE(s.bind(bo.handle, rw | VDNN_BIND_FIXED, 3 * page, x, page) == 0);
    CHECK(s.unbind(v + page, page) == 0);
    // Unbinding across holes and several mappings, and where nothing is mapped at all.
    CHECK(s.unbind(v - 16 * page, 48 * page) == 0);
    CHECK(s.unbind(v - 16 * page, 48 * page) == 0);
    x = v;
    CHECK(s.bind(bo.handle, rw | VDNN_BIND_FIXED, 0, x, 4 * page) == 0);
    // Geometry: page multiples only, no wrap-around, nothing outside the VA space.
    CHECK(s.unbind(v + 1, page) == -EINVAL);
    CHECK(s.unbind(v, 100) == -EINVAL);
    CHECK(s.unbind(v, 0) == -EINVAL);
    CHECK(s.unbind(~u64{0} & ~(page - 1), 2 * page) == -EINVAL);
    // Unbinding what a file never mapped in another file's space changes nothing there.
    {
        session other(fx.client(), fx.node());
        CHECK(other.unbind(v, 4 * page) == 0);
    }
    const u64 d = s.run(VDNN_ENGINE_DMA, one(fill_cmd(v, 4 * page, 0x08080808)), {bo.handle});
    CHECK(s.wait_job(d).status == VDNN_STATUS_OK);
}

// ---- SUBMIT ----------------------------------------------------------------------------------

TEST_CASE_TEMPLATE_DEFINE("SUBMIT: every bad field, bad pointers, limits, unknown dependencies", F, vdnn_submit_fields_t) {
    F fx;
    session s(fx.client(), fx.node());
    client_buffer& cmd = s.buffer(2 * VDNN_MAX_CMD_SIZE, VDNN_REGION_HOST, 0);
    client_buffer& data = s.bound(page, VDNN_REGION_DRAM);
    // NOPs throughout the command BO: any 8-byte-aligned window of it is a valid stream.
    for (u64 off = 0; off < cmd.size; off += 8) {
        vdnn_cmd_nop n{};
        n.hdr = {VDNN_OP_NOP, sizeof n};
        std::memcpy(static_cast<std::byte*>(cmd.map) + off, &n, sizeof n);
    }
    u32 handles[65];
    for (auto& x : handles)
        x = data.handle;
    u64 deps[17] = {};
    auto good = [&] {
        vdnn_submit a{};
        a.engine = VDNN_ENGINE_COMPUTE0;
        a.cmd_handle = cmd.handle;
        a.cmd_size = 8;
        a.bo_count = 1;
        a.bo_handles = uptr(handles);
        return a;
    };
    auto submit = [&](auto&& change) {
        vdnn_submit a = good();
        change(a);
        return s.ioctl(VDNN_IOCTL_SUBMIT, &a);
    };
    using S = vdnn_submit;
    // engine, flags, pad
    CHECK(submit([](S& a) { a.engine = 3; }) == -EINVAL);
    CHECK(submit([](S& a) { a.engine = ~0u; }) == -EINVAL);
    CHECK(submit([](S& a) { a.flags = 0x2; }) == -EINVAL);
    CHECK(submit([](S& a) { a.flags = VDNN_SUBMIT_EVENT | 0x80000000u; }) == -EINVAL);
    CHECK(submit([](S& a) { a.pad = 1; }) == -EINVAL);
    // cmd_size and cmd_offset
    CHECK(submit([](S& a) { a.cmd_size = 0; }) == -EINVAL);
    CHECK(submit([](S& a) { a.cmd_size = 12; }) == -EINVAL);
    CHECK(submit([](S& a) { a.cmd_size = 4; }) == -EINVAL);
    CHECK(submit([](S& a) { a.cmd_size = VDNN_MAX_CMD_SIZE + 8; }) == -EINVAL);
    CHECK(submit([](S& a) { a.cmd_offset = 4; }) == -EINVAL);
    // the stream outside the command BO
    CHECK(submit([&](S& a) { a.cmd_offset = cmd.size; }) == -EINVAL);
    CHECK(submit([&](S& a) { a.cmd_offset = cmd.size - 8, a.cmd_size = 16; }) == -EINVAL);
    CHECK(submit([&](S& a) { a.cmd_offset = ~u64{0} & ~u64{7}, a.cmd_size = 16; }) == -EINVAL);
    // handles
    CHECK(submit([](S& a) { a.cmd_handle = 0; }) == -ENOENT);
    CHECK(submit([&](S& a) { a.cmd_handle = data.handle + 1000; }) == -ENOENT);
    u32 bad_list[] = {data.handle, data.handle + 1000};
    CHECK(submit([&](S& a) { a.bo_handles = uptr(bad_list), a.bo_count = 2; }) == -ENOENT);
    // bad pointers: null, wrapping past the end of the address space
    CHECK(submit([](S& a) { a.bo_handles = 0; }) == -EFAULT);
    CHECK(submit([](S& a) { a.bo_handles = ~u64{0} - 3; }) == -EFAULT);
    CHECK(submit([](S& a) { a.deps = 0, a.dep_count = 1; }) == -EFAULT);
    CHECK(submit([](S& a) { a.deps = ~u64{0} - 7, a.dep_count = 2; }) == -EFAULT);
    // too many objects or dependencies
    CHECK(submit([](S& a) { a.bo_count = 65; }) == -EINVAL);
    CHECK(submit([](S& a) { a.dep_count = 17; }) == -EINVAL);
    CHECK(submit([](S& a) { a.bo_count = ~0u; }) == -EINVAL);
    // dependencies on jobs that do not exist (yet): none was submitted
    deps[0] = 1;
    CHECK(submit([&](S& a) { a.deps = uptr(deps), a.dep_count = 1; }) == -EINVAL);
    deps[0] = 0;
    CHECK(submit([&](S& a) { a.deps = uptr(deps), a.dep_count = 1; }) == -EINVAL);

    // None of that made a job: the first one gets seqno 1, and the limits are inclusive.
    vdnn_submit first = good();
    REQUIRE(s.ioctl(VDNN_IOCTL_SUBMIT, &first) == 0);
    CHECK(first.seqno == 1);
    vdnn_submit most = good();
    most.bo_count = 64;
    most.cmd_size = VDNN_MAX_CMD_SIZE;
    most.cmd_offset = 8;
    for (auto& d : deps)
        d = 1;
    most.deps = uptr(deps);
    most.dep_count = 16;
    REQUIRE(s.ioctl(VDNN_IOCTL_SUBMIT, &most) == 0);
    CHECK(most.seqno == 2);
    deps[3] = 3; // the next seqno: not a job yet
    CHECK(submit([&](S& a) { a.deps = uptr(deps), a.dep_count = 4; }) == -EINVAL);
    deps[3] = ~u64{0};
    CHECK(submit([&](S& a) { a.deps = uptr(deps), a.dep_count = 4; }) == -EINVAL);
    // A file's seqnos are its own.
    {
        session other(fx.client(), fx.node());
        const u64 o = other.run(VDNN_ENGINE_DMA, nop_stream());
        CHECK(o == 1);
        CHECK(other.wait_job(o).status == VDNN_STATUS_OK);
    }
    CHECK(s.wait_job(first.seqno).status == VDNN_STATUS_OK);
    CHECK(s.wait_job(most.seqno).status == VDNN_STATUS_OK);
}

/// Streams that validation refuses (SUBMIT -EINVAL), each with a name.
inline std::vector<std::pair<const char*, stream_writer>> malformed_streams(u64 va) {
    std::vector<std::pair<const char*, stream_writer>> out;
    auto add = [&](const char* what, stream_writer s) { out.emplace_back(what, std::move(s)); };
    auto raw = [](const void* p, std::size_t n) {
        stream_writer s;
        s.raw(p, n);
        return s;
    };
    vdnn_cmd_gemm g{};
    g.dtype = VDNN_DTYPE_FP32, g.m = g.n = g.k = 4, g.lda = g.ldb = g.ldc = 4, g.a = va, g.b = va + 256, g.c = va + 512;
    vdnn_cmd_conv2d cv{};
    cv.dtype = VDNN_DTYPE_FP32, cv.n = cv.c = 1, cv.h = cv.w = 4, cv.o = 2, cv.kh = cv.kw = 3, cv.stride_h = cv.stride_w = 1;
    cv.input = va, cv.weights = va + 256, cv.output = va + 512;
    vdnn_cmd_relu rl{};
    rl.dtype = VDNN_DTYPE_FP32, rl.count = 16, rl.src = va, rl.dst = va + 256;
    vdnn_cmd_add ad{};
    ad.dtype = VDNN_DTYPE_INT32, ad.count = 16, ad.a = va, ad.b = va + 256, ad.dst = va + 512;
    const vdnn_cmd_copy cp = copy_cmd(va, va + 256, 64);
    const vdnn_cmd_fill fl = fill_cmd(va, 64, 7);

    {
        const vdnn_cmd_header h{8, 8}; // past the last op
        add("unknown op 8", raw(&h, sizeof h));
        const vdnn_cmd_header z{0, 8};
        add("op 0", raw(&z, sizeof z));
        const vdnn_cmd_header big{VDNN_OP_DEBUG_HANG + 1, 8};
        add("op 32", raw(&big, sizeof big));
        const vdnn_cmd_header nop16[2] = {{VDNN_OP_NOP, 16}, {0, 0}};
        add("NOP with length 16", raw(nop16, sizeof nop16));
        const vdnn_cmd_header nop0{VDNN_OP_NOP, 0};
        add("NOP with length 0", raw(&nop0, sizeof nop0));
        const vdnn_cmd_header hang16[2] = {{VDNN_OP_DEBUG_HANG, 16}, {0, 0}};
        add("DEBUG_HANG with length 16", raw(hang16, sizeof hang16));
        vdnn_cmd_gemm t = g;
        t.hdr = {VDNN_OP_GEMM, sizeof t};
        add("a GEMM cut short", raw(&t, 32));
        t.hdr.length_bytes = 72;
        stream_writer longer = raw(&t, sizeof t);
        longer.add(vdnn_cmd_nop{});
        add("a GEMM whose length covers the next command", std::move(longer));
        stream_writer trailing = one(vdnn_cmd_nop{});
        const u64 zero = 0;
        trailing.raw(&zero, sizeof zero);
        add("a good command, then zeros", std::move(trailing));
    }
    auto gemm = [&](const char* what, auto change) {
        vdnn_cmd_gemm x = g;
        change(x);
        add(what, one(x));
    };
    gemm("GEMM dtype INT32", [](auto& x) { x.dtype = VDNN_DTYPE_INT32; });
    gemm("GEMM dtype 0", [](auto& x) { x.dtype = 0; });
    gemm("GEMM unknown flag", [](auto& x) { x.flags = 0x2; });
    gemm("GEMM m 0", [](auto& x) { x.m = 0; });
    gemm("GEMM n 0", [](auto& x) { x.n = 0; });
    gemm("GEMM k past VDNN_MAX_REDUCTION", [](auto& x) { x.k = VDNN_MAX_REDUCTION + 1, x.lda = x.k; });
    gemm("GEMM m past VDNN_MAX_DIM", [](auto& x) { x.m = VDNN_MAX_DIM + 1; });
    gemm("GEMM lda below k", [](auto& x) { x.lda = 3; });
    gemm("GEMM ldb below n", [](auto& x) { x.ldb = 3; });
    gemm("GEMM ldc below n", [](auto& x) { x.ldc = 3; });
    gemm("GEMM fp32 a misaligned", [](auto& x) { x.a += 2; });
    gemm("GEMM c misaligned", [](auto& x) { x.c += 1; });
    gemm("GEMM an operand past VDNN_MAX_TENSOR_BYTES", [](auto& x) { x.m = x.k = 16384, x.lda = 16384; });
    gemm("GEMM c wrapping past 2^64", [](auto& x) { x.c = ~u64{0} - 31; });
    auto conv = [&](const char* what, auto change) {
        vdnn_cmd_conv2d x = cv;
        change(x);
        add(what, one(x));
    };
    conv("CONV2D dtype INT32", [](auto& x) { x.dtype = VDNN_DTYPE_INT32; });
    conv("CONV2D unknown flag", [](auto& x) { x.flags = 0x4; });
    conv("CONV2D reserved pad field", [](auto& x) { x.pad = 1; });
    conv("CONV2D bias address without the BIAS flag", [=](auto& x) { x.bias = va + 768; });
    conv("CONV2D stride 0", [](auto& x) { x.stride_w = 0; });
    conv("CONV2D o 0", [](auto& x) { x.o = 0; });
    conv("CONV2D padding as large as the kernel", [](auto& x) { x.pad_h = 3; });
    conv("CONV2D kernel larger than the padded image", [](auto& x) { x.kw = 7, x.pad_w = 1; });
    conv("CONV2D reduction past VDNN_MAX_REDUCTION", [](auto& x) { x.c = 65536 / 9 + 1, x.h = x.w = 3; });
    conv("CONV2D misaligned output", [](auto& x) { x.output += 2; });
    auto relu = [&](const char* what, auto change) {
        vdnn_cmd_relu x = rl;
        change(x);
        add(what, one(x));
    };
    relu("RELU count 0", [](auto& x) { x.count = 0; });
    relu("RELU dtype INT8", [](auto& x) { x.dtype = VDNN_DTYPE_INT8; });
    relu("RELU flags", [](auto& x) { x.flags = 1; });
    relu("RELU dst overlapping src, not in place", [](auto& x) { x.dst = x.src + 4; });
    relu("RELU misaligned src", [](auto& x) { x.src += 2; });
    relu("RELU byte count past 2^64", [](auto& x) { x.count = u64{1} << 62; });
    auto add_ = [&](const char* what, auto change) {
        vdnn_cmd_add x = ad;
        change(x);
        add(what, one(x));
    };
    add_("ADD count 0", [](auto& x) { x.count = 0; });
    add_("ADD dtype FP32 with flags", [](auto& x) { x.dtype = VDNN_DTYPE_FP32, x.flags = 1; });
    add_("ADD dst overlapping b, not in place", [](auto& x) { x.dst = x.b + 8; });
    add_("ADD a wrapping past 2^64", [](auto& x) { x.a = ~u64{0} - 15; });
    auto copy = [&](const char* what, auto change) {
        vdnn_cmd_copy x = cp;
        change(x);
        add(what, one(x));
    };
    copy("COPY 0 bytes", [](auto& x) { x.bytes = 0; });
    copy("COPY overlapping ranges", [](auto& x) { x.dst = x.src + 63; });
    copy("COPY in place", [](auto& x) { x.dst = x.src; });
    copy("COPY src wrapping past 2^64", [](auto& x) { x.src = ~u64{0} - 10; });
    auto fill = [&](const char* what, auto change) {
        vdnn_cmd_fill x = fl;
        change(x);
        add(what, one(x));
    };
    fill("FILL 0 bytes", [](auto& x) { x.bytes = 0; });
    fill("FILL flags", [](auto& x) { x.flags = 1; });
    fill("FILL wrapping past 2^64", [](auto& x) { x.dst = ~u64{0}, x.bytes = 2; });
    {
        stream_writer s = one(fl);
        vdnn_cmd_copy bad = cp;
        bad.bytes = 0;
        s.add(bad);
        add("a good FILL, then a bad COPY", std::move(s));
    }
    return out;
}

TEST_CASE_TEMPLATE_DEFINE("SUBMIT: every malformed command stream is -EINVAL, and the DMA engine runs only COPY, FILL, NOP", F,
                          vdnn_submit_streams_t) {
    F fx;
    session s(fx.client(), fx.node());
    client_buffer& data = s.bound(page, VDNN_REGION_SRAM, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
    for (auto& [what, stream] : malformed_streams(data.va)) {
        CAPTURE(what);
        for (u32 engine : {u32{VDNN_ENGINE_COMPUTE0}, u32{VDNN_ENGINE_COMPUTE1}, u32{VDNN_ENGINE_DMA}})
            CHECK(s.submit(engine, stream, {data.handle}) == -EINVAL);
    }
    // What the DMA engine cannot run (valid streams for the compute engines).
    vdnn_cmd_gemm g{};
    g.dtype = VDNN_DTYPE_FP32, g.m = g.n = g.k = 4, g.lda = g.ldb = g.ldc = 4;
    g.a = data.va, g.b = data.va + 256, g.c = data.va + 512;
    vdnn_cmd_conv2d cv{};
    cv.dtype = VDNN_DTYPE_FP32, cv.n = cv.c = 1, cv.h = cv.w = 4, cv.o = 2, cv.kh = cv.kw = 3, cv.stride_h = cv.stride_w = 1;
    cv.input = data.va, cv.weights = data.va + 256, cv.output = data.va + 512;
    vdnn_cmd_relu rl{};
    rl.dtype = VDNN_DTYPE_FP32, rl.count = 16, rl.src = data.va, rl.dst = data.va;
    vdnn_cmd_add ad{};
    ad.dtype = VDNN_DTYPE_INT32, ad.count = 16, ad.a = data.va, ad.b = data.va + 256, ad.dst = data.va + 512;
    stream_writer compute_only[] = {one(g), one(cv), one(rl), one(ad)};
    std::vector<u64> jobs;
    for (auto& st : compute_only) {
        CHECK(s.submit(VDNN_ENGINE_DMA, st, {data.handle}) == -EINVAL);
        stream_writer mixed = one(fill_cmd(data.va, 64, 1));
        mixed.raw(st.bytes().data(), st.bytes().size());
        CHECK(s.submit(VDNN_ENGINE_DMA, mixed, {data.handle}) == -EINVAL);
        jobs.push_back(s.run(VDNN_ENGINE_COMPUTE0, st, {data.handle}));
        jobs.push_back(s.run(VDNN_ENGINE_COMPUTE1, mixed, {data.handle}));
    }
    stream_writer dma;
    dma.add(fill_cmd(data.va, 64, 1)).add(copy_cmd(data.va, data.va + 1024, 64)).add(vdnn_cmd_nop{});
    jobs.push_back(s.run(VDNN_ENGINE_DMA, dma, {data.handle}));
    // The largest stream: VDNN_MAX_CMD_SIZE bytes of NOPs.
    stream_writer nops;
    for (u64 i = 0; i < VDNN_MAX_CMD_SIZE / 8; ++i)
        nops.add(vdnn_cmd_nop{});
    jobs.push_back(s.run(VDNN_ENGINE_DMA, nops));
    // Refused SUBMITs consumed no seqnos.
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        CHECK(jobs[i] == i + 1);
        const vdnn_wait w = s.wait_job(jobs[i]);
        CHECK(w.status == VDNN_STATUS_OK);
        CHECK(w.error == 0);
    }
}

// ---- WAIT ------------------------------------------------------------------------------------

TEST_CASE_TEMPLATE_DEFINE("SUBMIT: explicit sync through syncobjs: in-fences, the out-fence, errnos, the first struct's size", F,
                          vdnn_submit_syncobj_t) {
    F fx;
    session s(fx.client(), fx.node());
    client_buffer& cmd = s.buffer(page, VDNN_REGION_HOST, 0);
    client_buffer& bo = s.bound(page, VDNN_REGION_DRAM, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
    auto syncobj = [&](u32 flags = 0) {
        accel_syncobj_create c{0, flags};
        REQUIRE(s.ioctl(ACCEL_IOCTL_SYNCOBJ_CREATE, &c) == 0);
        return c.handle;
    };
    auto syncobj_wait = [&](u32 handle, std::int64_t deadline) {
        accel_syncobj_wait w{};
        w.handles = uptr(&handle);
        w.count_handles = 1;
        w.timeout_nsec = deadline;
        return s.ioctl(ACCEL_IOCTL_SYNCOBJ_WAIT, &w);
    };
    // SUBMIT of `stream` from the command BO, with the syncobj fields set by `change`.
    auto submit = [&](const stream_writer& stream, auto&& change, u64* seqno = nullptr) {
        std::memcpy(cmd.map, stream.bytes().data(), stream.bytes().size());
        vdnn_submit a{};
        a.engine = VDNN_ENGINE_DMA;
        a.cmd_handle = cmd.handle;
        a.cmd_size = stream.bytes().size();
        a.bo_count = 0;
        change(a);
        const int r = s.ioctl(VDNN_IOCTL_SUBMIT, &a);
        if (seqno)
            *seqno = a.seqno;
        return r;
    };
    accel_get_cap cap{ACCEL_CAP_SYNCOBJ_TIMELINE, 0};
    REQUIRE(s.ioctl(ACCEL_IOCTL_GET_CAP, &cap) == 0);
    CHECK(cap.value == 1);

    const u32 empty = syncobj();
    const u32 signalled = syncobj(ACCEL_SYNCOBJ_CREATE_SIGNALED);
    vdnn_sync in[17] = {};
    using S = vdnn_submit;
    SUBCASE("bad fields: -EINVAL, -ENOENT, -EFAULT, and no job made") {
        in[0] = {empty, 0, 0};
        CHECK(submit(nop_stream(), [&](S& a) { a.in_syncs = uptr(in), a.in_sync_count = 1; }) == -EINVAL); // no fence
        in[0] = {signalled, 1, 0};
        CHECK(submit(nop_stream(), [&](S& a) { a.in_syncs = uptr(in), a.in_sync_count = 1; }) == -EINVAL); // flags
        in[0] = {signalled, 0, 5};
        CHECK(submit(nop_stream(), [&](S& a) { a.in_syncs = uptr(in), a.in_sync_count = 1; }) == -EINVAL); // no point 5
        in[0] = {signalled + 100, 0, 0};
        CHECK(submit(nop_stream(), [&](S& a) { a.in_syncs = uptr(in), a.in_sync_count = 1; }) == -ENOENT);
        CHECK(submit(nop_stream(), [&](S& a) { a.in_syncs = 0, a.in_sync_count = 1; }) == -EFAULT);
        CHECK(submit(nop_stream(), [&](S& a) { a.in_syncs = uptr(in), a.in_sync_count = 17; }) == -EINVAL);
        CHECK(submit(nop_stream(), [&](S& a) { a.pad2 = 1; }) == -EINVAL);
        CHECK(submit(nop_stream(), [&](S& a) { a.out_sync = {signalled + 100, 0, 0}; }) == -ENOENT);
        CHECK(submit(nop_stream(), [&](S& a) { a.out_sync = {empty, 1, 0}; }) == -EINVAL);
        CHECK(submit(nop_stream(), [&](S& a) { a.out_sync = {empty, 0, 1}; }) == -EINVAL);
        // Nothing was submitted, and the out-syncobj kept its (missing) fence.
        u64 seqno = 0;
        CHECK(submit(nop_stream(), [](S&) {}, &seqno) == 0);
        CHECK(seqno == 1);
        CHECK(syncobj_wait(empty, 0) == -EINVAL); // still no fence: not submitted
    }
    SUBCASE("the out-fence signals when the job ends; an in-fence holds a job back until it does") {
        const u32 gate = syncobj();
        const hang_clock hc;
        u64 hung = 0, held = 0;
        REQUIRE(submit(hang_stream(), [&](S& a) { a.engine = VDNN_ENGINE_COMPUTE0, a.out_sync = {gate, 0, 0}; }, &hung) == 0);
        in[0] = {gate, 0, 0};
        in[1] = {signalled, 0, 0};
        const u32 bos[] = {bo.handle};
        REQUIRE(submit(one(fill_cmd(bo.va, 64, 0x5a)), [&](S& a) {
                    a.in_syncs = uptr(in), a.in_sync_count = 2;
                    a.bo_handles = uptr(bos), a.bo_count = 1;
                }, &held) == 0);
        vdnn_wait w{};
        const int early_held = s.wait(VDNN_WAIT_JOB, held, 20'000'000, w);
        const int early_gate = syncobj_wait(gate, deadline_in(1'000'000));
        const bool certain = hc.certain();
        if (certain) {
            CHECK(early_held == -ETIME);
            CHECK(early_gate == -ETIME);
        } else {
            MESSAGE("the job timeout passed before the checks ended (a loaded machine): the gate is not checked");
        }
        // The hung job's timeout ends it; the gate's fence signals and the held job runs.
        CHECK(s.wait_job(hung).status == VDNN_STATUS_TIMEOUT);
        CHECK(syncobj_wait(gate, deadline_in(long_ns)) == 0);
        CHECK(s.wait_job(held).status == VDNN_STATUS_OK);
        s.sync(bo);
        CHECK(static_cast<unsigned char*>(bo.map)[0] == 0x5a);
    }
    SUBCASE("a client built against the first vdnn_submit (72 bytes) still submits") {
        struct first_submit {
            __u32 engine, flags, cmd_handle, bo_count;
            __u64 cmd_offset, cmd_size, bo_handles, deps;
            __u32 dep_count, pad;
            __u64 user_data, seqno;
        };
        static_assert(sizeof(first_submit) == 72);
        std::memcpy(cmd.map, nop_stream().bytes().data(), nop_stream().bytes().size());
        first_submit a{};
        a.engine = VDNN_ENGINE_DMA;
        a.cmd_handle = cmd.handle;
        a.cmd_size = nop_stream().bytes().size();
        CHECK(s.ioctl(ACCEL_IOWR(ACCEL_COMMAND_BASE + 0x05, struct first_submit), &a) == 0);
        CHECK(a.seqno == 1);
        CHECK(s.wait_job(a.seqno).status == VDNN_STATUS_OK);
    }
}

TEST_CASE_TEMPLATE_DEFINE("WAIT: flags, unknown seqnos and handles, -ETIME, status error and fault_va", F, vdnn_wait_t) {
    F fx;
    session s(fx.client(), fx.node());
    client_buffer& bo = s.bound(page, VDNN_REGION_HOST, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
    const u64 ok = s.run(VDNN_ENGINE_COMPUTE0, one(fill_cmd(bo.va, 64, 5)), {bo.handle});
    vdnn_wait w = s.wait_job(ok);
    CHECK(w.status == VDNN_STATUS_OK);
    CHECK(w.error == 0);
    CHECK(w.fault_va == 0);
    w = s.wait_job(ok); // again: a finished job stays known
    CHECK(w.status == VDNN_STATUS_OK);

    auto raw = [&](u32 flags, u32 pad, u64 what, std::int64_t deadline) {
        vdnn_wait a{};
        a.flags = flags;
        a.pad = pad;
        a.handle_or_seqno = what;
        a.timeout_ns = deadline;
        return s.ioctl(VDNN_IOCTL_WAIT, &a);
    };
    const std::int64_t later = deadline_in(long_ns);
    // flags: exactly one of JOB and BO; pad
    CHECK(raw(0, 0, ok, later) == -EINVAL);
    CHECK(raw(VDNN_WAIT_JOB | VDNN_WAIT_BO, 0, ok, later) == -EINVAL);
    CHECK(raw(0x4, 0, ok, later) == -EINVAL);
    CHECK(raw(VDNN_WAIT_JOB | 0x80000000u, 0, ok, later) == -EINVAL);
    CHECK(raw(VDNN_WAIT_JOB, 1, ok, later) == -EINVAL);
    // seqnos that never were
    CHECK(raw(VDNN_WAIT_JOB, 0, 0, later) == -EINVAL);
    CHECK(raw(VDNN_WAIT_JOB, 0, ok + 1, later) == -EINVAL);
    CHECK(raw(VDNN_WAIT_JOB, 0, ~u64{0}, later) == -EINVAL);
    // handles
    CHECK(raw(VDNN_WAIT_BO, 0, 0, later) == -ENOENT);
    CHECK(raw(VDNN_WAIT_BO, 0, bo.handle + 1000, later) == -ENOENT);
    CHECK(raw(VDNN_WAIT_BO, 0, (u64{1} << 32) | bo.handle, later) == -EINVAL);
    // an object no job used: done at once
    client_buffer& idle = s.buffer(page, VDNN_REGION_DRAM);
    vdnn_wait wi{};
    CHECK(s.wait(VDNN_WAIT_BO, idle.handle, 0, wi) == 0);
    CHECK(wi.status == VDNN_STATUS_OK);
    CHECK(wi.error == 0);
    CHECK(wi.fault_va == 0);

    // An MMU fault: the job's status, its error, the first VA it could not reach.
    const u64 fault = s.run(VDNN_ENGINE_COMPUTE1, one(fill_cmd(bo.va + page - 8, 16, 5)), {bo.handle});
    w = s.wait_job(fault);
    CHECK(w.status == VDNN_STATUS_MMU_FAULT);
    CHECK(w.error == -EFAULT);
    CHECK(w.fault_va == bo.va + page);

    // A job that cannot finish (DEBUG_HANG): WAIT's deadline passes first (the job's own
    // timeout, 300 ms after it started, is later than any deadline below).
    const hang_clock hc;
    const u64 hung = s.run(VDNN_ENGINE_COMPUTE0, hang_stream());
    const int timed_out[] = {
        s.wait(VDNN_WAIT_JOB, hung, 20'000'000, w),
        raw(VDNN_WAIT_JOB, 0, hung, accel::monotonic_ns()),
        raw(VDNN_WAIT_JOB, 0, hung, accel::monotonic_ns() - 1'000'000'000),
        raw(VDNN_WAIT_JOB, 0, hung, 0),
        raw(VDNN_WAIT_JOB, 0, hung, -1),
    };
    const bool certain = hc.certain();
    if (!certain)
        MESSAGE("the job timeout passed before the WAITs ended (a loaded machine): -ETIME not checked");
    for (int r : timed_out)
        CHECK((r == -ETIME || (!certain && r == 0)));
    // Then the driver's job timeout ends it.
    w = s.wait_job(hung);
    CHECK(w.status == VDNN_STATUS_TIMEOUT);
    CHECK(w.error == -ETIMEDOUT);
    CHECK(w.fault_va == 0);
    // And the device runs jobs again.
    const u64 after = s.run(VDNN_ENGINE_COMPUTE0, one(fill_cmd(bo.va, 64, 6)), {bo.handle});
    CHECK(s.wait_job(after).status == VDNN_STATUS_OK);
}

TEST_CASE_TEMPLATE_DEFINE("WAIT: a deadline at the far end of the past (INT64_MIN) is -ETIME at once", F, vdnn_wait_min_t) {
    F fx;
    session s(fx.client(), fx.node());
    const hang_clock hc;
    const u64 hung = s.run(VDNN_ENGINE_COMPUTE1, hang_stream());
    vdnn_wait a{};
    a.flags = VDNN_WAIT_JOB;
    a.handle_or_seqno = hung;
    a.timeout_ns = INT64_MIN;
    const int r1 = s.ioctl(VDNN_IOCTL_WAIT, &a);
    a.timeout_ns = INT64_MIN + 1;
    const int r2 = s.ioctl(VDNN_IOCTL_WAIT, &a);
    if (hc.certain()) {
        CHECK(r1 == -ETIME);
        CHECK(r2 == -ETIME);
    } else {
        MESSAGE("the job timeout passed before the WAITs ended (a loaded machine): not checked");
    }
    CHECK(s.wait_job(hung).status == VDNN_STATUS_TIMEOUT);
}

TEST_CASE_TEMPLATE_DEFINE("WAIT_BO: waits for every job using the object, reports the fault and its VA", F, vdnn_wait_bo_t) {
    F fx;
    session s(fx.client(), fx.node());
    client_buffer& bo = s.bound(2 * page, VDNN_REGION_DRAM, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
    // A chain on three engines through one object (implicit sync): WAIT_BO returns after the last.
    const u64 a = s.run(VDNN_ENGINE_COMPUTE0, one(fill_cmd(bo.va, page, 0x01010101)), {bo.handle});
    const u64 b = s.run(VDNN_ENGINE_COMPUTE1, one(copy_cmd(bo.va, bo.va + page, page)), {bo.handle});
    const u64 c = s.run(VDNN_ENGINE_DMA, one(fill_cmd(bo.va, 16, 0x02020202)), {bo.handle});
    vdnn_wait w = s.sync(bo);
    CHECK(w.status == VDNN_STATUS_OK);
    CHECK(w.error == 0);
    vdnn_wait now{};
    for (u64 j : {a, b, c}) {
        CHECK(s.wait(VDNN_WAIT_JOB, j, 0, now) == 0);
        CHECK(now.status == VDNN_STATUS_OK);
    }
    const auto* m = bo.as<unsigned char>();
    CHECK(m[0] == 2);
    CHECK(m[16] == 1);
    CHECK(m[page] == 1); // the copy ran after the first fill, before the second
    CHECK(m[page + 15] == 1);
    // The last job using it faulted: WAIT_BO reports it like WAIT on the job.
    const u64 f = s.run(VDNN_ENGINE_COMPUTE0, one(fill_cmd(bo.va + page, 2 * page, 3)), {bo.handle});
    w = s.sync(bo);
    CHECK(w.status == VDNN_STATUS_MMU_FAULT);
    CHECK(w.error == -EFAULT);
    CHECK(w.fault_va == bo.va + 2 * page);
    CHECK(s.wait_job(f).fault_va == bo.va + 2 * page);
    CHECK(m[page] == 1); // probed before writing: nothing written
}

// ---- INFO ------------------------------------------------------------------------------------

TEST_CASE_TEMPLATE_DEFINE("INFO: memory regions, engines, capabilities, memory usage, engine busy time, status", F, vdnn_info_t) {
    F fx;
    auto& c = fx.client();
    session s(c, fx.node());
    const int fd = s.fd();

    const auto identity = item_as<accel_info_identity>(info_item(c, fd, ACCEL_INFO_IDENTITY));
    CHECK(std::string(identity.name) == "vdnn");
    CHECK(identity.version_major == 1);

    const auto regions = item_list<accel_info_memory_region>(info_item(c, fd, ACCEL_INFO_MEMORY_REGIONS));
    REQUIRE(regions.size() == 2);
    CHECK(regions[0].id == VDNN_REGION_SRAM);
    CHECK(regions[0].kind == ACCEL_MEMORY_SRAM);
    CHECK(regions[0].size == memory_layout::sram_size);
    CHECK(std::string(regions[0].name) == "sram");
    CHECK(regions[1].id == VDNN_REGION_DRAM);
    CHECK(regions[1].kind == ACCEL_MEMORY_DEVICE);
    CHECK(regions[1].size == memory_layout::dram_size);
    CHECK(std::string(regions[1].name) == "dram");

    const auto engines = item_list<accel_info_engine>(info_item(c, fd, ACCEL_INFO_ENGINES));
    REQUIRE(engines.size() == 2);
    CHECK(engines[0].id == 0);
    CHECK(engines[0].instances == 2);
    CHECK(std::string(engines[0].name) == "compute");
    CHECK(engines[1].id == 1);
    CHECK(engines[1].instances == 1);
    CHECK(std::string(engines[1].name) == "dma");

    const auto caps = item_as<accel_info_capabilities>(info_item(c, fd, ACCEL_INFO_CAPABILITIES));
    CHECK(caps.flags == ACCEL_INFO_CAP_MMU);
    CHECK(caps.page_sizes == page);
    CHECK(caps.va_bits == 40);

    const accel_info_status st = status_of(c, fd);
    CHECK(st.state == ACCEL_STATE_OPERATIONAL);
    CHECK(st.reset_count == 0);
    CHECK(st.open_files >= 1);
    {
        session other(c, fx.node());
        CHECK(status_of(c, fd).open_files == st.open_files + 1);
    }

    SUBCASE("MEMORY_USAGE follows BO allocation in SRAM and DRAM, not host memory") {
        const u64 sram0 = region_used(c, fd, VDNN_REGION_SRAM), dram0 = region_used(c, fd, VDNN_REGION_DRAM);
        vdnn_bo_create sram{3 * page - 5, VDNN_REGION_SRAM, 0, 0, 0}, dram{5 * page, VDNN_REGION_DRAM, 0, 0, 0},
            host{1 << 20, VDNN_REGION_HOST, 0, 0, 0};
        REQUIRE(s.ioctl(VDNN_IOCTL_BO_CREATE, &sram) == 0);
        CHECK(region_used(c, fd, VDNN_REGION_SRAM) == sram0 + 3 * page);
        CHECK(region_used(c, fd, VDNN_REGION_DRAM) == dram0);
        REQUIRE(s.ioctl(VDNN_IOCTL_BO_CREATE, &dram) == 0);
        CHECK(region_used(c, fd, VDNN_REGION_DRAM) == dram0 + 5 * page);
        REQUIRE(s.ioctl(VDNN_IOCTL_BO_CREATE, &host) == 0);
        CHECK(region_used(c, fd, VDNN_REGION_SRAM) == sram0 + 3 * page);
        CHECK(region_used(c, fd, VDNN_REGION_DRAM) == dram0 + 5 * page);
        // A bound object stays allocated after its handle is closed, until it is unbound.
        u64 va = 0;
        REQUIRE(s.bind(sram.handle, VDNN_BIND_READ, 0, va, 3 * page) == 0);
        CHECK(s.close_handle(sram.handle) == 0);
        CHECK(region_used(c, fd, VDNN_REGION_SRAM) == sram0 + 3 * page);
        CHECK(s.unbind(va, 3 * page) == 0);
        CHECK(region_used(c, fd, VDNN_REGION_SRAM) == sram0);
        CHECK(s.close_handle(dram.handle) == 0);
        CHECK(region_used(c, fd, VDNN_REGION_DRAM) == dram0);
    }
    SUBCASE("ENGINE_BUSY grows on the engines that ran jobs") {
        const auto before = engine_busy(c, fd);
        REQUIRE(before.count(0) == 1);
        REQUIRE(before.count(1) == 1);
        client_buffer& a = s.bound(64 * 64 * 4, VDNN_REGION_DRAM, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
        client_buffer& out = s.bound(1 << 20, VDNN_REGION_DRAM, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
        vdnn_cmd_gemm g{};
        g.dtype = VDNN_DTYPE_FP32, g.m = g.n = g.k = 64, g.lda = g.ldb = g.ldc = 64, g.a = a.va, g.b = a.va, g.c = out.va;
        const u64 j0 = s.run(VDNN_ENGINE_COMPUTE0, one(g), {a.handle, out.handle});
        CHECK(s.wait_job(j0).status == VDNN_STATUS_OK);
        const auto mid = engine_busy(c, fd);
        CHECK(mid.at(0) > before.at(0));
        CHECK(mid.at(1) == before.at(1));
        const u64 j1 = s.run(VDNN_ENGINE_DMA, one(fill_cmd(out.va, 1 << 20, 9)), {out.handle});
        CHECK(s.wait_job(j1).status == VDNN_STATUS_OK);
        const auto after = engine_busy(c, fd);
        CHECK(after.at(1) > mid.at(1));
        CHECK(after.at(0) >= mid.at(0));
    }
}

// ---- monitoring -------------------------------------------------------------------------------

// monitor_path_of and fdinfo_text: tests/core/monitor_helpers.hpp.
using accel::test::fdinfo_text;
using accel::test::monitor_path_of;

/// The value of fdinfo key `key` ("" when absent).
inline std::string fdinfo_value(const std::string& text, const std::string& key) {
    const std::string k = key + ":\t";
    std::size_t at;
    if (text.rfind(k, 0) == 0) {
        at = k.size();
    } else {
        at = text.find("\n" + k);
        if (at == std::string::npos)
            return {};
        at += k.size() + 1;
    }
    return text.substr(at, text.find('\n', at) - at);
}

TEST_CASE_TEMPLATE_DEFINE("monitor: per-client engine time, fdinfo and sensors follow a client's jobs", F, vdnn_monitor_t) {
    F fx;
    auto& c = fx.client();
    session s(c, fx.node());
    session idle(c, fx.node());
    const int mon = c.open(monitor_path_of(fx.node()), O_RDWR);
    REQUIRE(mon >= 0);
    const u64 me = item_as<accel_info_identity>(info_item(c, s.fd(), ACCEL_INFO_IDENTITY)).client_id;
    const u64 other = item_as<accel_info_identity>(info_item(c, idle.fd(), ACCEL_INFO_IDENTITY)).client_id;
    auto client_time = [&](u64 client) {
        std::map<u32, u64> t;
        for (const auto& e : item_list<accel_info_client_engine>(info_item(c, mon, ACCEL_INFO_CLIENT_ENGINES)))
            if (e.client_id == client)
                t[e.engine_id] += e.busy_ns;
        return t;
    };
    auto sensor = [&](u32 type) -> std::int64_t {
        for (const auto& x : item_list<accel_info_sensor>(info_item(c, mon, ACCEL_INFO_SENSORS)))
            if (x.type == type)
                return x.value;
        FAIL("no sensor of type " << type);
        return std::int64_t{0};
    };
    const accel::sim_sensor_profile profile;
    // Nothing ran yet: both engines at 0 for every client, the sensors at idle.
    CHECK(client_time(me) == std::map<u32, u64>{{0, 0}, {1, 0}});
    CHECK(sensor(ACCEL_SENSOR_POWER) == profile.idle_power_uw);
    const std::int64_t energy0 = sensor(ACCEL_SENSOR_ENERGY);
    std::string text = fdinfo_text(c, mon, me);
    CHECK(text.rfind("drm-driver:\tvdnn\ndrm-client-id:\t" + std::to_string(me) + "\n", 0) == 0);
    CHECK(fdinfo_value(text, "drm-engine-compute") == "0 ns");
    CHECK(fdinfo_value(text, "drm-engine-capacity-compute") == "2");
    CHECK(fdinfo_value(text, "drm-engine-dma") == "0 ns");
    CHECK(fdinfo_value(text, "drm-engine-capacity-dma").empty()); // one instance: no line

    client_buffer& a = s.bound(64 * 64 * 4, VDNN_REGION_DRAM, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
    client_buffer& out = s.bound(1 << 20, VDNN_REGION_DRAM, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
    vdnn_cmd_gemm g{};
    g.dtype = VDNN_DTYPE_FP32, g.m = g.n = g.k = 64, g.lda = g.ldb = g.ldc = 64, g.a = a.va, g.b = a.va, g.c = out.va;
    // On both compute engines: their times add up under engine 0.
    const u64 j0 = s.run(VDNN_ENGINE_COMPUTE0, one(g), {a.handle, out.handle});
    const u64 j1 = s.run(VDNN_ENGINE_COMPUTE1, one(g), {a.handle, out.handle});
    const u64 j2 = s.run(VDNN_ENGINE_DMA, one(fill_cmd(out.va, 1 << 20, 9)), {out.handle});
    for (u64 j : {j0, j1, j2})
        CHECK(s.wait_job(j).status == VDNN_STATUS_OK);
    const auto t = client_time(me);
    CHECK(t.at(0) > 0);
    CHECK(t.at(1) > 0);
    CHECK(client_time(other) == std::map<u32, u64>{{0, 0}, {1, 0}}); // another client's time is its own
    // The device's busy time covers the client's.
    const auto busy = engine_busy(c, mon);
    CHECK(busy.at(0) >= t.at(0));
    CHECK(busy.at(1) >= t.at(1));

    text = fdinfo_text(c, mon, me);
    CHECK(fdinfo_value(text, "drm-engine-compute") == std::to_string(t.at(0)) + " ns"); // all jobs ended
    CHECK(fdinfo_value(text, "drm-engine-dma") == std::to_string(t.at(1)) + " ns");
    // vdnn's clocks (compute 1 GHz, DMA 800 MHz): busy time in cycles, and the monotonic clock
    // in cycles, which moves on between two reads.
    CHECK(fdinfo_value(text, "drm-cycles-compute") == std::to_string(t.at(0)));
    CHECK(fdinfo_value(text, "drm-cycles-dma") == std::to_string(t.at(1) / 1000 * 800 + t.at(1) % 1000 * 800 / 1000));
    const std::string total0 = fdinfo_value(text, "drm-total-cycles-compute");
    REQUIRE(!total0.empty());
    CHECK(std::stoull(total0) > std::stoull(fdinfo_value(text, "drm-cycles-compute")));
    CHECK(fdinfo_value(text, "drm-total-cycles-dma").size() > 0);
    CHECK(fdinfo_value(text, "drm-maxfreq-compute").empty()); // total-cycles or maxfreq, not both
    CHECK(fdinfo_value(text, "drm-total-dram") == "1040 KiB"); // 16 KiB + 1 MiB
    CHECK(fdinfo_value(text, "drm-shared-dram") == "0");
    CHECK(fdinfo_value(text, "drm-total-sram") == "0");
    CHECK(fdinfo_value(text, "drm-total-memory") != "0"); // the client library's command buffer
    CHECK(!fdinfo_value(text, "drm-resident-memory").empty());
    CHECK(fdinfo_value(text, "drm-active-dram").empty()); // every job ended
    CHECK(fdinfo_value(fdinfo_text(c, mon, other), "drm-engine-compute") == "0 ns");
    // The same through the client's own file.
    CHECK(fdinfo_value(fdinfo_text(c, s.fd(), me), "drm-engine-dma") == std::to_string(t.at(1)) + " ns");

    // The simulated sensors moved with the load.
    CHECK(sensor(ACCEL_SENSOR_POWER) > profile.idle_power_uw);
    CHECK(sensor(ACCEL_SENSOR_ENERGY) > energy0);

    // A job still running makes its objects active (drm-active-dram: unsignalled fences).
    const hang_clock hc;
    const u64 hung = s.run(VDNN_ENGINE_COMPUTE0, hang_stream(), {a.handle});
    text = fdinfo_text(c, mon, me);
    if (hc.certain())
        CHECK(fdinfo_value(text, "drm-active-dram") == "16 KiB");
    const vdnn_wait w = s.wait_job(hung); // the job timeout ends it (a reset)
    CHECK(w.status == VDNN_STATUS_TIMEOUT);
    // Per-client time never goes back, also across the reset.
    const u64 after_reset = client_time(me).at(0);
    CHECK(after_reset >= t.at(0));
    // CLEAR_STATS (root: the mock's caller always, FUSE's when the test runs as root) zeroes
    // the device-wide figures only.
    status_until(c, mon, [](const accel_info_status& st) { return st.state == ACCEL_STATE_OPERATIONAL; });
    CHECK(status_of(c, mon).reset_count >= 1);
    accel_clear_stats cs{};
    const int cleared = c.ioctl(mon, ACCEL_IOCTL_CLEAR_STATS, &cs);
    if (cleared == -EACCES && std::string(F::name) == "fuse" && ::geteuid() != 0) {
        MESSAGE("not root: CLEAR_STATS not checked through FUSE");
    } else {
        REQUIRE(cleared == 0);
        CHECK(status_of(c, mon).reset_count == 0);
        CHECK(engine_busy(c, mon).at(0) == 0);
        CHECK(client_time(me).at(0) == after_reset);
    }
    CHECK(c.close(mon) == 0);
}

// ---- FUSE coherency ----------------------------------------------------------------------------

TEST_CASE_TEMPLATE_DEFINE("mappings: a job's writes show after WAIT_BO on the object, CPU writes reach the job at SUBMIT", F,
                          vdnn_coherency_t) {
    F fx;
    session s(fx.client(), fx.node());
    for (u32 region : {u32{VDNN_REGION_HOST}, u32{VDNN_REGION_SRAM}}) {
        CAPTURE(region);
        client_buffer& in = s.bound(2 * page, region, VDNN_BIND_READ, 0);
        client_buffer& out = s.bound(2 * page, region, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
        // The client has read the output's pages (cached them, through FUSE) before the job.
        volatile unsigned char sink = 0;
        for (u64 i = 0; i < out.size; i += 512)
            sink = static_cast<unsigned char>(sink + out.as<unsigned char>()[i]);
        CHECK(sink == 0);
        for (int round = 1; round <= 3; ++round) {
            CAPTURE(round);
            std::memset(in.map, round * 16 + 1, in.size); // written before SUBMIT: the job sees it
            const u64 j = s.run(VDNN_ENGINE_DMA, one(copy_cmd(in.va, out.va, 2 * page)), {in.handle, out.handle});
            CHECK(s.wait_job(j).status == VDNN_STATUS_OK); // names no object
            s.sync(out);                                     // names the output: now it shows
            for (u64 i = 0; i < out.size; i += 511)
                REQUIRE(out.as<unsigned char>()[i] == round * 16 + 1);
        }
    }
}

// ---- faults --------------------------------------------------------------------------------------

TEST_CASE_TEMPLATE_DEFINE("MMU faults: unmapped input and output, read-only output, write-only input, nothing else touched", F,
                          vdnn_faults_t) {
    F fx;
    session s(fx.client(), fx.node());
    test::rng r;
    INFO("seed " << r.seed);
    const u32 rw = VDNN_BIND_READ | VDNN_BIND_WRITE;
    // A: 16x128 fp32 (2 pages), B: 128x16 (2 pages), C: 16x16 (1 page); outputs get a
    // neighbouring BO bound right after them.
    const u32 m = 16, n = 16, k = 128;
    placed A = s.place(m * k * 4, VDNN_REGION_DRAM, true, r, VDNN_BIND_READ, 0);
    placed B = s.place(k * n * 4, VDNN_REGION_HOST, true, r, VDNN_BIND_READ, 0);
    A.write_vec(0, r.floats(m * k));
    B.write_vec(0, r.floats(k * n));
    auto neighbour_of = [&](const placed& p) {
        client_buffer& nb = s.buffer(page, VDNN_REGION_SRAM, 0x5a);
        u64 va = p.va + p.bytes;
        REQUIRE(s.bind(nb.handle, rw | VDNN_BIND_FIXED, 0, va, page) == 0);
        return nb;
    };
    auto untouched = [&](const client_buffer& b, int value) {
        s.sync(b);
        for (u64 i = 0; i < b.size; ++i)
            if (b.as<unsigned char>()[i] != value)
                return false;
        return true;
    };
    auto gemm = [&](u64 a, u64 b, u64 c) {
        vdnn_cmd_gemm g{};
        g.dtype = VDNN_DTYPE_FP32, g.m = m, g.n = n, g.k = k, g.lda = k, g.ldb = n, g.ldc = n, g.a = a, g.b = b, g.c = c;
        return one(g);
    };
    auto expect_fault = [&](u64 seq, u64 va) {
        const vdnn_wait w = s.wait_job(seq);
        CHECK(w.status == VDNN_STATUS_MMU_FAULT);
        CHECK(w.error == -EFAULT);
        CHECK(w.fault_va == va);
    };
    const auto a_before = A.snapshot(), b_before = B.snapshot();

    SUBCASE("an unmapped input: nothing written") {
        placed C = s.place(m * n * 4, VDNN_REGION_SRAM, false, r, rw, 0xa5);
        const client_buffer nb = neighbour_of(C);
        const u64 hole = s.fixed_va(2 * page);
        expect_fault(s.run(VDNN_ENGINE_COMPUTE0, gemm(hole, B.va, C.va), {B.bo.handle, C.bo.handle}), hole);
        expect_fault(s.run(VDNN_ENGINE_COMPUTE1, gemm(A.va, hole + 64, C.va), {A.bo.handle, C.bo.handle}), hole + 64);
        CHECK(untouched(C.bo, 0xa5));
        CHECK(untouched(nb, 0x5a));
    }
    SUBCASE("an input whose last page is unmapped: the fault is at that page") {
        placed C = s.place(m * n * 4, VDNN_REGION_DRAM, false, r, rw, 0xa5);
        // A view of A one page shorter than the GEMM reads: bind A's first page only.
        const u64 short_a = s.fixed_va(2 * page);
        u64 va = short_a;
        REQUIRE(s.bind(A.bo.handle, VDNN_BIND_READ | VDNN_BIND_FIXED, 0, va, page) == 0);
        expect_fault(s.run(VDNN_ENGINE_COMPUTE0, gemm(short_a, B.va, C.va), {A.bo.handle, B.bo.handle, C.bo.handle}),
                     short_a + page);
        CHECK(untouched(C.bo, 0xa5));
    }
    SUBCASE("an unmapped output: the inputs and the neighbours stay as they were") {
        const client_buffer na = neighbour_of(A);
        const u64 hole = s.fixed_va(page);
        expect_fault(s.run(VDNN_ENGINE_COMPUTE1, gemm(A.va, B.va, hole), {A.bo.handle, B.bo.handle}), hole);
        // An output that runs off the end of its mapping into the next, unmapped, page.
        placed C = s.place(page, VDNN_REGION_HOST, false, r, rw, 0xa5);
        expect_fault(s.run(VDNN_ENGINE_COMPUTE0, gemm(A.va, B.va, C.va + page - 512), {A.bo.handle, B.bo.handle, C.bo.handle}),
                     C.va + page);
        CHECK(untouched(C.bo, 0xa5));
        CHECK(untouched(na, 0x5a));
        s.sync(A);
        s.sync(B);
        CHECK(A.snapshot() == a_before);
        CHECK(B.snapshot() == b_before);
    }
    SUBCASE("a write through a read-only binding") {
        placed C = s.place(m * n * 4, VDNN_REGION_SRAM, false, r, VDNN_BIND_READ, 0xa5);
        const client_buffer nb = neighbour_of(C);
        expect_fault(s.run(VDNN_ENGINE_COMPUTE0, gemm(A.va, B.va, C.va), {A.bo.handle, B.bo.handle, C.bo.handle}), C.va);
        // The DMA engine's writes are checked the same way, and so are writes into an input.
        expect_fault(s.run(VDNN_ENGINE_DMA, one(copy_cmd(C.va + C.bytes, C.va + 100, 8)), {C.bo.handle}), C.va + 100);
        expect_fault(s.run(VDNN_ENGINE_DMA, one(fill_cmd(A.va + 3, 10, 1)), {A.bo.handle}), A.va + 3);
        CHECK(untouched(C.bo, 0xa5));
        CHECK(untouched(nb, 0x5a));
        s.sync(A);
        CHECK(A.snapshot() == a_before);
    }
    SUBCASE("a read through a write-only binding") {
        placed W = s.place(m * k * 4, VDNN_REGION_DRAM, false, r, VDNN_BIND_WRITE, 0);
        placed C = s.place(m * n * 4, VDNN_REGION_DRAM, false, r, rw, 0xa5);
        expect_fault(s.run(VDNN_ENGINE_COMPUTE1, gemm(W.va, B.va, C.va), {W.bo.handle, B.bo.handle, C.bo.handle}), W.va);
        CHECK(untouched(C.bo, 0xa5));
    }
    SUBCASE("the commands before the faulting one keep their effect, the ones after never run") {
        placed C = s.place(2 * page, VDNN_REGION_HOST, true, r, rw, 0);
        const u64 hole = s.fixed_va(page);
        stream_writer st;
        st.add(fill_cmd(C.va, page, 0x01010101)).add(copy_cmd(hole, C.va + page, 16)).add(fill_cmd(C.va + page, page, 0x02020202));
        expect_fault(s.run(VDNN_ENGINE_DMA, st, {C.bo.handle}), hole);
        s.sync(C);
        CHECK(std::to_integer<int>(*C.host(0)) == 1);
        CHECK(std::to_integer<int>(*C.host(page - 1)) == 1);
        CHECK(std::to_integer<int>(*C.host(page)) == 0);
        CHECK(std::to_integer<int>(*C.host(2 * page - 1)) == 0);
    }
}

TEST_CASE_TEMPLATE_DEFINE("VM_UNBIND while a job using the mapping is queued: the job faults, the BO is untouched", F,
                          vdnn_unbind_queued_t) {
    F fx;
    session s(fx.client(), fx.node());
    // The unbind must come before the hung job's timeout lets the queued jobs run: an attempt
    // where the timeout passed first (a loaded machine) is inconclusive and made again.
    for (int attempt = 1; attempt <= 5; ++attempt) {
        CAPTURE(attempt);
        client_buffer& keep = s.bound(page, VDNN_REGION_DRAM, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
        client_buffer& gone = s.bound(2 * page, VDNN_REGION_HOST, VDNN_BIND_READ | VDNN_BIND_WRITE, 0x77);
        // Both jobs wait for a job that hangs until the driver's job timeout ends it.
        const hang_clock hc;
        const u64 hung = s.run(VDNN_ENGINE_COMPUTE0, hang_stream());
        const u64 a = s.run(VDNN_ENGINE_COMPUTE1, one(fill_cmd(gone.va, 2 * page, 0x01020304)), {gone.handle}, {hung});
        const u64 b = s.run(VDNN_ENGINE_DMA, one(fill_cmd(keep.va, page, 0x05060708)), {keep.handle}, {hung});
        CHECK(s.unbind(gone.va, 2 * page) == 0);
        const bool certain = hc.certain();
        CHECK(s.wait_job(hung).status == VDNN_STATUS_TIMEOUT);
        const vdnn_wait w = s.wait_job(a);
        CHECK(s.wait_job(b).status == VDNN_STATUS_OK);
        if (!certain) {
            MESSAGE("the job timeout passed before the unbind (a loaded machine): again");
            continue;
        }
        CHECK(w.status == VDNN_STATUS_MMU_FAULT);
        CHECK(w.error == -EFAULT);
        CHECK(w.fault_va == gone.va);
        s.sync(gone);
        for (u64 i = 0; i < gone.size; ++i)
            REQUIRE(gone.as<unsigned char>()[i] == 0x77);
        s.sync(keep);
        CHECK(keep.as<unsigned char>()[0] == 0x08);
        return;
    }
    MESSAGE("five attempts, all inconclusive");
}

TEST_CASE_TEMPLATE_DEFINE("teardown: the device goes away while a job hangs and others wait for it, nothing hangs", F,
                          vdnn_teardown_hung_t) {
    // After the file's close, the hung job runs on (until its timeout) as the fixture removes
    // the device: the mock's registration goes, accel-serve gets SIGTERM and must exit 0.
    F fx;
    session s(fx.client(), fx.node());
    client_buffer& x = s.bound(page, VDNN_REGION_SRAM, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
    const u64 hung = s.run(VDNN_ENGINE_COMPUTE0, hang_stream(), {x.handle});
    s.run(VDNN_ENGINE_COMPUTE1, one(fill_cmd(x.va, page, 1)), {x.handle});
    s.run(VDNN_ENGINE_DMA, nop_stream(), {}, {hung});
    s.run(VDNN_ENGINE_COMPUTE0, nop_stream());
}

// ---- events ----------------------------------------------------------------------------------

/// JOB_DONE through read(2): user_data, seqno, status, error and fault_va, for the jobs
/// submitted with VDNN_SUBMIT_EVENT only, each once.
template <class F>
void events_checks() {
    F fx;
    session s(fx.client(), fx.node());
    client_buffer& bo = s.bound(page, VDNN_REGION_SRAM, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
    const u64 ok = s.run(VDNN_ENGINE_COMPUTE0, one(fill_cmd(bo.va, 64, 1)), {bo.handle}, {}, true, 0x1111);
    const u64 quiet = s.run(VDNN_ENGINE_COMPUTE1, one(fill_cmd(bo.va, 64, 2)), {bo.handle});
    const u64 fault = s.run(VDNN_ENGINE_DMA, one(fill_cmd(bo.va + page - 4, 8, 3)), {bo.handle}, {}, true, 0x3333);
    const u64 nop = s.run(VDNN_ENGINE_DMA, nop_stream(), {}, {}, true, ~u64{0});
    for (u64 j : {ok, quiet, fault, nop})
        (void)s.wait_job(j); // the event is queued before WAIT sees the job end
    const auto ev = s.events(3, 10'000);
    CHECK(ev.size() == 3);
    std::map<u64, vdnn_event_job_done> by_seqno;
    for (const auto& e : ev) {
        CHECK(e.base.type == VDNN_EVENT_JOB_DONE);
        CHECK(e.base.length == sizeof(vdnn_event_job_done));
        CHECK(by_seqno.emplace(e.seqno, e).second);
    }
    CHECK(by_seqno.count(quiet) == 0);
    REQUIRE(by_seqno.count(ok) == 1);
    CHECK(by_seqno[ok].user_data == 0x1111);
    CHECK(by_seqno[ok].status == VDNN_STATUS_OK);
    CHECK(by_seqno[ok].error == 0);
    CHECK(by_seqno[ok].fault_va == 0);
    REQUIRE(by_seqno.count(fault) == 1);
    CHECK(by_seqno[fault].user_data == 0x3333);
    CHECK(by_seqno[fault].status == VDNN_STATUS_MMU_FAULT);
    CHECK(by_seqno[fault].error == -EFAULT);
    CHECK(by_seqno[fault].fault_va == bo.va + page);
    REQUIRE(by_seqno.count(nop) == 1);
    CHECK(by_seqno[nop].user_data == ~u64{0});
    CHECK(by_seqno[nop].status == VDNN_STATUS_OK);
    // Nothing more: the events came once each.
    pollfd p{s.fd(), POLLIN, 0};
    CHECK(fx.client().poll(&p, 1, 0) == 0);
    // Events are per file: another file's jobs do not show here.
    {
        session other(fx.client(), fx.node());
        const u64 o = other.run(VDNN_ENGINE_DMA, nop_stream(), {}, {}, true, 7);
        const auto oe = other.events(1, 10'000);
        REQUIRE(oe.size() == 1);
        CHECK(oe[0].seqno == o);
        CHECK(oe[0].user_data == 7);
    }
    CHECK(fx.client().poll(&p, 1, 0) == 0);
}

} // namespace vdnn::dtest
