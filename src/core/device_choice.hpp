#pragma once
// Which device a run takes: what was asked for, what the probe found, and the limits
// of the GPU's kernels. `reason` is what RunInfo::device_reason reports.
#include <string>

#include "core/float_conversion.hpp"
#include "cuda/cuda_hooks.hpp"
#include "nmfuse/device.hpp"
#include "nmfuse/errors.hpp"
#include "nmfuse/options.hpp"

namespace nmfuse::core {

// The GPU's masked HALS keeps a row's Gram in shared memory (kernels/update_kernels.cu).
constexpr int kMaskedGpuRank = 64;

struct DeviceChoice {
  Device device;
  std::string reason;
};

DeviceChoice choose_device(Device requested);

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

// The GPU's masked HALS keeps a row's Gram in shared memory: above that rank, Auto
// runs on the CPU and an explicit Cuda is refused.
DeviceChoice masked_hals_rule(DeviceChoice choice, const Options& opt, bool masked);

cuda::GpuSettings gpu_settings(const Options& opt, bool masked);

}  // namespace nmfuse::core
