// The CUDA backend for dense V: V, the factors and every working buffer live on the
// GPU; cuBLAS computes the big products, the factor side (cuda_factors.cuh) the rest.
// Per iteration only the loss pieces (a few scalars) cross to the host.
#include <thrust/find.h>

#include <cmath>
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

class CudaDenseBackend final : public CudaFactors {
 public:
  // V on the host is copied once to the GPU, packed in its own layout.
  CudaDenseBackend(DenseView<const float> V, int k, GpuSettings settings)
      : CudaFactors(V.rows, V.cols, k, OwnStream{}, settings),
        A_(core::column_view(V.rows, V.cols, V.ld, V.layout)) {
    check_memory(needed_bytes(true));
    V_owned_ = DeviceBuffer<float>(std::size_t(V.rows * V.cols));
    upload_packed(V.data);
    A_.ld = A_.rows;
    V_ = V_owned_.data();
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

  void multiply_host(Side s, const float* X, int width, float* out) override {
    const bool w = s == Side::W;
    const index_t inner = w ? cols() : rows(), outer = w ? rows() : cols();
    DeviceBuffer<float> x(std::size_t(inner) * width), y(std::size_t(outer) * width);
    NMFUSE_CUDA_TRY(cudaMemcpyAsync(x.data(), X, x.size() * sizeof(float),
                                    cudaMemcpyHostToDevice, stream()));
    gemm(plan_gemm(stored_V(), !w, core::column_major(inner, width), false, outer), V_,
         x.data(), y.data());
    NMFUSE_CUDA_TRY(cudaMemcpyAsync(out, y.data(), y.size() * sizeof(float),
                                    cudaMemcpyDeviceToHost, stream()));
    NMFUSE_CUDA_TRY(cudaStreamSynchronize(stream()));
  }

  void product(Side s, int blocks) override {
    const Side p = core::partner(s);
    gemm(plan_gemm(stored_V(), s == Side::H, core::column_major(factor_rows(p), k() * blocks),
                   false, factor_rows(s)),
         V_, factor(p, blocks).data(), big_product(s, blocks).data());
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
    for_each_wh_block(Exact::AsAllowed, [&](index_t j0, index_t nb, float* R) {
      kernels::kl_ratio_block(R, V_, A_.ld, A_.rows, j0, nb, stream());
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
    for_each_wh_block(Exact::AsAllowed, [&](index_t j0, index_t nb, float* WH) {
      kernels::beta_ratio_block(WH, second_block_.data(), V_, A_.ld, A_.rows, j0, nb, beta,
                                mask(), stream());
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
    for_each_wh_block(Exact::Yes, [&](index_t j0, index_t nb, float* WH) {
      total += thrust::transform_reduce(thrust_policy(), thrust::counting_iterator<index_t>(0),
                                        thrust::counting_iterator<index_t>(A_.rows * nb),
                                        PointwiseOf<Op>{column_data(), WH, j0, mask(), op}, 0.0,
                                        thrust::plus<double>());
    });
    return total;
  }

  // The part of a product with a block function R_A[:, j0:j0+nb] of A (as on the CPU):
  // side L: out += R_A[:, blk] · R_factor[blk, :];  side R: out[blk, :] = R_A[:, blk]ᵀ · L.
  void block_product(Side s, index_t j0, index_t nb, const float* R, float* out) {
    const Side left = A_.left, right = core::partner(left);
    const StoredMatrix r = core::column_major(A_.rows, nb);
    if (s == left)
      gemm(plan_gemm(r, false, factor_block(right, nb), false, A_.rows), R,
           factor(right).data() + j0, out, j0 == 0 ? 0.0f : 1.0f);
    else
      gemm(plan_gemm(r, true, core::column_major(A_.rows, k()), false, A_.cols), R,
           factor(left).data(), out + j0);
  }

  index_t ratio_block() const {
    return std::clamp<index_t>(kRatioBlockEntries / A_.rows, 1, A_.cols);
  }

  // A's columns, host to GPU, packed: one plain copy where A is packed already, a 2D
  // copy where the pitches allow it, else column by column.
  void upload_packed(const float* host) {
    const std::size_t column = A_.rows * sizeof(float);
    int max_pitch = 0;
    NMFUSE_CUDA_TRY(cudaDeviceGetAttribute(&max_pitch, cudaDevAttrMaxPitch, device()));
    if (A_.ld == A_.rows) {
      NMFUSE_CUDA_TRY(cudaMemcpyAsync(V_owned_.data(), host, column * A_.cols,
                                      cudaMemcpyHostToDevice, stream()));
    } else if (A_.ld * sizeof(float) <= std::size_t(max_pitch)) {
      NMFUSE_CUDA_TRY(cudaMemcpy2DAsync(V_owned_.data(), column, host, A_.ld * sizeof(float),
                                        column, A_.cols, cudaMemcpyHostToDevice, stream()));
    } else {
      for (index_t j = 0; j < A_.cols; ++j)
        NMFUSE_CUDA_TRY(cudaMemcpyAsync(V_owned_.data() + j * A_.rows, host + j * A_.ld, column,
                                        cudaMemcpyHostToDevice, stream()));
    }
  }

  static int device() {
    int d = 0;
    NMFUSE_CUDA_TRY(cudaGetDevice(&d));
    return d;
  }

  // Bytes the backend needs on the GPU: V's copy (for host data), the ratio blocks and
  // the mask, beside the factor side.
  double needed_bytes(bool copy_of_V) const {
    const double block = double(A_.rows * ratio_block());
    return sizeof(float) * (double(factor_floats()) + (1 + settings_.general_beta) * block +
                            (copy_of_V ? double(rows()) * double(cols()) : 0.0)) +
           (settings_.masked ? double(rows()) * double(cols()) : 0.0);
  }

  // Calls fn(j0, nb, WH) for column blocks of L·Rᵀ ≈ A (A_.rows×nb, column-major,
  // scratch that fn may overwrite), bounding the extra memory to kRatioBlockEntries.
  template <class Fn>
  void for_each_wh_block(Exact exact, Fn fn) {
    const Side left = A_.left, right = core::partner(left);
    const index_t block = ratio_block();
    if (ratio_.size() == 0) ratio_ = DeviceBuffer<float>(std::size_t(A_.rows * block));
    for (index_t j0 = 0; j0 < A_.cols; j0 += block) {
      const index_t nb = std::min(block, A_.cols - j0);
      const core::GemmPlan plan = plan_gemm(core::column_major(A_.rows, k()), false,
                                            factor_block(right, nb), true, A_.rows);
      gemm(exact, plan, factor(left).data(), factor(right).data() + j0, ratio_.data());
      fn(j0, nb, ratio_.data());
    }
  }

  template <class F>
  double reduce_data(F f) {
    return thrust::transform_reduce(thrust_policy(),
                                    thrust::counting_iterator<index_t>(0),
                                    thrust::counting_iterator<index_t>(A_.rows * A_.cols),
                                    EntryOf<F>{column_data(), f}, 0.0, thrust::plus<double>());
  }

  core::ColumnView A_;  // V read column by column in storage order
  DeviceBuffer<float> V_owned_;
  const float* V_ = nullptr;
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
