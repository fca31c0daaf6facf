#include "k_dispatch.hpp"
#include "launch.cuh"
#include "own_gram.cuh"
#include "sparse_kernels.cuh"

namespace nmfuse::kernels {
namespace {

// Grid-stride loops: a launch covers `count` items whatever the grid.
__device__ std::int64_t first_item() { return std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ std::int64_t item_stride() { return std::int64_t(gridDim.x) * blockDim.x; }

__global__ void kl_ratio_stored_kernel(float* wh, const float* v, std::int64_t nnz) {
  for (std::int64_t e = first_item(); e < nnz; e += item_stride()) wh[e] = kl_ratio(v[e], wh[e]);
}

__global__ void beta_stored_kernel(float* wh, float* den, const float* v, std::int64_t nnz,
                                   float beta) {
  for (std::int64_t e = first_item(); e < nnz; e += item_stride()) {
    const float x = wh[e];
    if (den) den[e] = beta_denominator(x, beta);
    wh[e] = beta_numerator(v[e], x, beta);
  }
}

__global__ void beta_denominator_kernel(float* x, std::int64_t count, float beta) {
  for (std::int64_t e = first_item(); e < count; e += item_stride())
    x[e] = beta_denominator(x[e], beta);
}

// A CSR row's stored entries, each counted.
template <class I>
struct CsrEntries {
  const I* row_ptr;
  const I* col_idx;
  const float* values;
  struct Range {
    std::int64_t first, end;
  };
  __device__ Range range(std::int64_t i) const { return {row_ptr[i], row_ptr[i + 1]}; }
  __device__ OwnGramEntry at(std::int64_t, std::int64_t e) const {
    return {std::int64_t(col_idx[e]), values[e], true};
  }
};

template <class I>
__global__ void hals_csr_kernel(float* X, std::int64_t rows, const float* Y, std::int64_t other,
                                int k, CsrEntries<I> entries, Penalty<float> pen, int max_sweeps,
                                float inner_tol) {
  hals_own_gram(X, rows, Y, other, k, entries, pen, max_sweeps, inner_tol);
}

}  // namespace

void kl_ratio_stored(float* wh, const float* v, std::int64_t nnz, cudaStream_t stream) {
  launch(nnz, 0, stream, kl_ratio_stored_kernel, wh, v, nnz);
}

void beta_stored(float* wh, float* den, const float* v, std::int64_t nnz, float beta,
                 cudaStream_t stream) {
  launch(nnz, 0, stream, beta_stored_kernel, wh, den, v, nnz, beta);
}

void beta_denominator_dense(float* x, std::int64_t count, float beta, cudaStream_t stream) {
  launch(count, 0, stream, beta_denominator_kernel, x, count, beta);
}

template <class I>
void hals_csr(float* X, std::int64_t rows, const float* Y, std::int64_t other, int k,
              const I* row_ptr, const I* col_idx, const float* values, Penalty<float> pen,
              int max_sweeps, float inner_tol, cudaStream_t stream) {
  if (rows == 0) return;
  launch_kernel(unsigned(rows), kBlockThreads, 0, stream, hals_csr_kernel<I>, X, rows, Y, other,
                k, CsrEntries<I>{row_ptr, col_idx, values}, pen, max_sweeps, inner_tol);
}

template void hals_csr(float*, std::int64_t, const float*, std::int64_t, int, const std::int32_t*,
                       const std::int32_t*, const float*, Penalty<float>, int, float, cudaStream_t);
template void hals_csr(float*, std::int64_t, const float*, std::int64_t, int, const std::int64_t*,
                       const std::int64_t*, const float*, Penalty<float>, int, float, cudaStream_t);

}  // namespace nmfuse::kernels
