#include "core/device_choice.hpp"

namespace nmfuse::core {

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

DeviceChoice masked_hals_rule(DeviceChoice choice, const Options& opt, bool masked) {
  if (!masked || resolved_solver(opt) != Solver::HALS || opt.rank <= kMaskedGpuRank ||
      choice.device != Device::Cuda)
    return choice;
  if (opt.device == Device::Cuda)
    throw NotCompiled("HALS with unknown entries takes rank ≤ 64 on the GPU: use device cpu or "
                      "solver mu");
  return {Device::Cpu, "HALS with unknown entries takes rank ≤ 64 on the GPU"};
}

cuda::GpuSettings gpu_settings(const Options& opt, bool masked) {
  const double beta = beta_of(opt);
  const bool extrapolation = opt.hals_extrapolate && resolved_solver(opt) == Solver::HALS;
  cuda::GpuSettings settings{opt.allow_tf32, extrapolation, masked || (beta != 1 && beta != 2),
                             masked};
  settings.out_of_core = opt.out_of_core;
  settings.out_of_core_block = opt.out_of_core_block;
  return settings;
}

}  // namespace nmfuse::core
