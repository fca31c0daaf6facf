// A distributed run under mpirun (distributed.sh runs it for 1, 2 and 4 processes):
// weak scaling, each process holding a block of the same size, and per iteration the
// words each process receives beside the formulas: ours (words_per_iteration, which the
// count must match exactly) and MPI-FAUN's (Kannan, Ballard & Park 2016: the same
// products, its Grams all-reduced over every process).
#include <CLI/CLI.hpp>
#include <mpi.h>

#include <cstdio>
#include <random>
#include <sstream>

#include "nmfuse/distributed.hpp"
#include "nmfuse/nmfuse.hpp"

namespace {

using nmfuse::index_t;
namespace dist = nmfuse::distributed;

// MPI-FAUN's words per process and iteration: an all-gather and a reduce-scatter of
// each factor's blocks, and an all-reduce of each k×k Gram over all p processes.
double mpi_faun_words(index_t m, index_t n, int k, dist::GridShape s) {
  const double pr = s.rows, pc = s.cols, p = pr * pc;
  return 2 * (pc - 1) / pc * double(m) * k / pr + 2 * (pr - 1) / pr * double(n) * k / pc +
         2 * 2 * (p - 1) / p * double(k) * k;
}

double max_over_processes(double x) {
  double most = 0;
  MPI_Allreduce(&x, &most, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return most;
}

int run(int argc, char** argv) {
  CLI::App app{"a distributed run: time and words per iteration (run under mpirun)"};
  index_t block_rows = 2000, block_cols = 1000;
  int k = 16, iterations = 20;
  std::string grid_text, solver = "mu", device = "cpu";
  app.add_option("--block-rows", block_rows, "rows of V each process holds");
  app.add_option("--block-cols", block_cols, "columns of V each process holds");
  app.add_option("--rank", k);
  app.add_option("--iterations", iterations);
  app.add_option("--grid", grid_text, "RxC (default: the processes along V's rows)");
  app.add_option("--solver", solver)->check(CLI::IsMember({"mu", "hals"}));
  app.add_option("--device", device, "cpu, or cuda: one GPU a process (NCCL where each has its own)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  int processes = 0, me = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &processes);
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  dist::GridShape shape{processes, 1};
  if (!grid_text.empty()) {
    char x = 0;
    std::istringstream(grid_text) >> shape.rows >> x >> shape.cols;
  }
  const index_t m = block_rows * shape.rows, n = block_cols * shape.cols;
  dist::Grid grid(MPI_COMM_WORLD, m, n, shape);

  // This process's block: uniform entries, a different stream on each process.
  const dist::BlockRange b = grid.block();
  nmfuse::Matrix<float> block(b.rows(), b.cols(), nmfuse::Layout::RowMajor);
  std::mt19937 gen(1234 + me);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (std::size_t e = 0; e < block.size(); ++e) block.data()[e] = u(gen);

  nmfuse::Options opt;
  opt.rank = k;
  opt.device = device == "cuda" ? nmfuse::Device::Cuda : nmfuse::Device::Cpu;
  opt.solver = solver == "mu" ? nmfuse::Solver::MU : nmfuse::Solver::HALS;
  opt.hals_extrapolate = false;  // the formula's loop: one Gram per half-step
  opt.init = nmfuse::Init::Random;
  opt.max_iter = iterations;
  opt.tol = 0;
  opt.check_every = 1;
  double first_seconds = 0, first_words = 0, first_in_collectives = 0, last_seconds = 0,
         last_words = 0, last_in_collectives = 0;
  opt.on_progress = [&](const nmfuse::Progress& p) {
    const dist::Traffic t = grid.traffic();
    (p.iteration == 1 ? first_seconds : last_seconds) = p.seconds;
    (p.iteration == 1 ? first_words : last_words) = t.words;
    (p.iteration == 1 ? first_in_collectives : last_in_collectives) = t.seconds;
    return true;
  };
  const nmfuse::Result<float> r = dist::factorize(grid, block, opt);

  const int measured = iterations - 1;  // between the first check and the last
  const double seconds = max_over_processes((last_seconds - first_seconds) / measured);
  const double in_collectives =
      max_over_processes((last_in_collectives - first_in_collectives) / measured);
  const double words = max_over_processes((last_words - first_words) / measured);
  const double formula = max_over_processes(dist::words_per_iteration(grid, k));
  if (me == 0) {
    const double flops = 4.0 * double(m) * double(n) * k;
    std::printf("%2d processes, %d×%d grid, V %lld×%lld float, rank %d, %s: %.4f s/iteration, "
                "%.1f GFLOP/s in all, %.0f%% in collectives\n",
                processes, shape.rows, shape.cols, (long long)m, (long long)n, k, solver.c_str(),
                seconds, flops / seconds * 1e-9, 100 * in_collectives / seconds);
    std::printf("   words received per process and iteration (the most of any): %.0f; "
                "formula %.0f (%s); MPI-FAUN's %.0f\n",
                words, formula, words == formula ? "exact" : "MISMATCH",
                mpi_faun_words(m, n, k, shape));
    if (device == "cuda") std::printf("   %s\n", r.device_reason.c_str());
    std::printf("RESULT %d %.6f\n", processes, seconds);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const int code = run(argc, argv);  // the grid is gone before MPI_Finalize
  MPI_Finalize();
  return code;
}
