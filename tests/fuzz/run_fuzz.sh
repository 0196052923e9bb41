#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs one libFuzzer target for CTest (see tests/fuzz/CMakeLists.txt).
#   run_fuzz.sh corpus <exe> <seed-dir> <work-dir>          run every seed/regression input once
#   run_fuzz.sh run    <exe> <seed-dir> <work-dir> <secs>   fuzz for <secs> from the seeds
# New inputs go to <work-dir>/corpus (never into the source tree); a crash leaves its input in
# <work-dir>/ as crash-* (copy it into tests/fuzz/corpus/<what>/ once fixed). The run prints
# libFuzzer's final stats (executions, execs/s, edges covered) for the record, also kept in
# <work-dir>/stats.txt (tests/run_all.sh prints them all after the fuzz preset's tests).
set -euo pipefail
mode="$1" exe="$2" seeds="$3" work="$4"
mkdir -p "$work/corpus"
common=(-artifact_prefix="$work/" -rss_limit_mb=4096 -timeout=30 -print_final_stats=1)
case "$mode" in
corpus)
    # -runs=0: read and execute every input once, fuzz nothing.
    exec "$exe" "${common[@]}" -runs=0 "$seeds"
    ;;
run)
    secs="$5"
    rc=0
    "$exe" "${common[@]}" -max_total_time="$secs" "$work/corpus" "$seeds" >"$work/run.log" 2>&1 || rc=$?
    # The record: executions, their rate, the edges covered (the last status line's "cov:").
    {
        printf 'target %s\n' "$(basename "$exe")"
        grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$work/run.log" || true
        grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$work/run.log" | tail -n 1 || true
    } >"$work/stats.txt"
    if ((rc != 0)); then
        tail -n 60 "$work/run.log"
    else
        cat "$work/stats.txt"
    fi
    exit "$rc"
    ;;
*)
    echo "usage: run_fuzz.sh corpus|run <exe> <seed-dir> <work-dir> [secs]" >&2
    exit 2
    ;;
esac
