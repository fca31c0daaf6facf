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

// `blocks` restarts side by side in one launch (core/backend.hpp): X, P and scratch
// hold rows×k floats a block, G k×k.
void mu_frobenius(float* X, const float* P, const float* G, float* scratch, std::int64_t rows,
                  int k, int blocks, Penalty<float> pen, cudaStream_t stream);
// first_row: the number of X's first row in the whole factor (Backend::first_row).
void hals(float* X, const float* P, const float* G, float* scratch, std::int64_t rows, int k,
          int blocks, Penalty<float> pen, int max_sweeps, float inner_tol, std::int64_t first_row,
          cudaStream_t stream);
void mu_kl(float* X, const float* P, const float* colsum, std::int64_t rows, int k,
           Penalty<float> pen, cudaStream_t stream);

// HALS with a mask, k ≤ kMaxFastRank: row i of X (rows×k) against the partner Y
// (other×k), both column-major, meeting V at A(i, j) (x_is_left) or A(j, i); A is
// column-major with leading dimension ld and `observed` packed with A's row count.
void hals_masked(float* X, std::int64_t rows, const float* Y, std::int64_t other, int k,
                 const float* A, std::int64_t ld, std::int64_t a_rows,
                 const std::uint8_t* observed, bool x_is_left, Penalty<float> pen,
                 int max_sweeps, float inner_tol, cudaStream_t stream);

// Any β: X ← X ⊙ (P ⊘ (D + l1 + l2·X))^γ, rows×k column-major.
void mu_beta(float* X, const float* P, const float* D, std::int64_t rows, int k,
             Penalty<float> pen, float gamma, cudaStream_t stream);

// WH (rows×nb) ← A[:, j0:j0+nb] ⊙ WH^(β−2) and den ← WH^(β−1), for the β products;
// zero where `observed` (A.rows×A.cols bytes, or null: all observed) says unobserved.
void beta_ratio_block(float* WH, float* den, const float* A, std::int64_t ld, std::int64_t rows,
                      std::int64_t j0, std::int64_t nb, float beta,
                      const std::uint8_t* observed, cudaStream_t stream);

// X ← max(0, X + β·(X − previous)) and previous ← the old X, over `count` entries.
void extrapolate(float* X, float* previous, std::int64_t count, float beta, cudaStream_t stream);

// WH (rows×nb, column-major) ← A[:, j0:j0+nb] ⊘ WH, A column-major with leading
// dimension ld (core/column_view.hpp).
void kl_ratio_block(float* WH, const float* A, std::int64_t ld, std::int64_t rows,
                    std::int64_t j0, std::int64_t nb, cudaStream_t stream);

// cudaSuccess where the current device can run these kernels (code built for its
// architecture, or PTX it can compile), else why not: cuBLAS may run where they cannot.
cudaError_t kernels_run_here();

// c[t] = Σ_i X[i, t] for X rows×k column-major, summed in double.
void column_sums(const float* X, std::int64_t rows, int k, float* c, cudaStream_t stream);

}  // namespace nmfuse::kernels
