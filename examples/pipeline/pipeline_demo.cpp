// SPDX-License-Identifier: MIT
// pipeline_demo: two drivers, one buffer, fences between them - a vdnn inference whose output a
// vdsp filter post-processes in place, shared by dma-buf without a copy.
//
//   pipeline_demo               in one process, on the mock backend (one subsystem holding a
//                               vdnn and a vdsp device)
//   pipeline_demo --mount DIR   through real system calls on devices served by accel-serve on
//                               DIR: the producer (vdnn) and the consumer (vdsp) are two
//                               processes, and the buffer and the fence travel between them as
//                               descriptors over a UNIX socket (SCM_RIGHTS)
//
// The producer uploads a matrix pair to vdnn, submits the GEMM (+ReLU) with an out-syncobj,
// exports the output buffer (PRIME_HANDLE_TO_FD: a dma-buf) and the job's fence
// (SYNCOBJ_HANDLE_TO_FD with EXPORT_SYNC_FILE: a sync file), and hands both over. The consumer
// imports the dma-buf into vdsp (PRIME_FD_TO_HANDLE: vdsp reads vdnn's pages), imports the sync
// file into a syncobj of its own, and submits a FIR filter over the imported buffer with that
// syncobj as its in-fence, so vdsp runs only after vdnn's job. It waits, checks the filter's
// output against the reference (GEMM, ReLU and FIR computed on the CPU), then maps the dma-buf
// itself and checks vdnn's output through it (DMA_BUF_IOCTL_SYNC brackets the CPU access).
// A second round uses implicit sync: the consumer's filter names only the imported buffer, and
// the buffer's reservation object (shared by exporter and importer) orders it after the
// producer's next job. Finally vdsp exports its result as a dma-buf of its own, and the producer
// reads it back through that buffer's mapping and checks it. Exit status 0 when every check
// passed.
#include "vdnn_client.hpp"
#include "vdnn_driver.hpp"
#include "vdnn_reference.hpp"
#include "vdsp_client.hpp"
#include "vdsp_driver.hpp"
#include "vdsp_reference.hpp"

#include <accel/accel.hpp>
#include <accel/backend/syscall.hpp>

#include <linux/dma-buf.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <climits>
#include <fcntl.h>
#include <random>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

using clk = std::chrono::steady_clock;
double ms_since(clk::time_point t) { return std::chrono::duration<double, std::milli>(clk::now() - t).count(); }

int failures = 0;
bool check(bool ok, const char* what) {
    if (!ok) {
        std::printf("  FAILED: %s\n", what);
        ++failures;
    }
    return ok;
}
bool check_rc(int rc, const char* what) {
    if (rc < 0)
        std::printf("  FAILED: %s: %s\n", what, std::strerror(-rc));
    failures += rc < 0;
    return rc >= 0;
}

/// The work: C = ReLU(A * B) on vdnn (M x N fp32), then y = FIR(C as one signal) on vdsp.
struct problem {
    static constexpr std::uint32_t m = 64, n = 64, k = 64, taps = 16;
    std::vector<float> a, b, h;
    explicit problem(unsigned seed) {
        std::mt19937 rng(seed);
        std::uniform_real_distribution<float> u(-1.0f, 1.0f);
        a.resize(m * k);
        b.resize(k * n);
        h.resize(taps);
        for (float& x : a)
            x = u(rng);
        for (float& x : b)
            x = u(rng);
        for (float& x : h)
            x = u(rng) / taps;
    }
    float sign = 1.0f; // round two negates B, so its output differs from round one's
    std::vector<float> signed_b() const {
        std::vector<float> s(b);
        for (float& x : s)
            x *= sign;
        return s;
    }
    std::vector<float> gemm_relu() const {
        std::vector<float> c(m * n);
        const std::vector<float> bs = signed_b();
        vdnn::reference::gemm_f32(m, n, k, a.data(), k, bs.data(), n, c.data(), n, false);
        vdnn::reference::relu_f32(c.data(), c.data(), c.size());
        return c;
    }
    std::vector<float> filtered() const { return vdsp::reference::fir(gemm_relu(), h); }
};

bool close_enough(const float* got, const std::vector<float>& want) {
    for (std::size_t i = 0; i < want.size(); ++i)
        if (std::fabs(got[i] - want[i]) > 1e-3f * (1.0f + std::fabs(want[i]))) {
            std::printf("  element %zu: %g, expected %g\n", i, double(got[i]), double(want[i]));
            return false;
        }
    return true;
}

/// A dma-buf's contents through its own mapping, bracketed by DMA_BUF_IOCTL_SYNC (the CPU
/// access protocol: through FUSE the SYNC start is the sync point that drops stale pages).
template <class B>
bool check_dmabuf(B& be, int dmabuf_fd, const std::vector<float>& want, const char* what) {
    const std::size_t bytes = want.size() * 4;
    auto mapped = be.mmap(dmabuf_fd, 0, bytes, PROT_READ, MAP_SHARED);
    if (!check_rc(mapped ? 0 : mapped.error(), "mmap of a dma-buf"))
        return false;
    void* map = *mapped;
    dma_buf_sync sync{DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ};
    check_rc(be.ioctl(dmabuf_fd, DMA_BUF_IOCTL_SYNC, &sync), "DMA_BUF_IOCTL_SYNC start");
    const bool ok = check(close_enough(static_cast<const float*>(map), want), what);
    sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ;
    check_rc(be.ioctl(dmabuf_fd, DMA_BUF_IOCTL_SYNC, &sync), "DMA_BUF_IOCTL_SYNC end");
    be.munmap(map, bytes);
    return ok;
}

/// The first node under `root` whose driver is `name`: its path, or "".
template <class B>
std::string find_node(B& be, std::string_view name) {
    for (int i = 0; i < 64; ++i) {
        std::string path = std::string(be.root()) + "/accel/accel" + std::to_string(i);
        int fd = be.open(path, O_RDWR);
        if (fd < 0)
            continue;
        char buf[32] = {};
        accel_version v{};
        v.name_len = sizeof buf - 1;
        v.name = reinterpret_cast<std::uintptr_t>(buf);
        const bool match = be.ioctl(fd, ACCEL_IOCTL_VERSION, &v) == 0 && std::string_view(buf) == name;
        be.close(fd);
        if (match)
            return path;
    }
    return {};
}

// ---- the producer: vdnn ------------------------------------------------------------------------

template <class B>
struct producer {
    B& be;
    int fd = -1;
    vdnn::client<B>* cl = nullptr;
    vdnn::client_buffer a, b, c;
    std::uint32_t out_syncobj = 0;
    const problem& p;

    producer(B& backend, const std::string& node, const problem& prob) : be(backend), p(prob) {
        fd = be.open(node, O_RDWR);
        if (!check_rc(fd, "open vdnn"))
            return;
        cl = new vdnn::client<B>(be, fd);
        check_rc(cl->create(p.a.size() * 4, VDNN_REGION_HOST, a), "vdnn BO_CREATE a");
        check_rc(cl->create(p.b.size() * 4, VDNN_REGION_HOST, b), "vdnn BO_CREATE b");
        check_rc(cl->create(std::size_t{p.m} * p.n * 4, VDNN_REGION_HOST, c), "vdnn BO_CREATE c");
        check_rc(cl->bind(a, VDNN_BIND_READ), "vdnn VM_BIND a");
        check_rc(cl->bind(b, VDNN_BIND_READ), "vdnn VM_BIND b");
        check_rc(cl->bind(c, VDNN_BIND_READ | VDNN_BIND_WRITE), "vdnn VM_BIND c");
        std::memcpy(a.map, p.a.data(), p.a.size() * 4);
        upload_b();
        accel_syncobj_create sc{0, 0};
        check_rc(be.ioctl(fd, ACCEL_IOCTL_SYNCOBJ_CREATE, &sc), "vdnn SYNCOBJ_CREATE");
        out_syncobj = sc.handle;
    }
    ~producer() {
        delete cl;
        if (fd >= 0)
            be.close(fd);
    }

    /// B as the problem has it now (the CPU writes the mapping; SUBMIT names b, so through FUSE
    /// the dirty pages reach the driver before the job reads them).
    void upload_b() {
        const std::vector<float> bs = p.signed_b();
        std::memcpy(b.map, bs.data(), bs.size() * 4);
    }

    /// GEMM + ReLU into c.
    std::int64_t submit(bool with_out_syncobj) {
        vdnn::stream_writer s;
        vdnn_cmd_gemm g{};
        g.dtype = VDNN_DTYPE_FP32;
        g.m = p.m, g.n = p.n, g.k = p.k;
        g.lda = p.k, g.ldb = p.n, g.ldc = p.n;
        g.a = a.va, g.b = b.va, g.c = c.va;
        s.add(g);
        vdnn_cmd_relu r{};
        r.dtype = VDNN_DTYPE_FP32;
        r.count = std::uint64_t{p.m} * p.n;
        r.src = c.va, r.dst = c.va;
        s.add(r);
        const std::uint32_t bos[] = {a.handle, b.handle, c.handle};
        return cl->submit_synced(VDNN_ENGINE_COMPUTE0, s.bytes(), bos, {}, with_out_syncobj ? out_syncobj : 0);
    }

    /// The output buffer as a dma-buf descriptor (PRIME_HANDLE_TO_FD).
    int export_output() {
        accel_prime_handle ph{c.handle, ACCEL_CLOEXEC | ACCEL_RDWR, -1};
        int r = be.ioctl(fd, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, &ph);
        return r < 0 ? r : ph.fd;
    }
    /// The job's fence as a sync file (SYNCOBJ_HANDLE_TO_FD with EXPORT_SYNC_FILE).
    int export_fence() {
        accel_syncobj_handle h{};
        h.handle = out_syncobj;
        h.flags = ACCEL_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE;
        h.fd = -1;
        int r = be.ioctl(fd, ACCEL_IOCTL_SYNCOBJ_HANDLE_TO_FD, &h);
        return r < 0 ? r : h.fd;
    }
};

// ---- the consumer: vdsp ------------------------------------------------------------------------

template <class B>
struct consumer {
    B& be;
    int fd = -1;
    vdsp::client<B>* cl = nullptr;
    vdsp::client_buffer out;
    std::uint32_t imported = 0, in_syncobj = 0;
    const problem& p;

    consumer(B& backend, const std::string& node, const problem& prob) : be(backend), p(prob) {
        fd = be.open(node, O_RDWR);
        if (!check_rc(fd, "open vdsp"))
            return;
        cl = new vdsp::client<B>(be, fd);
        check_rc(cl->create(std::size_t{p.m} * p.n * 4, out), "vdsp BO_CREATE out");
        accel_syncobj_create sc{0, 0};
        check_rc(be.ioctl(fd, ACCEL_IOCTL_SYNCOBJ_CREATE, &sc), "vdsp SYNCOBJ_CREATE");
        in_syncobj = sc.handle;
    }
    ~consumer() {
        delete cl;
        if (fd >= 0)
            be.close(fd);
    }

    bool import(int dmabuf_fd, int syncfile_fd) {
        accel_prime_handle ph{0, 0, dmabuf_fd};
        if (!check_rc(be.ioctl(fd, ACCEL_IOCTL_PRIME_FD_TO_HANDLE, &ph), "vdsp PRIME_FD_TO_HANDLE"))
            return false;
        imported = ph.handle;
        if (syncfile_fd < 0)
            return true;
        accel_syncobj_handle h{};
        h.handle = in_syncobj;
        h.flags = ACCEL_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE;
        h.fd = syncfile_fd;
        return check_rc(be.ioctl(fd, ACCEL_IOCTL_SYNCOBJ_FD_TO_HANDLE, &h), "vdsp SYNCOBJ_FD_TO_HANDLE (IMPORT_SYNC_FILE)");
    }

    /// FIR over the imported buffer into `out`; explicit: wait for the imported fence.
    bool filter(bool explicit_sync, const char* what) {
        vdsp_submit s{};
        s.op = VDSP_OP_FIR;
        s.in_handle = imported;
        s.out_handle = out.handle;
        s.count = std::uint64_t{p.m} * p.n;
        s.fir_taps = p.taps;
        s.coef = reinterpret_cast<std::uintptr_t>(p.h.data());
        s.in_syncobj = explicit_sync ? in_syncobj : 0;
        const std::int64_t seq = cl->submit(s);
        if (!check_rc(static_cast<int>(seq < 0 ? seq : 0), "vdsp SUBMIT (FIR over the imported buffer)"))
            return false;
        std::int32_t err = 0;
        if (!check_rc(cl->wait(static_cast<std::uint64_t>(seq), 10'000'000'000, err), "vdsp WAIT") || !check(err == 0, "vdsp job status"))
            return false;
        return check(close_enough(out.as<float>(), p.filtered()), what);
    }

    /// vdnn's output read through the dma-buf's own mapping.
    bool read_through_dmabuf(int dmabuf_fd) {
        return check_dmabuf(be, dmabuf_fd, p.gemm_relu(), "vdnn's output through the dma-buf mapping");
    }

    /// vdsp's result as a dma-buf of its own (PRIME_HANDLE_TO_FD on the vdsp node), for the
    /// producer to read back.
    int export_result() {
        accel_prime_handle ph{out.handle, ACCEL_CLOEXEC, -1};
        int r = be.ioctl(fd, ACCEL_IOCTL_PRIME_HANDLE_TO_FD, &ph);
        return r < 0 ? r : ph.fd;
    }
};

// ---- one process, the mock ---------------------------------------------------------------------

int run_mock() {
    accel::subsystem sub;
    auto dnn = accel::device<vdnn::driver>::create();
    vdsp::device_config dcfg;
#ifdef PIPELINE_FIRMWARE_REL
    // The build's generated firmware, found from this executable (as accel-serve finds it).
    char exe[PATH_MAX];
    const ssize_t len = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0 && !std::getenv("ACCEL_FIRMWARE_PATH") && !std::getenv("ACCEL_FIRMWARE_ROOT")) {
        std::string dir(exe, static_cast<std::size_t>(len));
        dir.erase(dir.rfind('/') + 1);
        dcfg.loader = accel::firmware_loader::with_path({dir + PIPELINE_FIRMWARE_REL});
    }
#endif
    auto dsp = accel::device<vdsp::driver>::create(dcfg);
    if (!dnn || !dsp)
        return std::printf("cannot create the devices\n"), 1;
    auto r0 = sub.register_device(*dnn);
    auto r1 = sub.register_device(*dsp);
    if (!r0 || !r1)
        return std::printf("cannot register the devices\n"), 1;
    accel::backend::mock be(sub);
    problem p(7);
    std::printf("== the pipeline on the mock backend: vdnn (%s) -> dma-buf -> vdsp (%s)\n", find_node(be, "vdnn").c_str(),
                find_node(be, "vdsp").c_str());
    producer<accel::backend::mock> prod(be, find_node(be, "vdnn"), p);
    consumer<accel::backend::mock> cons(be, find_node(be, "vdsp"), p);
    auto t = clk::now();
    const std::int64_t job = prod.submit(true);
    check_rc(static_cast<int>(job < 0 ? job : 0), "vdnn SUBMIT (GEMM + ReLU, out-syncobj)");
    const int dmabuf = prod.export_output();
    const int syncfile = prod.export_fence();
    check_rc(dmabuf, "PRIME_HANDLE_TO_FD");
    check_rc(syncfile, "SYNCOBJ_HANDLE_TO_FD (EXPORT_SYNC_FILE)");
    if (dmabuf >= 0 && syncfile >= 0 && cons.import(dmabuf, syncfile)) {
        if (cons.filter(true, "vdsp's FIR of vdnn's output (explicit sync: the sync file)"))
            std::printf("  explicit sync: vdnn GEMM+ReLU -> vdsp FIR over the shared buffer, checked (%.2f ms)\n", ms_since(t));
        if (cons.read_through_dmabuf(dmabuf))
            std::printf("  vdnn's output read through the dma-buf's mapping, checked\n");
        // Round two: B negated, and vdsp's filter names the shared buffer with no syncobj.
        t = clk::now();
        p.sign = -1.0f;
        prod.upload_b();
        const std::int64_t again = prod.submit(false);
        check_rc(static_cast<int>(again < 0 ? again : 0), "vdnn SUBMIT (round two)");
        if (cons.filter(false, "vdsp's FIR after vdnn's second job (implicit sync: the reservation object)"))
            std::printf("  implicit sync: the reservation object ordered vdsp after vdnn, checked (%.2f ms)\n", ms_since(t));
        const int result = cons.export_result();
        if (check_rc(result, "PRIME_HANDLE_TO_FD of vdsp's result") &&
            check_dmabuf(be, result, p.filtered(), "vdsp's result read back through the dma-buf vdsp exported"))
            std::printf("  vdsp's result exported by vdsp and read back through its dma-buf, checked\n");
        if (result >= 0)
            be.close(result);
    }
    if (dmabuf >= 0)
        be.close(dmabuf);
    if (syncfile >= 0)
        be.close(syncfile);
    return failures ? 1 : 0;
}

// ---- two processes through FUSE ----------------------------------------------------------------

int send_fds(int sock, const int* fds, int n) {
    char byte = 'f';
    iovec io{&byte, 1};
    alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * 2)] = {};
    msghdr m{};
    m.msg_iov = &io;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = CMSG_SPACE(sizeof(int) * static_cast<unsigned>(n));
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * static_cast<unsigned>(n));
    std::memcpy(CMSG_DATA(c), fds, sizeof(int) * static_cast<unsigned>(n));
    return ::sendmsg(sock, &m, 0) == 1 ? 0 : -errno;
}

int recv_fds(int sock, int* fds, int n) {
    char byte = 0;
    iovec io{&byte, 1};
    alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * 2)] = {};
    msghdr m{};
    m.msg_iov = &io;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = sizeof ctl;
    if (::recvmsg(sock, &m, MSG_CMSG_CLOEXEC) != 1)
        return -EIO;
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int) * static_cast<unsigned>(n)))
        return -EIO;
    std::memcpy(fds, CMSG_DATA(c), sizeof(int) * static_cast<unsigned>(n));
    return 0;
}

int run_fuse(const std::string& mount) {
    accel::backend::syscall be(mount);
    const std::string dnn_node = find_node(be, "vdnn"), dsp_node = find_node(be, "vdsp");
    if (dnn_node.empty() || dsp_node.empty())
        return std::printf("no vdnn and vdsp devices under %s (accel-serve --devices ...,vdnn,vdsp)\n", mount.c_str()), 1;
    std::printf("== the pipeline through FUSE in two processes: vdnn (%s) -> dma-buf over a UNIX socket -> vdsp (%s)\n",
                dnn_node.c_str(), dsp_node.c_str());
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return std::perror("socketpair"), 1;
    problem p(11);
    std::fflush(stdout);
    const pid_t child = ::fork();
    if (child < 0)
        return std::perror("fork"), 1;
    if (child == 0) { // the consumer
        ::close(sv[0]);
        consumer<accel::backend::syscall> cons(be, dsp_node, p);
        int fds[2] = {-1, -1};
        if (!check_rc(recv_fds(sv[1], fds, 2), "receive the dma-buf and the sync file"))
            ::_exit(1);
        std::printf("  consumer (pid %d): got the dma-buf (fd %d) and the sync file (fd %d) over SCM_RIGHTS\n", int(::getpid()),
                    fds[0], fds[1]);
        auto say = [&](char c) { (void)!::write(sv[1], &c, 1); };
        if (cons.import(fds[0], fds[1])) {
            if (cons.filter(true, "vdsp's FIR of vdnn's output (explicit sync: the sync file)"))
                std::printf("  consumer: vdsp's FIR over vdnn's buffer after vdnn's fence, checked\n");
            if (cons.read_through_dmabuf(fds[0]))
                std::printf("  consumer: vdnn's output read through the dma-buf's own mapping, checked\n");
            std::fflush(stdout);
            // Round two: the producer submits again (B negated) and says so; the filter names
            // only the shared buffer, whose reservation object orders it after that job.
            say(failures ? 'x' : 'k');
            char next = 0;
            if (check(::read(sv[1], &next, 1) == 1 && next == '2', "the producer's second round")) {
                p.sign = -1.0f;
                if (cons.filter(false, "vdsp's FIR after vdnn's second job (implicit sync: the reservation object)"))
                    std::printf("  consumer: round two with implicit sync across processes and drivers, checked\n");
            }
        }
        ::close(fds[0]);
        ::close(fds[1]);
        // The result goes back the same way: vdsp exports its output, the producer reads it.
        const int result = failures ? -1 : cons.export_result();
        std::fflush(stdout);
        if (result >= 0 && check_rc(send_fds(sv[1], &result, 1), "send the result's dma-buf"))
            std::printf("  consumer: vdsp's result exported as a dma-buf (fd %d) and sent back\n", result);
        else
            say('x');
        std::fflush(stdout);
        char done = 0;
        check(::read(sv[1], &done, 1) == 1 && done == 'k', "the producer's read-back");
        if (result >= 0)
            ::close(result);
        ::_exit(failures ? 1 : 0);
    }
    ::close(sv[1]);
    {
        producer<accel::backend::syscall> prod(be, dnn_node, p);
        const std::int64_t job = prod.submit(true);
        check_rc(static_cast<int>(job < 0 ? job : 0), "vdnn SUBMIT (GEMM + ReLU, out-syncobj)");
        const int fds[2] = {prod.export_output(), prod.export_fence()};
        if (check_rc(fds[0], "PRIME_HANDLE_TO_FD") && check_rc(fds[1], "SYNCOBJ_HANDLE_TO_FD (EXPORT_SYNC_FILE)")) {
            std::printf("  producer (pid %d): vdnn job %lld submitted; its output as a dma-buf (fd %d), its fence as a sync file (fd %d)\n",
                        int(::getpid()), static_cast<long long>(job), fds[0], fds[1]);
            std::fflush(stdout);
            check_rc(send_fds(sv[0], fds, 2), "send the descriptors");
            // The producer's descriptors go now: the consumer's keep the buffer and the fence.
            ::close(fds[0]);
            ::close(fds[1]);
            char done = 0;
            if (check(::read(sv[0], &done, 1) == 1 && done == 'k', "the consumer's first verdict")) {
                p.sign = -1.0f;
                prod.upload_b();
                const std::int64_t again = prod.submit(false);
                check_rc(static_cast<int>(again < 0 ? again : 0), "vdnn SUBMIT (round two)");
                std::printf("  producer: round two (B negated) submitted as vdnn job %lld, no syncobj\n", static_cast<long long>(again));
                std::fflush(stdout);
                const char two = '2';
                (void)!::write(sv[0], &two, 1);
                int result = -1;
                if (check_rc(recv_fds(sv[0], &result, 1), "receive vdsp's result as a dma-buf")) {
                    if (check_dmabuf(be, result, p.filtered(), "vdsp's result read back by the producer through vdsp's dma-buf"))
                        std::printf("  producer: vdsp's result read back through the dma-buf it received, checked\n");
                    ::close(result);
                }
                std::fflush(stdout);
                const char verdict = failures ? 'x' : 'k';
                (void)!::write(sv[0], &verdict, 1);
            }
        }
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the consumer process");
    ::close(sv[0]);
    return failures ? 1 : 0;
}

} // namespace

int main(int argc, char** argv) {
    std::string mount;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--mount" && i + 1 < argc)
            mount = argv[++i];
        else
            return std::fprintf(stderr, "usage: pipeline_demo [--mount DIR]\n"), 2;
    }
    const int rc = mount.empty() ? run_mock() : run_fuse(mount);
    std::printf(rc == 0 ? "pipeline: every check passed\n" : "pipeline: %d check(s) failed\n", failures);
    return rc;
}
