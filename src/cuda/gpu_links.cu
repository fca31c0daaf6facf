// The module's side of a distributed run on GPUs (cuda_hooks.hpp): each process's GPU,
// and NCCL communicators between the processes' GPUs, made from an id that process 0
// draws and MPI hands to the others (NCCL's own recipe).
#include <cuda_runtime.h>

#include <cstdio>
#include <algorithm>
#include <cstring>
#include <string>

#include "cuda/cuda_check.hpp"
#include "cuda/cuda_hooks.hpp"
#include "cuda/resources.hpp"
#include "nmfuse/errors.hpp"

#if NMFUSE_HAVE_NCCL
#include <nccl.h>
#endif

namespace nmfuse::cuda {

std::string select_device(int place_on_machine) {
  int devices = 0;
  NMFUSE_CUDA_TRY(cudaGetDeviceCount(&devices));
  const int device = place_on_machine % std::max(devices, 1);
  NMFUSE_CUDA_TRY(cudaSetDevice(device));
  cudaDeviceProp prop{};
  NMFUSE_CUDA_TRY(cudaGetDeviceProperties(&prop, device));
  std::string uuid;
  for (const char byte : prop.uuid.bytes) {
    char hex[3];
    std::snprintf(hex, sizeof hex, "%02x", unsigned(static_cast<unsigned char>(byte)));
    uuid += hex;
  }
  return uuid;
}

#if NMFUSE_HAVE_NCCL
namespace {

void nccl_try(ncclResult_t result, const char* call) {
  if (result != ncclSuccess)
    throw CudaError(std::string(call) + " failed: " + ncclGetErrorString(result));
}

class NcclSum final : public GpuSum {
 public:
  NcclSum(int processes, int process, std::size_t largest,
          const std::function<void(void*, std::size_t)>& share_id)
      : processes_(processes), process_(process) {
    // Process 0 shares its id even where drawing it failed (all zeros), so that none
    // waits for it.
    ncclUniqueId id{}, none{};
    const ncclResult_t drawn = process == 0 ? ncclGetUniqueId(&id) : ncclSuccess;
    share_id(&id, sizeof id);
    nccl_try(drawn, "ncclGetUniqueId");
    if (std::memcmp(&id, &none, sizeof id) == 0)
      throw CudaError("ncclGetUniqueId failed on the communicator's first process");
    nccl_try(ncclCommInitRank(&comm_, processes, id, process), "ncclCommInitRank");
    padding_ = DeviceBuffer<float>((largest + processes - 1) / processes * processes);
  }
  ~NcclSum() override { ncclCommDestroy(comm_); }
  NcclSum(const NcclSum&) = delete;
  NcclSum& operator=(const NcclSum&) = delete;

  // A reduce-scatter then an all-gather, in place, as the host's sums: each piece is
  // summed on one GPU only, so every GPU gets the same bits. A count the processes do
  // not divide goes through a buffer padded with zeros, allocated with the link.
  void sum(float* data, std::size_t count, CUstream_st* stream) override {
    const std::size_t piece = (count + processes_ - 1) / processes_, padded = piece * processes_;
    float* whole = data;
    if (padded != count) {
      if (padding_.size() < padded)
        throw Error("internal: a sum of " + std::to_string(count) + " floats, past the " +
                    std::to_string(padding_.size()) + " its link was made for");
      whole = padding_.data();
      NMFUSE_CUDA_TRY(cudaMemcpyAsync(whole, data, count * sizeof(float),
                                      cudaMemcpyDeviceToDevice, stream));
      NMFUSE_CUDA_TRY(cudaMemsetAsync(whole + count, 0, (padded - count) * sizeof(float), stream));
    }
    float* mine = whole + piece * process_;
    nccl_try(ncclReduceScatter(whole, mine, piece, ncclFloat, ncclSum, comm_, stream),
             "ncclReduceScatter");
    nccl_try(ncclAllGather(mine, whole, piece, ncclFloat, comm_, stream), "ncclAllGather");
    if (whole != data)
      NMFUSE_CUDA_TRY(cudaMemcpyAsync(data, whole, count * sizeof(float),
                                      cudaMemcpyDeviceToDevice, stream));
    // The run's next step needs the sum, and its host-side collectives must not overtake it.
    NMFUSE_CUDA_TRY(cudaStreamSynchronize(stream));
  }

 private:
  int processes_, process_;
  ncclComm_t comm_ = nullptr;
  DeviceBuffer<float> padding_;
};

}  // namespace

std::unique_ptr<GpuSum> link_gpus(int processes, int process, std::size_t largest,
                                  const std::function<void(void*, std::size_t)>& share_id) {
  return std::make_unique<NcclSum>(processes, process, largest, share_id);
}
#else
std::unique_ptr<GpuSum> link_gpus(int, int, std::size_t,
                                  const std::function<void(void*, std::size_t)>&) {
  return nullptr;
}
#endif

}  // namespace nmfuse::cuda
