// SPDX-License-Identifier: MIT
// The null job of the execution benchmarks (a vdnn job holding one VDNN_OP_NOP, submitted and
// waited for by one client), its in-process vdnn device, and the CPU clocks the benchmarks
// report: shared by bench/exec_latency (the null job's latency and throughput) and bench/monitor
// (the null-job rate with and without a monitoring client).
#pragma once
#include "vdnn_client.hpp"
#include "vdnn_driver.hpp"

#include <accel/accel.hpp>
#include <accel/backend/mock.hpp>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <optional>
#include <string>

namespace accel::bench {

/// CPU time this process has used (all threads), in ns.
inline std::int64_t process_cpu_ns() {
    timespec t{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}
/// CPU time the calling thread has used, in ns.
inline std::int64_t thread_cpu_ns() {
    timespec t{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}

/// How a null job's WAIT gives its deadline: none (INT64_MAX, DRM's "for ever", which parks
/// without a timer), or 10 s from now (the parked request also joins the deadline timer).
enum class wait_deadline { none, ten_seconds };

/// One client of vdnn through backend B: its own descriptor and a one-page command buffer
/// holding a single VDNN_OP_NOP, written once through the mapping (so a SUBMIT through FUSE
/// finds no dirty page to write back; it still syncs the buffer, as every SUBMIT naming it does).
/// run_one() is the null job: SUBMIT to COMPUTE0, then WAIT (VDNN_WAIT_JOB) for its seqno.
template <class B>
class null_job_client {
public:
    null_job_client(B& b, const std::string& node) : b_(&b) {
        fd_ = b.open(node, O_RDWR);
        if (fd_ < 0) {
            error_ = "open " + node + ": " + std::strerror(-fd_);
            return;
        }
        cl_.emplace(b, fd_);
        if (int r = cl_->create(4096, VDNN_REGION_HOST, cmd_)) {
            error_ = std::string("command buffer: ") + std::strerror(-r);
            return;
        }
        vdnn_cmd_nop nop{};
        nop.hdr.op = VDNN_OP_NOP;
        nop.hdr.length_bytes = sizeof nop;
        std::memcpy(cmd_.map, &nop, sizeof nop);
    }
    ~null_job_client() {
        if (cmd_.map)
            (void)cl_->release(cmd_);
        cl_.reset();
        if (fd_ >= 0)
            b_->close(fd_);
    }
    null_job_client(const null_job_client&) = delete;
    null_job_client& operator=(const null_job_client&) = delete;

    /// Empty when ready.
    const std::string& error() const noexcept { return error_; }

    /// 0, an ioctl's -errno, or -EIO when the job did not end with VDNN_STATUS_OK.
    int run_one(wait_deadline deadline = wait_deadline::none) {
        vdnn_submit s{};
        s.engine = VDNN_ENGINE_COMPUTE0;
        s.cmd_handle = cmd_.handle;
        s.cmd_size = sizeof(vdnn_cmd_nop);
        if (int r = b_->ioctl(fd_, VDNN_IOCTL_SUBMIT, &s))
            return r;
        vdnn_wait w{};
        w.flags = VDNN_WAIT_JOB;
        w.handle_or_seqno = s.seqno;
        w.timeout_ns = deadline == wait_deadline::none ? INT64_MAX : accel::monotonic_ns() + 10'000'000'000;
        if (int r = b_->ioctl(fd_, VDNN_IOCTL_WAIT, &w))
            return r;
        return w.status == VDNN_STATUS_OK ? 0 : -EIO;
    }

private:
    B* b_;
    int fd_ = -1;
    std::optional<vdnn::client<B>> cl_;
    vdnn::client_buffer cmd_;
    std::string error_;
};

/// The in-process vdnn device the mock benchmarks share (its engine and scheduler threads live
/// from the first such benchmark to the end of main).
struct mock_device {
    accel::subsystem sub;
    vdnn::device::ref dev;
    std::optional<accel::registration> reg;
    std::optional<accel::backend::mock> m;
    std::string node, error;

    mock_device() {
        auto d = vdnn::device::create();
        if (!d) {
            error = std::string("vdnn device: ") + std::strerror(-d.error());
            return;
        }
        dev = *d;
        auto r = sub.register_device(accel::device_ref(dev.get()));
        if (!r) {
            error = std::string("registering the vdnn device: ") + std::strerror(-r.error());
            return;
        }
        reg.emplace(std::move(*r));
        m.emplace(sub);
        node = std::string(m->root()) + "/" + accel::node_name(accel::node_kind::compute, reg->minor());
    }
    ~mock_device() {
        m.reset(); // closes what is still open
        reg.reset();
        dev.reset();
    }
};

} // namespace accel::bench
