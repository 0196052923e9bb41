#!/bin/sh
# SPDX-License-Identifier: MIT
# The accel-serve fixture of the client tests (CTest FIXTURES_SETUP / FIXTURES_CLEANUP).
#
#   serve_fixture.sh start STATE ACCEL_SERVE   mounts a fresh temporary directory with accel-serve
#                                              in the background, waits until its nodes appear
#   serve_fixture.sh stop STATE                SIGTERMs the server, checks it exited 0 and the
#                                              mount is gone, removes the directory
#
# STATE is a directory of the build tree shared with the tests: mount (the mount point), pid
# (accel-serve's pid), rc (its exit status, written by the shell that waits for it), log (its
# output), skip (why FUSE is unusable here). Exit status 77 = SKIPPED for CTest: /dev/fuse is
# missing or the mount is refused; the tests then skip too (run_with_server.sh).
set -u

say() { printf 'serve_fixture: %s\n' "$*"; }

# Seconds to wait for the server to come up or go away (sanitizer builds start slowly).
TIMEOUT=${ACCEL_CLIENTS_TIMEOUT:-60}

start() {
    state=$1
    serve=$2
    # A server left by an interrupted run of this build tree: stop it and drop its mount point.
    if [ -f "$state/pid" ] && [ ! -f "$state/rc" ]; then
        old=$(cat "$state/pid")
        if tr '\0' ' ' <"/proc/$old/cmdline" 2>/dev/null | grep -q "accel-serve"; then
            say "stopping accel-serve (pid $old) left by an earlier run"
            kill -TERM "$old"
            ticks=100
            while [ ! -f "$state/rc" ] && [ "$ticks" -gt 0 ]; do
                sleep 0.1
                ticks=$((ticks - 1))
            done
        fi
        [ -f "$state/mount" ] && rmdir "$(cat "$state/mount")" 2>/dev/null
    fi
    rm -rf "$state"
    mkdir -p "$state" || exit 1
    if [ ! -c /dev/fuse ]; then
        echo "/dev/fuse is missing" >"$state/skip"
        say "SKIP: /dev/fuse is missing"
        exit 77
    fi
    mnt=$(mktemp -d "${TMPDIR:-/tmp}/accel-clients-XXXXXX") || exit 1
    chmod 755 "$mnt"
    echo "$mnt" >"$state/mount"
    # The server's stdio goes to a log file, not to CTest's pipes, so CTest does not wait for it
    # when this script ends. The shell around it waits for it and records its exit status.
    # Two minimal devices (accel0, accel1: the C client runs against both), vdnn (accel2:
    # accel-info lists its INFO) and vdsp (accel3: the pipeline demo's consumer; its firmware
    # from the build, found relative to accel-serve).
    sh -c '"$1" --mount "$2" --devices minimal,minimal,vdnn,vdsp --debug-hang --job-timeout-ms 300 >"$3/log" 2>&1 </dev/null &
           echo $! >"$3/pid.tmp" && mv "$3/pid.tmp" "$3/pid"
           wait $!
           echo $? >"$3/rc.tmp" && mv "$3/rc.tmp" "$3/rc"' sh "$serve" "$mnt" "$state" </dev/null >/dev/null 2>&1 &

    ticks=$((TIMEOUT * 10))
    while [ "$ticks" -gt 0 ]; do
        if [ -f "$state/rc" ]; then
            say "accel-serve exited with status $(cat "$state/rc") before serving:"
            cat "$state/log"
            rmdir "$mnt" 2>/dev/null
            if grep -q "mounting" "$state/log"; then
                sed -n 's/^accel-serve: //p' "$state/log" >"$state/skip"
                say "SKIP: FUSE mount refused here"
                exit 77
            fi
            exit 1
        fi
        if [ -f "$state/pid" ] && [ -e "$mnt/accel/accel0" ] && [ -e "$mnt/accel/accel_controlD0" ]; then
            say "accel-serve (pid $(cat "$state/pid")) serves $mnt:"
            cat "$state/log"
            exit 0
        fi
        sleep 0.1
        ticks=$((ticks - 1))
    done
    say "accel-serve did not serve $mnt within ${TIMEOUT}s"
    cat "$state/log" 2>/dev/null
    [ -f "$state/pid" ] && kill -TERM "$(cat "$state/pid")" 2>/dev/null
    exit 1
}

mounted() { # whether $1 is a mount point (live or stale)
    awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/self/mounts
}

stop() {
    state=$1
    if [ -f "$state/skip" ]; then
        say "SKIP: $(cat "$state/skip")"
        exit 77
    fi
    if [ ! -f "$state/mount" ]; then
        say "nothing to stop (the fixture did not start)"
        exit 0
    fi
    mnt=$(cat "$state/mount")
    status=0
    if [ -f "$state/pid" ] && [ ! -f "$state/rc" ]; then
        pid=$(cat "$state/pid")
        # Only signal the process the fixture started (the pid may have been reused).
        if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "accel-serve"; then
            kill -TERM "$pid"
        fi
        ticks=$((TIMEOUT * 10))
        while [ ! -f "$state/rc" ] && [ "$ticks" -gt 0 ]; do
            sleep 0.1
            ticks=$((ticks - 1))
        done
    fi
    if [ ! -f "$state/rc" ]; then
        say "FAIL: accel-serve did not exit within ${TIMEOUT}s of SIGTERM"
        status=1
    elif [ "$(cat "$state/rc")" != 0 ]; then
        say "FAIL: accel-serve exited with status $(cat "$state/rc")"
        status=1
    else
        say "accel-serve exited with status 0"
    fi
    if mounted "$mnt"; then
        say "FAIL: $mnt is still mounted"
        status=1
        fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null
    else
        say "$mnt is unmounted"
    fi
    if grep -Eq "Sanitizer|runtime error" "$state/log" 2>/dev/null; then
        say "FAIL: sanitizer report in the server's log"
        status=1
    fi
    [ "$status" -eq 0 ] || { say "server log:"; cat "$state/log" 2>/dev/null; }
    rmdir "$mnt" 2>/dev/null
    [ "$status" -eq 0 ] && rm -rf "$state"
    exit "$status"
}

case "${1:-}" in
start) [ $# -eq 3 ] || { say "usage: $0 start STATE ACCEL_SERVE"; exit 2; }; start "$2" "$3" ;;
stop) [ $# -eq 2 ] || { say "usage: $0 stop STATE"; exit 2; }; stop "$2" ;;
*) say "usage: $0 start STATE ACCEL_SERVE | stop STATE"; exit 2 ;;
esac
