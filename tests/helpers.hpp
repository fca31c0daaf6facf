#pragma once
// Test data with fixed seeds, and comparisons.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "naive_nmf.hpp"
#include "nmfuse/nmfuse.hpp"

namespace testing_nmf {

using nmfuse::index_t;
using nmfuse::Layout;
using nmfuse::Matrix;

// Uniform [0, 1) entries, a fraction `zeros` of them set to exactly 0.
template <class T = double>
Matrix<T> random_matrix(index_t rows, index_t cols, unsigned seed, double zeros = 0,
                        Layout layout = Layout::RowMajor) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Matrix<T> A(rows, cols, layout);
  for (index_t i = 0; i < rows; ++i)
    for (index_t j = 0; j < cols; ++j) {
      const double v = u(gen);
      A(i, j) = T(u(gen) < zeros ? 0.0 : v);
    }
  return A;
}

template <class T>
Matrix<T> product(const Matrix<T>& A, const Matrix<T>& B, Layout layout = Layout::RowMajor) {
  Matrix<T> C(A.rows(), B.cols(), layout);
  for (index_t i = 0; i < A.rows(); ++i)
    for (index_t s = 0; s < A.cols(); ++s)
      for (index_t j = 0; j < B.cols(); ++j) C(i, j) += A(i, s) * B(s, j);
  return C;
}

template <class T, class U>
Matrix<T> cast(const Matrix<U>& A) {
  Matrix<T> B(A.rows(), A.cols(), A.layout());
  for (std::size_t i = 0; i < A.size(); ++i) B.data()[i] = T(A.data()[i]);
  return B;
}

template <class T>
naive::Dense to_naive(const Matrix<T>& A) {
  naive::Dense D(int(A.rows()), int(A.cols()));
  for (index_t i = 0; i < A.rows(); ++i)
    for (index_t j = 0; j < A.cols(); ++j) D(int(i), int(j)) = double(A(i, j));
  return D;
}

// max |a − b| / max |b|
template <class T>
double relative_difference(const Matrix<T>& a, const naive::Dense& b) {
  double diff = 0, scale = 0;
  for (index_t i = 0; i < a.rows(); ++i)
    for (index_t j = 0; j < a.cols(); ++j) {
      diff = std::max(diff, std::fabs(double(a(i, j)) - b(int(i), int(j))));
      scale = std::max(scale, std::fabs(b(int(i), int(j))));
    }
  return diff / scale;
}

template <class T, class U>
double relative_difference(const Matrix<T>& a, const Matrix<U>& b) {
  return relative_difference(a, to_naive(b));
}

// ‖V − WH‖_F / ‖V‖_F
template <class T>
double relative_error(const Matrix<T>& V, const Matrix<T>& W, const Matrix<T>& H) {
  const Matrix<T> WH = product(W, H);
  double e = 0, v = 0;
  for (index_t i = 0; i < V.rows(); ++i)
    for (index_t j = 0; j < V.cols(); ++j) {
      e += std::pow(double(V(i, j)) - double(WH(i, j)), 2);
      v += std::pow(double(V(i, j)), 2);
    }
  return std::sqrt(e / v);
}

// Cosine similarity of column a of A and column b of B.
template <class T, class U>
double column_cosine(const Matrix<T>& A, index_t a, const Matrix<U>& B, index_t b) {
  double ab = 0, aa = 0, bb = 0;
  for (index_t i = 0; i < A.rows(); ++i) {
    ab += double(A(i, a)) * double(B(i, b));
    aa += double(A(i, a)) * double(A(i, a));
    bb += double(B(i, b)) * double(B(i, b));
  }
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0.0;
}

// For each column of `planted`, the best cosine with any column of `found`.
template <class T, class U>
std::vector<double> best_matches(const Matrix<T>& planted, const Matrix<U>& found) {
  std::vector<double> best(std::size_t(planted.cols()), 0.0);
  for (index_t p = 0; p < planted.cols(); ++p)
    for (index_t f = 0; f < found.cols(); ++f)
      best[p] = std::max(best[p], column_cosine(planted, p, found, f));
  return best;
}

// A CSR copy of the entries of A that `keep(i, j)` selects.
template <class T, class I = std::int32_t, class U, class Keep>
nmfuse::CsrMatrix<T, I> to_csr(const Matrix<U>& A, Keep keep) {
  nmfuse::CsrMatrix<T, I> S;
  S.rows = A.rows();
  S.cols = A.cols();
  for (index_t i = 0; i < A.rows(); ++i) {
    for (index_t j = 0; j < A.cols(); ++j)
      if (keep(i, j)) {
        S.col_idx.push_back(I(j));
        S.values.push_back(T(A(i, j)));
      }
    S.row_ptr.push_back(I(S.col_idx.size()));
  }
  return S;
}

// The non-zeros of A, in CSR.
template <class T, class I = std::int32_t, class U>
nmfuse::CsrMatrix<T, I> to_csr(const Matrix<U>& A) {
  return to_csr<T, I>(A, [&A](index_t i, index_t j) { return A(i, j) != 0; });
}

inline nmfuse::Options cpu_options(int rank) {
  nmfuse::Options opt;
  opt.rank = rank;
  opt.device = nmfuse::Device::Cpu;
  return opt;
}

}  // namespace testing_nmf
