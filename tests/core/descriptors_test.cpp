// SPDX-License-Identifier: MIT
// fd_install and fget through the mock (core/descriptors.hpp): a descriptor made by a call
// becomes the caller's only when the call succeeds; a failed call leaves no number and no file.
#include <accel/accel.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>

namespace {

using namespace accel;

std::atomic<int> token_files{0}; // token files alive

/// A file kind of its own, as a sync file is one: an ioctl reports the value it carries.
struct token_file final : open_file {
    static const file_operations fops;
    explicit token_file(int v) : open_file(fops, O_RDWR), value(v) { ++token_files; }
    ~token_file() { --token_files; }
    int value;
};
const file_operations token_file::fops{
    .kind = "token",
    .ioctl = [](open_file& f, ioctl_cmd, std::uint64_t) noexcept -> int { return static_cast<token_file&>(f).value; },
    .release = [](open_file& f) noexcept { delete &static_cast<token_file&>(f); },
};

struct make_arg {
    __u32 value;
    __u32 fail_after; // 1: the handler fails after installing; 2: installs twice
    __s32 fd;
    __u32 pad;
};
struct name_arg {
    __s32 fd;
    __s32 value; // out: the token file's value
};
#define DESC_TEST_MAKE ACCEL_IOWR(0x40, struct make_arg)
#define DESC_TEST_NAME ACCEL_IOWR(0x41, struct name_arg)

struct desc_driver {
    static constexpr driver_info info{1, 0, 0, "desc", "descriptor test driver", "20261205"};
    struct device_data {};
    struct file_data {};
    static int make(device<desc_driver>&, file<desc_driver>&, make_arg& a) {
        auto* f = new token_file(static_cast<int>(a.value));
        auto fd = fd_install(open_file_ref(f, false), O_CLOEXEC);
        if (!fd)
            return fd.error();
        a.fd = *fd;
        if (a.fail_after == 2) {
            auto second = fd_install(open_file_ref(new token_file(7), false), O_CLOEXEC);
            if (!second)
                return second.error();
        }
        return a.fail_after == 1 ? -EIO : 0;
    }
    static int name(device<desc_driver>&, file<desc_driver>&, name_arg& a) {
        auto f = fget(a.fd);
        if (!f)
            return f.error();
        if ((*f)->fops().kind != "token")
            return -EINVAL; // as dma_buf_get answers for a descriptor of another kind
        a.value = static_cast<token_file&>(**f).value;
        return 0;
    }
    using ioctls = ioctl_table<ACCEL_IOCTL(DESC_TEST_MAKE, &make, ioctl_flags::render_allow),
                               ACCEL_IOCTL(DESC_TEST_NAME, &name, ioctl_flags::render_allow)>;
};

struct fixture {
    subsystem sub;
    registration reg;
    backend::mock mock{sub};
    int node = -1;
    fixture() {
        auto d = device<desc_driver>::create();
        REQUIRE(d);
        auto r = sub.register_device(*d);
        REQUIRE(r);
        reg = std::move(*r);
        node = mock.open(std::string(mock.root()) + "/" + node_name(node_kind::compute, reg.minor()));
        REQUIRE(node >= 0);
    }
};

} // namespace

TEST_CASE_FIXTURE(fixture, "fd_install: the new descriptor is the lowest free number and names the file") {
    make_arg m{42, 0, -1, 0};
    REQUIRE(mock.ioctl(node, DESC_TEST_MAKE, &m) == 0);
    CHECK(m.fd == node + 1);
    CHECK(mock.open_descriptors() == 2);
    CHECK(mock.ioctl(m.fd, 0, nullptr) == 42); // the file's own operations answer on it
    name_arg n{m.fd, 0};
    REQUIRE(mock.ioctl(node, DESC_TEST_NAME, &n) == 0);
    CHECK(n.value == 42);
    CHECK(mock.close(m.fd) == 0);
    CHECK(token_files == 0);
}

TEST_CASE_FIXTURE(fixture, "fd_install: a failed call leaves no descriptor and drops the file") {
    make_arg m{1, 1, -1, 0};
    CHECK(mock.ioctl(node, DESC_TEST_MAKE, &m) == -EIO);
    CHECK(mock.open_descriptors() == 1);
    CHECK(token_files == 0);
    CHECK(mock.ioctl(m.fd, 0, nullptr) == -EBADF);
    // A fault on copy-out is a failure too: the kernel installs only after copy_to_user.
    CHECK(mock.ioctl(node, DESC_TEST_MAKE, nullptr) == -EFAULT);
    CHECK(mock.open_descriptors() == 1);
    // Two installs in one successful call give two descriptors.
    make_arg two{5, 2, -1, 0};
    REQUIRE(mock.ioctl(node, DESC_TEST_MAKE, &two) == 0);
    CHECK(mock.open_descriptors() == 3);
    CHECK(token_files == 2);
}

TEST_CASE_FIXTURE(fixture, "fget: -EBADF for a closed or never-opened descriptor; another kind is the handler's to refuse") {
    name_arg n{-1, 0};
    CHECK(mock.ioctl(node, DESC_TEST_NAME, &n) == -EBADF);
    n.fd = 999;
    CHECK(mock.ioctl(node, DESC_TEST_NAME, &n) == -EBADF);
    n.fd = node; // the device file itself: not a token file
    CHECK(mock.ioctl(node, DESC_TEST_NAME, &n) == -EINVAL);
    make_arg m{3, 0, -1, 0};
    REQUIRE(mock.ioctl(node, DESC_TEST_MAKE, &m) == 0);
    REQUIRE(mock.close(m.fd) == 0);
    n.fd = m.fd;
    CHECK(mock.ioctl(node, DESC_TEST_NAME, &n) == -EBADF);
}

TEST_CASE_FIXTURE(fixture, "fd_install: -EMFILE when the table is full leaves the caller's table as it was") {
    // Fill the table with token files through the ioctl, then one more fails cleanly.
    int made = 0;
    for (;;) {
        make_arg m{0, 0, -1, 0};
        int r = mock.ioctl(node, DESC_TEST_MAKE, &m);
        if (r < 0) {
            CHECK(r == -EMFILE);
            break;
        }
        ++made;
    }
    CHECK(made == backend::mock::max_chunks * backend::mock::chunk_slots - 1);
    CHECK(token_files == made);
}
