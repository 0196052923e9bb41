# SPDX-License-Identifier: MIT
# Fuzz targets of the memory managers (included from tests/fuzz/CMakeLists.txt): every
# range-manager policy, page tables, VA spaces and device memory regions, each driving operation
# sequences decoded from the input against a reference model (tests/fuzz/mm/).
foreach(policy naive best_fit bitmap buddy tlsf)
  accel_add_fuzz_target(range_${policy} SOURCES mm/range_${policy}.cpp)
endforeach()
accel_add_fuzz_target(page_table SOURCES mm/page_table_fuzz.cpp)
accel_add_fuzz_target(va_space SOURCES mm/va_space_fuzz.cpp)
accel_add_fuzz_target(device_memory SOURCES mm/device_memory_fuzz.cpp)
