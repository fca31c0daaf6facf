#pragma once
// The operation set the solver loop is written against (DESIGN.md §2). A backend owns
// the data V and the working buffers of the one loop:
//   W (m×k) and Ht = Hᵀ (n×k), column-major;  P_W (m×k), P_H (n×k): the big products;
//   G_W = WᵀW, G_H = HtᵀHt (k×k);  c_W, c_H: column sums (k).
// Side names the factor a half-step updates; "the partner" is the other one.
//
// Restarts side by side (DESIGN.md §6): a backend made for a batch of B restarts holds
// B blocks of factors, block b of W being columns b·k … b·k + k − 1 of one m×(B·k)
// buffer (the same for Ht and the products), so that the partner's blocks are one
// matrix for the big product. Operations act on the selected block; those that take
// `blocks` act on that many blocks from the selected one at once.
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>

#include "core/process_sum.hpp"
#include "nmfuse/view.hpp"
#include "row_update.hpp"

namespace nmfuse::core {

enum class Side { W, H };

inline Side partner(Side s) { return s == Side::W ? Side::H : Side::W; }

template <class T>
class Backend {
 public:
  virtual ~Backend() = default;

  index_t rows() const { return m_; }  // m
  index_t cols() const { return n_; }  // n
  int rank() const { return k_; }      // k, of each block
  int batch() const { return batch_; }  // B, the blocks
  int selected() const { return selected_; }
  void select(int block) { selected_ = block; }
  // Rows of a factor: m for W, n for Ht.
  index_t factor_rows(Side s) const { return s == Side::W ? m_ : n_; }
  // The number its factors' first row has in the whole factor: 0, but for a block of a
  // distributed run. A dead HALS component restarts from values drawn by row number.
  index_t first_row(Side s) const { return s == Side::W ? first_row_W_ : first_row_H_; }
  void number_rows_from(index_t first_W, index_t first_H) {
    first_row_W_ = first_W;
    first_row_H_ = first_H;
  }

  // The entries of V a big product reads: all of them dense, the stored ones sparse.
  virtual double product_entries() const { return double(m_) * double(n_); }
  // The relative rounding of the big products: T's, or TF32's on a GPU allowed it.
  virtual double product_epsilon() const { return std::numeric_limits<T>::epsilon(); }

  // How V is held, where the run should say so (a V streamed to the GPU in blocks);
  // empty otherwise. Entry points add it to RunInfo::device_reason.
  virtual std::string data_placement() const { return {}; }

  // Statistics of V, in double; each pass over V is made once (V does not change),
  // not once per restart.
  double data_sum() {
    if (!data_sum_) data_sum_ = sum_of_data();
    return *data_sum_;
  }
  double data_squared_norm() {
    if (!data_squared_norm_) data_squared_norm_ = sum_of_squared_data();
    return *data_squared_norm_;
  }
  // The same, made by the caller's own pass over V (the input check's).
  void know_data_sums(double sum, double squared_norm) {
    data_sum_ = sum;
    data_squared_norm_ = squared_norm;
  }

  // For initialization only: out = V·X (s = W; X is n×cols, out m×cols) or Vᵀ·X
  // (s = H; X is m×cols, out n×cols), host column-major buffers.
  virtual void multiply_host(Side s, const T* X, int cols, T* out) = 0;

  // Factors to and from host column-major buffers (W: m×k, Ht: n×k).
  virtual void set_factor(Side s, const T* host) = 0;
  virtual void get_factor(Side s, T* host) = 0;

  // The selected block's big product P_s, or β's denominator product D_s, to a host
  // column-major buffer: online fitting sums them over batches.
  virtual void get_product(Side s, T* host) = 0;
  virtual void get_denominator(Side s, T* host) = 0;

  // A distributed run completes a process's partial pieces across processes: the
  // selected block's piece of side s ← its sum over `processes`, in place.
  virtual void sum_across(Side s, Piece piece, ProcessSum& processes) = 0;

  // P_s = V·Ht (s = W) or Vᵀ·W (s = H), for `blocks` blocks in one product.
  virtual void product(Side s, int blocks) = 0;
  // G_s = XᵀX for the factor X of side s, in each of `blocks` blocks.
  virtual void gram(Side s, int blocks) = 0;
  // X_s ← Lee–Seung Frobenius update from P_s and G_partner, in each of `blocks` blocks.
  virtual void update_mu_frobenius(Side s, kernels::Penalty<T> pen, int blocks) = 0;
  // X_s ← accelerated HALS from P_s and G_partner, up to max_sweeps sweeps a row, in
  // each of `blocks` blocks.
  virtual void update_hals(Side s, kernels::Penalty<T> pen, int max_sweeps, T inner_tol,
                           int blocks) = 0;
  // Blocks a and b trade their factors, Grams and remembered iterates (the products are
  // remade each half-step): a restart that has stopped leaves the running blocks
  // contiguous.
  virtual void swap_blocks(int a, int b) = 0;

  // X_s ← max(0, X_s + β·(X_s − X_s as this call last saw it)), and remember X_s as it
  // was before: extrapolation of the HALS iterates. β = 0 only remembers X_s.
  virtual void extrapolate(Side s, T beta) = 0;
  // The iterate extrapolate() remembers, to and from a host buffer (checkpoints).
  virtual void set_previous(Side s, const T* host) = 0;
  virtual void get_previous(Side s, T* host) = 0;

  // Frobenius HALS with a mask: each row of X_s has its own Gram and product, over the
  // partner rows its observed entries link it to (on the GPU for k ≤ 64).
  virtual void update_hals_masked(Side s, kernels::Penalty<T> pen, int max_sweeps,
                                  T inner_tol) = 0;

  // Kullback–Leibler: P_s = R·Ht (s = W) or Rᵀ·W (s = H) with R = V ⊘ (W·Htᵀ),
  // computed in column blocks of bounded size; c_s = column sums of X_s.
  virtual void kl_product(Side s) = 0;
  virtual void column_sums(Side s) = 0;
  // X_s ← Lee–Seung KL update from P_s and c_partner.
  virtual void update_mu_kl(Side s, kernels::Penalty<T> pen) = 0;

  // Missing values: the observed entries of V, one byte each, packed in V's storage
  // order (core/column_view.hpp's A). From then on the β products and every pointwise
  // sum take the observed entries only.
  virtual void set_mask(const std::uint8_t* observed) = 0;

  // Any other β (and every β with a mask): P_s = (V ⊙ (W·Htᵀ)^(β−2))·partner and D_s = (W·Htᵀ)^(β−1)·partner
  // (partner: Ht for s = W, W for s = H), in column blocks as for KL.
  virtual void beta_products(Side s, T beta) = 0;
  // X_s ← multiplicative update for β from P_s and D_s, with exponent γ.
  virtual void update_mu_beta(Side s, kernels::Penalty<T> pen, T gamma) = 0;
  // Σ d_β(V | W·Htᵀ) over every (observed) entry.
  virtual double beta_divergence_sum(T beta) = 0;

  // Σ (V − W·Htᵀ)², entry by entry in column blocks: exact where the expansion below
  // has cancelled away.
  virtual double squared_residual_sum() = 0;

  // Loss pieces: Σ X_s ⊙ P_s, Σ G_W ⊙ G_H, Σ c_W ⊙ c_H, Σ kl_pointwise(V, W·Htᵀ).
  virtual double dot_factor_product(Side s) = 0;
  virtual double dot_grams() = 0;
  virtual double dot_column_sums() = 0;
  virtual double kl_pointwise_sum() = 0;

 protected:
  Backend(index_t m, index_t n, int k, int batch) : m_(m), n_(n), k_(k), batch_(batch) {}

  virtual double sum_of_data() = 0;          // Σ V
  virtual double sum_of_squared_data() = 0;  // Σ V²

 private:
  index_t m_, n_;
  int k_, batch_;
  int selected_ = 0;
  index_t first_row_W_ = 0, first_row_H_ = 0;
  std::optional<double> data_sum_, data_squared_norm_;
};

}  // namespace nmfuse::core
