// The CPU backend for dense V: the big products streamed over V (streamed_products.hpp)
// up to rank 64 with AVX-512 and by BLAS otherwise, every other pass over V in column blocks of its
// storage order (core/column_view.hpp). The factor side is CpuFactors. Out of core
// (a V larger than memory, memory-mapped), every pass goes block by block: the system
// reads the next block ahead and drops each block's pages once it has been read.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>


#include "core/column_view.hpp"
#include "core/pages.hpp"
#include "cpu/blas_library.hpp"
#include "cpu_backends.hpp"
#include "cpu_factors.hpp"
#include "streamed_products.hpp"

namespace nmfuse::cpu {
namespace {

using core::partner;

// Working memory of one ratio block (a column block of A).
constexpr index_t kRatioBlockEntries = index_t(1) << 24;

template <class T>
class CpuDenseBackend final : public CpuFactors<T> {
  using Base = CpuFactors<T>;
  using Base::big_product, Base::denominator_product, Base::factor, Base::factor_block,
      Base::k, Base::size;

 public:
  // block_bytes > 0: out of core, with blocks of A's columns of at most that many bytes.
  CpuDenseBackend(DenseView<const T> V, int k, int batch, std::int64_t block_bytes)
      : Base(V.rows, V.cols, k, batch), V_(V),
        A_(core::column_view(V.rows, V.cols, V.ld, V.layout)) {
    if (block_bytes > 0) {
      block_ = std::clamp<index_t>(index_t(block_bytes / (sizeof(T) * A_.ld)), 1, A_.cols);
      drop_ = core::file_backed(V.data);
    }
  }

  std::string data_placement() const override {
    if (block_ == 0) return {};
    return "V read block by block, " + std::to_string(block_) + " of its " +
           std::to_string(A_.cols) + (A_.left == Side::W ? " columns" : " rows") +
           (drop_ ? " at a time, each block's pages dropped once read (out_of_core = on)"
                  : " at a time (out_of_core = on; V is not a mapped file: its pages stay)");
  }

  double sum_of_data() override {
    return reduce_data([](T v) { return double(v); });
  }
  double sum_of_squared_data() override {
    return reduce_data([](T v) { return double(v) * double(v); });
  }

  void multiply_host(Side s, const T* X, int width, T* out) override { multiply(s, X, width, out); }

  void product(Side s, int blocks) override {
    multiply(s, factor(partner(s), blocks).data(), k() * blocks, big_product(s, blocks).data());
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
      const index_t rows = A_.rows;
#pragma omp parallel for schedule(static)
      for (index_t j = 0; j < nb; ++j)
        for (index_t i = 0; i < rows; ++i)
          R[i + j * rows] = kernels::kl_ratio(A(i, j0 + j), R[i + j * rows]);
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

  double beta_divergence_sum(T beta) override {
    return sum_pointwise([beta](T v, T wh) { return kernels::beta_divergence(v, wh, beta); });
  }

  double squared_residual_sum() override {
    return sum_pointwise([](T v, T wh) { return (double(v) - wh) * (double(v) - wh); });
  }

  double kl_pointwise_sum() override {
    return sum_pointwise([](T v, T wh) { return kernels::kl_pointwise(v, wh); });
  }

 private:
  // Σ f(v, wh) over every (observed) entry of A and of L·Rᵀ, in double.
  template <class F>
  double sum_pointwise(F f) {
    double total = 0;
    for_each_wh_block([&](index_t j0, index_t nb, T* WH) {
      const index_t rows = A_.rows;
      total += fixed_sum(nb, [&](index_t begin, index_t end) {
        double sum = 0;
        for (index_t j = begin; j < end; ++j)
          for (index_t i = 0; i < rows; ++i)
            if (observed(i, j0 + j)) sum += f(A(i, j0 + j), WH[i + j * rows]);
        return sum;
      });
    });
    return total;
  }

  bool observed(index_t i, index_t j) const {
    return mask_.empty() || mask_[std::size_t(i + j * A_.rows)] != 0;
  }

  // The part of a product with a block function R_A[:, j0:j0+nb] of A (core/column_view):
  // side L: out += R_A[:, blk] · R_factor[blk, :];  side R: out[blk, :] = R_A[:, blk]ᵀ · L.
  // R is packed (A.rows×nb).
  void block_product(Side s, index_t j0, index_t nb, const T* R, T* out) {
    block_gemm(s, j0, nb, R, A_.rows, factor(partner(s)).data(), k(), out);
  }
  // The same with any Y (`width` columns, column-major) and R of leading dimension ld.
  void block_gemm(Side s, index_t j0, index_t nb, const T* R, index_t ld, const T* Y, int width,
                  T* out) {
    const core::StoredMatrix r{A_.rows, nb, ld, Layout::ColMajor};
    if (s == A_.left)
      gemm(core::plan_gemm(r, false, core::StoredMatrix{nb, width, A_.cols, Layout::ColMajor},
                           false, A_.rows),
           T(1), R, Y + j0, T(j0 == 0 ? 0 : 1), out);
    else
      gemm(core::plan_gemm(r, true, core::column_major(A_.rows, width), false, A_.cols), T(1), R,
           Y, T(0), out + j0);
  }

  T A(index_t i, index_t j) const { return V_.data[j * A_.ld + i]; }

  // out = V·Y (s = W; Y n×width, out m×width) or Vᵀ·Y (s = H): streamed over V where
  // that pays (StreamedProducts::pays: AVX-512, width ≤ 64), else by BLAS; out of core, block by block of A's columns, a block's part
  // added to the others' (side L) or put in its rows (side R), as on the GPU.
  void multiply(Side s, const T* Y, int width, T* out) {
    const bool streamed = StreamedProducts<T>::pays(width);
    if (block_ == 0) {
      if (streamed) return stream(s, Y, width, out);
      const bool w = s == Side::W;
      gemm(core::plan_gemm(core::stored(V_), !w,
                           core::column_major(w ? this->cols() : this->rows(), width), false,
                           w ? this->rows() : this->cols()),
           T(1), V_.data, Y, T(0), out);
      return;
    }
    const bool left = s == A_.left;  // out has A's rows (and sums over the blocks)
    each_data_block([&](index_t j0, index_t nb, const T* block) {
      if (!streamed) return block_gemm(s, j0, nb, block, A_.ld, Y, width, out);
      // The block is nb stored rows of A_.rows entries (row stride ld), row-major.
      if (left) {
        block_y_.resize(size(nb, width));
        for (int t = 0; t < width; ++t)
          std::copy(Y + j0 + t * A_.cols, Y + j0 + nb + t * A_.cols, block_y_.begin() + t * nb);
        block_out_.resize(size(A_.rows, width));
        streamed_.multiply(block, nb, A_.rows, A_.ld, false, block_y_.data(), width,
                           block_out_.data());
        for (std::size_t e = 0; e < block_out_.size(); ++e)
          out[e] = j0 == 0 ? block_out_[e] : out[e] + block_out_[e];
      } else {
        block_out_.resize(size(nb, width));
        streamed_.multiply(block, nb, A_.rows, A_.ld, true, Y, width, block_out_.data());
        for (int t = 0; t < width; ++t)
          std::copy(block_out_.begin() + t * nb, block_out_.begin() + (t + 1) * nb,
                    out + j0 + t * A_.cols);
      }
    });
  }

  // Out of core: fn(j0, nb, block) for A's column blocks in order, block pointing into V.
  // The system reads the next block ahead and drops each block's pages after fn.
  template <class Fn>
  void each_data_block(Fn fn) {
    for (index_t j0 = 0; j0 < A_.cols; j0 += block_) {
      const index_t nb = std::min(block_, A_.cols - j0);
      if (j0 + nb < A_.cols) read_ahead(j0 + nb, std::min(block_, A_.cols - j0 - nb));
      fn(j0, nb, V_.data + j0 * A_.ld);
      drop(j0, nb);
    }
  }
  // Advice (core/pages.hpp) for A's columns j0 … j0 + nb − 1: from the first one's first
  // entry to just past the last one's last.
  void read_ahead(index_t j0, index_t nb) const {
    core::read_ahead(V_.data + j0 * A_.ld, V_.data + (j0 + nb - 1) * A_.ld + A_.rows);
  }
  void drop(index_t j0, index_t nb) const {
    if (drop_) core::drop_pages(V_.data + j0 * A_.ld, V_.data + (j0 + nb - 1) * A_.ld + A_.rows);
  }

  // Calls fn(j0, nb, WH) for column blocks of L·Rᵀ ≈ A (A_.rows×nb, column-major,
  // scratch that fn may overwrite), bounding the extra memory to kRatioBlockEntries.
  template <class Fn>
  void for_each_wh_block(Fn fn) {
    const index_t rows = A_.rows, cols = A_.cols;
    const Side left = A_.left, right = partner(left);
    const index_t block = block_ ? block_ : std::clamp<index_t>(kRatioBlockEntries / rows, 1, cols);
    ratio_.resize(size(rows, block));
    for (index_t j0 = 0; j0 < cols; j0 += block) {
      const index_t nb = std::min(block, cols - j0);
      if (block_ && j0 + nb < cols) read_ahead(j0 + nb, std::min(block, cols - j0 - nb));
      gemm(core::plan_gemm(core::column_major(rows, k()), false, factor_block(right, nb), true,
                           rows),
           T(1), factor(left).data(), factor(right).data() + j0, T(0), ratio_.data());
      fn(j0, nb, ratio_.data());
      if (block_) drop(j0, nb);
    }
  }

  // Eight running sums, entry i going to sum i mod 8: one sum would wait on each add.
  // Out of core, block by block.
  template <class F>
  double reduce_data(F f) {
    if (block_ == 0) return reduce_columns(f, V_.data, A_.cols);
    double total = 0;
    each_data_block([&](index_t, index_t nb, const T* block) { total += reduce_columns(f, block, nb); });
    return total;
  }
  template <class F>
  double reduce_columns(F f, const T* first, index_t cols) const {
    return fixed_sum(cols, [&](index_t begin, index_t end) {
      constexpr int kSums = 8;
      double sums[kSums] = {};
      for (index_t j = begin; j < end; ++j) {
        const T* a = first + j * A_.ld;
        index_t i = 0;
        for (; i + kSums <= A_.rows; i += kSums)
          for (int l = 0; l < kSums; ++l) sums[l] += f(a[i + l]);
        for (; i < A_.rows; ++i) sums[i % kSums] += f(a[i]);
      }
      double sum = 0;
      for (double part : sums) sum += part;
      return sum;
    });
  }

  // out = V·Y (s = W) or Vᵀ·Y (s = H), Y of `width` ≤ 64 columns, streamed over V: a
  // row-major A, V itself or Vᵀ for column-major V.
  void stream(Side s, const T* Y, int width, T* out) {
    const bool row_major = V_.layout == Layout::RowMajor;
    streamed_.multiply(V_.data, row_major ? V_.rows : V_.cols, row_major ? V_.cols : V_.rows,
                       V_.ld, row_major == (s == Side::W), Y, width, out);
  }

  DenseView<const T> V_;
  core::ColumnView A_;  // V read column by column in storage order
  StreamedProducts<T> streamed_;  // scratch of the big products up to rank 64
  std::vector<std::uint8_t> mask_;  // observed entries in A's order; empty: all
  std::vector<T> ratio_, second_block_;  // scratch: ratio blocks
  index_t block_ = 0;  // out of core: A's columns a pass holds at once; 0: V in memory
  bool drop_ = false;  // out of core, V a mapped file: its blocks' pages are dropped
  std::vector<T> block_y_, block_out_;  // out of core: a block's part of a streamed product
};

}  // namespace

template <class T>
std::unique_ptr<core::Backend<T>> make_dense_backend(DenseView<const T> V, int rank, int batch,
                                                    std::int64_t block_bytes) {
  warn_once_if_slower();
  return std::make_unique<CpuDenseBackend<T>>(V, rank, batch, block_bytes);
}

template std::unique_ptr<core::Backend<float>> make_dense_backend(DenseView<const float>, int,
                                                                  int, std::int64_t);
template std::unique_ptr<core::Backend<double>> make_dense_backend(DenseView<const double>, int,
                                                                   int, std::int64_t);

std::string dense_products() {
  using Streamed = StreamedProducts<float>;
  if (Streamed::pays(Streamed::kMaxRank))
    return "streamed, one pass over V each, up to rank " + std::to_string(Streamed::kMaxRank) +
           " (AVX-512); by the BLAS above";
  return "by the BLAS (streamed only with AVX-512, where they were measured faster; this "
         "build's vectors are " + std::to_string(kVectorBytes * 8) + " bits)";
}

}  // namespace nmfuse::cpu
