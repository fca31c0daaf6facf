#pragma once
// One way to launch: launch_kernel is kernel<<<grid, block, shared, stream>>>(args...)
// and the check right after; under the emulated GPU (tests/cuda_emulator/) it queues
// the grid to run on the CPU. launch() covers `count` items and skips an empty range.
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/cuda_check.hpp"

namespace nmfuse::kernels {

constexpr int kBlockThreads = 128;

inline std::int64_t ceildiv(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

template <class... Params, class... Args>
void launch_kernel(dim3 grid, dim3 block, std::size_t shared_bytes, cudaStream_t stream,
                   void (*kernel)(Params...), Args... args) {
#ifdef NMFUSE_EMULATED_GPU
  ::nmfuse::emulator::launch_kernel(grid, block, shared_bytes, stream, kernel, args...);
#else
  kernel<<<grid, block, shared_bytes, stream>>>(args...);
#endif
  NMFUSE_CHECK_LAUNCH();
}

template <class... Params, class... Args>
void launch(std::int64_t count, std::size_t shared_bytes, cudaStream_t stream,
            void (*kernel)(Params...), Args... args) {
  if (count <= 0) return;
  const auto blocks = unsigned(ceildiv(count, kBlockThreads));  // up to 2³¹ − 1 in x
  launch_kernel(blocks, kBlockThreads, shared_bytes, stream, kernel, args...);
}

// `count` items in each of `blocks` grid rows (one per restart of a batch).
template <class... Params, class... Args>
void launch_batch(std::int64_t count, int blocks, cudaStream_t stream, void (*kernel)(Params...),
                  Args... args) {
  if (count <= 0 || blocks <= 0) return;
  const dim3 grid(unsigned(ceildiv(count, kBlockThreads)), unsigned(blocks));
  launch_kernel(grid, kBlockThreads, 0, stream, kernel, args...);
}

}  // namespace nmfuse::kernels
