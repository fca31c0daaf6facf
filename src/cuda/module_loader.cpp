// libnmfuse's side of cuda_hooks.hpp in a CUDA build: the CUDA module, opened with
// dlopen on the first GPU request or probe, so that a CPU run never loads cuBLAS and
// cuSPARSE and a CUDA build starts where they are absent (probe() says why). The first
// question goes to the CUDA runtime alone (2 MB, against 270 MB resident for the
// module's libraries): only where it sees a device is the module opened.
//
// The module is found beside libnmfuse, then by the dynamic loader's search path.
// NMFUSE_CUDA_MODULE, a test harness's switch, picks the emulated GPU instead:
//   emulated          always;
//   gpu-or-emulated   the real module where it sees a usable GPU, else the emulated one.
// Device::Auto never picks the emulated GPU otherwise.
#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "cuda/module_api.hpp"
#include "nmfuse/errors.hpp"

namespace nmfuse::cuda {
namespace {

constexpr const char* kRealModule = "libnmfuse_cuda.so";
constexpr const char* kCudaRuntime = NMFUSE_CUDART_SONAME;  // libcudart.so.<major>
constexpr const char* kEmulatedModule = "libnmfuse_cuda_emulated.so";

struct Module {
  const ModuleApi* api = nullptr;
  void* handle = nullptr;
  std::string error;  // why api is null
  std::string note;   // said after the probe's reason (the emulated GPU)
};

std::string library_directory() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&library_directory), &info) == 0 || !info.dli_fname) return {};
  const std::string self = info.dli_fname;
  const auto slash = self.rfind('/');
  return slash == std::string::npos ? std::string() : self.substr(0, slash + 1);
}

Module open_module(const char* file) {
  Module m;
  const std::string beside = library_directory() + file;
  m.handle = dlopen(beside.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!m.handle) {
    const std::string first = dlerror();
    m.handle = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (!m.handle) {
      m.error = "the CUDA module could not be loaded: " + first;
      return m;
    }
  }
  using Entry = const ModuleApi* (*)();
  auto entry = reinterpret_cast<Entry>(dlsym(m.handle, NMFUSE_CUDA_MODULE_ENTRY));
  if (!entry) {
    m.error = std::string(file) + " has no " + NMFUSE_CUDA_MODULE_ENTRY;
    return m;
  }
  const ModuleApi* api = entry();
  if (api->abi != kModuleAbi) {
    m.error = std::string(file) + " is of another nmfuse build (module ABI " +
              std::to_string(api->abi) + ", expected " + std::to_string(kModuleAbi) + ")";
    return m;
  }
  m.api = api;
  return m;
}

// How many devices the CUDA runtime sees, or why none; nothing where the loader's search
// path does not find the runtime (the module then finds it through its own RUNPATH).
std::optional<GpuStatus> runtime_devices() {
  void* runtime = dlopen(kCudaRuntime, RTLD_NOW | RTLD_LOCAL);  // kept open, as the module's
  if (!runtime) return std::nullopt;
  using Count = cudaError_t (*)(int*);
  using Name = const char* (*)(cudaError_t);
  const auto count = reinterpret_cast<Count>(dlsym(runtime, "cudaGetDeviceCount"));
  const auto name = reinterpret_cast<Name>(dlsym(runtime, "cudaGetErrorName"));
  const auto text = reinterpret_cast<Name>(dlsym(runtime, "cudaGetErrorString"));
  if (!count || !name || !text) return std::nullopt;
  int devices = 0;
  const cudaError_t err = count(&devices);
  if (err != cudaSuccess)
    return GpuStatus{0, std::string("the CUDA runtime reports ") + name(err) + ": " + text(err)};
  if (devices == 0) return GpuStatus{0, "the CUDA runtime sees no device"};
  return GpuStatus{devices, ""};
}

Module open_emulated(const std::string& why) {
  Module m = open_module(kEmulatedModule);
  m.note = "; the emulated GPU, a test tool (" + why + ")";
  return m;
}

Module choose() {
  const char* v = std::getenv("NMFUSE_CUDA_MODULE");
  const std::string choice = v ? v : "";
  if (choice == "emulated") return open_emulated("NMFUSE_CUDA_MODULE=emulated");
  const bool or_emulated = choice == "gpu-or-emulated";
  const std::optional<GpuStatus> devices = runtime_devices();
  if (devices && devices->usable == 0) {
    if (or_emulated) return open_emulated("NMFUSE_CUDA_MODULE=gpu-or-emulated, and " + devices->reason);
    Module none;
    none.error = devices->reason;
    return none;
  }
  Module real = open_module(kRealModule);
  if (!or_emulated) return real;
  if (!real.api) return open_emulated("NMFUSE_CUDA_MODULE=gpu-or-emulated, and " + real.error);
  const GpuStatus gpu = real.api->probe();  // a device the kernels cannot run on is none
  if (gpu.usable > 0) return real;
  return open_emulated("NMFUSE_CUDA_MODULE=gpu-or-emulated, and " + gpu.reason);
}

const Module& module() {
  static const Module m = choose();
  return m;
}

const ModuleApi& api() {
  const Module& m = module();
  if (!m.api) throw DeviceUnavailable("the CUDA backend is not available: " + m.error);
  return *m.api;
}

}  // namespace

void* module_handle() { return module().api ? module().handle : nullptr; }

bool compiled() { return true; }

GpuStatus probe() {
  const Module& m = module();
  if (!m.api) return {0, m.error};
  GpuStatus s = m.api->probe();
  s.reason += m.note;
  return s;
}

std::unique_ptr<core::Backend<float>> make_backend(DenseView<const float> V, int rank,
                                                   GpuSettings settings) {
  return api().make_backend(V, rank, settings);
}

std::unique_ptr<core::Backend<float>> make_device_backend(const DeviceView& V, int rank,
                                                          CUstream_st* stream,
                                                          GpuSettings settings) {
  return api().make_device_backend(V, rank, stream, settings);
}

std::unique_ptr<core::Backend<float>> make_sparse_backend(CsrView<float, std::int32_t> V,
                                                          int rank, GpuSettings settings) {
  return api().make_sparse_backend_32(V, rank, settings);
}

std::unique_ptr<core::Backend<float>> make_sparse_backend(CsrView<float, std::int64_t> V,
                                                          int rank, GpuSettings settings) {
  return api().make_sparse_backend_64(V, rank, settings);
}

void check_device_matrix(const DeviceView& V, CUstream_st* stream, bool positive) {
  api().check_device_matrix(V, stream, positive);
}

std::pair<DeviceMatrix, DeviceMatrix> take_factors(core::Backend<float>& b) {
  return api().take_factors(b);
}

std::string select_device(int place_on_machine) { return api().select_device(place_on_machine); }

std::unique_ptr<GpuSum> link_gpus(int processes, int process, std::size_t largest,
                                  const std::function<void(void*, std::size_t)>& share_id) {
  return api().link_gpus(processes, process, largest, share_id);
}

}  // namespace nmfuse::cuda
