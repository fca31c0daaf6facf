// Distributed runs under mpirun (tests/CMakeLists.txt runs this with 1, 2, 4 and 6
// processes): on every grid the processes allow, the distributed run equals the single
// process's from the same start, check by check, and every process ends with the same
// bits; errors on one process reach all; the words moved match the formula exactly.
#include "distributed_helpers.hpp"

namespace {

using namespace testing_distributed;

// In double the two runs differ by the order of the products' sums alone (~n·ε per
// step, 1e-14 here); 1e-9 leaves room for the iterations to amplify it.
constexpr double kDoubleTolerance = 1e-9;

struct Case {
  const char* name;
  std::function<void(Options&)> set;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {"HALS, extrapolated", [](Options&) {}},
      {"HALS, extrapolated, random", [](Options& o) { o.init = nmfuse::Init::Random; }},
      {"HALS, plain", [](Options& o) { o.hals_extrapolate = false; }},
      {"HALS, plain, random start",
       [](Options& o) {
         o.hals_extrapolate = false;
         o.init = nmfuse::Init::Random;
       }},
      {"MU, Frobenius, penalized",
       [](Options& o) {
         o.solver = nmfuse::Solver::MU;
         o.alpha_W = 0.01;
         o.l1_ratio = 0.5;
       }},
      {"MU, Kullback–Leibler", [](Options& o) { o.loss = nmfuse::Loss::KullbackLeibler; }},
      {"MU, β = 1.5",
       [](Options& o) {
         o.loss = nmfuse::Loss::Beta;
         o.beta = 1.5;
       }},
  };
  return all;
}

TEST(Distributed, DenseEqualsOneProcessOnEveryGrid) {
  const index_t m = 37, n = 29;
  const int k = 4;
  const Matrix<double> V = planted(m, n, k, 11);
  for (const Case& c : cases()) {
    Options opt = fixed_iterations(k, 12);
    c.set(opt);
    const Result<double> single = nmfuse::factorize(V.view(), opt);
    for (GridShape shape : every_grid()) {
      Grid grid(MPI_COMM_WORLD, m, n, shape);
      const Result<double> r = nmfuse::distributed::factorize(grid, block_view(V, grid.block()), opt);
      expect_same_as_one_process(r, single, kDoubleTolerance, std::string(c.name) + ", " + named(shape));
    }
  }
}

TEST(Distributed, SparseEqualsOneProcessOnEveryGrid) {
  const index_t m = 41, n = 33;
  const int k = 3;
  Matrix<double> V = planted(m, n, k, 21);
  const Matrix<double> keep = random_matrix(m, n, 22);
  for (index_t i = 0; i < m; ++i)
    for (index_t j = 0; j < n; ++j)
      if (keep(i, j) < 0.6) V(i, j) = 0;  // 40% stored
  const nmfuse::CsrMatrix<double> whole = testing_nmf::to_csr<double>(V);
  for (const Case& c : {cases()[0], cases()[2], cases()[3]}) {
    Options opt = fixed_iterations(k, 12);
    c.set(opt);
    const Result<double> single = nmfuse::factorize(whole.view(), opt);
    for (GridShape shape : every_grid()) {
      Grid grid(MPI_COMM_WORLD, m, n, shape);
      // The library's cut of the whole CSR, and the test's own from the dense V.
      const nmfuse::CsrMatrix<double> block = nmfuse::distributed::block_of(whole.view(), grid.block());
      const nmfuse::CsrMatrix<double> expected = block_csr<double>(V, grid.block());
      EXPECT_EQ(block.row_ptr, expected.row_ptr) << named(shape);
      EXPECT_EQ(block.col_idx, expected.col_idx) << named(shape);
      EXPECT_EQ(block.values, expected.values) << named(shape);
      const Result<double> r = nmfuse::distributed::factorize(grid, block, opt);
      expect_same_as_one_process(r, single, kDoubleTolerance,
                                 std::string("sparse ") + c.name + ", " + named(shape));
    }
  }
}

// In float the sums' order moves each product by ~√n·ε ≈ 1e-6 relative; 12 iterations
// of MU carry it to W and H without growing it by more than a few times.
TEST(Distributed, FloatEqualsOneProcessToFloatRounding) {
  const index_t m = 40, n = 36;
  const Matrix<float> V = cast<float>(planted(m, n, 3, 31));
  Options opt = fixed_iterations(3, 12);
  opt.solver = nmfuse::Solver::MU;
  const Result<float> single = nmfuse::factorize(V.view(), opt);
  Grid grid(MPI_COMM_WORLD, m, n);
  const Result<float> r = nmfuse::distributed::factorize(grid, block_view(V, grid.block()), opt);
  expect_same_as_one_process(r, single, 1e-4, "float MU, " + named(grid.shape()));
}

// Stopping by tol: every process stops at the iteration the single process does.
TEST(Distributed, StopsWhereOneProcessStops) {
  const index_t m = 30, n = 26;
  const Matrix<double> V = planted(m, n, 3, 41);
  Options opt = cpu_options(3);
  opt.tol = 1e-3;
  const Result<double> single = nmfuse::factorize(V.view(), opt);
  ASSERT_TRUE(single.converged);
  Grid grid(MPI_COMM_WORLD, m, n);
  const Result<double> r = nmfuse::distributed::factorize(grid, block_view(V, grid.block()), opt);
  EXPECT_TRUE(r.converged);
  expect_same_as_one_process(r, single, kDoubleTolerance, "tol, " + named(grid.shape()));
}

// Per iteration, the words each process receives are words_per_iteration's, exactly.
TEST(Distributed, WordsPerIterationMatchTheFormula) {
  const index_t m = 45, n = 38;
  const int k = 5;
  const Matrix<double> V = planted(m, n, k, 51);
  for (bool hals : {false, true}) {
    for (GridShape shape : every_grid()) {
      Grid grid(MPI_COMM_WORLD, m, n, shape);
      Options opt = fixed_iterations(k, 6);
      opt.solver = hals ? nmfuse::Solver::HALS : nmfuse::Solver::MU;
      opt.hals_extrapolate = false;  // extrapolation remakes H's Gram once more
      std::vector<double> words;
      opt.on_progress = [&](const nmfuse::Progress&) {
        words.push_back(grid.traffic().words);
        return true;
      };
      nmfuse::distributed::factorize(grid, block_view(V, grid.block()), opt);
      ASSERT_EQ(words.size(), 6u);
      for (std::size_t i = 1; i < words.size(); ++i)
        EXPECT_EQ(words[i] - words[i - 1], nmfuse::distributed::words_per_iteration(grid, k))
            << (hals ? "HALS" : "MU") << ", " << named(shape) << ", iteration " << i + 1;
    }
  }
}

// A stop asked on one process stops every process at that iteration, with the
// checkpoint there; resumed from it, on the same grid or on another, the run ends where
// the uninterrupted one does (bit for bit on the same grid, as a single process does).
TEST(Distributed, InterruptedOnOneProcessResumesFromItsCheckpoint) {
  const index_t m = 34, n = 30;
  const Matrix<double> V = planted(m, n, 3, 81);
  Options opt = fixed_iterations(3, 16);
  Grid grid(MPI_COMM_WORLD, m, n);
  const Result<double> whole = nmfuse::distributed::factorize(grid, block_view(V, grid.block()), opt);

  Options stopping = opt;
  int calls = 0;
  stopping.interrupt = [&] { return ++calls == 7 && process() == processes() - 1; };
  std::shared_ptr<nmfuse::Checkpoint> saved;
  stopping.on_checkpoint = [&](const nmfuse::Checkpoint& c) {
    saved = std::make_shared<nmfuse::Checkpoint>(c);
  };
  const Result<double> stopped =
      nmfuse::distributed::factorize(grid, block_view(V, grid.block()), stopping);
  EXPECT_EQ(stopped.stop_reason, nmfuse::StopReason::Interrupted);
  EXPECT_EQ(stopped.iterations, 7);
  ASSERT_TRUE(saved);
  EXPECT_EQ(saved->iteration, 7);
  EXPECT_TRUE(same_on_every_process(saved->W));

  Options resuming = opt;
  resuming.resume = saved;
  const Result<double> resumed =
      nmfuse::distributed::factorize(grid, block_view(V, grid.block()), resuming);
  EXPECT_EQ(resumed.iterations, whole.iterations);
  EXPECT_EQ(relative_difference(resumed.W, whole.W), 0.0);
  EXPECT_EQ(relative_difference(resumed.H, whole.H), 0.0);
  for (GridShape shape : every_grid()) {
    Grid other(MPI_COMM_WORLD, m, n, shape);
    const Result<double> r =
        nmfuse::distributed::factorize(other, block_view(V, other.block()), resuming);
    EXPECT_LE(relative_difference(r.W, whole.W), kDoubleTolerance) << named(shape);
    EXPECT_LE(relative_difference(r.H, whole.H), kDoubleTolerance) << named(shape);
  }
}

TEST(Distributed, ChosenGridFollowsTheShapeOfV) {
  EXPECT_EQ(Grid::chosen(4, 10000, 10).rows, 4);  // tall: split the rows only
  EXPECT_EQ(Grid::chosen(4, 10, 10000).cols, 4);
  EXPECT_EQ(Grid::chosen(4, 1000, 1000).rows, 2);
  EXPECT_EQ(Grid::chosen(6, 3000, 2000).rows, 3);
  EXPECT_EQ(Grid::chosen(1, 5, 5).rows, 1);
}

TEST(Distributed, ABadBlockOnOneProcessFailsOnEvery) {
  const index_t m = 20, n = 18;
  Matrix<double> V = planted(m, n, 2, 61);
  Grid grid(MPI_COMM_WORLD, m, n);
  const int last = processes() - 1;
  const BlockRange b = grid.block();
  Matrix<double> mine(b.rows(), b.cols(), Layout::RowMajor);
  for (index_t i = 0; i < b.rows(); ++i)
    for (index_t j = 0; j < b.cols(); ++j) mine(i, j) = V(b.row_begin + i, b.col_begin + j);
  if (process() == last) mine(0, 1) = -1;
  const std::string who = "process " + std::to_string(last) + " of " + std::to_string(processes());
  expect_everywhere([&] { nmfuse::distributed::factorize(grid, mine, cpu_options(2)); },
                    who + ": its block of V");
  expect_everywhere([&] { nmfuse::distributed::factorize(grid, mine, cpu_options(2)); }, "negative");

  const Matrix<double> wrong(b.rows() + (process() == last), b.cols(), Layout::RowMajor);
  const BlockRange last_block = grid.block_of(grid.shape().rows - 1, grid.shape().cols - 1);
  expect_everywhere([&] { nmfuse::distributed::factorize(grid, wrong, cpu_options(2)); },
                    who + ": its block of V (rows " + std::to_string(last_block.row_begin));
}

TEST(Distributed, RefusesWhatItDoesNotTakeYet) {
  const index_t m = 16, n = 14;
  const Matrix<double> V = planted(m, n, 2, 71);
  Grid grid(MPI_COMM_WORLD, m, n);
  Options rank = cpu_options(0);
  expect_everywhere([&] { nmfuse::distributed::factorize(grid, block_view(V, grid.block()), rank); },
                    "option rank = 0");
  const nmfuse::CsrMatrix<double> block = block_csr<double>(V, grid.block());
  expect_everywhere([&] {
    nmfuse::distributed::factorize(grid, block.view(Absent::Unknown), cpu_options(2));
  }, "missing values");
}

TEST(Distributed, GridShapeMustFitTheProcesses) {
  expect_everywhere([] { Grid(MPI_COMM_WORLD, 10, 10, {processes() + 1, 1}); },
                    "needs rows × cols = the " + std::to_string(processes()) + " processes");
  if (processes() > 1)
    expect_everywhere([] { Grid(MPI_COMM_WORLD, 1, 10, {processes(), 1}); }, "more grid rows");
}

}  // namespace
