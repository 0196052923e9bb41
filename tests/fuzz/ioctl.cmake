# SPDX-License-Identifier: MIT
# The ioctl-boundary fuzz targets, all built on the reusable harness include/accel/fuzz/
# (ioctl_harness.hpp): one driver type each, its whole ioctl table plus the core's.
#   ioctl_core     core_driver.hpp: every core row (GEM, PRIME, syncobj, INFO, monitor ioctls)
#   ioctl_vdnn     examples/vdnn: BO, VM bind, submit, wait, export
#   ioctl_vdsp     examples/vdsp with its firmware
#   ioctl_minimal  examples/minimal_driver: the one-line use a driver author copies
#   ioctl_first_driver  examples/first_driver: the README's walkthrough driver
# Seeds: each target writes its hand-built programs with ACCEL_FUZZ_WRITE_SEEDS=<dir>; the
# minimised set (and any fixed crash) lives in tests/fuzz/corpus/<what>/.
set(ioctl_dir "${CMAKE_CURRENT_SOURCE_DIR}/ioctl")

# The three targets on devices with scheduler and engine threads run ~50-400 programs/s (each
# builds its devices and waits for their jobs): they fuzz 3x as long as the default in CI.
accel_add_fuzz_target(ioctl_core SOURCES "${ioctl_dir}/core_target.cpp" SECONDS 60)
accel_add_fuzz_target(ioctl_vdnn SOURCES "${ioctl_dir}/vdnn_target.cpp" SECONDS 60)
target_include_directories(accel_fuzz_ioctl_vdnn PRIVATE "${PROJECT_SOURCE_DIR}/examples/vdnn")
accel_add_fuzz_target(ioctl_vdsp SOURCES "${ioctl_dir}/vdsp_target.cpp" SECONDS 60)
target_include_directories(accel_fuzz_ioctl_vdsp PRIVATE "${PROJECT_SOURCE_DIR}/examples/vdsp")
target_compile_definitions(accel_fuzz_ioctl_vdsp PRIVATE
                           "VDSP_FIRMWARE_DESCRIPTION=\"${PROJECT_SOURCE_DIR}/examples/vdsp/firmware/vdsp.fw.txt\"")
accel_add_fuzz_target(ioctl_minimal SOURCES "${ioctl_dir}/minimal_target.cpp")
target_include_directories(accel_fuzz_ioctl_minimal PRIVATE "${PROJECT_SOURCE_DIR}/examples/minimal_driver")
accel_add_fuzz_target(ioctl_first_driver SOURCES "${ioctl_dir}/first_driver_target.cpp")
target_include_directories(accel_fuzz_ioctl_first_driver PRIVATE "${PROJECT_SOURCE_DIR}/examples/first_driver")

# The harness can fail: a driver with a planted bug, run on a fixed program, must end with the
# harness's violation message (ioctl/buggy_driver.cpp). Not fuzz targets (no corpus, no run, and
# "fuzz" is kept out of their names: run as fuzzers they crash on purpose).
foreach(bug leak positive)
  set(target accel_ioctl_harness_selftest_${bug})
  add_executable(${target} "${ioctl_dir}/buggy_driver.cpp")
  string(TOUPPER "${bug}" BUG)
  target_compile_definitions(${target} PRIVATE ACCEL_FUZZ_BUGGY_${BUG})
  target_link_libraries(${target} PRIVATE accel::accel accel_warnings)
  target_include_directories(${target} PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}" "${PROJECT_SOURCE_DIR}")
  target_compile_options(${target} PRIVATE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all)
  target_link_options(${target} PRIVATE -fsanitize=fuzzer,address,undefined)
endforeach()
add_test(NAME fuzz.ioctl_selftest.leak
         COMMAND accel_ioctl_harness_selftest_leak -runs=0 "${ioctl_dir}/selftest/create_one")
set_tests_properties(fuzz.ioctl_selftest.leak PROPERTIES LABELS fuzz ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0"
                     PASS_REGULAR_EXPRESSION "invariant violated: device [0-9]+: 1 buffer objects \\(mmap offsets\\) leaked")
add_test(NAME fuzz.ioctl_selftest.positive
         COMMAND accel_ioctl_harness_selftest_positive -runs=0 "${ioctl_dir}/selftest/create_one")
set_tests_properties(fuzz.ioctl_selftest.positive PROPERTIES LABELS fuzz ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0"
                     PASS_REGULAR_EXPRESSION "invariant violated: ioctl BUGGY_CREATE on fd [0-9]+: result 1 is neither 0 nor a kernel errno")
