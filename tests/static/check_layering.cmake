# SPDX-License-Identifier: MIT
# The layering check: the folders under include/accel/ form a graph without cycles, each
# including only itself and the layers below it (../shared/DESIGN.md, "Layers"; issue 10):
#
#   uapi                  the C contract with user space: nothing but itself
#   base                  result/errno, fault injection, fixed strings: base, uapi
#   mm                    range policies, regions, VA spaces, page tables: mm, base, uapi
#   core (with core/gem)  mm, base, uapi
#   exec                  fences, scheduler, reset (issue 11): core and below
#   share                 dma-buf, PRIME, sync files, syncobjs (issue 12): exec, core and below
#   monitor               attribute trees (sysfs/debugfs-like), node access rules (issue 13):
#                         core and below
#   backend, fuse         monitor, core and below; neither includes the other (siblings: one of
#                         them including the other would need a decision recorded here first)
#   fuzz                  the reusable fuzz harnesses (issue 14): a test tool at the top, it may
#                         include everything (the umbrella, backend/mock included)
#   accel/*.hpp           umbrella headers at the top: anything
#
# Usage: cmake -DINCLUDE_DIR=<dir holding accel/> -P check_layering.cmake
# Every `#include <accel/...>` and `#include "..."` (resolved against the including file's
# folder) in every header is checked; a folder missing from the table below is an error too, so
# a new folder states its place before it is used. Fails listing every upward include.
cmake_minimum_required(VERSION 3.25)

if(NOT DEFINED INCLUDE_DIR OR NOT IS_DIRECTORY "${INCLUDE_DIR}/accel")
  message(FATAL_ERROR "check_layering: pass -DINCLUDE_DIR=<directory holding accel/>")
endif()

# Which folders each folder may include (itself always). "" is the top level (accel/*.hpp).
set(allowed_uapi    "")
set(allowed_base    "uapi")
set(allowed_mm      "base;uapi")
set(allowed_core    "mm;base;uapi")
set(allowed_exec    "core;mm;base;uapi")
set(allowed_share   "exec;core;mm;base;uapi")
set(allowed_monitor "core;mm;base;uapi")
set(allowed_backend "monitor;core;mm;base;uapi")
set(allowed_fuse    "monitor;core;mm;base;uapi")
set(allowed_fuzz    "backend;fuse;monitor;share;exec;core;mm;base;uapi")
set(known_layers uapi base mm core exec share monitor backend fuse fuzz)

# The layer of a path relative to INCLUDE_DIR ("accel/mm/range/best_fit.hpp" -> mm, "accel/x.hpp"
# -> "" for the top level), or NOTFOUND when it is not under accel/.
function(layer_of rel out)
  if(rel MATCHES "^accel/([^/]+)/")
    set(${out} "${CMAKE_MATCH_1}" PARENT_SCOPE)
  elseif(rel MATCHES "^accel/[^/]+$")
    set(${out} "" PARENT_SCOPE)
  else()
    set(${out} NOTFOUND PARENT_SCOPE)
  endif()
endfunction()

file(GLOB_RECURSE headers RELATIVE "${INCLUDE_DIR}" "${INCLUDE_DIR}/accel/*.hpp" "${INCLUDE_DIR}/accel/*.h")
list(SORT headers)
set(violations "")
set(checked 0)
foreach(header IN LISTS headers)
  layer_of("${header}" from)
  if(NOT from STREQUAL "" AND NOT from IN_LIST known_layers)
    string(APPEND violations "  ${header}: folder '${from}' has no place in the layer table (tests/static/check_layering.cmake)\n")
    continue()
  endif()
  file(STRINGS "${INCLUDE_DIR}/${header}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
  foreach(line IN LISTS lines)
    if(line MATCHES "^[ \t]*#[ \t]*include[ \t]*<(accel/[^>]+)>")
      set(target "${CMAKE_MATCH_1}")
    elseif(line MATCHES "^[ \t]*#[ \t]*include[ \t]*\"([^\"]+)\"")
      # Quoted: resolved against the including file's folder first, as the compiler does.
      get_filename_component(dir "${INCLUDE_DIR}/${header}" DIRECTORY)
      get_filename_component(abs "${CMAKE_MATCH_1}" ABSOLUTE BASE_DIR "${dir}")
      file(RELATIVE_PATH target "${INCLUDE_DIR}" "${abs}")
      if(target MATCHES "^\\.\\./" OR NOT target MATCHES "^accel/")
        continue() # not one of ours (or outside the tree): the compiler would not find it here
      endif()
    else()
      continue() # a system or third-party header
    endif()
    math(EXPR checked "${checked} + 1")
    layer_of("${target}" to)
    if(from STREQUAL "" OR from STREQUAL "fuzz" OR to STREQUAL from)
      continue() # the umbrella and the fuzz harnesses include anything; a folder includes itself
    endif()
    if(to STREQUAL "")
      string(APPEND violations "  ${header} (${from}) includes the umbrella header <${target}>\n")
    elseif(NOT to IN_LIST allowed_${from})
      string(APPEND violations "  ${header} (${from}) includes <${target}> (${to}): ${from} may include only ${from};${allowed_${from}}\n")
    endif()
  endforeach()
endforeach()

list(LENGTH headers header_count)
if(header_count EQUAL 0)
  message(FATAL_ERROR "check_layering: no headers under ${INCLUDE_DIR}/accel")
endif()
if(violations)
  message(FATAL_ERROR "check_layering: includes against the layering:\n${violations}")
endif()
message(STATUS "check_layering: ${header_count} headers, ${checked} accel includes, no upward include")
