#pragma once
// Checks of what callers pass in: each failure names the argument and the value.
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>

#include "nmfuse/errors.hpp"
#include "nmfuse/view.hpp"

namespace nmfuse::core {

// A matrix argument must be non-empty and consistently strided...
inline void check_storage(const char* name, index_t rows, index_t cols, index_t ld,
                          Layout layout, const void* data) {
  std::ostringstream msg;
  msg << name << " (" << rows << "×" << cols << ")";
  if (rows < 1 || cols < 1) throw InvalidArgument(msg.str() + " is empty");
  if (data == nullptr) throw InvalidArgument(msg.str() + " has no data (null pointer)");
  const index_t min_ld = layout == Layout::RowMajor ? cols : rows;
  if (ld < min_ld) {
    msg << " has leading dimension " << ld << ", less than " << min_ld;
    throw InvalidArgument(msg.str());
  }
  constexpr index_t kBlasLimit = 2147483647;  // BLAS and cuBLAS take 32-bit sizes
  if (rows > kBlasLimit || cols > kBlasLimit || ld > kBlasLimit) {
    msg << " with leading dimension " << ld << ": sizes above 2³¹ − 1 are not supported";
    throw InvalidArgument(msg.str());
  }
}

// Calls f(i, j, v) for every entry in storage order: rows of a row-major matrix,
// columns of a column-major one.
template <class T, class F>
void for_each_entry(const DenseView<const T>& A, F f) {
  const bool by_rows = A.layout == Layout::RowMajor;
  const index_t outer = by_rows ? A.rows : A.cols, inner = by_rows ? A.cols : A.rows;
  for (index_t a = 0; a < outer; ++a)
    for (index_t b = 0; b < inner; ++b) f(by_rows ? a : b, by_rows ? b : a, A.data[a * A.ld + b]);
}

// ...and, on the host, finite and non-negative.
template <class T>
void check_matrix(const char* name, const DenseView<const T>& A) {
  check_storage(name, A.rows, A.cols, A.ld, A.layout, A.data);
  for_each_entry(A, [&](index_t i, index_t j, T v) {
    if (std::isfinite(v) && v >= 0) return;
    std::ostringstream msg;
    msg << name << " (" << A.rows << "×" << A.cols << ") has "
        << (std::isnan(v) ? "a NaN" : std::isinf(v) ? "an infinite" : "a negative") << " entry at ("
        << i << ", " << j << "): " << v;
    throw InvalidArgument(msg.str());
  });
}

// β ≤ 0 divergences are undefined where V is zero (where it is observed, with a mask).
template <class T>
void check_positive(const char* name, const DenseView<const T>& A, double beta,
                    const DenseView<const std::uint8_t>* observed) {
  for_each_entry(A, [&](index_t i, index_t j, T v) {
    if (v > 0 || (observed && (*observed)(i, j) == 0)) return;
    std::ostringstream msg;
    msg << name << " has a zero at (" << i << ", " << j << "), but the β-divergence with β = "
        << beta << " is undefined there: it needs every entry positive";
    throw InvalidArgument(msg.str());
  });
}

template <class T>
void check_shape(const char* name, const DenseView<const T>& A, index_t rows, index_t cols) {
  if (A.rows == rows && A.cols == cols) return;
  std::ostringstream msg;
  msg << name << " is " << A.rows << "×" << A.cols << ", expected " << rows << "×" << cols;
  throw InvalidArgument(msg.str());
}

inline void check_rank(int rank, index_t m, index_t n) {
  const index_t most = m < n ? m : n;
  if (rank >= 1 && rank <= most) return;
  std::ostringstream msg;
  msg << "option rank = " << rank << ": must be between 1 and min(m, n) = " << most
      << " for a " << m << "×" << n << " matrix";
  throw InvalidArgument(msg.str());
}

}  // namespace nmfuse::core
