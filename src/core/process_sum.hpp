#pragma once
// What a distributed run (src/distributed/) sums a backend's pieces over: the processes
// that share one block of a factor, or that together hold all of one. Host buffers go
// through MPI; GPU buffers stay on the GPU where the processes' GPUs are linked (NCCL).
#include <cstddef>

struct CUstream_st;

namespace nmfuse::core {

// The pieces a process computes from its block of V alone and a grid completes.
enum class Piece { Product, Denominator, Gram, ColumnSums };

class ProcessSum {
 public:
  virtual ~ProcessSum() = default;
  // data ← the sum of every process's data, elementwise, the same bits on every process.
  virtual void sum(float* host, std::size_t count) = 0;
  virtual void sum(double* host, std::size_t count) = 0;
  // Whether sum_on_gpu() may be called: the processes' GPUs sum without the host.
  virtual bool sums_on_gpu() const { return false; }
  // sum(), on a GPU buffer, in the order of `stream`'s work; done when it returns.
  virtual void sum_on_gpu(float* device, std::size_t count, CUstream_st* stream) = 0;
};

}  // namespace nmfuse::core
