# SPDX-License-Identifier: MIT
# Fuzz targets for the parsers and producers that take outside input: vdnn command streams,
# vdsp firmware images, the attribute stores and shows, the fdinfo and INFO producers.
# Included from tests/fuzz/CMakeLists.txt; seeds and regression inputs in tests/fuzz/corpus/<what>/.

accel_add_fuzz_target(vdnn_commands SOURCES "${CMAKE_CURRENT_LIST_DIR}/parsers_vdnn_commands.cpp")
target_include_directories(accel_fuzz_vdnn_commands PRIVATE "${PROJECT_SOURCE_DIR}/examples/vdnn"
                                                            "${PROJECT_SOURCE_DIR}/tests/vdnn")

accel_add_fuzz_target(vdsp_firmware SOURCES "${CMAKE_CURRENT_LIST_DIR}/parsers_vdsp_firmware.cpp")
target_include_directories(accel_fuzz_vdsp_firmware PRIVATE "${PROJECT_SOURCE_DIR}/examples/vdsp")

find_package(Threads REQUIRED)
accel_add_fuzz_target(info SOURCES "${CMAKE_CURRENT_LIST_DIR}/parsers_info.cpp" LIBS Threads::Threads)
target_include_directories(accel_fuzz_info PRIVATE "${PROJECT_SOURCE_DIR}/tests/core")

accel_add_fuzz_target(fdinfo SOURCES "${CMAKE_CURRENT_LIST_DIR}/parsers_fdinfo.cpp" LIBS Threads::Threads)
target_include_directories(accel_fuzz_fdinfo PRIVATE "${PROJECT_SOURCE_DIR}/tests/core")

accel_add_fuzz_target(attributes SOURCES "${CMAKE_CURRENT_LIST_DIR}/parsers_attributes.cpp" LIBS Threads::Threads)
target_include_directories(accel_fuzz_attributes PRIVATE "${PROJECT_SOURCE_DIR}/tests/monitor")
