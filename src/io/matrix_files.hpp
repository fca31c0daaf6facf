#pragma once
// Dense matrix files: NumPy .npy (float32/float64, C or Fortran order) and CSV.
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "mapped_file.hpp"
#include "nmfuse/view.hpp"

namespace nmfuse::io {

// A matrix as it was stored: its element type is the file's.
using AnyMatrix = std::variant<Matrix<float>, Matrix<double>, Matrix<std::uint8_t>>;

// One array of a .npy file, its data left in place (inside the bytes parsed).
struct NpyArray {
  std::string descr;  // numpy's dtype string: '<f8', '<i4', '|S3', ...
  bool fortran = false;
  std::vector<index_t> shape;
  const char* data = nullptr;
  std::size_t offset = 0;  // of the data in the file
  std::size_t bytes = 0;   // = product of shape × item size, checked against the file
};
NpyArray parse_npy_array(const std::string& bytes, const std::string& name);
// The array that a .npy file of `file_size` bytes holds, from the first bytes of it
// (at least kNpyHeadMost of them, or all): everything but `data`.
constexpr std::size_t kNpyHeadMost = 12 + 16384;
NpyArray npy_header(const std::string& bytes, std::size_t file_size, const std::string& name);

AnyMatrix parse_npy(const std::string& bytes, const std::string& name);
template <class T>
std::string encode_npy(const Matrix<T>& A);
// A 1-D array: float64 or int64.
template <class T>
std::string encode_npy(const std::vector<T>& v);

// Comma-separated numbers, one matrix row a line; read as double.
Matrix<double> parse_csv(const std::string& text, const std::string& name);

// By extension: .npy or .csv.
AnyMatrix read_matrix(const std::string& path);

// A float32 or float64 .npy file mapped read-only into memory: its data is V, read from
// the file as it is used and never copied (an out-of-core run pages it in block by block
// and drops each block's pages once read).
class MappedNpy {
 public:
  explicit MappedNpy(const std::string& path);

  std::variant<DenseView<const float>, DenseView<const double>> view() const { return view_; }
  std::size_t data_bytes() const { return data_bytes_; }

 private:
  MappedFile file_;
  std::size_t data_bytes_ = 0;
  std::variant<DenseView<const float>, DenseView<const double>> view_;
};

// A mask of observed entries: a .npy or .csv whose non-zero entries are the observed ones
// (bool, uint8, float or double).
Matrix<std::uint8_t> read_mask(const std::string& path);

}  // namespace nmfuse::io
