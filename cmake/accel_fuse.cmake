# SPDX-License-Identifier: MIT
# The FUSE host (include/accel/fuse/): INTERFACE target accel_fuse, alias accel::fuse, exported
# as accel::fuse in its own export set (accelFuseTargets) so that the core package never needs
# libfuse. Built when libfuse3 >= 3.12 is found (pkg-config fuse3) unless ACCEL_WITH_FUSE=OFF.
#
# Included from the top-level CMakeLists.txt and from the folders that use the target (tests,
# examples), whichever comes first; the guard makes the later includes no-ops. Everything it
# creates is global: a cache option, a GLOBAL imported target, a normal target.
include_guard(GLOBAL)

find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(FUSE3 QUIET IMPORTED_TARGET GLOBAL fuse3>=3.12)
endif()
if(FUSE3_FOUND)
  set(_accel_fuse_default ON)
else()
  set(_accel_fuse_default OFF)
endif()
option(ACCEL_WITH_FUSE "Build accel::fuse, the FUSE host of the real backend (needs libfuse3 >= 3.12)"
       ${_accel_fuse_default})

if(ACCEL_WITH_FUSE)
  if(NOT FUSE3_FOUND)
    message(FATAL_ERROR "ACCEL_WITH_FUSE is ON but pkg-config finds no fuse3 >= 3.12 (Debian: libfuse3-dev)")
  endif()
  find_package(Threads REQUIRED)
  add_library(accel_fuse INTERFACE)
  add_library(accel::fuse ALIAS accel_fuse)
  # The headers themselves belong to the core target's file set (installed with it).
  target_link_libraries(accel_fuse INTERFACE accel::accel PkgConfig::FUSE3 Threads::Threads)
  set_target_properties(accel_fuse PROPERTIES EXPORT_NAME fuse)
  if(ACCEL_INSTALL)
    install(TARGETS accel_fuse EXPORT accelFuseTargets)
    install(EXPORT accelFuseTargets NAMESPACE accel:: DESTINATION "${ACCEL_INSTALL_CMAKEDIR}")
  endif()
  message(STATUS "accel: FUSE host enabled (libfuse ${FUSE3_VERSION})")
else()
  message(STATUS "accel: FUSE host disabled (ACCEL_WITH_FUSE=OFF or no libfuse3)")
endif()
