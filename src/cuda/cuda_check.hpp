#pragma once
// Error checks that carry the call, the error's name and file:line into a CudaError
// (or OutOfDeviceMemory), and a no-throw form for destructors.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusparse.h>

#include <string>

#include "nmfuse/errors.hpp"

namespace nmfuse::cuda {

[[noreturn]] inline void throw_cuda(cudaError_t err, const char* call, const char* file, int line) {
  static_cast<void>(cudaGetLastError());  // clear it: the next call must not report it again
  const std::string what = std::string(call) + " failed with " + cudaGetErrorName(err) + " (" +
                           cudaGetErrorString(err) + ") at " + file + ":" + std::to_string(line);
  if (err == cudaErrorMemoryAllocation) throw OutOfDeviceMemory(what);
  throw CudaError(what);
}

[[noreturn]] inline void throw_cublas(cublasStatus_t status, const char* call, const char* file,
                                      int line) {
  const std::string what = std::string(call) + " failed with " + cublasGetStatusName(status) +
                           " (" + cublasGetStatusString(status) + ") at " + file + ":" +
                           std::to_string(line);
  if (status == CUBLAS_STATUS_ALLOC_FAILED) throw OutOfDeviceMemory(what);
  throw CudaError(what);
}

[[noreturn]] inline void throw_cusparse(cusparseStatus_t status, const char* call,
                                        const char* file, int line) {
  const std::string what = std::string(call) + " failed with " + cusparseGetErrorName(status) +
                           " (" + cusparseGetErrorString(status) + ") at " + file + ":" +
                           std::to_string(line);
  if (status == CUSPARSE_STATUS_ALLOC_FAILED) throw OutOfDeviceMemory(what);
  throw CudaError(what);
}

}  // namespace nmfuse::cuda

#define NMFUSE_CUDA_TRY(call)                                                      \
  do {                                                                             \
    const cudaError_t nmfuse_err = (call);                                         \
    if (nmfuse_err != cudaSuccess)                                                 \
      ::nmfuse::cuda::throw_cuda(nmfuse_err, #call, __FILE__, __LINE__);           \
  } while (0)

#define NMFUSE_CUBLAS_TRY(call)                                                    \
  do {                                                                             \
    const cublasStatus_t nmfuse_status = (call);                                   \
    if (nmfuse_status != CUBLAS_STATUS_SUCCESS)                                    \
      ::nmfuse::cuda::throw_cublas(nmfuse_status, #call, __FILE__, __LINE__);      \
  } while (0)

#define NMFUSE_CUSPARSE_TRY(call)                                                  \
  do {                                                                             \
    const cusparseStatus_t nmfuse_status = (call);                                 \
    if (nmfuse_status != CUSPARSE_STATUS_SUCCESS)                                  \
      ::nmfuse::cuda::throw_cusparse(nmfuse_status, #call, __FILE__, __LINE__);    \
  } while (0)

// In destructors: a failure to release cannot be reported, only not made worse.
#define NMFUSE_CUDA_TRY_NO_THROW(call) static_cast<void>(call)

// After every kernel launch: a bad configuration shows here, not later (and is cleared).
#define NMFUSE_CHECK_LAUNCH() NMFUSE_CUDA_TRY(cudaGetLastError())
