#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages accel needs, skipping those already installed (a warm machine
# returns at once). Needs root (or passwordless sudo). Used by scripts/demo.sh and .ci/run.
set -euo pipefail

packages=(
    g++ cmake ninja-build pkg-config
    clang-16 libclang-rt-16-dev            # the clang presets and the sanitizer runtimes
    libboost-dev librange-v3-dev           # public dependencies of accel
    doctest-dev libbenchmark-dev           # tests and benchmarks
    zlib1g-dev                             # bench/mm_policies reads gzip-compressed traces
    libfuse3-dev fuse3                     # the FUSE host of the real backend
    libdrm-dev                             # drm.h for the uAPI compatibility test, libdrm clients
    gnuplot-nox jq                         # benchmark plots (bench/plot_mm.sh)
    tmux python3                           # accel-smi's tests: --watch in tmux, --json checked by python3
)

missing=()
for p in "${packages[@]}"; do
    status="$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)"
    [[ "$status" == installed ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#packages[@]} packages are installed"
    exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo=()
[[ "$(id -u)" == 0 ]] || sudo=(sudo -n)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q </dev/null
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
