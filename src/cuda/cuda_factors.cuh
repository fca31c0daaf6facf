#pragma once
// The factor side of the CUDA backends: W, Ht and everything made from them alone
// (Grams by cuBLAS, the fused per-row updates of kernels/, column sums, dots by
// Thrust), on one stream. The data side (dense or CSR V) derives from it and checks
// that everything fits before it allocates.
#include <thrust/execution_policy.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/transform_reduce.h>

#include <algorithm>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

#include "core/backend.hpp"
#include "core/gemm_plan.hpp"
#include "cuda/cuda_hooks.hpp"
#include "cuda/resources.hpp"
#include "update_kernels.cuh"

namespace nmfuse::cuda {

using core::Side;
using core::StoredMatrix;

struct Product {
  const float* a;
  const float* b;
  __host__ __device__ double operator()(index_t e) const { return double(a[e]) * b[e]; }
};

// The loss's pieces at one entry of V (v) and of W·Htᵀ (wh), in double: both data
// sides sum them.
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

inline std::string mib(double bytes) {
  std::ostringstream s;
  s.precision(1);
  s << std::fixed << bytes / (1024.0 * 1024.0) << " MiB";
  return s.str();
}

// The entries of one block (or of a run of blocks) in a batch's buffer, on the GPU.
struct DeviceBlock {
  float* first;
  std::size_t count;
  float* data() const { return first; }
  std::size_t size() const { return count; }
};

class CudaFactors : public core::Backend<float> {
 public:
  void set_factor(Side s, const float* host) override {
    NMFUSE_CUDA_TRY(cudaMemcpyAsync(factor(s).data(), host, factor(s).size() * sizeof(float),
                                    cudaMemcpyHostToDevice, stream()));
    NMFUSE_CUDA_TRY(cudaStreamSynchronize(stream()));
  }
  void get_factor(Side s, float* host) override { to_host(factor(s).data(), host, s); }
  void get_product(Side s, float* host) override { to_host(big_product(s).data(), host, s); }
  void get_denominator(Side s, float* host) override {
    to_host(denominator_product(s).data(), host, s);
  }
  // In place through the GPUs' link where the processes have one, else by the host.
  void sum_across(Side s, core::Piece piece, core::ProcessSum& processes) override {
    const DeviceBlock b = piece_of(s, piece);
    if (processes.sums_on_gpu()) return processes.sum_on_gpu(b.data(), b.size(), stream());
    std::vector<float> host(b.size());
    copy_to_host(b.data(), host.data(), b.size());
    processes.sum(host.data(), host.size());
    to_device(host.data(), b.data(), b.size());
  }

  // One strided-batched GEMM: block b's Gram from block b's factor.
  void gram(Side s, int blocks) override {
    const long long rows = factor_rows(s), kk = k();
    const float one = 1.0f, zero = 0.0f;
    NMFUSE_CUBLAS_TRY(cublasSgemmStridedBatched(
        blas(), CUBLAS_OP_T, CUBLAS_OP_N, k(), k(), int(rows), &one, factor(s).data(), int(rows),
        rows * kk, factor(s).data(), int(rows), rows * kk, &zero, gram_of(s).data(), k(), kk * kk,
        blocks));
  }

  void update_mu_frobenius(Side s, kernels::Penalty<float> pen, int blocks) override {
    kernels::mu_frobenius(factor(s).data(), big_product(s).data(),
                          gram_of(core::partner(s)).data(), row_scratch_.data(), factor_rows(s),
                          k(), blocks, pen, stream());
  }

  void update_hals(Side s, kernels::Penalty<float> pen, int max_sweeps, float inner_tol,
                   int blocks) override {
    kernels::hals(factor(s).data(), big_product(s).data(), gram_of(core::partner(s)).data(),
                  row_scratch_.data(), factor_rows(s), k(), blocks, pen, max_sweeps, inner_tol,
                  first_row(s), stream());
  }

  void swap_blocks(int a, int b) override {
    for (Side s : {Side::W, Side::H}) {
      const std::size_t f = std::size_t(factor_rows(s)) * k(), g = std::size_t(k()) * k();
      swap_entries(s == Side::W ? W_ : Ht_, f, a, b);
      swap_entries(s == Side::W ? GW_ : GH_, g, a, b);
      DeviceBuffer<float>& last = s == Side::W ? previous_W_ : previous_H_;
      if (last.size() != 0) swap_entries(last, f, a, b);
    }
  }

  void update_mu_beta(Side s, kernels::Penalty<float> pen, float gamma) override {
    kernels::mu_beta(factor(s).data(), big_product(s).data(), denominator_product(s).data(),
                     factor_rows(s), k(), pen, gamma, stream());
  }

  void extrapolate(Side s, float beta) override {
    const DeviceBlock previous = previous_block(s);
    if (beta == 0.0f) {
      NMFUSE_CUDA_TRY(cudaMemcpyAsync(previous.data(), factor(s).data(),
                                      previous.size() * sizeof(float), cudaMemcpyDeviceToDevice,
                                      stream()));
      return;
    }
    kernels::extrapolate(factor(s).data(), previous.data(), index_t(factor(s).size()), beta,
                         stream());
  }

  void set_previous(Side s, const float* host) override {
    const DeviceBlock last = previous_block(s);
    NMFUSE_CUDA_TRY(cudaMemcpyAsync(last.data(), host, last.size() * sizeof(float),
                                    cudaMemcpyHostToDevice, stream()));
    NMFUSE_CUDA_TRY(cudaStreamSynchronize(stream()));
  }
  void get_previous(Side s, float* host) override {
    const DeviceBlock last = previous_block(s);
    NMFUSE_CUDA_TRY(cudaMemcpyAsync(host, last.data(), last.size() * sizeof(float),
                                    cudaMemcpyDeviceToHost, stream()));
    NMFUSE_CUDA_TRY(cudaStreamSynchronize(stream()));
  }

  void column_sums(Side s) override {
    kernels::column_sums(factor(s).data(), factor_rows(s), k(), sums_of(s).data(), stream());
  }

  void update_mu_kl(Side s, kernels::Penalty<float> pen) override {
    kernels::mu_kl(factor(s).data(), big_product(s).data(), sums_of(core::partner(s)).data(),
                   factor_rows(s), k(), pen, stream());
  }

  // TF32 keeps 10 of float's 23 mantissa bits.
  double product_epsilon() const override {
    return settings_.allow_tf32 ? 0x1p-10 : double(std::numeric_limits<float>::epsilon());
  }

  double dot_factor_product(Side s) override { return dot(factor(s), big_product(s)); }
  double dot_grams() override { return dot(gram_of(Side::W), gram_of(Side::H)); }
  double dot_column_sums() override { return dot(cW_, cH_); }

  std::pair<DeviceMatrix, DeviceMatrix> take_factors() {
    NMFUSE_CUDA_TRY(cudaStreamSynchronize(stream()));
    return {DeviceMatrix(std::move(W_).share(), rows(), k(), Layout::ColMajor),
            DeviceMatrix(std::move(Ht_).share(), k(), cols(), Layout::RowMajor)};
  }

 protected:
  // On a stream of our own (host data), or on the caller's (device data; null is the
  // default stream, as device.hpp promises).
  struct OwnStream {};
  CudaFactors(index_t m, index_t n, int k, OwnStream, GpuSettings settings)
      : Backend(m, n, k, settings.batch), settings_(settings), stream_(std::in_place) {
    blas_.emplace(stream(), settings.allow_tf32);
  }
  CudaFactors(index_t m, index_t n, int k, cudaStream_t caller_stream, GpuSettings settings)
      : Backend(m, n, k, settings.batch), settings_(settings), caller_stream_(caller_stream) {
    blas_.emplace(stream(), settings.allow_tf32);
  }

  int k() const { return rank(); }
  cudaStream_t stream() const { return stream_ ? stream_->get() : caller_stream_; }
  // Thrust on our stream, with temporary storage that is kept (resources.hpp).
  auto thrust_policy() { return thrust::cuda::par(thrust_scratch_).on(stream()); }

  // One factor-shaped buffer of side s (the selected block's) to the host.
  void to_host(const float* device, float* host, Side s) {
    copy_to_host(device, host, std::size_t(factor_rows(s)) * k());
  }
  void copy_to_host(const float* device, float* host, std::size_t count) {
    NMFUSE_CUDA_TRY(cudaMemcpyAsync(host, device, count * sizeof(float), cudaMemcpyDeviceToHost,
                                    stream()));
    NMFUSE_CUDA_TRY(cudaStreamSynchronize(stream()));
  }
  void to_device(const float* host, float* device, std::size_t count) {
    NMFUSE_CUDA_TRY(cudaMemcpyAsync(device, host, count * sizeof(float), cudaMemcpyHostToDevice,
                                    stream()));
    NMFUSE_CUDA_TRY(cudaStreamSynchronize(stream()));
  }
  // The selected block's entries, or `blocks` blocks' from it on.
  DeviceBlock factor(Side s, int blocks = 1) {
    return block_of(s == Side::W ? W_ : Ht_, std::size_t(factor_rows(s)) * k(), blocks);
  }
  DeviceBlock big_product(Side s, int blocks = 1) {
    return block_of(s == Side::W ? PW_ : PH_, std::size_t(factor_rows(s)) * k(), blocks);
  }
  DeviceBlock gram_of(Side s) {
    return block_of(s == Side::W ? GW_ : GH_, std::size_t(k()) * k(), 1);
  }
  DeviceBuffer<float>& sums_of(Side s) { return s == Side::W ? cW_ : cH_; }
  DeviceBuffer<float>& denominator_product(Side s) {
    DeviceBuffer<float>& D = s == Side::W ? DW_ : DH_;
    if (D.size() == 0) D = DeviceBuffer<float>(std::size_t(factor_rows(s)) * k());
    return D;
  }
  // The selected block's piece of side s that a distributed run completes.
  DeviceBlock piece_of(Side s, core::Piece piece) {
    switch (piece) {
      case core::Piece::Product: return big_product(s);
      case core::Piece::Denominator: return whole(denominator_product(s));
      case core::Piece::Gram: return gram_of(s);
      case core::Piece::ColumnSums: return whole(sums_of(s));
    }
    throw Error("internal: no such piece");
  }
  static DeviceBlock whole(DeviceBuffer<float>& b) { return {b.data(), b.size()}; }

  // nb consecutive rows of the factor of side s, inside its column-major buffer.
  StoredMatrix factor_block(Side s, index_t nb) const {
    return {nb, index_t(k()), factor_rows(s), Layout::ColMajor};
  }

  // The factor side's memory, in floats: factors, products, Grams, sums, and what the
  // settings add (extrapolation's copies, β's denominators, the large-k scratch).
  std::size_t factor_floats() const {
    const std::size_t m = rows(), n = cols(), kk = k(), b = batch();
    const std::size_t scratch =
        kernels::fast_path(std::max(m, n), k()) ? 0 : b * std::max(m, n) * kk;
    return b * ((2 + settings_.extrapolation) * (m + n) * kk + 2 * kk * kk) +
           settings_.general_beta * (m + n) * kk + 2 * kk + scratch;
  }

  // What the libraries' workspaces may take (cuBLAS's, cuSPARSE's, Thrust's and the
  // init's temporary products): an allowance beside the backend's own buffers.
  static constexpr double kWorkspaces = 64.0 * 1024 * 1024;
  // Free GPU memory left for the backend's own buffers.
  double free_for_buffers() const {
    std::size_t free = 0, total = 0;
    NMFUSE_CUDA_TRY(cudaMemGetInfo(&free, &total));
    return double(free) - kWorkspaces;
  }

  // Throws OutOfDeviceMemory, naming the sizes, unless `bytes` of the backend's buffers
  // and the workspaces fit in free GPU memory.
  void check_memory(double buffer_bytes) const {
    const double bytes = buffer_bytes + kWorkspaces;
    std::size_t free = 0, total = 0;
    NMFUSE_CUDA_TRY(cudaMemGetInfo(&free, &total));
    if (bytes <= double(free)) return;
    const std::string restarts = batch() > 1 ? ", " + std::to_string(batch()) + " restarts," : "";
    throw OutOfDeviceMemory("a " + std::to_string(rows()) + "×" + std::to_string(cols()) +
                            " problem at rank " + std::to_string(k()) + restarts + " needs " +
                            mib(bytes) +
                            " of GPU memory, but only " + mib(double(free)) + " of " +
                            mib(double(total)) + " is free");
  }

  void allocate_factors() {
    const std::size_t m = rows(), n = cols(), kk = k(), b = batch();
    W_ = DeviceBuffer<float>(b * m * kk);
    Ht_ = DeviceBuffer<float>(b * n * kk);
    PW_ = DeviceBuffer<float>(b * m * kk);
    PH_ = DeviceBuffer<float>(b * n * kk);
    GW_ = DeviceBuffer<float>(b * kk * kk);
    GH_ = DeviceBuffer<float>(b * kk * kk);
    cW_ = DeviceBuffer<float>(kk);
    cH_ = DeviceBuffer<float>(kk);
    if (!kernels::fast_path(std::max(m, n), k()))
      row_scratch_ = DeviceBuffer<float>(b * std::max(m, n) * kk);
  }

  // C = op(A)·op(B) (+ C when beta = 1), with the arguments CBLAS would take.
  void gemm(const core::GemmPlan& p, const float* a, const float* b, float* c,
            float beta = 0.0f) {
    if (p.m == 0 || p.n == 0) return;
    const float alpha = 1.0f;
    NMFUSE_CUBLAS_TRY(cublasSgemm(blas_->get(), p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                  p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, int(p.m), int(p.n),
                                  int(p.k), &alpha, a, int(p.lda), b, int(p.ldb), &beta, c,
                                  int(p.ldc)));
  }
  cublasHandle_t blas() const { return blas_->get(); }

  // gemm in full float whatever allow_tf32 says: for sums that cancel, and losses.
  void gemm_exact(const core::GemmPlan& p, const float* a, const float* b, float* c) {
    NMFUSE_CUBLAS_TRY(cublasSetMathMode(blas(), CUBLAS_DEFAULT_MATH));
    gemm(p, a, b, c);
    NMFUSE_CUBLAS_TRY(cublasSetMathMode(
        blas(), settings_.allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  }
  enum class Exact { Yes, AsAllowed };  // AsAllowed: in TF32 where allow_tf32 says so
  void gemm(Exact exact, const core::GemmPlan& p, const float* a, const float* b, float* c) {
    exact == Exact::Yes ? gemm_exact(p, a, b, c) : gemm(p, a, b, c);
  }

  template <class A, class B>
  double dot(const A& a, const B& b) {
    return thrust::transform_reduce(thrust_policy(), thrust::counting_iterator<index_t>(0),
                                    thrust::counting_iterator<index_t>(index_t(a.size())),
                                    Product{a.data(), b.data()}, 0.0, thrust::plus<double>());
  }

  GpuSettings settings_;

 private:
  DeviceBlock block_of(const DeviceBuffer<float>& buffer, std::size_t per_block, int blocks) {
    return {buffer.data() + per_block * std::size_t(selected()), per_block * std::size_t(blocks)};
  }
  // Extrapolation's copies, made when first needed.
  DeviceBlock previous_block(Side s) {
    DeviceBuffer<float>& last = s == Side::W ? previous_W_ : previous_H_;
    const std::size_t per_block = std::size_t(factor_rows(s)) * k();
    if (last.size() == 0) last = DeviceBuffer<float>(per_block * batch());
    return block_of(last, per_block, 1);
  }
  // Blocks a and b of `buffer` trade places, through swap_scratch_.
  void swap_entries(DeviceBuffer<float>& buffer, std::size_t per_block, int a, int b) {
    if (swap_scratch_.size() < per_block) swap_scratch_ = DeviceBuffer<float>(per_block);
    float *x = buffer.data() + per_block * a, *y = buffer.data() + per_block * b;
    const std::size_t bytes = per_block * sizeof(float);
    NMFUSE_CUDA_TRY(cudaMemcpyAsync(swap_scratch_.data(), x, bytes, cudaMemcpyDeviceToDevice, stream()));
    NMFUSE_CUDA_TRY(cudaMemcpyAsync(x, y, bytes, cudaMemcpyDeviceToDevice, stream()));
    NMFUSE_CUDA_TRY(cudaMemcpyAsync(y, swap_scratch_.data(), bytes, cudaMemcpyDeviceToDevice, stream()));
  }

  std::optional<Stream> stream_;          // ours, for host data
  cudaStream_t caller_stream_ = nullptr;  // the caller's, for device data
  std::optional<CublasHandle> blas_;
  DeviceBuffer<float> W_, Ht_, PW_, PH_, GW_, GH_, cW_, cH_, row_scratch_;
  DeviceBuffer<float> previous_W_, previous_H_;  // the iterates extrapolate() saw last
  DeviceBuffer<float> DW_, DH_;                  // β's denominator products
  DeviceBuffer<float> swap_scratch_;             // swap_blocks' one block
  ThrustScratch thrust_scratch_;
};

}  // namespace nmfuse::cuda
