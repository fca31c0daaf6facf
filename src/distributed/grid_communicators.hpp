#pragma once
// What a Grid holds: its shape, the blocks of V, and the communicators a distributed run
// completes its pieces over (grid_backend.hpp says which over which).
#include <vector>

#include "communicator.hpp"
#include "nmfuse/distributed.hpp"

namespace nmfuse::distributed {

class Grid::Communicators {
 public:
  Communicators(MPI_Comm comm, index_t m, index_t n, GridShape shape, int process)
      : m(m), n(n), shape(shape), grid_row(process / shape.cols), grid_col(process % shape.cols),
        world(comm, 0, process, traffic),
        row(comm, grid_row, grid_col, traffic),
        column(comm, grid_col, grid_row, traffic) {
    for (int i = 0; i < shape.rows; ++i) rows_of_block.push_back(block_of(i, 0).rows());
    for (int j = 0; j < shape.cols; ++j) cols_of_block.push_back(block_of(0, j).cols());
  }

  // Where part `i` of `parts` nearly equal contiguous parts of `length` begins.
  static index_t split(index_t length, int parts, int i) { return length * i / parts; }

  BlockRange block_of(int i, int j) const {
    return {split(m, shape.rows, i), split(m, shape.rows, i + 1), split(n, shape.cols, j),
            split(n, shape.cols, j + 1)};
  }
  BlockRange block() const { return block_of(grid_row, grid_col); }

  const index_t m, n;
  const GridShape shape;
  const int grid_row, grid_col;
  Traffic traffic;
  Communicator world;   // every process
  Communicator row;     // this grid row's processes: they hold the same rows of W
  Communicator column;  // this grid column's: they hold the same rows of Ht
  // V's rows in each grid row, and its columns in each grid column.
  std::vector<index_t> rows_of_block, cols_of_block;
};

}  // namespace nmfuse::distributed
