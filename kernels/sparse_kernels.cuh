#pragma once
// The CUDA backend's kernels for CSR V, at its stored entries: wh holds W·Htᵀ there
// (from cuSPARSE's SDDMM) in the entry order of V or of Vᵀ, v the stored values in the
// same order. The arithmetic is row_update.hpp's, as on the CPU.
#include <cuda_runtime.h>

#include <cstdint>

#include "row_update.hpp"

namespace nmfuse::kernels {

// wh ← v / wh (floored), at every stored entry.
void kl_ratio_stored(float* wh, const float* v, std::int64_t nnz, cudaStream_t stream);

// wh ← v·wh^(β−2) and, where den is not null, den ← wh^(β−1).
void beta_stored(float* wh, float* den, const float* v, std::int64_t nnz, float beta,
                 cudaStream_t stream);

// x ← x^(β−1) over `count` entries (dense blocks of W·Htᵀ, for absent zeros).
void beta_denominator_dense(float* x, std::int64_t count, float beta, cudaStream_t stream);

// HALS where absent entries are unknown, k ≤ kMaxFastRank: row i of X (rows×k,
// column-major) against the partner rows (Y, other×k, column-major) its stored entries
// row_ptr[i]..row_ptr[i+1] link it to, each row with its own Gram.
template <class I>
void hals_csr(float* X, std::int64_t rows, const float* Y, std::int64_t other, int k,
              const I* row_ptr, const I* col_idx, const float* values, Penalty<float> pen,
              int max_sweeps, float inner_tol, cudaStream_t stream);

}  // namespace nmfuse::kernels
