#pragma once
// The dense big products for k ≤ 64 as passes that stream V once: P_W = V·Ht and
// P_H = Vᵀ·W. A BLAS packs all of V into blocks for each product (a third of its time
// at 5000×2000, rank 32, here), which pays when both sides of the product are wide,
// not when one is k columns. Written on a row-major A (rows × cols, row stride ld),
// which is V or, for column-major V, Vᵀ:
//   along_rows:    out[i, :] = Σ_j A[i, j]·Y[j, :]   (out has A's rows)
//   along_columns: out[j, :] = Σ_i A[i, j]·Y[i, :]   (out has A's columns)
// Every sum runs over its index in increasing order whatever the thread count, so the
// products, like the rest of the CPU backend, are the same bit for bit on any number
// of threads.
#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu/simd_width.hpp"
#include "nmfuse/view.hpp"

namespace nmfuse::cpu {

template <class T>
class StreamedProducts {
 public:
  static constexpr int kMaxRank = 64;
  // Whether a product of `width` columns is faster streamed than by the BLAS: measured
  // so with AVX-512 (Intel, 211 against SGEMM's 128 GFLOP/s at rank 32), not with AVX2's
  // 16 registers (AMD EPYC, 19 against 109 GFLOP/s).
  static constexpr bool pays(int width) { return kVectorBytes >= 64 && width <= kMaxRank; }

  // out (out_rows × k, column-major) from Y (y_rows × k, column-major).
  void multiply(const T* A, index_t rows, index_t cols, index_t ld, bool along_rows,
                const T* Y, int k, T* out) {
    const index_t y_rows = along_rows ? cols : rows, out_rows = along_rows ? rows : cols;
    const int lanes = (k + kWidth - 1) / kWidth;
    const std::size_t stride = std::size_t(lanes) * kWidth;  // padded row of Y and out
    y_.assign(std::size_t(y_rows) * stride, T(0));
    out_.assign(std::size_t(out_rows) * stride, T(0));
    for (int t = 0; t < k; ++t)
      for (index_t i = 0; i < y_rows; ++i) y_[std::size_t(i) * stride + t] = Y[i + t * y_rows];
    dispatch(lanes, [&](auto lanes_c) {
      constexpr int L = decltype(lanes_c)::value;
      if (along_rows) multiply_along_rows<L>(A, rows, cols, ld);
      else multiply_along_columns<L>(A, rows, cols, ld);
    });
    for (int t = 0; t < k; ++t)
      for (index_t i = 0; i < out_rows; ++i) out[i + t * out_rows] = out_[std::size_t(i) * stride + t];
  }

 private:
  typedef T Vec __attribute__((vector_size(kVectorBytes)));
  static constexpr int kWidth = int(kVectorBytes / sizeof(T));  // values a vector

  // Rows of A taken together: as many as keep the R·L accumulators and a row of Y in
  // the registers (32 of them with AVX-512, 16 with AVX2).
  template <int L>
  static constexpr int kRows = kVectorRegisters >= 32 ? (L <= 2 ? 8 : L <= 4 ? 4 : 2)
                                                      : (L == 1 ? 8 : L == 2 ? 4 : L <= 4 ? 2 : 1);

  // By reference: a vector passed by value would change the ABI with the target.
  static void load(Vec& v, const T* p) { std::memcpy(&v, p, sizeof v); }
  static void store(T* p, const Vec& v) { std::memcpy(p, &v, sizeof v); }

  // The vectors a padded row takes, as a constant: 1 to kMaxRank / kWidth.
  template <class F, int L = 1>
  static void dispatch(int lanes, F&& f) {
    if constexpr (L < kMaxRank / kWidth) {
      if (lanes > L) return dispatch<F, L + 1>(lanes, std::forward<F>(f));
    }
    f(std::integral_constant<int, L>{});
  }

  // Blocks of R rows of A, one block a thread at a time: each A value is read once,
  // broadcast, and multiplies Y's row j (L vectors, from the cache).
  template <int L>
  void multiply_along_rows(const T* A, index_t rows, index_t cols, index_t ld) {
    constexpr int R = kRows<L>;
    const T* Y = y_.data();
    T* out = out_.data();
#pragma omp parallel for schedule(static)
    for (index_t i0 = 0; i0 < rows; i0 += R) {
      const int here = int(std::min<index_t>(R, rows - i0));
      const T* a[R];
      for (int r = 0; r < R; ++r) a[r] = A + (i0 + std::min(r, here - 1)) * ld;
      Vec acc[R][L] = {};
      for (index_t j = 0; j < cols; ++j) {
        Vec y[L];
        for (int l = 0; l < L; ++l) load(y[l], Y + (j * L + l) * kWidth);
        for (int r = 0; r < R; ++r) {
          const T v = a[r][j];  // vector × scalar broadcasts it (adding it to 0 would not fold)
          for (int l = 0; l < L; ++l) acc[r][l] += y[l] * v;
        }
      }
      for (int r = 0; r < here; ++r)
        for (int l = 0; l < L; ++l) store(out + ((i0 + r) * L + l) * kWidth, acc[r][l]);
    }
  }

  // Each thread owns a band of A's columns (of out's rows), in blocks that stay in the
  // cache while all of A's rows pass over them, R rows at a time: Y's R rows sit in
  // registers and each A value is read once.
  template <int L>
  void multiply_along_columns(const T* A, index_t rows, index_t cols, index_t ld) {
    constexpr int R = kRows<L>;
    constexpr index_t kBlock = 16384 / (L * kWidth);  // out rows: 64 KiB of them
    const T* Y = y_.data();
    T* out = out_.data();
#pragma omp parallel
    {
      int band = 0, bands = 1;
#ifdef _OPENMP
      band = omp_get_thread_num(), bands = omp_get_num_threads();
#endif
      const index_t j_first = cols * band / bands, j_end = cols * (band + 1) / bands;
      for (index_t j0 = j_first; j0 < j_end; j0 += kBlock) {
        const index_t j1 = std::min(j_end, j0 + kBlock);
        for (index_t i0 = 0; i0 < rows; i0 += R) {
          const int here = int(std::min<index_t>(R, rows - i0));
          const T* a[R];
          Vec y[R][L];
          for (int r = 0; r < R; ++r) {
            a[r] = A + (i0 + std::min(r, here - 1)) * ld;
            for (int l = 0; l < L; ++l) {
              y[r][l] = Vec{};
              if (r < here) load(y[r][l], Y + ((i0 + r) * L + l) * kWidth);
            }
          }
          for (index_t j = j0; j < j1; ++j) {
            Vec acc[L];
            for (int l = 0; l < L; ++l) load(acc[l], out + (j * L + l) * kWidth);
            for (int r = 0; r < R; ++r) {
              const T v = a[r][j];
              for (int l = 0; l < L; ++l) acc[l] += y[r][l] * v;
            }
            for (int l = 0; l < L; ++l) store(out + (j * L + l) * kWidth, acc[l]);
          }
        }
      }
    }
  }

  std::vector<T> y_, out_;  // Y and out, row-major and padded to whole vectors
};

}  // namespace nmfuse::cpu
