// Online NMF (Model::partial_fit, Model::fit_online): W learns from batches of V's
// columns. This is scikit-learn's MiniBatchNMF turned to nmfuse's orientation: the
// columns are the samples, W is the dictionary and H_b holds a batch's coefficients.
//  - HALS (Frobenius) uses the surrogate of Mairal, Bach, Ponce & Sapiro 2010. It keeps
//    A = Σ V_b·H_bᵀ and B = Σ H_b·H_bᵀ, and W moves by HALS sweeps on them: the one
//    loop's row update, with A for the product and B for the Gram.
//  - MU (any β) follows Lefèvre, Bach & Févotte 2011, summed as scikit-learn sums it:
//    A = Σ W ⊙ numerator and B = Σ denominator of W's multiplicative update, then
//    W ← A ⊘ B.
// Every sum is discounted by ρ at each step. A batch gets its own backend (the GPU where
// one is chosen) for its H solve and for the products W's update reads. The sums and
// W's move cost O(m·k²) and run on the host.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "core/entry_points.hpp"

namespace nmfuse::detail {
namespace {

using core::Backend;
using core::Clock;
using core::DeviceChoice;
using core::Side;

// The options a batch's inner solve runs with: its progress is not the fit's.
Options inner_options(const Options& opt) {
  Options inner = opt;
  inner.on_progress = nullptr;
  inner.interrupt = nullptr;
  inner.on_checkpoint = nullptr;
  inner.checkpoint_every = 0;
  return inner;
}

template <class T>
void check_batch(const Options& opt, const OnlineState<T>& st, index_t rows, index_t cols) {
  opt.validate();
  if (opt.init == Init::Custom)
    throw InvalidArgument(
        "option init = custom: online fitting starts W from its first batch (Model::start_from "
        "goes on from a W of your own)");
  if (opt.resume) throw InvalidArgument("option resume: online fitting keeps no checkpoints");
  if (st.W.size() > 0 && st.W.cols() != opt.rank)
    throw InvalidArgument("the model's W has " + std::to_string(st.W.cols()) +
                          " columns, but option rank = " + std::to_string(opt.rank));
  if (st.W.size() > 0 && rows != st.W.rows())
    throw InvalidArgument("the batch has " + std::to_string(rows) +
                          " rows, but the model's W has " + std::to_string(st.W.rows()));
  if (st.W.size() == 0) core::check_rank(opt, rows, cols);
}

// HtᵀHt (k×k) of a batch's coefficients, in double.
template <class U>
std::vector<double> gram_of(const std::vector<U>& Ht, index_t nb, int k) {
  std::vector<double> G(std::size_t(k) * k, 0.0);
  for (int s = 0; s < k; ++s)
    for (int t = s; t < k; ++t) {
      double sum = 0;
      for (index_t j = 0; j < nb; ++j) sum += double(Ht[j + s * nb]) * double(Ht[j + t * nb]);
      G[s + t * k] = G[t + s * k] = sum;
    }
  return G;
}

template <class U>
std::string placement_of(const Backend<U>& b) {
  const std::string how = b.data_placement();
  return how.empty() ? how : "; " + how;
}

// Whether a step uses HALS's sums: with missing values (`masked`: a dense batch with a
// mask, or a sparse one whose absent entries are unknown) only MU's, which sum over each
// entry's own terms; HALS's B would be a Gram per row of W.
bool online_hals(const Options& opt, bool masked) {
  if (masked && opt.solver == Solver::HALS)
    throw InvalidArgument("option solver = hals: online fitting with missing values (absent "
                          "entries unknown) takes multiplicative updates (solver = mu)");
  return !masked && resolved_solver(opt) == Solver::HALS;
}

// One step on the batch that backend b holds (its values U: float on the GPU); `masked`:
// only its observed entries count.
template <class T, class U>
void learn_from_batch(OnlineState<T>& st, Backend<U>& b, const Options& opt, double rho,
                      bool masked) {
  const index_t m = b.rows(), nb = b.cols();
  const int k = b.rank();
  const std::size_t mk = std::size_t(m) * std::size_t(k);
  const double beta = beta_of(opt);
  const bool hals = online_hals(opt, masked);
  const std::size_t b_size = hals ? std::size_t(k) * k : mk;
  if (!st.A.empty() && st.B.size() != b_size)
    throw InvalidArgument(std::string("the model's sums were made by the other solver than ") +
                          (hals ? "hals" : "mu") + " (missing values take mu)");
  // The step works on copies and commits them at its end: a batch that fails (a bad
  // value met on the GPU, memory) changes nothing.
  std::vector<double> Wd(st.W.data(), st.W.data() + st.W.size());  // W in double as it moves
  if (Wd.empty()) {
    const core::Factors<U> f = core::initialize(b, resolved_init(opt, m, nb), opt.seed);
    Wd.assign(f.W.begin(), f.W.end());
  }
  std::vector<double> A = st.A, B = st.B;
  double columns = st.columns;
  if (A.empty()) {  // HALS's sums start empty; MU's at scikit-learn's A = W, B = 1
    A = hals ? std::vector<double>(mk, 0.0) : Wd;
    B.assign(b_size, hals ? 0.0 : 1.0);
    columns = 0;
  }
  double* w = Wd.data();

  // The batch's H with W fixed; its final loss is the batch's cost.
  const std::vector<U> W(Wd.begin(), Wd.end());
  const core::SolverOutcome solved = core::solve_H_on(b, W.data(), inner_options(opt), masked);
  const double cost = solved.loss_history.back() / double(nb);
  std::vector<U> Ht(std::size_t(nb) * k), P(mk);
  b.get_factor(Side::H, Ht.data());
  columns = rho * columns + double(nb);

  if (hals) {
    b.product(Side::W, 1);
    b.get_product(Side::W, P.data());
    const std::vector<double> G = gram_of(Ht, nb, k);
    for (std::size_t e = 0; e < mk; ++e) A[e] = rho * A[e] + double(P[e]);
    for (std::size_t e = 0; e < G.size(); ++e) B[e] = rho * B[e] + G[e];
    // The sums stand for `columns` columns: so do the penalties.
    const kernels::Penalty<double> pen = core::penalty_of(opt, Side::W, columns);
    const core::SolverSettings s = core::settings_for(opt, m, nb, b.product_entries());
#pragma omp parallel
    {
      std::vector<double> row(3 * std::size_t(k));  // x, p and the gradient's workspace
#pragma omp for schedule(static)
      for (index_t i = 0; i < m; ++i) {
        double* x = row.data();
        const double* p = x + k;
        double* g = x + 2 * k;
        for (int t = 0; t < k; ++t) {
          x[t] = w[i + t * m];
          x[k + t] = A[i + t * m];
        }
        kernels::hals_row<0>(x, p, g, B.data(), k, k, pen, s.inner_sweeps_W,
                             opt.hals_inner_tol, i);
        for (int t = 0; t < k; ++t) w[i + t * m] = x[t];
      }
    }
  } else {
    std::vector<double> D(mk);
    if (beta == 2 && !masked) {  // numerator V_b·Ht, denominator W·(HtᵀHt)
      b.product(Side::W, 1);
      b.get_product(Side::W, P.data());
      const std::vector<double> G = gram_of(Ht, nb, k);
      for (index_t i = 0; i < m; ++i)
        for (int t = 0; t < k; ++t) {
          double sum = 0;
          for (int s = 0; s < k; ++s) sum += w[i + s * m] * G[s + t * k];
          D[i + t * m] = sum;
        }
    } else if (beta == 1 && !masked) {  // numerator (V_b ⊘ W·Htᵀ)·Ht, denominator Ht's column sums
      b.kl_product(Side::W);
      b.get_product(Side::W, P.data());
      for (int t = 0; t < k; ++t) {
        double sum = 0;
        for (index_t j = 0; j < nb; ++j) sum += double(Ht[j + t * nb]);
        if (sum == 0) sum = 1;  // scikit-learn's guard
        for (index_t i = 0; i < m; ++i) D[i + t * m] = sum;
      }
    } else {  // any other β, and every β with missing values: both by the entries
      b.beta_products(Side::W, U(beta));
      b.get_product(Side::W, P.data());
      std::vector<U> Du(mk);
      b.get_denominator(Side::W, Du.data());
      std::copy(Du.begin(), Du.end(), D.begin());
    }
    // Févotte & Idier's exponent, as in the one loop.
    const double gamma = beta < 1 ? 1 / (2 - beta) : beta > 2 ? 1 / (beta - 1) : 1;
    const kernels::Penalty<double> pen = core::penalty_of(opt, Side::W, double(nb));
    for (std::size_t e = 0; e < mk; ++e) {
      double den = D[e] + pen.l1 + pen.l2 * w[e];
      if (den == 0) den = kernels::kDenominatorFloor;
      const double x = gamma == 1 ? w[e] : std::pow(w[e], 1 / gamma);
      A[e] = rho * A[e] + x * double(P[e]);
      B[e] = rho * B[e] + den;
      double next = A[e] / B[e];
      if (gamma != 1) next = std::pow(next, gamma);
      // scikit-learn's floor for β ≤ 1, where tiny entries make the powers unstable.
      if (beta <= 1 && next < std::numeric_limits<double>::epsilon()) next = 0;
      w[e] = next;
    }
  }
  if (st.W.size() == 0) st.W = Matrix<T>(m, k, Layout::ColMajor);
  std::copy(Wd.begin(), Wd.end(), st.W.data());
  st.A = std::move(A);
  st.B = std::move(B);
  st.columns = columns;
  st.info.batch_cost.push_back(cost);
  ++st.info.steps;
}

// The step on the backend make(value, device) builds for the batch, on the device the
// options choose (value: T, or float for double data on the GPU), and what the step
// reports of where it ran.
template <class T, class Data, class Make>
void step_on(OnlineState<T>& st, const Data& V, const Options& opt, double rho, bool masked,
             Make make) {
  const auto start = Clock::now();
  const DeviceChoice choice = core::choose_device_for(V, opt.device);
  if (rho < 0) rho = std::pow(opt.forget_factor, double(V.cols) / opt.batch_size);
  auto run = [&](auto backend) {
    learn_from_batch(st, *backend, opt, rho, masked);
    st.info.device_reason = choice.reason + placement_of(*backend);
  };
  if (choice.device == Device::Cuda && !std::is_same_v<T, float>) run(make(float(), choice.device));
  else run(make(T(), choice.device));
  st.info.device = choice.device;
  st.info.seconds = core::seconds_since(start);
}

// `observed`: the batch's mask of observed entries, or null where all are.
template <class T>
void dense_step(OnlineState<T>& st, DenseView<const T> V, const MaskView* observed,
                const Options& opt, double rho) {
  check_batch(opt, st, V.rows, V.cols);
  const core::DenseInput<T> in = core::checked_dense_input("the batch", V, opt, observed);
  const bool masked = in.mask.has_value();
  online_hals(opt, masked);  // refused before the backend is made
  std::optional<Matrix<float>> narrowed;  // the batch in float, for the GPU
  std::vector<std::uint8_t> narrowed_mask;  // its mask packed as narrowed is laid out
  step_on(st, in.V, opt, rho, masked, [&](auto value, Device device) {
    using U = decltype(value);
    std::unique_ptr<Backend<U>> b;
    if constexpr (std::is_same_v<U, T>) {
      b = core::make_backend<T>(device, in.V, opt.rank, opt, masked);
      if (masked) b->set_mask(in.mask->data());
    } else {
      narrowed = core::convert<float>(in.V);
      b = core::make_backend<float>(Device::Cuda, narrowed->view(), opt.rank, opt, masked);
      if (masked) {
        narrowed_mask = core::packed_mask(*observed, V.rows, V.cols, V.cols, Layout::RowMajor);
        b->set_mask(narrowed_mask.data());
      }
    }
    return b;
  });
}

template <class T, class I>
void sparse_step(OnlineState<T>& st, CsrView<T, I> V, const Options& opt, double rho) {
  check_batch(opt, st, V.rows, V.cols);
  core::check_csr("the batch", V, beta_of(opt));
  const bool unknown = V.absent == Absent::Unknown;
  online_hals(opt, unknown);  // refused before the backend is made
  std::vector<float> values;  // the batch's values in float, for the GPU
  step_on(st, V, opt, rho, unknown, [&](auto value, Device device) {
    using U = decltype(value);
    if constexpr (std::is_same_v<U, T>)
      return core::make_backend<T, I>(device, V, opt.rank, opt);
    else
      return core::make_backend<float, I>(Device::Cuda, core::float_values(V, values), opt.rank,
                                          opt);
  });
}

// Columns j0 … j1 − 1 of V as a CSR of their own: each row's part found by binary
// search (its columns are sorted), so that no copy of V is held beside one batch.
template <class T, class I>
CsrMatrix<T, I> columns_of(CsrView<T, I> V, index_t j0, index_t j1) {
  CsrMatrix<T, I> batch;
  batch.rows = V.rows;
  batch.cols = j1 - j0;
  batch.row_ptr.reserve(std::size_t(V.rows) + 1);
  for (index_t i = 0; i < V.rows; ++i) {
    const I* row_end = V.col_idx + V.row_ptr[i + 1];
    const I* first = std::lower_bound(V.col_idx + V.row_ptr[i], row_end, I(j0));
    const I* last = std::lower_bound(first, row_end, I(j1));
    for (const I* c = first; c != last; ++c) {
      batch.col_idx.push_back(I(*c - j0));
      batch.values.push_back(V.values[c - V.col_idx]);
    }
    batch.row_ptr.push_back(I(batch.col_idx.size()));
  }
  return batch;
}

// scikit-learn's stopping rules for a fit over a fixed V (MiniBatchNMF's
// _minibatch_convergence): the first step only starts; W's relative change at most
// tol; max_no_improvement steps without a new low of the running average of the
// batch cost, which weighs a batch by its share of V's columns.
class OnlineStop {
 public:
  OnlineStop(const Options& opt, index_t n) : opt_(opt), n_(double(n)) {}

  template <class T>
  bool after_step(OnlineInfo& info, const Matrix<T>& W_before, const Matrix<T>& W,
                  index_t batch_cols) {
    const double cost = info.batch_cost.back();
    if (info.steps == 1) {  // it only starts: no change of W to judge yet
      info.smoothed_cost.push_back(cost);
      return opt_.interrupt && opt_.interrupt() && stop(info, StopReason::Interrupted);
    }
    const double alpha = std::min(1.0, double(batch_cols) / (n_ + 1));
    smoothed_ = std::isnan(smoothed_) ? cost : smoothed_ * (1 - alpha) + cost * alpha;
    info.smoothed_cost.push_back(smoothed_);
    double moved = 0, norm = 0;
    for (std::size_t e = 0; e < W.size(); ++e) {
      const double d = double(W.data()[e]) - double(W_before.data()[e]);
      moved += d * d;
      norm += double(W.data()[e]) * double(W.data()[e]);
    }
    const double change = norm > 0 ? std::sqrt(moved / norm) : 0;
    if (opt_.on_progress) {
      Progress p;
      p.iteration = info.steps;
      p.loss = smoothed_;
      p.relative_decrease = change;
      p.seconds = core::seconds_since(start_);
      if (!opt_.on_progress(p)) return stop(info, StopReason::Callback);
    }
    if (opt_.tol > 0 && change <= opt_.tol) return stop(info, StopReason::Converged);
    if (smoothed_ < lowest_) {
      lowest_ = smoothed_;
      since_lowest_ = 0;
    } else if (opt_.max_no_improvement > 0 && ++since_lowest_ >= opt_.max_no_improvement) {
      return stop(info, StopReason::Converged);
    }
    if (opt_.interrupt && opt_.interrupt()) return stop(info, StopReason::Interrupted);
    return false;
  }

 private:
  static bool stop(OnlineInfo& info, StopReason why) {
    info.stop_reason = why;
    return true;
  }
  const Options& opt_;
  double n_;
  Clock::time_point start_ = Clock::now();
  double smoothed_ = std::numeric_limits<double>::quiet_NaN();
  double lowest_ = std::numeric_limits<double>::infinity();
  int since_lowest_ = 0;
};

// Passes over V's columns in batches; batch(j0, j1) runs the step on columns j0 … j1 − 1.
template <class T, class Step>
void passes(OnlineState<T>& st, index_t n, const Options& opt, Step step) {
  const auto start = Clock::now();
  opt.validate();
  const index_t size = std::min<index_t>(opt.batch_size, n);
  OnlineStop stop(opt, n);
  st.info.stop_reason = StopReason::MaxIter;
  bool stopped = false;
  for (int pass = 0; pass < opt.max_passes && !stopped; ++pass) {
    st.info.passes = pass + 1;
    for (index_t j0 = 0; j0 < n && !stopped; j0 += size) {
      const index_t j1 = std::min(n, j0 + size);
      const Matrix<T> before = st.W;
      // A pass forgets forget_factor of what came before it.
      step(j0, j1, std::pow(opt.forget_factor, double(j1 - j0) / double(n)));
      stopped = stop.after_step(st.info, before, st.W, j1 - j0);
    }
  }
  st.info.seconds = core::seconds_since(start);
}

}  // namespace

template <class T>
void partial_fit(OnlineState<T>& st, DenseView<const T> V, const MaskView* observed,
                 const Options& opt, double rho) {
  dense_step(st, V, observed, opt, rho);
}

template <class T, class I>
void partial_fit(OnlineState<T>& st, CsrView<T, I> V, const Options& opt, double rho) {
  sparse_step(st, V, opt, rho);
}

// Columns j0 … j1 − 1 of a dense view, in place.
template <class T>
DenseView<const T> columns_of(DenseView<const T> V, index_t j0, index_t j1) {
  V.data = V.layout == Layout::RowMajor ? V.data + j0 : V.data + j0 * V.ld;
  V.cols = j1 - j0;
  return V;
}

template <class T>
void fit_online(OnlineState<T>& st, DenseView<const T> V, const MaskView* observed,
                const Options& opt) {
  if (observed && (observed->rows != V.rows || observed->cols != V.cols))
    throw InvalidArgument("the mask of observed entries is " + std::to_string(observed->rows) +
                          "×" + std::to_string(observed->cols) + ", but V is " +
                          std::to_string(V.rows) + "×" + std::to_string(V.cols));
  passes(st, V.cols, opt, [&](index_t j0, index_t j1, double rho) {
    if (!observed) return dense_step(st, columns_of(V, j0, j1), nullptr, opt, rho);
    const MaskView batch_observed = columns_of(*observed, j0, j1);
    dense_step(st, columns_of(V, j0, j1), &batch_observed, opt, rho);
  });
}

template <class T, class I>
void fit_online(OnlineState<T>& st, CsrView<T, I> V, const Options& opt) {
  core::check_csr("V", V, beta_of(opt));
  passes(st, V.cols, opt, [&](index_t j0, index_t j1, double rho) {
    sparse_step(st, columns_of(V, j0, j1).view(V.absent), opt, rho);
  });
}

template void partial_fit(OnlineState<float>&, DenseView<const float>, const MaskView*,
                          const Options&, double);
template void partial_fit(OnlineState<double>&, DenseView<const double>, const MaskView*,
                          const Options&, double);
template void fit_online(OnlineState<float>&, DenseView<const float>, const MaskView*,
                         const Options&);
template void fit_online(OnlineState<double>&, DenseView<const double>, const MaskView*,
                         const Options&);
#define NMFUSE_SPARSE_ONLINE(T, I)                                                        \
  template void partial_fit(OnlineState<T>&, CsrView<T, I>, const Options&, double); \
  template void fit_online(OnlineState<T>&, CsrView<T, I>, const Options&);
NMFUSE_SPARSE_ONLINE(float, std::int32_t)
NMFUSE_SPARSE_ONLINE(float, std::int64_t)
NMFUSE_SPARSE_ONLINE(double, std::int32_t)
NMFUSE_SPARSE_ONLINE(double, std::int64_t)
#undef NMFUSE_SPARSE_ONLINE

}  // namespace nmfuse::detail
