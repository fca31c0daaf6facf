#pragma once
// A non-owning view of a sparse matrix in compressed sparse row form (CSR), as
// scipy.sparse.csr_matrix, cuSPARSE and Eigen store it.
#include <cstdint>
#include <type_traits>
#include <vector>

#include "nmfuse/view.hpp"

namespace nmfuse {

// What the entries a sparse matrix does not store stand for.
enum class Absent {
  Zero,     // zeros of V, fitted like any other entry (word counts, expression data)
  Unknown,  // missing values: only the stored entries are fitted (ratings)
};

// Row i's entries are values[row_ptr[i] .. row_ptr[i+1]), in columns col_idx[…] that
// increase strictly along the row. Index is std::int32_t or std::int64_t. V must stay
// alive during any call that takes it and is never modified.
template <class T, class Index = std::int32_t>
struct CsrView {
  static_assert(std::is_same_v<Index, std::int32_t> || std::is_same_v<Index, std::int64_t>,
                "CsrView takes 32- or 64-bit indices");
  using value_type = T;
  using index_type = Index;

  const Index* row_ptr = nullptr;  // rows + 1 offsets, row_ptr[0] = 0
  const Index* col_idx = nullptr;  // nnz column indices
  const T* values = nullptr;       // nnz stored entries
  index_t rows = 0;
  index_t cols = 0;
  Absent absent = Absent::Zero;

  index_t nnz() const { return rows > 0 && row_ptr ? index_t(row_ptr[rows]) : 0; }
};

// An owned CSR matrix, as the file readers return it.
template <class T, class Index = std::int32_t>
struct CsrMatrix {
  index_t rows = 0;
  index_t cols = 0;
  std::vector<Index> row_ptr{0};
  std::vector<Index> col_idx;
  std::vector<T> values;

  CsrView<T, Index> view(Absent absent = Absent::Zero) const {
    return {row_ptr.data(), col_idx.data(), values.data(), rows, cols, absent};
  }
};

}  // namespace nmfuse
