#!/bin/sh
# SPDX-License-Identifier: MIT
# accel-serve's permission options (CTest: example.serve.*).
#
#   options_test.sh bad ACCEL_SERVE     every bad --owner/--group/--mode/--rule/--rules value
#                                       exits 2 with a message naming it (no mount is made)
#   options_test.sh serve ACCEL_SERVE   serves minimal (accel0) and vdnn (accel1) with
#                                       --owner/--group/--mode, a --rule and a --rules file,
#                                       checks stat's owner, group and mode of each node, and
#                                       opens them as uid 65534 (setpriv): EACCES where the
#                                       mode says so. Exit 77 (SKIPPED) without root or FUSE.
set -u
mode=$1
serve=$2
fail=0
say() { printf 'options_test: %s\n' "$*"; }
bad() { say "FAIL: $*"; fail=1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/accel-serve-options-XXXXXX") || exit 1
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT

# expect_bad PATTERN ARG...: accel-serve ARG... exits 2 and prints a line matching PATTERN.
expect_bad() {
    pattern=$1
    shift
    out=$("$serve" --mount "$tmp/never" "$@" 2>&1)
    rc=$?
    if [ "$rc" -ne 2 ]; then
        bad "accel-serve $* exited $rc, want 2: $out"
    elif ! printf '%s\n' "$out" | grep -Eq -- "$pattern"; then
        bad "accel-serve $*: no line matches '$pattern': $out"
    else
        say "ok: $* -> $out"
    fi
}

if [ "$mode" = bad ]; then
    printf '# comment\n\nKERNEL=="accel0", MODE="0600"\nKERNEL=="accel1", MODE="0999"\n' >"$tmp/bad.rules"
    expect_bad '^accel-serve: --owner no-such-user-accel: no such user$' --owner no-such-user-accel
    expect_bad '^accel-serve: --group no-such-group-accel: no such group$' --group=no-such-group-accel
    expect_bad '^accel-serve: --mode 0888: not an octal mode' --mode 0888
    expect_bad '^accel-serve: --mode 10000: not an octal mode' --mode 10000
    expect_bad '^accel-serve: --mode : not an octal mode' --mode ''
    expect_bad "^accel-serve: --rule 'KERNEL=\"accel0\"': bad rule \\(" --rule 'KERNEL="accel0"'
    expect_bad "^accel-serve: --rule 'NAME==\"x\", MODE=\"0600\"': bad rule" --rule 'NAME=="x", MODE="0600"'
    expect_bad "^accel-serve: --rule 'KERNEL==\"accel0\"': bad rule" --rule 'KERNEL=="accel0"'
    expect_bad "^accel-serve: --rule 'OWNER=\"no-such-user-accel\"': bad rule" --rule 'OWNER="no-such-user-accel"'
    expect_bad "^accel-serve: --rules $tmp/missing: No such file or directory$" --rules "$tmp/missing"
    expect_bad "^accel-serve: $tmp/bad.rules:4: bad rule" --rules "$tmp/bad.rules"
    for v in 10abc 0 -5 '' ' 5' 99999999999999 86400001; do
        expect_bad "^accel-serve: --job-timeout-ms $v: not a number of milliseconds in 1\\.\\.86400000$" --job-timeout-ms "$v"
    done
    expect_bad "^accel-serve: --job-timeout-ms \\+5: not a number of milliseconds" --job-timeout-ms +5
    out=$("$serve" --help 2>&1)
    rc=$?
    [ "$rc" -eq 0 ] || bad "--help exited $rc"
    for opt in --owner --group --mode --rule --rules; do
        printf '%s\n' "$out" | grep -q -- "^  $opt " || bad "--help does not describe $opt"
    done
    [ -e "$tmp/never" ] && bad "a bad option still created the mount point"
    exit $fail
fi

[ "$mode" = serve ] || { say "usage: $0 bad|serve ACCEL_SERVE"; exit 2; }
if [ "$(id -u)" != 0 ] || [ ! -c /dev/fuse ] || ! command -v setpriv >/dev/null; then
    say "SKIP: needs root, /dev/fuse and setpriv (to open the nodes as another user)"
    exit 77
fi
mnt=$tmp/mnt
printf '# vdnn belongs to 1234\nDRIVER=="vdnn", OWNER="1234"\n' >"$tmp/site.rules"
"$serve" --mount "$mnt" --devices minimal,vdnn --owner 0 --group 4242 --mode 0660 \
    --rule 'KERNEL=="accel_controlD*", MODE="0644"' --rules "$tmp/site.rules" \
    --rule 'PATH=="sys/class/accel/accel0/reset", GROUP="4242", MODE="0220"' >"$tmp/log" 2>&1 &
pid=$!
ticks=100
while [ "$ticks" -gt 0 ] && [ ! -e "$mnt/accel/accel_controlD1" ]; do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
    ticks=$((ticks - 1))
done
if [ ! -e "$mnt/accel/accel_controlD1" ]; then
    cat "$tmp/log"
    kill -TERM "$pid" 2>/dev/null
    wait "$pid"
    if grep -q "mounting" "$tmp/log"; then
        say "SKIP: the FUSE mount is refused here"
        exit 77
    fi
    say "FAIL: accel-serve did not serve"
    exit 1
fi

check_stat() { # PATH "UID GID MODE"
    got=$(stat -c '%u %g %a' "$1")
    [ "$got" = "$2" ] && say "ok: $1: $got" || bad "$1: owner group mode '$got', want '$2'"
}
check_stat "$mnt/accel/accel0" "0 4242 660"
check_stat "$mnt/accel/accel_controlD0" "0 4242 644"
check_stat "$mnt/accel/accel1" "1234 4242 660"
check_stat "$mnt/accel/accel_controlD1" "1234 4242 644"
check_stat "$mnt/accel" "0 0 755"
check_stat "$mnt/sys/class/accel/accel0/reset" "0 4242 220"
# DRIVER and PATH rules reach attributes too (KERNEL names nodes only); --group does not.
check_stat "$mnt/sys/class/accel/accel1/reset" "1234 0 200"
check_stat "$mnt/sys/class/accel/accel1/status" "1234 0 444"

# as USER GROUP[,SUPPLEMENTARY] COMMAND: runs a shell command as another user.
as() {
    if [ -n "$3" ]; then
        setpriv --reuid "$1" --regid "$2" --groups "$3" sh -c "$4" 2>/dev/null
    else
        setpriv --reuid "$1" --regid "$2" --clear-groups sh -c "$4" 2>/dev/null
    fi
}
opens() { # WHO... OPEN-REDIRECTION PATH WANT(0 opened / 1 refused)
    if as "$1" "$2" "$3" "exec 3$4'$5'"; then got=0; else got=1; fi
    [ "$got" = "$6" ] && say "ok: uid $1 gid $2 groups '$3' open $4 $5 -> $got" ||
        bad "uid $1 gid $2 groups '$3' open $4 $5: got $got, want $6"
}
opens 65534 65534 "" "<>" "$mnt/accel/accel0" 1
opens 65534 65534 "" "<" "$mnt/accel/accel0" 1
opens 65534 65534 "" "<" "$mnt/accel/accel_controlD0" 0
opens 65534 65534 "" "<>" "$mnt/accel/accel_controlD0" 1
opens 65534 4242 "" "<>" "$mnt/accel/accel0" 0
opens 65534 65534 "4242" "<>" "$mnt/accel/accel0" 0
opens 1234 65534 "" "<>" "$mnt/accel/accel1" 0
opens 1234 65534 "" "<>" "$mnt/accel/accel0" 1
opens 65534 65534 "" ">" "$mnt/sys/class/accel/accel1/reset" 1
opens 65534 65534 "" "<" "$mnt/sys/class/accel/accel1/status" 0
opens 65534 4242 "" ">" "$mnt/sys/class/accel/accel0/reset" 0
# An attribute read with cat: the whole value, then the end.
v=$(setpriv --reuid 65534 --regid 65534 --clear-groups cat "$mnt/sys/class/accel/accel1/dev")
[ "$v" = "261:1" ] && say "ok: cat dev -> $v" || bad "cat accel1/dev gave '$v'"
# The refusal is EACCES ("Permission denied"), not another error.
msg=$(setpriv --reuid 65534 --regid 65534 --clear-groups sh -c "exec 3<>'$mnt/accel/accel0'" 2>&1)
printf '%s\n' "$msg" | grep -q "Permission denied" || bad "refused open says '$msg', want Permission denied"

kill -TERM "$pid"
wait "$pid"
rc=$?
[ "$rc" -eq 0 ] || bad "accel-serve exited $rc after SIGTERM"
exit $fail
