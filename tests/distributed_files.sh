#!/usr/bin/env bash
# `mpirun -np 4 nmfuse factor V.mtx --grid 2x2`: each process reads only its block of the
# Matrix Market file, on its CPU and then on its (emulated) GPU, and the factors equal the
# single process's to float rounding; a failure on one process alone ends the job.
# Usage: distributed_files.sh NMFUSE MPIEXEC WORK_DIR
set -euo pipefail
nmfuse=$1 mpiexec=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work" && mkdir -p "$work" && cd "$work"
# 240×180 counts, about 15% stored, the same every time (a linear congruential draw).
awk 'BEGIN { m = 240; n = 180; s = 7; count = 0
  for (i = 1; i <= m; ++i) for (j = 1; j <= n; ++j) {
    s = (s * 1103515245 + 12345) % 2147483648
    if (s % 100 < 15) { line[++count] = i " " j " " (1 + (s % 7) + (i % 5) * (j % 3)) } }
  print "%%MatrixMarket matrix coordinate integer general"; print m, n, count
  for (e = count; e >= 1; --e) print line[e] }' > v.mtx
run=(factor v.mtx --rank 6 --max-iter 30 --tol 0 --seed 3 --quiet)

compare() { python3 "$here/compare_factors.py" "$@"; }

# Float counts: each product's sums in another order move it by ~√n·ε ≈ 1e-6; 30
# iterations carry that to W and H, grown by at most ~10² here.
"$nmfuse" "${run[@]}" --device cpu --out one_cpu
"$mpiexec" -n 4 --oversubscribe "$nmfuse" "${run[@]}" --device cpu --grid 2x2 --out grid_cpu
compare one_cpu grid_cpu 1e-4
grep -q '"stored"' grid_cpu/summary.json || { echo "FAIL: no stored count in the summary"; exit 1; }
[ "$(grep -o '"stored": [0-9]*' one_cpu/summary.json)" = "$(grep -o '"stored": [0-9]*' grid_cpu/summary.json)" ] ||
  { echo "FAIL: the processes' stored counts do not add up to the file's"; exit 1; }

if [ "${NMFUSE_CUDA_MODULE:-}" != "" ]; then
  "$nmfuse" "${run[@]}" --device cuda --out one_gpu
  "$mpiexec" -n 4 --oversubscribe "$nmfuse" "${run[@]}" --device cuda --grid 2x2 --out grid_gpu
  # Through NCCL where each process has a GPU of its own (the emulated GPU's always).
  grep -q "summed through NCCL\|two processes share a GPU" grid_gpu/summary.json ||
    { echo "FAIL: the GPUs did not sum through NCCL"; grep device grid_gpu/summary.json; exit 1; }
  compare one_gpu grid_gpu 1e-4
fi

# A failure on one process alone (process 0 cannot write its checkpoint) ends the job at
# once with that error's exit code, rather than leaving the others in a collective.
status=0
timeout 120 "$mpiexec" -n 2 --oversubscribe "$nmfuse" "${run[@]}" --device cpu \
  --checkpoint /proc/no-such-folder/checkpoint.npz --checkpoint-every 3 --out grid_abort \
  2> abort.log || status=$?
[ "$status" -eq 3 ] || { echo "FAIL: one process failing: exit $status, not 3"; cat abort.log; exit 1; }
grep -q "process 0 of 2: cannot create /proc/no-such-folder" abort.log &&
  grep -q "process 0 of 2: ending every process of the run" abort.log ||
  { echo "FAIL: one process failing: no message naming it"; cat abort.log; exit 1; }
echo "process 0 failing alone ended the job (exit 3), saying so"
