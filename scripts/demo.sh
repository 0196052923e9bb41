#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job: install what is needed, build the Release (bench) preset, run the minimal driver
# end to end on the mock backend, then compare the memory-range policies on the shared
# allocation traces (bench/mm_policies), writing JSON and PNG charts to build/bench/out/.
#
#   scripts/demo.sh [extra mm_policies flags, e.g. --trace my.trace.gz or --synthetic=1]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
cmake --preset bench
cmake --build --preset bench -j 2

echo
echo "=== the minimal driver, end to end (examples/minimal_driver) ==="
build/bench/examples/minimal_driver/minimal_client

echo
echo "=== ioctl dispatch cost (bench/ioctl_dispatch) ==="
build/bench/bench/ioctl_dispatch --benchmark_min_time=0.2

echo
echo "=== memory-range policies on the allocation traces (bench/mm_policies) ==="
out=build/bench/out
mkdir -p "$out"
build/bench/bench/mm_policies --synthetic=0 --benchmark_out="$out/mm_policies.json" --benchmark_out_format=json "$@"
bash bench/plot_mm.sh "$out/mm_policies.json"
echo "JSON and charts: $out/"
