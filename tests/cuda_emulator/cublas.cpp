// The cuBLAS subset the backend uses, by plain loops on the handle's stream, after the
// checks cuBLAS documents (sizes, leading dimensions, operands in device memory) and the
// ones it leaves undefined (an output overlapping an input). A failed check prints the
// rule and returns CUBLAS_STATUS_INVALID_VALUE. Products accumulate in double and round
// once; with CUBLAS_TF32_TENSOR_OP_MATH the inputs are first rounded to TF32.
#include <cublas_v2.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "emulator.hpp"

struct cublasContext {
  cudaStream_t stream = nullptr;
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
};

namespace nmfuse::emulator {
namespace {

cublasStatus_t invalid(const std::string& call, const std::string& rule) {
  std::fprintf(stderr, "nmfuse emulated GPU: %s: %s\n", call.c_str(), rule.c_str());
  return CUBLAS_STATUS_INVALID_VALUE;
}

// A column-major rows×cols operand with leading dimension ld, as cuBLAS reads it.
struct Operand {
  const float* data;
  std::int64_t rows, cols, ld;
  std::size_t bytes() const {
    return rows == 0 || cols == 0 ? 0 : sizeof(float) * std::size_t((cols - 1) * ld + rows);
  }
  const char* begin() const { return reinterpret_cast<const char*>(data); }
};

bool overlap(const Operand& a, const Operand& b) {
  return a.bytes() && b.bytes() && a.begin() < b.begin() + b.bytes() &&
         b.begin() < a.begin() + a.bytes();
}

// An empty string when `x` is a valid operand named `name`, else the broken rule.
std::string check(const char* name, const Operand& x) {
  if (x.ld < std::max<std::int64_t>(1, x.rows))
    return std::string("ld") + name + " = " + std::to_string(x.ld) + " is below max(1, " +
           std::to_string(x.rows) + ")";
  if (x.bytes() && !is_device_range(x.data, x.bytes()))
    return std::string(name) + " (" + std::to_string(x.rows) + "×" + std::to_string(x.cols) +
           ", ld " + std::to_string(x.ld) + ") does not lie inside one device allocation";
  return {};
}

// float rounded to TF32 (10 explicit mantissa bits), to nearest.
float tf32(float v) {
  std::uint32_t u;
  std::memcpy(&u, &v, 4);
  if ((u & 0x7F800000u) != 0x7F800000u) u = (u + 0x1000u) & 0xFFFFE000u;
  std::memcpy(&v, &u, 4);
  return v;
}

}  // namespace
}  // namespace nmfuse::emulator

using namespace nmfuse::emulator;

extern "C" {

cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
  *handle = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  synchronize(handle->stream);
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->math = mode;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa,
                              cublasOperation_t transb, int m, int n, int k, const float* alpha,
                              const float* A, int lda, const float* B, int ldb, const float* beta,
                              float* C, int ldc) {
  const char* call = "cublasSgemm";
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (m < 0 || n < 0 || k < 0)
    return invalid(call, "m, n, k = " + std::to_string(m) + ", " + std::to_string(n) + ", " +
                             std::to_string(k) + ": none may be negative");
  const bool ta = transa != CUBLAS_OP_N, tb = transb != CUBLAS_OP_N;
  const Operand a{A, ta ? k : m, ta ? m : k, lda}, b{B, tb ? n : k, tb ? k : n, ldb},
      c{C, m, n, ldc};
  for (const auto& [name, x] : {std::pair{"a", a}, std::pair{"b", b}, std::pair{"c", c}}) {
    if (std::string(name) != "c" && k == 0) continue;  // A and B are not read
    if (std::string rule = check(name, x); !rule.empty()) return invalid(call, rule);
  }
  if (overlap(c, a) || overlap(c, b)) return invalid(call, "C overlaps A or B");
  // The scalars are read now (host pointer mode); the product when the stream runs.
  const float al = *alpha, be = *beta;
  const bool round = handle->math == CUBLAS_TF32_TENSOR_OP_MATH;
  enqueue(handle->stream, [=] {
    auto at = [](const Operand& x, bool t, std::int64_t i, std::int64_t j) {
      return t ? x.data[j + i * x.ld] : x.data[i + j * x.ld];
    };
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t i = 0; i < m; ++i) {
        double sum = 0;
        for (std::int64_t l = 0; l < k; ++l) {
          float x = at(a, ta, i, l), y = at(b, tb, l, j);
          if (round) x = tf32(x), y = tf32(y);
          sum += double(x) * y;
        }
        float& out = C[i + j * std::int64_t(ldc)];
        // β = 0: C is not read, whatever it holds (NaN included), as cuBLAS documents.
        out = be == 0.0f ? float(al * sum) : float(al * sum + double(be) * out);
      }
  });
  return CUBLAS_STATUS_SUCCESS;
}

// One cublasSgemm per batch entry, the operands `stride` floats apart.
cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
                                         cublasOperation_t transb, int m, int n, int k,
                                         const float* alpha, const float* A, int lda,
                                         long long int strideA, const float* B, int ldb,
                                         long long int strideB, const float* beta, float* C,
                                         int ldc, long long int strideC, int batchCount) {
  if (batchCount < 0)
    return invalid("cublasSgemmStridedBatched",
                   "batchCount = " + std::to_string(batchCount) + ": may not be negative");
  for (int b = 0; b < batchCount; ++b)
    if (cublasStatus_t s = cublasSgemm_v2(handle, transa, transb, m, n, k, alpha, A + b * strideA,
                                          lda, B + b * strideB, ldb, beta, C + b * strideC, ldc);
        s != CUBLAS_STATUS_SUCCESS)
      return s;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSgeam(cublasHandle_t handle, cublasOperation_t transa,
                           cublasOperation_t transb, int m, int n, const float* alpha,
                           const float* A, int lda, const float* beta, const float* B, int ldb,
                           float* C, int ldc) {
  const char* call = "cublasSgeam";
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (m < 0 || n < 0) return invalid(call, "m or n is negative");
  const bool ta = transa != CUBLAS_OP_N, tb = transb != CUBLAS_OP_N;
  const Operand a{A, ta ? n : m, ta ? m : n, lda}, b{B, tb ? n : m, tb ? m : n, ldb},
      c{C, m, n, ldc};
  const float al = *alpha, be = *beta;
  for (const auto& [name, x] : {std::pair{"a", a}, std::pair{"b", b}, std::pair{"c", c}}) {
    if ((std::string(name) == "a" && al == 0.0f) || (std::string(name) == "b" && be == 0.0f))
      continue;  // not read
    if (std::string rule = check(name, x); !rule.empty()) return invalid(call, rule);
  }
  // In place only as documented: C = A with transa = N and lda = ldc (B likewise).
  if (al != 0.0f && overlap(c, a) && !(C == A && !ta && lda == ldc))
    return invalid(call, "C overlaps A, which is allowed only as C = A, transa = N, lda = ldc");
  if (be != 0.0f && overlap(c, b) && !(C == B && !tb && ldb == ldc))
    return invalid(call, "C overlaps B, which is allowed only as C = B, transb = N, ldb = ldc");
  enqueue(handle->stream, [=] {
    auto at = [](const Operand& x, bool t, std::int64_t i, std::int64_t j) {
      return t ? x.data[j + i * x.ld] : x.data[i + j * x.ld];
    };
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t i = 0; i < m; ++i) {
        const float x = al == 0.0f ? 0.0f : al * at(a, ta, i, j);
        const float y = be == 0.0f ? 0.0f : be * at(b, tb, i, j);
        C[i + j * std::int64_t(ldc)] = x + y;
      }
  });
  return CUBLAS_STATUS_SUCCESS;
}

const char* cublasGetStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    default: return "CUBLAS_STATUS_UNKNOWN";
  }
}

const char* cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
    default: return "an unknown status";
  }
}

}  // extern "C"
