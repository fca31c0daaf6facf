// Stands in for the CUDA backend in a build without the CUDA toolkit.
#include "cuda/cuda_hooks.hpp"
#include "nmfuse/errors.hpp"

namespace nmfuse::cuda {

bool compiled() { return false; }

GpuStatus probe() { return {0, "nmfuse was built without CUDA"}; }

std::unique_ptr<core::Backend<float>> make_backend(DenseView<const float>, int) {
  throw NotCompiled("device cuda: nmfuse was built without CUDA (no nvcc at configure time)");
}

}  // namespace nmfuse::cuda
