#!/usr/bin/env bash
# The GPU tests on the emulated GPU under AddressSanitizer (all of them: a kernel's
# out-of-bounds access, a use after free) and ThreadSanitizer (a subset that runs every
# kernel with a barrier: TSan is 20–50× slower), each in a build folder of its own that
# compiles only the emulated module, libnmfuse and the GPU tests (no nvcc).
#   tests/cuda_emulator/sanitize.sh [address|thread]...   (default: both)
set -euo pipefail
cd "$(dirname "$0")/../.."
kinds=("$@")
[ ${#kinds[@]} -gt 0 ] || kinds=(address thread)
for kind in "${kinds[@]}"; do
  build="build-$kind"
  cmake -S . -B "$build" -G Ninja -DNMFUSE_EMULATOR_SANITIZER="$kind" > /dev/null
  cmake --build "$build" --target nmfuse_cuda_emulated nmfuse_gpu_tests > "$build/sanitize-build.log" 2>&1 \
    || { tail -30 "$build/sanitize-build.log"; exit 1; }
  echo "== the GPU tests on the emulated GPU under ${kind} sanitizer, in 2 shards at once"
  if [ "$kind" = thread ]; then
    # One OpenMP thread: the CPU backend's libgomp is not instrumented, and its threads'
    # hand-offs would read as races in the tests' own code.
    export TSAN_OPTIONS="halt_on_error=1 exitcode=66"
    # Left out: TF32's loss report, numerics rather than races, 5 minutes under TSan
    # alone; its kernels run in the other tests.
    filter='Gpu.*:*/mu_k5:*/hals_k12_reg:*/kl_k6:*/beta_0_5_k20_reg:*/frobenius_mu:*/kl_k14:*/masked_hals:Paths/GpuRestarts.EachEqualsItsLoneRun/hals-Paths/GpuRestarts.EachEqualsItsLoneRun/masked_hals:Gpu.Tf32RunsReportTheLossOfTheirFactors'
  else
    export ASAN_OPTIONS="detect_leaks=1 halt_on_error=1"
    filter='*'
  fi
  # The emulated GPU runs a test on one OS thread: two shards keep both cores busy.
  pids=()
  for shard in 0 1; do
    OMP_NUM_THREADS=1 NMFUSE_CUDA_MODULE=emulated GTEST_TOTAL_SHARDS=2 GTEST_SHARD_INDEX=$shard \
      "$build/tests/nmfuse_gpu_tests" --gtest_brief=1 --gtest_filter="$filter" \
      > "$build/shard-$shard.log" 2>&1 &
    pids+=($!)
  done
  failed=0
  for shard in 0 1; do
    wait "${pids[$shard]}" || failed=1
    cat "$build/shard-$shard.log"
  done
  [ "$failed" -eq 0 ] || { echo "the GPU tests failed under ${kind} sanitizer"; exit 1; }
done
