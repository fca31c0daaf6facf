#!/usr/bin/env bash
# What the emulated GPU cannot see, from ptxas -v over the real module's kernels (the
# logs cmake/ptxas_log.sh kept while building): every kernel's static shared memory
# within 48 KiB a block, on every architecture built. Prints registers and spills per
# kernel of ours and architecture (Thrust's and CUB's are checked, not listed), and
# fails on a kernel past the limit or on no log at all.
set -euo pipefail
build=$1
logs=$(find "$build" -name "*.ptxas.log" | sort)
[ -n "$logs" ] || { echo "no ptxas logs under $build: was the CUDA module built?"; exit 1; }
# shellcheck disable=SC2086
awk '
  /Compiling entry function/ { kernel = $0; sub(/.*function ./, "", kernel); sub(/. for .*/, "", kernel)
                               arch = $NF; gsub(/\047/, "", arch) }
  /bytes stack frame/ { spills = $0; sub(/.*frame, /, "", spills) }
  /Used [0-9]+ registers/ {
    regs = $0; sub(/.*Used /, "", regs); sub(/ registers.*/, "", regs)
    smem = 0
    if (match($0, /[0-9]+ bytes smem/)) { smem = substr($0, RSTART, RLENGTH); sub(/ bytes smem/, "", smem) }
    n++; if (smem + 0 > 49152) { bad++; print "TOO MUCH SHARED MEMORY: " }
    printf "%-8s %4d registers %6d B smem  %s  %s\n", arch, regs, smem, spills, kernel
  }
  END { printf "%d kernels × architectures, %d past 48 KiB of static shared memory\n", n, bad
        if (n == 0 || bad > 0) exit 1 }
' $logs | c++filt | grep -E '^TOO|nmfuse::kernels|kernels ×'
