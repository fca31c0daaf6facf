#pragma once
// The emulated GPU's inner interface: what device.hpp's macros and kernels/launch.cuh
// call, and what the runtime, cuBLAS and cuSPARSE parts share. A test tool: it runs the
// unchanged CUDA sources on the CPU and checks what a real GPU would not report.
#include <cuda_runtime.h>

#include <cstddef>
#include <functional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace nmfuse::emulator {

// Prints "nmfuse emulated GPU: <what>" and aborts: a kernel fault, which a real GPU
// would report later (or never) as an illegal address.
[[noreturn]] void fault(const std::string& what);

// The running GPU thread's coordinates; a fault outside a kernel.
const uint3& thread_index();
const uint3& block_index();
const dim3& block_dim();
const dim3& grid_dim();
// A barrier of the block: every thread still running must wait at this one.
void syncthreads(const char* file, int line);

// Whether [p, p + bytes) lies inside one live device allocation.
bool is_device_range(const void* p, std::size_t bytes);

// Work on a stream runs only where CUDA promises it has run: at a synchronization.
using Task = std::function<void()>;
void enqueue(cudaStream_t stream, Task task);
void synchronize(cudaStream_t stream);
void synchronize_device();
void set_last_error(cudaError_t err);

// Checks the launch configuration and queues the grid; each GPU thread runs body().
void launch_grid(dim3 grid, dim3 block, std::size_t shared_bytes, cudaStream_t stream,
                 std::string kernel, std::function<void()> body);

// "the kernel taking (float*, const float*, ...)", from launch_kernel's signature.
std::string kernel_name(const char* pretty_function);

template <class P>
void check_argument(const P& p, int position, const std::string& kernel) {
  if constexpr (std::is_pointer_v<P>) {
    if (p != nullptr && !is_device_range(p, 1))
      fault("argument " + std::to_string(position) + " of " + kernel +
            " is not GPU memory (a host pointer, or freed)");
  }
}

// kernel<<<grid, block, shared_bytes, stream>>>(args...): the arguments are converted
// to the kernel's parameters and copied at the launch, as CUDA does.
template <class... Params, class... Args>
void launch_kernel(dim3 grid, dim3 block, std::size_t shared_bytes, cudaStream_t stream,
                   void (*kernel)(Params...), Args&&... args) {
  const std::string name = kernel_name(__PRETTY_FUNCTION__);
  auto params = std::make_tuple(std::decay_t<Params>(std::forward<Args>(args))...);
  std::apply([&](const auto&... p) {
    int position = 0;
    (check_argument(p, ++position, name), ...);
  }, params);
  launch_grid(grid, block, shared_bytes, stream, name,
              [kernel, params] { std::apply(kernel, params); });
}

}  // namespace nmfuse::emulator
