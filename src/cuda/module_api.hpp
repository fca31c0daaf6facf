#pragma once
// The one symbol a CUDA module exports: a table of the functions of cuda_hooks.hpp.
// libnmfuse opens the module with dlopen on the first GPU request or probe
// (module_loader.cpp), so a CPU run never loads the CUDA libraries. The real module
// (nvcc, cuBLAS, cuSPARSE) and the emulated one (tests/cuda_emulator/) are two builds of
// the same sources; both are built by this project, with the same compiler and
// standard library, so C++ types cross the boundary.
#include "cuda/cuda_hooks.hpp"

namespace nmfuse::cuda {

// Raised whenever the table changes shape.
constexpr int kModuleAbi = 2;

struct ModuleApi {
  int abi;
  GpuStatus (*probe)();
  std::unique_ptr<core::Backend<float>> (*make_backend)(DenseView<const float>, int, GpuSettings);
  std::unique_ptr<core::Backend<float>> (*make_device_backend)(const DeviceView&, int,
                                                               CUstream_st*, GpuSettings);
  std::unique_ptr<core::Backend<float>> (*make_sparse_backend_32)(CsrView<float, std::int32_t>,
                                                                  int, GpuSettings);
  std::unique_ptr<core::Backend<float>> (*make_sparse_backend_64)(CsrView<float, std::int64_t>,
                                                                  int, GpuSettings);
  void (*check_device_matrix)(const DeviceView&, CUstream_st*, bool);
  std::pair<DeviceMatrix, DeviceMatrix> (*take_factors)(core::Backend<float>&);
  std::string (*select_device)(int);
  std::unique_ptr<GpuSum> (*link_gpus)(int, int, std::size_t,
                                       const std::function<void(void*, std::size_t)>&);
};

// The loaded module's dlopen handle (null where none loaded): tests find the runtime
// functions of the module they run against through it.
void* module_handle();

}  // namespace nmfuse::cuda

#define NMFUSE_CUDA_MODULE_ENTRY "nmfuse_cuda_module"
