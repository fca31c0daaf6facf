// Stands in for the CUDA backend in a build without the CUDA toolkit.
#include "cuda/cuda_hooks.hpp"
#include "nmfuse/errors.hpp"

namespace nmfuse::cuda {
namespace {

[[noreturn]] void not_compiled() {
  throw NotCompiled("device cuda: nmfuse was built without CUDA (no nvcc at configure time)");
}

}  // namespace

bool compiled() { return false; }

GpuStatus probe() { return {0, "nmfuse was built without CUDA"}; }

std::unique_ptr<core::Backend<float>> make_backend(DenseView<const float>, int, GpuSettings) {
  not_compiled();
}

std::unique_ptr<core::Backend<float>> make_device_backend(const DeviceView&, int, CUstream_st*,
                                                          GpuSettings) {
  not_compiled();
}

std::unique_ptr<core::Backend<float>> make_sparse_backend(CsrView<float, std::int32_t>, int,
                                                          GpuSettings) {
  not_compiled();
}

std::unique_ptr<core::Backend<float>> make_sparse_backend(CsrView<float, std::int64_t>, int,
                                                          GpuSettings) {
  not_compiled();
}

void check_device_matrix(const DeviceView&, CUstream_st*, bool) { not_compiled(); }

std::pair<DeviceMatrix, DeviceMatrix> take_factors(core::Backend<float>&) { not_compiled(); }

std::string select_device(int) { not_compiled(); }

std::unique_ptr<GpuSum> link_gpus(int, int, std::size_t,
                                  const std::function<void(void*, std::size_t)>&) {
  not_compiled();
}

}  // namespace nmfuse::cuda
