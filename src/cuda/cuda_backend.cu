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

#include "core/gemm_plan.hpp"
#include "cuda/cuda_hooks.hpp"
#include "cuda/resources.hpp"
#include "update_kernels.cuh"

namespace nmfuse::cuda {
namespace {

using core::Side;
using core::StoredMatrix;

// Working memory of one KL ratio block, in entries (64 MiB of float).
constexpr index_t kRatioBlockEntries = index_t(1) << 24;

// V as the kernels and reductions read it on the device.
struct DeviceData {
  const float* data;
  index_t ld;
  bool row_major;
  __host__ __device__ float at(index_t i, index_t j) const {
    return row_major ? data[i * ld + j] : data[j * ld + i];
  }
};

// f(V(i, j)) summed in double over the m×n entries, enumerated column by column.
template <class F>
struct EntryOf {
  DeviceData V;
  index_t m;
  F f;
  __host__ __device__ double operator()(index_t e) const { return f(V.at(e % m, e / m)); }
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
struct KlPointwise {
  DeviceData V;
  const float* wh;
  index_t m, j0;
  __host__ __device__ double operator()(index_t e) const {
    return kernels::kl_pointwise(V.at(e % m, j0 + e / m), wh[e]);
  }
};
struct IsBad {
  DeviceData V;
  index_t m;
  __host__ __device__ bool operator()(index_t e) const {
    const float v = V.at(e % m, e / m);
    return !(isfinite(v) && v >= 0.0f);
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
  CudaBackend(DenseView<const float> V, int k, bool allow_tf32)
      : Backend(V.rows, V.cols, k), stream_(std::in_place), blas_(stream_->get(), allow_tf32) {
    check_memory(true);
    const bool row_major = V.layout == Layout::RowMajor;
    const index_t inner = row_major ? V.cols : V.rows, outer = row_major ? V.rows : V.cols;
    V_owned_ = DeviceBuffer<float>(std::size_t(V.rows * V.cols));
    NMFUSE_CUDA_TRY(cudaMemcpy2DAsync(V_owned_.data(), inner * sizeof(float), V.data,
                                      V.ld * sizeof(float), inner * sizeof(float), outer,
                                      cudaMemcpyHostToDevice, stream()));
    V_ = {V_owned_.data(), inner, row_major};
    allocate();
  }

  // V already on the GPU is used in place, on the caller's stream.
  CudaBackend(const DeviceView& V, int k, cudaStream_t stream, bool allow_tf32)
      : Backend(V.rows, V.cols, k), caller_stream_(stream), blas_(stream, allow_tf32),
        V_{V.data, V.ld, V.layout == Layout::RowMajor} {
    check_memory(false);
    allocate();
  }

  double data_sum() override { return reduce_data(Identity{}); }
  double data_squared_norm() override { return reduce_data(Square{}); }

  void multiply_host(Side s, const float* X, int width, float* out) override {
    const bool w = s == Side::W;
    const index_t inner = w ? cols() : rows(), outer = w ? rows() : cols();
    DeviceBuffer<float> x(std::size_t(inner) * width), y(std::size_t(outer) * width);
    NMFUSE_CUDA_TRY(cudaMemcpyAsync(x.data(), X, x.size() * sizeof(float),
                                    cudaMemcpyHostToDevice, stream()));
    gemm(plan_gemm(stored_V(), !w, core::column_major(inner, width), false, outer), V_.data,
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
         V_.data, factor(p).data(), big_product(s).data());
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

  void kl_product(Side s) override {
    const index_t m = rows(), n = cols();
    for_each_wh_block([&](index_t j0, index_t nb, float* R) {
      kernels::kl_ratio_block(R, V_.data, V_.ld, V_.row_major, m, j0, nb, stream());
      const StoredMatrix r = core::column_major(m, nb);
      if (s == Side::W)  // P_W += R · Ht[j0:j0+nb, :]
        gemm(plan_gemm(r, false, ht_rows(nb), false, m), R, Ht_.data() + j0, PW_.data(),
             j0 == 0 ? 0.0f : 1.0f);
      else  // P_H[j0:j0+nb, :] = Rᵀ · W
        gemm(plan_gemm(r, true, core::column_major(m, k()), false, n), R, W_.data(),
             PH_.data() + j0);
    });
  }

  void column_sums(Side s) override {  // c_s = X_sᵀ · 1
    const float one = 1.0f, zero = 0.0f;
    NMFUSE_CUBLAS_TRY(cublasSgemv(blas_.get(), CUBLAS_OP_T, int(factor_rows(s)), k(), &one,
                                  factor(s).data(), int(factor_rows(s)), ones_.data(), 1, &zero,
                                  sums_of(s).data(), 1));
  }

  void update_mu_kl(Side s, kernels::Penalty<float> pen) override {
    kernels::mu_kl(factor(s).data(), big_product(s).data(), sums_of(core::partner(s)).data(),
                   factor_rows(s), k(), pen, stream());
  }

  double dot_factor_product(Side s) override { return dot(factor(s), big_product(s)); }
  double dot_grams() override { return dot(GW_, GH_); }
  double dot_column_sums() override { return dot(cW_, cH_); }

  double kl_pointwise_sum() override {
    double total = 0;
    for_each_wh_block([&](index_t j0, index_t nb, float* WH) {
      const index_t m = rows();
      total += thrust::transform_reduce(thrust::cuda::par.on(stream()), thrust::counting_iterator<index_t>(0),
                                        thrust::counting_iterator<index_t>(m * nb),
                                        KlPointwise{V_, WH, m, j0}, 0.0, thrust::plus<double>());
    });
    return total;
  }

  std::pair<DeviceMatrix, DeviceMatrix> take_factors() {
    NMFUSE_CUDA_TRY(cudaStreamSynchronize(stream()));
    return {DeviceMatrix(std::move(W_).share(), rows(), k(), Layout::ColMajor),
            DeviceMatrix(std::move(Ht_).share(), k(), cols(), Layout::RowMajor)};
  }

 private:
  int k() const { return rank(); }
  cudaStream_t stream() const { return stream_ ? stream_->get() : caller_stream_; }

  StoredMatrix stored_V() const {
    return {rows(), cols(), V_.ld, V_.row_major ? Layout::RowMajor : Layout::ColMajor};
  }
  StoredMatrix ht_rows(index_t nb) const { return {nb, index_t(k()), cols(), Layout::ColMajor}; }
  index_t ratio_block() const { return std::clamp<index_t>(kRatioBlockEntries / rows(), 1, cols()); }

  DeviceBuffer<float>& factor(Side s) { return s == Side::W ? W_ : Ht_; }
  DeviceBuffer<float>& big_product(Side s) { return s == Side::W ? PW_ : PH_; }
  DeviceBuffer<float>& gram_of(Side s) { return s == Side::W ? GW_ : GH_; }
  DeviceBuffer<float>& sums_of(Side s) { return s == Side::W ? cW_ : cH_; }

  // Every buffer the loop needs, in floats, beside V itself.
  std::size_t working_floats() const {
    const std::size_t m = rows(), n = cols(), kk = k();
    return 2 * (m + n) * kk + 2 * kk * kk + 2 * kk + std::max(m, n) +
           std::size_t(rows() * ratio_block()) + (kernels::fast_path(std::max(m, n), k()) ? 0 : std::max(m, n) * kk);
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
    ones_ = DeviceBuffer<float>(std::max(m, n));
    const std::vector<float> ones(ones_.size(), 1.0f);
    NMFUSE_CUDA_TRY(cudaMemcpyAsync(ones_.data(), ones.data(), ones.size() * sizeof(float),
                                    cudaMemcpyHostToDevice, stream()));
    NMFUSE_CUDA_TRY(cudaStreamSynchronize(stream()));
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

  template <class Fn>
  void for_each_wh_block(Fn fn) {
    const index_t m = rows(), n = cols(), block = ratio_block();
    if (ratio_.size() == 0) ratio_ = DeviceBuffer<float>(std::size_t(m * block));
    for (index_t j0 = 0; j0 < n; j0 += block) {
      const index_t nb = std::min(block, n - j0);
      gemm(plan_gemm(core::column_major(m, k()), false, ht_rows(nb), true, m), W_.data(),
           Ht_.data() + j0, ratio_.data());
      fn(j0, nb, ratio_.data());
    }
  }

  double dot(const DeviceBuffer<float>& a, const DeviceBuffer<float>& b) {
    return thrust::transform_reduce(thrust::cuda::par.on(stream()), thrust::counting_iterator<index_t>(0),
                                    thrust::counting_iterator<index_t>(index_t(a.size())),
                                    Product{a.data(), b.data()}, 0.0, thrust::plus<double>());
  }

  template <class F>
  double reduce_data(F f) {
    const index_t m = rows();
    return thrust::transform_reduce(thrust::cuda::par.on(stream()), thrust::counting_iterator<index_t>(0),
                                    thrust::counting_iterator<index_t>(m * cols()),
                                    EntryOf<F>{V_, m, f}, 0.0, thrust::plus<double>());
  }

  std::optional<Stream> stream_;      // ours, for host data
  cudaStream_t caller_stream_ = nullptr;  // the caller's, for device data
  CublasHandle blas_;
  DeviceBuffer<float> V_owned_;
  DeviceData V_{nullptr, 0, true};
  DeviceBuffer<float> W_, Ht_, PW_, PH_, GW_, GH_, cW_, cH_, ones_, ratio_, row_scratch_;
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
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess)
    return {0, "device 0 did not answer cudaGetDeviceProperties"};
  return {count, std::string(prop.name) + " (device 0 of " + std::to_string(count) + ")"};
}

std::unique_ptr<core::Backend<float>> make_backend(DenseView<const float> V, int rank,
                                                   bool allow_tf32) {
  return std::make_unique<CudaBackend>(V, rank, allow_tf32);
}

std::unique_ptr<core::Backend<float>> make_device_backend(const DeviceView& V, int rank,
                                                          CUstream_st* stream, bool allow_tf32) {
  return std::make_unique<CudaBackend>(V, rank, stream, allow_tf32);
}

void check_device_matrix(const DeviceView& V, CUstream_st* stream) {
  const DeviceData data{V.data, V.ld, V.layout == Layout::RowMajor};
  const index_t count = V.rows * V.cols;
  const auto first = thrust::counting_iterator<index_t>(0);
  const auto bad = thrust::find_if(thrust::cuda::par.on(stream), first, first + count,
                                   IsBad{data, V.rows});
  if (bad == first + count) return;
  const index_t e = *bad, i = e % V.rows, j = e / V.rows;
  float v = 0;
  const float* at = V.layout == Layout::RowMajor ? V.data + i * V.ld + j : V.data + j * V.ld + i;
  NMFUSE_CUDA_TRY(cudaMemcpy(&v, at, sizeof(float), cudaMemcpyDeviceToHost));
  std::ostringstream msg;
  msg << "V (" << V.rows << "×" << V.cols << ", on the GPU) has "
      << (std::isnan(v) ? "a NaN" : std::isinf(v) ? "an infinite" : "a negative") << " entry at ("
      << i << ", " << j << "): " << v;
  throw InvalidArgument(msg.str());
}

std::pair<DeviceMatrix, DeviceMatrix> take_factors(core::Backend<float>& b) {
  return dynamic_cast<CudaBackend&>(b).take_factors();
}

}  // namespace nmfuse::cuda
