#pragma once
// The performance model's floor (DESIGN.md §5): the two big products of one iteration,
// timed as the CPU backend computes them, on the same threads.
#include <algorithm>
#include <chrono>
#include <vector>

#include "core/gemm_plan.hpp"
#include "cpu/blas.hpp"
#include "cpu/streamed_products.hpp"
#include "nmfuse/view.hpp"

// P_W = V·Ht and P_H = Vᵀ·W, best of `reps`: through the BLAS, or (streamed) as the
// CPU backend computes them up to rank 64 (src/cpu/streamed_products.hpp).
inline double products(const nmfuse::Matrix<float>& V, int k, int reps, bool streamed) {
  const nmfuse::index_t m = V.rows(), n = V.cols();
  std::vector<float> Ht(std::size_t(n) * k, 0.5f), W(std::size_t(m) * k, 0.5f),
      PW(std::size_t(m) * k), PH(std::size_t(n) * k);
  using nmfuse::core::column_major;
  using nmfuse::core::plan_gemm;
  using nmfuse::core::stored;
  const auto pw = plan_gemm(stored(V.view()), false, column_major(n, k), false, m);
  const auto ph = plan_gemm(stored(V.view()), true, column_major(m, k), false, n);
  nmfuse::cpu::StreamedProducts<float> stream;
  const bool row_major = V.layout() == nmfuse::Layout::RowMajor;
  const nmfuse::index_t rows = row_major ? m : n, cols = row_major ? n : m;
  using Clock = std::chrono::steady_clock;
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t = Clock::now();
    if (streamed) {
      stream.multiply(V.data(), rows, cols, cols, row_major, Ht.data(), k, PW.data());
      stream.multiply(V.data(), rows, cols, cols, !row_major, W.data(), k, PH.data());
    } else {
      nmfuse::cpu::gemm(pw, 1.0f, V.data(), Ht.data(), 0.0f, PW.data());
      nmfuse::cpu::gemm(ph, 1.0f, V.data(), W.data(), 0.0f, PH.data());
    }
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t).count());
  }
  return best;
}
