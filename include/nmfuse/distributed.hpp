#pragma once
// One factorization over many processes (MPI): V lies on a pr × pc grid of processes,
// rows of V split over the grid's rows and columns over its columns, and each process
// holds only its block of V (DESIGN.md §6, MPI-FAUN's layout: Kannan, Ballard & Park,
// PPoPP 2016). Link nmfuse::distributed; call between MPI_Init and MPI_Finalize.
//
//   nmfuse::distributed::Grid grid(MPI_COMM_WORLD, m, n);         // every process
//   nmfuse::distributed::BlockRange mine = grid.block();          // read this part of V
//   nmfuse::Result<float> r = nmfuse::distributed::factorize(grid, block_view, options);
//
// Every call here is collective over the grid: each process makes it, in the same order.
// An argument that is wrong on any process is reported on every process.
#include <functional>
#include <memory>

#include <mpi.h>

#include "nmfuse/errors.hpp"
#include "nmfuse/options.hpp"
#include "nmfuse/result.hpp"
#include "nmfuse/sparse.hpp"
#include "nmfuse/view.hpp"

namespace nmfuse::distributed {

// Processes along V's rows × along its columns; 0 × 0 lets Grid choose.
struct GridShape {
  int rows = 0;
  int cols = 0;
};

// The rows [row_begin, row_end) and columns [col_begin, col_end) of V one process holds.
struct BlockRange {
  index_t row_begin = 0, row_end = 0, col_begin = 0, col_end = 0;
  index_t rows() const { return row_end - row_begin; }
  index_t cols() const { return col_end - col_begin; }
};

// What this process moved in the grid's collectives since the grid was made: the words
// (entries of T or double) it received, counted as the bandwidth-optimal algorithms
// move them (a reduce-scatter or all-gather of N words, of which this process keeps or
// brings c, receives N − c; Chan et al. 2007), and the collectives themselves. Scalar
// sums (losses, statistics of V) are counted apart, as latency rather than bandwidth.
struct Traffic {
  double words = 0;
  long collectives = 0;
  long scalar_sums = 0;
  double seconds = 0;  // spent in the collectives, waiting for the others included
};

class Grid {
 public:
  // Collective over `comm`: every process passes the same m×n (V's shape) and shape.
  // A shape of 0 × 0 is chosen() for comm's size; else rows·cols must equal it.
  Grid(MPI_Comm comm, index_t m, index_t n, GridShape shape = {});
  ~Grid();
  Grid(const Grid&) = delete;
  Grid& operator=(const Grid&) = delete;

  index_t rows() const;  // m
  index_t cols() const;  // n
  GridShape shape() const;
  int grid_row() const;  // this process's place: process rank = grid_row·shape.cols + grid_col
  int grid_col() const;
  BlockRange block() const;  // this process's block of V
  BlockRange block_of(int grid_row, int grid_col) const;
  Traffic traffic() const;

  // The grid of `processes` that moves the fewest words per iteration for an m×n V:
  // each process receives about 2k·(m/pr·(pc−1)/pc + n/pc·(pr−1)/pr) (words_per_iteration).
  static GridShape chosen(int processes, index_t m, index_t n);

  class Communicators;  // src/distributed/grid_communicators.hpp
  Communicators& communicators() const { return *comms_; }

 private:
  std::unique_ptr<Communicators> comms_;
};

// What agree() throws on every process alike: the first failing process's error, of its
// kind (Agreed<InvalidArgument>, Agreed<DeviceUnavailable>, …), naming that process. An
// error of a distributed run that is no AgreedError was raised on some processes only,
// and the others may be waiting for them in a collective: end the job (MPI_Abort).
class AgreedError {
 public:
  virtual ~AgreedError() = default;
};
template <class E>
class Agreed final : public E, public AgreedError {
 public:
  using E::E;
};

// Runs `check` on every process of comm; where it throws on any, every process throws
// an Agreed error with the first failing process's message: none is left waiting in a
// collective the others skipped. Collective.
void agree(MPI_Comm comm, const std::function<void()>& check);

// This process's block of a whole CSR V (read whole by every process, kept in part).
template <class T, class I>
CsrMatrix<T, I> block_of(CsrView<T, I> whole, const BlockRange& block);

// The words this process receives in one iteration of the Frobenius loop (HALS or MU) at
// rank k, from the shapes alone: the two products' and the two Grams' completion.
double words_per_iteration(const Grid& grid, int k);

// The whole W (m×k) and H (k×n) come back on every process, with the run's report.
// Checkpoints (Options::on_checkpoint) hold the whole factors too, on every process, so
// that one file resumes the run (Options::resume) on any grid; `interrupt` returning true
// on any process stops all of them at the same iteration. Options::device chooses each
// process's CPU or a GPU of its own (Auto: GPUs where every process has one), the GPUs'
// sums through NCCL where they can (RunInfo::device_reason says). A mask, a custom start
// and out_of_core = on are refused with a message saying so.
template <class T>
Result<T> factorize(Grid& grid, DenseView<const T> block, const Options& options);
template <class T, class I>
Result<T> factorize(Grid& grid, CsrView<T, I> block, const Options& options);

template <class T>
Result<T> factorize(Grid& grid, const Matrix<T>& block, const Options& options) {
  return factorize(grid, block.view(), options);
}
template <class T, class I>
Result<T> factorize(Grid& grid, const CsrMatrix<T, I>& block, const Options& options) {
  return factorize(grid, block.view(), options);
}

}  // namespace nmfuse::distributed
