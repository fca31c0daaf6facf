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
//
// An entry x[t] is a Value: a scalar T for one row (a GPU thread), or a pack of rows
// (the CPU backend's SIMD lanes, src/cpu/lanes.hpp), which supplies its own
// positive_part, magnitude, where, any_lane and restart_value. Q, the penalties and
// tolerances are scalars shared by all rows.
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "hd.hpp"

namespace nmfuse::kernels {

// scikit-learn's guard: a zero MU denominator becomes float32's machine epsilon.
constexpr double kDenominatorFloor = 1.1920928955078125e-07;

// Regularization of one half-step: the gradient gains l1 + l2·x. And what HALS does
// with a dead component (below): restart it, or leave it dead as scikit-learn's cd does.
template <class T>
struct Penalty {
  T l1 = 0;
  T l2 = 0;
  bool restart_dead = true;
};

// One row of a column-major matrix: entry t of row i is at base[i + t·ld].
template <class T>
struct StridedRow {
  T* base;
  std::int64_t stride;
  NMFUSE_HD T& operator[](int t) const { return base[t * stride]; }
};

// The element-wise operations, for scalar Values.
template <class T>
NMFUSE_HD T positive_part(T v) { return v > T(0) ? v : T(0); }
template <class T>
NMFUSE_HD T magnitude(T v) { return v < T(0) ? -v : v; }
template <class T>
NMFUSE_HD T where(bool condition, T a, T b) { return condition ? a : b; }
NMFUSE_HD bool any_lane(bool b) { return b; }
template <class T>
NMFUSE_HD T power(T v, T exponent) { return std::pow(v, exponent); }

// Tells the device compiler that memory may have changed, so that it reads Q where it
// is used instead of hoisting k² loads into registers (and spilling the row).
NMFUSE_HD void reread_memory() {
#ifdef __CUDA_ARCH__
  asm volatile("" ::: "memory");
#endif
}

// A value in (0, 1] fixed by (row, t) alone (SplitMix64), so that both backends and
// any thread order restart a dead component identically.
template <class V>
NMFUSE_HD V restart_value(std::int64_t row, int t) {
  std::uint64_t z = std::uint64_t(row) * 0x9E3779B97F4A7C15ull + std::uint64_t(t) + 1;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return V(double((z >> 11) + 1) * 0x1.0p-53);
}

template <class V>
NMFUSE_HD V mu_step(V x, V numerator, V denominator) {
  return x * (numerator / where(denominator == V(0), V(kDenominatorFloor), denominator));
}

// Lee–Seung for the Frobenius loss: x ← x ⊙ p ⊘ (x·Q + l1 + l2·x).
// Every t reads the old x, so the new row goes to `next` (which may be the row's home
// in memory while x is a copy); p stays intact for the loss.
template <int K, class T, class XRow, class PRow, class NextRow>
NMFUSE_HD void mu_frobenius_row(const XRow& x, const PRow& p, NextRow& next, const T* Q,
                                int ldq, int k, Penalty<T> pen) {
  using Value = std::decay_t<decltype(x[0])>;
  const int n = K > 0 ? K : k;
  NMFUSE_UNROLL
  for (int t = 0; t < n; ++t) {
    reread_memory();
    // Four partial sums: four independent chains of multiply-adds instead of one
    // (named, not an array: a runtime-indexed array would live in local memory).
    const T* q = Q + std::int64_t(t) * ldq;
    Value a0 = Value(0), a1 = Value(0), a2 = Value(0), a3 = Value(0);
    int s = 0;
    NMFUSE_UNROLL
    for (; s + 3 < n; s += 4) {
      a0 += x[s] * q[s];
      a1 += x[s + 1] * q[s + 1];
      a2 += x[s + 2] * q[s + 2];
      a3 += x[s + 3] * q[s + 3];
    }
    for (; s < n; ++s) a0 += x[s] * q[s];
    const Value sum = (a0 + a1) + (a2 + a3);
    next[t] = mu_step<Value>(x[t], p[t], sum + pen.l1 + pen.l2 * x[t]);
  }
}

// Lee–Seung for Kullback–Leibler: x ← x ⊙ p ⊘ (c + l1 + l2·x), where p is the row of
// the ratio product and c the partner's column sums. In place.
template <int K, class T, class XRow, class PRow>
NMFUSE_HD void mu_kl_row(XRow& x, const PRow& p, const T* colsum, int k, Penalty<T> pen) {
  using Value = std::decay_t<decltype(x[0])>;
  const int n = K > 0 ? K : k;
  NMFUSE_UNROLL
  for (int t = 0; t < n; ++t) {
    reread_memory();
    x[t] = mu_step<Value>(x[t], p[t], colsum[t] + pen.l1 + pen.l2 * x[t]);
  }
}

// Multiplicative update for any β (Févotte & Idier 2011): x ← x ⊙ (p ⊘ (d + l1 + l2·x))^γ,
// p the row of the numerator product ((V ⊙ (WH)^(β−2))·partner), d that of the
// denominator ((WH)^(β−1)·partner). γ < 1 away from 1 ≤ β ≤ 2 keeps the loss falling.
template <int K, class T, class XRow, class PRow, class DRow>
NMFUSE_HD void mu_beta_row(XRow& x, const PRow& p, const DRow& d, int k, Penalty<T> pen,
                           T gamma) {
  using Value = std::decay_t<decltype(x[0])>;
  const int n = K > 0 ? K : k;
  NMFUSE_UNROLL
  for (int t = 0; t < n; ++t) {
    reread_memory();
    const Value ratio = mu_step<Value>(Value(1), p[t], d[t] + pen.l1 + pen.l2 * x[t]);
    x[t] = x[t] * (gamma == T(1) ? ratio : power(ratio, gamma));
  }
}

// HALS keeps the row's gradient g = x·(Q + l2·I) − p + l1 up to date as coordinates
// move (g += δ·Q[t,:]), so that a sweep costs k independent updates per coordinate
// instead of a k-long dot product.
template <int K, class T, class XRow, class PRow, class GRow>
NMFUSE_HD void hals_gradient(const XRow& x, const PRow& p, GRow& g, const T* Q, int ldq, int k,
                             Penalty<T> pen) {
  const int n = K > 0 ? K : k;
  NMFUSE_UNROLL
  for (int t = 0; t < n; ++t) g[t] = pen.l1 - p[t] + pen.l2 * x[t];
  NMFUSE_UNROLL
  for (int s = 0; s < n; ++s) {
    reread_memory();
    const auto xs = x[s];
    NMFUSE_UNROLL
    for (int t = 0; t < n; ++t) g[t] += xs * Q[s + std::int64_t(t) * ldq];
  }
}

// One cyclic coordinate sweep over the row, in place (scikit-learn's `cd` update):
// x[t] ← max(0, x[t] − g[t] / (Q[t,t] + l2)), only where `active` holds. Q[t,t] = 0
// means the partner's column t is all zero: the component is dead, a saddle that
// coordinate descent never leaves (scikit-learn keeps it dead). Unless pen.restart_dead
// is false it restarts from a fixed pseudo-random column, restart_value(row, t), and the
// partner's next half-step fits the residual to it (g needs no update: Q[t,:] is zero).
// Returns Σ|δ|.
template <int K, class T, class XRow, class GRow, class Mask>
NMFUSE_HD auto hals_sweep_row(XRow& x, GRow& g, const T* Q, int ldq, int k, Penalty<T> pen,
                              std::int64_t row, const Mask& active) {
  using Value = std::decay_t<decltype(x[0])>;
  const int n = K > 0 ? K : k;
  Value moved = Value(0);
  NMFUSE_UNROLL
  for (int t = 0; t < n; ++t) {
    reread_memory();
    const T* q = Q + std::int64_t(t) * ldq;  // column t of Q, which is row t (symmetric)
    if (!(q[t] > T(0))) {  // the partner's column t is zero: dead (or padding)
      if (t < k && pen.restart_dead) x[t] = where(active, restart_value<Value>(row, t), x[t]);
      continue;
    }
    const T hess = q[t] + pen.l2;
    const Value before = x[t];
    x[t] = where(active, positive_part(before - g[t] / hess), before);
    const Value delta = x[t] - before;
    moved += magnitude(delta);
    NMFUSE_UNROLL
    for (int s = 0; s < n; ++s) g[s] += delta * q[s];
    g[t] += pen.l2 * delta;
  }
  return moved;
}

// Accelerated HALS for one row: the first sweep, then more while the last one still
// moved the row by more than inner_tol times the first, up to max_sweeps in all.
// Each row (each lane of a pack) stops on its own. g is k entries of workspace.
template <int K, class T, class XRow, class PRow, class GRow>
NMFUSE_HD void hals_row(XRow& x, const PRow& p, GRow& g, const T* Q, int ldq, int k,
                        Penalty<T> pen, int max_sweeps, T inner_tol, std::int64_t row) {
  using Value = std::decay_t<decltype(x[0])>;
  hals_gradient<K>(x, p, g, Q, ldq, k, pen);
  const auto all = Value(0) == Value(0);
  Value first = Value(0), last = Value(0);
  for (int sweep = 0; sweep < max_sweeps; ++sweep) {  // one call site: one copy of the sweep
    const auto active = sweep == 0 ? all : last > inner_tol * first;
    if (!any_lane(active)) break;
    last = hals_sweep_row<K>(x, g, Q, ldq, k, pen, row, active);
    if (sweep == 0) first = last;
  }
}

// Extrapolation of an iterate (Ang & Gillis 2019), kept non-negative:
// max(0, x + β·(x − x_previous)).
template <class T>
NMFUSE_HD T extrapolated(T x, T previous, T beta) {
  return positive_part(x + beta * (x - previous));
}

// scikit-learn's floor on WH wherever it divides or takes a negative power.
template <class T>
NMFUSE_HD T floored(T wh) {
  return wh < T(kDenominatorFloor) ? T(kDenominatorFloor) : wh;
}

// Kullback–Leibler, entry-wise: v / WH.
template <class T>
NMFUSE_HD T kl_ratio(T v, T wh) {
  return v / floored(wh);
}

// The β-divergence's element-wise pieces.
template <class T>
NMFUSE_HD T beta_numerator(T v, T wh, T beta) {  // v·wh^(β−2)
  return v * std::pow(beta < T(2) ? floored(wh) : wh, beta - T(2));
}
template <class T>
NMFUSE_HD T beta_denominator(T wh, T beta) {  // wh^(β−1)
  return std::pow(beta < T(1) ? floored(wh) : wh, beta - T(1));
}
// d_β(v | wh); entries of V below the floor count as zeros (scikit-learn).
template <class T>
NMFUSE_HD T beta_divergence(T v, T wh, T beta) {
  const bool present = v > T(kDenominatorFloor);
  if (beta == T(2)) return (v - wh) * (v - wh) / T(2);
  if (beta == T(1)) return (present ? v * std::log(v / floored(wh)) - v : T(0)) + wh;
  if (beta == T(0)) {
    if (!present) return T(0);
    const T r = v / floored(wh);
    return r - std::log(r) - T(1);
  }
  T sum = (beta - T(1)) * std::pow(beta < T(0) ? floored(wh) : wh, beta);
  if (present) sum += std::pow(v, beta) - beta * v * std::pow(floored(wh), beta - T(1));
  return sum / (beta * (beta - T(1)));
}

// The part of d_KL(v | wh) = v·log(v/wh) − v + wh that needs wh at v's entry; the Σwh
// part is Σ_t colsum(W)_t·colsum(Ht)_t. Entries below the floor count as zeros.
template <class T>
NMFUSE_HD T kl_pointwise(T v, T wh) {
  if (v <= T(kDenominatorFloor)) return T(0);
  return v * std::log(v / floored(wh)) - v;
}

}  // namespace nmfuse::kernels
