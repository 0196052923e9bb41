// SPDX-License-Identifier: MIT
// vdnn imports another driver's buffer through PRIME and its engines use it: VM_BIND of the
// imported object (a host-region object whose memory is the exporter's: vdnn pins its CPU view
// in the host aperture, through the identity DMA domain) and a DMA-engine COPY in both
// directions; the exporter sees the device's writes and the device reads the exporter's bytes.
#include "vdnn_driver_fixtures.hpp"
#include "vdnn_driver_util.hpp"

#include "../core/test_drivers.hpp"

#include <accel/share/prime.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cstring>
#include <thread>

using namespace vdnn::dtest;

TEST_CASE("vdnn: VM_BIND and DMA of a dma-buf imported from another driver") {
    mock_device md;
    auto exp = accel::device<accel::test::test_driver>::create();
    REQUIRE(exp);
    auto exp_reg = md.sub.register_device(*exp);
    REQUIRE(exp_reg);
    {
        const int e = md.mock.open(std::string(md.mock.root()) + "/" +
                                       accel::node_name(accel::node_kind::compute, exp_reg->minor()),
                                   O_RDWR);
        REQUIRE(e >= 0);
        test_bo_create b{2 * page, 0, 0, 0};
        REQUIRE(md.mock.ioctl(e, TEST_IOCTL_BO_CREATE, &b) == 0);
        auto em = md.mock.mmap(e, b.mmap_offset, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED);
        REQUIRE(em);
        auto* ew = static_cast<std::uint64_t*>(*em);
        for (unsigned i = 0; i < 512; ++i)
            ew[i] = 0x1000 + i; // the exporter's first page
        accel_prime_handle ex{b.handle, ACCEL_CLOEXEC | ACCEL_RDWR, -1};
        REQUIRE(md.mock.ioctl(e, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, &ex) == 0);

        session<accel::backend::mock> s(md.mock, md.node());
        accel_prime_handle im{0, 0, ex.fd};
        REQUIRE(s.ioctl(ACCEL_IOCTL_PRIME_FD_TO_HANDLE, &im) == 0);
        u64 va = 0;
        REQUIRE(s.bind(im.handle, VDNN_BIND_READ | VDNN_BIND_WRITE, 0, va, 2 * page) == 0);
        vdnn::client_buffer& dst = s.bound(2 * page, VDNN_REGION_DRAM, VDNN_BIND_READ | VDNN_BIND_WRITE, 0);
        // The device reads the exporter's page into its DRAM...
        u64 seq = s.run(VDNN_ENGINE_DMA, one(copy_cmd(va, dst.va, page)), {im.handle, dst.handle});
        vdnn_wait w = s.wait_job(seq);
        CHECK(w.status == VDNN_STATUS_OK);
        CHECK(std::memcmp(dst.map, ew, page) == 0);
        // ...and writes into the import's second page, which the exporter sees.
        for (unsigned i = 0; i < 512; ++i)
            dst.as<std::uint64_t>()[i] = 0x5000 + i;
        seq = s.run(VDNN_ENGINE_DMA, one(copy_cmd(dst.va, va + page, page)), {im.handle, dst.handle});
        w = s.wait_job(seq);
        CHECK(w.status == VDNN_STATUS_OK);
        CHECK(ew[512] == 0x5000);
        CHECK(ew[1023] == 0x5000 + 511);
        // The exporter's file, the dma-buf fd and its mapping go first: the import stays valid.
        CHECK(md.mock.munmap(*em, 2 * page) == 0);
        CHECK(md.mock.close(ex.fd) == 0);
        CHECK(md.mock.close(e) == 0);
        seq = s.run(VDNN_ENGINE_DMA, one(copy_cmd(va, dst.va, page)), {im.handle, dst.handle});
        w = s.wait_job(seq);
        CHECK(w.status == VDNN_STATUS_OK);
        CHECK(dst.as<std::uint64_t>()[0] == 0x1000);
        s.close();
    }
    // vdnn frees a job (and with it its references to the objects and the VA space) on its
    // scheduler's worker: the exporter's object goes once that has happened.
    for (int i = 0; i < 500 && (**exp)->objects_freed.load() == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK((**exp)->objects_freed == 1);
}
