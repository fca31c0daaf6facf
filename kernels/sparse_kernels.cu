#include "k_dispatch.hpp"
#include "launch.cuh"
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

// Stored entries of a row taken into shared memory a tile at a time.
constexpr int kEntryTile = 64;

// One block per row: Q = Σ y·yᵀ and p = Σ v·y over the row's stored entries, in shared
// memory, then thread 0 runs the row's HALS sweeps (as hals_masked_kernel does for a
// dense mask).
template <class I>
__global__ void hals_csr_kernel(float* X, std::int64_t rows, const float* Y, std::int64_t other,
                                int k, const I* row_ptr, const I* col_idx, const float* values,
                                Penalty<float> pen, int max_sweeps, float inner_tol) {
  constexpr int K = kMaxFastRank;
  __shared__ float Q[K * K], p[K], g[K];
  constexpr int kStride = K + 1;  // odd: the tile's stores hit distinct banks
  __shared__ float tile[kEntryTile * kStride];  // the partner rows of the tile's entries
  __shared__ float value[kEntryTile];
  const std::int64_t i = blockIdx.x;
  for (int e = threadIdx.x; e < k * k; e += blockDim.x) Q[e] = 0.0f;
  for (int t = threadIdx.x; t < k; t += blockDim.x) p[t] = 0.0f;
  const std::int64_t begin = row_ptr[i], end = row_ptr[i + 1];
  for (std::int64_t e0 = begin; e0 < end; e0 += kEntryTile) {
    const int count = int(end - e0 < kEntryTile ? end - e0 : kEntryTile);
    __syncthreads();  // the previous tile is summed
    for (int ee = threadIdx.x; ee < count; ee += blockDim.x) value[ee] = values[e0 + ee];
    for (int e = threadIdx.x; e < count * k; e += blockDim.x) {
      const int ee = e % count, t = e / count;
      tile[ee * kStride + t] = Y[std::int64_t(col_idx[e0 + ee]) + std::int64_t(t) * other];
    }
    __syncthreads();
    for (int e = threadIdx.x; e < k * k; e += blockDim.x) {
      const int u = e % k, t = e / k;
      float sum = 0.0f;
      for (int ee = 0; ee < count; ++ee) sum += tile[ee * kStride + u] * tile[ee * kStride + t];
      Q[u + t * k] += sum;
    }
    for (int t = threadIdx.x; t < k; t += blockDim.x) {
      float sum = 0.0f;
      for (int ee = 0; ee < count; ++ee) sum += value[ee] * tile[ee * kStride + t];
      p[t] += sum;
    }
  }
  __syncthreads();
  if (threadIdx.x != 0) return;
  StridedRow<float> x{X + i, rows};
  float* gradient = g;
  hals_row<0>(x, static_cast<const float*>(p), gradient, static_cast<const float*>(Q), k, k,
              pen, max_sweeps, inner_tol, i);
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
  hals_csr_kernel<I><<<unsigned(rows), kBlockThreads, 0, stream>>>(
      X, rows, Y, other, k, row_ptr, col_idx, values, pen, max_sweeps, inner_tol);
  NMFUSE_CHECK_LAUNCH();
}

template void hals_csr(float*, std::int64_t, const float*, std::int64_t, int, const std::int32_t*,
                       const std::int32_t*, const float*, Penalty<float>, int, float, cudaStream_t);
template void hals_csr(float*, std::int64_t, const float*, std::int64_t, int, const std::int64_t*,
                       const std::int64_t*, const float*, Penalty<float>, int, float, cudaStream_t);

}  // namespace nmfuse::kernels
