// The nmfuse command: `nmfuse factor` for a matrix file, `nmfuse demo swimmer` for the
// quick start. Exit codes: 0 done, 2 bad usage, 3 bad input or an unwritable output,
// 4 device unavailable, not compiled or out of GPU memory, 5 interrupted by SIGINT or
// SIGTERM (a checkpoint written), 1 internal failure.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>

#include "datasets/swimmer.hpp"
#include "io/atomic_file.hpp"
#include "io/checkpoint_file.hpp"
#include "io/matrix_files.hpp"
#include "io/png_image.hpp"
#include "io/sparse_files.hpp"
#include "nmfuse/nmfuse.hpp"

namespace {

using nmfuse::index_t;

enum ExitCode {
  kOk = 0,
  kInternal = 1,
  kUsage = 2,
  kBadInput = 3,
  kNoDevice = 4,
  kInterrupted = 5,
};

// The signal that asked the run to stop (SIGINT, SIGTERM), or 0.
volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void request_stop(int signal) { g_stop_signal = signal; }

// A run stopped by a signal, its checkpoint and outputs written.
struct Interrupted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct CommonFlags {
  nmfuse::Options opt;
  std::string out_dir;
  std::string mask_path;  // observed entries (non-zero), or empty: all
  int threads = 0;
  bool quiet = false;
  bool json = false;  // the summary as JSON on stdout, and nothing else there
  std::string checkpoint_path;  // default: OUT/checkpoint.npz
  std::string resume_path;
};

template <class E>
std::map<std::string, E> names(std::initializer_list<E> values) {
  std::map<std::string, E> m;
  for (E v : values) m[nmfuse::to_string(v)] = v;
  return m;
}

void add_common_flags(CLI::App& cmd, CommonFlags& f, bool out_required) {
  using nmfuse::Device;
  using nmfuse::Init;
  using nmfuse::Loss;
  using nmfuse::Solver;
  cmd.add_option("--out", f.out_dir, "folder for W.npy, H.npy and summary.json")
      ->required(out_required)
      ->capture_default_str();
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
  cmd.add_flag("--quiet", f.quiet, "print nothing but errors");
  cmd.add_flag("--json", f.json, "print the summary as JSON (and nothing else) on stdout");
  cmd.add_option("--checkpoint", f.checkpoint_path,
                 "where checkpoints go (default OUT/checkpoint.npz): every --checkpoint-every "
                 "iterations, and on SIGINT or SIGTERM");
  cmd.add_option("--checkpoint-every", f.opt.checkpoint_every,
                 "iterations between checkpoints (0: only when interrupted)");
  cmd.add_option("--resume", f.resume_path, "go on from this checkpoint of the same run");
}

// On a terminal, one line redrawn at each check: a bar, the loss and the time left if
// the run goes to max_iter. Elsewhere (a log, a pipe), a plain line per check.
nmfuse::ProgressCallback progress_printer(int max_iter) {
  const bool terminal = ::isatty(STDOUT_FILENO) != 0;
  return [terminal, max_iter](const nmfuse::Progress& p) {
    if (!terminal) {
      std::cout << "iteration " << p.iteration << "  loss " << p.loss << "  " << p.seconds
                << " s" << std::endl;
      return true;
    }
    constexpr int kWidth = 30;
    const double done = double(p.iteration) / std::max(max_iter, 1);
    const int filled = int(done * kWidth);
    const double left = p.seconds / done - p.seconds;
    std::cout << "\r[" << std::string(filled, '#') << std::string(kWidth - filled, ' ') << "] "
              << p.iteration << "/" << max_iter << "  loss " << p.loss << "  ETA "
              << int(left + 0.5) << " s   " << (p.iteration >= max_iter ? "\n" : "")
              << std::flush;
    return true;
  };
}

std::string join(const std::string& dir, const std::string& file) {
  return (std::filesystem::path(dir) / file).string();
}

// What the summary says of the input.
struct InputInfo {
  std::string name;
  index_t rows = 0, cols = 0;
  std::string dtype;
  double squared_norm = 0;  // of the entries that are fitted
  nlohmann::json sparse;    // for sparse input: stored entries, what absent ones mean
};

// What a checkpoint belongs to: a resumed run must agree on all of it.
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
          {"hals_extrapolate", f.opt.hals_extrapolate},
          {"device", nmfuse::to_string(f.opt.device)}};
}

// A checkpoint of this run, or an error naming what differs.
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

template <class T>
const char* dtype_name() {
  return sizeof(T) == 4 ? "float32" : "float64";
}

// Runs fit(options) with progress printed, writes W.npy, H.npy and summary.json.
template <class T, class Fit>
nmfuse::Result<T> factor_and_write(const InputInfo& in, CommonFlags& f, Fit fit) {
  std::filesystem::create_directories(f.out_dir);
  if (!f.quiet && !f.json) f.opt.on_progress = progress_printer(f.opt.max_iter);
  const nlohmann::json run = run_description(in, f);
  if (!f.resume_path.empty()) f.opt.resume = resumed(f.resume_path, run);
  const std::string checkpoint =
      f.checkpoint_path.empty() ? join(f.out_dir, "checkpoint.npz") : f.checkpoint_path;
  f.opt.on_checkpoint = [&](const nmfuse::Checkpoint& c) {
    nmfuse::io::write_checkpoint(checkpoint, {c, run.dump(2)});
  };
  f.opt.interrupt = [] { return g_stop_signal != 0; };
  nmfuse::Result<T> r = fit(f.opt);
  const double final_loss = r.loss_history.back();
  nlohmann::json summary = {
      {"input", in.name},
      {"shape", {in.rows, in.cols}},
      {"dtype", in.dtype},
      {"rank", f.opt.rank},
      {"loss", nmfuse::to_string(f.opt.loss)},
      {"beta", nmfuse::beta_of(f.opt)},
      {"solver", nmfuse::to_string(nmfuse::resolved_solver(f.opt))},
      {"init", nmfuse::to_string(f.opt.init == nmfuse::Init::Auto ? nmfuse::Init::NNDSVDa
                                                                   : f.opt.init)},
      {"seed", f.opt.seed},
      {"mask", f.mask_path},
      {"iterations", r.iterations},
      {"converged", r.converged},
      {"stop_reason", nmfuse::to_string(r.stop_reason)},
      {"loss_history", r.loss_history},
      {"loss_iterations", r.loss_iterations},
      {"final_loss", final_loss},
      {"device", nmfuse::to_string(r.device)},
      {"device_reason", r.device_reason},
      {"seconds", r.seconds},
  };
  if (!in.sparse.is_null()) summary["sparse"] = in.sparse;
  if (f.opt.loss == nmfuse::Loss::Frobenius && in.squared_norm > 0)
    summary["relative_error"] = std::sqrt(2 * final_loss / in.squared_norm);
  nmfuse::io::write_atomically(join(f.out_dir, "W.npy"), nmfuse::io::encode_npy(r.W));
  nmfuse::io::write_atomically(join(f.out_dir, "H.npy"), nmfuse::io::encode_npy(r.H));
  nmfuse::io::write_atomically(join(f.out_dir, "summary.json"), summary.dump(2) + "\n");
  if (f.json) std::cout << summary.dump(2) << "\n";
  if (r.stop_reason == nmfuse::StopReason::Interrupted)
    throw Interrupted("interrupted by signal " + std::to_string(g_stop_signal) + " after " +
                      std::to_string(r.iterations) + " iterations; checkpoint written to " +
                      checkpoint + " (go on with --resume " + checkpoint +
                      "); W.npy and H.npy hold the factors so far");
  if (!f.quiet && !f.json) {
    std::cout << "ran on " << nmfuse::to_string(r.device) << " (" << r.device_reason << "), "
              << r.iterations << " iterations, " << nmfuse::to_string(r.stop_reason) << ", "
              << r.seconds << " s\n";
    if (summary.contains("relative_error"))
      std::cout << "relative error ‖V − WH‖/‖V‖ = " << summary["relative_error"] << "\n";
  }
  return r;
}

// A dense V, with the mask of --mask if there is one.
template <class T>
nmfuse::Result<T> factor_dense(const nmfuse::Matrix<T>& V, const std::string& name,
                               CommonFlags& f) {
  std::optional<nmfuse::Matrix<std::uint8_t>> mask;
  if (!f.mask_path.empty()) mask = nmfuse::io::read_mask(f.mask_path);
  InputInfo in{name, V.rows(), V.cols(), dtype_name<T>()};
  for (index_t i = 0; i < V.rows(); ++i)
    for (index_t j = 0; j < V.cols(); ++j)
      if (!mask || (*mask)(i, j)) in.squared_norm += double(V(i, j)) * double(V(i, j));
  return factor_and_write<T>(in, f, [&](const nmfuse::Options& opt) {
    return mask ? nmfuse::factorize(V.view(), opt, mask->view()) : nmfuse::factorize(V.view(), opt);
  });
}

// A sparse V in the precision its file holds, with 32-bit indices where they suffice.
void factor_sparse(const nmfuse::io::SparseMatrix& S, const std::string& name,
                   nmfuse::Absent absent, CommonFlags& f) {
  if (!f.mask_path.empty())
    throw nmfuse::InvalidArgument("--mask takes a dense V; for a sparse V, --absent unknown "
                                  "makes its stored entries the observed ones");
  auto run = [&](auto value, auto index) {
    using T = decltype(value);
    using I = decltype(index);
    const nmfuse::CsrMatrix<T, I> V = nmfuse::io::narrowed<T, I>(S);
    InputInfo in{name, S.rows, S.cols, dtype_name<T>()};
    for (double v : S.values) in.squared_norm += v * v;
    in.sparse = {{"stored", S.values.size()},
                 {"index_bits", 8 * sizeof(I)},
                 {"absent", absent == nmfuse::Absent::Zero ? "zero" : "unknown"}};
    factor_and_write<T>(in, f, [&](const nmfuse::Options& opt) {
      return nmfuse::factorize(V.view(absent), opt);
    });
  };
  const bool small = S.values.size() <= std::size_t(INT32_MAX) && S.cols <= INT32_MAX;
  if (S.single_precision)
    small ? run(float(), std::int32_t()) : run(float(), std::int64_t());
  else
    small ? run(double(), std::int32_t()) : run(double(), std::int64_t());
}

int run_demo_swimmer(CommonFlags& f) {
  using namespace nmfuse::datasets;
  const nmfuse::Matrix<float> V = swimmer();
  if (f.opt.rank == 0) f.opt.rank = kSwimmerParts;
  const nmfuse::Result<float> r = factor_dense(V, "swimmer (generated)", f);
  const std::string picture = join(f.out_dir, "parts.png");
  nmfuse::io::write_atomically(
      picture, nmfuse::io::encode_png(nmfuse::io::montage(r.W, kSwimmerSide, kSwimmerSide, 6, 4)));
  if (!f.quiet && !f.json)
    std::cout << "wrote " << join(f.out_dir, "W.npy") << ", H.npy, summary.json and " << picture
              << " (the " << f.opt.rank << " learned parts)\n";
  return kOk;
}

void print_version() {
  const nmfuse::BuildInfo info = nmfuse::build_info();
  std::cout << "nmfuse " << info.version << "\n"
            << "backends: cpu" << (info.cuda_compiled ? ", cuda" : "") << "\n"
            << "BLAS: " << info.blas << "\n"
            << "GPU: " << (info.cuda_compiled ? info.gpu_status : "not compiled") << "\n";
  if (!info.blas_kernels.empty()) std::cout << "BLAS kernels: " << info.blas_kernels << "\n";
  if (info.blas_is_reference)
    std::cout << "warning: linked to the slow reference BLAS; install libopenblas-dev and rebuild\n";
#if defined(__x86_64__)
  // An OpenBLAS older than the CPU falls back to its slowest x86-64 kernels.
  if (info.blas_kernels == "Prescott" && __builtin_cpu_supports("avx2"))
    std::cout << "warning: OpenBLAS does not know this CPU and uses its generic kernels; "
                 "OPENBLAS_CORETYPE="
              << (__builtin_cpu_supports("avx512f") ? "SkylakeX" : "Haswell")
              << " makes the products several times faster\n";
#endif
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"nmfuse: non-negative matrix factorization V ≈ WH on GPUs and CPUs"};
  app.require_subcommand(0, 1);
  bool version = false;
  app.add_flag("--version", version, "print the version, backends and BLAS");

  CommonFlags factor_flags;
  std::string input;
  nmfuse::Absent absent = nmfuse::Absent::Zero;
  CLI::App* factor = app.add_subcommand(
      "factor", "factor a matrix file: dense .npy or .csv, sparse .mtx or .npz (scipy.sparse)");
  factor->add_option("INPUT", input, "the matrix V (m×n, non-negative)")->required();
  factor->add_option("--absent", absent,
                     "sparse V: its absent entries are zeros (zero) or missing values (unknown)")
      ->transform(CLI::CheckedTransformer(std::map<std::string, nmfuse::Absent>{
          {"zero", nmfuse::Absent::Zero}, {"unknown", nmfuse::Absent::Unknown}}));
  factor->add_option("--rank", factor_flags.opt.rank, "k, the inner dimension")->required();
  factor->add_option("--mask", factor_flags.mask_path,
                     "a .npy or .csv of V's shape whose non-zero entries are the observed ones");
  add_common_flags(*factor, factor_flags, true);

  CommonFlags demo_flags;
  demo_flags.opt.init = nmfuse::Init::NNDSVD;
  demo_flags.opt.hals_inner_max = 1;  // plain HALS: more sweeps merge limbs here
  demo_flags.opt.max_iter = 500;
  demo_flags.opt.tol = 1e-6;
  std::string demo_name;
  CLI::App* demo = app.add_subcommand("demo", "run a demo on data nmfuse makes itself");
  demo->add_option("NAME", demo_name, "swimmer")->required()->check(CLI::IsMember({"swimmer"}));
  demo->add_option("--rank", demo_flags.opt.rank, "k (default: 17, the parts of a swimmer)");
  demo_flags.out_dir = "nmfuse-swimmer";
  add_common_flags(*demo, demo_flags, false);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kOk : kUsage;
  }

  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
  try {
    if (version) {
      print_version();
      return kOk;
    }
    if (*factor) {
      nmfuse::set_cpu_threads(factor_flags.threads);
      if (nmfuse::io::is_sparse_file(input)) {
        factor_sparse(nmfuse::io::read_sparse(input), input, absent, factor_flags);
        return kOk;
      }
      const nmfuse::io::AnyMatrix V = nmfuse::io::read_matrix(input);
      std::visit(
          [&](const auto& A) {
            using T = typename std::decay_t<decltype(A)>::value_type;
            if constexpr (std::is_same_v<T, std::uint8_t>)
              throw nmfuse::InvalidArgument(input + ": a uint8/bool matrix is a mask, not V");
            else
              factor_dense(A, input, factor_flags);
          },
          V);
      return kOk;
    }
    if (*demo) {
      nmfuse::set_cpu_threads(demo_flags.threads);
      return run_demo_swimmer(demo_flags);
    }
    std::cout << app.help();
    return kUsage;
  } catch (const Interrupted& e) {
    std::cerr << "nmfuse: " << e.what() << "\n";
    return kInterrupted;
  } catch (const nmfuse::InvalidArgument& e) {
    std::cerr << "nmfuse: " << e.what() << "\n";
    return kBadInput;
  } catch (const nmfuse::IoError& e) {
    std::cerr << "nmfuse: " << e.what() << "\n";
    return kBadInput;
  } catch (const std::filesystem::filesystem_error& e) {
    std::cerr << "nmfuse: " << e.what() << "\n";
    return kBadInput;
  } catch (const nmfuse::OutOfDeviceMemory& e) {
    std::cerr << "nmfuse: " << e.what() << "\n";
    return kNoDevice;
  } catch (const nmfuse::NotCompiled& e) {
    std::cerr << "nmfuse: " << e.what() << "\n";
    return kNoDevice;
  } catch (const nmfuse::DeviceUnavailable& e) {
    std::cerr << "nmfuse: " << e.what() << "\n";
    return kNoDevice;
  } catch (const std::exception& e) {
    std::cerr << "nmfuse: internal failure: " << e.what() << "\n";
    return kInternal;
  }
}
