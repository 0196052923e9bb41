#!/bin/sh
# SPDX-License-Identifier: MIT
#   check_exit.sh STATUS PATTERN COMMAND [ARG...]
# Runs COMMAND (stdout and stderr together), shows its output, and passes when it exits with
# STATUS and its output has a line matching the extended regular expression PATTERN.
set -u
want=$1
pattern=$2
shift 2
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out"
if [ "$rc" -ne "$want" ]; then
    echo "check_exit: FAIL: exit status $rc, want $want"
    exit 1
fi
if ! printf '%s\n' "$out" | grep -Eq -- "$pattern"; then
    echo "check_exit: FAIL: no line matches: $pattern"
    exit 1
fi
echo "check_exit: ok (status $rc, output matches)"
