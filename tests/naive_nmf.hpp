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

// Rows of X are rows first_row.. of the factor (the restart values depend on it).
inline void hals(Dense& X, const Dense& P, const Dense& Q, Penalty pen, int sweeps,
                 int first_row = 0) {
  for (int i = 0; i < X.rows; ++i)
    for (int sweep = 0; sweep < sweeps; ++sweep)
      for (int t = 0; t < X.cols; ++t) {
        if (Q(t, t) <= 0) {  // a dead component restarts from the library's fixed values
          X(i, t) = restart(first_row + i, t);
          continue;
        }
        const double hess = Q(t, t) + pen.l2;
        double grad = pen.l1 - P(i, t) + pen.l2 * X(i, t);
        for (int s = 0; s < X.cols; ++s) grad += X(i, s) * Q(s, t);
        X(i, t) = std::max(0.0, X(i, t) - grad / hess);
      }
}

// One Lee–Seung iteration, W then H, as scikit-learn orders it. W is m×k, H is k×n.
inline void mu_iteration(const Dense& V, Dense& W, Dense& H, Penalty pen_W, Penalty pen_H) {
  const Dense Ht = transpose(H);
  mu_frobenius(W, multiply(V, Ht), multiply(H, Ht), pen_W);
  Dense Htn = transpose(H);
  mu_frobenius(Htn, multiply(transpose(V), W), multiply(transpose(W), W), pen_H);
  H = transpose(Htn);
}

// X ← max(0, X + β·(X − previous)), previous ← the old X (Ang & Gillis 2019).
inline void extrapolate(Dense& X, Dense& previous, double beta) {
  for (std::size_t e = 0; e < X.a.size(); ++e) {
    const double x = X.a[e];
    X.a[e] = std::max(0.0, x + beta * (x - previous.a[e]));
    previous.a[e] = x;
  }
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

// HALS with a mask: row i of X gets its own Gram Q_i = Σ_j m_ij·y_j·y_jᵀ and product
// p_i = Σ_j m_ij·v_ij·y_j over the rows y_j of the partner Y. D is V (X = W, Y = Hᵀ)
// or Vᵀ (X = Hᵀ, Y = W), `observed` the mask in the same orientation, row-major.
inline void masked_hals(Dense& X, const Dense& Y, const Dense& D, const std::vector<int>& observed,
                        Penalty pen, int sweeps) {
  const int k = X.cols;
  for (int i = 0; i < X.rows; ++i) {
    Dense Q(k, k), P(1, k), row(1, k);
    for (int j = 0; j < Y.rows; ++j) {
      if (!observed[std::size_t(i) * D.cols + j]) continue;
      for (int t = 0; t < k; ++t) {
        P(0, t) += D(i, j) * Y(j, t);
        for (int u = 0; u < k; ++u) Q(u, t) += Y(j, u) * Y(j, t);
      }
    }
    for (int t = 0; t < k; ++t) row(0, t) = X(i, t);
    hals(row, P, Q, pen, sweeps, i);
    for (int t = 0; t < k; ++t) X(i, t) = row(0, t);
  }
}

// HALS with extrapolation, an iteration a call: update W, extrapolate it (from the
// second iteration on), update H; then, if the run goes on, extrapolate H with a step
// that grows while the loss falls.
struct ExtrapolatedHals {
  Dense W, H, W_previous, H_previous;
  double beta = 0.25, beta_cap = 1.0, last_loss;
  bool first = true;
  const std::vector<int>* observed;  // row-major m×n, or null: all
  std::vector<int> observed_t;       // its transpose

  ExtrapolatedHals(const Dense& V, const Dense& W0, const Dense& H0,
                   const std::vector<int>* observed_ = nullptr)
      : W(W0), H(H0), W_previous(W0), H_previous(H0), observed(observed_) {
    last_loss = loss(V);
    if (observed) {
      observed_t.resize(observed->size());
      for (int i = 0; i < V.rows; ++i)
        for (int j = 0; j < V.cols; ++j)
          observed_t[std::size_t(j) * V.rows + i] = (*observed)[std::size_t(i) * V.cols + j];
    }
  }

  double loss(const Dense& V) const;

  // After it, W and H are the iterate the library returns from a run that ends here.
  void iterate(const Dense& V, Penalty pen_W, Penalty pen_H, int sweeps) {
    Dense Ht = transpose(H);
    if (observed) masked_hals(W, Ht, V, *observed, pen_W, sweeps);
    else hals(W, multiply(V, Ht), multiply(H, Ht), pen_W, sweeps);
    extrapolate(W, W_previous, first ? 0.0 : beta);
    first = false;
    Ht = transpose(H);
    if (observed) masked_hals(Ht, W, transpose(V), observed_t, pen_H, sweeps);
    else hals(Ht, multiply(transpose(V), W), multiply(transpose(W), W), pen_H, sweeps);
    H = transpose(Ht);
  }

  void go_on(const Dense& V) {
    const double loss = this->loss(V);
    const bool rose = loss > last_loss;
    last_loss = loss;
    if (rose) {
      beta_cap = beta;
      beta /= 1.5;
    } else {
      beta = std::min(beta_cap, 1.05 * beta);
      beta_cap = std::min(1.0, 1.01 * beta_cap);
    }
    extrapolate(H, H_previous, rose ? 0.0 : beta);
  }
};

// Multiplicative updates for any β (REFERENCE.md), W then H, with scikit-learn's floor
// on WH under negative powers and the Févotte–Idier exponent.
// `observed` (row-major m×n, 0 or 1; null: all) masks the entries out of the fit.
inline void beta_iteration(const Dense& V, Dense& W, Dense& H, double beta, Penalty pen_W,
                           Penalty pen_H, const std::vector<int>* observed = nullptr) {
  const double gamma = beta < 1 ? 1 / (2 - beta) : beta > 2 ? 1 / (beta - 1) : 1;
  auto floor = [](double wh) { return std::max(wh, kEps); };
  auto update = [&](Dense& X, const Dense& num, const Dense& den, Penalty pen) {
    for (int i = 0; i < X.rows; ++i)
      for (int t = 0; t < X.cols; ++t) {
        double d = den(i, t) + pen.l1 + pen.l2 * X(i, t);
        if (d == 0) d = kEps;
        X(i, t) *= std::pow(num(i, t) / d, gamma);
      }
  };
  auto ratios = [&](Dense& num, Dense& den) {  // V ⊙ WH^(β−2) and WH^(β−1)
    const Dense WH = multiply(W, H);
    num = den = WH;
    for (std::size_t e = 0; e < WH.a.size(); ++e) {
      const double wh = WH.a[e], seen = observed ? (*observed)[e] : 1;
      num.a[e] = seen * V.a[e] * std::pow(beta < 2 ? floor(wh) : wh, beta - 2);
      den.a[e] = seen * std::pow(beta < 1 ? floor(wh) : wh, beta - 1);
    }
  };
  Dense num, den;
  ratios(num, den);
  update(W, multiply(num, transpose(H)), multiply(den, transpose(H)), pen_W);
  ratios(num, den);
  Dense Ht = transpose(H);
  update(Ht, multiply(transpose(num), W), multiply(transpose(den), W), pen_H);
  H = transpose(Ht);
}

inline double beta_loss(const Dense& V, const Dense& W, const Dense& H, double beta,
                        const std::vector<int>* observed = nullptr) {
  const Dense WH = multiply(W, H);
  double s = 0;
  for (std::size_t e = 0; e < V.a.size(); ++e) {
    const double v = V.a[e], wh = WH.a[e];
    if (observed && !(*observed)[e]) continue;
    if (beta == 2) s += 0.5 * (v - wh) * (v - wh);
    else if (beta == 1) s += (v > 0 ? v * std::log(v / wh) - v : 0) + wh;
    else if (beta == 0) s += v / wh - std::log(v / wh) - 1;  // (wh > 0 in the tests)
    else s += (std::pow(v, beta) + (beta - 1) * std::pow(wh, beta) - beta * v * std::pow(wh, beta - 1)) /
              (beta * (beta - 1));
  }
  return s;
}

inline double ExtrapolatedHals::loss(const Dense& V) const {
  return observed ? beta_loss(V, W, H, 2, observed) : frobenius_loss(V, W, H);
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
