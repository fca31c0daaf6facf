#pragma once
// The referee: plain-loop MU, HALS and KL steps on row-major double matrices, written
// straight from REFERENCE.md and sharing no code with the library.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace naive {

struct Dense {
  int rows = 0, cols = 0;
  std::vector<double> a;  // row-major
  Dense() = default;
  Dense(int r, int c) : rows(r), cols(c), a(std::size_t(r) * c, 0.0) {}
  double& operator()(int i, int j) { return a[std::size_t(i) * cols + j]; }
  double operator()(int i, int j) const { return a[std::size_t(i) * cols + j]; }
};

inline Dense transpose(const Dense& A) {
  Dense T(A.cols, A.rows);
  for (int i = 0; i < A.rows; ++i)
    for (int j = 0; j < A.cols; ++j) T(j, i) = A(i, j);
  return T;
}

inline Dense multiply(const Dense& A, const Dense& B) {
  Dense C(A.rows, B.cols);
  for (int i = 0; i < A.rows; ++i)
    for (int s = 0; s < A.cols; ++s)
      for (int j = 0; j < B.cols; ++j) C(i, j) += A(i, s) * B(s, j);
  return C;
}

constexpr double kEps = 1.1920928955078125e-07;  // float32 machine epsilon

struct Penalty {
  double l1 = 0, l2 = 0;
};

// Updates X (r×k) given the numerator P = data·partner (r×k) and the Gram Q (k×k).
inline void mu_frobenius(Dense& X, const Dense& P, const Dense& Q, Penalty pen) {
  const Dense XQ = multiply(X, Q);
  for (int i = 0; i < X.rows; ++i)
    for (int t = 0; t < X.cols; ++t) {
      double den = XQ(i, t) + pen.l1 + pen.l2 * X(i, t);
      if (den == 0) den = kEps;
      X(i, t) *= P(i, t) / den;
    }
}

// SplitMix64 of (row, t), as kernels/row_update.hpp documents it.
inline double restart(int row, int t) {
  std::uint64_t z = std::uint64_t(row) * 0x9E3779B97F4A7C15ull + std::uint64_t(t) + 1;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return double((z >> 11) + 1) * 0x1.0p-53;
}

inline void hals(Dense& X, const Dense& P, const Dense& Q, Penalty pen, int sweeps) {
  for (int i = 0; i < X.rows; ++i)
    for (int sweep = 0; sweep < sweeps; ++sweep)
      for (int t = 0; t < X.cols; ++t) {
        const double hess = Q(t, t) + pen.l2;
        if (hess <= 0) {  // a dead component restarts from the library's fixed values
          X(i, t) = restart(i, t);
          continue;
        }
        double grad = pen.l1 - P(i, t) + pen.l2 * X(i, t);
        for (int s = 0; s < X.cols; ++s) grad += X(i, s) * Q(s, t);
        X(i, t) = std::max(0.0, X(i, t) - grad / hess);
      }
}

// One iteration, W then H, as scikit-learn orders it. W is m×k, H is k×n.
enum class Method { MU, HALS };

inline void frobenius_iteration(const Dense& V, Dense& W, Dense& H, Method method,
                                Penalty pen_W, Penalty pen_H, int sweeps) {
  const Dense Ht = transpose(H);
  const Dense PW = multiply(V, Ht), QW = multiply(H, Ht);
  if (method == Method::MU) mu_frobenius(W, PW, QW, pen_W);
  else hals(W, PW, QW, pen_W, sweeps);
  Dense Htn = transpose(H);
  const Dense PH = multiply(transpose(V), W), QH = multiply(transpose(W), W);
  if (method == Method::MU) mu_frobenius(Htn, PH, QH, pen_H);
  else hals(Htn, PH, QH, pen_H, sweeps);
  H = transpose(Htn);
}

// Kullback–Leibler MU (REFERENCE.md), W then H.
inline void kl_iteration(const Dense& V, Dense& W, Dense& H, Penalty pen_W, Penalty pen_H) {
  auto ratio = [&] {
    Dense R = multiply(W, H);
    for (int i = 0; i < R.rows; ++i)
      for (int j = 0; j < R.cols; ++j) R(i, j) = V(i, j) / std::max(R(i, j), kEps);
    return R;
  };
  auto update = [](Dense& X, const Dense& P, const std::vector<double>& colsum, Penalty pen) {
    for (int i = 0; i < X.rows; ++i)
      for (int t = 0; t < X.cols; ++t) {
        double den = colsum[t] + pen.l1 + pen.l2 * X(i, t);
        if (den == 0) den = kEps;
        X(i, t) *= P(i, t) / den;
      }
  };
  const int k = W.cols;
  std::vector<double> h_sums(k, 0.0), w_sums(k, 0.0);
  for (int t = 0; t < k; ++t)
    for (int j = 0; j < H.cols; ++j) h_sums[t] += H(t, j);
  update(W, multiply(ratio(), transpose(H)), h_sums, pen_W);
  for (int t = 0; t < k; ++t)
    for (int i = 0; i < W.rows; ++i) w_sums[t] += W(i, t);
  Dense Ht = transpose(H);
  update(Ht, multiply(transpose(ratio()), W), w_sums, pen_H);
  H = transpose(Ht);
}

inline double frobenius_loss(const Dense& V, const Dense& W, const Dense& H) {
  const Dense WH = multiply(W, H);
  double s = 0;
  for (std::size_t i = 0; i < V.a.size(); ++i) s += (V.a[i] - WH.a[i]) * (V.a[i] - WH.a[i]);
  return 0.5 * s;
}

inline double kl_loss(const Dense& V, const Dense& W, const Dense& H) {
  const Dense WH = multiply(W, H);
  double s = 0;
  for (std::size_t i = 0; i < V.a.size(); ++i) {
    const double v = V.a[i], wh = WH.a[i];
    s += (v > 0 ? v * std::log(v / wh) - v : 0.0) + wh;
  }
  return s;
}

}  // namespace naive
