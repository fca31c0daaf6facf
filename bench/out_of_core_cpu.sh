#!/usr/bin/env bash
# Out of core on the CPU: a memory-mapped V of twice the memory a cgroup (v1 memory
# controller) gives the process. The bench writes a planted float32 .npy of 2 × LIMIT,
# reads it once with dd inside the cgroup after dropping the page cache (the disk's
# speed), then runs `nmfuse factor V.npy --out-of-core on` there: MU, rank 16, 4
# iterations from a random start. It prints each pass over V beside dd's, and the peak
# resident memory beside the limit and V. Needs root (the cgroup, drop_caches).
# Usage: bench/out_of_core_cpu.sh [build-dir] [limit MiB, default 1024]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
limit_mib=${2:-1024}
cmake --build "$build" --target nmfuse_cli >/dev/null
data="$build/bench-data/out-of-core"
mkdir -p "$data"
V="$data/V.npy"
rows=16384
cols=$(( 2 * limit_mib * 1024 * 1024 / 4 / rows ))
.venv/bin/python - "$V" "$rows" "$cols" <<'EOF'
import sys
import numpy as np
path, m, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
V = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(m, n))
rng = np.random.default_rng(0)
W = rng.random((m, 16), dtype=np.float32)
step = 1024
for i in range(0, m, step):  # a block of rows at a time: the writer stays small too
    V[i:i + step] = W[i:i + step] @ rng.random((16, n), dtype=np.float32)
V.flush()
EOF
bytes=$(( rows * cols * 4 ))
cg=/sys/fs/cgroup/memory/nmfuse-out-of-core
mkdir -p "$cg"
echo $(( limit_mib * 1024 * 1024 )) > "$cg/memory.limit_in_bytes"
in_cgroup() { sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@"; }
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "V: ${rows}×${cols} float32, $(( bytes >> 20 )) MiB; the cgroup's memory: ${limit_mib} MiB"
sync
echo 3 > /proc/sys/vm/drop_caches
start=$(date +%s.%N)
in_cgroup dd if="$V" of=/dev/null bs=16M status=none
dd_s=$(echo "$(date +%s.%N) - $start" | bc)
echo "dd reads V in ${dd_s} s: $(echo "$bytes / $dd_s / 1000000" | bc) MB/s"
echo 3 > /proc/sys/vm/drop_caches
echo 0 > "$cg/memory.max_usage_in_bytes"
out="$data/nmfuse-out"
in_cgroup /usr/bin/time -f "%M %e" -o "$data/peak-kib" "$build/nmfuse" factor "$V" --rank 16 \
  --device cpu --out-of-core on --solver mu --init random --max-iter 4 --tol 0 --check-every 4 \
  --out "$out" --quiet
.venv/bin/python - "$out/summary.json" "$data/peak-kib" "$bytes" "$dd_s" "$limit_mib" \
  "$cg/memory.max_usage_in_bytes" <<'EOF'
import json, sys
summary = json.load(open(sys.argv[1]))
peak_kib, whole_s = open(sys.argv[2]).read().split()[-2:]
peak, whole_s = int(peak_kib) * 1024, float(whole_s)
v_bytes, dd_s, limit = int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]) << 20
cgroup_peak = int(open(sys.argv[6]).read())
# Passes over V: the input check (which makes the sums the start and the loss need),
# the product of the loss at iteration 0, then 2 an iteration (the check's loss takes
# the last product).
passes = 2 + 2 * summary["iterations"]
per_pass = whole_s / passes
print(f"nmfuse: {whole_s:.1f} s the whole process ({summary['seconds']:.1f} s in factorize) "
      f"for {summary['iterations']} iterations, {passes} passes over V; about "
      f"{per_pass:.2f} s a pass, {per_pass / dd_s:.2f}× dd's")
print(f"peak resident {peak / 2**20:.0f} MiB ({peak / v_bytes:.3f} of V); the cgroup's peak "
      f"(page cache included) {cgroup_peak / 2**20:.0f} MiB of its {limit / 2**20:.0f}")
print("device_reason:", summary["device_reason"])
EOF
rmdir "$cg" 2>/dev/null || true
