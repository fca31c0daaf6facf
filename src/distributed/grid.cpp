// Grid: the processes' shape and blocks, the communicators over them, and the words an
// iteration moves.
#include <exception>
#include <limits>
#include <new>

#include "grid_communicators.hpp"

namespace nmfuse::distributed {
namespace {

// The words a process receives when N words are summed over p processes (a
// reduce-scatter and an all-gather), the process keeping piece `r` (communicator.hpp).
double words_of_sum(index_t N, int p, int r) {
  if (p == 1) return 0;
  const index_t piece = N * (r + 1) / p - N * r / p;
  return 2.0 * double(N - piece);
}

int processes_of(MPI_Comm comm) {
  int size = 0;
  MPI_Comm_size(comm, &size);
  return size;
}

GridShape checked_shape(MPI_Comm comm, index_t m, index_t n, GridShape shape) {
  const int p = processes_of(comm);
  if (m < 1 || n < 1)
    throw InvalidArgument("V is " + std::to_string(m) + "×" + std::to_string(n) +
                          ": a grid needs at least one row and one column");
  if (shape.rows == 0 && shape.cols == 0) return Grid::chosen(p, m, n);
  const std::string named = "grid " + std::to_string(shape.rows) + "×" + std::to_string(shape.cols);
  if (shape.rows < 1 || shape.cols < 1 || shape.rows * shape.cols != p)
    throw InvalidArgument(named + ": needs rows × cols = the " + std::to_string(p) +
                          " processes of the communicator");
  if (shape.rows > m || shape.cols > n)
    throw InvalidArgument(named + ": more grid rows or columns than V's " + std::to_string(m) +
                          "×" + std::to_string(n) + " has rows or columns");
  return shape;
}

GridShape agreed_shape(MPI_Comm comm, index_t m, index_t n, GridShape shape) {
  agree(comm, [&] { shape = checked_shape(comm, m, n, shape); });
  return shape;
}

int rank_in(MPI_Comm comm) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  return rank;
}

}  // namespace

// The shape is checked on every process at once: one passing other arguments than the
// rest fails them all rather than leaving them in the communicators' collectives.
Grid::Grid(MPI_Comm comm, index_t m, index_t n, GridShape shape)
    : comms_(std::make_unique<Communicators>(comm, m, n, agreed_shape(comm, m, n, shape),
                                             rank_in(comm))) {}
Grid::~Grid() = default;

index_t Grid::rows() const { return comms_->m; }
index_t Grid::cols() const { return comms_->n; }
GridShape Grid::shape() const { return comms_->shape; }
int Grid::grid_row() const { return comms_->grid_row; }
int Grid::grid_col() const { return comms_->grid_col; }
BlockRange Grid::block() const { return comms_->block(); }
BlockRange Grid::block_of(int i, int j) const { return comms_->block_of(i, j); }
Traffic Grid::traffic() const { return comms_->traffic; }

GridShape Grid::chosen(int processes, index_t m, index_t n) {
  GridShape best{1, processes};
  double fewest = std::numeric_limits<double>::infinity();
  for (int pr = 1; pr <= processes; ++pr) {
    const int pc = processes / pr;
    if (pr * pc != processes || pr > m || pc > n) continue;
    const double words = double(m) / pr * (pc - 1) / pc + double(n) / pc * (pr - 1) / pr;
    if (words < fewest) {
      fewest = words;
      best = {pr, pc};
    }
  }
  if (fewest == std::numeric_limits<double>::infinity())
    throw InvalidArgument("V is " + std::to_string(m) + "×" + std::to_string(n) +
                          ": too small for a grid of " + std::to_string(processes) + " processes");
  return best;
}

double words_per_iteration(const Grid& grid, int k) {
  const Grid::Communicators& g = grid.communicators();
  const GridShape s = g.shape;
  const index_t kk = index_t(k) * k;
  return words_of_sum(g.rows_of_block[g.grid_row] * k, s.cols, g.grid_col)  // P_W over the row
         + words_of_sum(kk, s.rows, g.grid_row)                             // G_W over the column
         + words_of_sum(g.cols_of_block[g.grid_col] * k, s.rows, g.grid_row)  // P_H over the column
         + words_of_sum(kk, s.cols, g.grid_col);                            // G_H over the row
}

namespace {

// The kinds of error agree() carries from one process to all, most derived first.
enum class Kind { None, OutOfDeviceMemory, DeviceUnavailable, NotCompiled, Cuda, Io, Argument, Other };

Kind kind_of(const std::exception& e) {
  if (dynamic_cast<const OutOfDeviceMemory*>(&e)) return Kind::OutOfDeviceMemory;
  if (dynamic_cast<const DeviceUnavailable*>(&e)) return Kind::DeviceUnavailable;
  if (dynamic_cast<const NotCompiled*>(&e)) return Kind::NotCompiled;
  if (dynamic_cast<const CudaError*>(&e)) return Kind::Cuda;
  if (dynamic_cast<const IoError*>(&e)) return Kind::Io;
  if (dynamic_cast<const InvalidArgument*>(&e)) return Kind::Argument;
  return Kind::Other;
}

[[noreturn]] void throw_agreed(Kind kind, const std::string& message) {
  switch (kind) {
    case Kind::OutOfDeviceMemory: throw Agreed<OutOfDeviceMemory>(message);
    case Kind::DeviceUnavailable: throw Agreed<DeviceUnavailable>(message);
    case Kind::NotCompiled: throw Agreed<NotCompiled>(message);
    case Kind::Cuda: throw Agreed<CudaError>(message);
    case Kind::Io: throw Agreed<IoError>(message);
    case Kind::Argument: throw Agreed<InvalidArgument>(message);
    default: throw Agreed<Error>(message);
  }
}

}  // namespace

void agree(MPI_Comm comm, const std::function<void()>& check) {
  const int size = processes_of(comm), me = rank_in(comm);
  std::string message;
  Kind kind = Kind::None;
  try {
    check();
  } catch (const std::bad_alloc&) {  // no new message can be made then
    kind = Kind::Other, message = "out of memory";
  } catch (const std::exception& e) {  // whatever it is, no process may skip what follows
    kind = kind_of(e), message = e.what();
    if (message.empty()) message = "failed";
  } catch (...) {
    kind = Kind::Other, message = "an unknown exception";
  }
  // The first failing process (or `size` when none) tells every process its error.
  const int mine = kind == Kind::None ? size : me;
  int first = size;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
  if (first == size) return;
  int header[2] = {int(kind), int(message.size())};
  MPI_Bcast(header, 2, MPI_INT, first, comm);
  message.resize(std::size_t(header[1]));
  MPI_Bcast(message.data(), header[1], MPI_CHAR, first, comm);
  throw_agreed(Kind(header[0]), "process " + std::to_string(first) + " of " +
                                    std::to_string(size) + ": " + message);
}

template <class T, class I>
CsrMatrix<T, I> block_of(CsrView<T, I> whole, const BlockRange& b) {
  CsrMatrix<T, I> part;
  part.rows = b.rows();
  part.cols = b.cols();
  for (index_t i = b.row_begin; i < b.row_end; ++i) {
    for (index_t e = whole.row_ptr[i]; e < whole.row_ptr[i + 1]; ++e) {
      const index_t j = whole.col_idx[e];
      if (j < b.col_begin || j >= b.col_end) continue;
      part.col_idx.push_back(I(j - b.col_begin));
      part.values.push_back(whole.values[e]);
    }
    part.row_ptr.push_back(I(part.col_idx.size()));
  }
  return part;
}

template CsrMatrix<float, std::int32_t> block_of(CsrView<float, std::int32_t>, const BlockRange&);
template CsrMatrix<double, std::int32_t> block_of(CsrView<double, std::int32_t>, const BlockRange&);
template CsrMatrix<float, std::int64_t> block_of(CsrView<float, std::int64_t>, const BlockRange&);
template CsrMatrix<double, std::int64_t> block_of(CsrView<double, std::int64_t>, const BlockRange&);

}  // namespace nmfuse::distributed
