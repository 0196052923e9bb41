// SPDX-License-Identifier: MIT
// Compile-time conformance rows (mp-units style): which types model accel's concepts and which
// do not. Built with the header self-containment TUs, so a regression stops the build. Runtime
// behaviour is tested by the doctest suites; here only the concepts' answers are pinned.
#include <accel/accel.hpp>
#include <accel/exec/scheduler.hpp>

#include <cstdint>
#include <vector>

namespace accel_static_rows {

struct row_args {
    std::uint64_t value;
};
#define STATIC_ROW_IOCTL ACCEL_IOWR(ACCEL_COMMAND_BASE, struct row_args)

struct good_driver {
    static constexpr accel::driver_info info{1, 0, 0, "good", "models accel::driver"};
    struct device_data {};
    struct file_data {};
    static int row(accel::device<good_driver>&, accel::file<good_driver>&, row_args&) { return 0; }
    using ioctls = accel::ioctl_table<ACCEL_IOCTL(STATIC_ROW_IOCTL, &row, accel::ioctl_flags::none)>;
};

struct empty_table_driver {
    static constexpr accel::driver_info info{1, 0, 0, "empty", "no driver ioctls"};
    struct device_data {};
    struct file_data {};
    using ioctls = accel::ioctl_table<>;
};

struct hooks_driver : empty_table_driver {
    static int probe(accel::device<hooks_driver>&) { return 0; }
    static void remove(accel::device<hooks_driver>&) {}
    static accel::result<file_data> open(accel::device<hooks_driver>&) { return file_data{}; }
    static void postclose(accel::device<hooks_driver>&, accel::file<hooks_driver>&) {}
    static constexpr bool exclusive = true;
};

struct no_info {
    struct device_data {};
    struct file_data {};
    using ioctls = accel::ioctl_table<>;
};
struct no_device_data {
    static constexpr accel::driver_info info{};
    struct file_data {};
    using ioctls = accel::ioctl_table<>;
};
struct no_file_data {
    static constexpr accel::driver_info info{};
    struct device_data {};
    using ioctls = accel::ioctl_table<>;
};
struct no_ioctls {
    static constexpr accel::driver_info info{};
    struct device_data {};
    struct file_data {};
};
struct ioctls_not_a_table {
    static constexpr accel::driver_info info{};
    struct device_data {};
    struct file_data {};
    using ioctls = std::vector<int>;
};
struct reference_file_data {
    static constexpr accel::driver_info info{};
    struct device_data {};
    using file_data = int&;
    using ioctls = accel::ioctl_table<>;
};

// accel::driver
static_assert(accel::driver<good_driver>);
static_assert(accel::driver<empty_table_driver>);
static_assert(accel::driver<hooks_driver>);
static_assert(!accel::driver<no_info>);
static_assert(!accel::driver<no_device_data>);
static_assert(!accel::driver<no_file_data>);
static_assert(!accel::driver<no_ioctls>);
static_assert(!accel::driver<ioctls_not_a_table>);
static_assert(!accel::driver<reference_file_data>);
static_assert(!accel::driver<int>);

// Optional hooks are detected, not required.
static_assert(!accel::driver_has_probe<good_driver> && !accel::driver_has_open<good_driver>);
static_assert(!accel::driver_has_remove<good_driver> && !accel::driver_has_postclose<good_driver>);
static_assert(accel::driver_has_probe<hooks_driver> && accel::driver_has_open<hooks_driver>);
static_assert(accel::driver_has_remove<hooks_driver> && accel::driver_has_postclose<hooks_driver>);
static_assert(!accel::driver_is_exclusive<good_driver>() && accel::driver_is_exclusive<hooks_driver>());
static_assert(accel::diagnose_driver<good_driver>() && accel::diagnose_driver<hooks_driver>());

// The ioctl table of a good driver builds: one slot per driver number, the row in its slot.
static_assert(accel::detail::driver_dispatch<good_driver, good_driver::ioctls>::valid);
static_assert(accel::detail::driver_dispatch<good_driver, good_driver::ioctls>::table.size() ==
              ACCEL_COMMAND_END - ACCEL_COMMAND_BASE);
static_assert(accel::detail::driver_dispatch<good_driver, good_driver::ioctls>::table[0].cmd == STATIC_ROW_IOCTL);
static_assert(accel::detail::driver_dispatch<good_driver, good_driver::ioctls>::table[0].name == "STATIC_ROW_IOCTL");
static_assert(accel::detail::driver_dispatch<good_driver, good_driver::ioctls>::table[1].fn == nullptr);

// The request-number decoding agrees with <linux/ioctl.h>.
static_assert(accel::ioc_nr(ACCEL_IOCTL_GET_CAP) == 0x0c && accel::ioc_type(ACCEL_IOCTL_GET_CAP) == 'd');
static_assert(accel::ioc_size(ACCEL_IOCTL_VERSION) == sizeof(accel_version));
static_assert(accel::ioc_dir(ACCEL_IOCTL_GEM_CLOSE) == _IOC_WRITE);
static_assert(accel::is_driver_nr(ACCEL_COMMAND_BASE) && accel::is_driver_nr(ACCEL_COMMAND_END - 1));
static_assert(!accel::is_driver_nr(ACCEL_COMMAND_BASE - 1) && !accel::is_driver_nr(ACCEL_COMMAND_END));

// accel::mm::range_manager: the reference policy models it; non-policies do not.
static_assert(accel::mm::range_manager<accel::mm::naive>);
static_assert(!accel::mm::range_manager<int>);
static_assert(!accel::mm::range_manager<good_driver>);

// accel::sched_ops: a driver's job operations, typed on its job.
struct row_job : accel::sched_job {};
struct good_sched_ops {
    using job_type = row_job;
    accel::result<accel::fence_ptr> run_job(row_job&);
    accel::timeout_status timedout_job(row_job&);
    void free_job(row_job*);
};
struct cancelling_sched_ops : good_sched_ops {
    void cancel_job(row_job&);
};
struct no_job_type_ops {
    accel::result<accel::fence_ptr> run_job(accel::sched_job&);
    accel::timeout_status timedout_job(accel::sched_job&);
    void free_job(accel::sched_job*);
};
struct not_a_job {};
struct foreign_job_ops : good_sched_ops {
    using job_type = not_a_job;
};
struct int_run_job_ops : good_sched_ops {
    int run_job(row_job&);
};
struct bool_timeout_ops : good_sched_ops {
    bool timedout_job(row_job&);
};
struct no_free_job_ops {
    using job_type = row_job;
    accel::result<accel::fence_ptr> run_job(row_job&);
    accel::timeout_status timedout_job(row_job&);
};
static_assert(accel::sched_ops<good_sched_ops> && !accel::sched_ops_has_cancel_job<good_sched_ops>);
static_assert(accel::sched_ops<cancelling_sched_ops> && accel::sched_ops_has_cancel_job<cancelling_sched_ops>);
static_assert(!accel::sched_ops<no_job_type_ops>);
static_assert(!accel::sched_ops<foreign_job_ops>);
static_assert(!accel::sched_ops<int_run_job_ops>);
static_assert(!accel::sched_ops<bool_timeout_ops>);
static_assert(!accel::sched_ops<no_free_job_ops>);
static_assert(!accel::sched_ops<int>);
static_assert(accel::diagnose_sched_ops<good_sched_ops>() && accel::diagnose_sched_ops<cancelling_sched_ops>());

} // namespace accel_static_rows
