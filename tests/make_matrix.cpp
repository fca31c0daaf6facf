// Writes a random non-negative float64 matrix as .npy, for the command's tests:
// make_matrix OUT.npy ROWS COLS SEED
#include <cstdio>
#include <cstdlib>
#include <random>

#include "io/atomic_file.hpp"
#include "io/matrix_files.hpp"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: make_matrix OUT.npy ROWS COLS SEED\n");
    return 2;
  }
  const long rows = std::atol(argv[2]), cols = std::atol(argv[3]);
  std::mt19937 gen(unsigned(std::atol(argv[4])));
  std::uniform_real_distribution<double> u(0, 1);
  nmfuse::Matrix<double> A(rows, cols, nmfuse::Layout::RowMajor);
  for (std::size_t e = 0; e < A.size(); ++e) A.data()[e] = u(gen);
  nmfuse::io::write_atomically(argv[1], nmfuse::io::encode_npy(A));
  return 0;
}
