#pragma once
// The backend a distributed run's solver loop is written against: the one loop does not
// change (DESIGN.md §6). Process (i, j) of the grid holds V_ij, W_i (the rows of W its
// grid row covers) and Ht_j (the rows of Ht its grid column covers), in a local backend
// (CPU, or one GPU) that computes every piece from them; this class completes the pieces
// across processes, in the local backend's memory (sum_across: MPI, or NCCL on GPUs):
//   - the big products over the process's grid row (P_W,i = Σ_j V_ij·Ht_j) or column;
//   - the Grams and column sums over the other direction (G_W = Σ_i W_iᵀW_i);
//   - the losses and V's statistics over every process, as one scalar each.
// Every process of grid row i then makes the same update of W_i from the same bits, so
// W_i needs no all-gather after it: the words moved per iteration are MPI-FAUN's for the
// products (a reduce-scatter and an all-gather of each), and fewer for the Grams.
#include <memory>
#include <string>
#include <vector>

#include "core/backend.hpp"
#include "grid_communicators.hpp"
#include "nmfuse/errors.hpp"

namespace nmfuse::distributed {

using core::Side;

template <class T>
class GridBackend final : public core::Backend<T> {
 public:
  GridBackend(Grid::Communicators& grid, std::unique_ptr<core::Backend<T>> local)
      : core::Backend<T>(grid.m, grid.n, local->rank(), 1), g_(grid), local_(std::move(local)),
        entries_(g_.world.sum(local_->product_entries())) {
    local_->number_rows_from(block_begin(Side::W), block_begin(Side::H));
  }

  double product_entries() const override { return entries_; }
  double product_epsilon() const override { return local_->product_epsilon(); }
  std::string data_placement() const override {
    return "V on a " + std::to_string(g_.shape.rows) + "×" + std::to_string(g_.shape.cols) +
           " grid of processes";
  }

  void multiply_host(Side s, const T* X, int cols, T* out) override {
    const Side p = core::partner(s);
    const std::vector<T> mine = rows_of(p, X, cols);
    std::vector<T> partial(std::size_t(local_->factor_rows(s)) * cols);
    local_->multiply_host(s, mine.data(), cols, partial.data());
    sharing(s).sum(partial.data(), partial.size());
    spanning(s).gather_rows(partial.data(), blocks_of(s), cols, out);
  }

  // Whole factors in and out: this process's rows of them, and every process's gathered.
  void set_factor(Side s, const T* host) override { put(s, host, &Local::set_factor); }
  void get_factor(Side s, T* host) override { gather(s, host, &Local::get_factor); }
  void set_previous(Side s, const T* host) override { put(s, host, &Local::set_previous); }
  void get_previous(Side s, T* host) override { gather(s, host, &Local::get_previous); }

  void product(Side s, int blocks) override {
    one_block(blocks);
    local_->product(s, 1);
    complete_product(s);
  }
  void gram(Side s, int blocks) override {
    one_block(blocks);
    local_->gram(s, 1);
    local_->sum_across(s, core::Piece::Gram, spanning(s));
  }
  void update_mu_frobenius(Side s, kernels::Penalty<T> pen, int blocks) override {
    one_block(blocks);
    local_->update_mu_frobenius(s, pen, 1);
  }
  void update_hals(Side s, kernels::Penalty<T> pen, int max_sweeps, T inner_tol,
                   int blocks) override {
    one_block(blocks);
    local_->update_hals(s, pen, max_sweeps, inner_tol, 1);
  }
  void extrapolate(Side s, T beta) override { local_->extrapolate(s, beta); }

  void kl_product(Side s) override {
    local_->kl_product(s);
    complete_product(s);
  }
  void column_sums(Side s) override {
    local_->column_sums(s);
    local_->sum_across(s, core::Piece::ColumnSums, spanning(s));
  }
  void update_mu_kl(Side s, kernels::Penalty<T> pen) override { local_->update_mu_kl(s, pen); }

  void beta_products(Side s, T beta) override {
    local_->beta_products(s, beta);
    complete_product(s);
    local_->sum_across(s, core::Piece::Denominator, sharing(s));
  }
  void update_mu_beta(Side s, kernels::Penalty<T> pen, T gamma) override {
    local_->update_mu_beta(s, pen, gamma);
  }

  double beta_divergence_sum(T beta) override {
    return g_.world.sum(local_->beta_divergence_sum(beta));
  }
  double squared_residual_sum() override { return g_.world.sum(local_->squared_residual_sum()); }
  double kl_pointwise_sum() override { return g_.world.sum(local_->kl_pointwise_sum()); }
  // Σ X_s ⊙ P_s: each block of X_s counted once, by the first process sharing it.
  double dot_factor_product(Side s) override {
    const double mine = local_->dot_factor_product(s);
    return g_.world.sum(sharing(s).rank() == 0 ? mine : 0.0);
  }
  // The Grams and column sums are whole on every process: the first process's value.
  double dot_grams() override { return first_process(local_->dot_grams()); }
  double dot_column_sums() override { return first_process(local_->dot_column_sums()); }

  // What a distributed run does not do yet; its entry points refuse these first.
  void swap_blocks(int, int) override { not_distributed("restarts side by side"); }
  void set_mask(const std::uint8_t*) override { not_distributed("a mask"); }
  void update_hals_masked(Side, kernels::Penalty<T>, int, T) override {
    not_distributed("a mask");
  }
  void get_product(Side, T*) override { not_distributed("online fitting"); }
  void get_denominator(Side, T*) override { not_distributed("online fitting"); }
  // The pieces a grid completes are its local backend's, never its own.
  void sum_across(Side, core::Piece, core::ProcessSum&) override {
    throw Error("internal: a grid's backend is not the local backend of another grid");
  }

 protected:
  double sum_of_data() override { return g_.world.sum(local_->data_sum()); }
  double sum_of_squared_data() override { return g_.world.sum(local_->data_squared_norm()); }

 private:
  // The processes holding the same block of side s's factor (W_i: the grid row), over
  // which its products are summed; and one process per block of it (the grid column),
  // over which its Grams and column sums are.
  Communicator& sharing(Side s) { return s == Side::W ? g_.row : g_.column; }
  Communicator& spanning(Side s) { return s == Side::W ? g_.column : g_.row; }
  const std::vector<index_t>& blocks_of(Side s) const {
    return s == Side::W ? g_.rows_of_block : g_.cols_of_block;
  }
  index_t block_begin(Side s) const {
    const BlockRange b = g_.block();
    return s == Side::W ? b.row_begin : b.col_begin;
  }
  std::size_t local_size(Side s) const {
    return std::size_t(local_->factor_rows(s)) * std::size_t(this->rank());
  }

  // This process's rows of a whole factor-shaped host buffer (rows of side s, cols wide).
  std::vector<T> rows_of(Side s, const T* whole, int cols) const {
    const index_t total = this->factor_rows(s), rows = local_->factor_rows(s);
    const T* first = whole + block_begin(s);
    std::vector<T> mine(std::size_t(rows) * cols);
    for (int t = 0; t < cols; ++t)
      std::copy(first + t * total, first + t * total + rows, mine.begin() + t * rows);
    return mine;
  }

  using Local = core::Backend<T>;
  void put(Side s, const T* whole, void (Local::*set)(Side, const T*)) {
    ((*local_).*set)(s, rows_of(s, whole, this->rank()).data());
  }
  void gather(Side s, T* whole, void (Local::*get)(Side, T*)) {
    std::vector<T> mine(local_size(s));
    ((*local_).*get)(s, mine.data());
    spanning(s).gather_rows(mine.data(), blocks_of(s), this->rank(), whole);
  }

  void complete_product(Side s) { local_->sum_across(s, core::Piece::Product, sharing(s)); }
  double first_process(double x) { return g_.world.sum(g_.world.rank() == 0 ? x : 0.0); }

  static void one_block(int blocks) {
    if (blocks != 1) not_distributed("restarts side by side");
  }
  [[noreturn]] static void not_distributed(const char* what) {
    throw Error(std::string("internal: a distributed run does not take ") + what + " yet");
  }

  Grid::Communicators& g_;
  std::unique_ptr<core::Backend<T>> local_;
  double entries_;
};

}  // namespace nmfuse::distributed
