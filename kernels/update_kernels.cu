#include <cub/block/block_reduce.cuh>

#include "k_dispatch.hpp"
#include "launch.cuh"
#include "own_gram.cuh"
#include "update_kernels.cuh"

namespace nmfuse::kernels {
namespace {

// Entry t of a row of P, zero past k (the fast path's padding).
struct PaddedRow {
  const float* base;
  int stride;
  int k;
  __device__ float operator[](int t) const { return t < k ? base[t * stride] : 0.0f; }
};

// Where entry t of a row is stored; past k (the padding) it goes nowhere.
struct PaddedOutRow {
  float* base;
  int stride;
  int k;
  float sink;
  __device__ float& operator[](int t) { return t < k ? base[t * stride] : sink; }
};

template <int K>
__device__ void load_row(float (&x)[K], const float* X, std::int64_t i, int stride, int k) {
#pragma unroll
  for (int t = 0; t < K; ++t) x[t] = PaddedRow{X + i, stride, k}[t];
}

template <int K>
__device__ void store_row(const float (&x)[K], float* X, std::int64_t i, int stride, int k) {
  PaddedOutRow out{X + i, stride, k};
#pragma unroll
  for (int t = 0; t < K; ++t) out[t] = x[t];
}

// G (k×k) zero-padded to K×K in shared memory, by the whole block.
template <int K>
__device__ void load_padded_gram(float* Q, const float* G, int k) {
  for (int e = threadIdx.x; e < K * K; e += blockDim.x) {
    const int s = e % K, t = e / K;
    Q[e] = (s < k && t < k) ? G[s + t * k] : 0.0f;
  }
  __syncthreads();
}

__device__ std::int64_t thread_row() {
  return std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
}

// Restarts side by side (core/backend.hpp): grid row y updates block y, whose X and P
// lie rows·k floats apart and whose Gram k·k floats apart.
__device__ void to_batch_block(float*& X, const float*& P, const float*& G, float*& scratch,
                               std::int64_t rows, int k) {
  const std::int64_t b = blockIdx.y, f = rows * k;
  X += b * f;
  P += b * f;
  G += b * k * k;
  if (scratch) scratch += b * f;
}

// Fast path: the row in registers, Q in shared memory. One thread, one row.
template <int K>
__global__ void mu_frobenius_fast(float* X, const float* P, const float* G, std::int64_t rows,
                                  int k, Penalty<float> pen) {
  __shared__ float Q[K * K];
  float* no_scratch = nullptr;
  to_batch_block(X, P, G, no_scratch, rows, k);
  load_padded_gram<K>(Q, G, k);
  const std::int64_t i = thread_row();
  if (i >= rows) return;
  const int stride = int(rows);
  float x[K];
  load_row(x, X, i, stride, k);
  // The old row stays in registers; the new one goes straight to memory.
  PaddedOutRow next{X + i, stride, k};
  mu_frobenius_row<K>(x, PaddedRow{P + i, stride, k}, next, Q, K, k, pen);
}

template <int K>
__global__ void hals_fast(float* X, const float* P, const float* G, std::int64_t rows, int k,
                          Penalty<float> pen, int max_sweeps, float inner_tol,
                          std::int64_t first_row) {
  __shared__ float Q[K * K];
  float* no_scratch = nullptr;
  to_batch_block(X, P, G, no_scratch, rows, k);
  load_padded_gram<K>(Q, G, k);
  const std::int64_t i = thread_row();
  if (i >= rows) return;
  const int stride = int(rows);
  float x[K], g[K];
  load_row(x, X, i, stride, k);
  hals_row<K>(x, PaddedRow{P + i, stride, k}, g, Q, K, k, pen, max_sweeps, inner_tol,
              first_row + i);
  store_row(x, X, i, stride, k);
}

template <int K>
__global__ void mu_kl_fast(float* X, const float* P, const float* colsum, std::int64_t rows,
                           int k, Penalty<float> pen) {
  __shared__ float c[K];
  for (int t = threadIdx.x; t < K; t += blockDim.x) c[t] = t < k ? colsum[t] : 0.0f;
  __syncthreads();
  const std::int64_t i = thread_row();
  if (i >= rows) return;
  const int stride = int(rows);
  float x[K];
  load_row(x, X, i, stride, k);
  mu_kl_row<K>(x, PaddedRow{P + i, stride, k}, c, k, pen);
  store_row(x, X, i, stride, k);
}

// Large-k path: rows read through strides in global memory, k-wide workspace in scratch.
__global__ void mu_frobenius_strided(float* X, const float* P, const float* G, float* scratch,
                                     std::int64_t rows, int k, Penalty<float> pen) {
  to_batch_block(X, P, G, scratch, rows, k);
  const std::int64_t i = thread_row();
  if (i >= rows) return;
  StridedRow<float> x{X + i, rows}, next{scratch + i, rows};
  mu_frobenius_row<0>(x, StridedRow<const float>{P + i, rows}, next, G, k, k, pen);
  for (int t = 0; t < k; ++t) x[t] = next[t];
}

__global__ void hals_strided(float* X, const float* P, const float* G, float* scratch,
                             std::int64_t rows, int k, Penalty<float> pen, int max_sweeps,
                             float inner_tol, std::int64_t first_row) {
  to_batch_block(X, P, G, scratch, rows, k);
  const std::int64_t i = thread_row();
  if (i >= rows) return;
  StridedRow<float> x{X + i, rows}, g{scratch + i, rows};
  hals_row<0>(x, StridedRow<const float>{P + i, rows}, g, G, k, k, pen, max_sweeps, inner_tol,
              first_row + i);
}

__global__ void mu_kl_strided(float* X, const float* P, const float* colsum, std::int64_t rows,
                              int k, Penalty<float> pen) {
  const std::int64_t i = thread_row();
  if (i >= rows) return;
  StridedRow<float> x{X + i, rows};
  mu_kl_row<0>(x, StridedRow<const float>{P + i, rows}, colsum, k, pen);
}

__global__ void kl_ratio_kernel(float* WH, const float* A, std::int64_t ld, std::int64_t rows,
                                std::int64_t j0, std::int64_t nb) {
  const std::int64_t count = rows * nb;
  for (std::int64_t e = thread_row(); e < count; e += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t i = e % rows, j = j0 + e / rows;
    WH[e] = kl_ratio(A[j * ld + i], WH[e]);
  }
}

// Row i against partner row j meets V at A(i, j) (x_is_left) or A(j, i): every partner
// row is an entry, counted where observed.
struct MaskedEntries {
  const float* A;
  std::int64_t ld, a_rows, other;
  const std::uint8_t* observed;
  bool x_is_left;
  struct Range {
    std::int64_t first, end;
  };
  __device__ Range range(std::int64_t) const { return {0, other}; }
  __device__ OwnGramEntry at(std::int64_t i, std::int64_t j) const {
    const std::int64_t ai = x_is_left ? i : j, aj = x_is_left ? j : i;
    const bool seen = observed[aj * a_rows + ai] != 0;
    return {j, seen ? A[aj * ld + ai] : 0.0f, seen};
  }
};

__global__ void hals_masked_kernel(float* X, std::int64_t rows, const float* Y,
                                   MaskedEntries entries, int k, Penalty<float> pen,
                                   int max_sweeps, float inner_tol) {
  hals_own_gram(X, rows, Y, entries.other, k, entries, pen, max_sweeps, inner_tol);
}

__global__ void mu_beta_strided(float* X, const float* P, const float* D, std::int64_t rows,
                                int k, Penalty<float> pen, float gamma) {
  const std::int64_t i = thread_row();
  if (i >= rows) return;
  StridedRow<float> x{X + i, rows};
  mu_beta_row<0>(x, StridedRow<const float>{P + i, rows}, StridedRow<const float>{D + i, rows}, k,
                 pen, gamma);
}

__global__ void beta_ratio_kernel(float* WH, float* den, const float* A, std::int64_t ld,
                                  std::int64_t rows, std::int64_t j0, std::int64_t nb,
                                  float beta, const std::uint8_t* observed) {
  const std::int64_t count = rows * nb;
  for (std::int64_t e = thread_row(); e < count; e += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t i = e % rows, j = j0 + e / rows;
    const bool seen = observed == nullptr || observed[j * rows + i] != 0;
    const float wh = WH[e];
    den[e] = seen ? beta_denominator(wh, beta) : 0.0f;
    WH[e] = seen ? beta_numerator(A[j * ld + i], wh, beta) : 0.0f;
  }
}

__global__ void extrapolate_kernel(float* X, float* previous, std::int64_t count, float beta) {
  for (std::int64_t e = thread_row(); e < count; e += std::int64_t(gridDim.x) * blockDim.x) {
    const float x = X[e];
    X[e] = extrapolated(x, previous[e], beta);
    previous[e] = x;
  }
}

// One block a column: a strided sum per thread, then CUB's block reduction.
__global__ void column_sums_kernel(const float* X, std::int64_t rows, float* c) {
  using Reduce = cub::BlockReduce<double, kBlockThreads>;
  __shared__ typename Reduce::TempStorage scratch;
  const float* column = X + std::int64_t(blockIdx.x) * rows;
  double sum = 0;
  for (std::int64_t i = threadIdx.x; i < rows; i += blockDim.x) sum += column[i];
  sum = Reduce(scratch).Sum(sum);
  if (threadIdx.x == 0) c[blockIdx.x] = float(sum);
}

}  // namespace

// The fast path addresses a row's entries with 32-bit offsets t·rows (64-bit ones cost
// two registers each and push the K = 64 kernels into spills), so it takes rows·64 < 2³¹.
bool fast_path(std::int64_t rows, int k) {
  return k <= kMaxFastRank && rows * kMaxFastRank < (std::int64_t(1) << 31);
}

void mu_frobenius(float* X, const float* P, const float* G, float* scratch, std::int64_t rows,
                  int k, int blocks, Penalty<float> pen, cudaStream_t stream) {
  dispatch_rank(k, [&](auto width) {
    constexpr int K = decltype(width)::value;
    if constexpr (K > 0) {
      if (fast_path(rows, k))
        return launch_batch(rows, blocks, stream, mu_frobenius_fast<K>, X, P, G, rows, k, pen);
    }
      launch_batch(rows, blocks, stream, mu_frobenius_strided, X, P, G, scratch, rows, k, pen);
  });
}

void hals(float* X, const float* P, const float* G, float* scratch, std::int64_t rows, int k,
          int blocks, Penalty<float> pen, int max_sweeps, float inner_tol, std::int64_t first_row,
          cudaStream_t stream) {
  dispatch_rank(k, [&](auto width) {
    constexpr int K = decltype(width)::value;
    if constexpr (K > 0) {
      if (fast_path(rows, k))
        return launch_batch(rows, blocks, stream, hals_fast<K>, X, P, G, rows, k, pen,
                            max_sweeps, inner_tol, first_row);
    }
      launch_batch(rows, blocks, stream, hals_strided, X, P, G, scratch, rows, k, pen,
                   max_sweeps, inner_tol, first_row);
  });
}

void mu_kl(float* X, const float* P, const float* colsum, std::int64_t rows, int k,
           Penalty<float> pen, cudaStream_t stream) {
  dispatch_rank(k, [&](auto width) {
    constexpr int K = decltype(width)::value;
    if constexpr (K > 0) {
      if (fast_path(rows, k)) return launch(rows, 0, stream, mu_kl_fast<K>, X, P, colsum, rows, k, pen);
    }
      launch(rows, 0, stream, mu_kl_strided, X, P, colsum, rows, k, pen);
  });
}

void kl_ratio_block(float* WH, const float* A, std::int64_t ld, std::int64_t rows,
                    std::int64_t j0, std::int64_t nb, cudaStream_t stream) {
  launch(rows * nb, 0, stream, kl_ratio_kernel, WH, A, ld, rows, j0, nb);
}

void hals_masked(float* X, std::int64_t rows, const float* Y, std::int64_t other, int k,
                 const float* A, std::int64_t ld, std::int64_t a_rows,
                 const std::uint8_t* observed, bool x_is_left, Penalty<float> pen,
                 int max_sweeps, float inner_tol, cudaStream_t stream) {
  if (rows == 0) return;
  launch_kernel(unsigned(rows), kBlockThreads, 0, stream, hals_masked_kernel, X, rows, Y,
                MaskedEntries{A, ld, a_rows, other, observed, x_is_left}, k, pen, max_sweeps,
                inner_tol);
}

// The pow() calls cost more than strided reads: one path for every k.
void mu_beta(float* X, const float* P, const float* D, std::int64_t rows, int k,
             Penalty<float> pen, float gamma, cudaStream_t stream) {
  launch(rows, 0, stream, mu_beta_strided, X, P, D, rows, k, pen, gamma);
}

void beta_ratio_block(float* WH, float* den, const float* A, std::int64_t ld, std::int64_t rows,
                      std::int64_t j0, std::int64_t nb, float beta,
                      const std::uint8_t* observed, cudaStream_t stream) {
  launch(rows * nb, 0, stream, beta_ratio_kernel, WH, den, A, ld, rows, j0, nb, beta, observed);
}

void extrapolate(float* X, float* previous, std::int64_t count, float beta, cudaStream_t stream) {
  launch(count, 0, stream, extrapolate_kernel, X, previous, count, beta);
}

cudaError_t kernels_run_here() {
  cudaFuncAttributes attributes{};
  return cudaFuncGetAttributes(&attributes, reinterpret_cast<const void*>(&extrapolate_kernel));
}

void column_sums(const float* X, std::int64_t rows, int k, float* c, cudaStream_t stream) {
  if (k == 0) return;
  launch_kernel(unsigned(k), kBlockThreads, 0, stream, column_sums_kernel, X, rows, c);
}

}  // namespace nmfuse::kernels
