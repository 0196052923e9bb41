#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole test run: for each preset (default: gcc clang asan tsan fuzz), configure, build and test
# (cmake --preset P; cmake --build; ctest --preset P), stopping at the first failure, then a
# summary with the time of each step. This is what .ci/run runs and what the README's test
# command is.
#
#   tests/run_all.sh [preset...]
#
# Environment:
#   ACCEL_JOBS=N                build and test parallelism (default 2)
#   ACCEL_BUILD_PREFIX=/tmp/b-  build trees go to <prefix><preset> (default: the presets'
#                               build/<preset>)
#   ACCEL_FRESH=1               reconfigure from scratch (cmake --fresh)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

jobs="${ACCEL_JOBS:-2}"
if (($# > 0)); then
    presets=("$@")
else
    presets=(gcc clang asan tsan fuzz)
fi

summary=()
failed=""
run_start=$SECONDS

print_summary() {
    local rc=$?
    echo
    echo "==================== accel test summary ===================="
    local line
    for line in "${summary[@]}"; do
        echo "  $line"
    done
    if [[ -n "$failed" ]]; then
        echo "  FAILED: $failed"
    elif ((rc != 0)); then
        echo "  FAILED (exit $rc)"
    else
        echo "  all presets passed"
    fi
    echo "  total $((SECONDS - run_start)) s"
    echo "============================================================="
}
trap print_summary EXIT

# Runs one step, timing it; on failure records it and exits (the EXIT trap prints the summary).
step() {
    local preset="$1" name="$2"
    shift 2
    echo
    echo "----- [$preset] $name: $*"
    local t0=$SECONDS
    if "$@"; then
        step_times+=("$name $((SECONDS - t0))s")
    else
        local rc=$?
        step_times+=("$name FAILED after $((SECONDS - t0))s")
        summary+=("$(printf '%-6s FAILED  %s' "$preset" "${step_times[*]}")")
        failed="$preset: $name (exit $rc)"
        exit "$rc"
    fi
}

run_in() {
    local dir="$1"
    shift
    (cd "$dir" && "$@")
}

# ThreadSanitizer maps its shadow at fixed addresses; with a large vm.mmap_rnd_bits (> 28) the
# kernel may place the binary where TSan cannot cope ("FATAL: ThreadSanitizer: unexpected memory
# mapping"). Probe once with a tiny program; if it fails, run the tsan tests without ASLR.
tsan_wrapper=()
probe_tsan() {
    local dir
    dir="$(mktemp -d)"
    printf '#include <thread>\nint main(){int x=0;std::thread t([&]{x=1;});t.join();return x-1;}\n' >"$dir/p.cpp"
    if ! clang++-16 -fsanitize=thread -O1 "$dir/p.cpp" -o "$dir/p" 2>"$dir/log"; then
        echo "tsan probe: cannot compile a TSan program:" >&2
        cat "$dir/log" >&2
    elif ! "$dir/p" >"$dir/log" 2>&1; then
        if setarch "$(uname -m)" -R "$dir/p" >/dev/null 2>&1; then
            echo "tsan probe: TSan fails with ASLR here ($(head -c 200 "$dir/log")); running its tests under setarch -R"
            tsan_wrapper=(setarch "$(uname -m)" -R)
        else
            echo "tsan probe: TSan programs fail even without ASLR:" >&2
            cat "$dir/log" >&2
        fi
    fi
    rm -rf "$dir"
}

for preset in "${presets[@]}"; do
    step_times=()
    preset_start=$SECONDS
    dir="${ACCEL_BUILD_PREFIX:-build/}$preset"
    configure=(cmake --preset "$preset")
    [[ -n "${ACCEL_BUILD_PREFIX:-}" ]] && configure+=(-B "$dir")
    [[ "${ACCEL_FRESH:-0}" == 1 ]] && configure+=(--fresh)
    test=(ctest --preset "$preset" -j "$jobs")
    test_cwd=.
    if [[ -n "${ACCEL_BUILD_PREFIX:-}" ]]; then
        # ctest --preset takes the build tree from the configure preset (--test-dir does not
        # override it): run it on a copy of CMakePresets.json whose binaryDir is the prefix's.
        test_cwd="$dir/.run_all_presets"
        mkdir -p "$test_cwd"
        abs_prefix="$(cd "$(dirname "${ACCEL_BUILD_PREFIX}x")" && pwd)/$(basename "${ACCEL_BUILD_PREFIX}x")"
        abs_prefix="${abs_prefix%x}"
        sed 's|"binaryDir": *"${sourceDir}/build/${presetName}"|"binaryDir": "'"$abs_prefix"'${presetName}"|' \
            CMakePresets.json >"$test_cwd/CMakePresets.json"
        if ! grep -qF "\"binaryDir\": \"$abs_prefix\${presetName}\"" "$test_cwd/CMakePresets.json"; then
            echo "ACCEL_BUILD_PREFIX: cannot redirect binaryDir in a copy of CMakePresets.json" >&2
            exit 2
        fi
    fi
    if [[ "$preset" == tsan ]]; then
        probe_tsan
        test=("${tsan_wrapper[@]}" "${test[@]}")
    fi

    step "$preset" configure "${configure[@]}"
    step "$preset" build cmake --build "$dir" -j "$jobs"
    step "$preset" test run_in "$test_cwd" "${test[@]}"
    if [[ "$preset" == fuzz ]]; then
        # What each bounded fuzzing run did (tests/fuzz/run_fuzz.sh keeps libFuzzer's final stats).
        echo
        echo "----- [fuzz] per target: executions, execs/s, new inputs, peak RSS, coverage"
        for stats in "$dir"/fuzz/work/*/stats.txt; do
            [[ -e "$stats" ]] && tr '\n' ' ' <"$stats" | sed 's/stat:://g' && echo
        done
    fi
    summary+=("$(printf '%-6s passed  %s, total %ss' "$preset" "${step_times[*]}" "$((SECONDS - preset_start))")")
done
