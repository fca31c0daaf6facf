// factorize(), solve_H() and Model: check the arguments, pick the backend, start from
// the chosen initial factors (or a checkpoint) and run the one loop.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include "core/check_input.hpp"
#include "core/checkpoint_restore.hpp"
#include "core/column_view.hpp"
#include "core/device_choice.hpp"
#include "core/float_conversion.hpp"
#include "core/init.hpp"
#include "core/solver.hpp"
#include "cpu/cpu_backends.hpp"
#include "cuda/cuda_hooks.hpp"
#include "nmfuse/errors.hpp"
#include "nmfuse/factorize.hpp"

namespace nmfuse {
namespace {

using core::choose_device;
using core::choose_device_for;
using core::convert;
using core::DeviceChoice;
using core::factor_matrix;
using core::FloatStart;
using core::float_values;
using core::gpu_settings;
using core::masked_hals_rule;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

template <class T>
std::unique_ptr<core::Backend<T>> make_backend(Device device, DenseView<const T> V, int rank,
                                               const Options& opt, bool masked = false) {
  if (device == Device::Cpu) return cpu::make_dense_backend<T>(V, rank);
  if constexpr (std::is_same_v<T, float>)
    return cuda::make_backend(V, rank, gpu_settings(opt, masked));
  throw Error("internal: the CUDA backend takes float data");  // callers convert first
}

template <class T, class I>
std::unique_ptr<core::Backend<T>> make_backend(Device device, CsrView<T, I> V, int rank,
                                               const Options& opt) {
  if (device == Device::Cpu) return cpu::make_sparse_backend<T, I>(V, rank);
  if constexpr (std::is_same_v<T, float>)
    return cuda::make_sparse_backend(V, rank, gpu_settings(opt, V.absent == Absent::Unknown));
  throw Error("internal: the CUDA backend takes float data");  // callers convert first
}

// A view's entries as a packed column-major buffer (W0 m×k) or, transposed, as Ht (n×k).
template <class T>
std::vector<T> column_major_copy(const DenseView<const T>& A, bool transpose) {
  const DenseView<const T> src = transpose ? A.transposed() : A;
  std::vector<T> out(std::size_t(src.rows * src.cols));
  for (index_t j = 0; j < src.cols; ++j)
    for (index_t i = 0; i < src.rows; ++i) out[i + j * src.rows] = src(i, j);
  return out;
}

// The mask of observed entries, one byte each, in V's storage order (the backends' A).
std::vector<std::uint8_t> packed_mask(const MaskView& observed, index_t m, index_t n,
                                      index_t ld, Layout layout) {
  const core::ColumnView A = core::column_view(m, n, ld, layout);
  std::vector<std::uint8_t> packed(std::size_t(m * n));
  for (index_t c = 0; c < A.cols; ++c)
    for (index_t r = 0; r < A.rows; ++r)
      packed[std::size_t(r + c * A.rows)] =
          (layout == Layout::RowMajor ? observed(c, r) : observed(r, c)) != 0;
  return packed;
}

// V with its unobserved entries set to 0, in V's layout packed; none where they are 0.
template <class T>
std::optional<Matrix<T>> zero_where_unobserved(DenseView<const T> V,
                                               const std::vector<std::uint8_t>& packed) {
  const bool rows = V.layout == Layout::RowMajor;
  const index_t outer = rows ? V.rows : V.cols, inner = rows ? V.cols : V.rows;
  auto observed = [&](index_t o, index_t i) { return packed[std::size_t(i + o * inner)] != 0; };
  auto at = [&](index_t o, index_t i) { return V.data[o * V.ld + i]; };
  bool hidden_value = false;
  for (index_t o = 0; o < outer && !hidden_value; ++o)
    for (index_t i = 0; i < inner; ++i) hidden_value |= !observed(o, i) && at(o, i) != T(0);
  if (!hidden_value) return std::nullopt;
  Matrix<T> out(V.rows, V.cols, V.layout);
  for (index_t o = 0; o < outer; ++o)
    for (index_t i = 0; i < inner; ++i)
      out.data()[std::size_t(i + o * inner)] = observed(o, i) ? at(o, i) : T(0);
  return out;
}

// Sets the mask and the starting factors (initial, given or resumed) and runs the
// loop, handing checkpoints over as Options asks: what every entry point shares.
// `masked`: some entries are unknown (a dense mask, or a CSR view's absent entries).
template <class T>
core::SolverOutcome initialize_and_solve(core::Backend<T>& b, const Options& opt,
                                         const DenseView<const T>* W0,
                                         const DenseView<const T>* H0, bool masked,
                                         const std::vector<std::uint8_t>* mask = nullptr) {
  if (mask) b.set_mask(mask->data());
  core::SolverSettings settings =
      core::settings_for(opt, b.rows(), b.cols(), b.product_entries());
  settings.masked = masked;
  core::SolverState resumed;
  if (opt.resume) {
    resumed = core::restore(b, *opt.resume, settings.extrapolate);
    settings.resume = &resumed;
  } else if (W0) {
    b.set_factor(core::Side::W, column_major_copy(*W0, false).data());
    b.set_factor(core::Side::H, column_major_copy(*H0, true).data());
  } else {
    const Init init = resolved_init(opt, b.rows(), b.cols());
    const core::Factors<T> f = core::initialize(b, init, opt.seed);
    b.set_factor(core::Side::W, f.W.data());
    b.set_factor(core::Side::H, f.Ht.data());
  }
  settings.checkpoint_every = opt.checkpoint_every;
  settings.interrupt = opt.interrupt;
  if (opt.on_checkpoint)
    settings.on_checkpoint = [&](const core::SolverState& state) {
      Checkpoint c;
      static_cast<LoopState&>(c) = state;
      c.W = convert<double>(factor_matrix(b, core::Side::W));
      c.H = convert<double>(factor_matrix(b, core::Side::H));
      if (settings.extrapolate) {
        c.previous_W = convert<double>(factor_matrix(b, core::Side::W, true));
        c.previous_H = convert<double>(factor_matrix(b, core::Side::H, true));
      }
      opt.on_checkpoint(c);
    };
  return core::solve(b, settings);
}

void record(RunInfo& info, core::SolverOutcome&& outcome, const DeviceChoice& choice,
            Clock::time_point start) {
  info.loss_history = std::move(outcome.loss_history);
  info.loss_iterations = std::move(outcome.loss_iterations);
  info.iterations = outcome.iterations;
  info.stop_reason = outcome.stop_reason;
  info.converged = outcome.stop_reason == StopReason::Converged;
  info.device = choice.device;
  info.device_reason = choice.reason;
  info.seconds = seconds_since(start);
}

// init custom if and only if W0 and H0 were passed, with the right shapes.
template <class T>
void check_start(const Options& opt, const DenseView<const T>* W0, const DenseView<const T>* H0,
                 index_t m, index_t n) {
  const bool custom = opt.init == Init::Custom;
  if (custom != (W0 != nullptr))
    throw InvalidArgument(custom ? "init custom needs the initial W and H passed to factorize()"
                                 : "initial W and H were passed, but init is " +
                                       to_string(opt.init) + ", not custom");
  if (!custom) return;
  core::check_shape("initial W", *W0, m, opt.rank);
  core::check_shape("initial H", *H0, opt.rank, n);
  core::check_matrix("initial W", *W0);
  core::check_matrix("initial H", *H0);
}

// A float run on the GPU, for double data: its W and H back in double.
template <class T>
Result<T> widened(Result<float>&& rf, const DeviceChoice& choice, Clock::time_point start) {
  Result<T> r;
  static_cast<RunInfo&>(r) = std::move(rf);
  r.W = convert<T>(rf.W);
  r.H = convert<T>(rf.H);
  r.device_reason = choice.reason + "; double data computed in float on the GPU";
  r.seconds = seconds_since(start);
  return r;
}

Options on_gpu(Options opt) {
  opt.device = Device::Cuda;
  return opt;
}

}  // namespace

namespace detail {

template <class T>
Result<T> factorize(DenseView<const T> V, const Options& options, const DenseView<const T>* W0,
                    const DenseView<const T>* H0, const MaskView* observed) {
  const auto start = Clock::now();
  options.validate();
  const Options& opt = options;
  core::check_matrix("V", V);
  const index_t m = V.rows, n = V.cols;
  core::check_rank(opt, m, n);
  std::optional<std::vector<std::uint8_t>> mask;
  if (observed) {
    core::check_storage("the mask of observed entries", observed->rows, observed->cols,
                        observed->ld, observed->layout, observed->data);
    if (observed->rows != m || observed->cols != n)
      throw InvalidArgument("the mask of observed entries is " + std::to_string(observed->rows) +
                            "×" + std::to_string(observed->cols) + ", but V is " +
                            std::to_string(m) + "×" + std::to_string(n));
    mask = packed_mask(*observed, m, n, V.ld, V.layout);
    if (std::find(mask->begin(), mask->end(), 1) == mask->end())
      throw InvalidArgument("the mask of observed entries marks no entry of V as observed");
  }
  if (beta_of(opt) <= 0) core::check_positive("V", V, beta_of(opt), observed);
  check_start(opt, W0, H0, m, n);
  // The start reads all of V: there the unobserved entries count as zeros, as a sparse
  // V's absent ones do, so that what lies under the mask never matters.
  std::optional<Matrix<T>> observed_part;
  if (mask) {
    observed_part = zero_where_unobserved(V, *mask);
    if (observed_part) V = observed_part->view();
  }

  const DeviceChoice choice =
      masked_hals_rule(choose_device_for(V, opt.device), opt, mask.has_value());
  if constexpr (!std::is_same_v<T, float>) {
    if (choice.device == Device::Cuda) {  // the GPU computes in float
      const Matrix<float> Vf = convert<float>(V);
      const FloatStart f(W0, H0);
      // Vf is row-major whatever V's layout: the mask view keeps its own layout.
      return widened<T>(factorize<float>(Vf.view(), on_gpu(opt), f.W(), f.H(), observed),
                        choice, start);
    }
  }
  auto backend = make_backend<T>(choice.device, V, opt.rank, opt, mask.has_value());
  core::SolverOutcome outcome = initialize_and_solve(*backend, opt, W0, H0, mask.has_value(),
                                                     mask ? &*mask : nullptr);
  Result<T> r;
  r.W = factor_matrix(*backend, core::Side::W);
  r.H = factor_matrix(*backend, core::Side::H);
  record(r, std::move(outcome), choice, start);
  return r;
}

template <class T, class I>
Result<T> factorize(CsrView<T, I> V, const Options& options, const DenseView<const T>* W0,
                    const DenseView<const T>* H0) {
  const auto start = Clock::now();
  options.validate();
  const Options& opt = options;
  core::check_csr("V", V, beta_of(opt));
  core::check_rank(opt, V.rows, V.cols);
  check_start(opt, W0, H0, V.rows, V.cols);
  const bool unknown = V.absent == Absent::Unknown;

  const DeviceChoice choice = masked_hals_rule(choose_device_for(V, opt.device), opt, unknown);
  if constexpr (!std::is_same_v<T, float>) {
    if (choice.device == Device::Cuda) {  // the GPU computes in float
      std::vector<float> values;
      const FloatStart f(W0, H0);
      return widened<T>(
          factorize<float, I>(float_values(V, values), on_gpu(opt), f.W(), f.H()), choice,
          start);
    }
  }
  auto backend = make_backend<T, I>(choice.device, V, opt.rank, opt);
  core::SolverOutcome outcome = initialize_and_solve(*backend, opt, W0, H0, unknown);
  Result<T> r;
  r.W = factor_matrix(*backend, core::Side::W);
  r.H = factor_matrix(*backend, core::Side::H);
  record(r, std::move(outcome), choice, start);
  return r;
}

// H for the columns of V with W fixed, starting from scikit-learn's transform start:
// every entry √(mean(V)/k).
template <class T>
Matrix<T> solve_H_with(core::Backend<T>& b, const Matrix<T>& W, const Options& opt,
                       bool masked) {
  const int k = int(W.cols());
  b.set_factor(core::Side::W, W.data());
  const double mean = b.data_sum() / (double(b.rows()) * double(b.cols()));
  b.set_factor(core::Side::H,
               std::vector<T>(std::size_t(b.cols()) * k, T(std::sqrt(mean / k))).data());
  core::SolverSettings s = core::settings_for(opt, b.rows(), b.cols(), b.product_entries());
  s.update_W = false;
  s.masked = masked;
  core::solve(b, s);
  return factor_matrix(b, core::Side::H);
}

void check_model_rows(index_t rows, const char* what, index_t w_rows) {
  if (rows == w_rows) return;
  throw InvalidArgument(std::string(what) + " has " + std::to_string(rows) +
                        " rows, but the model's W has " + std::to_string(w_rows));
}

template <class T>
Matrix<T> solve_H(DenseView<const T> V, const Matrix<T>& W, const Options& opt) {
  opt.validate();
  core::check_matrix("V", V);
  if (beta_of(opt) <= 0) core::check_positive("V", V, beta_of(opt), nullptr);
  check_model_rows(V.rows, "V", W.rows());
  const DeviceChoice choice = choose_device_for(V, opt.device);
  if constexpr (!std::is_same_v<T, float>) {
    if (choice.device == Device::Cuda) {  // the GPU computes in float
      const Matrix<float> Vf = convert<float>(V);
      return convert<T>(solve_H<float>(Vf.view(), convert<float>(W), on_gpu(opt)));
    }
  }
  auto backend = make_backend<T>(choice.device, V, int(W.cols()), opt);
  return solve_H_with(*backend, W, opt, false);
}

template <class T, class I>
Matrix<T> solve_H(CsrView<T, I> V, const Matrix<T>& W, const Options& opt) {
  opt.validate();
  core::check_csr("V", V, beta_of(opt));
  check_model_rows(V.rows, "V", W.rows());
  const bool unknown = V.absent == Absent::Unknown;
  Options with_rank = opt;
  with_rank.rank = int(W.cols());
  const DeviceChoice choice =
      masked_hals_rule(choose_device_for(V, opt.device), with_rank, unknown);
  if constexpr (!std::is_same_v<T, float>) {
    if (choice.device == Device::Cuda) {  // the GPU computes in float
      std::vector<float> values;
      return convert<T>(solve_H<float, I>(float_values(V, values), convert<float>(W), on_gpu(opt)));
    }
  }
  auto backend = make_backend<T, I>(choice.device, V, int(W.cols()), opt);
  return solve_H_with(*backend, W, opt, unknown);
}

#define NMFUSE_SPARSE_ENTRY_POINTS(T, I)                                                        \
  template Result<T> factorize(CsrView<T, I>, const Options&, const DenseView<const T>*,       \
                               const DenseView<const T>*);                                      \
  template Matrix<T> solve_H(CsrView<T, I>, const Matrix<T>&, const Options&);
NMFUSE_SPARSE_ENTRY_POINTS(float, std::int32_t)
NMFUSE_SPARSE_ENTRY_POINTS(float, std::int64_t)
NMFUSE_SPARSE_ENTRY_POINTS(double, std::int32_t)
NMFUSE_SPARSE_ENTRY_POINTS(double, std::int64_t)
#undef NMFUSE_SPARSE_ENTRY_POINTS

template Result<float> factorize(DenseView<const float>, const Options&,
                                 const DenseView<const float>*, const DenseView<const float>*,
                                 const MaskView*);
template Result<double> factorize(DenseView<const double>, const Options&,
                                  const DenseView<const double>*, const DenseView<const double>*,
                                  const MaskView*);
template Matrix<float> solve_H(DenseView<const float>, const Matrix<float>&, const Options&);
template Matrix<double> solve_H(DenseView<const double>, const Matrix<double>&,
                                const Options&);

}  // namespace detail

DeviceResult factorize(const DeviceView& V, const Options& opt, CUstream_st* stream) {
  const auto start = Clock::now();
  opt.validate();
  if (opt.device == Device::Cpu)
    throw InvalidArgument("option device = cpu: V is on the GPU; copy it to the host for the CPU");
  if (opt.init == Init::Custom)
    throw InvalidArgument("option init = custom is not available for V on the GPU");
  core::check_storage("V", V.rows, V.cols, V.ld, V.layout, V.data);
  core::check_rank(opt, V.rows, V.cols);
  DeviceChoice choice = choose_device(Device::Cuda);
  choice.reason = "V is on the GPU: " + cuda::probe().reason;
  // The backend checks that the problem fits before anything reads V.
  auto backend = cuda::make_device_backend(V, opt.rank, stream, gpu_settings(opt, false));
  cuda::check_device_matrix(V, stream, beta_of(opt) <= 0);
  core::SolverOutcome outcome =
      initialize_and_solve<float>(*backend, opt, nullptr, nullptr, false);
  DeviceResult r;
  std::tie(r.W, r.H) = cuda::take_factors(*backend);
  record(r, std::move(outcome), choice, start);
  return r;
}

template <class T>
const Matrix<T>& Model<T>::W() const {
  if (!fit_) throw InvalidArgument("Model has no W yet: call fit() first");
  return fit_->W;
}

template <class T>
Matrix<T> Model<T>::inverse_transform(DenseView<const T> H) const {
  const Matrix<T>& w = W();
  core::check_shape("H", H, w.cols(), H.cols);
  Matrix<T> out(w.rows(), H.cols, Layout::RowMajor);
  for (index_t i = 0; i < w.rows(); ++i)
    for (index_t t = 0; t < w.cols(); ++t) {
      const T wit = w(i, t);
      for (index_t j = 0; j < H.cols; ++j) out(i, j) += wit * H(t, j);
    }
  return out;
}

template class Model<float>;
template class Model<double>;

}  // namespace nmfuse
