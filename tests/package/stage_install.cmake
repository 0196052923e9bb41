# SPDX-License-Identifier: MIT
# Installs the accel build tree into a fresh STAGE prefix (removing what an earlier run left, so
# a header deleted from the tree cannot linger in the stage) and checks the package files.
# Usage: cmake -DBUILD_DIR=<build> -DSTAGE=<prefix> [-DCONFIG=<cfg>] -P stage_install.cmake
file(REMOVE_RECURSE "${STAGE}")
set(cmd "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${STAGE}")
if(DEFINED CONFIG AND NOT "${CONFIG}" STREQUAL "")
  list(APPEND cmd --config "${CONFIG}")
endif()
execute_process(COMMAND ${cmd} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${cmd} failed (${rc})")
endif()
file(GLOB_RECURSE configs "${STAGE}/*/accelConfig.cmake")
file(GLOB_RECURSE versions "${STAGE}/*/accelConfigVersion.cmake")
file(GLOB_RECURSE targets "${STAGE}/*/accelTargets.cmake")
file(GLOB_RECURSE headers "${STAGE}/include/accel/*")
if(NOT configs OR NOT versions OR NOT targets OR NOT headers)
  message(FATAL_ERROR "the stage lacks accelConfig.cmake, accelConfigVersion.cmake, accelTargets.cmake "
                      "or include/accel/: ${configs} ${versions} ${targets}")
endif()
list(LENGTH headers n)
message("staged accel in ${STAGE}: ${configs}, ${n} headers")
