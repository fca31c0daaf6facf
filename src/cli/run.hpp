#pragma once
// What the nmfuse command's subcommands share: the common flags, the exit codes, and
// the run itself (progress, checkpoints, W.npy, H.npy and summary.json, written
// atomically).
#include <CLI/CLI.hpp>

#include <chrono>
#include <csignal>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "core/check_input.hpp"
#include "io/atomic_file.hpp"
#include "io/checkpoint_file.hpp"
#include "io/matrix_files.hpp"
#include "io/sparse_files.hpp"
#include "nmfuse/nmfuse.hpp"

namespace nmfuse::cli {

enum ExitCode {
  kOk = 0,
  kInternal = 1,
  kUsage = 2,
  kBadInput = 3,
  kNoDevice = 4,
  kInterrupted = 5,
};

// The signal that asked the run to stop (SIGINT, SIGTERM), or 0.
extern volatile std::sig_atomic_t g_stop_signal;
// Installs the handlers that set it.
void stop_on_signals();
// Prints what ended the command (prefix, then the error) and returns its exit code.
int report_failure(const std::exception& e, const std::string& prefix);
// A line the process writes to stderr the moment a stop signal arrives (before the run
// can act on it): a process of a distributed run may be ended before it can say more.
void note_on_stop_signal(const std::string& note);

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
  index_t image_limit = 0;      // images: read at most this many (0: all)
  std::string checkpoint_path;  // default: OUT/checkpoint.npz
  std::string resume_path;
  int restarts = 1;  // factor: fits from starts seeded seed, seed + 1, …; the best is kept
  bool online = false;  // factor --batch-size: Model::fit_online, then H by transform
  bool writes = true;   // false on the processes of a distributed run but the first
};

// The flags every subcommand that factors takes; --out is required or has a default.
void add_common_flags(CLI::App& cmd, CommonFlags& f, bool out_required);
// Those of them that say how each fit runs (loss, solver, stopping, device, output
// verbosity), without --out and the checkpoints: for `rank`.
void add_solver_flags(CLI::App& cmd, CommonFlags& f);

// On a terminal, one line redrawn at each check: a bar, the loss and the time left if
// the run goes to max_iter. Elsewhere (a log, a pipe), a plain line per check. A run
// resumed from a checkpoint starts at first_iteration.
ProgressCallback progress_printer(int max_iter, int first_iteration);

std::string join(const std::string& dir, const std::string& file);

// The path of a file a Debian package ships for a demo, or an error saying which
// package to install.
std::string shipped(const std::string& path, const std::string& package, const std::string& demo);

// What the summary says of the input.
struct InputInfo {
  std::string name;
  index_t rows = 0, cols = 0;
  std::string dtype;
  nlohmann::json sparse;    // for sparse input: stored entries, what absent ones mean
};

// What a checkpoint belongs to: a resumed run must agree on all of it but the input's
// path and the device (max_iter, tol and check_every may change: they decide when to
// stop, not what an iteration does).
nlohmann::json run_description(const InputInfo& in, const CommonFlags& f);

// A checkpoint of this run, or an error naming what differs.
std::shared_ptr<const Checkpoint> resumed(const std::string& path, const nlohmann::json& run);

// STEM.npy, the consensus matrix with its samples in dendrogram order, and STEM.png.
void write_consensus(const std::string& stem, const Consensus& c, int rank);

// Several restarts: their losses, the best, their consensus (consensus.npy and .png)
// into the summary and the output folder.
template <class T>
void write_restarts(nlohmann::json& summary, const std::vector<nmfuse::Result<T>>& runs,
                    std::size_t best, const std::string& out_dir) {
  constexpr index_t kMostSamples = 5000;  // the consensus matrix is samples² doubles
  std::vector<double> losses;
  std::vector<DenseView<const T>> W, H;
  for (const auto& run : runs) {
    losses.push_back(run.loss_history.back());
    W.push_back(run.W.view());
    H.push_back(run.H.view());
  }
  summary["restarts"] = {{"count", runs.size()}, {"losses", losses}, {"best", best}};
  if (runs.front().W.cols() >= 2) summary["restarts"]["silhouette"] = component_silhouette(W);
  const index_t samples = runs.front().H.cols();
  if (samples > kMostSamples) {
    summary["restarts"]["consensus"] = "not computed: " + std::to_string(samples) +
                                       " samples (columns of V), more than " +
                                       std::to_string(kMostSamples);
    return;
  }
  const Consensus c = consensus(H);
  summary["restarts"]["cophenetic"] = c.cophenetic;
  summary["restarts"]["dispersion"] = c.dispersion;
  summary["restarts"]["order"] = c.order;
  write_consensus(join(out_dir, "consensus"), c, int(runs.front().W.cols()));
}

template <class T>
const char* dtype_name() {
  return sizeof(T) == 4 ? "float32" : "float64";
}

// An online fit as a Result: W from fit_online, H from transform, and as its loss
// D(V | WH) over all of V (its observed entries, with a mask: a run of 0 iterations from
// them); its iterations are steps.
template <class View>
auto fit_online(View V, const std::optional<nmfuse::MaskView>& mask, const nmfuse::Options& opt,
                nmfuse::OnlineInfo& info) {
  using T = std::remove_const_t<typename View::value_type>;
  const auto start = std::chrono::steady_clock::now();
  bool fitting = true;  // the progress shown is the fit's steps, not transform's solve
  nmfuse::Options shown = opt;
  if (opt.on_progress)
    shown.on_progress = [&](const nmfuse::Progress& p) { return !fitting || opt.on_progress(p); };
  nmfuse::Model<T> model(shown);
  nmfuse::Options evaluate = opt;
  evaluate.init = nmfuse::Init::Custom;
  evaluate.max_iter = 0;
  evaluate.on_progress = nullptr;
  auto fitted = [&](const auto&... observed) {  // the mask, or none
    info = model.fit_online(V, observed...);
    fitting = false;
    const nmfuse::Matrix<T> H = model.transform(V, observed...);
    return nmfuse::factorize(V, evaluate, model.W().view(), H.view(), observed...);
  };
  nmfuse::Result<T> r;
  if constexpr (std::is_same_v<View, nmfuse::DenseView<const T>>)
    r = mask ? fitted(*mask) : fitted();
  else
    r = fitted();  // a CSR V's missing values are its absent entries
  r.loss_iterations = {info.steps};
  r.iterations = info.steps;
  r.stop_reason = info.stop_reason;
  r.converged = info.stop_reason == nmfuse::StopReason::Converged;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

// What factor_and_write runs: one fit by factorize() (which keeps checkpoints), several
// restarts at once by factorize_many(), or an online fit (Model::fit_online, then H by
// transform, and the loss of both on all of V); V dense (with an optional mask) or CSR.
template <class View>
auto fits_of(View V, std::optional<nmfuse::MaskView> mask = std::nullopt) {
  return [=](const nmfuse::Options& opt, int restarts, nmfuse::OnlineInfo* online) {
    constexpr bool dense = std::is_same_v<View, nmfuse::DenseView<const typename View::value_type>>;
    decltype(nmfuse::factorize_many(V, opt, 1)) runs;
    if (online) {
      if (restarts > 1) throw InvalidArgument("--batch-size fits online once: no --restarts");
      runs.push_back(fit_online(V, mask, opt, *online));
      return runs;
    }
    if constexpr (dense) {
      if (mask) {
        if (restarts > 1) return nmfuse::factorize_many(V, opt, restarts, *mask);
        runs.push_back(nmfuse::factorize(V, opt, *mask));
        return runs;
      }
    }
    if (restarts > 1) return nmfuse::factorize_many(V, opt, restarts);
    runs.push_back(nmfuse::factorize(V, opt));
    return runs;
  };
}

// Runs fit(options, restarts) (fits_of) with progress printed, writes W.npy, H.npy and
// summary.json.
template <class T, class Fit>
nmfuse::Result<T> factor_and_write(const InputInfo& in, CommonFlags& f, Fit fit) {
  if (f.writes) std::filesystem::create_directories(f.out_dir);
  const nlohmann::json run = run_description(in, f);
  if (!f.resume_path.empty()) f.opt.resume = resumed(f.resume_path, run);
  // An online fit's progress counts its steps (batches) up to max_passes passes.
  const index_t batch = std::min<index_t>(f.opt.batch_size, in.cols);
  const int progress_end =
      f.online ? int(f.opt.max_passes * ((in.cols + batch - 1) / batch)) : f.opt.max_iter;
  if (f.writes && !f.quiet && !f.json)
    f.opt.on_progress = progress_printer(progress_end, f.opt.resume ? f.opt.resume->iteration : 0);
  const std::string checkpoint =
      f.checkpoint_path.empty() ? join(f.out_dir, "checkpoint.npz") : f.checkpoint_path;
  f.opt.on_checkpoint = [&](const nmfuse::Checkpoint& c) {
    if (f.writes) nmfuse::io::write_checkpoint(checkpoint, {c, run.dump(2)});
  };
  f.opt.interrupt = [] { return g_stop_signal != 0; };
  if (f.restarts > 1 && (f.opt.resume || f.opt.checkpoint_every > 0))
    throw InvalidArgument("--restarts " + std::to_string(f.restarts) +
                          " runs several fits: it takes no --resume or --checkpoint-every");
  if (f.online && (f.opt.resume || f.opt.checkpoint_every > 0))
    throw InvalidArgument("--batch-size " + std::to_string(f.opt.batch_size) +
                          " fits online, which keeps no checkpoints: no --resume or "
                          "--checkpoint-every");
  // Restarts (restart_options), all at once: the least loss is kept, and the consensus
  // of all of them is written beside it. The progress shown is the first restart's.
  auto options_of = [&](int restart) {
    return f.restarts > 1 ? nmfuse::restart_options(f.opt, restart) : f.opt;
  };
  if (f.restarts > 1 || f.online) f.opt.on_checkpoint = nullptr;  // refused above
  if (f.restarts > 1 && f.opt.on_progress)
    f.opt.on_progress = [show = f.opt.on_progress](const nmfuse::Progress& p) {
      return p.restart != 0 || show(p);
    };
  nmfuse::OnlineInfo online;
  std::vector<nmfuse::Result<T>> runs = fit(f.opt, f.restarts, f.online ? &online : nullptr);
  std::size_t best = 0;
  for (std::size_t i = 1; i < runs.size(); ++i)
    if (runs[i].loss_history.back() < runs[best].loss_history.back()) best = i;
  nmfuse::Result<T>& r = runs[best];
  const nmfuse::Options kept = options_of(int(best));
  const double final_loss = r.loss_history.back();
  nlohmann::json summary = {
      {"input", in.name},
      {"shape", {in.rows, in.cols}},
      {"dtype", in.dtype},
      {"rank", f.opt.rank},
      {"loss", nmfuse::to_string(f.opt.loss)},
      {"beta", nmfuse::beta_of(f.opt)},
      {"solver", nmfuse::to_string(nmfuse::resolved_solver(f.opt))},
      {"init", nmfuse::to_string(nmfuse::resolved_init(kept, in.rows, in.cols))},
      {"seed", kept.seed},
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
  if (f.restarts > 1) write_restarts(summary, runs, best, f.out_dir);
  if (f.online)
    summary["online"] = {{"batch_size", f.opt.batch_size},
                         {"forget_factor", f.opt.forget_factor},
                         {"max_passes", f.opt.max_passes},
                         {"max_no_improvement", f.opt.max_no_improvement},
                         {"steps", online.steps},
                         {"passes", online.passes},
                         {"batch_cost", online.batch_cost},
                         {"smoothed_cost", online.smoothed_cost}};
  if (f.opt.loss == nmfuse::Loss::Frobenius && r.data_squared_norm > 0)
    summary["relative_error"] = std::sqrt(2 * final_loss / r.data_squared_norm);
  if (f.writes) {
    nmfuse::io::write_atomically(join(f.out_dir, "W.npy"), nmfuse::io::encode_npy(r.W));
    nmfuse::io::write_atomically(join(f.out_dir, "H.npy"), nmfuse::io::encode_npy(r.H));
    nmfuse::io::write_atomically(join(f.out_dir, "summary.json"), summary.dump(2) + "\n");
    if (f.json) std::cout << summary.dump(2) << "\n";
  }
  // A distributed run's processes stop together, when any of them is asked to.
  const std::string by = g_stop_signal != 0 ? "by signal " + std::to_string(g_stop_signal)
                                            : std::string("with another process of the run");
  if (r.stop_reason == nmfuse::StopReason::Interrupted && f.online)
    throw Interrupted("interrupted " + by + " after " +
                      std::to_string(r.iterations) +
                      " online steps; W.npy and H.npy hold the factors so far");
  if (r.stop_reason == nmfuse::StopReason::Interrupted)
    throw Interrupted("interrupted " + by + " after " +
                      std::to_string(r.iterations) + " iterations; checkpoint written to " +
                      checkpoint + " (go on with --resume " + checkpoint +
                      "); W.npy and H.npy hold the factors so far");
  if (f.writes && !f.quiet && !f.json) {
    std::cout << "ran on " << nmfuse::to_string(r.device) << " (" << r.device_reason << "), "
              << r.iterations << (f.online ? " online steps, " : " iterations, ")
              << nmfuse::to_string(r.stop_reason) << ", "
              << r.seconds << " s\n";
    if (summary.contains("relative_error"))
      std::cout << "relative error ‖V − WH‖/‖V‖ = " << summary["relative_error"] << "\n";
  }
  return r;
}

// Whether a sparse file's entries fit 32-bit indices (what factorizations keep them in).
inline bool narrow_indices(const nmfuse::io::SparseMatrix& S) {
  return S.values.size() <= std::size_t(INT32_MAX) && S.rows <= INT32_MAX && S.cols <= INT32_MAX;
}
// f(CsrMatrix<T, I>): S with the file's precision (T) and the narrowest indices (I).
template <class F>
void with_narrowed(const nmfuse::io::SparseMatrix& S, F&& f) {
  auto run = [&](auto value, auto index) {
    f(nmfuse::io::narrowed<decltype(value), decltype(index)>(S));
  };
  if (S.single_precision)
    narrow_indices(S) ? run(float(), std::int32_t()) : run(float(), std::int64_t());
  else
    narrow_indices(S) ? run(double(), std::int32_t()) : run(double(), std::int64_t());
}
// What the summary says of a sparse input.
nlohmann::json sparse_description(const nmfuse::io::SparseMatrix& S, nmfuse::Absent absent);

// A dense V, with the mask of --mask if there is one.
template <class T>
nmfuse::Result<T> factor_dense(nmfuse::DenseView<const T> V, const std::string& name,
                               CommonFlags& f) {
  std::optional<nmfuse::Matrix<std::uint8_t>> mask;
  if (!f.mask_path.empty()) mask = nmfuse::io::read_mask(f.mask_path);
  if (mask && (mask->rows() != V.rows || mask->cols() != V.cols))
    throw InvalidArgument("the mask of observed entries is " + std::to_string(mask->rows()) +
                          "×" + std::to_string(mask->cols()) + ", but V is " +
                          std::to_string(V.rows) + "×" + std::to_string(V.cols));
  const InputInfo in{name, V.rows, V.cols, dtype_name<T>()};
  return factor_and_write<T>(in, f, fits_of(V, mask ? std::optional(mask->view()) : std::nullopt));
}
template <class T>
nmfuse::Result<T> factor_dense(const nmfuse::Matrix<T>& V, const std::string& name,
                               CommonFlags& f) {
  return factor_dense<T>(V.view(), name, f);
}

// Whether `factor` maps a .npy input (io::MappedNpy) instead of reading it into memory:
// where --out-of-core on asks, or at auto where the file is larger than half the free
// memory. Where the CPU will then factor it, sets out_of_core = on, so that resident
// memory stays within a few blocks (on a GPU, its backend decides for itself).
bool maps_input(const std::string& path, nmfuse::Options& opt);

// A sparse V in the precision its file holds, with 32-bit indices where they suffice.
void factor_sparse(const io::SparseMatrix& S, const std::string& name, Absent absent,
                   CommonFlags& f);

}  // namespace nmfuse::cli
