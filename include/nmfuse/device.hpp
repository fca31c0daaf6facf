#pragma once
// Factoring data that already lives on the GPU, without a round trip to the host.
// Compiles without the CUDA toolkit: a stream is passed as the runtime's own opaque
// pointer type (cudaStream_t is CUstream_st*).
#include <memory>

#include "nmfuse/options.hpp"
#include "nmfuse/result.hpp"
#include "nmfuse/view.hpp"

struct CUstream_st;

namespace nmfuse {

// A dense float matrix in GPU memory that someone else owns (see DenseView for ld).
struct DeviceView {
  const float* data = nullptr;
  index_t rows = 0;
  index_t cols = 0;
  Layout layout = Layout::RowMajor;
  index_t ld = 0;

  DeviceView() = default;
  DeviceView(const float* data_, index_t rows_, index_t cols_,
             Layout layout_ = Layout::RowMajor, index_t ld_ = 0)
      : data(data_), rows(rows_), cols(cols_), layout(layout_),
        ld(ld_ != 0 ? ld_ : (layout_ == Layout::RowMajor ? cols_ : rows_)) {}
};

// A packed float matrix in GPU memory owned by nmfuse; copies share it, and the last
// one frees it.
class DeviceMatrix {
 public:
  DeviceMatrix() = default;
  DeviceMatrix(std::shared_ptr<float> data, index_t rows, index_t cols, Layout layout)
      : data_(std::move(data)), rows_(rows), cols_(cols), layout_(layout) {}
  float* data() const { return data_.get(); }
  index_t rows() const { return rows_; }
  index_t cols() const { return cols_; }
  Layout layout() const { return layout_; }

 private:
  std::shared_ptr<float> data_;
  index_t rows_ = 0, cols_ = 0;
  Layout layout_ = Layout::ColMajor;
};

struct DeviceResult : RunInfo {
  DeviceMatrix W;  // m×k, column-major, on the GPU
  DeviceMatrix H;  // k×n, row-major, on the GPU
};

// Factors V in place on the GPU, working on `stream` (nullptr: the default stream).
// opt.device must be Auto or Cuda; init Custom is not available here.
DeviceResult factorize(const DeviceView& V, const Options& opt, CUstream_st* stream = nullptr);

}  // namespace nmfuse
