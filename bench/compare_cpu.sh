#!/usr/bin/env bash
# nmfuse's CPU backend beside scikit-learn on the same data and start, in one run:
# dense 5000×2000 at rank 32 and 1000×500 at rank 10, and sparse 20000×5000 counts at
# 1% density, rank 20 (KL and Frobenius); float32, all cores.
# Usage: bench/compare_cpu.sh [build-dir]   (log in bench/results/cpu-<date>.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cmake --build "$build" --target bench_cpu bench_sparse
venv="$build/bench-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet scikit-learn threadpoolctl

log="bench/results/cpu-$(date -u +%Y-%m-%d).txt"
mkdir -p bench/results
{
  echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
  "$build/nmfuse" --version | grep BLAS | sed 's/^/# nmfuse /'
  for size in "5000 2000 32" "1000 500 10"; do
    read -r m n k <<<"$size"
    data="$build/bench-data/${m}x${n}k${k}"
    "$venv/bin/python" bench/sklearn_peer.py --m "$m" --n "$n" --rank "$k" --out "$data"
    echo
    "$build/bench/bench_cpu" "$data" --rank "$k"
    echo "scikit-learn's BLAS: $(tr -d '\n ' < "$data/sklearn.json" | grep -o '"blas":\[[^]]*\]')"
  done
  data="$build/bench-data/sparse"
  "$venv/bin/python" bench/sklearn_sparse_peer.py --out "$data"
  echo
  "$build/bench/bench_sparse" "$data"
} | tee "$log"
