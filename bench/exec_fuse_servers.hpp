// SPDX-License-Identifier: MIT
// The FUSE servers of bench/exec_latency: this very program re-executed in a server mode
// (fuse_servers.hpp has the mechanism, the `server` class and the bare daemon, shared with
// bench/sharing). Its modes:
//
//   vdnn       accel::fuse::host serving one vdnn device (accel0 under the mount), as
//              accel-serve --devices vdnn does: what null_job/fuse submits to and waits on.
//   bare_poll  fuse_servers.hpp's bare libfuse3 daemon (the floor of fuse_ioctl_poll).
#pragma once
#include "fuse_servers.hpp"
#include "vdnn_driver.hpp"

#include <accel/accel.hpp>

#include <cstdlib>
#include <string>
#include <string_view>
#include <sys/prctl.h>
#include <unistd.h>

namespace accel::bench::exec_servers {

using namespace ::accel::bench::fuse_servers; // server, bare, bump_arg, poll_stats, ...

// ---- the vdnn server ---------------------------------------------------------------------------

inline int serve_vdnn(const std::string& mnt, int ready_fd) {
    accel::subsystem sub;
    auto dev = vdnn::device::create();
    if (!dev)
        return 2;
    auto reg = sub.register_device(accel::device_ref(dev->get()));
    if (!reg)
        return 2;
    return serve_host(sub, mnt, ready_fd);
}

/// The server mode: `<program> --bench-fuse-server MODE MOUNT READY_FD`. Its exit status, or
/// -1 when the command line is not a server's.
inline int server_main(int argc, char** argv) {
    if (argc != 5 || std::string_view(argv[1]) != fuse_servers::server_flag)
        return -1;
    const std::string_view mode = argv[2];
    const std::string mnt = argv[3];
    const int ready_fd = std::atoi(argv[4]);
    // Named for ps and perf (a re-executed /proc/self/exe is "exe"); threads inherit the name.
    ::prctl(PR_SET_NAME, mode == "vdnn" ? "xlat-srv-vdnn" : "xlat-srv-bare");
    if (mode == "vdnn")
        return serve_vdnn(mnt, ready_fd);
    if (mode == "bare_poll")
        return bare::serve(mnt, ready_fd);
    return 2;
}

} // namespace accel::bench::exec_servers
