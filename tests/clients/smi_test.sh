#!/bin/sh
# SPDX-License-Identifier: MIT
#   smi_test.sh MODE MOUNT ACCEL_SMI VDNN_LOAD CHECK_JSON WORKDIR
# accel-smi against the devices accel-serve serves on MOUNT while vdnn-load runs jobs on its vdnn
# device (started first, waited for through its ready file, stopped with SIGTERM at the end and
# required to exit 0). MODE:
#   oneshot  the table lists the three drivers and vdnn-load's process row with its usage
#   json     --json is one JSON object (python3 -m json.tool), checked by CHECK_JSON (keys,
#            values, the client with vdnn-load's pid)
#   watch    --watch 0.5 in a detached tmux session of fixed size: the captured screen has the
#            header, utilisation bars and vdnn-load's process row; 'q' ends it with status 0 and
#            the terminal's mode (stty -g) is the same before and after
#   reset    (root, no vdnn-load) --reset of the vdnn device: "reset done", the table's RESETS
#            one higher; the same as an unprivileged user (setpriv) fails, Permission denied
# Exit 77 (CTest SKIPPED) when a tool the mode needs is missing (python3, tmux).
set -u
mode=$1
mnt=$2
smi=$3
load=$4
check_json=$5
work=$6

fail() {
    echo "smi_test ($mode): FAIL: $*"
    exit 1
}

case "$mode" in
json) command -v python3 >/dev/null 2>&1 || { echo "smi_test: SKIP: python3 is missing"; exit 77; } ;;
watch) command -v tmux >/dev/null 2>&1 || { echo "smi_test: SKIP: tmux is missing"; exit 77; } ;;
reset) [ "$(id -u)" = 0 ] || { echo "smi_test: SKIP: --reset needs root"; exit 77; } ;;
esac

if [ "$mode" = reset ]; then
    resets() { # the RESETS column of the vdnn row
        "$smi" "$mnt" | awk '$2 == "vdnn" && $4 == "operational" { print $1, $5; exit }'
    }
    set -- $(resets)
    [ $# -eq 2 ] || fail "no operational vdnn row in accel-smi's table"
    minor=$1
    before=$2
    out=$("$smi" "$mnt" --reset "$minor" 2>&1)
    rc=$?
    echo "$out"
    [ "$rc" -eq 0 ] || fail "--reset $minor exited with status $rc"
    [ "$out" = "accel$minor: reset done" ] || fail "unexpected output"
    set -- $(resets)
    [ "${2:-}" = $((before + 1)) ] || fail "RESETS went from $before to ${2:-?}, want $((before + 1))"
    if command -v setpriv >/dev/null 2>&1; then
        out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$smi" "$mnt" --reset "$minor" 2>&1)
        rc=$?
        echo "$out"
        [ "$rc" -eq 1 ] || fail "--reset as uid 65534 exited with status $rc, want 1"
        echo "$out" | grep -q "Permission denied" || fail "--reset as uid 65534: no Permission denied"
    fi
    echo "smi_test ($mode): ok"
    exit 0
fi

rm -rf "$work"
mkdir -p "$work" || exit 1
ready="$work/load-ready"
"$load" "$mnt" 120 "$ready" >"$work/load.log" 2>&1 &
load_pid=$!
stop_load() {
    kill -TERM "$load_pid" 2>/dev/null
    wait "$load_pid"
    rc=$?
    cat "$work/load.log"
    [ "$rc" -eq 0 ] || fail "vdnn-load exited with status $rc"
}
ticks=200
while [ ! -f "$ready" ]; do
    kill -0 "$load_pid" 2>/dev/null || { cat "$work/load.log"; fail "vdnn-load ended before its first jobs"; }
    ticks=$((ticks - 1))
    [ "$ticks" -gt 0 ] || fail "vdnn-load did not complete a job within 20 s"
    sleep 0.1
done

# The process row of vdnn-load: device, its pid, command, client id, its client name, the node,
# engine utilisation and memory.
row="^ +[0-9]+ +$load_pid +vdnn-load +[0-9]+ +vdnn-load +compute +(compute|dma) [0-9]+%.*dram 4\.0 MiB"

# The utilisation a one-shot shows is one ~200 ms sample: on a loaded machine vdnn-load may get
# no DMA job done in it (0%, no bar). So the one-shot and --json checks are tried up to 5 times;
# a failure is one only if every try fails (each try's reason is printed).
tries=5
attempt() { # $1: the try's number; returns 0 when every check of the mode passed
    case "$mode" in
    oneshot)
        "$smi" "$mnt" >"$work/out.txt" 2>&1
        rc=$?
        cat "$work/out.txt"
        [ "$rc" -eq 0 ] || { echo "try $1: accel-smi exited with status $rc"; return 1; }
        for drv in minimal vdnn vdsp; do
            grep -Eq "^ +[0-9]+ +$drv +1\.0\.0 +operational +[0-9]+ +[0-9]+ " "$work/out.txt" ||
                { echo "try $1: no device row for $drv"; return 1; }
        done
        grep -Eq "^  dram +device +4\.0 MiB +64\.0 MiB" "$work/out.txt" ||
            { echo "try $1: vdnn's dram region does not show vdnn-load's 4 MiB"; return 1; }
        grep -Eq "^  dma +1 +[0-9]+% +\[#+\.*\]" "$work/out.txt" ||
            { echo "try $1: vdnn's dma engine shows no utilisation bar with load"; return 1; }
        grep -Eq "$row" "$work/out.txt" || { echo "try $1: no process row for vdnn-load (pid $load_pid)"; return 1; }
        # Only the device's regions: no region made of an engine's cycle keys.
        if grep -Eq "^  cycles-" "$work/out.txt"; then
            echo "try $1: a memory region named after an engine's cycles"
            return 1
        fi
        ;;
    json)
        "$smi" "$mnt" --json >"$work/out.json" 2>"$work/err.txt"
        rc=$?
        cat "$work/err.txt"
        [ "$rc" -eq 0 ] || { cat "$work/out.json"; echo "try $1: accel-smi --json exited with status $rc"; return 1; }
        python3 -m json.tool "$work/out.json" >"$work/pretty.json" || { cat "$work/out.json"; echo "try $1: not valid JSON"; return 1; }
        cat "$work/pretty.json"
        python3 "$check_json" "$work/out.json" "$load_pid" || { echo "try $1: the JSON's content"; return 1; }
        ;;
    esac
    return 0
}

case "$mode" in
oneshot | json)
    n=1
    until attempt "$n"; do
        [ "$n" -lt "$tries" ] || fail "no try of $tries passed"
        n=$((n + 1))
        sleep 0.3
    done
    ;;
watch)
    sock="accel-smi-test-$$"
    tmux -L "$sock" kill-server 2>/dev/null
    # The shell in the pane records the terminal mode before and after, and accel-smi's status.
    printf '%s\n' "stty -g >'$work/stty.before'" \
        "'$smi' '$mnt' --watch 0.5" \
        "echo \$? >'$work/rc.tmp'" \
        "stty -g >'$work/stty.after'" \
        "mv '$work/rc.tmp' '$work/rc'" \
        "sleep 60" >"$work/pane.sh"
    tmux -L "$sock" -f /dev/null new-session -d -s smi -x 120 -y 50 "sh '$work/pane.sh'" || fail "tmux cannot start a session"
    screen_ok=0
    ticks=100
    while [ "$ticks" -gt 0 ]; do
        tmux -L "$sock" capture-pane -p -t smi >"$work/screen.txt" 2>/dev/null
        if grep -Eq "$row" "$work/screen.txt" && grep -Eq '\[#+\.*\]' "$work/screen.txt"; then
            screen_ok=1
            break
        fi
        sleep 0.1
        ticks=$((ticks - 1))
    done
    echo "--- the captured screen ---"
    cat "$work/screen.txt"
    echo "---"
    if [ "$screen_ok" -ne 1 ]; then
        tmux -L "$sock" kill-server 2>/dev/null
        fail "the screen never showed vdnn-load's process row and a utilisation bar"
    fi
    head -n 1 "$work/screen.txt" | grep -Eq "^accel-smi  $mnt  every 0\.5 s  .*\(q to quit\)" || {
        tmux -L "$sock" kill-server 2>/dev/null
        fail "no header line"
    }
    grep -Eq "^PROCESSES" "$work/screen.txt" || { tmux -L "$sock" kill-server 2>/dev/null; fail "no process list"; }
    tmux -L "$sock" send-keys -t smi q
    ticks=50
    while [ ! -f "$work/rc" ] && [ "$ticks" -gt 0 ]; do
        sleep 0.1
        ticks=$((ticks - 1))
    done
    tmux -L "$sock" capture-pane -p -t smi >"$work/after.txt" 2>/dev/null
    tmux -L "$sock" kill-server 2>/dev/null
    [ -f "$work/rc" ] || fail "accel-smi --watch did not exit within 5 s of 'q'"
    [ "$(cat "$work/rc")" = 0 ] || fail "accel-smi --watch exited with status $(cat "$work/rc")"
    cmp -s "$work/stty.before" "$work/stty.after" || fail "the terminal mode was not restored ($(cat "$work/stty.before") -> $(cat "$work/stty.after"))"
    # The alternate screen was left: the table is no longer on the pane.
    if grep -q "^PROCESSES" "$work/after.txt"; then
        fail "the screen still shows the table after exit (alternate screen not left)"
    fi
    ;;
*)
    fail "unknown mode"
    ;;
esac
stop_load
echo "smi_test ($mode): ok"
