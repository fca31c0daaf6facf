// The CPU backend for CSR V, never densified. Side W walks the rows of V, side H the
// rows of Vᵀ (built once, in CSR too), so both half-steps stream their own rows in
// parallel without write conflicts. Every pass costs O(nnz·k), with the partner factor
// copied row-major so that each stored entry reads k contiguous values.
//
// Absent::Zero: absent entries are zeros. Frobenius and KL need WH at the stored entries
// only (the rest is Grams and column sums); any other β needs WH everywhere for its
// denominator, done in dense blocks: O(m·n·k) time, bounded memory.
// Absent::Unknown: absent entries are unknown, so every pass stays on the stored ones
// (the solver's masked path).
#include <algorithm>
#include <cmath>
#include <vector>

#include <omp.h>

#include "core/csr_transpose.hpp"
#include "cpu/blas_library.hpp"
#include "cpu/cpu_widths.hpp"
#include "cpu_backends.hpp"
#include "cpu_factors.hpp"
#include "nmfuse/errors.hpp"

namespace nmfuse::cpu {
namespace {

using core::partner;

// scatter_h's fixed number of chunks (and so of accumulators, and of threads it uses).
constexpr int kScatterChunks = 8;

// Working memory of one dense block of W·Htᵀ (general β on zeros only).
constexpr index_t kDenseBlockEntries = index_t(1) << 22;

// The rows of a CSR matrix: V itself (side W) or Vᵀ (side H).
template <class T, class I>
struct CsrRows {
  const I* ptr;
  const I* idx;
  const T* val;
};

template <class T, class I>
class CpuSparseBackend final : public CpuFactors<T> {
  using Base = CpuFactors<T>;
  using Base::big_product, Base::denominator_product, Base::factor, Base::factor_block,
      Base::k, Base::size;

 public:
  CpuSparseBackend(CsrView<T, I> V, int k, int batch)
      : Base(V.rows, V.cols, k, batch), V_(V), nnz_(V.nnz()),
        zeros_absent_(V.absent == Absent::Zero), scatter_(scatter_pays(V, k * batch)) {
    if (!scatter_) Vt_ = core::transposed(V);
  }

  double product_entries() const override { return double(nnz_); }

  double sum_of_data() override {
    return sum_values([](T v) { return double(v); });
  }
  double sum_of_squared_data() override {
    return sum_values([](T v) { return double(v) * double(v); });
  }

  // For the start only. X and out are column-major; X is read row by row, so that each
  // stored entry reads one contiguous row of it instead of `width` scattered values.
  void multiply_host(Side s, const T* X, int width, T* out) override {
    const index_t r = this->factor_rows(s), other = this->factor_rows(partner(s));
    const std::size_t w = std::size_t(width);
    std::vector<T> x(size(other, width));
    for (index_t j = 0; j < other; ++j)
      for (std::size_t c = 0; c < w; ++c) x[std::size_t(j) * w + c] = X[j + index_t(c) * other];
    // Side H without a kept Vᵀ: one for this call, so that the rows run in parallel.
    const CsrMatrix<T, I> Vt = s == Side::H && scatter_ ? core::transposed(V_) : CsrMatrix<T, I>{};
    const CsrRows<T, I> A = s == Side::H && scatter_
                                ? CsrRows<T, I>{Vt.row_ptr.data(), Vt.col_idx.data(), Vt.values.data()}
                                : rows_of(s);
#pragma omp parallel
    {
      std::vector<T> sum(w);
#pragma omp for schedule(dynamic, 64)
      for (index_t i = 0; i < r; ++i) {
        std::fill(sum.begin(), sum.end(), T(0));
        for (index_t e = A.ptr[i]; e < A.ptr[i + 1]; ++e) {
          const T* xj = &x[std::size_t(A.idx[e]) * w];
          for (std::size_t c = 0; c < w; ++c) sum[c] += A.val[e] * xj[c];
        }
        for (std::size_t c = 0; c < w; ++c) out[i + index_t(c) * r] = sum[c];
      }
    }
  }

  // P_s row i = Σ v·y over the stored entries of row i, y `blocks` blocks wide.
  void product(Side s, int blocks) override {
    const Operands o = operands(s, Sums::P, blocks);
    if (s == Side::H && scatter_)
      return scatter_h([](auto& row, T v, const T*, T* p) { row.add(p, v, row.x); }, o);
    for_each_row(s, Sums::P, [&](index_t, index_t begin, index_t end, auto& row) {
      for (index_t e = begin; e < end; ++e) {
        row.prefetch(e);
        row.add(row.p, row.val[e], row.partner(e));
      }
    }, o);
  }

  // SDDMM and SpMM fused: the ratio v / wh at each stored entry, then P_s row i = Σ ratio·y.
  void kl_product(Side s) override {
    if (s == Side::H && scatter_)
      return scatter_h([](auto& row, T v, const T* h, T* p) {
        row.add(p, kernels::kl_ratio(v, row.dot(row.x, h)), row.x);
      }, operands(s, Sums::P));
    for_each_row(s, Sums::P, [&](index_t, index_t begin, index_t end, auto& row) {
      for (index_t e = begin; e < end; ++e) {
        row.prefetch(e);
        const T* y = row.partner(e);
        row.add(row.p, kernels::kl_ratio(row.val[e], row.dot(row.x, y)), y);
      }
    }, operands(s, Sums::P));
  }

  void set_mask(const std::uint8_t*) override {
    throw Error("internal: a sparse V takes no dense mask; Absent::Unknown marks its stored "
                "entries as the observed ones");
  }

  void beta_products(Side s, T beta) override {
    const bool stored_denominator = !zeros_absent_;
    if (s == Side::H && scatter_)  // zeros absent: the denominators come from dense blocks
      scatter_h([beta](auto& row, T v, const T* h, T* p) {
        row.add(p, kernels::beta_numerator(v, row.dot(row.x, h), beta), row.x);
      }, operands(s, Sums::P));
    else
      for_each_row(s, stored_denominator ? Sums::PD : Sums::P,
                   [&](index_t, index_t begin, index_t end, auto& row) {
                     for (index_t e = begin; e < end; ++e) {
                       const T* y = row.partner(e);
                       const T wh = row.dot(row.x, y);
                       row.add(row.p, kernels::beta_numerator(row.val[e], wh, beta), y);
                       if (stored_denominator)
                         row.add(row.d, kernels::beta_denominator(wh, beta), y);
                     }
                   }, operands(s, stored_denominator ? Sums::PD : Sums::P));
    if (stored_denominator) return;
    // Zeros have a denominator too: D_s = (W·Htᵀ)^(β−1)·partner over every entry.
    T* D = denominator_product(s).data();
    for_each_dense_block(s, [&](index_t j0, index_t nb, T* WH) {
      const index_t count = this->factor_rows(s) * nb;
#pragma omp parallel for schedule(static)
      for (index_t e = 0; e < count; ++e) WH[e] = kernels::beta_denominator(WH[e], beta);
      gemm(core::plan_gemm(core::column_major(this->factor_rows(s), nb), false,
                           factor_block(partner(s), nb), false, this->factor_rows(s)),
           T(1), WH, factor(partner(s)).data() + j0, T(j0 == 0 ? 0 : 1), D);
    });
  }

  void update_hals_masked(Side s, Penalty<T> pen, int max_sweeps, T inner_tol) override {
    T* X = factor(s).data();
    const index_t r = this->factor_rows(s);
    const int k = this->k();
    for_each_row(s, Sums::None, [&](index_t i, index_t begin, index_t end, auto& row) {
      // Row i's own Gram and product, over its stored entries.
      std::fill(row.Q, row.Q + k * k, T(0));
      for (index_t e = begin; e < end; ++e) {
        const T* y = row.partner(e);
        row.add(row.p, row.val[e], y);
        for (int t = 0; t < k; ++t)
          for (int u = 0; u <= t; ++u) row.Q[u + t * k] += y[u] * y[t];
      }
      for (int t = 0; t < k; ++t)
        for (int u = 0; u < t; ++u) row.Q[t + u * k] = row.Q[u + t * k];
      StridedRow<T> x{X + i, r};
      T* gradient = row.d;
      kernels::hals_row<0>(x, static_cast<const T*>(row.p), gradient, row.Q, k, k, pen,
                           max_sweeps, inner_tol, i);
    }, operands(s, Sums::None));
  }

  double beta_divergence_sum(T beta) override {
    double sum = sum_stored([beta](T v, T wh) { return kernels::beta_divergence(v, wh, beta); });
    if (!zeros_absent_ || nnz_ / this->rows() == this->cols()) return sum;  // none absent
    // The zeros: Σ over every entry of d(0 | wh), less the stored entries' share.
    sum -= sum_stored([beta](T, T wh) { return kernels::beta_divergence(T(0), wh, beta); });
    for_each_dense_block(Side::W, [&](index_t, index_t nb, const T* WH) {
      sum += fixed_sum(this->rows() * nb, [&](index_t begin, index_t end) {
        double block = 0;
        for (index_t e = begin; e < end; ++e) block += kernels::beta_divergence(T(0), WH[e], beta);
        return block;
      });
    });
    return sum;
  }

  // Σ (v − wh)² over the stored entries, plus Σ wh² over the absent ones: Σ_all wh² =
  // Σ WᵀW ⊙ HᵀH, less the stored entries' share.
  double squared_residual_sum() override {
    const double stored = sum_stored([](T v, T wh) { return (double(v) - wh) * (double(v) - wh); });
    if (!zeros_absent_) return stored;
    const double stored_wh = sum_stored([](T, T wh) { return double(wh) * double(wh); });
    std::vector<T> GW(size(k(), k())), GH(size(k(), k()));
    for (Side s : {Side::W, Side::H}) {
      const core::StoredMatrix x = core::column_major(this->factor_rows(s), k());
      gemm(core::plan_gemm(x, true, x, false, k()), T(1), factor(s).data(), factor(s).data(),
           T(0), (s == Side::W ? GW : GH).data());
    }
    return stored + std::max(0.0, Base::dot(GW, GH) - stored_wh);
  }

  // Absent zeros add nothing here: their Σ wh is in the column sums' dot.
  double kl_pointwise_sum() override {
    return sum_stored([](T v, T wh) { return kernels::kl_pointwise(v, wh); });
  }

 private:
  enum class Sums { None, P, PD };  // which of a row's p, d a pass stores to P_s, D_s

  // What a pass over side s's rows reads and writes: X_s and its partner Y (column-major,
  // k columns: the selected block, or several blocks side by side) and P_s, D_s.
  struct Operands {
    int k;
    const T* X;
    const T* Y;
    T* P;
    T* D;
  };
  Operands operands(Side s, Sums sums, int blocks = 1) {
    return {k() * blocks, factor(s, blocks).data(), factor(partner(s), blocks).data(),
            big_product(s, blocks).data(),
            sums == Sums::PD ? denominator_product(s).data() : nullptr};  // D: one block
  }

  // A thread's view of one row of side s: x (its row of X_s), p and d (its rows of the
  // products to come) and Q (k×k) in thread-local buffers; its stored entries' values
  // and the partner rows they meet. On the fast path (K > 0) rows are zero-padded to K
  // and the loops have compile-time length, which the compiler vectorizes; on the
  // large-k path (K = 0) they run to k.
  template <int K>
  struct Row {
    int k;
    const I* idx;
    const T* val;
    const T* Y;  // the partner, row-major, width() values a row
    T *x, *p, *d, *Q;
    index_t entries = 0;  // of the CSR that idx belongs to: how far prefetch may look

    int width() const { return K > 0 ? K : k; }
    const T* partner(index_t e) const { return Y + index_t(idx[e]) * width(); }
    // The partner rows are gathered at random: ask for the one kPrefetch entries ahead
    // while this one is computed, so that the wait for memory overlaps the arithmetic.
    static constexpr index_t kPrefetch = 16;
    void prefetch(index_t e) const {
      if (e + kPrefetch >= entries) return;
      const char* y = reinterpret_cast<const char*>(partner(e + kPrefetch));
      for (std::size_t b = 0; b < std::size_t(width()) * sizeof(T); b += 64) __builtin_prefetch(y + b);
    }
    // In 8 partial sums, so that the fast path vectorizes without reassociating.
    T dot(const T* __restrict a, const T* __restrict b) const {
      T part[8] = {};
      const int whole = K > 0 ? K : k - k % 8;
      for (int t = 0; t < whole; t += 8)
        for (int l = 0; l < 8; ++l) part[l] += a[t + l] * b[t + l];
      for (int t = whole; t < width(); ++t) part[0] += a[t] * b[t];
      return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
    }
    void add(T* __restrict acc, T a, const T* __restrict y) const {
      for (int t = 0; t < width(); ++t) acc[t] += a * y[t];
    }
  };

  CsrRows<T, I> rows_of(Side s) const {
    return s == Side::W ? CsrRows<T, I>{V_.row_ptr, V_.col_idx, V_.values}
                        : CsrRows<T, I>{Vt_.row_ptr.data(), Vt_.col_idx.data(), Vt_.values.data()};
  }

  // Y, the partner of side s (k columns), copied row-major, `width` values a row
  // (zero-padded past k).
  const T* partner_rows(Side s, const T* Y, int k, int width) {
    const index_t r = this->factor_rows(partner(s));
    partner_rows_.assign(size(r, width), T(0));
    T* out = partner_rows_.data();
#pragma omp parallel for schedule(static)
    for (index_t j = 0; j < r; ++j)
      for (int t = 0; t < k; ++t) out[j * width + t] = Y[j + t * r];
    return out;
  }

  // Calls fn(i, begin, end, row) for each row i of side s's CSR in parallel, with row a
  // Row<K> (its stored entries are begin..end); then stores row.p (and row.d) as row i
  // of P_s (and D_s), as `sums` says.
  template <class Fn>
  void for_each_row(Side s, Sums sums, Fn fn, const Operands& o) {
    dispatch_width(o.k, [&](auto fast_width) {
      constexpr int K = decltype(fast_width)::value;
      const int k = o.k, width = K > 0 ? K : k;
      const CsrRows<T, I> A = rows_of(s);
      const T* Y = partner_rows(s, o.Y, k, width);
      const index_t r = this->factor_rows(s);
      const T* X = o.X;
      T* P = o.P;
      T* D = o.D;
#pragma omp parallel
      {
        std::vector<T> buffers(size(3, width) + (sums == Sums::None ? size(k, k) : 0), T(0));
        T* base = buffers.data();
        Row<K> row{k, A.idx, A.val, Y, base, base + width, base + 2 * width, base + 3 * width,
                   index_t(A.ptr[r])};
#pragma omp for schedule(dynamic, 64)
        for (index_t i = 0; i < r; ++i) {
          for (int t = 0; t < k; ++t) row.x[t] = X[i + t * r];
          std::fill(row.p, row.p + width, T(0));
          std::fill(row.d, row.d + width, T(0));
          fn(i, index_t(A.ptr[i]), index_t(A.ptr[i + 1]), row);
          if (sums == Sums::None) continue;
          for (int t = 0; t < k; ++t) P[i + t * r] = row.p[t];
          if (D)
            for (int t = 0; t < k; ++t) D[i + t * r] = row.d[t];
        }
      }
    });
  }

  // Side H from V's rows instead of Vᵀ's: chunk c of V's rows adds, for each stored
  // entry (i, j), entry(row, v, Ht row j, P row j) into its own n×width accumulator P
  // (row.x is W's row i); the accumulators are then added in chunk order into P_H.
  // W's rows are read in order and only Ht and the accumulators are touched at random,
  // where gathering W's rows through Vᵀ waits on the cache once W outgrows it. A fixed
  // number of chunks keeps the sums independent of the thread count.
  template <class Entry>
  void scatter_h(Entry entry, const Operands& o) {
    dispatch_width(o.k, [&](auto fast_width) {
      constexpr int K = decltype(fast_width)::value;
      const int k = o.k, width = K > 0 ? K : k;
      const index_t m = this->rows(), n = this->cols();
      const T* Ht_rows = partner_rows(Side::W, o.X, k, width);
      const T* W = o.Y;
      const std::size_t block = size(n, width);
      accumulators_.assign(kScatterChunks * block, T(0));
#pragma omp parallel for schedule(dynamic, 1)
      for (int c = 0; c < kScatterChunks; ++c) {
        std::vector<T> w(width, T(0));
        const Row<K> row{k, V_.col_idx, V_.values, Ht_rows, w.data(), nullptr, nullptr, nullptr};
        T* P = accumulators_.data() + c * block;
        for (index_t i = m * c / kScatterChunks; i < m * (c + 1) / kScatterChunks; ++i) {
          for (int t = 0; t < k; ++t) w[t] = W[i + t * m];
          for (index_t e = V_.row_ptr[i]; e < V_.row_ptr[i + 1]; ++e) {
            const index_t j = V_.col_idx[e];
            entry(row, V_.values[e], row.partner(e), P + j * width);
          }
        }
      }
      T* PH = o.P;
#pragma omp parallel for schedule(static)
      for (index_t j = 0; j < n; ++j)
        for (int t = 0; t < k; ++t) {
          T sum = 0;
          for (int c = 0; c < kScatterChunks; ++c) sum += accumulators_[c * block + j * width + t];
          PH[j + t * n] = sum;
        }
    });
  }

  // Whether side H goes by V's rows (scatter_h) and Vᵀ is never built: where absent
  // entries are zeros (unknown ones need Vᵀ's rows for HALS's own Grams), the threads
  // fit the chunks, and the accumulators take no more memory than Vᵀ would.
  static bool scatter_pays(const CsrView<T, I>& V, int k) {
    const int width =
        dispatch_width(k, [k](auto w) { return decltype(w)::value > 0 ? int(decltype(w)::value) : k; });
    const double accumulators = double(kScatterChunks) * double(V.cols) * width * sizeof(T);
    return V.absent == Absent::Zero && omp_get_max_threads() <= kScatterChunks &&
           accumulators <= double(V.nnz()) * (sizeof(T) + sizeof(I));
  }

  // Σ f(v, wh) over the stored entries of V, in double.
  template <class F>
  double sum_stored(F f) {
    return dispatch_width(k(), [&](auto fast_width) {
      constexpr int K = decltype(fast_width)::value;
      const int k = this->k(), width = K > 0 ? K : k;
      const T* Y = partner_rows(Side::W, factor(Side::H).data(), k, width);
      const T* X = factor(Side::W).data();
      const index_t m = this->rows();
      return fixed_sum(m, [&](index_t begin, index_t end) {
        std::vector<T> x(width, T(0));
        const Row<K> row{k, V_.col_idx, V_.values, Y, x.data(), nullptr, nullptr, nullptr};
        double sum = 0;
        for (index_t i = begin; i < end; ++i) {
          for (int t = 0; t < k; ++t) x[t] = X[i + t * m];
          for (index_t e = V_.row_ptr[i]; e < V_.row_ptr[i + 1]; ++e)
            sum += f(V_.values[e], row.dot(x.data(), row.partner(e)));
        }
        return sum;
      });
    });
  }

  template <class F>
  double sum_values(F f) const {
    return fixed_sum(nnz_, [&](index_t begin, index_t end) {
      double sum = 0;
      for (index_t e = begin; e < end; ++e) sum += f(V_.values[e]);
      return sum;
    });
  }

  // Calls fn(j0, nb, WH) for blocks of X_s·Y[j0:j0+nb]ᵀ (rows of s × nb, column-major,
  // scratch fn may overwrite), Y the partner of s.
  template <class Fn>
  void for_each_dense_block(Side s, Fn fn) {
    const Side p = partner(s);
    const index_t rows = this->factor_rows(s), cols = this->factor_rows(p);
    const index_t block = std::clamp<index_t>(kDenseBlockEntries / rows, 1, cols);
    dense_block_.resize(size(rows, block));
    for (index_t j0 = 0; j0 < cols; j0 += block) {
      const index_t nb = std::min(block, cols - j0);
      gemm(core::plan_gemm(core::column_major(rows, k()), false, factor_block(p, nb), true, rows),
           T(1), factor(s).data(), factor(p).data() + j0, T(0), dense_block_.data());
      fn(j0, nb, dense_block_.data());
    }
  }

  CsrView<T, I> V_;
  index_t nnz_;
  bool zeros_absent_;
  bool scatter_;         // side H by V's rows (scatter_h), or by Vᵀ's
  CsrMatrix<T, I> Vt_;   // built only where side H goes by its rows
  std::vector<T> accumulators_;  // scatter_h's, kScatterChunks × n × width
  std::vector<T> partner_rows_, dense_block_;  // scratch
};

}  // namespace

template <class T, class I>
std::unique_ptr<core::Backend<T>> make_sparse_backend(CsrView<T, I> V, int rank, int batch) {
  warn_once_if_slower();
  return std::make_unique<CpuSparseBackend<T, I>>(V, rank, batch);
}

template std::unique_ptr<core::Backend<float>> make_sparse_backend(CsrView<float, std::int32_t>,
                                                                   int, int);
template std::unique_ptr<core::Backend<float>> make_sparse_backend(CsrView<float, std::int64_t>,
                                                                   int, int);
template std::unique_ptr<core::Backend<double>> make_sparse_backend(
    CsrView<double, std::int32_t>, int, int);
template std::unique_ptr<core::Backend<double>> make_sparse_backend(
    CsrView<double, std::int64_t>, int, int);

}  // namespace nmfuse::cpu
