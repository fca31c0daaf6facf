// The CUDA backend for dense V: the factors and every working buffer live on the GPU,
// and V too where it fits; cuBLAS computes the big products, the factor side
// (cuda_factors.cuh) the rest. Per iteration only the loss pieces (a few scalars) cross
// to the host, unless V is streamed: then it crosses once per pass, block by block.
#include <thrust/find.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "core/column_view.hpp"
#include "cuda/cuda_factors.cuh"
#include "k_dispatch.hpp"

namespace nmfuse::cuda {
namespace {

// Working memory of one KL ratio block, in entries (64 MiB of float).
constexpr index_t kRatioBlockEntries = index_t(1) << 24;

// A (core/column_view.hpp) on the device: V read column by column in storage order,
// so that consecutive threads read consecutive addresses.
struct ColumnData {
  const float* data;
  index_t rows, ld;
  __host__ __device__ float at(index_t i, index_t j) const { return data[j * ld + i]; }
};

// f(A(i, j)) summed in double over all entries, enumerated in storage order.
template <class F>
struct EntryOf {
  ColumnData A;
  F f;
  __host__ __device__ double operator()(index_t e) const { return f(A.at(e % A.rows, e / A.rows)); }
};
struct Identity {
  __host__ __device__ double operator()(float v) const { return v; }
};
struct Square {
  __host__ __device__ double operator()(float v) const { return double(v) * v; }
};
// op(A(i, j0 + j), WH(i, j)) over a block of WH (A.rows×nb, column-major), at the
// observed entries (all, when `observed` is null).
template <class Op>
struct PointwiseOf {
  ColumnData A;
  const float* wh;
  index_t j0;
  const std::uint8_t* observed;
  Op op;
  __host__ __device__ double operator()(index_t e) const {
    const index_t i = e % A.rows, j = j0 + e / A.rows;
    if (observed && observed[j * A.rows + i] == 0) return 0.0;
    return op(A.at(i, j), wh[e]);
  }
};
struct IsBad {
  ColumnData A;
  bool positive;  // zero is bad too
  __host__ __device__ bool operator()(index_t e) const {
    const float v = A.at(e % A.rows, e / A.rows);
    return !(isfinite(v) && (positive ? v > 0.0f : v >= 0.0f));
  }
};

// Columns j0 … j0 + count − 1 of a column-major host matrix (leading dimension ld) into
// packed device memory: one plain copy where they are packed already, a 2D copy where
// the pitch allows it (max_pitch: the device's), else column by column.
int max_pitch() {
  int pitch = 0, d = 0;
  NMFUSE_CUDA_TRY(cudaGetDevice(&d));
  NMFUSE_CUDA_TRY(cudaDeviceGetAttribute(&pitch, cudaDevAttrMaxPitch, d));
  return pitch;
}

void upload_columns(float* device, const float* host, index_t rows, index_t ld, index_t j0,
                    index_t count, int max_pitch, cudaStream_t stream) {
  const std::size_t column = rows * sizeof(float);
  const float* first = host + j0 * ld;
  if (ld == rows) {
    NMFUSE_CUDA_TRY(cudaMemcpyAsync(device, first, column * count, cudaMemcpyHostToDevice, stream));
  } else if (ld * sizeof(float) <= std::size_t(max_pitch)) {
    NMFUSE_CUDA_TRY(cudaMemcpy2DAsync(device, column, first, ld * sizeof(float), column, count,
                                      cudaMemcpyHostToDevice, stream));
  } else {
    for (index_t j = 0; j < count; ++j)
      NMFUSE_CUDA_TRY(cudaMemcpyAsync(device + j * rows, first + j * ld, column,
                                      cudaMemcpyHostToDevice, stream));
  }
}

// A dense V that stays on the host (out of core, DESIGN.md §6): A's columns go to the
// GPU a block at a time, into one of two stages, on a copy stream of their own. Where V
// could be pinned, each block's copy overlaps the products of the block before; every
// copy waits until the stage it overwrites has been read.
class StreamedColumns {
 public:
  StreamedColumns(const float* host, const core::ColumnView& A, index_t block)
      : host_(host), A_(A), block_(block),
        pinned_(host, sizeof(float) * std::size_t((A.cols - 1) * A.ld + A.rows)) {
    for (DeviceBuffer<float>& s : stage_) s = DeviceBuffer<float>(std::size_t(A.rows * block));
  }
  ~StreamedColumns() {  // nothing may still read or write the stages
    NMFUSE_CUDA_TRY_NO_THROW(cudaStreamSynchronize(copy_.get()));
    for (const Event& read : read_) NMFUSE_CUDA_TRY_NO_THROW(cudaEventSynchronize(read.get()));
  }

  index_t block() const { return block_; }
  bool pinned() const { return pinned_.pinned(); }

  // fn(j0, nb, data) for A's column blocks in order: data is columns j0 … j0 + nb − 1
  // of A, packed (A.rows×nb), on the GPU, for the work fn queues on `compute`.
  template <class Fn>
  void each(cudaStream_t compute, Fn fn) {
    const index_t blocks = (A_.cols + block_ - 1) / block_;
    upload(0);
    for (index_t b = 0; b < blocks; ++b) {
      // Pinned, the next copy is queued first and runs beside this block's products. From
      // pageable memory a copy holds the host until it is done: the products go first.
      if (pinned() && b + 1 < blocks) upload(b + 1);
      const int s = int(b % 2);
      NMFUSE_CUDA_TRY(cudaStreamWaitEvent(compute, copied_[s].get(), 0));
      const index_t j0 = b * block_;
      fn(j0, std::min(block_, A_.cols - j0), static_cast<const float*>(stage_[s].data()));
      NMFUSE_CUDA_TRY(cudaEventRecord(read_[s].get(), compute));
      if (!pinned() && b + 1 < blocks) upload(b + 1);
    }
  }

 private:
  void upload(index_t b) {
    const int s = int(b % 2);
    const index_t j0 = b * block_;
    NMFUSE_CUDA_TRY(cudaStreamWaitEvent(copy_.get(), read_[s].get(), 0));
    upload_columns(stage_[s].data(), host_, A_.rows, A_.ld, j0, std::min(block_, A_.cols - j0),
                   max_pitch_, copy_.get());
    NMFUSE_CUDA_TRY(cudaEventRecord(copied_[s].get(), copy_.get()));
  }

  const float* host_;
  core::ColumnView A_;
  index_t block_;
  int max_pitch_ = max_pitch();
  PinnedRange pinned_;
  DeviceBuffer<float> stage_[2];
  Event copied_[2], read_[2];  // a stage's copy is done; its last block has been read
  Stream copy_;
};

// Where a block of A's columns lies on the GPU: A(i, first + j) of the block's column j
// is data[(first + j)·ld + i] (in GPU-resident V, first = j0; in a stage, 0).
struct DataBlock {
  const float* data;
  index_t ld, first;
};

class CudaDenseBackend final : public CudaFactors {
 public:
  // V on the host is copied once to the GPU, packed in its own layout, where it fits
  // (settings.out_of_core decides); else it is streamed there block by block.
  CudaDenseBackend(DenseView<const float> V, int k, GpuSettings settings)
      : CudaFactors(V.rows, V.cols, k, OwnStream{}, settings),
        A_(core::column_view(V.rows, V.cols, V.ld, V.layout)) {
    if (streams_V()) {
      const index_t block = stage_columns();
      check_memory(needed_bytes_streamed(block));
      streamed_.emplace(V.data, A_, block);
    } else {
      check_memory(needed_bytes(true));
      V_owned_ = DeviceBuffer<float>(std::size_t(V.rows * V.cols));
      upload_columns(V_owned_.data(), V.data, A_.rows, A_.ld, 0, A_.cols, max_pitch(), stream());
      A_.ld = A_.rows;
      V_ = V_owned_.data();
    }
    allocate_factors();
  }

  // V already on the GPU is used in place, on the caller's stream.
  CudaDenseBackend(const DeviceView& V, int k, cudaStream_t stream, GpuSettings settings)
      : CudaFactors(V.rows, V.cols, k, stream, settings),
        A_(core::column_view(V.rows, V.cols, V.ld, V.layout)), V_(V.data) {
    check_memory(needed_bytes(false));
    allocate_factors();
  }

  double sum_of_data() override { return reduce_data(Identity{}); }
  double sum_of_squared_data() override { return reduce_data(Square{}); }

  std::string data_placement() const override {
    if (!streamed_) return {};
    return "V (" + mib(sizeof(float) * double(rows()) * double(cols())) +
           ") streamed to the GPU in blocks of " + std::to_string(streamed_->block()) + " of its " +
           std::to_string(A_.cols) + (A_.left == Side::W ? " columns" : " rows") +
           (streamed_->pinned() ? "" : " from unpinned memory") +
           (settings_.out_of_core == OutOfCore::On ? ", as out_of_core = on asks"
                                                   : ": it does not fit in free GPU memory");
  }

  void multiply_host(Side s, const float* X, int width, float* out) override {
    const bool w = s == Side::W;
    const index_t inner = w ? cols() : rows(), outer = w ? rows() : cols();
    DeviceBuffer<float> x(std::size_t(inner) * width), y(std::size_t(outer) * width);
    NMFUSE_CUDA_TRY(cudaMemcpyAsync(x.data(), X, x.size() * sizeof(float),
                                    cudaMemcpyHostToDevice, stream()));
    multiply(s, x.data(), width, y.data());
    NMFUSE_CUDA_TRY(cudaMemcpyAsync(out, y.data(), y.size() * sizeof(float),
                                    cudaMemcpyDeviceToHost, stream()));
    NMFUSE_CUDA_TRY(cudaStreamSynchronize(stream()));
  }

  void product(Side s, int blocks) override {
    multiply(s, factor(core::partner(s), blocks).data(), k() * blocks,
             big_product(s, blocks).data());
  }

  void update_hals_masked(Side s, kernels::Penalty<float> pen, int max_sweeps,
                          float inner_tol) override {
    if (k() > kernels::kMaxFastRank)  // factorize() sends these to the CPU first
      throw NotCompiled("HALS with a mask of observed entries takes k ≤ 64 on the GPU");
    kernels::hals_masked(factor(s).data(), factor_rows(s), factor(core::partner(s)).data(),
                         factor_rows(core::partner(s)), k(), V_, A_.ld, A_.rows, mask(),
                         s == A_.left, pen, max_sweeps, inner_tol, stream());
  }

  // As on the CPU: R_A = A ⊘ (L·Rᵀ) in column blocks of A.
  void kl_product(Side s) override {
    for_each_wh_block(Exact::AsAllowed, [&](index_t j0, index_t nb, float* R, DataBlock v) {
      kernels::kl_ratio_block(R, v.data, v.ld, A_.rows, v.first, nb, stream());
      block_product(s, j0, nb, R, big_product(s).data());
    });
  }

  void set_mask(const std::uint8_t* observed) override {
    mask_ = DeviceBuffer<std::uint8_t>(std::size_t(A_.rows * A_.cols));
    NMFUSE_CUDA_TRY(cudaMemcpyAsync(mask_.data(), observed, mask_.size(), cudaMemcpyHostToDevice,
                                    stream()));
    NMFUSE_CUDA_TRY(cudaStreamSynchronize(stream()));
  }

  void beta_products(Side s, float beta) override {
    DeviceBuffer<float>& D = denominator_product(s);
    // Sized here: a resumed run comes here before any pass has sized ratio_.
    if (second_block_.size() == 0)
      second_block_ = DeviceBuffer<float>(std::size_t(A_.rows * ratio_block()));
    for_each_wh_block(Exact::AsAllowed, [&](index_t j0, index_t nb, float* WH, DataBlock v) {
      kernels::beta_ratio_block(WH, second_block_.data(), v.data, v.ld, A_.rows, v.first, nb,
                                beta, mask(), stream());
      block_product(s, j0, nb, WH, big_product(s).data());
      block_product(s, j0, nb, second_block_.data(), D.data());
    });
  }

  double beta_divergence_sum(float beta) override { return sum_pointwise(BetaDivergence{beta}); }
  double kl_pointwise_sum() override { return sum_pointwise(KlPointwise{}); }
  double squared_residual_sum() override { return sum_pointwise(SquaredResidual{}); }

 private:
  StoredMatrix stored_V() const {
    // A column-major m×n V is A; a row-major one is Aᵀ (A is n×m column-major).
    return A_.left == Side::W ? StoredMatrix{rows(), cols(), A_.ld, Layout::ColMajor}
                              : StoredMatrix{rows(), cols(), A_.ld, Layout::RowMajor};
  }
  ColumnData column_data() const { return {V_, A_.rows, A_.ld}; }
  const std::uint8_t* mask() const { return mask_.size() ? mask_.data() : nullptr; }
  // Σ op(v, wh) over every entry of A and of L·Rᵀ, in double. A loss: L·Rᵀ in full
  // float, whatever allow_tf32 says (the squared residual is summed exactly where the
  // expanded loss has cancelled away).
  template <class Op>
  double sum_pointwise(Op op) {
    double total = 0;
    for_each_wh_block(Exact::Yes, [&](index_t, index_t nb, float* WH, DataBlock v) {
      total += thrust::transform_reduce(
          thrust_policy(), thrust::counting_iterator<index_t>(0),
          thrust::counting_iterator<index_t>(A_.rows * nb),
          PointwiseOf<Op>{ColumnData{v.data, A_.rows, v.ld}, WH, v.first, mask(), op}, 0.0,
          thrust::plus<double>());
    });
    return total;
  }

  // The part of a product of A (or a block function R_A of it) with Y (column-major,
  // `width` columns) that columns j0 … j0 + nb − 1 of A make, from R (A.rows×nb, leading
  // dimension ld), as on the CPU. Side L: out += R · Y[j0:j0+nb, :] (Y has A.cols
  // rows); side R: out[j0:j0+nb, :] = Rᵀ · Y (Y has A.rows rows).
  void block_gemm(Side s, index_t j0, index_t nb, const float* R, index_t ld, const float* Y,
                  int width, float* out) {
    const StoredMatrix r{A_.rows, nb, ld, Layout::ColMajor};
    if (s == A_.left)
      gemm(plan_gemm(r, false, StoredMatrix{nb, width, A_.cols, Layout::ColMajor}, false,
                     A_.rows),
           R, Y + j0, out, j0 == 0 ? 0.0f : 1.0f);
    else
      gemm(plan_gemm(r, true, core::column_major(A_.rows, width), false, A_.cols), R, Y,
           out + j0);
  }
  // With the partner's factor for Y, R a packed block function of A.
  void block_product(Side s, index_t j0, index_t nb, const float* R, float* out) {
    block_gemm(s, j0, nb, R, A_.rows, factor(core::partner(s)).data(), k(), out);
  }

  // out = V·Y (s = W; Y n×width, out m×width) or Vᵀ·Y (s = H), on the GPU: one GEMM where
  // V lies there, else one a block as the blocks arrive.
  void multiply(Side s, const float* Y, int width, float* out) {
    if (!streamed_) {
      gemm(plan_gemm(stored_V(), s == Side::H, core::column_major(factor_rows(core::partner(s)), width),
                     false, factor_rows(s)),
           V_, Y, out);
      return;
    }
    streamed_->each(stream(), [&](index_t j0, index_t nb, const float* block) {
      block_gemm(s, j0, nb, block, A_.rows, Y, width, out);
    });
  }

  // Out of core when out_of_core says so, or, at Auto, when V does not fit. Never with a
  // mask: masked HALS reads V in place (checked_dense_input refuses on with a mask).
  bool streams_V() const {
    if (settings_.masked) return false;
    if (settings_.out_of_core == OutOfCore::On) return true;
    return settings_.out_of_core == OutOfCore::Auto && needed_bytes(true) > free_for_buffers();
  }
  // The widest stage (in columns of A) that fits beside the factors: two stages and the
  // ratio blocks (one, or two for general β), at most out_of_core_block bytes (or the
  // usual ratio block).
  index_t stage_columns() const {
    const double per_column = sizeof(float) * double(A_.rows) * (3 + settings_.general_beta);
    const double room = free_for_buffers() - sizeof(float) * double(factor_floats());
    const index_t fits = room > 0 ? index_t(room / per_column) : 0;
    const index_t asked = settings_.out_of_core_block > 0
                              ? index_t(settings_.out_of_core_block / (sizeof(float) * A_.rows))
                              : kRatioBlockEntries / A_.rows;
    return std::clamp<index_t>(std::min(fits, asked), 1, A_.cols);
  }
  double needed_bytes_streamed(index_t block) const {
    return sizeof(float) * (double(factor_floats()) +
                            (3 + settings_.general_beta) * double(A_.rows) * double(block));
  }

  // Streamed, the ratio blocks are the stages' blocks.
  index_t ratio_block() const {
    if (streamed_) return streamed_->block();
    return std::clamp<index_t>(kRatioBlockEntries / A_.rows, 1, A_.cols);
  }

  // Bytes the backend needs on the GPU: V's copy (for host data), the ratio blocks and
  // the mask, beside the factor side.
  double needed_bytes(bool copy_of_V) const {
    const double block = double(A_.rows * ratio_block());
    return sizeof(float) * (double(factor_floats()) + (1 + settings_.general_beta) * block +
                            (copy_of_V ? double(rows()) * double(cols()) : 0.0)) +
           (settings_.masked ? double(rows()) * double(cols()) : 0.0);
  }

  // Calls fn(j0, nb, WH, v) for column blocks of L·Rᵀ ≈ A (A_.rows×nb, column-major,
  // scratch that fn may overwrite) and the same columns of A (v), bounding the extra
  // memory to kRatioBlockEntries (or to the stages, where V is streamed).
  template <class Fn>
  void for_each_wh_block(Exact exact, Fn fn) {
    const Side left = A_.left, right = core::partner(left);
    const index_t block = ratio_block();
    if (ratio_.size() == 0) ratio_ = DeviceBuffer<float>(std::size_t(A_.rows * block));
    auto wh_block = [&](index_t j0, index_t nb) {
      const core::GemmPlan plan = plan_gemm(core::column_major(A_.rows, k()), false,
                                            factor_block(right, nb), true, A_.rows);
      gemm(exact, plan, factor(left).data(), factor(right).data() + j0, ratio_.data());
    };
    if (streamed_) {
      streamed_->each(stream(), [&](index_t j0, index_t nb, const float* v) {
        wh_block(j0, nb);
        fn(j0, nb, ratio_.data(), DataBlock{v, A_.rows, 0});
      });
      return;
    }
    for (index_t j0 = 0; j0 < A_.cols; j0 += block) {
      const index_t nb = std::min(block, A_.cols - j0);
      wh_block(j0, nb);
      fn(j0, nb, ratio_.data(), DataBlock{V_, A_.ld, j0});
    }
  }

  template <class F>
  double reduce_data(F f) {
    auto sum = [&](ColumnData A, index_t cols) {
      return thrust::transform_reduce(thrust_policy(), thrust::counting_iterator<index_t>(0),
                                      thrust::counting_iterator<index_t>(A_.rows * cols),
                                      EntryOf<F>{A, f}, 0.0, thrust::plus<double>());
    };
    if (!streamed_) return sum(column_data(), A_.cols);
    double total = 0;
    streamed_->each(stream(), [&](index_t, index_t nb, const float* v) {
      total += sum(ColumnData{v, A_.rows, A_.rows}, nb);
    });
    return total;
  }

  core::ColumnView A_;  // V read column by column in storage order
  DeviceBuffer<float> V_owned_;
  const float* V_ = nullptr;                // V on the GPU, or null where it is streamed
  std::optional<StreamedColumns> streamed_;  // V on the host, streamed to the GPU
  DeviceBuffer<float> ratio_, second_block_;  // ratio blocks (β: a second one)
  DeviceBuffer<std::uint8_t> mask_;           // observed entries in A's order, or empty
};

}  // namespace

GpuStatus probe() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    static_cast<void>(cudaGetLastError());  // not sticky: clear it
    return {0, std::string("the CUDA runtime reports ") + cudaGetErrorName(err) + ": " +
                   cudaGetErrorString(err)};
  }
  if (count == 0) return {0, "the CUDA runtime sees no device"};
  int device = 0;
  cudaDeviceProp prop{};
  if (cudaGetDevice(&device) != cudaSuccess || cudaGetDeviceProperties(&prop, device) != cudaSuccess) {
    static_cast<void>(cudaGetLastError());
    return {0, "the current CUDA device did not answer cudaGetDeviceProperties"};
  }
  const std::string name = std::string(prop.name) + " (sm_" + std::to_string(prop.major) +
                           std::to_string(prop.minor) + ", device " + std::to_string(device) +
                           " of " + std::to_string(count) + ")";
  // A GPU older than the code built (NMFUSE_CUDA_ARCHITECTURES) runs cuBLAS, not ours.
  if (const cudaError_t image = kernels::kernels_run_here(); image != cudaSuccess) {
    static_cast<void>(cudaGetLastError());
    return {0, name + " cannot run nmfuse's kernels, built for " NMFUSE_CUDA_ARCHITECTURES
                      " (" + cudaGetErrorName(image) + ")"};
  }
  return {count, name};
}

std::unique_ptr<core::Backend<float>> make_backend(DenseView<const float> V, int rank,
                                                   GpuSettings settings) {
  return std::make_unique<CudaDenseBackend>(V, rank, settings);
}

std::unique_ptr<core::Backend<float>> make_device_backend(const DeviceView& V, int rank,
                                                          CUstream_st* stream,
                                                          GpuSettings settings) {
  return std::make_unique<CudaDenseBackend>(V, rank, stream, settings);
}

void check_device_matrix(const DeviceView& V, CUstream_st* stream, bool positive) {
  cudaPointerAttributes where{};
  int current = 0;
  if (cudaPointerGetAttributes(&where, V.data) != cudaSuccess ||
      (where.type != cudaMemoryTypeDevice && where.type != cudaMemoryTypeManaged)) {
    static_cast<void>(cudaGetLastError());
    throw InvalidArgument("V (on the GPU) has data that is not GPU memory");
  }
  NMFUSE_CUDA_TRY(cudaGetDevice(&current));
  if (where.type == cudaMemoryTypeDevice && where.device != current) {
    throw InvalidArgument("V (on the GPU) is on device " + std::to_string(where.device) +
                          ", but the current device is " + std::to_string(current));
  }
  const core::ColumnView A = core::column_view(V.rows, V.cols, V.ld, V.layout);
  const index_t count = A.rows * A.cols;
  const auto first = thrust::counting_iterator<index_t>(0);
  const auto bad = thrust::find_if(thrust::cuda::par.on(stream), first, first + count,
                                   IsBad{{V.data, A.rows, A.ld}, positive});
  if (bad == first + count) return;
  const index_t e = *bad, a_row = e % A.rows, a_col = e / A.rows;
  float v = 0;
  NMFUSE_CUDA_TRY(cudaMemcpy(&v, V.data + a_col * A.ld + a_row, sizeof(float), cudaMemcpyDeviceToHost));
  const bool transposed = A.left == Side::H;  // A = Vᵀ
  std::ostringstream msg;
  msg << "V (" << V.rows << "×" << V.cols << ", on the GPU) has "
      << (std::isnan(v)   ? "a NaN"
          : std::isinf(v) ? "an infinite"
          : v == 0        ? "a zero (the loss needs every entry positive)"
                          : "a negative")
      << " entry at ("
      << (transposed ? a_col : a_row) << ", " << (transposed ? a_row : a_col) << "): " << v;
  throw InvalidArgument(msg.str());
}

std::pair<DeviceMatrix, DeviceMatrix> take_factors(core::Backend<float>& b) {
  return dynamic_cast<CudaFactors&>(b).take_factors();
}

}  // namespace nmfuse::cuda
