#!/usr/bin/env bash
# The GPU check, in one call on a machine with a GPU: build in Release for sm_90, run
# every test (the GPU ones on the real GPU; a dry run has them on the emulated one) and
# the GPU benchmark beside PyTorch and scikit-learn. The log begins with nvidia-smi and
# holds CTest's summary and the kernels' registers, spills and shared memory.
#
#   here (Debian, network):  bench/gpu-check.sh fetch      the .debs the build needs
#                                                          → .gpu-debs/ (ignored by git)
#   there (no network):      bench/gpu-check.sh            with .gpu-debs carried along
#   here, before a GPU call: bench/gpu-check.sh --dry-run  the same, minus the GPU
#   there, after a check:    bench/gpu-check.sh sanitize   compute-sanitizer's memcheck
#                                                          and racecheck over the GPU tests
#
# With the device tool: run(command="bench/gpu-check.sh", carry=[".gpu-debs"],
# timeout_s=600); copy what comes back from $OUT into bench/results/.
#
# Output: $OUT (the device tool's folder) or bench/results/: gpu-check.log, gpu-bench.md.
set -uo pipefail
cd "$(dirname "$0")/.."

debs=(libopenblas0-openmp libopenblas-openmp-dev libgfortran5 libquadmath0 libgtest-dev
      libgmock-dev libpng-dev libpng16-16 zlib1g zlib1g-dev libcli11-dev nlohmann-json3-dev
      libzip-dev libzip4 libbz2-1.0 libssl3)
if [ "${1:-}" = fetch ]; then
  mkdir -p .gpu-debs && cd .gpu-debs && apt-get download "${debs[@]}" && du -sh .
  exit
fi
dry_run=false
[ "${1:-}" = --dry-run ] && dry_run=true
if [ "${1:-}" = sanitize ]; then  # reuses build-gpu from a check in the same lease
  out=${OUT:-bench/results}
  mkdir -p "$out"
  export LD_LIBRARY_PATH="$PWD/.gpu-prefix/usr/lib/x86_64-linux-gnu/openblas-openmp:$PWD/.gpu-prefix/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
  export PATH="$PATH:/usr/local/cuda/bin"
  for tool in memcheck racecheck; do
    compute-sanitizer --tool "$tool" --error-exitcode 9 build-gpu/tests/nmfuse_gpu_tests \
      --gtest_filter='Gpu.*:Solvers/GpuMatchesCpu.*' 2>&1 | tail -40 | tee "$out/sanitize-$tool.log"
  done
  exit
fi

out=${OUT:-bench/results}
$dry_run && out=/tmp/nmfuse-gpu-dry-run  # a dry run's figures are no results
mkdir -p "$out"
log="$out/gpu-check.log"
exec > >(tee "$log") 2>&1
nvidia-smi || $dry_run || { echo "no GPU here: nvidia-smi failed"; exit 1; }
echo "== $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores"

# The Debian packages, unpacked into a prefix of our own (never into /).
prefix="$PWD/.gpu-prefix"
for f in .gpu-debs/*.deb; do dpkg -x "$f" "$prefix" || exit 1; done
# Some -dev links are absolute (libz.so -> /lib/...): point them into the prefix.
find "$prefix" -type l | while read -r link; do
  target=$(readlink "$link")
  case "$target" in /*) ln -sfn "$prefix$target" "$link" ;; esac
done
lib="$prefix/usr/lib/x86_64-linux-gnu"
export CMAKE_PREFIX_PATH="$prefix/usr"
export CMAKE_LIBRARY_PATH="$lib/openblas-openmp:$lib"
export LD_LIBRARY_PATH="$lib/openblas-openmp:$lib:${LD_LIBRARY_PATH:-}"
export PATH="$PATH:/usr/local/cuda/bin"

build=build-gpu
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DNMFUSE_CUDA="$($dry_run && echo AUTO || echo ON)" \
  -DNMFUSE_EMULATED_GPU="$($dry_run && echo ON || echo OFF)" || exit 1
cmake --build "$build" -j "$(nproc)" > "$out/gpu-build.log" 2>&1 || { tail -50 "$out/gpu-build.log"; exit 1; }
tests/check_ptxas.sh "$build" | tail -40

echo "== tests"
ctest --test-dir "$build" --output-on-failure --timeout 300
tests_status=$?
"$build/nmfuse" --version

if $dry_run; then
  "$build/bench/bench_gpu" --sizes 512 --ranks 16 --budget 0.05 --json "$out/nmfuse-gpu.jsonl" \
    || echo "(dry run: no GPU, so bench_gpu failed as it must)"
  exit $tests_status
fi
echo "== GPU benchmark"
"$build/bench/bench_gpu" --json "$out/nmfuse-gpu.jsonl"
echo "== sparse: KL on 1,000,000×100,000 counts at 0.1% density, rank 64"
"$build/bench/bench_gpu" --sparse 1000000 100000 0.001 64 --json "$out/nmfuse-gpu-sparse.jsonl"
echo "== out of core: a 16 GiB host V (65536²) streamed to the GPU, beside it copied there once"
"$build/bench/bench_gpu" --out-of-core 65536 65536 64 --json "$out/nmfuse-gpu-out-of-core.jsonl"
echo "== the same with TF32"
"$build/bench/bench_gpu" --sizes 32768 --ranks 64 256 --tf32 --json "$out/nmfuse-gpu-tf32.jsonl"
echo "== peers"
PYTHONUNBUFFERED=1 python3 bench/gpu_peers.py --nmfuse "$out/nmfuse-gpu.jsonl" | tee "$out/gpu-bench.md"
echo "== tests exited with $tests_status"
exit $tests_status
