// The CPU backend: the big products by BLAS, the per-row updates of kernels/ on OpenMP
// threads, each on a SIMD pack of rows (lanes.hpp).
#include <algorithm>
#include <vector>

#include "blas.hpp"
#include "core/backend.hpp"
#include "core/column_view.hpp"
#include "k_dispatch.hpp"
#include "lanes.hpp"

namespace nmfuse::core {
namespace {

using kernels::Penalty;
using kernels::StridedRow;

// Working memory of one KL ratio block (a column block of A, core/column_view.hpp).
constexpr index_t kRatioBlockEntries = index_t(1) << 24;

template <class T>
class CpuBackend final : public Backend<T> {
 public:
  CpuBackend(DenseView<const T> V, int k)
      : Backend<T>(V.rows, V.cols, k), V_(V), A_(column_view(V.rows, V.cols, V.ld, V.layout)),
        W_(size(V.rows, k)), Ht_(size(V.cols, k)), PW_(size(V.rows, k)),
        PH_(size(V.cols, k)), GW_(size(k, k)), GH_(size(k, k)), cW_(k), cH_(k) {}

  double data_sum() override {
    return reduce_data([](T v) { return double(v); });
  }
  double data_squared_norm() override {
    return reduce_data([](T v) { return double(v) * double(v); });
  }

  void multiply_host(Side s, const T* X, int width, T* out) override {
    const bool w = s == Side::W;
    const index_t inner = w ? this->cols() : this->rows();
    const index_t outer = w ? this->rows() : this->cols();
    cpu::gemm(plan_gemm(stored(V_), !w, column_major(inner, width), false, outer), T(1),
              V_.data, X, T(0), out);
  }

  void set_factor(Side s, const T* host) override {
    std::copy(host, host + factor(s).size(), factor(s).begin());
  }
  void get_factor(Side s, T* host) override {
    std::copy(factor(s).begin(), factor(s).end(), host);
  }

  void product(Side s) override {
    const Side p = partner(s);
    cpu::gemm(plan_gemm(stored(V_), s == Side::H, column_major(this->factor_rows(p), k()),
                        false, this->factor_rows(s)),
              T(1), V_.data, factor(p).data(), T(0), big_product(s).data());
  }

  void gram(Side s) override {
    const StoredMatrix x = column_major(this->factor_rows(s), k());
    cpu::gemm(plan_gemm(x, true, x, false, k()), T(1), factor(s).data(), factor(s).data(),
              T(0), gram_of(s).data());
  }

  void update_mu_frobenius(Side s, Penalty<T> pen) override {
    const std::vector<T>& G = gram_of(partner(s));
    kernels::dispatch_rank(k(), [&](auto width) {
      constexpr int K = decltype(width)::value;
      const std::vector<T> Q = padded<K>(G);
      if constexpr (K > 0) {
        for_each_row<K>(s, [&](index_t, auto& x, const auto& p) {
          std::decay_t<decltype(x[0])> next[K];
          kernels::mu_frobenius_row<K>(x, p, next, Q.data(), ld<K>(), k(), pen);
          std::copy(next, next + K, x);
        });
      } else {  // the new rows go to scratch, then replace X_s
        const index_t r = this->factor_rows(s);
        row_scratch_.resize(size(r, k()));
        for_each_row<K>(s, [&](index_t i, auto& x, const auto& p) {
          StridedRow<T> next{row_scratch_.data() + i, r};
          kernels::mu_frobenius_row<K>(x, p, next, Q.data(), ld<K>(), k(), pen);
          for (int t = 0; t < k(); ++t) x[t] = next[t];
        });
      }
    });
  }

  void update_hals(Side s, Penalty<T> pen, int max_sweeps, T inner_tol) override {
    const std::vector<T>& G = gram_of(partner(s));
    kernels::dispatch_rank(k(), [&](auto width) {
      constexpr int K = decltype(width)::value;
      const std::vector<T> Q = padded<K>(G);
      if constexpr (K > 0) {
        for_each_row<K>(s, [&](index_t i, auto& x, const auto& p) {
          std::decay_t<decltype(x[0])> g[K];
          kernels::hals_row<K>(x, p, g, Q.data(), ld<K>(), k(), pen, max_sweeps, inner_tol, i);
        });
      } else {  // the gradients live in scratch
        const index_t r = this->factor_rows(s);
        row_scratch_.resize(size(r, k()));
        for_each_row<K>(s, [&](index_t i, auto& x, const auto& p) {
          StridedRow<T> g{row_scratch_.data() + i, r};
          kernels::hals_row<K>(x, p, g, Q.data(), ld<K>(), k(), pen, max_sweeps, inner_tol, i);
        });
      }
    });
  }

  // Row i of X_s against partner row j meets V at A(i, j) when s is A's left side, at
  // A(j, i) otherwise. A row's Gram Q_i = Σ_j y_j·y_jᵀ and product p_i = Σ_j v·y_j run
  // over its observed entries only: O(observed entries · k²) a half-step.
  void update_hals_masked(Side s, Penalty<T> pen, int max_sweeps, T inner_tol) override {
    const bool left = s == A_.left;
    T* X = factor(s).data();
    const T* Y = factor(partner(s)).data();
    const index_t r = this->factor_rows(s), other = this->factor_rows(partner(s));
    const int k = this->k();
#pragma omp parallel
    {
      std::vector<T> Q(size(k, k)), p(k), g(k);
#pragma omp for schedule(dynamic, 16)
      for (index_t i = 0; i < r; ++i) {
        std::fill(Q.begin(), Q.end(), T(0));
        std::fill(p.begin(), p.end(), T(0));
        for (index_t j = 0; j < other; ++j) {
          const index_t ai = left ? i : j, aj = left ? j : i;
          if (!observed(ai, aj)) continue;
          const T v = A(ai, aj);
          for (int t = 0; t < k; ++t) {
            const T yt = Y[j + t * other];
            p[t] += v * yt;
            for (int u = 0; u <= t; ++u) Q[u + t * k] += Y[j + u * other] * yt;
          }
        }
        for (int t = 0; t < k; ++t)
          for (int u = 0; u < t; ++u) Q[t + u * k] = Q[u + t * k];
        StridedRow<T> x{X + i, r};
        T* gradient = g.data();
        kernels::hals_row<0>(x, p.data(), gradient, Q.data(), k, k, pen, max_sweeps, inner_tol,
                             i);
      }
    }
  }

  // The ratio R_A = A ⊘ (L·Rᵀ) in column blocks of A; R_V is R_A or its transpose.
  void kl_product(Side s) override {
    for_each_wh_block([&](index_t j0, index_t nb, T* R) {
      ratio_in_place(j0, nb, R);
      block_product(s, j0, nb, R, big_product(s).data());
    });
  }

  void set_mask(const std::uint8_t* observed) override {
    mask_.assign(observed, observed + size(A_.rows, A_.cols));
  }

  void beta_products(Side s, T beta) override {
    std::vector<T>& D = denominator_product(s);
    for_each_wh_block([&](index_t j0, index_t nb, T* WH) {
      const index_t rows = A_.rows;
      second_block_.resize(size(rows, nb));
      T* den = second_block_.data();
#pragma omp parallel for schedule(static)
      for (index_t j = 0; j < nb; ++j)
        for (index_t i = 0; i < rows; ++i) {
          const index_t e = i + j * rows;
          const bool seen = observed(i, j0 + j);
          den[e] = seen ? kernels::beta_denominator(WH[e], beta) : T(0);
          WH[e] = seen ? kernels::beta_numerator(A(i, j0 + j), WH[e], beta) : T(0);
        }
      block_product(s, j0, nb, WH, big_product(s).data());
      block_product(s, j0, nb, den, D.data());
    });
  }

  void update_mu_beta(Side s, Penalty<T> pen, T gamma) override {
    T* X = factor(s).data();
    const T* P = big_product(s).data();
    const T* D = denominator_product(s).data();
    const index_t r = this->factor_rows(s);
#pragma omp parallel for schedule(static)
    for (index_t i = 0; i < r; ++i) {
      StridedRow<T> x{X + i, r};
      kernels::mu_beta_row<0>(x, StridedRow<const T>{P + i, r}, StridedRow<const T>{D + i, r},
                              k(), pen, gamma);
    }
  }

  double beta_divergence_sum(T beta) override {
    return sum_pointwise([beta](T v, T wh) { return kernels::beta_divergence(v, wh, beta); });
  }

  void extrapolate(Side s, T beta) override {
    std::vector<T>& X = factor(s);
    std::vector<T>& previous = s == Side::W ? previous_W_ : previous_H_;
    if (beta == T(0)) {
      previous = X;
      return;
    }
    const index_t count = index_t(X.size());
#pragma omp parallel for schedule(static)
    for (index_t e = 0; e < count; ++e) {
      const T x = X[e];
      X[e] = kernels::extrapolated(x, previous[e], beta);
      previous[e] = x;
    }
  }

  void column_sums(Side s) override {
    const std::vector<T>& X = factor(s);
    const index_t r = this->factor_rows(s);
    std::vector<T>& c = sums_of(s);
    for (int t = 0; t < k(); ++t) {
      double sum = 0;
#pragma omp parallel for reduction(+ : sum) schedule(static)
      for (index_t i = 0; i < r; ++i) sum += X[i + t * r];
      c[t] = T(sum);
    }
  }

  void update_mu_kl(Side s, Penalty<T> pen) override {
    const std::vector<T>& sums = sums_of(partner(s));
    kernels::dispatch_rank(k(), [&](auto width) {
      constexpr int K = decltype(width)::value;
      std::vector<T> c(std::max(K, k()), T(0));  // zero-padded to K for the fast path
      std::copy(sums.begin(), sums.end(), c.begin());
      for_each_row<K>(s, [&](index_t, auto& x, const auto& p) {
        kernels::mu_kl_row<K>(x, p, c.data(), k(), pen);
      });
    });
  }

  double dot_factor_product(Side s) override { return dot(factor(s), big_product(s)); }
  double dot_grams() override { return dot(GW_, GH_); }
  double dot_column_sums() override { return dot(cW_, cH_); }

  double squared_residual_sum() override {
    return sum_pointwise([](T v, T wh) { return (double(v) - wh) * (double(v) - wh); });
  }

  double kl_pointwise_sum() override {
    return sum_pointwise([](T v, T wh) { return kernels::kl_pointwise(v, wh); });
  }

 private:
  static std::size_t size(index_t r, index_t c) { return static_cast<std::size_t>(r * c); }
  int k() const { return this->rank(); }
  template <int K>
  int ld() const { return K > 0 ? K : k(); }

  std::vector<T>& factor(Side s) { return s == Side::W ? W_ : Ht_; }
  std::vector<T>& big_product(Side s) { return s == Side::W ? PW_ : PH_; }
  std::vector<T>& gram_of(Side s) { return s == Side::W ? GW_ : GH_; }
  std::vector<T>& sums_of(Side s) { return s == Side::W ? cW_ : cH_; }

  // Σ f(v, wh) over every (observed) entry of A and of L·Rᵀ, in double.
  template <class F>
  double sum_pointwise(F f) {
    double total = 0;
    for_each_wh_block([&](index_t j0, index_t nb, T* WH) {
      const index_t rows = A_.rows;
      double sum = 0;
#pragma omp parallel for reduction(+ : sum) schedule(static)
      for (index_t j = 0; j < nb; ++j)
        for (index_t i = 0; i < rows; ++i)
          if (observed(i, j0 + j)) sum += f(A(i, j0 + j), WH[i + j * rows]);
      total += sum;
    });
    return total;
  }

  bool observed(index_t i, index_t j) const {
    return mask_.empty() || mask_[std::size_t(i + j * A_.rows)] != 0;
  }

  // The part of a product with a block function R_A[:, j0:j0+nb] of A (core/column_view):
  // side L: out += R_A[:, blk] · R_factor[blk, :];  side R: out[blk, :] = R_A[:, blk]ᵀ · L.
  void block_product(Side s, index_t j0, index_t nb, const T* R, T* out) {
    const Side left = A_.left, right = partner(left);
    const StoredMatrix r = column_major(A_.rows, nb);
    if (s == left)
      cpu::gemm(plan_gemm(r, false, factor_block(right, nb), false, A_.rows), T(1), R,
                factor(right).data() + j0, T(j0 == 0 ? 0 : 1), out);
    else
      cpu::gemm(plan_gemm(r, true, column_major(A_.rows, k()), false, A_.cols), T(1), R,
                factor(left).data(), T(0), out + j0);
  }

  std::vector<T>& denominator_product(Side s) {
    std::vector<T>& D = s == Side::W ? DW_ : DH_;
    D.resize(size(this->factor_rows(s), k()));
    return D;
  }

  // nb consecutive rows of the factor of side s, inside its column-major buffer.
  StoredMatrix factor_block(Side s, index_t nb) const {
    return {nb, index_t(k()), this->factor_rows(s), Layout::ColMajor};
  }

  T A(index_t i, index_t j) const { return V_.data[j * A_.ld + i]; }

  // Q zero-padded to K×K for the fast path; Q itself for the strided path.
  template <int K>
  std::vector<T> padded(const std::vector<T>& G) const {
    if constexpr (K == 0) {
      return G;
    } else {
      std::vector<T> Q(size(K, K), T(0));
      for (int t = 0; t < k(); ++t)
        for (int s = 0; s < k(); ++s) Q[s + t * K] = G[s + t * k()];
      return Q;
    }
  }

  // Calls fn(i, x, p) for the rows of X_s in parallel, with x and p their entries in
  // X_s and P_s. Fast path: packs of Lanes<T>::kWidth rows from row i on, in local
  // arrays zero-padded to K (x is stored back after). Large-k path: one row i at a
  // time, strided references into the buffers.
  template <int K, class Fn>
  void for_each_row(Side s, Fn fn) {
    T* X = factor(s).data();
    const T* P = big_product(s).data();
    const index_t r = this->factor_rows(s);
    const int k = this->k();
    if constexpr (K > 0) {
      using Pack = cpu::Lanes<T>;
      constexpr int kWidth = Pack::kWidth;
      const index_t packs = (r + kWidth - 1) / kWidth;
#pragma omp parallel for schedule(static)
      for (index_t b = 0; b < packs; ++b) {
        const index_t i0 = b * kWidth;
        const int rows = int(std::min<index_t>(kWidth, r - i0));
        Pack x[K], p[K];
        for (int t = 0; t < K; ++t) {
          x[t] = t < k ? Pack::load(X + i0 + t * r, rows) : Pack(T(0));
          p[t] = t < k ? Pack::load(P + i0 + t * r, rows) : Pack(T(0));
        }
        fn(i0, x, p);
        for (int t = 0; t < k; ++t) x[t].store(X + i0 + t * r, rows);
      }
    } else {
#pragma omp parallel for schedule(static)
      for (index_t i = 0; i < r; ++i) {
        StridedRow<T> x{X + i, r};
        StridedRow<const T> p{P + i, r};
        fn(i, x, p);
      }
    }
  }

  // Calls fn(j0, nb, WH) for column blocks of L·Rᵀ ≈ A (A_.rows×nb, column-major,
  // scratch that fn may overwrite), bounding the extra memory to kRatioBlockEntries.
  template <class Fn>
  void for_each_wh_block(Fn fn) {
    const index_t rows = A_.rows, cols = A_.cols;
    const Side left = A_.left, right = partner(left);
    const index_t block = std::clamp<index_t>(kRatioBlockEntries / rows, 1, cols);
    ratio_.resize(size(rows, block));
    for (index_t j0 = 0; j0 < cols; j0 += block) {
      const index_t nb = std::min(block, cols - j0);
      cpu::gemm(plan_gemm(column_major(rows, k()), false, factor_block(right, nb), true,
                          rows),
                T(1), factor(left).data(), factor(right).data() + j0, T(0), ratio_.data());
      fn(j0, nb, ratio_.data());
    }
  }

  // WH ← A[:, j0:j0+nb] ⊘ WH.
  void ratio_in_place(index_t j0, index_t nb, T* WH) const {
    const index_t rows = A_.rows;
#pragma omp parallel for schedule(static)
    for (index_t j = 0; j < nb; ++j)
      for (index_t i = 0; i < rows; ++i)
        WH[i + j * rows] = kernels::kl_ratio(A(i, j0 + j), WH[i + j * rows]);
  }

  static double dot(const std::vector<T>& a, const std::vector<T>& b) {
    double sum = 0;
    const index_t n = index_t(a.size());
#pragma omp parallel for reduction(+ : sum) schedule(static)
    for (index_t i = 0; i < n; ++i) sum += double(a[i]) * double(b[i]);
    return sum;
  }

  template <class F>
  double reduce_data(F f) const {
    double sum = 0;
#pragma omp parallel for reduction(+ : sum) schedule(static)
    for (index_t j = 0; j < A_.cols; ++j)
      for (index_t i = 0; i < A_.rows; ++i) sum += f(A(i, j));
    return sum;
  }

  DenseView<const T> V_;
  ColumnView A_;  // V read column by column in storage order
  std::vector<T> W_, Ht_, PW_, PH_, GW_, GH_, cW_, cH_;
  std::vector<T> previous_W_, previous_H_;  // the iterates extrapolate() saw last
  std::vector<T> DW_, DH_;      // β's denominator products, made when needed
  std::vector<std::uint8_t> mask_;  // observed entries in A's order; empty: all
  std::vector<T> ratio_, second_block_;  // scratch: ratio blocks
  std::vector<T> row_scratch_;  // scratch: k values a row on the large-k path
};

}  // namespace

template <class T>
std::unique_ptr<Backend<T>> make_cpu_backend(DenseView<const T> V, int rank) {
  return std::make_unique<CpuBackend<T>>(V, rank);
}

template std::unique_ptr<Backend<float>> make_cpu_backend(DenseView<const float>, int);
template std::unique_ptr<Backend<double>> make_cpu_backend(DenseView<const double>, int);

}  // namespace nmfuse::core
