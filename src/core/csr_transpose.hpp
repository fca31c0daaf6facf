#pragma once
// Vᵀ in CSR from V in CSR (a counting sort on the columns), for the backends' H side.
// Rows of V are visited in order, so each row of Vᵀ comes out sorted.
#include <vector>

#include "nmfuse/sparse.hpp"

namespace nmfuse::core {

template <class T, class I>
CsrMatrix<T, I> transposed(const CsrView<T, I>& V) {
  const index_t nnz = V.nnz();
  CsrMatrix<T, I> t;
  t.rows = V.cols;
  t.cols = V.rows;
  t.row_ptr.assign(std::size_t(V.cols + 1), I(0));
  t.col_idx.resize(std::size_t(nnz));
  t.values.resize(std::size_t(nnz));
  for (index_t e = 0; e < nnz; ++e) ++t.row_ptr[std::size_t(V.col_idx[e]) + 1];
  for (index_t j = 0; j < V.cols; ++j) t.row_ptr[j + 1] += t.row_ptr[j];
  std::vector<I> next(t.row_ptr.begin(), t.row_ptr.end() - 1);
  for (index_t i = 0; i < V.rows; ++i)
    for (index_t e = V.row_ptr[i]; e < V.row_ptr[i + 1]; ++e) {
      const I at = next[std::size_t(V.col_idx[e])]++;
      t.col_idx[std::size_t(at)] = I(i);
      t.values[std::size_t(at)] = V.values[e];
    }
  return t;
}

}  // namespace nmfuse::core
