#!/usr/bin/env bash
# nmfuse's CPU backend beside scikit-learn from PyPI (what people install) on the same
# data and start, in one run: per iteration on dense 5000×2000 at rank 32 and 1000×500
# at rank 10, and sparse 20000×5000 counts at 1% density, rank 20 (KL and Frobenius);
# then the readers beside scipy's and numpy's, and whole runs (start, read, initialize,
# iterate, write) beside scikit-learn's whole process; online fitting beside
# MiniBatchNMF on a 500×40000 stream. float32, all cores.
# Usage: bench/compare_cpu.sh [build-dir]   (log in bench/results/cpu-<date>.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cmake --build "$build" --target bench_cpu bench_sparse bench_readers bench_online nmfuse_cli
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
  whole="$build/bench-data/whole"
  "$venv/bin/python" bench/sklearn_whole_run_peer.py --out "$whole" >/dev/null
  echo
  "$build/bench/bench_readers" "$whole" --npy "$build/bench-data/5000x2000k32/V.npy"
  echo
  "$venv/bin/python" bench/whole_runs.py --nmfuse "$build/nmfuse" --whole "$whole" \
    --dense "$build/bench-data/5000x2000k32" --out "$whole/nmfuse-out"
  online="$build/bench-data/online"
  "$venv/bin/python" bench/sklearn_online_peer.py --out "$online"
  echo
  "$build/bench/bench_online" "$online"
} | tee "$log"
