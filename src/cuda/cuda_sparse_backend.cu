// The CUDA backend for CSR V, never densified: V and Vᵀ live on the GPU in CSR, so each
// half-step multiplies by its own rows. cuSPARSE's SpMM makes the big products and its
// SDDMM gives W·Htᵀ at the stored entries; kernels/sparse_kernels.cu turn those into
// the KL and β ratios with the arithmetic the CPU runs. Absent entries as on the CPU
// (cpu_sparse_backend.cpp): zeros, or unknown (then every pass stays on stored entries).
#include <thrust/transform_reduce.h>

#include <algorithm>
#include <type_traits>

#include "core/csr_transpose.hpp"
#include "cuda/cuda_factors.cuh"
#include "k_dispatch.hpp"
#include "sparse_kernels.cuh"

namespace nmfuse::cuda {
namespace {

// Working memory of one dense block of W·Htᵀ (general β on zeros only), in floats.
constexpr index_t kDenseBlockEntries = index_t(1) << 24;

template <class F>
struct StoredOf {
  const float* v;
  const float* wh;
  F f;
  __host__ __device__ double operator()(index_t e) const { return f(v[e], wh[e]); }
};
struct ZeroBetaDivergenceOf {  // d(0 | wh)
  float beta;
  __host__ __device__ double operator()(float, float wh) const {
    return kernels::beta_divergence(0.0f, wh, beta);
  }
};
struct SquareOfWh {
  __host__ __device__ double operator()(float, float wh) const { return double(wh) * wh; }
};
struct ValueOf {
  __host__ __device__ double operator()(float v, float) const { return v; }
};
struct SquareOfValue {
  __host__ __device__ double operator()(float v, float) const { return double(v) * v; }
};
struct ZeroBetaDivergenceDense {
  const float* wh;
  float beta;
  __host__ __device__ double operator()(index_t e) const {
    return kernels::beta_divergence(0.0f, wh[e], beta);
  }
};

// A cuSPARSE dense matrix descriptor for a column-major rows×cols matrix.
class DenseDescriptor {
 public:
  DenseDescriptor(index_t rows, index_t cols, index_t ld, const float* data) {
    NMFUSE_CUSPARSE_TRY(cusparseCreateDnMat(&d_, rows, cols, ld, const_cast<float*>(data),
                                            CUDA_R_32F, CUSPARSE_ORDER_COL));
  }
  ~DenseDescriptor() { static_cast<void>(cusparseDestroyDnMat(d_)); }
  DenseDescriptor(const DenseDescriptor&) = delete;
  DenseDescriptor& operator=(const DenseDescriptor&) = delete;
  cusparseDnMatDescr_t get() const { return d_; }

 private:
  cusparseDnMatDescr_t d_ = nullptr;
};

// A CSR matrix on the GPU (V or Vᵀ) and its cuSPARSE descriptor, whose values pointer
// is switched between its own values and a work array of the same entry order.
template <class I>
class DeviceCsr {
 public:
  DeviceCsr(const I* row_ptr, const I* col_idx, const float* values, index_t rows, index_t cols,
            index_t nnz, cudaStream_t stream)
      : rows_(rows), cols_(cols), nnz_(nnz), ptr_(std::size_t(rows + 1)),
        idx_(std::size_t(nnz)), val_(std::size_t(nnz)) {
    copy(ptr_, row_ptr, stream);
    copy(idx_, col_idx, stream);
    copy(val_, values, stream);
    constexpr cusparseIndexType_t index =
        std::is_same_v<I, std::int32_t> ? CUSPARSE_INDEX_32I : CUSPARSE_INDEX_64I;
    NMFUSE_CUSPARSE_TRY(cusparseCreateCsr(&descr_, rows, cols, nnz, ptr_.data(), idx_.data(),
                                          val_.data(), index, index, CUSPARSE_INDEX_BASE_ZERO,
                                          CUDA_R_32F));
  }
  ~DeviceCsr() { static_cast<void>(cusparseDestroySpMat(descr_)); }
  DeviceCsr(const DeviceCsr&) = delete;
  DeviceCsr& operator=(const DeviceCsr&) = delete;

  // The descriptor with `values` (its own where null) as the entries.
  cusparseSpMatDescr_t with_values(const float* values) {
    NMFUSE_CUSPARSE_TRY(cusparseCsrSetPointers(descr_, ptr_.data(), idx_.data(),
                                               const_cast<float*>(values ? values : val_.data())));
    return descr_;
  }
  const I* row_ptr() const { return ptr_.data(); }
  const I* col_idx() const { return idx_.data(); }
  const float* values() const { return val_.data(); }
  index_t rows() const { return rows_; }
  index_t cols() const { return cols_; }
  index_t nnz() const { return nnz_; }

  static double bytes(index_t rows, index_t nnz) {
    return double(rows + 1) * sizeof(I) + double(nnz) * (sizeof(I) + sizeof(float));
  }

 private:
  template <class U>
  static void copy(DeviceBuffer<U>& to, const U* from, cudaStream_t stream) {
    if (to.size() == 0) return;
    NMFUSE_CUDA_TRY(cudaMemcpyAsync(to.data(), from, to.size() * sizeof(U),
                                    cudaMemcpyHostToDevice, stream));
  }
  index_t rows_, cols_, nnz_;
  DeviceBuffer<I> ptr_, idx_;
  DeviceBuffer<float> val_;
  cusparseSpMatDescr_t descr_ = nullptr;
};

template <class I>
class CudaSparseBackend final : public CudaFactors {
 public:
  CudaSparseBackend(CsrView<float, I> V, int k, GpuSettings settings)
      : CudaFactors(V.rows, V.cols, k, OwnStream{}, settings), nnz_(V.nnz()),
        zeros_absent_(V.absent == Absent::Zero), sparse_(stream()) {
    const CsrMatrix<float, I> Vt = core::transposed(V);
    check_memory(needed_bytes());
    V_.emplace(V.row_ptr, V.col_idx, V.values, V.rows, V.cols, nnz_, stream());
    Vt_.emplace(Vt.row_ptr.data(), Vt.col_idx.data(), Vt.values.data(), V.cols, V.rows, nnz_,
                stream());
    NMFUSE_CUDA_TRY(cudaStreamSynchronize(stream()));  // Vt's host copy dies here
    allocate_factors();
    wh_ = DeviceBuffer<float>(std::size_t(nnz_));
    partner_rows_ = DeviceBuffer<float>(std::size_t(std::max(rows(), cols())) * k);
  }

  double product_entries() const override { return double(nnz_); }

  double sum_of_data() override { return sum_stored_values(ValueOf{}); }
  double sum_of_squared_data() override { return sum_stored_values(SquareOfValue{}); }

  void multiply_host(Side s, const float* X, int width, float* out) override {
    const index_t r = factor_rows(s), other = factor_rows(core::partner(s));
    DeviceBuffer<float> x(std::size_t(other) * width), y(std::size_t(r) * width);
    NMFUSE_CUDA_TRY(cudaMemcpyAsync(x.data(), X, x.size() * sizeof(float),
                                    cudaMemcpyHostToDevice, stream()));
    spmm(s, nullptr, x.data(), width, y.data());
    NMFUSE_CUDA_TRY(cudaMemcpyAsync(out, y.data(), y.size() * sizeof(float),
                                    cudaMemcpyDeviceToHost, stream()));
    NMFUSE_CUDA_TRY(cudaStreamSynchronize(stream()));
  }

  void product(Side s, int blocks) override {
    spmm(s, nullptr, factor(core::partner(s), blocks).data(), k() * blocks,
         big_product(s, blocks).data());
  }

  void kl_product(Side s) override {
    sddmm(s);
    kernels::kl_ratio_stored(wh_.data(), csr(s).values(), nnz_, stream());
    spmm(s, wh_.data(), factor(core::partner(s)).data(), k(), big_product(s).data());
  }

  void set_mask(const std::uint8_t*) override {
    throw Error("internal: a sparse V takes no dense mask; Absent::Unknown marks its stored "
                "entries as the observed ones");
  }

  void beta_products(Side s, float beta) override {
    const bool stored_denominator = !zeros_absent_;
    if (stored_denominator && den_.size() == 0) den_ = DeviceBuffer<float>(std::size_t(nnz_));
    sddmm(s);
    kernels::beta_stored(wh_.data(), stored_denominator ? den_.data() : nullptr,
                         csr(s).values(), nnz_, beta, stream());
    const float* Y = factor(core::partner(s)).data();
    spmm(s, wh_.data(), Y, k(), big_product(s).data());
    if (stored_denominator) {
      spmm(s, den_.data(), Y, k(), denominator_product(s).data());
      return;
    }
    // Zeros have a denominator too: D_s = (W·Htᵀ)^(β−1)·partner over every entry.
    float* D = denominator_product(s).data();
    const index_t r = factor_rows(s);
    for_each_dense_block(s, Exact::AsAllowed, [&](index_t j0, index_t nb, float* WH) {
      kernels::beta_denominator_dense(WH, r * nb, beta, stream());
      gemm(plan_gemm(core::column_major(r, nb), false, factor_block(core::partner(s), nb), false,
                     r),
           WH, factor(core::partner(s)).data() + j0, D, j0 == 0 ? 0.0f : 1.0f);
    });
  }

  void update_hals_masked(Side s, kernels::Penalty<float> pen, int max_sweeps,
                          float inner_tol) override {
    if (k() > kernels::kMaxFastRank)  // factorize() sends these to the CPU first
      throw NotCompiled("HALS with unknown entries takes k ≤ 64 on the GPU");
    DeviceCsr<I>& A = csr(s);
    kernels::hals_csr<I>(factor(s).data(), factor_rows(s), factor(core::partner(s)).data(),
                         factor_rows(core::partner(s)), k(), A.row_ptr(), A.col_idx(),
                         A.values(), pen, max_sweeps, inner_tol, stream());
  }

  double beta_divergence_sum(float beta) override {
    double sum = sum_stored(BetaDivergence{beta});
    if (!zeros_absent_ || nnz_ / rows() == cols()) return sum;  // none absent
    // The zeros: Σ over every entry of d(0 | wh), less the stored entries' share.
    sum -= sum_stored(ZeroBetaDivergenceOf{beta});
    for_each_dense_block(Side::W, Exact::Yes, [&](index_t, index_t nb, float* WH) {
      sum += thrust::transform_reduce(thrust_policy(), thrust::counting_iterator<index_t>(0),
                                      thrust::counting_iterator<index_t>(rows() * nb),
                                      ZeroBetaDivergenceDense{WH, beta}, 0.0,
                                      thrust::plus<double>());
    });
    return sum;
  }

  // As on the CPU: Σ (v − wh)² over the stored entries, plus Σ wh² over the absent
  // ones (Σ WᵀW ⊙ HᵀH less the stored entries' share).
  double squared_residual_sum() override {
    const double stored = sum_stored(SquaredResidual{});
    if (!zeros_absent_) return stored;
    const double stored_wh = sum_stored(SquareOfWh{});
    DeviceBuffer<float> GW(std::size_t(k()) * k()), GH(GW.size());
    for (Side s : {Side::W, Side::H}) {
      const StoredMatrix x = core::column_major(factor_rows(s), k());
      gemm_exact(plan_gemm(x, true, x, false, k()), factor(s).data(), factor(s).data(),
                 (s == Side::W ? GW : GH).data());
    }
    return stored + std::max(0.0, dot(GW, GH) - stored_wh);
  }

  double kl_pointwise_sum() override { return sum_stored(KlPointwise{}); }

 private:
  DeviceCsr<I>& csr(Side s) { return s == Side::W ? *V_ : *Vt_; }

  // GPU bytes: V and Vᵀ, W·Htᵀ at the stored entries (twice for unknown entries under a
  // general β), the partner copy, dense blocks (general β on zeros) and the factor side.
  double needed_bytes() const {
    const double m = double(rows()), n = double(cols()), nnz = double(nnz_);
    const bool general_beta = settings_.general_beta;
    const double block = std::max(double(kDenseBlockEntries), std::max(m, n));
    const double work = nnz * (1 + (general_beta && !zeros_absent_)) + std::max(m, n) * k() +
                        (general_beta && zeros_absent_ ? block : 0.0);
    return DeviceCsr<I>::bytes(rows(), nnz_) + DeviceCsr<I>::bytes(cols(), nnz_) +
           sizeof(float) * (work + double(factor_floats()));
  }

  // wh_ ← (X_s·Yᵀ) at the stored entries of side s's CSR, Y the partner: cuSPARSE's SDDMM
  // with both dense operands column-major and untransposed (X_s is r×k; Yᵀ, k×other, is
  // the partner copied row-major).
  void sddmm(Side s) {
    const Side p = core::partner(s);
    const index_t r = factor_rows(s), other = factor_rows(p);
    const float one = 1.0f, zero = 0.0f;
    NMFUSE_CUBLAS_TRY(cublasSgeam(blas(), CUBLAS_OP_T, CUBLAS_OP_N, k(), int(other), &one,
                                  factor(p).data(), int(other), &zero, partner_rows_.data(), k(),
                                  partner_rows_.data(), k()));
    const DenseDescriptor X(r, k(), r, factor(s).data()), Yt(k(), other, k(), partner_rows_.data());
    cusparseSpMatDescr_t C = csr(s).with_values(wh_.data());
    // cuSPARSE computes β·C even for β = 0: the last pass's ratios may be infinite.
    NMFUSE_CUDA_TRY(cudaMemsetAsync(wh_.data(), 0, wh_.size() * sizeof(float), stream()));
    std::size_t bytes = 0;
    NMFUSE_CUSPARSE_TRY(cusparseSDDMM_bufferSize(
        sparse_.get(), CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE, &one,
        X.get(), Yt.get(), &zero, C, CUDA_R_32F, CUSPARSE_SDDMM_ALG_DEFAULT, &bytes));
    NMFUSE_CUSPARSE_TRY(cusparseSDDMM(sparse_.get(), CUSPARSE_OPERATION_NON_TRANSPOSE,
                                      CUSPARSE_OPERATION_NON_TRANSPOSE, &one, X.get(), Yt.get(),
                                      &zero, C, CUDA_R_32F, CUSPARSE_SDDMM_ALG_DEFAULT,
                                      scratch(bytes)));
  }

  // out (r×width, column-major) ← A_s·B with B (other×width, column-major), A_s side s's
  // CSR with `values` (its own where null) as entries: cuSPARSE's SpMM.
  void spmm(Side s, const float* values, const float* B, int width, float* out) {
    const index_t r = factor_rows(s), other = factor_rows(core::partner(s));
    const DenseDescriptor b(other, width, other, B), c(r, width, r, out);
    cusparseSpMatDescr_t A = csr(s).with_values(values);
    // β·out is computed even for β = 0: out must hold numbers (new buffers hold garbage).
    NMFUSE_CUDA_TRY(cudaMemsetAsync(out, 0, std::size_t(r) * width * sizeof(float), stream()));
    const float one = 1.0f, zero = 0.0f;
    std::size_t bytes = 0;
    NMFUSE_CUSPARSE_TRY(cusparseSpMM_bufferSize(
        sparse_.get(), CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE, &one,
        A, b.get(), &zero, c.get(), CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT, &bytes));
    NMFUSE_CUSPARSE_TRY(cusparseSpMM(sparse_.get(), CUSPARSE_OPERATION_NON_TRANSPOSE,
                                     CUSPARSE_OPERATION_NON_TRANSPOSE, &one, A, b.get(), &zero,
                                     c.get(), CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT,
                                     scratch(bytes)));
  }

  // cuSPARSE's working memory, kept and grown as asked.
  void* scratch(std::size_t bytes) {
    if (bytes > scratch_.size()) scratch_ = DeviceBuffer<char>(bytes);
    return scratch_.data();
  }

  // Σ f(v, wh) over the stored entries of V, in double.
  template <class F>
  double sum_stored(F f) {
    sddmm(Side::W);
    return thrust::transform_reduce(thrust_policy(), thrust::counting_iterator<index_t>(0),
                                    thrust::counting_iterator<index_t>(nnz_),
                                    StoredOf<F>{V_->values(), wh_.data(), f}, 0.0,
                                    thrust::plus<double>());
  }
  template <class F>
  double sum_stored_values(F f) {
    return thrust::transform_reduce(thrust_policy(), thrust::counting_iterator<index_t>(0),
                                    thrust::counting_iterator<index_t>(nnz_),
                                    StoredOf<F>{V_->values(), V_->values(), f}, 0.0,
                                    thrust::plus<double>());
  }

  // Calls fn(j0, nb, WH) for blocks X_s·Y[j0:j0+nb]ᵀ (rows of s × nb, column-major,
  // scratch fn may overwrite), Y the partner of s.
  template <class Fn>
  void for_each_dense_block(Side s, Exact exact, Fn fn) {
    const Side p = core::partner(s);
    const index_t r = factor_rows(s), other = factor_rows(p);
    const index_t block = std::clamp<index_t>(kDenseBlockEntries / r, 1, other);
    if (dense_block_.size() < std::size_t(r * block))
      dense_block_ = DeviceBuffer<float>(std::size_t(r * block));
    for (index_t j0 = 0; j0 < other; j0 += block) {
      const index_t nb = std::min(block, other - j0);
      const core::GemmPlan plan =
          plan_gemm(core::column_major(r, k()), false, factor_block(p, nb), true, r);
      gemm(exact, plan, factor(s).data(), factor(p).data() + j0, dense_block_.data());
      fn(j0, nb, dense_block_.data());
    }
  }

  index_t nnz_;
  bool zeros_absent_;
  CusparseHandle sparse_;
  std::optional<DeviceCsr<I>> V_, Vt_;
  DeviceBuffer<float> wh_, den_;  // W·Htᵀ at the stored entries (then ratios), β's den
  DeviceBuffer<float> partner_rows_, dense_block_;
  DeviceBuffer<char> scratch_;
};

}  // namespace

std::unique_ptr<core::Backend<float>> make_sparse_backend(CsrView<float, std::int32_t> V,
                                                          int rank, GpuSettings settings) {
  return std::make_unique<CudaSparseBackend<std::int32_t>>(V, rank, settings);
}

std::unique_ptr<core::Backend<float>> make_sparse_backend(CsrView<float, std::int64_t> V,
                                                          int rank, GpuSettings settings) {
  return std::make_unique<CudaSparseBackend<std::int64_t>>(V, rank, settings);
}

}  // namespace nmfuse::cuda
