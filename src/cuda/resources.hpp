#pragma once
// Move-only owners of GPU memory, a stream, a cuBLAS and a cuSPARSE handle. Each acquires in its
// constructor and releases in its destructor, so a failure part-way leaks nothing.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>
#include <algorithm>

#include "cuda_check.hpp"

namespace nmfuse::cuda {

template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t count) : count_(count) {
    if (count > 0) NMFUSE_CUDA_TRY(cudaMalloc(&data_, count * sizeof(T)));
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), count_(std::exchange(o.count_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(count_, o.count_);
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (data_) NMFUSE_CUDA_TRY_NO_THROW(cudaFree(data_));
  }

  T* data() const { return data_; }
  std::size_t size() const { return count_; }

  // Hands the memory to a shared owner that frees it last.
  std::shared_ptr<T> share() && {
    T* p = std::exchange(data_, nullptr);
    count_ = 0;
    return std::shared_ptr<T>(p, [](T* q) { NMFUSE_CUDA_TRY_NO_THROW(cudaFree(q)); });
  }

 private:
  T* data_ = nullptr;
  std::size_t count_ = 0;
};

// Thrust's temporary storage from memory kept across calls: without it every reduction
// would cudaMalloc and cudaFree, and cudaFree synchronizes the whole device. Memory
// handed out stays valid until the allocator dies (a larger request adds a buffer).
class ThrustScratch {
 public:
  using value_type = char;
  char* allocate(std::ptrdiff_t bytes) {
    if (buffers_.empty() || buffers_.back().size() < std::size_t(bytes))
      buffers_.emplace_back(std::max<std::size_t>(std::size_t(bytes), 1 << 20));
    return buffers_.back().data();
  }
  void deallocate(char*, std::size_t) {}

 private:
  std::vector<DeviceBuffer<char>> buffers_;
};

class Stream {
 public:
  Stream() { NMFUSE_CUDA_TRY(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  ~Stream() { NMFUSE_CUDA_TRY_NO_THROW(cudaStreamDestroy(stream_)); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

class Event {
 public:
  Event() { NMFUSE_CUDA_TRY(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming)); }
  ~Event() { NMFUSE_CUDA_TRY_NO_THROW(cudaEventDestroy(event_)); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

// Host memory pinned for asynchronous copies while this lives, where the driver allows
// it: a read-only mapping (a memory-mapped .npy) needs cudaHostRegisterReadOnly, which
// not every GPU takes. pinned() says; memory the caller pinned already counts.
class PinnedRange {
 public:
  PinnedRange(const void* p, std::size_t bytes) : p_(const_cast<void*>(p)) {
    cudaError_t err = cudaHostRegister(p_, bytes, cudaHostRegisterPortable);
    if (err != cudaSuccess && err != cudaErrorHostMemoryAlreadyRegistered) {
      (void)cudaGetLastError();  // a refusal is not an error of ours
      err = cudaHostRegister(p_, bytes, cudaHostRegisterPortable | cudaHostRegisterReadOnly);
    }
    owned_ = err == cudaSuccess;
    pinned_ = owned_ || err == cudaErrorHostMemoryAlreadyRegistered;
    if (!owned_) (void)cudaGetLastError();
  }
  ~PinnedRange() {
    if (owned_) NMFUSE_CUDA_TRY_NO_THROW(cudaHostUnregister(p_));
  }
  PinnedRange(const PinnedRange&) = delete;
  PinnedRange& operator=(const PinnedRange&) = delete;
  bool pinned() const { return pinned_; }

 private:
  void* p_;
  bool owned_ = false, pinned_ = false;  // we pinned it; it is pinned
};

class CublasHandle {
 public:
  CublasHandle(cudaStream_t stream, bool allow_tf32) {
    NMFUSE_CUBLAS_TRY(cublasCreate(&handle_));
    try {
      NMFUSE_CUBLAS_TRY(cublasSetStream(handle_, stream));
      NMFUSE_CUBLAS_TRY(cublasSetMathMode(
          handle_, allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    } catch (...) {
      cublasDestroy(handle_);
      throw;
    }
  }
  ~CublasHandle() { static_cast<void>(cublasDestroy(handle_)); }
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;
  cublasHandle_t get() const { return handle_; }

 private:
  cublasHandle_t handle_ = nullptr;
};

class CusparseHandle {
 public:
  explicit CusparseHandle(cudaStream_t stream) {
    NMFUSE_CUSPARSE_TRY(cusparseCreate(&handle_));
    const cusparseStatus_t status = cusparseSetStream(handle_, stream);
    if (status != CUSPARSE_STATUS_SUCCESS) {
      cusparseDestroy(handle_);
      throw_cusparse(status, "cusparseSetStream", __FILE__, __LINE__);
    }
  }
  ~CusparseHandle() { static_cast<void>(cusparseDestroy(handle_)); }
  CusparseHandle(const CusparseHandle&) = delete;
  CusparseHandle& operator=(const CusparseHandle&) = delete;
  cusparseHandle_t get() const { return handle_; }

 private:
  cusparseHandle_t handle_ = nullptr;
};

}  // namespace nmfuse::cuda
