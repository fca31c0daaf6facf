#pragma once
// Checks of what callers pass in: each failure names the argument and the value.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>

#include "core/pages.hpp"
#include "nmfuse/errors.hpp"
#include "nmfuse/options.hpp"
#include "nmfuse/sparse.hpp"
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

// Calls f(a, line) for every line of A in storage order: its rows if row-major (a = i),
// its columns if column-major (a = j). `out_of_core`: where A
// is a mapped file, the pages read are dropped every 1 MiB or so (core/pages.hpp).
template <class T, class F>
void for_each_line(const DenseView<const T>& A, F f, bool out_of_core = false) {
  const bool by_rows = A.layout == Layout::RowMajor;
  const index_t outer = by_rows ? A.rows : A.cols, inner = by_rows ? A.cols : A.rows;
  const index_t lines = std::max<index_t>(1, (index_t(1) << 20) / (A.ld * index_t(sizeof(T))));
  const bool drop = out_of_core && file_backed(A.data);
  for (index_t a0 = 0; a0 < outer; a0 += lines) {
    const index_t a1 = std::min(outer, a0 + lines);
    for (index_t a = a0; a < a1; ++a) f(a, A.data + a * A.ld);
    if (drop) drop_pages(A.data + a0 * A.ld, A.data + (a1 - 1) * A.ld + inner);
  }
}

// Calls f(i, j, v) for every entry in storage order, as for_each_line.
template <class T, class F>
void for_each_entry(const DenseView<const T>& A, F f, bool out_of_core = false) {
  const bool by_rows = A.layout == Layout::RowMajor;
  const index_t inner = by_rows ? A.cols : A.rows;
  for_each_line(A, [&](index_t a, const T* line) {
    for (index_t b = 0; b < inner; ++b) f(by_rows ? a : b, by_rows ? b : a, line[b]);
  }, out_of_core);
}

// Σ a and Σ a² over a matrix's entries, in double.
struct EntrySums {
  double sum = 0, squares = 0;
};

// ...and, on the host, finite and non-negative. Returns the entries' sums, made in the
// same pass (so that a V read from disk is read once before the iterations), in a
// fixed order: eight running sums a line, entry b going to sum b mod 8.
template <class T>
EntrySums check_matrix(const char* name, const DenseView<const T>& A, bool out_of_core = false) {
  check_storage(name, A.rows, A.cols, A.ld, A.layout, A.data);
  const bool by_rows = A.layout == Layout::RowMajor;
  const index_t inner = by_rows ? A.cols : A.rows;
  constexpr double kLargest = std::numeric_limits<double>::max();
  EntrySums sums;
  for_each_line(A, [&](index_t a, const T* line) {
    constexpr int kSums = 8;
    double sum[kSums] = {}, squares[kSums] = {};
    bool bad = false;
    index_t b = 0;
    auto add = [&](int l, double v) {
      bad |= !(v >= 0 && v <= kLargest);  // NaN fails both
      sum[l] += v;
      squares[l] += v * v;
    };
    for (; b + kSums <= inner; b += kSums)
      for (int l = 0; l < kSums; ++l) add(l, double(line[b + l]));
    for (; b < inner; ++b) add(int(b % kSums), double(line[b]));
    if (bad) {  // the first bad entry of the line, named
      b = 0;
      while (std::isfinite(line[b]) && line[b] >= 0) ++b;
      const T v = line[b];
      std::ostringstream msg;
      msg << name << " (" << A.rows << "×" << A.cols << ") has "
          << (std::isnan(v) ? "a NaN" : std::isinf(v) ? "an infinite" : "a negative")
          << " entry at (" << (by_rows ? a : b) << ", " << (by_rows ? b : a) << "): " << v;
      throw InvalidArgument(msg.str());
    }
    for (int l = 0; l < kSums; ++l) sums.sum += sum[l], sums.squares += squares[l];
  }, out_of_core);
  return sums;
}

// β ≤ 0 divergences are undefined where V is zero (where it is observed, with a mask).
template <class T>
void check_positive(const char* name, const DenseView<const T>& A, double beta,
                    const DenseView<const std::uint8_t>* observed, bool out_of_core = false) {
  for_each_entry(A, [&](index_t i, index_t j, T v) {
    if (v > 0 || (observed && (*observed)(i, j) == 0)) return;
    std::ostringstream msg;
    msg << name << " has a zero at (" << i << ", " << j << "), but the β-divergence with β = "
        << beta << " is undefined there: it needs every entry positive";
    throw InvalidArgument(msg.str());
  }, out_of_core);
}

// A CSR view must be well formed (offsets from 0 to nnz, never falling; columns in range
// and strictly increasing along each row), its stored entries finite and non-negative,
// and positive where β ≤ 0 needs it (then absent zeros are refused too).
template <class T, class I>
void check_csr(const char* name, const CsrView<T, I>& A, double beta) {
  std::ostringstream msg;
  msg << name << " (" << A.rows << "×" << A.cols << ", sparse)";
  auto fail = [&](const std::string& what) { throw InvalidArgument(msg.str() + " " + what); };
  std::ostringstream beta_stream;
  beta_stream << beta;
  const std::string beta_text = beta_stream.str();
  if (A.rows < 1 || A.cols < 1) fail("is empty");
  if (!A.row_ptr) fail("has no row_ptr (null pointer)");
  if (A.nnz() == 0) fail("stores no entry: there is nothing to fit");
  if (!A.col_idx || !A.values) fail("has no data (null pointer)");
  if (A.row_ptr[0] != 0) fail("has row_ptr[0] = " + std::to_string(A.row_ptr[0]) + ", not 0");
  if (A.nnz() < 0) fail("has a negative entry count " + std::to_string(A.nnz()));
  constexpr index_t kBlasLimit = 2147483647;  // the dense products take 32-bit sizes
  if (std::max(A.rows, A.cols) > std::min(kBlasLimit, index_t(std::numeric_limits<I>::max())))
    fail("has more rows or columns than 2³¹ − 1 or its index type holds (Vᵀ indexes the rows)");
  for (index_t i = 0; i < A.rows; ++i) {
    const index_t begin = A.row_ptr[i], end = A.row_ptr[i + 1];
    if (end < begin || end > A.nnz())
      fail("has row_ptr[" + std::to_string(i + 1) + "] = " + std::to_string(end) +
           " outside [row_ptr[" + std::to_string(i) + "], nnz] = [" + std::to_string(begin) +
           ", " + std::to_string(A.nnz()) + "]");
    for (index_t e = begin; e < end; ++e) {
      const index_t j = A.col_idx[e];
      const T v = A.values[e];
      const bool in_order = e == begin || j > A.col_idx[e - 1];
      if (j >= 0 && j < A.cols && in_order && std::isfinite(v) && v >= 0 && (beta > 0 || v > 0))
        continue;  // the messages below are built only for a bad entry
      const std::string at = "at (" + std::to_string(i) + ", " + std::to_string(j) + ")";
      if (j < 0 || j >= A.cols)
        fail("has column index " + std::to_string(j) + " in row " + std::to_string(i) +
             ", outside [0, " + std::to_string(A.cols) + ")");
      if (!in_order)
        fail("has columns out of order or repeated in row " + std::to_string(i) + " (" +
             std::to_string(A.col_idx[e - 1]) + " then " + std::to_string(j) +
             "): sort them and sum duplicates");
      if (!std::isfinite(v) || v < 0) {
        std::ostringstream value;
        value << v;
        fail(std::string("has ") + (std::isnan(v) ? "a NaN" : std::isinf(v) ? "an infinite" :
                                                                              "a negative") +
             " entry " + at + ": " + value.str());
      }
      fail("stores a zero " + at + ", but the β-divergence with β = " + beta_text +
           " is undefined there: it needs every entry positive");
    }
  }
  if (beta <= 0 && A.absent == Absent::Zero && A.nnz() / A.rows < A.cols)  // some absent
    fail("has absent entries, which are zeros (Absent::Zero), but the β-divergence with β = " +
         beta_text + " is undefined at zeros: mark them unknown (Absent::Unknown; "
         "nmfuse factor --absent unknown)");
}

template <class T>
void check_shape(const char* name, const DenseView<const T>& A, index_t rows, index_t cols) {
  if (A.rows == rows && A.cols == cols) return;
  std::ostringstream msg;
  msg << name << " is " << A.rows << "×" << A.cols << ", expected " << rows << "×" << cols;
  throw InvalidArgument(msg.str());
}

// Any rank from a random or given start; the SVD starts have only min(m, n) components.
inline void check_rank(const Options& opt, index_t m, index_t n) {
  std::ostringstream msg;
  msg << "option rank = " << opt.rank;
  if (opt.rank < 1) {
    msg << ": must be at least 1";
    throw InvalidArgument(msg.str());
  }
  const Init init = resolved_init(opt, m, n);
  const index_t most = m < n ? m : n;
  if (opt.rank <= most || init == Init::Random || init == Init::Custom || opt.resume) return;
  msg << ": init = " << to_string(init) << " needs a rank between 1 and min(m, n) = " << most
      << " for a " << m << "×" << n << " matrix (init = random takes any rank)";
  throw InvalidArgument(msg.str());
}

}  // namespace nmfuse::core
