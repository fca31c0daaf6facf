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

class CudaFactors : public core::Backend<float> {
 public:
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

  void update_mu_beta(Side s, kernels::Penalty<float> pen, float gamma) override {
    kernels::mu_beta(factor(s).data(), big_product(s).data(), denominator_product(s).data(),
                     factor_rows(s), k(), pen, gamma, stream());
  }

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

  void set_previous(Side s, const float* host) override {
    DeviceBuffer<float>& last = s == Side::W ? previous_W_ : previous_H_;
    if (last.size() == 0) last = DeviceBuffer<float>(factor(s).size());
    NMFUSE_CUDA_TRY(cudaMemcpyAsync(last.data(), host, last.size() * sizeof(float),
                                    cudaMemcpyHostToDevice, stream()));
    NMFUSE_CUDA_TRY(cudaStreamSynchronize(stream()));
  }
  void get_previous(Side s, float* host) override {
    const DeviceBuffer<float>& last = s == Side::W ? previous_W_ : previous_H_;
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
  double dot_grams() override { return dot(GW_, GH_); }
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
      : Backend(m, n, k), settings_(settings), stream_(std::in_place) {
    blas_.emplace(stream(), settings.allow_tf32);
  }
  CudaFactors(index_t m, index_t n, int k, cudaStream_t caller_stream, GpuSettings settings)
      : Backend(m, n, k), settings_(settings), caller_stream_(caller_stream) {
    blas_.emplace(stream(), settings.allow_tf32);
  }

  int k() const { return rank(); }
  cudaStream_t stream() const { return stream_ ? stream_->get() : caller_stream_; }
  // Thrust on our stream, with temporary storage that is kept (resources.hpp).
  auto thrust_policy() { return thrust::cuda::par(thrust_scratch_).on(stream()); }

  DeviceBuffer<float>& factor(Side s) { return s == Side::W ? W_ : Ht_; }
  DeviceBuffer<float>& big_product(Side s) { return s == Side::W ? PW_ : PH_; }
  DeviceBuffer<float>& gram_of(Side s) { return s == Side::W ? GW_ : GH_; }
  DeviceBuffer<float>& sums_of(Side s) { return s == Side::W ? cW_ : cH_; }
  DeviceBuffer<float>& denominator_product(Side s) {
    DeviceBuffer<float>& D = s == Side::W ? DW_ : DH_;
    if (D.size() == 0) D = DeviceBuffer<float>(std::size_t(factor_rows(s)) * k());
    return D;
  }
  // nb consecutive rows of the factor of side s, inside its column-major buffer.
  StoredMatrix factor_block(Side s, index_t nb) const {
    return {nb, index_t(k()), factor_rows(s), Layout::ColMajor};
  }

  // The factor side's memory, in floats: factors, products, Grams, sums, and what the
  // settings add (extrapolation's copies, β's denominators, the large-k scratch).
  std::size_t factor_floats() const {
    const std::size_t m = rows(), n = cols(), kk = k();
    const std::size_t scratch = kernels::fast_path(std::max(m, n), k()) ? 0 : std::max(m, n) * kk;
    return (2 + settings_.extrapolation + settings_.general_beta) * (m + n) * kk + 2 * kk * kk +
           2 * kk + scratch;
  }

  // Throws OutOfDeviceMemory, naming the sizes, unless `bytes` of the backend's buffers
  // and the libraries' workspaces (cuBLAS's, cuSPARSE's, Thrust's and the init's
  // temporary products: an allowance) fit in free GPU memory.
  void check_memory(double buffer_bytes) const {
    constexpr double kWorkspaces = 64.0 * 1024 * 1024;
    const double bytes = buffer_bytes + kWorkspaces;
    std::size_t free = 0, total = 0;
    NMFUSE_CUDA_TRY(cudaMemGetInfo(&free, &total));
    if (bytes <= double(free)) return;
    throw OutOfDeviceMemory("a " + std::to_string(rows()) + "×" + std::to_string(cols()) +
                            " problem at rank " + std::to_string(k()) + " needs " + mib(bytes) +
                            " of GPU memory, but only " + mib(double(free)) + " of " +
                            mib(double(total)) + " is free");
  }

  void allocate_factors() {
    const std::size_t m = rows(), n = cols(), kk = k();
    W_ = DeviceBuffer<float>(m * kk);
    Ht_ = DeviceBuffer<float>(n * kk);
    PW_ = DeviceBuffer<float>(m * kk);
    PH_ = DeviceBuffer<float>(n * kk);
    GW_ = DeviceBuffer<float>(kk * kk);
    GH_ = DeviceBuffer<float>(kk * kk);
    cW_ = DeviceBuffer<float>(kk);
    cH_ = DeviceBuffer<float>(kk);
    if (!kernels::fast_path(std::max(m, n), k()))
      row_scratch_ = DeviceBuffer<float>(std::max(m, n) * kk);
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

  double dot(const DeviceBuffer<float>& a, const DeviceBuffer<float>& b) {
    return thrust::transform_reduce(thrust_policy(), thrust::counting_iterator<index_t>(0),
                                    thrust::counting_iterator<index_t>(index_t(a.size())),
                                    Product{a.data(), b.data()}, 0.0, thrust::plus<double>());
  }

  GpuSettings settings_;

 private:
  std::optional<Stream> stream_;          // ours, for host data
  cudaStream_t caller_stream_ = nullptr;  // the caller's, for device data
  std::optional<CublasHandle> blas_;
  DeviceBuffer<float> W_, Ht_, PW_, PH_, GW_, GH_, cW_, cH_, row_scratch_;
  DeviceBuffer<float> previous_W_, previous_H_;  // the iterates extrapolate() saw last
  DeviceBuffer<float> DW_, DH_;                  // β's denominator products
  ThrustScratch thrust_scratch_;
};

}  // namespace nmfuse::cuda
