# SPDX-License-Identifier: MIT
# Fails when a uAPI header is not included by the layout checks (a new header must get checks).
# Usage: cmake -DUAPI_DIR=<include/accel/uapi> -DCHECKS=<uapi_layout_checks.h> -P check_uapi_list.cmake
file(GLOB headers RELATIVE "${UAPI_DIR}" "${UAPI_DIR}/*.h")
if(NOT headers)
  message(FATAL_ERROR "no uAPI headers found in ${UAPI_DIR}")
endif()
file(READ "${CHECKS}" checks)
set(missing "")
foreach(h IN LISTS headers)
  string(FIND "${checks}" "#include <accel/uapi/${h}>" at)
  if(at EQUAL -1)
    list(APPEND missing "${h}")
  endif()
endforeach()
if(missing)
  message(FATAL_ERROR "uAPI headers without layout checks: ${missing}\n"
                      "Include them in ${CHECKS} and add their size/offset/ioctl checks there.")
endif()
message("uAPI header list complete: ${headers}")
