#pragma once
// The per-row update of the one loop (DESIGN.md §1), shared by the CPU backend and the
// CUDA kernels. X is W or Hᵀ; a row x of X has k entries, P is its row of the big
// product (V·Ht or Vᵀ·W) and Q is the partner's k×k Gram, column-major with leading
// dimension ldq.
//
// K > 0 is the fast path: x and p are local arrays of K entries and Q is padded to
// K×K, all padding zero; the zeros are fixed points of every update, so no branch on
// k is needed and the loops unroll into registers. K == 0 loops to the runtime k,
// with x and p read through a stride (the large-k path).
#include <cmath>
#include <cstdint>

#include "hd.hpp"

namespace nmfuse::kernels {

// scikit-learn's guard: a zero MU denominator becomes float32's machine epsilon.
constexpr double kDenominatorFloor = 1.1920928955078125e-07;

// Regularization of one half-step: the gradient gains l1 + l2·x.
template <class T>
struct Penalty {
  T l1 = 0;
  T l2 = 0;
};

// One row of a column-major matrix: entry t of row i is at base[i + t·ld].
template <class T>
struct StridedRow {
  T* base;
  std::int64_t stride;
  NMFUSE_HD T& operator[](int t) const { return base[t * stride]; }
};

template <class T>
NMFUSE_HD T mu_step(T x, T numerator, T denominator) {
  return x * (numerator / (denominator == T(0) ? T(kDenominatorFloor) : denominator));
}

// Lee–Seung for the Frobenius loss: x ← x ⊙ p ⊘ (x·Q + l1 + l2·x).
// Every t reads the old x, so the new row goes to `next`; p stays intact for the loss.
template <int K, class T, class XRow, class PRow, class NextRow>
NMFUSE_HD void mu_frobenius_row(const XRow& x, const PRow& p, NextRow& next, const T* Q,
                                int ldq, int k, Penalty<T> pen) {
  const int n = K > 0 ? K : k;
NMFUSE_UNROLL
  for (int t = 0; t < n; ++t) {
    T xq = 0;
NMFUSE_UNROLL
    for (int s = 0; s < n; ++s) xq += x[s] * Q[s + t * ldq];
    next[t] = mu_step(x[t], p[t], xq + pen.l1 + pen.l2 * x[t]);
  }
}

// Lee–Seung for Kullback–Leibler: x ← x ⊙ p ⊘ (c + l1 + l2·x), where p is the row of
// the ratio product and c the partner's column sums. In place.
template <int K, class T, class XRow, class PRow>
NMFUSE_HD void mu_kl_row(XRow& x, const PRow& p, const T* colsum, int k, Penalty<T> pen) {
  const int n = K > 0 ? K : k;
NMFUSE_UNROLL
  for (int t = 0; t < n; ++t) x[t] = mu_step(x[t], p[t], colsum[t] + pen.l1 + pen.l2 * x[t]);
}

// A value in (0, 1] fixed by (row, t) alone (SplitMix64), so that both backends and
// any thread order restart a dead component identically.
template <class T>
NMFUSE_HD T restart_value(std::int64_t row, int t) {
  std::uint64_t z = std::uint64_t(row) * 0x9E3779B97F4A7C15ull + std::uint64_t(t) + 1;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return T(double((z >> 11) + 1) * 0x1.0p-53);
}

// One cyclic coordinate sweep over the row, in place (scikit-learn's `cd` update):
// g = x·Q[:,t] − p[t] + l1 + l2·x[t];  x[t] ← max(0, x[t] − g / (Q[t,t] + l2)).
// Zero curvature means the partner's column t is all zero: the component is dead, a
// saddle that coordinate descent never leaves (scikit-learn keeps it dead). It restarts
// from a fixed pseudo-random column, restart_value(row, t), and the partner's next
// half-step fits the residual to it. Returns Σ|change|.
template <int K, class T, class XRow, class PRow>
NMFUSE_HD T hals_sweep_row(XRow& x, const PRow& p, const T* Q, int ldq, int k,
                           Penalty<T> pen, std::int64_t row) {
  const int n = K > 0 ? K : k;
  T moved = 0;
  NMFUSE_UNROLL
  for (int t = 0; t < n; ++t) {
    const T hess = Q[t + t * ldq] + pen.l2;
    if (!(hess > T(0))) {
      if (t < k) x[t] = restart_value<T>(row, t);  // the fast path's padding stays zero
      continue;
    }
    T grad = pen.l1 - p[t] + pen.l2 * x[t];
    NMFUSE_UNROLL
    for (int s = 0; s < n; ++s) grad += x[s] * Q[s + t * ldq];
    const T before = x[t];
    const T next = before - grad / hess;
    x[t] = next > T(0) ? next : T(0);
    moved += std::fabs(x[t] - before);
  }
  return moved;
}

// Accelerated HALS for one row: the first sweep, then more while the last one still
// moved the row by more than inner_tol times the first, up to max_sweeps in all.
template <int K, class T, class XRow, class PRow>
NMFUSE_HD void hals_row(XRow& x, const PRow& p, const T* Q, int ldq, int k, Penalty<T> pen,
                        int max_sweeps, T inner_tol, std::int64_t row) {
  const T first = hals_sweep_row<K>(x, p, Q, ldq, k, pen, row);
  T last = first;
  for (int sweep = 1; sweep < max_sweeps && last > inner_tol * first; ++sweep)
    last = hals_sweep_row<K>(x, p, Q, ldq, k, pen, row);
}

// Kullback–Leibler, entry-wise: v / (WH) with scikit-learn's floor on WH.
template <class T>
NMFUSE_HD T kl_ratio(T v, T wh) {
  return v / (wh < T(kDenominatorFloor) ? T(kDenominatorFloor) : wh);
}

// The part of d_KL(v | wh) = v·log(v/wh) − v + wh that needs wh at v's entry; the Σwh
// part is Σ_t colsum(W)_t·colsum(Ht)_t. Entries below the floor count as zeros.
template <class T>
NMFUSE_HD T kl_pointwise(T v, T wh) {
  if (v <= T(kDenominatorFloor)) return T(0);
  const T safe = wh < T(kDenominatorFloor) ? T(kDenominatorFloor) : wh;
  return v * std::log(v / safe) - v;
}

}  // namespace nmfuse::kernels
