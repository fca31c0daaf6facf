#!/usr/bin/env bash
# The BLAS libraries nmfuse could run its CPU products on, side by side and interleaved,
# on one iteration's products at 5000×2000, rank 32 (float32, 2 threads): Debian's
# OpenBLAS 0.3.21 as it starts and with each of its cores selected, OpenBLAS 0.3.3x
# (scipy-openblas32) and oneMKL from PyPI, and Debian's BLIS where installed.
# Usage: bench/compare_blas.sh [build-dir]   (log in bench/results/blas-<date>.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cmake --build "$build" --target blas_candidates
venv="$build/bench-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet scipy-openblas32 mkl
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} MKL_NUM_THREADS=${OMP_NUM_THREADS:-2}
debian=/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0
run=("$build/bench/blas_candidates")
log="bench/results/blas-$(date -u +%Y-%m-%d).txt"
mkdir -p bench/results
{
  echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $OMP_NUM_THREADS threads, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
  for round in 1 2 3; do
    echo "# round $round"
    "${run[@]}" "$debian"
    for core in SkylakeX Cooperlake Haswell; do "${run[@]}" "$debian" --coretype "$core"; done
    "${run[@]}" "$site/scipy_openblas32/lib/libscipy_openblas.so" --prefix scipy_
    # oneMKL with GNU OpenMP, as it would run beside nmfuse's own OpenMP loops.
    LD_LIBRARY_PATH="$venv/lib" MKL_THREADING_LAYER=GNU "${run[@]}" "$venv/lib/libmkl_rt.so.3"
    for blis in /usr/lib/x86_64-linux-gnu/blis-openmp/libblis.so.4; do
      [ -e "$blis" ] && "${run[@]}" "$blis"
    done
  done
} | tee "$log"
