// The cuSPARSE subset the backend uses: dense and CSR descriptors, SpMM and SDDMM by
// plain loops on the handle's stream. Each call is checked against cuSPARSE's rules:
// shapes that agree, leading dimensions, index and value types, operands in device
// memory, the output not overlapping an input, and a workspace at least as large as
// the matching _bufferSize call said. The descriptors' pointers are read at the call,
// as the real library's kernels are launched with them. cuSPARSE does not promise, as
// cuBLAS does, to leave C unread when β = 0: C = α·op + β·C is computed as written, and
// an output holding a NaN or an infinity then is a fault (0·∞ would be NaN).
#include <cusparse.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include "emulator.hpp"

struct cusparseContext {
  cudaStream_t stream = nullptr;
};

struct cusparseDnMatDescr {
  std::int64_t rows, cols, ld;
  float* values;
  cusparseOrder_t order;
};

struct cusparseSpMatDescr {
  std::int64_t rows, cols, nnz;
  void* row_ptr;
  void* col_idx;
  float* values;
  cusparseIndexType_t index;
};

namespace nmfuse::emulator {
namespace {

// What SpMM and SDDMM ask of their workspace, per call.
constexpr std::size_t kWorkspaceBytes = 256;

cusparseStatus_t invalid(const char* call, const std::string& rule) {
  std::fprintf(stderr, "nmfuse emulated GPU: %s: %s\n", call, rule.c_str());
  return CUSPARSE_STATUS_INVALID_VALUE;
}

// C's old values enter β·C: none may be NaN or infinite, even where β = 0.
void check_finite(const char* call, const float* values, std::size_t count) {
  for (std::size_t e = 0; e < count; ++e)
    if (!std::isfinite(values[e]))
      fault(std::string(call) + ": its output C holds " + std::to_string(values[e]) +
            " at entry " + std::to_string(e) +
            " and C is read even where β = 0 (β·C): set C before the call");
}

std::size_t index_bytes(cusparseIndexType_t t) {
  return t == CUSPARSE_INDEX_64I ? 8 : 4;
}

std::int64_t index_at(const void* p, cusparseIndexType_t t, std::int64_t e) {
  return t == CUSPARSE_INDEX_64I ? static_cast<const std::int64_t*>(p)[e]
                                 : static_cast<const std::int32_t*>(p)[e];
}

std::size_t dense_bytes(const cusparseDnMatDescr& d) {
  return d.rows == 0 || d.cols == 0 ? 0 : sizeof(float) * std::size_t((d.cols - 1) * d.ld + d.rows);
}

struct Range {
  const char* begin;
  std::size_t bytes;
};
bool overlap(Range a, Range b) {
  return a.bytes && b.bytes && a.begin < b.begin + b.bytes && b.begin < a.begin + a.bytes;
}
Range range_of(const cusparseDnMatDescr& d) {
  return {reinterpret_cast<const char*>(d.values), dense_bytes(d)};
}

std::string check_dense(const char* name, const cusparseDnMatDescr& d) {
  if (d.order != CUSPARSE_ORDER_COL) return std::string(name) + " is not column-major (not emulated)";
  if (d.ld < std::max<std::int64_t>(1, d.rows))
    return std::string(name) + "'s ld " + std::to_string(d.ld) + " is below its rows " +
           std::to_string(d.rows);
  if (dense_bytes(d) && !is_device_range(d.values, dense_bytes(d)))
    return std::string(name) + " does not lie inside one device allocation";
  return {};
}

std::string check_csr(const char* name, const cusparseSpMatDescr& s) {
  const std::size_t ib = index_bytes(s.index);
  if (!is_device_range(s.row_ptr, ib * std::size_t(s.rows + 1)))
    return std::string(name) + "'s row offsets do not lie inside one device allocation";
  if (s.nnz && !is_device_range(s.col_idx, ib * std::size_t(s.nnz)))
    return std::string(name) + "'s column indices do not lie inside one device allocation";
  if (s.nnz && !is_device_range(s.values, sizeof(float) * std::size_t(s.nnz)))
    return std::string(name) + "'s values do not lie inside one device allocation";
  return {};
}

// A workspace must hold what _bufferSize asked for (none: null is allowed).
std::string check_workspace(const void* buffer) {
  if (kWorkspaceBytes == 0) return {};
  if (!is_device_range(buffer, kWorkspaceBytes))
    return "the external buffer is smaller than _bufferSize said (" +
           std::to_string(kWorkspaceBytes) + " bytes) or not device memory";
  return {};
}

}  // namespace
}  // namespace nmfuse::emulator

using namespace nmfuse::emulator;

extern "C" {

cusparseStatus_t cusparseCreate(cusparseHandle_t* handle) {
  *handle = new cusparseContext;
  return CUSPARSE_STATUS_SUCCESS;
}

cusparseStatus_t cusparseDestroy(cusparseHandle_t handle) {
  if (!handle) return CUSPARSE_STATUS_NOT_INITIALIZED;
  synchronize(handle->stream);
  delete handle;
  return CUSPARSE_STATUS_SUCCESS;
}

cusparseStatus_t cusparseSetStream(cusparseHandle_t handle, cudaStream_t stream) {
  if (!handle) return CUSPARSE_STATUS_NOT_INITIALIZED;
  handle->stream = stream;
  return CUSPARSE_STATUS_SUCCESS;
}

cusparseStatus_t cusparseCreateDnMat(cusparseDnMatDescr_t* descr, std::int64_t rows,
                                     std::int64_t cols, std::int64_t ld, void* values,
                                     cudaDataType type, cusparseOrder_t order) {
  if (type != CUDA_R_32F) return invalid("cusparseCreateDnMat", "values are not CUDA_R_32F (not emulated)");
  if (rows < 0 || cols < 0) return invalid("cusparseCreateDnMat", "negative size");
  if (ld < (order == CUSPARSE_ORDER_COL ? rows : cols))
    return invalid("cusparseCreateDnMat", "ld " + std::to_string(ld) + " is below the " +
                                              (order == CUSPARSE_ORDER_COL ? "rows" : "columns"));
  *descr = new cusparseDnMatDescr{rows, cols, ld, static_cast<float*>(values), order};
  return CUSPARSE_STATUS_SUCCESS;
}

cusparseStatus_t cusparseDestroyDnMat(cusparseConstDnMatDescr_t descr) {
  delete descr;
  return CUSPARSE_STATUS_SUCCESS;
}

cusparseStatus_t cusparseCreateCsr(cusparseSpMatDescr_t* descr, std::int64_t rows,
                                   std::int64_t cols, std::int64_t nnz, void* row_ptr,
                                   void* col_idx, void* values, cusparseIndexType_t row_type,
                                   cusparseIndexType_t col_type, cusparseIndexBase_t base,
                                   cudaDataType type) {
  const char* call = "cusparseCreateCsr";
  if (type != CUDA_R_32F) return invalid(call, "values are not CUDA_R_32F (not emulated)");
  if (row_type != col_type) return invalid(call, "row offsets and column indices of two index types (not emulated)");
  if (row_type != CUSPARSE_INDEX_32I && row_type != CUSPARSE_INDEX_64I) return invalid(call, "index type");
  if (base != CUSPARSE_INDEX_BASE_ZERO) return invalid(call, "one-based indices (not emulated)");
  if (rows < 0 || cols < 0 || nnz < 0) return invalid(call, "negative size");
  if (row_type == CUSPARSE_INDEX_32I && (rows > INT32_MAX || cols > INT32_MAX || nnz > INT32_MAX))
    return invalid(call, "sizes past 32-bit indices");
  *descr = new cusparseSpMatDescr{rows, cols, nnz, row_ptr, col_idx, static_cast<float*>(values),
                                  row_type};
  return CUSPARSE_STATUS_SUCCESS;
}

cusparseStatus_t cusparseDestroySpMat(cusparseConstSpMatDescr_t descr) {
  delete descr;
  return CUSPARSE_STATUS_SUCCESS;
}

cusparseStatus_t cusparseCsrSetPointers(cusparseSpMatDescr_t descr, void* row_ptr, void* col_idx,
                                        void* values) {
  if (!descr || !row_ptr || (descr->nnz && (!col_idx || !values)))
    return invalid("cusparseCsrSetPointers", "a null pointer");
  descr->row_ptr = row_ptr;
  descr->col_idx = col_idx;
  descr->values = static_cast<float*>(values);
  return CUSPARSE_STATUS_SUCCESS;
}

cusparseStatus_t cusparseSpMM_bufferSize(cusparseHandle_t, cusparseOperation_t,
                                         cusparseOperation_t, const void*,
                                         cusparseConstSpMatDescr_t, cusparseConstDnMatDescr_t,
                                         const void*, cusparseDnMatDescr_t, cudaDataType,
                                         cusparseSpMMAlg_t, std::size_t* bytes) {
  *bytes = kWorkspaceBytes;
  return CUSPARSE_STATUS_SUCCESS;
}

// C = α·A·B + β·C, A CSR (rows×cols), B dense (cols×width), C dense (rows×width).
cusparseStatus_t cusparseSpMM(cusparseHandle_t handle, cusparseOperation_t op_a,
                              cusparseOperation_t op_b, const void* alpha,
                              cusparseConstSpMatDescr_t a, cusparseConstDnMatDescr_t b,
                              const void* beta, cusparseDnMatDescr_t c, cudaDataType type,
                              cusparseSpMMAlg_t, void* buffer) {
  const char* call = "cusparseSpMM";
  if (!handle) return CUSPARSE_STATUS_NOT_INITIALIZED;
  if (op_a != CUSPARSE_OPERATION_NON_TRANSPOSE || op_b != CUSPARSE_OPERATION_NON_TRANSPOSE)
    return invalid(call, "a transposed operand (not emulated)");
  if (type != CUDA_R_32F) return invalid(call, "compute type is not CUDA_R_32F");
  if (b->rows != a->cols || c->rows != a->rows || c->cols != b->cols)
    return invalid(call, "A is " + std::to_string(a->rows) + "×" + std::to_string(a->cols) +
                             ", B " + std::to_string(b->rows) + "×" + std::to_string(b->cols) +
                             ", C " + std::to_string(c->rows) + "×" + std::to_string(c->cols));
  for (const std::string& rule : {check_csr("A", *a), check_dense("B", *b), check_dense("C", *c),
                                  check_workspace(buffer)})
    if (!rule.empty()) return invalid(call, rule);
  const cusparseSpMatDescr A = *a;
  const Range values{reinterpret_cast<const char*>(A.values), sizeof(float) * std::size_t(A.nnz)};
  if (overlap(range_of(*c), range_of(*b)) || overlap(range_of(*c), values))
    return invalid(call, "C overlaps A or B");
  const cusparseDnMatDescr B = *b, C = *c;
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  enqueue(handle->stream, [=] {
    for (std::int64_t t = 0; t < C.cols; ++t) check_finite("cusparseSpMM", C.values + t * C.ld, C.rows);
    for (std::int64_t i = 0; i < A.rows; ++i) {
      const std::int64_t first = index_at(A.row_ptr, A.index, i), end = index_at(A.row_ptr, A.index, i + 1);
      for (std::int64_t t = 0; t < B.cols; ++t) {
        double sum = 0;
        for (std::int64_t e = first; e < end; ++e) {
          const std::int64_t j = index_at(A.col_idx, A.index, e);
          if (j < 0 || j >= A.cols) fault("cusparseSpMM: a column index out of range in A");
          sum += double(A.values[e]) * B.values[j + t * B.ld];
        }
        float& out = C.values[i + t * C.ld];
        out = float(al * sum + double(be) * out);
      }
    }
  });
  return CUSPARSE_STATUS_SUCCESS;
}

cusparseStatus_t cusparseSDDMM_bufferSize(cusparseHandle_t, cusparseOperation_t,
                                          cusparseOperation_t, const void*,
                                          cusparseConstDnMatDescr_t, cusparseConstDnMatDescr_t,
                                          const void*, cusparseSpMatDescr_t, cudaDataType,
                                          cusparseSDDMMAlg_t, std::size_t* bytes) {
  *bytes = kWorkspaceBytes;
  return CUSPARSE_STATUS_SUCCESS;
}

// C = α·(A·B) at C's stored entries + β·C, A dense (rows×k), B dense (k×cols), C CSR.
cusparseStatus_t cusparseSDDMM(cusparseHandle_t handle, cusparseOperation_t op_a,
                               cusparseOperation_t op_b, const void* alpha,
                               cusparseConstDnMatDescr_t a, cusparseConstDnMatDescr_t b,
                               const void* beta, cusparseSpMatDescr_t c, cudaDataType type,
                               cusparseSDDMMAlg_t, void* buffer) {
  const char* call = "cusparseSDDMM";
  if (!handle) return CUSPARSE_STATUS_NOT_INITIALIZED;
  if (op_a != CUSPARSE_OPERATION_NON_TRANSPOSE || op_b != CUSPARSE_OPERATION_NON_TRANSPOSE)
    return invalid(call, "a transposed operand (not emulated)");
  if (type != CUDA_R_32F) return invalid(call, "compute type is not CUDA_R_32F");
  if (a->cols != b->rows || c->rows != a->rows || c->cols != b->cols)
    return invalid(call, "A is " + std::to_string(a->rows) + "×" + std::to_string(a->cols) +
                             ", B " + std::to_string(b->rows) + "×" + std::to_string(b->cols) +
                             ", C " + std::to_string(c->rows) + "×" + std::to_string(c->cols));
  for (const std::string& rule : {check_dense("A", *a), check_dense("B", *b), check_csr("C", *c),
                                  check_workspace(buffer)})
    if (!rule.empty()) return invalid(call, rule);
  const cusparseSpMatDescr C = *c;
  const Range values{reinterpret_cast<const char*>(C.values), sizeof(float) * std::size_t(C.nnz)};
  if (overlap(values, range_of(*a)) || overlap(values, range_of(*b)))
    return invalid(call, "C overlaps A or B");
  const cusparseDnMatDescr A = *a, B = *b;
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  enqueue(handle->stream, [=] {
    check_finite("cusparseSDDMM", C.values, std::size_t(C.nnz));
    for (std::int64_t i = 0; i < C.rows; ++i) {
      const std::int64_t first = index_at(C.row_ptr, C.index, i), end = index_at(C.row_ptr, C.index, i + 1);
      for (std::int64_t e = first; e < end; ++e) {
        const std::int64_t j = index_at(C.col_idx, C.index, e);
        if (j < 0 || j >= C.cols) fault("cusparseSDDMM: a column index out of range in C");
        double sum = 0;
        for (std::int64_t t = 0; t < A.cols; ++t)
          sum += double(A.values[i + t * A.ld]) * B.values[t + j * B.ld];
        C.values[e] = float(al * sum + double(be) * C.values[e]);
      }
    }
  });
  return CUSPARSE_STATUS_SUCCESS;
}

const char* cusparseGetErrorName(cusparseStatus_t status) {
  switch (status) {
    case CUSPARSE_STATUS_SUCCESS: return "CUSPARSE_STATUS_SUCCESS";
    case CUSPARSE_STATUS_NOT_INITIALIZED: return "CUSPARSE_STATUS_NOT_INITIALIZED";
    case CUSPARSE_STATUS_ALLOC_FAILED: return "CUSPARSE_STATUS_ALLOC_FAILED";
    case CUSPARSE_STATUS_INVALID_VALUE: return "CUSPARSE_STATUS_INVALID_VALUE";
    default: return "CUSPARSE_STATUS_UNKNOWN";
  }
}

const char* cusparseGetErrorString(cusparseStatus_t status) {
  switch (status) {
    case CUSPARSE_STATUS_SUCCESS: return "success";
    case CUSPARSE_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUSPARSE_STATUS_ALLOC_FAILED: return "the resource allocation failed";
    case CUSPARSE_STATUS_INVALID_VALUE: return "an invalid value was passed";
    default: return "an unknown status";
  }
}

}  // extern "C"
