// factorize(), Model and build_info(): checks the arguments, picks the backend, starts
// from the chosen initial factors and runs the one loop.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>

#include "check_input.hpp"
#include "core/column_view.hpp"
#include "cpu/cpu_backends.hpp"
#include "cuda/cuda_hooks.hpp"
#include "init.hpp"
#include "nmfuse/checkpoint.hpp"
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

// Whether v is a value of T (no overflow).
template <class T>
bool fits(double v) {
  return std::fabs(v) <= double(std::numeric_limits<T>::max());
}

// Whether a non-zero entry keeps its meaning in float: no overflow, no underflow to 0.
template <class T>
bool fits_float(T v) {
  return v == 0 || (v <= T(std::numeric_limits<float>::max()) &&
                    v >= T(std::numeric_limits<float>::denorm_min()));
}
template <class T>
bool fits_float(const DenseView<const T>& A) {
  for (index_t i = 0; i < A.rows; ++i)
    for (index_t j = 0; j < A.cols; ++j)
      if (!fits_float(A(i, j))) return false;
  return true;
}
template <class T, class I>
bool fits_float(const CsrView<T, I>& A) {
  return std::all_of(A.values, A.values + A.nnz(), [](T v) { return fits_float(v); });
}

// choose_device, and double data that float cannot hold stays on the CPU.
template <class Data>
DeviceChoice choose_device_for(const Data& V, Device requested) {
  using T = typename Data::value_type;
  DeviceChoice choice = choose_device(requested);
  if (std::is_same_v<T, float> || choice.device != Device::Cuda || fits_float(V)) return choice;
  if (requested == Device::Cuda)
    throw InvalidArgument("V has entries outside float's range, and the GPU computes in "
                          "float: use device cpu");
  return {Device::Cpu, "V has entries outside float's range, which the GPU computes in"};
}

// A backend's factor, or (`previous`) the iterate its extrapolation remembers.
template <class T>
Matrix<T> factor_matrix(core::Backend<T>& b, core::Side s, bool previous = false) {
  // W is m×k column-major; Ht (n×k column-major) is H (k×n) row-major.
  Matrix<T> X = s == core::Side::W ? Matrix<T>(b.rows(), b.rank(), Layout::ColMajor)
                                   : Matrix<T>(b.rank(), b.cols(), Layout::RowMajor);
  previous ? b.get_previous(s, X.data()) : b.get_factor(s, X.data());
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

// Puts a checkpoint's factors (and previous iterates) into the backend and returns the
// loop's state, after checking that they fit this problem.
template <class T>
core::SolverState restore(core::Backend<T>& b, const Checkpoint& c, bool extrapolating) {
  auto check = [&](const char* name, const Matrix<double>& X, index_t rows, index_t cols,
                   Layout layout) {
    if (X.rows() == rows && X.cols() == cols && X.layout() == layout) return;
    throw InvalidArgument("option resume: the checkpoint's " + std::string(name) + " is " +
                          std::to_string(X.rows()) + "×" + std::to_string(X.cols()) +
                          ", but this problem needs " + std::to_string(rows) + "×" +
                          std::to_string(cols) + (X.layout() == layout ? "" : " in its layout"));
  };
  const index_t m = b.rows(), n = b.cols(), k = b.rank();
  check("W", c.W, m, k, Layout::ColMajor);
  check("H", c.H, k, n, Layout::RowMajor);
  auto put = [&](core::Side s, const Matrix<double>& X, bool previous) {
    core::check_matrix("the checkpoint's factor", X.view());
    if (!std::all_of(X.data(), X.data() + X.size(), [](double v) { return fits<T>(v); }))
      throw InvalidArgument("option resume: the checkpoint's factors do not fit in " +
                            std::string(sizeof(T) == 4 ? "float" : "double"));
    const std::vector<T> values(X.data(), X.data() + X.size());
    previous ? b.set_previous(s, values.data()) : b.set_factor(s, values.data());
  };
  put(core::Side::W, c.W, false);
  put(core::Side::H, c.H, false);
  if (extrapolating) {
    if (c.previous_W.size() == 0)
      throw InvalidArgument("option resume: the checkpoint holds no previous iterates, which "
                            "extrapolated HALS needs (it was written by another solver)");
    check("previous W", c.previous_W, m, k, Layout::ColMajor);
    check("previous H", c.previous_H, k, n, Layout::RowMajor);
    put(core::Side::W, c.previous_W, true);
    put(core::Side::H, c.previous_H, true);
  }
  return static_cast<const LoopState&>(c);
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
    resumed = restore(b, *opt.resume, settings.extrapolate);
    settings.resume = &resumed;
  } else if (W0) {
    b.set_factor(core::Side::W, column_major_copy(*W0, false).data());
    b.set_factor(core::Side::H, column_major_copy(*H0, true).data());
  } else {
    const Init init = opt.init == Init::Auto ? Init::NNDSVDa : opt.init;
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

// The GPU's masked HALS keeps a row's Gram in shared memory: above that rank, Auto
// runs on the CPU and an explicit Cuda is refused.
DeviceChoice masked_hals_rule(DeviceChoice choice, const Options& opt, bool masked) {
  if (!masked || resolved_solver(opt) != Solver::HALS || opt.rank <= kMaskedGpuRank ||
      choice.device != Device::Cuda)
    return choice;
  if (opt.device == Device::Cuda)
    throw NotCompiled("HALS with unknown entries takes rank ≤ 64 on the GPU: use device cpu or "
                      "solver mu");
  return {Device::Cpu, "HALS with unknown entries takes rank ≤ 64 on the GPU"};
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

// Optional start factors converted to float, and views of them (null where absent).
struct FloatStart {
  std::optional<Matrix<float>> W0, H0;
  DenseView<const float> W0v, H0v;
  template <class T>
  FloatStart(const DenseView<const T>* W0_, const DenseView<const T>* H0_) {
    if (!W0_) return;
    W0 = convert<float>(*W0_), H0 = convert<float>(*H0_);
    W0v = W0->view(), H0v = H0->view();
  }
  const DenseView<const float>* W() const { return W0 ? &W0v : nullptr; }
  const DenseView<const float>* H() const { return H0 ? &H0v : nullptr; }
};

// A CSR view of the same pattern with float values (held by `values`).
template <class T, class I>
CsrView<float, I> float_values(const CsrView<T, I>& V, std::vector<float>& values) {
  values.assign(V.values, V.values + V.nnz());
  CsrView<float, I> Vf{V.row_ptr, V.col_idx, values.data(), V.rows, V.cols, V.absent};
  return Vf;
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
  check_start(opt, W0, H0, m, n);

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
  core::check_rank(opt.rank, V.rows, V.cols);
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
  core::check_rank(opt.rank, V.rows, V.cols);
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
