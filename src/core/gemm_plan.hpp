#pragma once
// Maps a product of views to the arguments of a column-major GEMM. CBLAS (column-major)
// and cuBLAS take the very same (trans, m, n, k, lda, ldb, ldc), so both backends call
// this and the CPU tests check the mapping the GPU uses.
#include "nmfuse/view.hpp"

namespace nmfuse::core {

// How a matrix is stored: its logical shape, layout and leading dimension.
struct StoredMatrix {
  index_t rows, cols, ld;
  Layout layout;
};

template <class T>
StoredMatrix stored(const DenseView<T>& v) {
  return {v.rows, v.cols, v.ld, v.layout};
}

inline StoredMatrix column_major(index_t rows, index_t cols) {
  return {rows, cols, rows, Layout::ColMajor};
}

struct GemmPlan {
  bool trans_a, trans_b;
  index_t m, n, k;
  index_t lda, ldb, ldc;
};

// C (column-major, m×n, leading dimension ldc) = op(A)·op(B), where op(X) is X or,
// when transposed, Xᵀ of the logical matrix. A row-major matrix is, to a column-major
// BLAS, its transpose stored column-major: flip its transpose flag.
inline GemmPlan plan_gemm(const StoredMatrix& a, bool transpose_a, const StoredMatrix& b,
                          bool transpose_b, index_t ldc) {
  GemmPlan p{};
  p.m = transpose_a ? a.cols : a.rows;
  p.k = transpose_a ? a.rows : a.cols;
  p.n = transpose_b ? b.rows : b.cols;
  p.trans_a = (a.layout == Layout::RowMajor) != transpose_a;
  p.trans_b = (b.layout == Layout::RowMajor) != transpose_b;
  p.lda = a.ld;
  p.ldb = b.ld;
  p.ldc = ldc;
  return p;
}

}  // namespace nmfuse::core
