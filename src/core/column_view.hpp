#pragma once
// V as a column-major matrix A, whichever way V is stored: A = V for column-major V,
// A = Vᵀ for row-major V. Passes that walk A column by column then read V in storage
// order (contiguous on the CPU, coalesced on the GPU). Since V ≈ W·Htᵀ, A ≈ L·Rᵀ with
// L = W, R = Ht, or, for A = Vᵀ, L = Ht, R = W.
#include "core/backend.hpp"

namespace nmfuse::core {

struct ColumnView {
  index_t rows, cols, ld;  // of A
  Side left;               // the side whose factor is L
};

inline ColumnView column_view(index_t m, index_t n, index_t ld, Layout layout) {
  return layout == Layout::ColMajor ? ColumnView{m, n, ld, Side::W}
                                    : ColumnView{n, m, ld, Side::H};
}

}  // namespace nmfuse::core
