# SPDX-License-Identifier: MIT
# The test-name check: every doctest case must reach CTest whole. doctest_discover_tests hands
# each case's name to CTest as a list element, so a ';' in a TEST_CASE name cuts it: the CTest
# test then runs `--test-case=<the part before the ;>`, which matches no case, and passes while
# running nothing (13 cases were silently skipped that way before this check). Fails listing
# every TEST_CASE / TEST_CASE_TEMPLATE / TEST_CASE_FIXTURE whose name has a ';'.
# Usage: cmake -DTESTS_DIR=<tests/> -P check_test_names.cmake
cmake_minimum_required(VERSION 3.25)
if(NOT DEFINED TESTS_DIR OR NOT IS_DIRECTORY "${TESTS_DIR}")
  message(FATAL_ERROR "check_test_names: pass -DTESTS_DIR=<the tests folder>")
endif()
file(GLOB_RECURSE sources "${TESTS_DIR}/*.cpp" "${TESTS_DIR}/*.hpp")
set(bad "")
set(cases 0)
foreach(src IN LISTS sources)
  file(READ "${src}" text)
  # CMake lists split at ';': protect them before matching.
  string(REPLACE ";" "<SEMICOLON>" text "${text}")
  string(REGEX MATCHALL "TEST_CASE(_TEMPLATE|_FIXTURE)?[ \t]*\\([ \t\n]*\"[^\"]*\"" found "${text}")
  foreach(m IN LISTS found)
    math(EXPR cases "${cases} + 1")
    if(m MATCHES "<SEMICOLON>")
      string(REPLACE "<SEMICOLON>" ";" m "${m}")
      file(RELATIVE_PATH rel "${TESTS_DIR}" "${src}")
      string(APPEND bad "  ${rel}: ${m}\n")
    endif()
  endforeach()
endforeach()
if(cases EQUAL 0)
  message(FATAL_ERROR "check_test_names: no TEST_CASE found under ${TESTS_DIR}: the check is broken")
endif()
if(bad)
  message(FATAL_ERROR "check_test_names: a ';' in a test name cuts it in CTest (the test would run nothing):\n${bad}")
endif()
message(STATUS "check_test_names: ${cases} test cases, none with a ';' in its name")
