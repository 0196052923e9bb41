// SPDX-License-Identifier: MIT
// One defect: the scheduler ops' optional `cancel_job` takes the wrong argument; the hook's name
// is in the error rather than the hook being silently ignored.
// CF_NAME: ops_with_bad_cancel_job
// CF_EXPECT: hook `cancel_job` must be
#include <accel/exec/scheduler.hpp>

struct cf_job : accel::sched_job {};

struct ops_with_bad_cancel_job {
    using job_type = cf_job;
    accel::result<accel::fence_ptr> run_job(cf_job&) { return accel::fence_ptr{}; }
    accel::timeout_status timedout_job(cf_job&) { return accel::timeout_status::reset; }
    void free_job(cf_job* j) { delete j; }
    void cancel_job(cf_job*) {}
};

int main() {
    accel::scheduler<ops_with_bad_cancel_job> s(ops_with_bad_cancel_job{}, {.name = "cf"});
    return s.ready() ? 0 : 1;
}
