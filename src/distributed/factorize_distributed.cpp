// distributed::factorize(): each process checks its block, makes a CPU backend for it,
// and the one loop runs on the grid's backend (grid_backend.hpp), from the same start
// as a single process's run.
#include <sstream>

#include "core/check_input.hpp"
#include "core/checkpoint_restore.hpp"
#include "core/entry_points.hpp"
#include "grid_backend.hpp"

namespace nmfuse::distributed {
namespace {

// What a distributed run does not take yet, refused before any work.
void check_supported(const Options& opt) {
  if (opt.device == Device::Cuda)
    throw InvalidArgument("option device = cuda: a distributed run computes on each process's "
                          "CPU so far (GPU processes through NCCL are not built yet)");
  if (opt.init == Init::Custom)
    throw InvalidArgument("option init = custom: a distributed run starts from random or NNDSVD "
                          "factors so far");
  if (opt.out_of_core == OutOfCore::On)
    throw InvalidArgument("option out_of_core = on: a distributed run holds its block in memory");
}

std::string block_name(const BlockRange& b) {
  std::ostringstream s;
  s << "its block of V (rows " << b.row_begin << "…" << b.row_end - 1 << ", columns "
    << b.col_begin << "…" << b.col_end - 1 << ")";
  return s.str();
}

// The one loop on the grid. Checkpoints hold the whole factors (gathered, as the result
// is), on every process: one file, written by whichever process the caller chooses, resumes
// the run on any grid. A stop asked on any process stops every process.
template <class T>
Result<T> run(Grid& grid, std::unique_ptr<core::Backend<T>> local, const Options& opt,
              core::Clock::time_point start) {
  Grid::Communicators& g = grid.communicators();
  GridBackend<T> b(g, std::move(local));
  core::SolverSettings settings = core::settings_for(opt, b.rows(), b.cols(), b.product_entries());
  core::SolverState resumed;
  if (opt.resume) {
    g.world.agree([&] { resumed = core::restore(b, *opt.resume, settings.extrapolate); });
    settings.resume = &resumed;
  } else {
    core::set_start<T>(b, opt, nullptr, nullptr);
  }
  if (opt.interrupt) settings.interrupt = [&] { return g.world.any(opt.interrupt()); };
  settings.checkpoint_every = opt.checkpoint_every;
  if (opt.on_checkpoint)
    settings.on_checkpoint = [&](const core::SolverState& state) {
      opt.on_checkpoint(core::checkpoint_of(b, state, settings.extrapolate));
    };
  core::SolverOutcome outcome = core::solve(b, settings);
  const core::DeviceChoice choice{Device::Cpu, "a distributed run computes on each process's CPU"};
  return core::result_of(b, std::move(outcome), choice, start);
}

}  // namespace

template <class T>
Result<T> factorize(Grid& grid, DenseView<const T> block, const Options& opt) {
  const auto start = core::Clock::now();
  const BlockRange mine = grid.block();
  grid.communicators().world.agree(
      [&] {
        opt.validate();
        check_supported(opt);
        core::check_rank(opt, grid.rows(), grid.cols());
        const std::string name = block_name(mine);
        core::check_shape(name.c_str(), block, mine.rows(), mine.cols());
        core::check_matrix(name.c_str(), block);
        if (beta_of(opt) <= 0) core::check_positive(name.c_str(), block, beta_of(opt), nullptr);
      });
  return run(grid, cpu::make_dense_backend<T>(block, opt.rank), opt, start);
}

template <class T, class I>
Result<T> factorize(Grid& grid, CsrView<T, I> block, const Options& opt) {
  const auto start = core::Clock::now();
  const BlockRange mine = grid.block();
  Grid::Communicators& g = grid.communicators();
  g.world.agree(
      [&] {
        opt.validate();
        check_supported(opt);
        core::check_rank(opt, grid.rows(), grid.cols());
        const std::string name = block_name(mine);
        if (block.rows != mine.rows() || block.cols != mine.cols())
          throw InvalidArgument(name + " is " + std::to_string(block.rows) + "×" +
                                std::to_string(block.cols) + ", expected " +
                                std::to_string(mine.rows()) + "×" + std::to_string(mine.cols()));
        if (block.absent == Absent::Unknown)
          throw InvalidArgument(name + " leaves its absent entries unknown: a distributed run "
                                "takes no missing values yet");
        if (block.nnz() > 0)  // a block may store no entry, where another does
          core::check_csr(name.c_str(), block, beta_of(opt));
        else if (beta_of(opt) <= 0)
          throw InvalidArgument(name + " stores no entry, but the β-divergence with β ≤ 0 "
                                "needs every entry of V positive");
      });
  if (g.world.sum(double(block.nnz())) == 0)
    throw InvalidArgument("V (" + std::to_string(grid.rows()) + "×" + std::to_string(grid.cols()) +
                          ", sparse) stores no entry on any process: there is nothing to fit");
  return run(grid, cpu::make_sparse_backend<T, I>(block, opt.rank), opt, start);
}

template Result<float> factorize(Grid&, DenseView<const float>, const Options&);
template Result<double> factorize(Grid&, DenseView<const double>, const Options&);
template Result<float> factorize(Grid&, CsrView<float, std::int32_t>, const Options&);
template Result<double> factorize(Grid&, CsrView<double, std::int32_t>, const Options&);
template Result<float> factorize(Grid&, CsrView<float, std::int64_t>, const Options&);
template Result<double> factorize(Grid&, CsrView<double, std::int64_t>, const Options&);

}  // namespace nmfuse::distributed
