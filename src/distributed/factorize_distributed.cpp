// distributed::factorize(): each process checks its block, makes a backend for it on
// its CPU or on a GPU of its own, and the one loop runs on the grid's backend
// (grid_backend.hpp), from the same start as a single process's run.
#include <cstdlib>
#include <sstream>

#include "core/check_input.hpp"
#include "core/checkpoint_restore.hpp"
#include "core/entry_points.hpp"
#include "grid_backend.hpp"

namespace nmfuse::distributed {
namespace {

// What a distributed run does not take yet, refused before any work.
void check_supported(const Options& opt) {
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

// The device every process computes on: the GPU only where every process has one (and,
// for double data, where float holds V), as a single process would choose. Each process
// takes a GPU of its machine first ((its place among the machine's processes) mod (the
// machine's GPUs)), before the probe opens a context on any; `identity` ← that GPU's.
// Collective.
template <class Data>
core::DeviceChoice device_of(Grid::Communicators& g, const Data& block, const Options& opt,
                             std::string& identity) {
  const int place = g.world.rank_on_node();
  core::DeviceChoice choice;
  g.world.agree([&] {
    if (opt.device != Device::Cpu && cuda::compiled()) {
      try {
        identity = cuda::select_device(place);
      } catch (const Error&) {  // no CUDA module or no device: the probe says which
      }
    }
    choice = core::choose_device_for(block, opt.device);
  });
  if (g.world.any(choice.device == Device::Cpu)) {
    if (choice.device == Device::Cpu) return choice;
    return {Device::Cpu, "another process of the run has no usable GPU, so every process "
                         "ran on its CPU"};
  }
  return choice;
}

// The GPUs of each grid row and column linked through NCCL where every process has a
// GPU of its own; else they sum through their hosts. What was done is added to the
// choice's reason. Collective.
void link_gpus(Grid::Communicators& g, const std::string& identity, int k,
               core::DeviceChoice& choice) {
  if (g.world.size() == 1) {
    choice.reason += "; one process: nothing to sum across";
    return;
  }
  const char* link = std::getenv("NMFUSE_NCCL");  // a test harness's switch: off
  if (g.world.any(link && std::string(link) == "off")) {  // any: mpirun may not pass it on
    choice.reason += "; the GPUs summed through their hosts (NMFUSE_NCCL=off)";
    return;
  }
  if (!g.world.all_distinct(identity)) {
    choice.reason += "; the GPUs summed through their hosts: two processes share a GPU, which "
                     "NCCL does not allow";
    return;
  }
  // The largest piece summed: a block of a product (or of β's denominator), or a Gram.
  const BlockRange b = g.block();
  const std::size_t largest =
      std::size_t(std::max<index_t>(std::max(b.rows(), b.cols()), k)) * std::size_t(k);
  bool linked = true;  // false on every process alike: the module is the same build
  g.world.agree([&] { linked = g.row.link_gpus(largest); });
  g.world.agree([&] { linked = linked && g.column.link_gpus(largest); });
  if (linked) {
    choice.reason += "; the GPUs summed through NCCL";
    return;
  }
  g.row.unlink_gpus();
  g.column.unlink_gpus();
  choice.reason += "; the GPUs summed through their hosts: the CUDA module was built without NCCL";
}

// The GPUs' links last as long as one run.
struct GpuLinks {
  Grid::Communicators& g;
  ~GpuLinks() {
    g.row.unlink_gpus();
    g.column.unlink_gpus();
  }
};

// This process's backend, made on every process or on none (a process whose GPU
// memory is short says so on every process). Collective.
template <class Make>
auto local_backend(Grid::Communicators& g, Make make) {
  decltype(make()) local;
  g.world.agree([&] { local = make(); });
  return local;
}

// The one loop on the grid. Checkpoints hold the whole factors (gathered, as the result
// is), on every process: one file, written by whichever process the caller chooses, resumes
// the run on any grid. A stop asked on any process stops every process.
template <class T>
Result<T> run(Grid& grid, std::unique_ptr<core::Backend<T>> local, const Options& opt,
              const core::DeviceChoice& choice, core::Clock::time_point start) {
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
  Grid::Communicators& g = grid.communicators();
  std::string gpu;
  core::DeviceChoice choice = device_of(g, block, opt, gpu);
  if (choice.device == Device::Cpu)
    return run(grid, cpu::make_dense_backend<T>(block, opt.rank), opt, choice, start);
  if constexpr (std::is_same_v<T, float>) {
    link_gpus(g, gpu, opt.rank, choice);
    const GpuLinks links{g};
    auto local = local_backend(g, [&] {
      return core::make_backend<float>(Device::Cuda, block, opt.rank, opt);
    });
    return run(grid, std::move(local), opt, choice, start);
  } else {  // the GPU computes in float
    const Matrix<float> f = core::convert<float>(block);
    Result<float> rf = factorize<float>(grid, f.view(), core::on_gpu(opt));
    const core::DeviceChoice placed{Device::Cuda, rf.device_reason};
    return core::widened<T>(std::move(rf), placed, start);
  }
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
    throw Agreed<InvalidArgument>("V (" + std::to_string(grid.rows()) + "×" + std::to_string(grid.cols()) +
                          ", sparse) stores no entry on any process: there is nothing to fit");
  std::string gpu;
  core::DeviceChoice choice = device_of(g, block, opt, gpu);
  if (choice.device == Device::Cpu)
    return run(grid, cpu::make_sparse_backend<T, I>(block, opt.rank), opt, choice, start);
  if constexpr (std::is_same_v<T, float>) {
    link_gpus(g, gpu, opt.rank, choice);
    const GpuLinks links{g};
    auto local = local_backend(g, [&] {
      return core::make_backend<float, I>(Device::Cuda, block, opt.rank, opt);
    });
    return run(grid, std::move(local), opt, choice, start);
  } else {  // the GPU computes in float
    std::vector<float> values;
    const CsrView<float, I> f = core::float_values(block, values);
    Result<float> rf = factorize<float, I>(grid, f, core::on_gpu(opt));
    const core::DeviceChoice placed{Device::Cuda, rf.device_reason};
    return core::widened<T>(std::move(rf), placed, start);
  }
}

template Result<float> factorize(Grid&, DenseView<const float>, const Options&);
template Result<double> factorize(Grid&, DenseView<const double>, const Options&);
template Result<float> factorize(Grid&, CsrView<float, std::int32_t>, const Options&);
template Result<double> factorize(Grid&, CsrView<double, std::int32_t>, const Options&);
template Result<float> factorize(Grid&, CsrView<float, std::int64_t>, const Options&);
template Result<double> factorize(Grid&, CsrView<double, std::int64_t>, const Options&);

}  // namespace nmfuse::distributed
