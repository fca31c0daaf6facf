#pragma once
// What the distributed tests (CPU and GPU) share: the processes, their grids, planted V
// cut into blocks, and comparisons that hold on every process at once.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "nmfuse/distributed.hpp"

namespace testing_distributed {

using nmfuse::Absent;
using nmfuse::DenseView;
using nmfuse::index_t;
using nmfuse::Layout;
using nmfuse::Matrix;
using nmfuse::Options;
using nmfuse::Result;
using nmfuse::distributed::BlockRange;
using nmfuse::distributed::Grid;
using nmfuse::distributed::GridShape;
using testing_nmf::cpu_options;
using testing_nmf::random_matrix;
using testing_nmf::relative_difference;

inline int processes() {
  int p = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &p);
  return p;
}

inline int process() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

// Every pr × pc with pr·pc = the processes.
inline std::vector<GridShape> every_grid() {
  std::vector<GridShape> grids;
  for (int pr = 1; pr <= processes(); ++pr)
    if (processes() % pr == 0) grids.push_back({pr, processes() / pr});
  return grids;
}

inline std::string named(GridShape s) { return std::to_string(s.rows) + "×" + std::to_string(s.cols) + " grid"; }

// A positive m×n V of rank about k, plus noise: the same on every process.
inline Matrix<double> planted(index_t m, index_t n, int k, unsigned seed) {
  const Matrix<double> W = random_matrix(m, k, seed), H = random_matrix(k, n, seed + 1);
  Matrix<double> V = testing_nmf::product(W, H);
  const Matrix<double> noise = random_matrix(m, n, seed + 2);
  for (index_t i = 0; i < m; ++i)
    for (index_t j = 0; j < n; ++j) V(i, j) += 0.05 * noise(i, j) + 0.01;
  return V;
}

template <class T>
Matrix<T> cast(const Matrix<double>& A) {
  return testing_nmf::cast<T>(A);
}

// This process's block, as a view into the whole V (its leading dimension V's).
template <class T>
DenseView<const T> block_view(const Matrix<T>& V, const BlockRange& b) {
  return {V.data() + b.row_begin * V.cols() + b.col_begin, b.rows(), b.cols(), Layout::RowMajor,
          V.cols()};
}

template <class T>
nmfuse::CsrMatrix<T> block_csr(const Matrix<double>& V, const BlockRange& b) {
  Matrix<double> part(b.rows(), b.cols(), Layout::RowMajor);
  for (index_t i = 0; i < b.rows(); ++i)
    for (index_t j = 0; j < b.cols(); ++j) part(i, j) = V(b.row_begin + i, b.col_begin + j);
  return testing_nmf::to_csr<T>(part);
}

// Every process holds the very same bytes of A.
template <class T>
bool same_on_every_process(const Matrix<T>& A) {
  std::uint64_t hash = 1469598103934665603ull;  // FNV-1a over the bytes
  const auto* bytes = reinterpret_cast<const unsigned char*>(A.data());
  for (std::size_t i = 0; i < A.size() * sizeof(T); ++i) hash = (hash ^ bytes[i]) * 1099511628211ull;
  std::uint64_t low = 0, high = 0;
  MPI_Allreduce(&hash, &low, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&hash, &high, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
  return low == high;
}

// The distributed run against the single process's, on the same V and options.
// tolerance: relative, on every checked loss and on W and H. A loss made of terms of
// size loss_scale that cancel (the expanded Frobenius loss: ½‖V‖² − ⟨W, P⟩ + ½⟨G, G⟩)
// carries their rounding: relative to loss_scale then, where it is larger.
template <class T>
void expect_same_as_one_process(const Result<T>& distributed, const Result<T>& single,
                                double tolerance, const std::string& what,
                                double loss_scale = 0) {
  SCOPED_TRACE(what);
  EXPECT_EQ(distributed.iterations, single.iterations);
  ASSERT_EQ(distributed.loss_history.size(), single.loss_history.size());
  for (std::size_t c = 0; c < single.loss_history.size(); ++c)
    EXPECT_NEAR(distributed.loss_history[c], single.loss_history[c],
                tolerance * std::max(single.loss_history[c], loss_scale))
        << "check " << c;
  EXPECT_LE(relative_difference(distributed.W, single.W), tolerance);
  EXPECT_LE(relative_difference(distributed.H, single.H), tolerance);
  EXPECT_TRUE(same_on_every_process(distributed.W));
  EXPECT_TRUE(same_on_every_process(distributed.H));
}

inline Options fixed_iterations(int rank, int iterations) {
  Options opt = cpu_options(rank);
  opt.max_iter = iterations;
  opt.tol = 0;
  opt.check_every = 1;
  return opt;
}

// What fails on one process is reported on every process, naming it.
// E: the kind of error expected, which every process throws as an AgreedError.
template <class E = nmfuse::InvalidArgument>
void expect_everywhere(const std::function<void()>& call, const std::string& part) {
  try {
    call();
    ADD_FAILURE() << "no error; expected one with \"" << part << "\"";
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    EXPECT_NE(dynamic_cast<const nmfuse::distributed::AgreedError*>(&e), nullptr) << e.what();
  }
}

}  // namespace testing_distributed
