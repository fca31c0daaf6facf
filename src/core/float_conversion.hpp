#pragma once
// Float and double: converting matrices and views, and whether values survive it (the
// GPU computes in float, whatever the data's type).
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include "nmfuse/result.hpp"
#include "nmfuse/sparse.hpp"
#include "nmfuse/view.hpp"

namespace nmfuse::core {

template <class U, class T>
Matrix<U> convert(const Matrix<T>& A) {
  Matrix<U> B(A.rows(), A.cols(), A.layout());
  std::transform(A.data(), A.data() + A.size(), B.data(), [](T v) { return U(v); });
  return B;
}

template <class U, class T>
Matrix<U> convert(const DenseView<const T>& A) {
  Matrix<U> B(A.rows, A.cols, Layout::RowMajor);
  for (index_t i = 0; i < A.rows; ++i)
    for (index_t j = 0; j < A.cols; ++j) B(i, j) = U(A(i, j));
  return B;
}

// Whether v is a value of T (no overflow).
template <class T>
bool fits(double v) {
  return std::fabs(v) <= double(std::numeric_limits<T>::max());
}

// Whether a non-zero entry keeps its meaning in float: no overflow, no underflow to 0.
template <class T>
bool fits_float(T v) {
  return v == 0 || (v <= T(std::numeric_limits<float>::max()) &&
                    v >= T(std::numeric_limits<float>::denorm_min()));
}
template <class T>
bool fits_float(const DenseView<const T>& A) {
  for (index_t i = 0; i < A.rows; ++i)
    for (index_t j = 0; j < A.cols; ++j)
      if (!fits_float(A(i, j))) return false;
  return true;
}
template <class T, class I>
bool fits_float(const CsrView<T, I>& A) {
  return std::all_of(A.values, A.values + A.nnz(), [](T v) { return fits_float(v); });
}

// Optional start factors converted to float, and views of them (null where absent).
struct FloatStart {
  std::optional<Matrix<float>> W0, H0;
  DenseView<const float> W0v, H0v;
  template <class T>
  FloatStart(const DenseView<const T>* W0_, const DenseView<const T>* H0_) {
    if (!W0_) return;
    W0 = convert<float>(*W0_), H0 = convert<float>(*H0_);
    W0v = W0->view(), H0v = H0->view();
  }
  const DenseView<const float>* W() const { return W0 ? &W0v : nullptr; }
  const DenseView<const float>* H() const { return H0 ? &H0v : nullptr; }
};

// A CSR view of the same pattern with float values (held by `values`).
template <class T, class I>
CsrView<float, I> float_values(const CsrView<T, I>& V, std::vector<float>& values) {
  values.assign(V.values, V.values + V.nnz());
  CsrView<float, I> Vf{V.row_ptr, V.col_idx, values.data(), V.rows, V.cols, V.absent};
  return Vf;
}

}  // namespace nmfuse::core
