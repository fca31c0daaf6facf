#pragma once
// One way to launch: a grid that covers `count` items, nothing for an empty range, and
// a check right after.
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/cuda_check.hpp"

namespace nmfuse::kernels {

constexpr int kBlockThreads = 128;

inline std::int64_t ceildiv(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

template <class Kernel, class... Args>
void launch(std::int64_t count, std::size_t shared_bytes, cudaStream_t stream, Kernel kernel,
            Args... args) {
  if (count <= 0) return;
  const auto blocks = unsigned(ceildiv(count, kBlockThreads));  // up to 2³¹ − 1 in x
  kernel<<<blocks, kBlockThreads, shared_bytes, stream>>>(args...);
  NMFUSE_CHECK_LAUNCH();
}

}  // namespace nmfuse::kernels
