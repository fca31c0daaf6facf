// factorize_many(): restarts side by side in one backend (DESIGN.md §6), in groups
// that fit in memory.
#include <algorithm>
#include <optional>

#include "core/entry_points.hpp"
#include "core/free_memory.hpp"

namespace nmfuse {

Options restart_options(const Options& opt, int restart) {
  Options out = opt;
  out.seed = opt.seed + std::uint64_t(restart);
  if (out.init == Init::Auto) out.init = Init::Random;
  return out;
}

namespace {

using core::Clock;
using core::DeviceChoice;

template <class T>
using Starts = std::vector<DenseView<const T>>;

void check_restarts(const Options& opt, int restarts) {
  if (restarts < 1)
    throw InvalidArgument("restarts = " + std::to_string(restarts) + ": must be at least 1");
  if (opt.on_checkpoint || opt.resume)
    throw InvalidArgument("options on_checkpoint and resume: factorize_many() keeps no "
                          "checkpoints; use factorize() for a run that must resume");
}

// The restarts whose factors fit at once in half the memory free now, on the CPU (whose
// backends read V in place): factors, products and extrapolation's copies.
int restarts_fitting_in_ram(index_t m, index_t n, int k, std::size_t value_bytes) {
  const double per_restart = double(value_bytes) * (3.0 * double(m + n) * k + 2.0 * k * k);
  const double free = core::free_host_bytes();
  return int(std::clamp(0.5 * free / per_restart, 1.0, 65535.0));
}

// Runs the restarts in groups: make(count) is a backend for `count` restarts (a GPU one
// throws OutOfDeviceMemory before it allocates where they do not fit, and the group is
// then halved); start(b, r) sets the selected block's start for restart r.
template <class T, class Make, class Start>
std::vector<Result<T>> run_in_groups(int restarts, const Options& opt, const DeviceChoice& choice,
                                     bool masked, const std::vector<std::uint8_t>* mask,
                                     Make make, Start start, int fitting,
                                     Clock::time_point began) {
  std::vector<Result<T>> out;
  int group = std::min(restarts, opt.restarts_at_once > 0 ? opt.restarts_at_once : fitting);
  for (int first = 0; first < restarts;) {
    int count = std::min(group, restarts - first);
    std::unique_ptr<core::Backend<T>> b;
    while (!b) {
      try {
        b = make(count);
      } catch (const OutOfDeviceMemory&) {
        if (count == 1) throw;
        group = count = (count + 1) / 2;
      }
    }
    if (mask) b->set_mask(mask->data());
    for (int r = 0; r < count; ++r) {
      b->select(r);
      start(*b, first + r);
    }
    core::SolverSettings settings =
        core::settings_for(opt, b->rows(), b->cols(), b->product_entries());
    settings.masked = masked;
    settings.interrupt = opt.interrupt;
    if (opt.on_progress)
      settings.on_progress = [&](Progress p) {
        p.restart += first;
        return opt.on_progress(p);
      };
    std::vector<core::SolverOutcome> outcomes = core::solve_batch(*b, settings);
    bool interrupted = false;
    for (core::SolverOutcome& o : outcomes) {
      interrupted |= o.stop_reason == StopReason::Interrupted;
      b->select(o.block);
      out.push_back(core::result_of(*b, std::move(o), choice, began));
    }
    if (interrupted) break;
    first += count;
  }
  return out;
}

template <class T>
std::vector<Result<T>> widened_all(std::vector<Result<float>>&& runs, const DeviceChoice& choice,
                                   Clock::time_point began) {
  std::vector<Result<T>> out;
  for (Result<float>& r : runs) out.push_back(core::widened<T>(std::move(r), choice, began));
  return out;
}

}  // namespace

namespace detail {

template <class T>
std::vector<Result<T>> factorize_many(DenseView<const T> V, const Options& opt, int restarts,
                                      const MaskView* observed, const Starts<T>* W0,
                                      const Starts<T>* H0) {
  const auto began = Clock::now();
  opt.validate();
  check_restarts(opt, restarts);
  core::DenseInput<T> in = core::checked_dense_input("V", V, opt, observed);
  core::check_rank(opt, V.rows, V.cols);
  if (W0 && H0->size() != W0->size())
    throw InvalidArgument("the starts give " + std::to_string(W0->size()) + " initial W but " +
                          std::to_string(H0->size()) + " initial H");
  for (int r = 0; r < (W0 ? restarts : 1); ++r)
    core::check_start(opt, W0 ? &(*W0)[r] : nullptr, H0 ? &(*H0)[r] : nullptr, V.rows, V.cols);
  const bool masked = in.mask.has_value();
  const DeviceChoice choice =
      core::masked_hals_rule(core::choose_device_for(in.V, opt.device), opt, masked);
  if constexpr (!std::is_same_v<T, float>) {
    if (choice.device == Device::Cuda) {  // the GPU computes in float
      const Matrix<float> Vf = core::convert<float>(in.V);
      std::vector<Matrix<float>> held;
      Starts<float> W0f, H0f;
      for (std::size_t r = 0; W0 && r < W0->size(); ++r) {
        held.push_back(core::convert<float>((*W0)[r]));
        held.push_back(core::convert<float>((*H0)[r]));
      }
      for (std::size_t r = 0; r < held.size(); r += 2)
        W0f.push_back(held[r].view()), H0f.push_back(held[r + 1].view());
      return widened_all<T>(detail::factorize_many<float>(Vf.view(), core::on_gpu(opt), restarts,
                                                  observed, W0 ? &W0f : nullptr,
                                                  W0 ? &H0f : nullptr),
                            choice, began);
    }
  }
  auto make = [&](int count) {
    auto b = core::make_backend<T>(choice.device, in.V, opt.rank, opt, masked, count);
    if (in.sums) b->know_data_sums(in.sums->sum, in.sums->squares);
    return b;
  };
  auto start = [&](core::Backend<T>& b, int r) {
    if (W0)
      core::set_start(b, opt, &(*W0)[r], &(*H0)[r]);
    else
      core::set_start<T>(b, restart_options(opt, r), nullptr, nullptr);
  };
  const int fitting = choice.device == Device::Cpu
                          ? restarts_fitting_in_ram(V.rows, V.cols, opt.rank, sizeof(T))
                          : restarts;
  return run_in_groups<T>(restarts, opt, choice, masked, in.mask ? &*in.mask : nullptr, make,
                          start, fitting, began);
}

template <class T, class I>
std::vector<Result<T>> factorize_many(CsrView<T, I> V, const Options& opt, int restarts) {
  const auto began = Clock::now();
  opt.validate();
  check_restarts(opt, restarts);
  core::check_csr("V", V, beta_of(opt));
  core::check_rank(opt, V.rows, V.cols);
  core::check_start<T>(opt, nullptr, nullptr, V.rows, V.cols);
  const bool unknown = V.absent == Absent::Unknown;
  const DeviceChoice choice =
      core::masked_hals_rule(core::choose_device_for(V, opt.device), opt, unknown);
  if constexpr (!std::is_same_v<T, float>) {
    if (choice.device == Device::Cuda) {  // the GPU computes in float
      std::vector<float> values;
      return widened_all<T>(
          detail::factorize_many<float, I>(core::float_values(V, values), core::on_gpu(opt), restarts),
          choice, began);
    }
  }
  auto make = [&](int count) {
    return core::make_backend<T, I>(choice.device, V, opt.rank, opt, count);
  };
  auto start = [&](core::Backend<T>& b, int r) {
    core::set_start<T>(b, restart_options(opt, r), nullptr, nullptr);
  };
  const int fitting = choice.device == Device::Cpu
                          ? restarts_fitting_in_ram(V.rows, V.cols, opt.rank, sizeof(T))
                          : restarts;
  return run_in_groups<T>(restarts, opt, choice, unknown, nullptr, make, start, fitting, began);
}

#define NMFUSE_MANY_ENTRY_POINTS(T)                                                       \
  template std::vector<Result<T>> factorize_many(DenseView<const T>, const Options&, int, \
                                                 const MaskView*, const Starts<T>*,       \
                                                 const Starts<T>*);                       \
  template std::vector<Result<T>> factorize_many(CsrView<T, std::int32_t>, const Options&, \
                                                 int);                                    \
  template std::vector<Result<T>> factorize_many(CsrView<T, std::int64_t>, const Options&, int);
NMFUSE_MANY_ENTRY_POINTS(float)
NMFUSE_MANY_ENTRY_POINTS(double)
#undef NMFUSE_MANY_ENTRY_POINTS

}  // namespace detail
}  // namespace nmfuse
