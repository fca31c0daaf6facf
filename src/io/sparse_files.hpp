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

// What a sparse file's header says of its shape.
struct SparseShape {
  index_t rows = 0, cols = 0;
};
SparseShape read_sparse_shape(const std::string& path);

// Rows [row_begin, row_end) and columns [col_begin, col_end) of a matrix in a file.
struct BlockOfFile {
  index_t row_begin = 0, row_end = 0, col_begin = 0, col_end = 0;
  index_t rows() const { return row_end - row_begin; }
  index_t cols() const { return col_end - col_begin; }
};
// Only `block` of a sparse file, as a CSR of its size: the file is mapped and read
// through (.mtx) or its indptr read whole and its indices and data streamed over the
// block's rows (CSR) or columns (CSC) (.npz); only the block's entries are kept. The
// file's errors inside the block's part are found; a distributed run's processes
// together read every part.
SparseMatrix read_sparse_block(const std::string& path, const BlockOfFile& block);
bool is_sparse_file(const std::string& path);

// The same entries with other value and index types (float values, 32-bit indices
// where the sizes fit: what the factorization keeps in memory).
template <class T, class I>
CsrMatrix<T, I> narrowed(const SparseMatrix& A);

}  // namespace nmfuse::io
