// factorize(), solve_H() and Model: check the arguments, pick the backend, start from
// the chosen initial factors (or a checkpoint) and run the one loop.
#include <cmath>
#include <optional>

#include "core/checkpoint_restore.hpp"
#include "core/entry_points.hpp"
#include "core/init.hpp"

namespace nmfuse {
namespace {

using core::choose_device;
using core::choose_device_for;
using core::Clock;
using core::convert;
using core::DeviceChoice;
using core::factor_matrix;
using core::FloatStart;
using core::float_values;
using core::gpu_settings;
using core::make_backend;
using core::masked_hals_rule;
using core::on_gpu;
using core::result_of;
using core::widened;

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
  } else {
    core::set_start(b, opt, W0, H0);
  }
  settings.checkpoint_every = opt.checkpoint_every;
  settings.interrupt = opt.interrupt;
  if (opt.on_checkpoint)
    settings.on_checkpoint = [&](const core::SolverState& state) {
      opt.on_checkpoint(core::checkpoint_of(b, state, settings.extrapolate));
    };
  return core::solve(b, settings);
}

}  // namespace

namespace detail {

template <class T>
Result<T> factorize(DenseView<const T> V, const Options& options, const DenseView<const T>* W0,
                    const DenseView<const T>* H0, const MaskView* observed) {
  const auto start = Clock::now();
  options.validate();
  const Options& opt = options;
  core::DenseInput<T> in = core::checked_dense_input("V", V, opt, observed);
  core::check_rank(opt, V.rows, V.cols);
  core::check_start(opt, W0, H0, V.rows, V.cols);
  V = in.V;
  const std::optional<std::vector<std::uint8_t>>& mask = in.mask;

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
  if (in.sums) backend->know_data_sums(in.sums->sum, in.sums->squares);
  core::SolverOutcome outcome = initialize_and_solve(*backend, opt, W0, H0, mask.has_value(),
                                                     mask ? &*mask : nullptr);
  return result_of(*backend, std::move(outcome), choice, start);
}

template <class T, class I>
Result<T> factorize(CsrView<T, I> V, const Options& options, const DenseView<const T>* W0,
                    const DenseView<const T>* H0) {
  const auto start = Clock::now();
  options.validate();
  const Options& opt = options;
  core::check_csr("V", V, beta_of(opt));
  core::check_rank(opt, V.rows, V.cols);
  core::check_start(opt, W0, H0, V.rows, V.cols);
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
  return result_of(*backend, std::move(outcome), choice, start);
}

template <class T>
Matrix<T> solve_H_with(core::Backend<T>& b, const Matrix<T>& W, const Options& opt,
                       bool masked) {
  core::solve_H_on(b, W.data(), opt, masked);
  return factor_matrix(b, core::Side::H);
}

void check_model_rows(index_t rows, const char* what, index_t w_rows) {
  if (rows == w_rows) return;
  throw InvalidArgument(std::string(what) + " has " + std::to_string(rows) +
                        " rows, but the model's W has " + std::to_string(w_rows));
}

template <class T>
Matrix<T> solve_H(DenseView<const T> V, const Matrix<T>& W, const Options& opt,
                  const MaskView* observed) {
  opt.validate();
  const core::DenseInput<T> in = core::checked_dense_input("V", V, opt, observed);
  check_model_rows(V.rows, "V", W.rows());
  const bool masked = in.mask.has_value();
  Options with_rank = opt;
  with_rank.rank = int(W.cols());
  const DeviceChoice choice =
      masked_hals_rule(choose_device_for(V, opt.device), with_rank, masked);
  if constexpr (!std::is_same_v<T, float>) {
    if (choice.device == Device::Cuda) {  // the GPU computes in float
      const Matrix<float> Vf = convert<float>(V);
      return convert<T>(solve_H<float>(Vf.view(), convert<float>(W), on_gpu(opt), observed));
    }
  }
  auto backend = make_backend<T>(choice.device, in.V, int(W.cols()), opt, masked);
  if (in.sums) backend->know_data_sums(in.sums->sum, in.sums->squares);
  if (masked) backend->set_mask(in.mask->data());
  return solve_H_with(*backend, W, opt, masked);
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
template Matrix<float> solve_H(DenseView<const float>, const Matrix<float>&, const Options&,
                               const MaskView*);
template Matrix<double> solve_H(DenseView<const double>, const Matrix<double>&, const Options&,
                                const MaskView*);

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
  core::record(r, std::move(outcome), choice, start);
  return r;
}

template <class T>
const Matrix<T>& Model<T>::W() const {
  if (online_.W.size() > 0) return online_.W;
  if (!fit_) throw InvalidArgument("Model has no W yet: call fit(), partial_fit() or fit_online() first");
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
