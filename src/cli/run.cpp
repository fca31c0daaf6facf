#include "cli/run.hpp"

#include <unistd.h>

#include "core/free_memory.hpp"
#include "io/plots.hpp"
#include "io/reading.hpp"

namespace nmfuse::cli {

volatile std::sig_atomic_t g_stop_signal = 0;

namespace {

// An enum's values by the names to_string gives them, for CLI11's transformer.
template <class E>
std::map<std::string, E> names(std::initializer_list<E> values) {
  std::map<std::string, E> m;
  for (E v : values) m[nmfuse::to_string(v)] = v;
  return m;
}

// What a stop signal makes the process say at once, where note_on_stop_signal set it.
char g_stop_note[512];
volatile std::sig_atomic_t g_stop_note_size = 0;

// The first signal asks the run to stop after its iteration; a second one (the handler
// is back to the default) ends the process at once.
extern "C" void request_stop(int signal) {
  g_stop_signal = signal;
  if (g_stop_note_size > 0) {
    const ssize_t written = ::write(STDERR_FILENO, g_stop_note, std::size_t(g_stop_note_size));
    static_cast<void>(written);  // nothing to do where stderr is gone
  }
  std::signal(signal, SIG_DFL);
}
}  // namespace

int report_failure(const std::exception& e, const std::string& prefix) {
  int code = kInternal;
  if (dynamic_cast<const Interrupted*>(&e)) code = kInterrupted;
  else if (dynamic_cast<const nmfuse::InvalidArgument*>(&e) || dynamic_cast<const nmfuse::IoError*>(&e) ||
           dynamic_cast<const std::filesystem::filesystem_error*>(&e))
    code = kBadInput;
  else if (dynamic_cast<const nmfuse::OutOfDeviceMemory*>(&e) ||
           dynamic_cast<const nmfuse::NotCompiled*>(&e) ||
           dynamic_cast<const nmfuse::DeviceUnavailable*>(&e))
    code = kNoDevice;
  std::cerr << prefix << (code == kInternal ? "internal failure: " : "") << e.what() << "\n";
  return code;
}

void note_on_stop_signal(const std::string& note) {
  g_stop_note_size = 0;  // the handler writes nothing while the text changes
  const std::size_t size = std::min(note.size(), sizeof g_stop_note);
  std::copy(note.begin(), note.begin() + std::ptrdiff_t(size), g_stop_note);
  g_stop_note_size = size;
}

void stop_on_signals() {
  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
}

void add_solver_flags(CLI::App& cmd, CommonFlags& f) {
  using nmfuse::Device;
  using nmfuse::Init;
  using nmfuse::Loss;
  using nmfuse::Solver;
  using nmfuse::OutOfCore;
  cmd.add_option("--loss", f.opt.loss, "frobenius, kl, is (Itakura-Saito) or beta")
      ->transform(CLI::CheckedTransformer(
          names({Loss::Frobenius, Loss::KullbackLeibler, Loss::ItakuraSaito, Loss::Beta})));
  cmd.add_option("--beta", f.opt.beta, "β of --loss beta")->capture_default_str();
  cmd.add_option("--solver", f.opt.solver, "auto (hals for frobenius, mu for kl), mu or hals")
      ->transform(CLI::CheckedTransformer(names({Solver::Auto, Solver::MU, Solver::HALS})));
  cmd.add_option("--init", f.opt.init, "auto (nndsvda), random, nndsvd, nndsvda or nndsvdar")
      ->transform(CLI::CheckedTransformer(
          names({Init::Auto, Init::Random, Init::NNDSVD, Init::NNDSVDa, Init::NNDSVDar})));
  cmd.add_option("--max-iter", f.opt.max_iter, "iterations at most")->capture_default_str();
  cmd.add_option("--tol", f.opt.tol, "stop when the relative decrease of the loss is below this")
      ->capture_default_str();
  cmd.add_option("--check-every", f.opt.check_every, "iterations between loss checks")
      ->capture_default_str();
  cmd.add_option("--seed", f.opt.seed, "seed of every random draw")->capture_default_str();
  cmd.add_option("--alpha-w", f.opt.alpha_W, "regularization of W (scikit-learn's alpha_W)");
  cmd.add_option("--alpha-h", f.opt.alpha_H, "regularization of H (default: alpha-w)");
  cmd.add_option("--l1-ratio", f.opt.l1_ratio, "share of L1 in the regularization, 0..1");
  cmd.add_option("--hals-inner-max", f.opt.hals_inner_max,
                 "HALS sweeps per pair of products, at most (0: automatic)");
  cmd.add_flag("!--no-extrapolate", f.opt.hals_extrapolate, "HALS without extrapolation");
  cmd.add_option("--threads", f.threads, "CPU threads (0: all)");
  cmd.add_flag("--tf32", f.opt.allow_tf32, "TF32 tensor cores for the GPU's products");
  cmd.add_option("--device", f.opt.device, "auto, cpu or cuda")
      ->transform(CLI::CheckedTransformer(names({Device::Auto, Device::Cpu, Device::Cuda})));
  cmd.add_option("--out-of-core", f.opt.out_of_core,
                 "a dense V the GPU factors: auto (streamed to it in blocks where it does not "
                 "fit in its memory), off or on")
      ->transform(CLI::CheckedTransformer(names({OutOfCore::Auto, OutOfCore::Off, OutOfCore::On})))
      ->capture_default_str();
  cmd.add_flag("--quiet", f.quiet, "print nothing but errors");
  cmd.add_flag("--json", f.json, "print the summary as JSON (and nothing else) on stdout");
}

void add_common_flags(CLI::App& cmd, CommonFlags& f, bool out_required) {
  cmd.add_option("--out", f.out_dir, "folder for W.npy, H.npy and summary.json")
      ->required(out_required)
      ->capture_default_str();
  add_solver_flags(cmd, f);
  cmd.add_option("--checkpoint", f.checkpoint_path,
                 "where checkpoints go (default OUT/checkpoint.npz): every --checkpoint-every "
                 "iterations, and on SIGINT or SIGTERM");
  cmd.add_option("--checkpoint-every", f.opt.checkpoint_every,
                 "iterations between checkpoints (0: only when interrupted)");
  cmd.add_option("--resume", f.resume_path, "go on from this checkpoint of the same run");
  cmd.add_option("--restarts", f.restarts,
                 "fits from starts seeded --seed, --seed + 1, …: the best is kept, their "
                 "consensus written beside it (consensus.npy, consensus.png)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--batch-size", f.opt.batch_size,
                 "fit online, in batches of this many columns (scikit-learn's MiniBatchNMF); "
                 "only W and a batch are held while W learns")
      ->check(CLI::PositiveNumber)
      ->each([&f](const std::string&) { f.online = true; });
  cmd.add_option("--forget-factor", f.opt.forget_factor,
                 "online: the share of what W has learnt that a pass keeps, in (0, 1]")
      ->capture_default_str();
  cmd.add_option("--max-passes", f.opt.max_passes, "online: passes over V at most")
      ->capture_default_str();
  cmd.add_option("--max-no-improvement", f.opt.max_no_improvement,
                 "online: stop after this many batches without a new low of the smoothed "
                 "batch cost (0: never)")
      ->capture_default_str();
}

nmfuse::ProgressCallback progress_printer(int max_iter, int first_iteration) {
  const bool terminal = ::isatty(STDOUT_FILENO) != 0;
  return [terminal, max_iter, first_iteration](const nmfuse::Progress& p) {
    if (!terminal) {
      std::cout << "iteration " << p.iteration << "  loss " << p.loss << "  " << p.seconds
                << " s" << std::endl;
      return true;
    }
    constexpr int kWidth = 30;
    const double done = double(p.iteration) / std::max(max_iter, 1);
    const int filled = int(done * kWidth);
    // p.seconds counts from this run's start, which a resumed run makes at first_iteration.
    const double per_iteration = p.seconds / std::max(1, p.iteration - first_iteration);
    const double left = per_iteration * (max_iter - p.iteration);
    std::cout << "\r[" << std::string(filled, '#') << std::string(kWidth - filled, ' ') << "] "
              << p.iteration << "/" << max_iter << "  loss " << p.loss << "  ETA "
              << int(left + 0.5) << " s   " << (p.iteration >= max_iter ? "\n" : "")
              << std::flush;
    return true;
  };
}

std::string shipped(const std::string& path, const std::string& package, const std::string& demo) {
  if (std::filesystem::exists(path)) return path;
  throw InvalidArgument("the " + demo + " demo reads " + path + " from Debian's package " +
                        package + ", which is not installed: sudo apt install " + package);
}

std::string join(const std::string& dir, const std::string& file) {
  return (std::filesystem::path(dir) / file).string();
}

nlohmann::json run_description(const InputInfo& in, const CommonFlags& f) {
  return {{"input", in.name},
          {"shape", {in.rows, in.cols}},
          {"dtype", in.dtype},
          {"sparse", in.sparse},
          {"mask", f.mask_path},
          {"rank", f.opt.rank},
          {"loss", nmfuse::to_string(f.opt.loss)},
          {"beta", nmfuse::beta_of(f.opt)},
          {"solver", nmfuse::to_string(nmfuse::resolved_solver(f.opt))},
          {"alpha_W", f.opt.alpha_W},
          {"alpha_H", f.opt.alpha_H.value_or(f.opt.alpha_W)},
          {"l1_ratio", f.opt.l1_ratio},
          {"hals_inner_max", f.opt.hals_inner_max},
          {"hals_inner_tol", f.opt.hals_inner_tol},
          {"hals_extrapolate", f.opt.hals_extrapolate},
          {"device", nmfuse::to_string(f.opt.device)}};
}

std::shared_ptr<const nmfuse::Checkpoint> resumed(const std::string& path,
                                                  const nlohmann::json& run) {
  nmfuse::io::CheckpointFile file = nmfuse::io::read_checkpoint(path);
  nlohmann::json saved;
  try {
    saved = nlohmann::json::parse(file.run);
  } catch (const nlohmann::json::exception&) {
    throw nmfuse::InvalidArgument(path + ": run.json is not JSON");
  }
  for (const auto& [key, value] : run.items()) {
    if (key == "input" || key == "device") continue;  // a moved file or another device is fine
    if (!saved.contains(key) || saved[key] != value)
      throw nmfuse::InvalidArgument("--resume " + path + ": the checkpoint's " + key + " is " +
                                    (saved.contains(key) ? saved[key].dump() : "missing") +
                                    ", this run's is " + value.dump());
  }
  return std::make_shared<const nmfuse::Checkpoint>(std::move(file.state));
}

void write_consensus(const std::string& stem, const Consensus& c, int rank) {
  Matrix<double> ordered(c.samples, c.samples, Layout::RowMajor);
  for (index_t i = 0; i < c.samples; ++i)
    for (index_t j = 0; j < c.samples; ++j) ordered(i, j) = c(c.order[i], c.order[j]);
  io::write_atomically(stem + ".npy", io::encode_npy(ordered));
  io::write_consensus_plot(stem + ".png", c, rank);
}

bool maps_input(const std::string& path, nmfuse::Options& opt) {
  if (!io::has_extension(path, ".npy") || opt.out_of_core == OutOfCore::Off) return false;
  if (opt.out_of_core == OutOfCore::On) return true;
  std::error_code error;
  const double bytes = double(std::filesystem::file_size(path, error));
  const double free = core::free_host_bytes();
  if (error || bytes <= free / 2) return false;
  if (opt.device == Device::Cpu || nmfuse::build_info().usable_gpus == 0)
    opt.out_of_core = OutOfCore::On;
  return true;
}

void factor_sparse(const nmfuse::io::SparseMatrix& S, const std::string& name,
                   nmfuse::Absent absent, CommonFlags& f) {
  if (!f.mask_path.empty())
    throw nmfuse::InvalidArgument("--mask takes a dense V; for a sparse V, --absent unknown "
                                  "makes its stored entries the observed ones");
  with_narrowed(S, [&](const auto& V) {
    using T = typename decltype(V.view())::value_type;
    InputInfo in{name, S.rows, S.cols, dtype_name<T>()};
    in.sparse = sparse_description(S, absent);
    factor_and_write<T>(in, f, fits_of(V.view(absent)));
  });
}

nlohmann::json sparse_description(const nmfuse::io::SparseMatrix& S, nmfuse::Absent absent) {
  const bool narrow = narrow_indices(S);
  return {{"stored", S.values.size()},
          {"index_bits", narrow ? 32 : 64},
          {"absent", absent == nmfuse::Absent::Zero ? "zero" : "unknown"}};
}

}  // namespace nmfuse::cli
