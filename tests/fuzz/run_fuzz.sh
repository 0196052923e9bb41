#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs one libFuzzer target for CTest (see tests/fuzz/CMakeLists.txt).
#   run_fuzz.sh corpus <exe> <seed-dir> <work-dir>          run every seed/regression input once
#   run_fuzz.sh run    <exe> <seed-dir> <work-dir> <secs>   fuzz for <secs> from the seeds
# New inputs go to <work-dir>/corpus (never into the source tree); a crash leaves its input in
# <work-dir>/ as crash-* (copy it into tests/fuzz/corpus/<what>/ once fixed). The run prints
# libFuzzer's final stats (executions, execs/s, edges covered) for the record.
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
    exec "$exe" "${common[@]}" -max_total_time="$secs" "$work/corpus" "$seeds"
    ;;
*)
    echo "usage: run_fuzz.sh corpus|run <exe> <seed-dir> <work-dir> [secs]" >&2
    exit 2
    ;;
esac
