#!/usr/bin/env bash
# A long `nmfuse factor` run stopped by SIGINT, by SIGTERM and killed by SIGKILL: every
# output on disk stays whole, and resuming from the last checkpoint ends bit for bit as
# the run that was never stopped (CPU).
# Usage: interrupt_resume.sh NMFUSE MAKE_MATRIX WORK_DIR
set -euo pipefail
nmfuse=$1 make_matrix=$2 work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work"
"$make_matrix" v.npy 1000 800 7
# Three threads: the resumed run must not depend on which thread finishes first.
run=(factor v.npy --rank 12 --max-iter 400 --tol 0 --device cpu --quiet --threads 3)

"$nmfuse" "${run[@]}" --out whole

wait_for() {  # until the file exists, at most 60 s
  for _ in $(seq 600); do [ -e "$1" ] && return 0; sleep 0.1; done
  echo "FAIL: $1 never appeared"; exit 1
}
same() {
  for f in W.npy H.npy; do
    cmp -s "whole/$f" "$1/$f" || { echo "FAIL: $1/$f differs from the uninterrupted run's"; exit 1; }
  done
}

for signal in INT TERM; do
  "$nmfuse" "${run[@]}" --out "$signal" --checkpoint-every 5 & pid=$!
  wait_for "$signal/checkpoint.npz"
  kill -"$signal" "$pid"
  status=0; wait "$pid" || status=$?
  [ "$status" -eq 5 ] || { echo "FAIL: SIG$signal: exit $status, expected 5"; exit 1; }
  grep -q '"stop_reason": "interrupted"' "$signal/summary.json" || { echo "FAIL: SIG$signal: summary"; exit 1; }
  "$nmfuse" "${run[@]}" --out "$signal" --resume "$signal/checkpoint.npz"
  same "$signal"
  echo "SIG$signal: exit 5, resumed to the same W and H"
done

# SIGKILL gives no warning: whatever is on disk must be whole.
"$nmfuse" "${run[@]}" --out KILL --checkpoint-every 3 & pid=$!
wait_for KILL/checkpoint.npz
kill -KILL "$pid"
wait "$pid" || true
[ ! -e KILL/W.npy ] || { echo "FAIL: a killed run left W.npy"; exit 1; }
"$nmfuse" "${run[@]}" --out KILL --resume KILL/checkpoint.npz
same KILL
echo "SIGKILL: the last checkpoint was whole and resumed to the same W and H"

# A checkpoint of another run is refused, naming the difference.
status=0
"$nmfuse" factor v.npy --rank 11 --out other --resume KILL/checkpoint.npz --quiet 2> err.txt || status=$?
[ "$status" -eq 3 ] && grep -q "the checkpoint's rank is 12, this run's is 11" err.txt \
  || { echo "FAIL: a rank-12 checkpoint resumed at rank 11 (exit $status): $(cat err.txt)"; exit 1; }
echo "PASS"
