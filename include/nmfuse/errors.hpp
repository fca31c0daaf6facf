#pragma once
// Every failure nmfuse reports is an nmfuse::Error; the subclasses say whose fault it was.
#include <stdexcept>
#include <string>

namespace nmfuse {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A bad option, a bad matrix or a bad file: the caller can fix it.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// A file could not be read or written.
class IoError : public Error {
 public:
  using Error::Error;
};

// The requested backend was not built into this copy of nmfuse.
class NotCompiled : public Error {
 public:
  using Error::Error;
};

// The CUDA backend was requested but no usable GPU is present.
class DeviceUnavailable : public Error {
 public:
  using Error::Error;
};

// The problem does not fit in free GPU memory.
class OutOfDeviceMemory : public Error {
 public:
  using Error::Error;
};

// CUDA, cuBLAS or cuSPARSE reported a failure while running.
class CudaError : public Error {
 public:
  using Error::Error;
};

}  // namespace nmfuse
