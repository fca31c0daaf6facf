#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for SECONDS (default 15) from
# its seed corpus (tests/fuzz/seeds/READER). A finding stops the script with the
# reproducer libFuzzer wrote. Usage: tests/fuzz/run.sh [SECONDS] [BUILD_DIR]
set -euo pipefail
seconds=${1:-15}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${2:-$root/build-fuzz}
cmake -S "$root/tests/fuzz" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ > /dev/null
cmake --build "$build" > /dev/null
for reader in npy csv mtx npz idx pgm records png checkpoint; do
  corpus="$build/corpus/$reader"
  mkdir -p "$corpus"
  # -rss_limit_mb: a reader must not believe a size its bytes do not back.
  "$build/fuzz_$reader" "$corpus" "$root/tests/fuzz/seeds/$reader" -max_total_time="$seconds" \
    -rss_limit_mb=2048 -timeout=10 -max_len=65536 -artifact_prefix="$build/$reader-" \
    -print_final_stats=1 2>&1 | grep -E "^(stat::number_of_executed_runs|stat::peak_rss|==|SUMMARY)|ERROR" \
    | sed "s/^/$reader: /"
done
echo "fuzz: every reader ran $seconds s without a finding"
