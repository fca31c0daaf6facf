#pragma once
// The custom kernels of the CUDA backend: the fused per-row updates (one thread owns
// one row, kernels/row_update.hpp does the arithmetic) and the KL ratio. X is W or Ht
// (rows×k, column-major), P its big product, G the partner's k×k Gram.
#include <cuda_runtime.h>

#include <cstdint>

#include "row_update.hpp"

namespace nmfuse::kernels {

// Whether a rows×k factor takes the register fast path; if not, the updates need
// `scratch` of rows×k floats.
bool fast_path(std::int64_t rows, int k);

void mu_frobenius(float* X, const float* P, const float* G, float* scratch, std::int64_t rows,
                  int k, Penalty<float> pen, cudaStream_t stream);
void hals(float* X, const float* P, const float* G, float* scratch, std::int64_t rows, int k,
          Penalty<float> pen, int max_sweeps, float inner_tol, cudaStream_t stream);
void mu_kl(float* X, const float* P, const float* colsum, std::int64_t rows, int k,
           Penalty<float> pen, cudaStream_t stream);

// WH (m×nb, column-major) ← V[:, j0:j0+nb] ⊘ WH, V stored with `layout` and ld.
void kl_ratio_block(float* WH, const float* V, std::int64_t ld, bool v_row_major,
                    std::int64_t m, std::int64_t j0, std::int64_t nb, cudaStream_t stream);

}  // namespace nmfuse::kernels
