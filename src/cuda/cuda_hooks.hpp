#pragma once
// What the core asks of the CUDA backend. Implemented in src/cuda/ when CUDA is
// compiled in, and by stub.cpp otherwise, so the core has no #ifdef (Ginkgo's hooks).
#include <memory>
#include <string>

#include "core/backend.hpp"

namespace nmfuse::cuda {

struct GpuStatus {
  int usable = 0;      // devices that can run kernels
  std::string reason;  // "NVIDIA H200 (device 0)" or why there is none
};

bool compiled();

// Never throws: no driver and no device both mean zero usable GPUs.
GpuStatus probe();

// The CUDA backend on device 0, working in float. Throws NotCompiled in the stub.
std::unique_ptr<core::Backend<float>> make_backend(DenseView<const float> V, int rank);

}  // namespace nmfuse::cuda
