#pragma once
// What the entry points (factorize.cpp, factorize_many.cpp) share: the checks of their
// arguments, the backend for a device, the starting factors, and what a run reports.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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

namespace nmfuse::core {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The CPU's out-of-core blocks, in bytes: where out_of_core = on asks for them (64 MiB
// unless out_of_core_block says); 0 reads V in place.
inline std::int64_t cpu_block_bytes(const Options& opt) {
  if (opt.out_of_core != OutOfCore::On) return 0;
  return opt.out_of_core_block > 0 ? opt.out_of_core_block : std::int64_t(64) << 20;
}

// The backend for `device`, holding `batch` restarts side by side.
template <class T>
std::unique_ptr<Backend<T>> make_backend(Device device, DenseView<const T> V, int rank,
                                         const Options& opt, bool masked = false, int batch = 1) {
  if (device == Device::Cpu)
    return cpu::make_dense_backend<T>(V, rank, batch, cpu_block_bytes(opt));
  if constexpr (std::is_same_v<T, float>) {
    cuda::GpuSettings settings = gpu_settings(opt, masked);
    settings.batch = batch;
    return cuda::make_backend(V, rank, settings);
  }
  throw Error("internal: the CUDA backend takes float data");  // callers convert first
}

template <class T, class I>
std::unique_ptr<Backend<T>> make_backend(Device device, CsrView<T, I> V, int rank,
                                         const Options& opt, int batch = 1) {
  if (device == Device::Cpu) return cpu::make_sparse_backend<T, I>(V, rank, batch);
  if constexpr (std::is_same_v<T, float>) {
    cuda::GpuSettings settings = gpu_settings(opt, V.absent == Absent::Unknown);
    settings.batch = batch;
    return cuda::make_sparse_backend(V, rank, settings);
  }
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
inline std::vector<std::uint8_t> packed_mask(const MaskView& observed, index_t m, index_t n,
                                             index_t ld, Layout layout) {
  const ColumnView A = column_view(m, n, ld, layout);
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

// A dense V checked against the options, with its mask packed. The start reads all of
// V: there the unobserved entries count as zeros, as a sparse V's absent ones do, so
// that what lies under the mask never matters; `V` is then that copy.
template <class T>
struct DenseInput {
  DenseView<const T> V;
  std::optional<std::vector<std::uint8_t>> mask;
  std::optional<Matrix<T>> observed_part;  // V with the unobserved entries 0, where needed
  std::optional<EntrySums> sums;  // of V, where no mask leaves entries out
};

inline void check_mask_shape(const MaskView& observed, const char* what, index_t m, index_t n) {
  if (observed.rows != m || observed.cols != n)
    throw InvalidArgument("the mask of observed entries is " + std::to_string(observed.rows) +
                          "×" + std::to_string(observed.cols) + ", but " + what + " is " +
                          std::to_string(m) + "×" + std::to_string(n));
}

// `what` names V in the messages ("V", "the batch"); the rank is the caller's to check.
template <class T>
DenseInput<T> checked_dense_input(const char* what, DenseView<const T> V, const Options& opt,
                                  const MaskView* observed) {
  const bool out_of_core = opt.out_of_core == OutOfCore::On;  // reading V drops its pages
  if (observed && out_of_core)  // masked HALS reads V in place, row by row, on either device
    throw InvalidArgument("option out_of_core = on: a mask of observed entries needs V in memory");
  const EntrySums sums = check_matrix(what, V, out_of_core);
  const index_t m = V.rows, n = V.cols;
  DenseInput<T> in;
  in.V = V;
  if (!observed) in.sums = sums;
  if (observed) {
    check_storage("the mask of observed entries", observed->rows, observed->cols, observed->ld,
                  observed->layout, observed->data);
    check_mask_shape(*observed, what, m, n);
    in.mask = packed_mask(*observed, m, n, V.ld, V.layout);
    if (std::find(in.mask->begin(), in.mask->end(), 1) == in.mask->end())
      throw InvalidArgument(std::string("the mask of observed entries marks no entry of ") +
                            what + " as observed");
  }
  if (beta_of(opt) <= 0) check_positive(what, V, beta_of(opt), observed, out_of_core);
  if (in.mask) {
    in.observed_part = zero_where_unobserved(V, *in.mask);
    if (in.observed_part) in.V = in.observed_part->view();
  }
  return in;
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
  check_shape("initial W", *W0, m, opt.rank);
  check_shape("initial H", *H0, opt.rank, n);
  check_matrix("initial W", *W0);
  check_matrix("initial H", *H0);
}

// The selected block starts from W0 and H0, or else from opt's init.
template <class T>
void set_start(Backend<T>& b, const Options& opt, const DenseView<const T>* W0,
               const DenseView<const T>* H0) {
  if (W0) {
    b.set_factor(Side::W, column_major_copy(*W0, false).data());
    b.set_factor(Side::H, column_major_copy(*H0, true).data());
    return;
  }
  const Factors<T> f = initialize(b, resolved_init(opt, b.rows(), b.cols()), opt.seed);
  b.set_factor(Side::W, f.W.data());
  b.set_factor(Side::H, f.Ht.data());
}

// H for the columns of V with W (m×k, column-major) fixed, on b, from scikit-learn's
// transform start: every entry √(mean(V)/k).
template <class T>
SolverOutcome solve_H_on(Backend<T>& b, const T* W, const Options& opt, bool masked) {
  const int k = b.rank();
  b.set_factor(Side::W, W);
  const double mean = b.data_sum() / (double(b.rows()) * double(b.cols()));
  b.set_factor(Side::H, std::vector<T>(std::size_t(b.cols()) * k, T(std::sqrt(mean / k))).data());
  SolverSettings s = settings_for(opt, b.rows(), b.cols(), b.product_entries());
  s.update_W = false;
  s.masked = masked;
  return solve(b, s);
}

inline void record(RunInfo& info, SolverOutcome&& outcome, const DeviceChoice& choice,
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

// The selected block's run: its factors read back, and how it went.
template <class T>
Result<T> result_of(Backend<T>& b, SolverOutcome&& outcome, const DeviceChoice& choice,
                    Clock::time_point start) {
  Result<T> r;
  r.W = factor_matrix(b, Side::W);
  r.H = factor_matrix(b, Side::H);
  record(r, std::move(outcome), choice, start);
  r.data_squared_norm = b.data_squared_norm();
  if (const std::string how = b.data_placement(); !how.empty()) r.device_reason += "; " + how;
  return r;
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

inline Options on_gpu(Options opt) {
  opt.device = Device::Cuda;
  return opt;
}

}  // namespace nmfuse::core
