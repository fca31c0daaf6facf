// The entry point of a CUDA module (real or emulated): the table of its functions.
// Everything else in a module is hidden, so that its names never meet libnmfuse's.
#include "cuda/module_api.hpp"

namespace {

std::unique_ptr<nmfuse::core::Backend<float>> sparse_32(
    nmfuse::CsrView<float, std::int32_t> V, int rank, nmfuse::cuda::GpuSettings s) {
  return nmfuse::cuda::make_sparse_backend(V, rank, s);
}
std::unique_ptr<nmfuse::core::Backend<float>> sparse_64(
    nmfuse::CsrView<float, std::int64_t> V, int rank, nmfuse::cuda::GpuSettings s) {
  return nmfuse::cuda::make_sparse_backend(V, rank, s);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) const nmfuse::cuda::ModuleApi*
nmfuse_cuda_module() {
  using namespace nmfuse::cuda;
  static const ModuleApi api{kModuleAbi,       probe,     make_backend, make_device_backend,
                             sparse_32,        sparse_64, check_device_matrix,
                             take_factors,     select_device, link_gpus};
  return &api;
}
