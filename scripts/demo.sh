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

if [[ -c /dev/fuse && -x build/bench/examples/serve/accel-serve ]]; then
    echo
    echo "=== the same devices served on a FUSE mount, read by accel-info through real syscalls ==="
    mnt="$(mktemp -d /tmp/accel-demo-XXXXXX)"
    build/bench/examples/serve/accel-serve --mount "$mnt" &
    serve_pid=$!
    for _ in $(seq 50); do [[ -e "$mnt/accel/accel0" ]] && break; sleep 0.1; done
    build/bench/examples/accel_info/accel-info "$mnt" || true
    kill -TERM "$serve_pid"
    wait "$serve_pid" || true
    rmdir "$mnt" 2>/dev/null || true
fi

echo
echo "=== ioctl dispatch cost (bench/ioctl_dispatch) ==="
build/bench/bench/ioctl_dispatch --benchmark_min_time=0.2

echo
echo "=== memory-range policies on the allocation traces (bench/mm_policies) ==="
out=build/bench/out
mkdir -p "$out"
# The shared allocation traces sit beside the checkout (../shared/traces) or wherever
# ACCEL_TRACE_DIR points; without them the comparison runs on the synthetic workloads.
traces="${ACCEL_TRACE_DIR:-../shared/traces}"
if compgen -G "$traces/*.trace*" >/dev/null; then
    workloads=(--synthetic=0)
    export ACCEL_TRACE_DIR="$(cd "$traces" && pwd)"
else
    echo "(no allocation traces under $traces: comparing on the synthetic workloads)"
    workloads=(--synthetic=1)
fi
build/bench/bench/mm_policies "${workloads[@]}" --benchmark_out="$out/mm_policies.json" --benchmark_out_format=json "$@"
bash bench/plot_mm.sh "$out/mm_policies.json"
echo "JSON and charts: $out/"
