// The CUDA backend: V, the factors and every working buffer live on the GPU; cuBLAS
// computes the big products and Grams, kernels/ the fused per-row updates, Thrust the
// reductions. Per iteration only the loss pieces (a few scalars) cross to the host.
#include <thrust/execution_policy.h>
#include <thrust/find.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/transform_reduce.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>
#include <vector>

#include "core/column_view.hpp"
#include "core/gemm_plan.hpp"
#include "k_dispatch.hpp"
#include "cuda/cuda_hooks.hpp"
#include "cuda/resources.hpp"
#include "update_kernels.cuh"

namespace nmfuse::cuda {
namespace {

using core::Side;
using core::StoredMatrix;

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
struct Product {
  const float* a;
  const float* b;
  __host__ __device__ double operator()(index_t e) const { return double(a[e]) * b[e]; }
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
struct KlPointwise {
  __host__ __device__ double operator()(float v, float wh) const {
    return kernels::kl_pointwise(v, wh);
  }
};
struct SquaredResidual {
  __host__ __device__ double operator()(float v, float wh) const {
    return (double(v) - wh) * (double(v) - wh);
  }
};
struct BetaDivergence {
  float beta;
  __host__ __device__ double operator()(float v, float wh) const {
    return kernels::beta_divergence(v, wh, beta);
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

std::string mib(double bytes) {
  std::ostringstream s;
  s.precision(1);
  s << std::fixed << bytes / (1024.0 * 1024.0) << " MiB";
  return s.str();
}

class CudaBackend final : public core::Backend<float> {
 public:
  // V on the host is copied once to the GPU, packed in its own layout.
  CudaBackend(DenseView<const float> V, int k, GpuSettings settings)
      : Backend(V.rows, V.cols, k), stream_(std::in_place),
        blas_(stream_->get(), settings.allow_tf32),
        A_(core::column_view(V.rows, V.cols, V.ld, V.layout)), settings_(settings) {
    check_memory(true);
    V_owned_ = DeviceBuffer<float>(std::size_t(V.rows * V.cols));
    upload_packed(V.data);
    A_.ld = A_.rows;
    V_ = V_owned_.data();
    allocate();
  }

  // V already on the GPU is used in place, on the caller's stream.
  CudaBackend(const DeviceView& V, int k, cudaStream_t stream, GpuSettings settings)
      : Backend(V.rows, V.cols, k), caller_stream_(stream), blas_(stream, settings.allow_tf32),
        A_(core::column_view(V.rows, V.cols, V.ld, V.layout)), settings_(settings), V_(V.data) {
    check_memory(false);
    allocate();
  }

  // Thrust on our stream, with temporary storage that is kept (resources.hpp).
  auto thrust_policy() { return thrust::cuda::par(thrust_scratch_).on(stream()); }

  double data_sum() override { return reduce_data(Identity{}); }
  double data_squared_norm() override { return reduce_data(Square{}); }

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

  void set_factor(Side s, const float* host) override {
    NMFUSE_CUDA_TRY(cudaMemcpyAsync(factor(s).data(), host, factor(s).size() * sizeof(float),
                                    cudaMemcpyHostToDevice, stream()));
    NMFUSE_CUDA_TRY(cudaStreamSynchronize(stream()));
  }
  void get_factor(Side s, float* host) override {
    NMFUSE_CUDA_TRY(cudaMemcpyAsync(host, factor(s).data(), factor(s).size() * sizeof(float),
                                    cudaMemcpyDeviceToHost, stream()));
    NMFUSE_CUDA_TRY(cudaStreamSynchronize(stream()));
  }

  void product(Side s) override {
    const Side p = core::partner(s);
    gemm(plan_gemm(stored_V(), s == Side::H, core::column_major(factor_rows(p), k()), false,
                   factor_rows(s)),
         V_, factor(p).data(), big_product(s).data());
  }

  void gram(Side s) override {
    const StoredMatrix x = core::column_major(factor_rows(s), k());
    gemm(plan_gemm(x, true, x, false, k()), factor(s).data(), factor(s).data(),
         gram_of(s).data());
  }

  void update_mu_frobenius(Side s, kernels::Penalty<float> pen) override {
    kernels::mu_frobenius(factor(s).data(), big_product(s).data(),
                          gram_of(core::partner(s)).data(), row_scratch_.data(), factor_rows(s),
                          k(), pen, stream());
  }

  void update_hals(Side s, kernels::Penalty<float> pen, int max_sweeps, float inner_tol) override {
    kernels::hals(factor(s).data(), big_product(s).data(), gram_of(core::partner(s)).data(),
                  row_scratch_.data(), factor_rows(s), k(), pen, max_sweeps, inner_tol, stream());
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
    for_each_wh_block([&](index_t j0, index_t nb, float* R) {
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
    if (second_block_.size() == 0) second_block_ = DeviceBuffer<float>(ratio_.size());
    for_each_wh_block([&](index_t j0, index_t nb, float* WH) {
      kernels::beta_ratio_block(WH, second_block_.data(), V_, A_.ld, A_.rows, j0, nb, beta,
                                mask(), stream());
      block_product(s, j0, nb, WH, big_product(s).data());
      block_product(s, j0, nb, second_block_.data(), D.data());
    });
  }

  void update_mu_beta(Side s, kernels::Penalty<float> pen, float gamma) override {
    kernels::mu_beta(factor(s).data(), big_product(s).data(), denominator_product(s).data(),
                     factor_rows(s), k(), pen, gamma, stream());
  }

  double beta_divergence_sum(float beta) override { return sum_pointwise(BetaDivergence{beta}); }

  void extrapolate(Side s, float beta) override {
    DeviceBuffer<float>& previous = s == Side::W ? previous_W_ : previous_H_;
    if (previous.size() == 0) previous = DeviceBuffer<float>(factor(s).size());
    if (beta == 0.0f) {
      NMFUSE_CUDA_TRY(cudaMemcpyAsync(previous.data(), factor(s).data(),
                                      previous.size() * sizeof(float), cudaMemcpyDeviceToDevice,
                                      stream()));
      return;
    }
    kernels::extrapolate(factor(s).data(), previous.data(), index_t(factor(s).size()), beta,
                         stream());
  }

  void column_sums(Side s) override {
    kernels::column_sums(factor(s).data(), factor_rows(s), k(), sums_of(s).data(), stream());
  }

  void update_mu_kl(Side s, kernels::Penalty<float> pen) override {
    kernels::mu_kl(factor(s).data(), big_product(s).data(), sums_of(core::partner(s)).data(),
                   factor_rows(s), k(), pen, stream());
  }

  double dot_factor_product(Side s) override { return dot(factor(s), big_product(s)); }
  double dot_grams() override { return dot(GW_, GH_); }
  double dot_column_sums() override { return dot(cW_, cH_); }

  double kl_pointwise_sum() override { return sum_pointwise(KlPointwise{}); }
  double squared_residual_sum() override { return sum_pointwise(SquaredResidual{}); }

  std::pair<DeviceMatrix, DeviceMatrix> take_factors() {
    NMFUSE_CUDA_TRY(cudaStreamSynchronize(stream()));
    return {DeviceMatrix(std::move(W_).share(), rows(), k(), Layout::ColMajor),
            DeviceMatrix(std::move(Ht_).share(), k(), cols(), Layout::RowMajor)};
  }

 private:
  int k() const { return rank(); }
  cudaStream_t stream() const { return stream_ ? stream_->get() : caller_stream_; }

  StoredMatrix stored_V() const {
    // A column-major m×n V is A; a row-major one is Aᵀ (A is n×m column-major).
    return A_.left == Side::W ? StoredMatrix{rows(), cols(), A_.ld, Layout::ColMajor}
                              : StoredMatrix{rows(), cols(), A_.ld, Layout::RowMajor};
  }
  ColumnData column_data() const { return {V_, A_.rows, A_.ld}; }
  const std::uint8_t* mask() const { return mask_.size() ? mask_.data() : nullptr; }
  // Σ op(v, wh) over every entry of A and of L·Rᵀ, in double.
  template <class Op>
  double sum_pointwise(Op op) {
    double total = 0;
    for_each_wh_block([&](index_t j0, index_t nb, float* WH) {
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

  DeviceBuffer<float>& denominator_product(Side s) {
    DeviceBuffer<float>& D = s == Side::W ? DW_ : DH_;
    if (D.size() == 0) D = DeviceBuffer<float>(std::size_t(factor_rows(s)) * k());
    return D;
  }

  // nb consecutive rows of the factor of side s, inside its column-major buffer.
  StoredMatrix factor_block(Side s, index_t nb) const {
    return {nb, index_t(k()), factor_rows(s), Layout::ColMajor};
  }
  index_t ratio_block() const { return std::clamp<index_t>(kRatioBlockEntries / A_.rows, 1, A_.cols); }

  DeviceBuffer<float>& factor(Side s) { return s == Side::W ? W_ : Ht_; }
  DeviceBuffer<float>& big_product(Side s) { return s == Side::W ? PW_ : PH_; }
  DeviceBuffer<float>& gram_of(Side s) { return s == Side::W ? GW_ : GH_; }
  DeviceBuffer<float>& sums_of(Side s) { return s == Side::W ? cW_ : cH_; }

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

  // Every buffer the loop needs, in floats, beside V itself.
  std::size_t working_floats() const {
    const std::size_t m = rows(), n = cols(), kk = k();
    const std::size_t block = std::size_t(A_.rows * ratio_block());
    const std::size_t scratch = kernels::fast_path(std::max(m, n), k()) ? 0 : std::max(m, n) * kk;
    return (2 + settings_.extrapolation + settings_.general_beta) * (m + n) * kk +
           (1 + settings_.general_beta) * block + 2 * kk * kk + 2 * kk + scratch +
           (settings_.masked ? m * n / sizeof(float) + 1 : 0);
  }

  void check_memory(bool with_V) const {
    std::size_t free = 0, total = 0;
    NMFUSE_CUDA_TRY(cudaMemGetInfo(&free, &total));
    const double need = double(working_floats() + (with_V ? std::size_t(rows() * cols()) : 0)) *
                        sizeof(float);
    if (need > double(free)) {
      throw OutOfDeviceMemory("a " + std::to_string(rows()) + "×" + std::to_string(cols()) +
                              " problem at rank " + std::to_string(k()) + " needs " + mib(need) +
                              " of GPU memory, but only " + mib(double(free)) + " of " +
                              mib(double(total)) + " is free");
    }
  }

  void allocate() {
    const std::size_t m = rows(), n = cols(), kk = k();
    W_ = DeviceBuffer<float>(m * kk);
    Ht_ = DeviceBuffer<float>(n * kk);
    PW_ = DeviceBuffer<float>(m * kk);
    PH_ = DeviceBuffer<float>(n * kk);
    GW_ = DeviceBuffer<float>(kk * kk);
    GH_ = DeviceBuffer<float>(kk * kk);
    cW_ = DeviceBuffer<float>(kk);
    cH_ = DeviceBuffer<float>(kk);
    if (!kernels::fast_path(std::max(m, n), k())) row_scratch_ = DeviceBuffer<float>(std::max(m, n) * kk);
  }

  // C = op(A)·op(B) (+ C when beta = 1), with the arguments CBLAS would take.
  void gemm(const core::GemmPlan& p, const float* a, const float* b, float* c,
            float beta = 0.0f) {
    if (p.m == 0 || p.n == 0) return;
    const float alpha = 1.0f;
    NMFUSE_CUBLAS_TRY(cublasSgemm(blas_.get(), p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                  p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, int(p.m), int(p.n),
                                  int(p.k), &alpha, a, int(p.lda), b, int(p.ldb), &beta, c,
                                  int(p.ldc)));
  }

  // Calls fn(j0, nb, WH) for column blocks of L·Rᵀ ≈ A (A_.rows×nb, column-major,
  // scratch that fn may overwrite), bounding the extra memory to kRatioBlockEntries.
  template <class Fn>
  void for_each_wh_block(Fn fn) {
    const Side left = A_.left, right = core::partner(left);
    const index_t block = ratio_block();
    if (ratio_.size() == 0) ratio_ = DeviceBuffer<float>(std::size_t(A_.rows * block));
    for (index_t j0 = 0; j0 < A_.cols; j0 += block) {
      const index_t nb = std::min(block, A_.cols - j0);
      gemm(plan_gemm(core::column_major(A_.rows, k()), false, factor_block(right, nb), true,
                     A_.rows),
           factor(left).data(), factor(right).data() + j0, ratio_.data());
      fn(j0, nb, ratio_.data());
    }
  }

  double dot(const DeviceBuffer<float>& a, const DeviceBuffer<float>& b) {
    return thrust::transform_reduce(thrust_policy(), thrust::counting_iterator<index_t>(0),
                                    thrust::counting_iterator<index_t>(index_t(a.size())),
                                    Product{a.data(), b.data()}, 0.0, thrust::plus<double>());
  }

  template <class F>
  double reduce_data(F f) {
    return thrust::transform_reduce(thrust_policy(),
                                    thrust::counting_iterator<index_t>(0),
                                    thrust::counting_iterator<index_t>(A_.rows * A_.cols),
                                    EntryOf<F>{column_data(), f}, 0.0, thrust::plus<double>());
  }

  std::optional<Stream> stream_;      // ours, for host data
  cudaStream_t caller_stream_ = nullptr;  // the caller's, for device data
  CublasHandle blas_;
  core::ColumnView A_;  // V read column by column in storage order
  GpuSettings settings_;
  DeviceBuffer<float> V_owned_;
  const float* V_ = nullptr;
  DeviceBuffer<float> W_, Ht_, PW_, PH_, GW_, GH_, cW_, cH_, ratio_, row_scratch_;
  DeviceBuffer<float> previous_W_, previous_H_;  // the iterates extrapolate() saw last
  DeviceBuffer<float> DW_, DH_, second_block_;   // β's denominator products and block
  DeviceBuffer<std::uint8_t> mask_;              // observed entries in A's order, or empty
  ThrustScratch thrust_scratch_;
};

}  // namespace

bool compiled() { return true; }

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
  return {count, std::string(prop.name) + " (device " + std::to_string(device) + " of " +
                     std::to_string(count) + ")"};
}

std::unique_ptr<core::Backend<float>> make_backend(DenseView<const float> V, int rank,
                                                   GpuSettings settings) {
  return std::make_unique<CudaBackend>(V, rank, settings);
}

std::unique_ptr<core::Backend<float>> make_device_backend(const DeviceView& V, int rank,
                                                          CUstream_st* stream,
                                                          GpuSettings settings) {
  return std::make_unique<CudaBackend>(V, rank, stream, settings);
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
  return dynamic_cast<CudaBackend&>(b).take_factors();
}

}  // namespace nmfuse::cuda
