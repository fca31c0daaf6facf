#pragma once
// The two BLAS routines the CPU backend calls, through the Fortran interface that
// every BLAS (OpenBLAS, Netlib, MKL) exports; gfortran-built ones expect the hidden
// lengths of the character arguments at the end.
#include <cstddef>
#include <type_traits>

#include "core/gemm_plan.hpp"

extern "C" {
void sgemm_(const char* ta, const char* tb, const int* m, const int* n, const int* k,
            const float* alpha, const float* a, const int* lda, const float* b,
            const int* ldb, const float* beta, float* c, const int* ldc, std::size_t ta_len,
            std::size_t tb_len);
void dgemm_(const char* ta, const char* tb, const int* m, const int* n, const int* k,
            const double* alpha, const double* a, const int* lda, const double* b,
            const int* ldb, const double* beta, double* c, const int* ldc, std::size_t ta_len,
            std::size_t tb_len);
}

namespace nmfuse::cpu {

// C = alpha·op(A)·op(B) + beta·C with the arguments a GemmPlan gives.
template <class T>
void gemm(const core::GemmPlan& p, T alpha, const T* a, const T* b, T beta, T* c) {
  if (p.m == 0 || p.n == 0) return;
  const char ta = p.trans_a ? 'T' : 'N';
  const char tb = p.trans_b ? 'T' : 'N';
  const int m = static_cast<int>(p.m), n = static_cast<int>(p.n), k = static_cast<int>(p.k);
  const int lda = static_cast<int>(p.lda), ldb = static_cast<int>(p.ldb),
            ldc = static_cast<int>(p.ldc);
  if constexpr (std::is_same_v<T, float>)
    sgemm_(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc, 1, 1);
  else
    dgemm_(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc, 1, 1);
}

}  // namespace nmfuse::cpu
