#pragma once
// Sparse matrix files: Matrix Market (.mtx, coordinate and array) and scipy.sparse's
// .npz (save_npz of a CSR or CSC matrix), read as CSR with sorted, summed entries.
#include <cstdint>
#include <string>

#include "nmfuse/sparse.hpp"

namespace nmfuse::io {

// A sparse matrix as a file holds it; values in double whatever the file's type.
struct SparseMatrix : CsrMatrix<double, std::int64_t> {
  // The values are float32's: the file's type (.npz), or Matrix Market counts that
  // float32 holds exactly.
  bool single_precision = false;
};

SparseMatrix parse_matrix_market(const std::string& text, const std::string& name);
SparseMatrix parse_npz(const std::string& bytes, const std::string& name);

// By extension: .mtx or .npz.
SparseMatrix read_sparse(const std::string& path);
bool is_sparse_file(const std::string& path);

// The same entries with other value and index types (float values, 32-bit indices
// where the sizes fit: what the factorization keeps in memory).
template <class T, class I>
CsrMatrix<T, I> narrowed(const SparseMatrix& A);

}  // namespace nmfuse::io
