// Times nmfuse's CPU backend on a sparse matrix (CSR, never densified) beside
// scikit-learn on the same data and start (sklearn_sparse_peer.py's JSON): KL by MU,
// Frobenius by HALS and MU. Prints the performance model's floor, the time per
// iteration, the time to scikit-learn's 200-iteration loss, and the peak memory.
#include <CLI/CLI.hpp>
#include <malloc.h>
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "bench_files.hpp"
#include "io/atomic_file.hpp"
#include "io/matrix_files.hpp"
#include "io/sparse_files.hpp"
#include "nmfuse/nmfuse.hpp"

namespace {

using nmfuse::index_t;
using nmfuse::Matrix;
using Csr = nmfuse::CsrMatrix<float, std::int32_t>;

// A line of /proc/self/status in bytes (VmRSS: now, VmHWM: the peak since the reset).
double status_bytes(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return 1024.0 * std::stod(line.substr(std::strlen(key) + 1));
  return -1;
}
// Starts the peak (VmHWM) afresh from the resident size now (Linux ≥ 4.0).
void reset_peak() { std::ofstream("/proc/self/clear_refs") << "5"; }

struct Timing {
  double per_iteration = 1e30;
  double to_target = -1;  // seconds to reach the target loss, -1: not reached
  int iterations_to_target = -1;
  double peak_bytes = 0;  // resident memory the run added at its peak
};

// Per-iteration time over `iters` iterations (best of `reps`); the iterations to reach
// `target` (checking every iteration), then the time of a run of just those iterations
// (checking once, as a user would run it); the peak memory of one more run.
Timing time_solver(const Csr& V, const Matrix<float>& W0, const Matrix<float>& H0,
                   nmfuse::Options opt, int iters, double target, int max_iter, int reps) {
  opt.init = nmfuse::Init::Custom;
  opt.device = nmfuse::Device::Cpu;
  opt.tol = 0;
  Timing t;
  for (int r = 0; r < reps; ++r) {
    opt.max_iter = iters;
    opt.check_every = iters;
    opt.on_progress = [&](const nmfuse::Progress& p) {
      t.per_iteration = std::min(t.per_iteration, p.seconds / p.iteration);
      return true;
    };
    nmfuse::factorize(V.view(), opt, W0.view(), H0.view());
  }
  opt.max_iter = max_iter;
  opt.check_every = 1;
  opt.on_progress = [&](const nmfuse::Progress& p) {
    if (p.loss > target) return true;
    t.iterations_to_target = p.iteration;
    return false;
  };
  nmfuse::factorize(V.view(), opt, W0.view(), H0.view());
  if (t.iterations_to_target > 0) {
    opt.max_iter = opt.check_every = t.iterations_to_target;
    opt.on_progress = nullptr;
    t.to_target = nmfuse::factorize(V.view(), opt, W0.view(), H0.view()).seconds;
  }
  opt.max_iter = 10;
  opt.on_progress = nullptr;
  const double before = status_bytes("VmRSS:");
  reset_peak();
  nmfuse::factorize(V.view(), opt, W0.view(), H0.view());
  t.peak_bytes = status_bytes("VmHWM:") - before;
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  // Large blocks always from mmap, so that freed memory leaves the resident size and
  // each run's peak is its own.
  mallopt(M_MMAP_THRESHOLD, 1 << 17);
  CLI::App app{"nmfuse sparse CPU benchmark"};
  std::string dir;
  int iters = 20, max_iter = 400, reps = 2;
  app.add_option("DIR", dir, "folder with V.npz, W0.npy, H0.npy and sklearn.json")->required();
  app.add_option("--iters", iters, "iterations timed per solver");
  app.add_option("--max-iter", max_iter, "iterations allowed to reach the target loss");
  app.add_option("--reps", reps, "repetitions of each timing, best taken");
  CLI11_PARSE(app, argc, argv);

  const Csr V = nmfuse::io::narrowed<float, std::int32_t>(nmfuse::io::read_sparse(dir + "/V.npz"));
  const Matrix<float> W0 = load_float(dir + "/W0.npy"), H0 = load_float(dir + "/H0.npy");
  const nlohmann::json peer = nlohmann::json::parse(nmfuse::io::read_file(dir + "/sklearn.json"));
  const index_t m = V.rows, n = V.cols, nnz = index_t(V.values.size());
  const int k = int(W0.cols());
  const double input_bytes = double(nnz) * 8 + double(m + 1) * 4;
  const double factor_bytes = double(m + n) * k * 4;

  nmfuse::Options opt;
  opt.rank = k;
  struct Run {
    const char* name;
    nmfuse::Loss loss;
    nmfuse::Solver solver;
    const char* peer;
    bool as_cd = false;  // HALS as scikit-learn's cd: one sweep, no extrapolation
  };
  const Run runs[] = {{"kl mu", nmfuse::Loss::KullbackLeibler, nmfuse::Solver::MU, "kl"},
                      {"frobenius hals", nmfuse::Loss::Frobenius, nmfuse::Solver::HALS, "frobenius"},
                      {"frobenius hals, as cd", nmfuse::Loss::Frobenius, nmfuse::Solver::HALS, "frobenius", true},
                      {"frobenius mu", nmfuse::Loss::Frobenius, nmfuse::Solver::MU, "frobenius"}};

  const nmfuse::BuildInfo info = nmfuse::build_info();
  std::printf("V %lld×%lld float32 CSR, %lld stored (%.2f%%), rank %d, %d threads, %s\n",
              (long long)m, (long long)n, (long long)nnz, 100.0 * nnz / (double(m) * n), k,
              omp_get_max_threads(), info.blas.c_str());
  // The model (DESIGN.md §5): a half-step streams its CSR (8 B an entry) and touches k
  // partner values an entry; KL adds the SDDMM, 2·nnz·k more flops a half-step.
  std::printf("model per iteration: Frobenius 4·nnz·k = %.3g flop, KL 8·nnz·k = %.3g flop, "
              "over 2·8·nnz = %.3g B of CSR\n",
              4.0 * nnz * k, 8.0 * nnz * k, 16.0 * nnz);
  std::printf("input %.1f MB (float32 values, int32 indices), factors %.1f MB; memory target: "
              "nmfuse's peak beyond the input ≤ 2 × (input + factors) = %.1f MB\n",
              input_bytes / 1e6, factor_bytes / 1e6, 2 * (input_bytes + factor_bytes) / 1e6);
  std::printf("a loss counts as reached within 1e-6 of scikit-learn's (both are float32 sums of "
              "%lld terms)\n\n", (long long)nnz);
  std::printf("%-22s %12s %10s %10s %22s %22s %12s %12s\n", "run", "s/iteration", "GFLOP/s",
              "×faster", "to sklearn's loss (s)", "sklearn 200 it (s)", "peak MB", "÷ target");
  for (const Run& r : runs) {
    opt.loss = r.loss;
    opt.solver = r.solver;
    opt.hals_inner_max = r.as_cd ? 1 : 0;
    opt.hals_extrapolate = !r.as_cd;
    const nlohmann::json& p = peer[r.peer];
    // Both losses are float32 sums of ~10⁶ terms: "reached" within 1e-6 of it.
    const double target = double(p["loss"]) * (1 + 1e-6);
    const Timing t = time_solver(V, W0, H0, opt, iters, target, max_iter, reps);
    const double flops = (r.loss == nmfuse::Loss::KullbackLeibler ? 8.0 : 4.0) * nnz * k;
    char reach[64];
    if (t.to_target >= 0) std::snprintf(reach, sizeof reach, "%.3f (%d it)", t.to_target, t.iterations_to_target);
    else std::snprintf(reach, sizeof reach, "not in %d it", max_iter);
    const double peak = t.peak_bytes;
    std::printf("%-22s %12.5f %10.2f %10.1f %22s %22.3f %12.1f %12.2f\n", r.name, t.per_iteration,
                flops / t.per_iteration / 1e9, double(p["seconds_per_iteration"]) / t.per_iteration,
                reach, double(p["seconds"]), peak / 1e6, peak / (2 * (input_bytes + factor_bytes)));
  }
  for (const char* name : {"kl", "frobenius"}) {
    const nlohmann::json& p = peer[name];
    std::printf("scikit-learn %-9s %s: %.5f s/iteration, loss %.9g after 200, peak %.1f MB "
                "(tracemalloc, beyond the input)\n",
                name, std::string(p["solver"]).c_str(), double(p["seconds_per_iteration"]),
                double(p["loss"]), double(p["peak_bytes"]) / 1e6);
  }
  return 0;
}
