#pragma once
// The factor side of the CPU backends: W, Ht and everything made from them alone
// (Grams, column sums, the per-row updates of kernels/ on OpenMP threads, each on a
// SIMD pack of rows, lanes.hpp). The data side (dense or sparse V) derives from it.
#include <algorithm>
#include <vector>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "blas.hpp"
#include "nmfuse/errors.hpp"
#include "fixed_sum.hpp"
#include "core/backend.hpp"
#include "core/gemm_plan.hpp"
#include "cpu/cpu_widths.hpp"
#include "lanes.hpp"
#include "nmfuse/errors.hpp"

namespace nmfuse::cpu {

using core::Side;
using kernels::Penalty;
using kernels::StridedRow;

// Multiplicative updates drive entries of W and H towards zero through the subnormal
// floats, where x86 arithmetic is ~100× slower (KL on sparse data slowed 5× over 200
// iterations). While a CPU backend lives, every OpenMP thread flushes them to zero
// (MXCSR's FTZ and DAZ); after, every thread gets the calling thread's mode back.
class FlushSubnormals {
 public:
  FlushSubnormals() {
#if defined(__SSE__)
    saved_ = _mm_getcsr();
    set(saved_ | 0x8040);
#endif
  }
  ~FlushSubnormals() {
#if defined(__SSE__)
    set(saved_);
#endif
  }
  FlushSubnormals(const FlushSubnormals&) = delete;
  FlushSubnormals& operator=(const FlushSubnormals&) = delete;

 private:
#if defined(__SSE__)
  static void set(unsigned mode) {
#pragma omp parallel
    _mm_setcsr(mode);
  }
  unsigned saved_ = 0;
#endif
};

// The entries of one block (or of a run of blocks) in a batch's buffer.
template <class T>
struct Block {
  T* first;
  std::size_t count;
  T* data() const { return first; }
  std::size_t size() const { return count; }
  T* begin() const { return first; }
  T* end() const { return first + count; }
  T& operator[](std::size_t i) const { return first[i]; }
};

template <class T>
class CpuFactors : public core::Backend<T> {
 public:
  void set_factor(Side s, const T* host) override {
    std::copy(host, host + factor(s).size(), factor(s).begin());
  }
  void get_factor(Side s, T* host) override {
    std::copy(factor(s).begin(), factor(s).end(), host);
  }
  void get_product(Side s, T* host) override {
    std::copy(big_product(s).begin(), big_product(s).end(), host);
  }
  void get_denominator(Side s, T* host) override {
    std::copy(denominator_product(s).begin(), denominator_product(s).end(), host);
  }
  void sum_across(Side s, core::Piece piece, core::ProcessSum& processes) override {
    const Block<T> b = piece_of(s, piece);
    processes.sum(b.data(), b.size());
  }

  void gram(Side s, int blocks) override {
    const core::StoredMatrix x = core::column_major(this->factor_rows(s), k());
    each_block(blocks, [&] {
      gemm(core::plan_gemm(x, true, x, false, k()), T(1), factor(s).data(), factor(s).data(),
           T(0), gram_of(s).data());
    });
  }

  void update_mu_frobenius(Side s, Penalty<T> pen, int blocks) override {
    each_block(blocks, [&] { update_mu_frobenius_block(s, pen); });
  }

  void update_hals(Side s, Penalty<T> pen, int max_sweeps, T inner_tol, int blocks) override {
    each_block(blocks, [&] { update_hals_block(s, pen, max_sweeps, inner_tol); });
  }

  void swap_blocks(int a, int b) override {
    for (Side s : {Side::W, Side::H}) {
      const std::size_t f = size(this->factor_rows(s), k()), g = size(k(), k());
      swap_entries(s == Side::W ? W_ : Ht_, f, a, b);
      swap_entries(s == Side::W ? GW_ : GH_, g, a, b);
      if (!previous(s).empty()) swap_entries(previous(s), f, a, b);
    }
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

  void extrapolate(Side s, T beta) override {
    const Block<T> X = factor(s);
    if (previous(s).empty()) {
      if (beta != T(0)) throw Error("internal: extrapolation before its start was kept");
      previous(s).resize(size(this->factor_rows(s), k()) * std::size_t(this->batch()));
    }
    const Block<T> last = previous_block(s);
    if (beta == T(0)) {
      std::copy(X.begin(), X.end(), last.begin());
      return;
    }
    const index_t count = index_t(X.size());
#pragma omp parallel for schedule(static)
    for (index_t e = 0; e < count; ++e) {
      const T x = X[e];
      X[e] = kernels::extrapolated(x, last[e], beta);
      last[e] = x;
    }
  }

  void set_previous(Side s, const T* host) override {
    previous(s).resize(size(this->factor_rows(s), k()) * std::size_t(this->batch()));
    std::copy(host, host + factor(s).size(), previous_block(s).begin());
  }
  void get_previous(Side s, T* host) override {
    std::copy(previous_block(s).begin(), previous_block(s).end(), host);
  }

  void column_sums(Side s) override {
    const Block<T> X = factor(s);
    const index_t r = this->factor_rows(s);
    std::vector<T>& c = sums_of(s);
    for (int t = 0; t < k(); ++t)
      c[t] = T(fixed_sum(r, [&](index_t begin, index_t end) {
        double sum = 0;
        for (index_t i = begin; i < end; ++i) sum += X[i + t * r];
        return sum;
      }));
  }

  void update_mu_kl(Side s, Penalty<T> pen) override {
    const std::vector<T>& sums = sums_of(core::partner(s));
    dispatch_width(k(), [&](auto width) {
      constexpr int K = decltype(width)::value;
      std::vector<T> c(std::max(K, k()), T(0));  // zero-padded to K for the fast path
      std::copy(sums.begin(), sums.end(), c.begin());
      for_each_row<K>(s, [&](index_t, auto& x, const auto& p) {
        kernels::mu_kl_row<K>(x, p, c.data(), k(), pen);
      });
    });
  }

  double dot_factor_product(Side s) override { return dot(factor(s), big_product(s)); }
  double dot_grams() override { return dot(gram_of(Side::W), gram_of(Side::H)); }
  double dot_column_sums() override { return dot(cW_, cH_); }

 protected:
  CpuFactors(index_t m, index_t n, int k, int batch)
      : core::Backend<T>(m, n, k, batch), W_(size(m, k) * batch), Ht_(size(n, k) * batch),
        PW_(size(m, k) * batch), PH_(size(n, k) * batch), GW_(size(k, k) * batch),
        GH_(size(k, k) * batch), cW_(k), cH_(k) {}

  static std::size_t size(index_t r, index_t c) { return static_cast<std::size_t>(r * c); }
  int k() const { return this->rank(); }

  // The selected block's entries, or `blocks` blocks' from it on.
  Block<T> factor(Side s, int blocks = 1) {
    return block_of(s == Side::W ? W_ : Ht_, size(this->factor_rows(s), k()), blocks);
  }
  Block<T> big_product(Side s, int blocks = 1) {
    return block_of(s == Side::W ? PW_ : PH_, size(this->factor_rows(s), k()), blocks);
  }
  Block<T> gram_of(Side s) { return block_of(s == Side::W ? GW_ : GH_, size(k(), k()), 1); }
  std::vector<T>& sums_of(Side s) { return s == Side::W ? cW_ : cH_; }
  // β's denominator products (the selected block's), made when first needed.
  std::vector<T>& denominator_product(Side s) {
    std::vector<T>& D = s == Side::W ? DW_ : DH_;
    D.resize(size(this->factor_rows(s), k()));
    return D;
  }

  // The selected block's piece of side s that a distributed run completes.
  Block<T> piece_of(Side s, core::Piece piece) {
    switch (piece) {
      case core::Piece::Product: return big_product(s);
      case core::Piece::Denominator: return whole(denominator_product(s));
      case core::Piece::Gram: return gram_of(s);
      case core::Piece::ColumnSums: return whole(sums_of(s));
    }
    throw Error("internal: no such piece");
  }
  static Block<T> whole(std::vector<T>& v) { return {v.data(), v.size()}; }

  // nb consecutive rows of the factor of side s, inside its column-major buffer.
  core::StoredMatrix factor_block(Side s, index_t nb) const {
    return {nb, index_t(k()), this->factor_rows(s), Layout::ColMajor};
  }

  template <class A, class B>
  static double dot(const A& a, const B& b) {
    return fixed_sum(index_t(a.size()), [&](index_t begin, index_t end) {
      double sum = 0;
      for (index_t i = begin; i < end; ++i) sum += double(a[i]) * double(b[i]);
      return sum;
    });
  }

 private:
  Block<T> block_of(std::vector<T>& buffer, std::size_t per_block, int blocks) {
    return {buffer.data() + per_block * std::size_t(this->selected()),
            per_block * std::size_t(blocks)};
  }
  std::vector<T>& previous(Side s) { return s == Side::W ? previous_W_ : previous_H_; }
  Block<T> previous_block(Side s) {
    return block_of(previous(s), size(this->factor_rows(s), k()), 1);
  }
  static void swap_entries(std::vector<T>& buffer, std::size_t per_block, int a, int b) {
    std::swap_ranges(buffer.begin() + per_block * a, buffer.begin() + per_block * (a + 1),
                     buffer.begin() + per_block * b);
  }
  // Runs f once with each of `blocks` blocks from the selected one selected.
  template <class F>
  void each_block(int blocks, F f) {
    const int first = this->selected();
    for (int b = first; b < first + blocks; ++b) {
      this->select(b);
      f();
    }
    this->select(first);
  }

  void update_mu_frobenius_block(Side s, Penalty<T> pen) {
    const Block<T> G = gram_of(core::partner(s));
    dispatch_width(k(), [&](auto width) {
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

  void update_hals_block(Side s, Penalty<T> pen, int max_sweeps, T inner_tol) {
    const Block<T> G = gram_of(core::partner(s));
    dispatch_width(k(), [&](auto width) {
      constexpr int K = decltype(width)::value;
      const std::vector<T> Q = padded<K>(G);
      if constexpr (K > 0) {
        for_each_row<K>(s, [&](index_t i, auto& x, const auto& p) {
          std::decay_t<decltype(x[0])> g[K];
          kernels::hals_row<K>(x, p, g, Q.data(), ld<K>(), k(), pen, max_sweeps, inner_tol,
                             i + this->first_row(s));
        });
      } else {  // the gradients live in scratch
        const index_t r = this->factor_rows(s);
        row_scratch_.resize(size(r, k()));
        for_each_row<K>(s, [&](index_t i, auto& x, const auto& p) {
          StridedRow<T> g{row_scratch_.data() + i, r};
          kernels::hals_row<K>(x, p, g, Q.data(), ld<K>(), k(), pen, max_sweeps, inner_tol,
                             i + this->first_row(s));
        });
      }
    });
  }

  template <int K>
  int ld() const { return K > 0 ? K : k(); }

  // Q zero-padded to K×K for the fast path; Q itself for the strided path.
  template <int K>
  std::vector<T> padded(const Block<T>& G) const {
    if constexpr (K == 0) {
      return std::vector<T>(G.begin(), G.end());
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
      using Pack = Lanes<T>;
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

  FlushSubnormals flush_subnormals_;
  std::vector<T> W_, Ht_, PW_, PH_, GW_, GH_;  // batch() blocks each
  std::vector<T> cW_, cH_;                     // the selected block's
  std::vector<T> previous_W_, previous_H_;     // the iterates extrapolate() saw last
  std::vector<T> DW_, DH_;
  std::vector<T> row_scratch_;  // scratch: k values a row on the large-k path
};

}  // namespace nmfuse::cpu
