#!/usr/bin/env bash
# Weak scaling of a distributed run on this machine: 1, 2 and 4 processes, each holding
# a block of the same size and running one OpenMP thread, on 1-D and 2-D grids; the
# words per iteration beside the formulas (bench_distributed.cpp), and the efficiency
# t(1) / t(P). Past the machine's cores the processes share them (oversubscribed).
# Usage: bench/distributed.sh [BUILD_DIR] [bench_distributed options...] (--device cuda:
# one GPU a process, summed through NCCL where each process has a GPU of its own)
set -euo pipefail
build=${1:-build}
shift || true
extra=("$@")
bench=$build/bench/bench_distributed
export OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "$(nproc --all) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%F)"
base=""
for run in "1 1x1" "2 2x1" "2 1x2" "4 4x1" "4 2x2"; do
  read -r p grid <<< "$run"
  out=$(mpiexec -n "$p" --oversubscribe "$bench" --grid "$grid" "${extra[@]}")
  echo "$out" | grep -v '^RESULT'
  seconds=$(echo "$out" | awk '/^RESULT/ {print $3}')
  base=${base:-$seconds}
  awk -v b="$base" -v s="$seconds" -v p="$p" \
    'BEGIN {printf "   weak-scaling efficiency t(1)/t(%d) = %.2f%s\n", p, b / s, (p > 2 ? " (oversubscribed)" : "")}'
done
