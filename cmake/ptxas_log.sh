#!/usr/bin/env bash
# The CUDA compiler launcher of the real module: runs nvcc as given and keeps what
# ptxas -v says of each kernel (registers, spills, shared memory) in
# <object>.ptxas.log, which tests/check_ptxas.sh reads.
out=""
prev=""
for a in "$@"; do
  [ "$prev" = "-o" ] && out="$a"
  prev="$a"
done
if [ -z "$out" ]; then exec "$@"; fi
"$@" 2> "$out.ptxas.log"
status=$?
# Whatever else the compiler said still shows.
grep -v "^ptxas info" "$out.ptxas.log" | grep -v "^    [0-9]* bytes" >&2
exit $status
