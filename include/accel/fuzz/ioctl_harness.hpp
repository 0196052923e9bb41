// SPDX-License-Identifier: MIT
#pragma once
/// \file The reusable ioctl fuzz harness: one template turns a driver type into a libFuzzer
/// target for its whole ioctl table, run on backend::mock in one process.
///
///     #include <accel/fuzz/ioctl_harness.hpp>
///     ACCEL_FUZZ_IOCTL_TARGET(my_driver)                   // defines LLVMFuzzerTestOneInput
///     ACCEL_FUZZ_IOCTL_TARGET_WITH(my_driver, my_hooks)    // with fuzz/ioctl_hooks.hpp's hooks
///
/// The input is a program (fuzz/ioctl_program.hpp) in a small call-sequence language, as
/// syzkaller's programs are: OPEN a node, CLOSE, IOCTL with a command from the driver's and the
/// core's tables (now and then a garbled number or size), MMAP and MUNMAP, and writes into a user
/// arena that embedded pointers point into. Values calls return flow into later calls through a
/// resource pool (fuzz/resource_pool.hpp). A call may run with one framework allocation failing
/// (base/fault_injection.hpp), so error paths meet the same checks. Each run builds a fresh
/// subsystem, mock and devices.
///
/// Invariants, checked after every call (a violation prints what and aborts):
///   - the result is 0 or a negative errno the kernel uses (fuzz/errno_set.hpp), unless the
///     hooks allow that command another value;
///   - the dispatcher wrote only inside the argument's encoded size, and only for a request with
///     _IOC_READ; nothing past the arena or the argument buffer (fuzz/user_arena.hpp);
///   - a failed call created no descriptor;
/// and once the program ends and every mapping and descriptor is closed (fuzz/leak_checks.hpp):
/// no descriptor, no mapping, no open file on any device, no mmap offset (so no buffer object),
/// no parked request, the driver's own checks (hooks' check_idle); then, the devices
/// unregistered, no minor held.
#include <accel/accel.hpp>
#include <accel/backend/mock.hpp>
#include <accel/fuzz/command_catalogue.hpp>
#include <accel/fuzz/errno_set.hpp>
#include <accel/fuzz/input_stream.hpp>
#include <accel/fuzz/ioctl_hooks.hpp>
#include <accel/fuzz/ioctl_program.hpp>
#include <accel/fuzz/leak_checks.hpp>
#include <accel/fuzz/resource_pool.hpp>
#include <accel/fuzz/user_arena.hpp>
#include <accel/fuzz/violation.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace accel::fuzz {

template <class D, class Hooks = default_ioctl_hooks<D>>
class ioctl_harness {
    static_assert(Hooks::devices >= 1 && Hooks::devices <= 4, "ioctl_harness: 1 to 4 devices");

public:
    ioctl_harness() : commands_(commands_of<D>()) {}

    /// Runs one program. 0 (libFuzzer's convention); a violated invariant aborts.
    int run(const std::uint8_t* data, std::size_t size) {
        input_stream in(data, size);
        subsystem sub;
        std::vector<typename device<D>::ref> devs;
        std::vector<registration> regs;
        for (unsigned i = 0; i < Hooks::devices; ++i) {
            auto d = Hooks::create_device(i);
            if (!d)
                violation("setup: creating device %u failed (%d)", i, d.error());
            auto r = sub.register_device(*d);
            if (!r)
                violation("setup: registering device %u failed (%d)", i, r.error());
            devs.push_back(*d);
            regs.push_back(std::move(*r));
        }
        {
            backend::mock m(sub);
            arena_.reset();
            m.set_user_memory(&arena_);
            program_state st{m, arena_, commands_, in};
            for (unsigned i = 0; i < Hooks::devices; ++i)
                st.node_minors[i] = regs[i].minor();
            st.devices = Hooks::devices;
            st.prepare = &Hooks::prepare;
            st.result_allowed = &Hooks::result_allowed;
            {
                backend::mock::identity root({0, ::getpid(), true, 0});
                run_program(st);
                close_everything(st);
            }
            check_nothing_left(m);
            m.set_user_memory(nullptr);
        }
        for (auto& d : devs) {
            Hooks::settle(*d);
            check_device_idle(*d);
            Hooks::check_idle(*d);
        }
        for (auto& r : regs)
            r.reset();
        devs.clear();
        check_minors_free(sub);
        return 0;
    }

private:
    user_arena arena_;
    std::vector<command> commands_;
};

/// The one harness of a fuzz target (built at first use, so its catalogue is built once).
template <class D, class Hooks = default_ioctl_hooks<D>>
int run_ioctl_harness(const std::uint8_t* data, std::size_t size) {
    static ioctl_harness<D, Hooks>* h = new ioctl_harness<D, Hooks>(); // never destroyed: no exit-order issues
    return h->run(data, size);
}

} // namespace accel::fuzz

/// Defines LLVMFuzzerTestOneInput for `driver`'s whole ioctl table (default hooks).
#define ACCEL_FUZZ_IOCTL_TARGET(driver) ACCEL_FUZZ_IOCTL_TARGET_WITH(driver, ::accel::fuzz::default_ioctl_hooks<driver>)
/// Likewise with a hooks type (fuzz/ioctl_hooks.hpp): firmware, several devices, wait clamps.
#define ACCEL_FUZZ_IOCTL_TARGET_WITH(driver, hooks)                                                   \
    extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {               \
        return ::accel::fuzz::run_ioctl_harness<driver, hooks>(data, size);                           \
    }
