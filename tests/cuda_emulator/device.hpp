#pragma once
// Force-included (-include) before every CUDA source of the emulated module: what nvcc
// would provide on the device, provided on the host by the emulator (emulator.hpp).
//   __shared__      one copy per block: a block's threads are fibers of one OS thread;
//   __syncthreads() a checked barrier that knows its file and line;
//   threadIdx, ...  the running fiber's coordinates;
//   thrust::cuda::par(...).on(stream)  runs on Thrust's CPP system once the stream's
//                   queued work has executed (a Thrust reduction synchronizes).
#define __shared__ static thread_local
#define NMFUSE_EMULATED_GPU 1

// The headers first: cuSPARSE's names parameters blockDim.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusparse.h>
#include <thrust/execution_policy.h>

#include "emulator.hpp"

#define __syncthreads() ::nmfuse::emulator::syncthreads(__FILE__, __LINE__)
#define threadIdx (::nmfuse::emulator::thread_index())
#define blockIdx (::nmfuse::emulator::block_index())
#define blockDim (::nmfuse::emulator::block_dim())
#define gridDim (::nmfuse::emulator::grid_dim())

namespace thrust::cuda {

struct EmulatedPolicy {
  // Thrust on a GPU takes CUB's temporary storage from the allocator given: so does
  // this, a stand-in's worth, so that the allocator's device memory is really asked for.
  template <class Allocator>
  EmulatedPolicy operator()(Allocator& allocator) const {
    constexpr std::ptrdiff_t kTemporaryBytes = 4096;
    allocator.deallocate(allocator.allocate(kTemporaryBytes), kTemporaryBytes);
    return {};
  }
  auto on(cudaStream_t stream) const {
    ::nmfuse::emulator::synchronize(stream);
    return thrust::cpp::par;
  }
};
inline constexpr EmulatedPolicy par{};

}  // namespace thrust::cuda
