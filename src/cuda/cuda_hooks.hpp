#pragma once
// What the core asks of the CUDA backend. Implemented in src/cuda/ when CUDA is
// compiled in (the CUDA module, behind module_loader.cpp), and by stub.cpp otherwise,
// so the core has no #ifdef (Ginkgo's hooks).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "core/backend.hpp"
#include "nmfuse/device.hpp"
#include "nmfuse/options.hpp"
#include "nmfuse/sparse.hpp"

namespace nmfuse::cuda {

struct GpuStatus {
  int usable = 0;      // devices that can run kernels
  std::string reason;  // "NVIDIA H200 (device 0 of 1)" or why there is none
};

// What a CUDA backend needs to know of the options before it allocates.
struct GpuSettings {
  bool allow_tf32 = false;
  bool extrapolation = false;  // HALS extrapolation: two more factor-sized buffers
  bool general_beta = false;   // β ∉ {1, 2}: denominator products, a second ratio block
  bool masked = false;         // a byte per entry of V
  int batch = 1;               // restarts side by side (core/backend.hpp)
  OutOfCore out_of_core = OutOfCore::Auto;  // dense host V: in GPU memory or streamed
  std::int64_t out_of_core_block = 0;       // streamed: the most bytes of V a stage holds
};

bool compiled();  // by libnmfuse, not the module

// Never throws: no driver and no device both mean zero usable GPUs.
GpuStatus probe();

// The CUDA backend on device 0, working in float, for V on the host (copied once to
// the GPU) or already on the GPU (used in place, on `stream`). Both check first that
// the problem fits in free GPU memory. Throw NotCompiled in the stub.
std::unique_ptr<core::Backend<float>> make_backend(DenseView<const float> V, int rank,
                                                   GpuSettings settings);
std::unique_ptr<core::Backend<float>> make_device_backend(const DeviceView& V, int rank,
                                                          CUstream_st* stream,
                                                          GpuSettings settings);

// The CUDA backend for CSR V on the host: V and Vᵀ copied once to the GPU in CSR.
std::unique_ptr<core::Backend<float>> make_sparse_backend(CsrView<float, std::int32_t> V,
                                                          int rank, GpuSettings settings);
std::unique_ptr<core::Backend<float>> make_sparse_backend(CsrView<float, std::int64_t> V,
                                                          int rank, GpuSettings settings);

// Throws InvalidArgument naming the first negative, NaN or infinite entry of V (or zero
// one, where the loss needs V positive).
void check_device_matrix(const DeviceView& V, CUstream_st* stream, bool positive);

// W (m×k column-major) and H (k×n row-major) of a CUDA backend, handed over in place.
std::pair<DeviceMatrix, DeviceMatrix> take_factors(core::Backend<float>& b);

// A distributed run's processes, one GPU each (src/distributed/factorize_distributed.cpp):
// the GPU this process computes on from now on, (its place among its machine's
// processes) mod (the machine's GPUs), set before anything opens a context (cudaSetDevice);
// and its identity, the device's UUID in hex, which tells whether two processes were
// handed the same GPU.
std::string select_device(int place_on_machine);

// Sums of a GPU buffer across the GPUs of the processes of one communicator, in place,
// through NCCL: every process gets the same bits, done when sum() returns.
class GpuSum {
 public:
  virtual ~GpuSum() = default;
  virtual void sum(float* device, std::size_t count, CUstream_st* stream) = 0;
};
// Collective over the communicator's `processes`; this one is `process`. share_id(bytes,
// size) broadcasts the bytes of process 0 to the others (the NCCL id, through MPI).
// Sums of up to `largest` floats; their buffer is allocated here. Null where the module
// was built without NCCL.
std::unique_ptr<GpuSum> link_gpus(int processes, int process, std::size_t largest,
                                  const std::function<void(void*, std::size_t)>& share_id);

}  // namespace nmfuse::cuda
