#!/usr/bin/env bash
# Shows that the GPU tests can fail: injects one bug of each kind into a copy of the
# sources, rebuilds the emulated GPU module there and runs the GPU tests on it, which
# must then fail. Prints one line per bug (tests/README.md keeps the table).
#   tests/inject_bugs.sh [work folder]      (about a minute per bug on 2 cores)
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/nmfuse-inject-bugs}
rm -rf "$work" && mkdir -p "$work"
(cd "$src" && git ls-files -z | xargs -0 cp --parents -t "$work")
cmake -S "$work" -B "$work/build" -G Ninja > "$work/configure.log" 2>&1 || { tail "$work/configure.log"; exit 1; }
build() { cmake --build "$work/build" --target nmfuse_cuda_emulated nmfuse_gpu_tests > "$work/build.log" 2>&1; }
build || { tail -30 "$work/build.log"; exit 1; }

# kind | file | the text replaced (its first occurrence after the anchor) | replacement | anchor
mutations=$(cat <<'LIST'
a barrier removed|kernels/update_kernels.cu|    Q[e] = (s < k && t < k) ? G[s + t * k] : 0.0f;\n  }\n  __syncthreads();|    Q[e] = (s < k && t < k) ? G[s + t * k] : 0.0f;\n  }|load_padded_gram
an off-by-one bound|kernels/update_kernels.cu|if (i >= rows) return;|if (i > rows) return;|mu_frobenius_fast
a short grid|kernels/launch.cuh|ceildiv(count, kBlockThreads)|count / kBlockThreads|void launch(
a transposed GEMM operand|src/cuda/cuda_factors.cuh|plan_gemm(x, true, x, false, k())|plan_gemm(x, false, x, true, k())|void gram(
a missing stream synchronization|src/cuda/cuda_factors.cuh|cudaMemcpyDeviceToHost, stream()));\n    NMFUSE_CUDA_TRY(cudaStreamSynchronize(stream()));|cudaMemcpyDeviceToHost, stream()));|void get_factor(
a wrong copy direction|src/cuda/cuda_factors.cuh|cudaMemcpyHostToDevice|cudaMemcpyDeviceToHost|void set_factor(
a buffer sized after its first use|src/cuda/cuda_dense_backend.cu|DeviceBuffer<float>(std::size_t(A_.rows * ratio_block()))|DeviceBuffer<float>(ratio_.size())|void beta_products(
a barrier some threads never reach|kernels/update_kernels.cu|  load_padded_gram<K>(Q, G, k);\n  const std::int64_t i = thread_row();\n  if (i >= rows) return;|  const std::int64_t i = thread_row();\n  if (i >= rows) return;\n  load_padded_gram<K>(Q, G, k);|hals_fast
LIST
)

status=0
while IFS='|' read -r kind file old new anchor; do
  cp "$src/$file" "$work/$file"
  python3 - "$work/$file" "$old" "$new" "$anchor" <<'PY' || { echo "$kind: the text to replace was not found"; status=1; continue; }
import sys
path, old, new, anchor = sys.argv[1], *(a.replace("\\n", "\n") for a in sys.argv[2:])
s = open(path).read()
at = s.find(anchor)
hit = s.find(old, at)
if at < 0 or hit < 0:
    sys.exit(1)
open(path, "w").write(s[:hit] + new + s[hit + len(old):])
PY
  if ! build; then
    echo "$kind ($file): does not compile"; status=1
  else
    result=$(timeout 600 "$work/build/tests/nmfuse_gpu_tests" 2>&1)
    code=$?
    failed=$(grep -cE '^\[  FAILED  \] .* \([0-9]+ ms\)$' <<<"$result")
    total=$(grep -oE '^\[==========\] Running [0-9]+ tests' <<<"$result" | grep -oE '[0-9]+')
    fault=$(grep -m1 -oE "nmfuse emulated GPU: .*" <<<"$result" | cut -c22-160)
    if grep -q '^\[==========\] .* ran' <<<"$result"; then
      verdict="$failed of $total tests failed"
    else
      verdict="the run stopped (exit $code) after $failed failed tests${fault:+: $fault}"
    fi
    if [ "$failed" -gt 0 ] || [ "$code" -ne 0 ]; then
      echo "$kind ($file): caught: $verdict"
    else
      echo "$kind ($file): NOT caught"; status=1
    fi
  fi
  cp "$src/$file" "$work/$file"
done <<<"$mutations"
build
exit $status
