#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "nmfuse/options.hpp"
#include "nmfuse/result.hpp"
#include "nmfuse/sparse.hpp"
#include "nmfuse/view.hpp"

namespace nmfuse {

// Which entries of V are observed: same shape as V, any layout; a non-zero byte marks an
// observed entry. Unobserved entries neither pull the fit nor count in the loss.
using MaskView = DenseView<const std::uint8_t>;

namespace detail {
template <class T>
Result<T> factorize(DenseView<const T> V, const Options& opt, const DenseView<const T>* W0,
                    const DenseView<const T>* H0, const MaskView* observed);
template <class T>
Matrix<T> solve_H(DenseView<const T> V, const Matrix<T>& W, const Options& opt,
                  const MaskView* observed);
template <class T, class I>
Result<T> factorize(CsrView<T, I> V, const Options& opt, const DenseView<const T>* W0,
                    const DenseView<const T>* H0);
template <class T, class I>
Matrix<T> solve_H(CsrView<T, I> V, const Matrix<T>& W, const Options& opt);
template <class T>
std::vector<Result<T>> factorize_many(DenseView<const T> V, const Options& opt, int restarts,
                                      const MaskView* observed,
                                      const std::vector<DenseView<const T>>* W0,
                                      const std::vector<DenseView<const T>>* H0);
template <class T, class I>
std::vector<Result<T>> factorize_many(CsrView<T, I> V, const Options& opt, int restarts);

// What online fitting carries from one batch to the next (core/online.cpp).
template <class T>
struct OnlineState {
  Matrix<T> W;  // m×k; empty before the first batch
  // HALS: A = Σ V_b·H_bᵀ (m×k), B = Σ H_b·H_bᵀ (k×k); MU: the numerator and denominator
  // of W's update (m×k each). Each sum discounted by the forget factor, step by step.
  std::vector<double> A, B;
  double columns = 0;  // the columns the sums hold, discounted alike
  OnlineInfo info;
};
template <class T>
void partial_fit(OnlineState<T>& state, DenseView<const T> V, const MaskView* observed,
                 const Options& opt, double rho);
template <class T, class I>
void partial_fit(OnlineState<T>& state, CsrView<T, I> V, const Options& opt, double rho);
template <class T>
void fit_online(OnlineState<T>& state, DenseView<const T> V, const MaskView* observed,
                const Options& opt);
template <class T, class I>
void fit_online(OnlineState<T>& state, CsrView<T, I> V, const Options& opt);
}  // namespace detail

// Factor V (m×n, non-negative, finite) into W (m×k) and H (k×n). float and double;
// V must stay alive during the call and is never modified.
template <class T>
Result<std::remove_const_t<T>> factorize(DenseView<T> V, const Options& opt) {
  using U = std::remove_const_t<T>;
  return detail::factorize<U>(DenseView<const U>(V), opt, nullptr, nullptr, nullptr);
}

// The same with missing values: only the entries `observed` marks are fitted (MU, any
// β, or HALS, whose products and Grams then go row by row).
template <class T>
Result<std::remove_const_t<T>> factorize(DenseView<T> V, const Options& opt,
                                         MaskView observed) {
  using U = std::remove_const_t<T>;
  return detail::factorize<U>(DenseView<const U>(V), opt, nullptr, nullptr, &observed);
}

// The same, starting from W0 (m×k) and H0 (k×n): opt.init must be Init::Custom.
template <class T>
Result<std::remove_const_t<T>> factorize(DenseView<T> V, const Options& opt,
                                         DenseView<const std::remove_const_t<T>> W0,
                                         DenseView<const std::remove_const_t<T>> H0) {
  using U = std::remove_const_t<T>;
  return detail::factorize<U>(DenseView<const U>(V), opt, &W0, &H0, nullptr);
}

// From W0 and H0, with missing values.
template <class T>
Result<std::remove_const_t<T>> factorize(DenseView<T> V, const Options& opt,
                                         DenseView<const std::remove_const_t<T>> W0,
                                         DenseView<const std::remove_const_t<T>> H0,
                                         MaskView observed) {
  using U = std::remove_const_t<T>;
  return detail::factorize<U>(DenseView<const U>(V), opt, &W0, &H0, &observed);
}

// Sparse V, never densified. V.absent says what the entries it does not store are:
// Absent::Zero (zeros, fitted) or Absent::Unknown (missing values, as with a mask).
template <class T, class I>
Result<T> factorize(CsrView<T, I> V, const Options& opt) {
  return detail::factorize<T, I>(V, opt, nullptr, nullptr);
}

// Sparse V from W0 (m×k) and H0 (k×n): opt.init must be Init::Custom.
template <class T, class I>
Result<T> factorize(CsrView<T, I> V, const Options& opt,
                    DenseView<const std::remove_const_t<T>> W0,  // not deduced: any view converts
                    DenseView<const std::remove_const_t<T>> H0) {
  return detail::factorize<T, I>(V, opt, &W0, &H0);
}

// The options of restart r of a run (r = 0, 1, …): seed + r, and a random start where
// opt.init is Auto (NNDSVDa would start every restart at nearly the same place).
Options restart_options(const Options& opt, int restart);

// Several restarts of one factorization at once (DESIGN.md §6): restart r runs as
// factorize(V, restart_options(opt, r)) would, step for step (to rounding: its big
// products are one product with all the running restarts'), and stops on its own rule.
// V is read once per half-step for all of them. Restarts that do not fit in memory
// together (or past opt.restarts_at_once) run in groups. An interrupt stops every
// restart of the running group; later groups do not run. No checkpoints.
template <class T>
std::vector<Result<std::remove_const_t<T>>> factorize_many(DenseView<T> V, const Options& opt,
                                                           int restarts) {
  using U = std::remove_const_t<T>;
  return detail::factorize_many<U>(DenseView<const U>(V), opt, restarts, nullptr, nullptr,
                                   nullptr);
}

// The same with missing values: only the entries `observed` marks are fitted.
template <class T>
std::vector<Result<std::remove_const_t<T>>> factorize_many(DenseView<T> V, const Options& opt,
                                                           int restarts, MaskView observed) {
  using U = std::remove_const_t<T>;
  return detail::factorize_many<U>(DenseView<const U>(V), opt, restarts, &observed, nullptr,
                                   nullptr);
}

// From given starts: restart r from W0[r] (m×k) and H0[r] (k×n); opt.init must be
// Init::Custom.
template <class T>
std::vector<Result<std::remove_const_t<T>>> factorize_many(
    DenseView<T> V, const Options& opt,
    const std::vector<DenseView<const std::remove_const_t<T>>>& W0,
    const std::vector<DenseView<const std::remove_const_t<T>>>& H0) {
  using U = std::remove_const_t<T>;
  return detail::factorize_many<U>(DenseView<const U>(V), opt, int(W0.size()), nullptr, &W0,
                                   &H0);
}

// Sparse V (V.absent as for factorize()).
template <class T, class I>
std::vector<Result<T>> factorize_many(CsrView<T, I> V, const Options& opt, int restarts) {
  return detail::factorize_many<T, I>(V, opt, restarts);
}

// scikit-learn's shape: fit once, then project new columns onto the learned W.
template <class T>
class Model {
 public:
  explicit Model(Options opt) : opt_(std::move(opt)) { opt_.validate(); }

  const Result<T>& fit(DenseView<const T> V) {
    online_ = {};
    fit_ = detail::factorize<T>(V, opt_, nullptr, nullptr, nullptr);
    return *fit_;
  }
  const Result<T>& fit(DenseView<const T> V, MaskView observed) {
    online_ = {};
    fit_ = detail::factorize<T>(V, opt_, nullptr, nullptr, &observed);
    return *fit_;
  }

  template <class I>
  const Result<T>& fit(CsrView<T, I> V) {
    online_ = {};
    fit_ = detail::factorize<T, I>(V, opt_, nullptr, nullptr);
    return *fit_;
  }

  // Online NMF (README, "Online fitting"): one step on a batch of new columns V (m×b).
  // The first batch starts W (opt.init), unless fit() has given the model one; each
  // batch then solves its H with W fixed, adds what it teaches W to the statistics the
  // earlier batches left (discounted by opt.forget_factor) and moves W on them.
  const OnlineInfo& partial_fit(DenseView<const T> V) {
    online_step(V, nullptr);
    return online_.info;
  }
  // A batch with missing values: only its observed entries teach W (solver mu).
  const OnlineInfo& partial_fit(DenseView<const T> V, MaskView observed) {
    online_step(V, &observed);
    return online_.info;
  }
  template <class I>
  const OnlineInfo& partial_fit(CsrView<T, I> V) {
    online_step(V);
    return online_.info;
  }

  // Online fitting from a W of the caller's (m×k: one learnt earlier, say): the next
  // partial_fit goes on from it, with no statistics yet.
  void start_from(DenseView<const T> W) {
    fit_.reset();
    online_ = {};
    online_.W = Matrix<T>(W.rows, W.cols, Layout::ColMajor);  // the layout online steps use
    for (index_t t = 0; t < W.cols; ++t)
      for (index_t i = 0; i < W.rows; ++i) online_.W(i, t) = W(i, t);
  }

  // A fresh online fit: passes over V's columns in batches of opt.batch_size, until
  // the stopping rules of opt (max_passes, tol, max_no_improvement). Afterwards
  // transform() gives H. Meanwhile W, its sums and one batch are held (for CSR V, a
  // copy of the batch's columns).
  const OnlineInfo& fit_online(DenseView<const T> V) {
    online_ = {};
    detail::fit_online<T>(online_, V, nullptr, opt_);
    return online_.info;
  }
  const OnlineInfo& fit_online(DenseView<const T> V, MaskView observed) {
    online_ = {};
    detail::fit_online<T>(online_, V, &observed, opt_);
    return online_.info;
  }
  template <class I>
  const OnlineInfo& fit_online(CsrView<T, I> V) {
    online_ = {};
    detail::fit_online<T, I>(online_, V, opt_);
    return online_.info;
  }

  // H (k×n', row-major) for new columns V (m×n'), with W fixed.
  Matrix<T> transform(DenseView<const T> V) const {
    return detail::solve_H<T>(V, W(), opt_, nullptr);
  }
  // H for new columns with missing values: fitted to their observed entries.
  Matrix<T> transform(DenseView<const T> V, MaskView observed) const {
    return detail::solve_H<T>(V, W(), opt_, &observed);
  }
  template <class I>
  Matrix<T> transform(CsrView<T, I> V) const {
    return detail::solve_H<T, I>(V, W(), opt_);
  }

  // W·H (m×n', row-major).
  Matrix<T> inverse_transform(DenseView<const T> H) const;

  const Matrix<T>& W() const;
  const Options& options() const { return opt_; }

 private:
  template <class... Batch>  // V, and a dense V's mask (or null)
  void online_step(const Batch&... batch) {
    if (fit_ && online_.info.steps == 0) online_.W = fit_->W;  // go on from fit()'s W
    detail::partial_fit(online_, batch..., opt_, -1);
  }

  Options opt_;
  std::optional<Result<T>> fit_;   // fit()'s
  detail::OnlineState<T> online_;  // partial_fit() and fit_online()'s; its W, once it has
                                   // one, is the model's
};

// What this copy of nmfuse was built with and can use now.
struct BuildInfo {
  std::string version;
  bool cuda_compiled = false;
  int usable_gpus = 0;
  std::string gpu_status;  // why there is or is not a usable GPU
  std::string blas;          // the BLAS linked, as it names itself
  std::string blas_kernels;  // OpenBLAS: the core whose kernels run on this CPU
  std::string blas_kernels_selected;  // how nmfuse chose them, where OpenBLAS did not know the CPU
  std::string blas_slower;  // why faster kernels for this CPU cannot be had; empty if none
  bool blas_is_reference = false;  // the slow Netlib reference BLAS
  std::string dense_products;  // how the CPU makes the dense products: streamed or by the BLAS
};
BuildInfo build_info();

// Threads for the CPU backend (OpenMP and BLAS). Process-wide, like the libraries'
// own setting; 0 leaves their defaults.
void set_cpu_threads(int threads);

}  // namespace nmfuse
