#!/bin/sh
# SPDX-License-Identifier: MIT
#   run_with_server.sh STATE COMMAND [ARG...]
# Runs COMMAND against the server of serve_fixture.sh, each argument @MNT@ replaced by its
# mount point. Exits 77 (SKIPPED for CTest) when the fixture skipped, 1 when there is no live
# server, else COMMAND's status; a non-zero status is also printed as "command exited with
# status N" so that tests judged by regular expressions can match it (FAIL_REGULAR_EXPRESSION).
set -u
state=$1
shift
if [ -f "$state/skip" ]; then
    echo "run_with_server: SKIP: $(cat "$state/skip")"
    exit 77
fi
if [ ! -f "$state/mount" ] || [ ! -f "$state/pid" ] || [ -f "$state/rc" ]; then
    echo "run_with_server: no accel-serve running (did the fixture clients.serve.start fail?)"
    cat "$state/log" 2>/dev/null
    exit 1
fi
mnt=$(cat "$state/mount")
n=$#
while [ "$n" -gt 0 ]; do
    a=$1
    shift
    [ "$a" = "@MNT@" ] && a=$mnt
    set -- "$@" "$a"
    n=$((n - 1))
done
"$@"
rc=$?
[ "$rc" -eq 0 ] || echo "command exited with status $rc"
exit "$rc"
