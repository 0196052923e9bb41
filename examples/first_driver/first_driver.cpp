// The README's walkthrough, verbatim (tests/readme_sync.cmake keeps the two equal).
#include <accel/accel.hpp>

// my_uapi.h would hold this, plain C, shared with clients:
struct my_add { __u64 a, b, sum; __u32 flags, pad; };
#define MY_IOCTL_ADD ACCEL_IOWR(ACCEL_COMMAND_BASE + 0, struct my_add)

struct my_driver {
    static constexpr accel::driver_info info{1, 0, 0, "mine", "my first accel driver"};
    struct device_data { std::atomic<std::uint64_t> adds{0}; };
    struct file_data {};
    static int add(accel::device<my_driver>& dev, accel::file<my_driver>&, my_add& arg) {
        if (arg.flags || arg.pad) return -EINVAL;      // unknown bits: refuse, keep them for later
        arg.sum = arg.a + arg.b;
        dev->adds++;
        return 0;                                      // or a negative errno
    }
    using ioctls = accel::ioctl_table<ACCEL_IOCTL(MY_IOCTL_ADD, &add, accel::ioctl_flags::none)>;
};

int main() {
    accel::subsystem sub;
    auto dev = accel::device<my_driver>::create();          // accel::result<ref>: value or -errno
    auto reg = sub.register_device(*dev);                   // minor 0: accel/accel0 + accel/accel_controlD0
    accel::backend::mock client(sub);                       // POSIX-shaped: open/ioctl/close, -errno
    int fd = client.open("/dev/accel/accel0", O_RDWR);
    my_add a{};
    a.a = 40, a.b = 2;
    int err = client.ioctl(fd, MY_IOCTL_ADD, &a);           // a.sum == 42
    accel_version v{};                                      // core ioctls come for free
    client.ioctl(fd, ACCEL_IOCTL_VERSION, &v);              // v.name_len == 4 ("mine")
    client.close(fd);
    return err || a.sum != 42 || v.name_len != 4;           // ~registration unregisters the device
}
