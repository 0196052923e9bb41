#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Charts from a bench/mm_policies JSON file (--benchmark_out=FILE --benchmark_out_format=json).
#
#   bench/plot_mm.sh run.json        ->  run.<workload>.png next to run.json, one per workload
#
# Each PNG has three panels, one bar per policy: time per operation (ns), failed allocations
# (and, for fill_drain-like traces, large requests served), and per-operation latency
# percentiles p50/p99/p999/max on a log scale. With --benchmark_repetitions the "median"
# aggregates are plotted; otherwise the single run of each benchmark (the last, if several).
# Needs jq and gnuplot (gnuplot-nox is enough: the pngcairo terminal, no X).
set -euo pipefail

if [[ $# -ne 1 || ! -f $1 ]]; then
  echo "usage: $0 RESULT.json" >&2
  exit 2
fi
json=$1
for tool in jq gnuplot; do
  command -v "$tool" >/dev/null || { echo "$0: $tool not found" >&2; exit 1; }
done
out_base=${json%.json}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One TSV line per (workload, policy):
# workload policy ns_per_op failed_allocs large_served p50 p99 p999 max ns_per_op/naive's
# (large_served is NaN for workloads without large requests: large_attempts 0, or, in JSON from
# before large_attempts existed, no large_served counter)
jq -r '
  [.benchmarks[] | select((.name | startswith("replay/")) and (.error_occurred | not))] as $all
  | ($all | map(select(.run_type == "aggregate" and .aggregate_name == "median"))) as $med
  | (if ($med | length) > 0 then $med else ($all | map(select(.run_type == "iteration"))) end)
  | map((.run_name // .name | split("/")) as $p
        | {workload: $p[2], policy: $p[1], r: .})
  | group_by([.workload, .policy]) | map(last)
  | sort_by(.r.family_index)
  | (map(select(.policy == "naive") | {key: .workload, value: .r.ns_per_op}) | from_entries) as $naive
  | .[]
  | [.workload, .policy, .r.ns_per_op, .r.failed_allocs,
     (if .r | has("large_attempts") then (if .r.large_attempts > 0 then .r.large_served else "NaN" end)
      else .r.large_served // "NaN" end),
     .r.p50_ns, .r.p99_ns, .r.p999_ns, .r.max_ns,
     (if $naive[.workload] then .r.ns_per_op / $naive[.workload] else "NaN" end)]
  | @tsv' "$json" >"$tmp/all.tsv"

if [[ ! -s $tmp/all.tsv ]]; then
  echo "$0: no replay/ benchmarks in $json" >&2
  exit 1
fi

# Workloads in first-appearance order.
awk -F'\t' '!seen[$1]++ { print $1 }' "$tmp/all.tsv" >"$tmp/workloads"
while IFS= read -r w; do
  awk -F'\t' -v w="$w" '$1 == w' "$tmp/all.tsv" >"$tmp/w.tsv"
  png="$out_base.$w.png"
  has_large=$(awk -F'\t' '$5 != "NaN" { n++ } END { print n + 0 }' "$tmp/w.tsv")
  # gnuplot warns about an empty range when every policy has 0 failures: give it one.
  count_max=$(awk -F'\t' '{ m = $4 > m ? $4 : m; if ($5 != "NaN" && $5 > m) m = $5 } END { print m + 0 }' "$tmp/w.tsv")
  count_range=$(awk -v m="$count_max" 'BEGIN { print (m > 0 ? "[0:*]" : "[0:1]") }')
  if ((has_large > 0)); then
    count_plot='plot "'$tmp/w.tsv'" using 4:xtic(2) title "failed allocations" lc rgb "#c44e52", "" using 5 title "large requests served" lc rgb "#55a868"'
  else
    count_plot='plot "'$tmp/w.tsv'" using 4:xtic(2) title "failed allocations" lc rgb "#c44e52"'
  fi
  gnuplot <<EOF
set terminal pngcairo noenhanced size 1500,500 font "sans,10"
set output "$png"
set datafile separator "\t"
set datafile missing "NaN"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set grid ytics
set key below horizontal
set multiplot layout 1,3 title "mm_policies: $w" font "sans,13"

set title "time per operation (ns, whole replay / ops; label: x naive)"
set yrange [0:*]
set offsets 0, 0, graph 0.12, 0
plot "$tmp/w.tsv" using 3:xtic(2) notitle lc rgb "#4878a8", \
     "" using 0:3:(\$10 == \$10 ? sprintf("%.0f (%.2fx)", \$3, \$10) : sprintf("%.0f", \$3)) \
        with labels offset 0,0.8 notitle

set title "failed allocations" . ($has_large > 0 ? " / large requests served" : "")
set yrange $count_range
$count_plot
set offsets 0, 0, 0, 0

set title "per-operation latency (ns, log scale)"
set logscale y
set yrange [10:*]
set style histogram clustered gap 1
plot "$tmp/w.tsv" using 6:xtic(2) title "p50" lc rgb "#8da0cb", \
     "" using 7 title "p99" lc rgb "#66c2a5", \
     "" using 8 title "p99.9" lc rgb "#fc8d62", \
     "" using 9 title "max" lc rgb "#e78ac3"
unset logscale y
unset multiplot
EOF
  echo "$png"
done <"$tmp/workloads"
