#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CTest bench.output_formats: the bench programs keep standard output in the format asked for.
#
#   check_output_formats.sh MM_TRACEGEN MM_POLICIES IOCTL_DISPATCH SHARING MONITOR
#
# - mm_tracegen writes the same bytes twice from one seed, and --stats reads them back;
# - mm_policies and ioctl_dispatch with --benchmark_format=json: stdout parses as one JSON
#   document with benchmarks in it, and the summary (comparison table, ratios) is on stderr;
# - with csv: stdout is CSV (gbench's header first) and has no summary line (fill_drain is among
#   the traces: gbench's CSV reporter aborts unless every run has the same counters);
# - sharing with --benchmark_format=json (its mock PRIME benchmarks only: no FUSE server is
#   started): stdout is JSON, its ratios on stderr; in console format they are on stdout.
# - monitor with --benchmark_format=json (its mock STATUS query and a 1-client snapshot: no FUSE
#   server is started): stdout is JSON, its ratio on stderr; in console format on stdout.
# - in console format the summary is on stdout.
# Tiny runs (3000-operation traces, one replay, two cheap policies; 1 ms per repetition): well
# under a second outside the sanitizers.
set -euo pipefail

if [[ $# -ne 5 ]]; then
    echo "usage: $0 MM_TRACEGEN MM_POLICIES IOCTL_DISPATCH SHARING MONITOR" >&2
    exit 2
fi
tracegen=$1 policies=$2 dispatch=$3 sharing=$4 monitor=$5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
    echo "FAILED: $*" >&2
    for f in "$tmp"/out "$tmp"/err; do
        [[ -f $f ]] && { echo "--- $(basename "$f"):" >&2; head -c 3000 "$f" >&2; }
    done
    exit 1
}

"$tracegen" --seed=7 --ops=3000 --out="$tmp/a" || fail "mm_tracegen"
"$tracegen" --seed=7 --ops=3000 --out="$tmp/b" || fail "mm_tracegen (second run)"
for t in gpu_mixed small_uniform pow2 fill_drain; do
    cmp -s "$tmp/a/$t.trace.gz" "$tmp/b/$t.trace.gz" || fail "mm_tracegen: $t differs between two runs with one seed"
done
"$tracegen" --stats "$tmp"/a/*.trace.gz >"$tmp/out" 2>"$tmp/err" || fail "mm_tracegen --stats"
grep -q "large requests: ids >=" "$tmp/out" ||
    fail "mm_tracegen --stats: no large requests in fill_drain"

policies_run() {
    "$policies" --trace="$tmp/a/pow2.trace.gz" --trace="$tmp/a/fill_drain.trace.gz" --synthetic=0 --replays=1 \
        --benchmark_filter='^replay/(best_fit|tlsf)/' "$@" >"$tmp/out" 2>"$tmp/err" || fail "mm_policies $*"
}
dispatch_run() {
    # All three benchmarks, so that the ratios are printed; 3 short repetitions each.
    "$dispatch" --benchmark_min_time=0.001 --benchmark_repetitions=3 "$@" >"$tmp/out" 2>"$tmp/err" ||
        fail "ioctl_dispatch $*"
}

policies_run --benchmark_format=json
jq -e '.benchmarks | map(select(.name | startswith("replay/tlsf/"))) | length == 2' "$tmp/out" >/dev/null ||
    fail "mm_policies --benchmark_format=json: stdout is not the JSON of two tlsf replays"
grep -q '^Comparison' "$tmp/err" || fail "mm_policies --benchmark_format=json: no comparison table on stderr"

policies_run --benchmark_format=csv
head -n1 "$tmp/out" | grep -q '^name,iterations,' || fail "mm_policies --benchmark_format=csv: stdout does not start with the CSV header"
grep -q 'Comparison' "$tmp/out" && fail "mm_policies --benchmark_format=csv: the table is on stdout"
grep -q '^Comparison' "$tmp/err" || fail "mm_policies --benchmark_format=csv: no comparison table on stderr"

policies_run
grep -q '^Comparison' "$tmp/out" || fail "mm_policies (console): no comparison table on stdout"

dispatch_run --benchmark_format=json
jq -e '[.benchmarks[] | select(.run_type == "iteration")] | length == 9' "$tmp/out" >/dev/null ||
    fail "ioctl_dispatch --benchmark_format=json: stdout is not the JSON of 3 x 3 repetitions"
grep -q '^mock / direct' "$tmp/err" || fail "ioctl_dispatch --benchmark_format=json: no ratios on stderr"

dispatch_run
grep -q '^mock / direct' "$tmp/out" || fail "ioctl_dispatch (console): no ratios on stdout"

sharing_run() {
    # One size of the mock PRIME cycle and its baseline, so that a ratio is printed; 3 short
    # repetitions each.
    "$sharing" --benchmark_filter='^(prime_cycle/mock|bo_cycle/mock)/4096$' --benchmark_min_time=0.001 \
        --benchmark_repetitions=3 "$@" >"$tmp/out" 2>"$tmp/err" || fail "sharing $*"
}

sharing_run --benchmark_format=json
jq -e '[.benchmarks[] | select(.run_type == "iteration")] | length == 6' "$tmp/out" >/dev/null ||
    fail "sharing --benchmark_format=json: stdout is not the JSON of 2 x 3 repetitions"
grep -q '^prime_cycle/mock/4096 / bo_cycle/mock/4096' "$tmp/err" || fail "sharing --benchmark_format=json: no ratio on stderr"

sharing_run
grep -q '^prime_cycle/mock/4096 / bo_cycle/mock/4096' "$tmp/out" || fail "sharing (console): no ratio on stdout"

monitor_run() {
    "$monitor" --benchmark_filter='^monitor_(status/mock|query/mock/clients:1)/real_time$' --benchmark_min_time=0.001 \
        --benchmark_repetitions=3 "$@" >"$tmp/out" 2>"$tmp/err" || fail "monitor $*"
}

monitor_run --benchmark_format=json
jq -e '[.benchmarks[] | select(.run_type == "iteration")] | length == 6' "$tmp/out" >/dev/null ||
    fail "monitor --benchmark_format=json: stdout is not the JSON of 2 x 3 repetitions"
grep -q '^monitor_query/mock/clients:1 / monitor_status/mock' "$tmp/err" || fail "monitor --benchmark_format=json: no ratio on stderr"

monitor_run
grep -q '^monitor_query/mock/clients:1 / monitor_status/mock' "$tmp/out" || fail "monitor (console): no ratio on stdout"

echo "bench output formats: ok"
