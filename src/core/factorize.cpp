// factorize(), Model and build_info(): checks the arguments, picks the backend, starts
// from the chosen initial factors and runs the one loop.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>

#include "check_input.hpp"
#include "core/column_view.hpp"
#include "cuda/cuda_hooks.hpp"
#include "init.hpp"
#include "nmfuse/device.hpp"
#include "nmfuse/errors.hpp"
#include "nmfuse/factorize.hpp"
#include "solver.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef NMFUSE_HAVE_OPENBLAS
extern "C" char* openblas_get_config();
extern "C" char* openblas_get_corename();
extern "C" void openblas_set_num_threads(int);
#endif

namespace nmfuse {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The GPU's masked HALS keeps a row's Gram in shared memory (kernels/update_kernels.cu).
constexpr int kMaskedGpuRank = 64;

struct DeviceChoice {
  Device device;
  std::string reason;
};

DeviceChoice choose_device(Device requested) {
  if (requested == Device::Cpu) return {Device::Cpu, "device cpu was requested"};
  const cuda::GpuStatus gpu = cuda::probe();
  if (requested == Device::Cuda) {
    if (!cuda::compiled())
      throw NotCompiled("device cuda was requested, but nmfuse was built without CUDA");
    if (gpu.usable == 0)
      throw DeviceUnavailable("device cuda was requested, but no GPU is usable: " + gpu.reason);
    return {Device::Cuda, "device cuda was requested: " + gpu.reason};
  }
  if (gpu.usable > 0) return {Device::Cuda, "a usable GPU was found: " + gpu.reason};
  return {Device::Cpu, "no usable GPU (" + gpu.reason + "), so the CPU ran"};
}

cuda::GpuSettings gpu_settings(const Options& opt, bool masked) {
  const double beta = beta_of(opt);
  const bool extrapolation = opt.hals_extrapolate && resolved_solver(opt) == Solver::HALS;
  return {opt.allow_tf32, extrapolation, masked || (beta != 1 && beta != 2), masked};
}

template <class T>
std::unique_ptr<core::Backend<T>> make_backend(Device device, DenseView<const T> V, int rank,
                                               const Options& opt, bool masked = false) {
  if (device == Device::Cpu) return core::make_cpu_backend<T>(V, rank);
  if constexpr (std::is_same_v<T, float>)
    return cuda::make_backend(V, rank, gpu_settings(opt, masked));
  throw Error("internal: the CUDA backend takes float data");  // callers convert first
}

template <class U, class T>
Matrix<U> convert(const Matrix<T>& A) {
  Matrix<U> B(A.rows(), A.cols(), A.layout());
  std::transform(A.data(), A.data() + A.size(), B.data(), [](T v) { return U(v); });
  return B;
}

template <class U, class T>
Matrix<U> convert(const DenseView<const T>& A) {
  Matrix<U> B(A.rows, A.cols, Layout::RowMajor);
  for (index_t i = 0; i < A.rows; ++i)
    for (index_t j = 0; j < A.cols; ++j) B(i, j) = U(A(i, j));
  return B;
}

// Whether every non-zero entry keeps its meaning in float: no overflow, no underflow to 0.
template <class T>
bool fits_float(const DenseView<const T>& A) {
  for (index_t i = 0; i < A.rows; ++i)
    for (index_t j = 0; j < A.cols; ++j) {
      const T v = A(i, j);
      if (v != 0 && (v > T(std::numeric_limits<float>::max()) ||
                     v < T(std::numeric_limits<float>::denorm_min())))
        return false;
    }
  return true;
}

// choose_device, and double data that float cannot hold stays on the CPU.
template <class T>
DeviceChoice choose_device_for(const DenseView<const T>& V, Device requested) {
  DeviceChoice choice = choose_device(requested);
  if (std::is_same_v<T, float> || choice.device != Device::Cuda || fits_float(V)) return choice;
  if (requested == Device::Cuda)
    throw InvalidArgument("V has entries outside float's range, and the GPU computes in "
                          "float: use device cpu");
  return {Device::Cpu, "V has entries outside float's range, which the GPU computes in"};
}

template <class T>
Matrix<T> factor_matrix(core::Backend<T>& b, core::Side s) {
  // W is m×k column-major; Ht (n×k column-major) is H (k×n) row-major.
  Matrix<T> X = s == core::Side::W ? Matrix<T>(b.rows(), b.rank(), Layout::ColMajor)
                                   : Matrix<T>(b.rank(), b.cols(), Layout::RowMajor);
  b.get_factor(s, X.data());
  return X;
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

// Sets the mask and the initial factors and runs the loop: what every entry point shares.
template <class T>
core::SolverOutcome initialize_and_solve(core::Backend<T>& b, const Options& opt,
                                         const DenseView<const T>* W0,
                                         const DenseView<const T>* H0,
                                         const std::vector<std::uint8_t>* mask = nullptr) {
  if (mask) b.set_mask(mask->data());
  if (W0) {
    b.set_factor(core::Side::W, column_major_copy(*W0, false).data());
    b.set_factor(core::Side::H, column_major_copy(*H0, true).data());
  } else {
    const Init init = opt.init == Init::Auto ? Init::NNDSVDa : opt.init;
    const core::Factors<T> f = core::initialize(b, init, opt.seed);
    b.set_factor(core::Side::W, f.W.data());
    b.set_factor(core::Side::H, f.Ht.data());
  }
  core::SolverSettings settings = core::settings_for(opt, b.rows(), b.cols());
  settings.masked = mask != nullptr;
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

}  // namespace

namespace detail {

template <class T>
Result<T> factorize(DenseView<const T> V, const Options& options, const DenseView<const T>* W0,
                    const DenseView<const T>* H0, const MaskView* observed) {
  const auto start = Clock::now();
  options.validate();
  Options opt = options;
  core::check_matrix("V", V);
  const index_t m = V.rows, n = V.cols;
  core::check_rank(opt.rank, m, n);
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
  const bool custom = opt.init == Init::Custom;
  if (custom != (W0 != nullptr))
    throw InvalidArgument(custom ? "init custom needs the initial W and H passed to factorize()"
                                 : "initial W and H were passed, but init is " +
                                       to_string(opt.init) + ", not custom");
  if (custom) {
    core::check_shape("initial W", *W0, m, opt.rank);
    core::check_shape("initial H", *H0, opt.rank, n);
    core::check_matrix("initial W", *W0);
    core::check_matrix("initial H", *H0);
  }

  DeviceChoice choice = choose_device_for(V, opt.device);
  if (mask && resolved_solver(opt) == Solver::HALS && opt.rank > kMaskedGpuRank &&
      choice.device == Device::Cuda) {
    if (opt.device == Device::Cuda)
      throw NotCompiled("HALS with a mask of observed entries takes rank ≤ 64 on the GPU: use "
                        "device cpu or solver mu");
    choice = {Device::Cpu, "HALS with a mask of observed entries takes rank ≤ 64 on the GPU"};
  }
  if constexpr (!std::is_same_v<T, float>) {
    if (choice.device == Device::Cuda) {  // the GPU computes in float
      Options on_gpu = opt;
      on_gpu.device = Device::Cuda;
      const Matrix<float> Vf = convert<float>(V);
      std::optional<Matrix<float>> W0f, H0f;
      if (custom) W0f = convert<float>(*W0), H0f = convert<float>(*H0);
      const DenseView<const float> W0v = W0f ? W0f->view() : DenseView<const float>();
      const DenseView<const float> H0v = H0f ? H0f->view() : DenseView<const float>();
      // Vf is row-major whatever V's layout: the mask view keeps its own layout.
      Result<float> rf = factorize<float>(Vf.view(), on_gpu, custom ? &W0v : nullptr,
                                          custom ? &H0v : nullptr, observed);
      Result<T> r;
      static_cast<RunInfo&>(r) = std::move(rf);
      r.W = convert<T>(rf.W);
      r.H = convert<T>(rf.H);
      r.device_reason = choice.reason + "; double data computed in float on the GPU";
      r.seconds = seconds_since(start);
      return r;
    }
  }
  auto backend = make_backend<T>(choice.device, V, opt.rank, opt, mask.has_value());
  core::SolverOutcome outcome =
      initialize_and_solve(*backend, opt, W0, H0, mask ? &*mask : nullptr);
  Result<T> r;
  r.W = factor_matrix(*backend, core::Side::W);
  r.H = factor_matrix(*backend, core::Side::H);
  record(r, std::move(outcome), choice, start);
  return r;
}

template <class T>
Matrix<T> solve_H(DenseView<const T> V, const Matrix<T>& W, const Options& opt) {
  opt.validate();
  core::check_matrix("V", V);
  if (beta_of(opt) <= 0) core::check_positive("V", V, beta_of(opt), nullptr);
  if (V.rows != W.rows()) {
    throw InvalidArgument("V has " + std::to_string(V.rows) + " rows, but the model's W has " +
                          std::to_string(W.rows()));
  }
  const DeviceChoice choice = choose_device_for(V, opt.device);
  if constexpr (!std::is_same_v<T, float>) {
    if (choice.device == Device::Cuda) {  // the GPU computes in float
      Options on_gpu = opt;
      on_gpu.device = Device::Cuda;
      const Matrix<float> Vf = convert<float>(V);
      return convert<T>(solve_H<float>(Vf.view(), convert<float>(W), on_gpu));
    }
  }
  const int k = int(W.cols());
  auto backend = make_backend<T>(choice.device, V, k, opt);
  core::Backend<T>& b = *backend;
  b.set_factor(core::Side::W, W.data());
  // scikit-learn's start for transform: every entry √(mean(V)/k).
  const double mean = b.data_sum() / (double(V.rows) * double(V.cols));
  b.set_factor(core::Side::H,
               std::vector<T>(std::size_t(V.cols) * k, T(std::sqrt(mean / k))).data());
  core::SolverSettings s = core::settings_for(opt, V.rows, V.cols);
  s.update_W = false;
  core::solve(b, s);
  return factor_matrix(b, core::Side::H);
}

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
  core::check_rank(opt.rank, V.rows, V.cols);
  DeviceChoice choice = choose_device(Device::Cuda);
  choice.reason = "V is on the GPU: " + cuda::probe().reason;
  // The backend checks that the problem fits before anything reads V.
  auto backend = cuda::make_device_backend(V, opt.rank, stream, gpu_settings(opt, false));
  cuda::check_device_matrix(V, stream, beta_of(opt) <= 0);
  core::SolverOutcome outcome = initialize_and_solve<float>(*backend, opt, nullptr, nullptr);
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

BuildInfo build_info() {
  BuildInfo info;
  info.version = NMFUSE_VERSION;
  info.cuda_compiled = cuda::compiled();
  const cuda::GpuStatus gpu = cuda::probe();
  info.usable_gpus = gpu.usable;
  info.gpu_status = gpu.reason;
#ifdef NMFUSE_HAVE_OPENBLAS
  info.blas = std::string("OpenBLAS ") + openblas_get_config();
  info.blas_kernels = openblas_get_corename();
#else
  info.blas = NMFUSE_BLAS_LIBRARIES;
#endif
#ifdef NMFUSE_BLAS_IS_REFERENCE
  info.blas_is_reference = true;
#endif
  return info;
}

void set_cpu_threads(int threads) {
  if (threads <= 0) return;
#ifdef _OPENMP
  omp_set_num_threads(threads);
#endif
#ifdef NMFUSE_HAVE_OPENBLAS
  openblas_set_num_threads(threads);
#endif
}

}  // namespace nmfuse
