#pragma once
// HALS where each row has its own Gram: one block per row i builds Q = Σ y·yᵀ and
// p = Σ v·y in shared memory over the partner rows y its entries link it to, a tile at
// a time, then its thread 0 runs the row's sweeps (row_update.hpp). The entries come
// from a dense mask (update_kernels.cu) or a CSR row (sparse_kernels.cu):
//   entries.range(i) → {first, end};  entries.at(i, e) → {partner row j, v, counted}
// (v is 0 where the entry does not count).
#include <cstdint>

#include "k_dispatch.hpp"
#include "row_update.hpp"

namespace nmfuse::kernels {

struct OwnGramEntry {
  std::int64_t j;
  float v;
  bool counted;
};

constexpr int kOwnGramTile = 64;  // entries taken into shared memory at a time

template <class Entries>
__device__ void hals_own_gram(float* X, std::int64_t rows, const float* Y, std::int64_t other,
                              int k, const Entries& entries, Penalty<float> pen, int max_sweeps,
                              float inner_tol) {
  constexpr int K = kMaxFastRank;
  constexpr int kStride = K + 1;  // odd: the tile's stores hit distinct banks
  __shared__ float Q[K * K], p[K], g[K];
  __shared__ float tile[kOwnGramTile * kStride];  // the partner rows of the tile's entries
  __shared__ float value[kOwnGramTile];
  __shared__ bool counted[kOwnGramTile];
  __shared__ std::int64_t partner[kOwnGramTile];
  const std::int64_t i = blockIdx.x;
  for (int e = threadIdx.x; e < k * k; e += blockDim.x) Q[e] = 0.0f;
  for (int t = threadIdx.x; t < k; t += blockDim.x) p[t] = 0.0f;
  const auto range = entries.range(i);
  for (std::int64_t e0 = range.first; e0 < range.end; e0 += kOwnGramTile) {
    const int count = int(range.end - e0 < kOwnGramTile ? range.end - e0 : kOwnGramTile);
    __syncthreads();  // the previous tile is summed
    for (int ee = threadIdx.x; ee < count; ee += blockDim.x) {
      const OwnGramEntry entry = entries.at(i, e0 + ee);
      value[ee] = entry.v;
      counted[ee] = entry.counted;
      partner[ee] = entry.j;
    }
    __syncthreads();
    for (int e = threadIdx.x; e < count * k; e += blockDim.x) {
      const int ee = e % count, t = e / count;
      tile[ee * kStride + t] = Y[partner[ee] + std::int64_t(t) * other];
    }
    __syncthreads();
    for (int e = threadIdx.x; e < k * k; e += blockDim.x) {
      const int u = e % k, t = e / k;
      float sum = 0.0f;
      for (int ee = 0; ee < count; ++ee)
        if (counted[ee]) sum += tile[ee * kStride + u] * tile[ee * kStride + t];
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

}  // namespace nmfuse::kernels
