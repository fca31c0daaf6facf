// `mpirun -np P nmfuse factor INPUT --rank K [--grid RxC]`: one factorization over the
// processes (nmfuse/distributed.hpp). Each process holds only its block of V: a .npy is
// mapped and only the block's pages are read; a .mtx or .npz is read through and only
// the block's entries kept; a .csv is read whole and all but the block dropped. Process 0 prints and writes the outputs (the factors are
// whole on every process) and the checkpoints, which every process resumes from.
#include <cstdlib>
#include <memory>
#include <sstream>

#include "cli/commands.hpp"
#include "io/reading.hpp"
#ifdef NMFUSE_HAVE_MPI
#include "nmfuse/distributed.hpp"
#endif

namespace nmfuse::cli {

bool launched_by_mpirun() {
  for (const char* size : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"})
    if (const char* value = std::getenv(size)) return std::atoi(value) > 1;
  return false;
}

#ifndef NMFUSE_HAVE_MPI

int run_distributed_factor(const std::string&, const std::string&, Absent, CommonFlags&) {
  throw NotCompiled("a run over processes (--grid, or mpirun with more than one): this nmfuse "
                    "was built without MPI (install libopenmpi-dev and build again)");
}

#else

namespace {

namespace dist = nmfuse::distributed;

// MPI from the run's start to the process's exit, also when the run throws: finalized
// only after the command has said how it ended, since mpirun ends every process once
// one has exited with an error, and MPI_Finalize waits for all of them.
void start_mpi() {
  MPI_Init(nullptr, nullptr);
  std::atexit([] {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  });
}

dist::GridShape parse_grid(const std::string& text) {
  if (text.empty()) return {};
  dist::GridShape s;
  char x = 0, rest = 0;
  std::istringstream in(text);
  if (!(in >> s.rows >> x >> s.cols) || (x != 'x' && x != 'X') || (in >> rest) || s.rows < 1 ||
      s.cols < 1)
    throw InvalidArgument("--grid " + text + ": expected ROWSxCOLS, such as 2x3");
  return s;
}

double sum_on_first(double x) {
  double total = 0;
  MPI_Reduce(&x, &total, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
  return total;
}

// The run itself, once this process holds its block.
template <class T, class Block>
void factor_block(dist::Grid& grid, const Block& block, const InputInfo& in, CommonFlags& f) {
  const dist::GridShape s = grid.shape();
  auto fit = [&](const Options& opt, int, OnlineInfo*) {
    return std::vector<Result<T>>{dist::factorize(grid, block, opt)};
  };
  const Result<T> r = factor_and_write<T>(in, f, fit);
  if (f.writes && !f.quiet && !f.json)
    std::cout << "on a " << s.rows << "×" << s.cols << " grid of processes, each receiving "
              << dist::words_per_iteration(grid, f.opt.rank) << " words an iteration (process 0)\n";
}

// A dense V's block: a view into the whole (mapped or read), its ld the whole's.
template <class T>
DenseView<const T> block_view(DenseView<const T> V, const dist::BlockRange& b) {
  const bool rows = V.layout == Layout::RowMajor;
  const T* first = rows ? V.data + b.row_begin * V.ld + b.col_begin
                        : V.data + b.col_begin * V.ld + b.row_begin;
  return {first, b.rows(), b.cols(), V.layout, V.ld};
}

template <class T>
void factor_dense_blocks(DenseView<const T> V, const std::string& name, dist::GridShape shape,
                         CommonFlags& f) {
  dist::Grid grid(MPI_COMM_WORLD, V.rows, V.cols, shape);
  const DenseView<const T> block = block_view(V, grid.block());
  InputInfo in{name, V.rows, V.cols, dtype_name<T>()};
  factor_block<T>(grid, block, in, f);
}

// Each process reads its own block of the file, keeping only the block's entries.
void factor_sparse_blocks(const std::string& input, Absent absent, dist::GridShape shape,
                          CommonFlags& f) {
  if (absent == Absent::Unknown)
    throw dist::Agreed<InvalidArgument>(  // every process has the same flags
        "--absent unknown: a run over processes takes no missing values yet");
  io::SparseShape size;
  dist::agree(MPI_COMM_WORLD, [&] { size = io::read_sparse_shape(input); });
  dist::Grid grid(MPI_COMM_WORLD, size.rows, size.cols, shape);
  const dist::BlockRange b = grid.block();
  io::SparseMatrix part;
  dist::agree(MPI_COMM_WORLD, [&] {
    part = io::read_sparse_block(input, {b.row_begin, b.row_end, b.col_begin, b.col_end});
  });
  // Float where every block's values are float's: the processes compute in one type.
  int single = part.single_precision, all_single = 0;
  MPI_Allreduce(&single, &all_single, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  auto run = [&](auto value) {
    using T = decltype(value);
    InputInfo in{input, size.rows, size.cols, dtype_name<T>()};
    in.sparse = {{"stored", std::int64_t(sum_on_first(double(part.values.size())))},
                 {"index_bits", 64}, {"absent", "zero"}};
    CsrMatrix<T, std::int64_t> block{part.rows, part.cols, std::move(part.row_ptr),
                                     std::move(part.col_idx),
                                     std::vector<T>(part.values.begin(), part.values.end())};
    part.values = {};
    factor_block<T>(grid, block.view(), in, f);
  };
  all_single ? run(float()) : run(double());
}

// Each process reads its block of V and the run goes on from there.
void factor_over_processes(const std::string& input, dist::GridShape shape, Absent absent,
                           CommonFlags& f) {
  if (io::is_sparse_file(input)) return factor_sparse_blocks(input, absent, shape, f);
  if (io::has_extension(input, ".npy")) {
    std::unique_ptr<io::MappedNpy> mapped;
    dist::agree(MPI_COMM_WORLD, [&] { mapped = std::make_unique<io::MappedNpy>(input); });
    return std::visit([&](auto V) { factor_dense_blocks(V, input, shape, f); }, mapped->view());
  }
  io::AnyMatrix V;
  dist::agree(MPI_COMM_WORLD, [&] {
    V = io::read_matrix(input);
    if (std::holds_alternative<Matrix<std::uint8_t>>(V))
      throw InvalidArgument(input + ": a uint8/bool matrix is a mask, not V");
  });
  std::visit([&](const auto& A) {
    using T = typename std::decay_t<decltype(A)>::value_type;
    if constexpr (!std::is_same_v<T, std::uint8_t>) factor_dense_blocks(A.view(), input, shape, f);
  }, V);
}

}  // namespace

int run_distributed_factor(const std::string& input, const std::string& grid_text, Absent absent,
                           CommonFlags& f) {
  const dist::GridShape shape = parse_grid(grid_text);
  if (f.restarts > 1 || f.online || !f.mask_path.empty())
    throw InvalidArgument("a run over processes fits once, on the whole V: it takes no "
                          "--restarts, --batch-size or --mask yet");
  start_mpi();
  int me = 0, processes = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  MPI_Comm_size(MPI_COMM_WORLD, &processes);
  f.writes = me == 0;
  const std::string process = "process " + std::to_string(me) + " of " + std::to_string(processes);
  // mpirun sends SIGTERM to the others when a process dies, and ends them soon after.
  note_on_stop_signal("nmfuse: " + process +
                      ": asked to stop (SIGINT or SIGTERM): every process stops after this "
                      "iteration, or, where another process has died, mpirun ends this one: "
                      "resume from the last checkpoint\n");
  try {
    factor_over_processes(input, shape, absent, f);
  } catch (const dist::AgreedError&) {
    throw;  // on every process alike: each says so and exits
  } catch (const Interrupted&) {
    throw;  // a stop every process agreed on
  } catch (const std::exception& e) {
    // On this process alone (a checkpoint process 0 could not write, a GPU failing):
    // the others may wait for it in a collective, so the job ends here.
    const int code = report_failure(e, "nmfuse: " + process + ": ");
    std::cerr << "nmfuse: " << process << ": ending every process of the run\n";
    MPI_Abort(MPI_COMM_WORLD, code);
  }
  return kOk;
}

#endif

}  // namespace nmfuse::cli
