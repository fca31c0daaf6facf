// Times nmfuse's CPU backend on one matrix against the performance model's floor (the
// two big products as the backend computes them, on the same threads, DESIGN.md §5) and prints scikit-learn's
// figures for the same data and start beside it (from sklearn_peer.py's JSON).
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <omp.h>

#include "bench_files.hpp"
#include "products_floor.hpp"
#include "io/atomic_file.hpp"
#include "io/matrix_files.hpp"
#include "nmfuse/nmfuse.hpp"

namespace {

using nmfuse::index_t;
using nmfuse::Matrix;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}


struct Timing {
  double per_iteration = 0;
  double loss = 0;
  double to_target = -1;  // seconds to reach the target loss, -1: not reached
  int iterations_to_target = -1;
};

// Per-iteration time over `iters` iterations (one loss check, at the end), then runs
// checking every iteration for the time to reach `target`; each the best of `reps`,
// since other work on the machine only ever adds time.
Timing time_solver(const Matrix<float>& V, const Matrix<float>& W0, const Matrix<float>& H0,
                   nmfuse::Options opt, int iters, double target, int max_iter, int reps) {
  opt.init = nmfuse::Init::Custom;
  opt.device = nmfuse::Device::Cpu;
  opt.tol = 0;
  Timing t;
  t.per_iteration = 1e30;
  for (int r = 0; r < reps; ++r) {
    opt.max_iter = iters;
    opt.check_every = iters;
    opt.on_progress = [&](const nmfuse::Progress& p) {
      t.per_iteration = std::min(t.per_iteration, p.seconds / p.iteration);
      t.loss = p.loss;
      return true;
    };
    nmfuse::factorize(V.view(), opt, W0.view(), H0.view());
    if (target <= 0) continue;
    opt.max_iter = max_iter;
    opt.check_every = 1;
    opt.on_progress = [&](const nmfuse::Progress& p) {
      if (p.loss > target) return true;
      if (t.to_target < 0 || p.seconds < t.to_target) t.to_target = p.seconds;
      t.iterations_to_target = p.iteration;
      return false;
    };
    nmfuse::factorize(V.view(), opt, W0.view(), H0.view());
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"nmfuse CPU benchmark"};
  std::string dir;
  int k = 0, iters = 50, max_iter = 2000, reps = 3;
  nmfuse::Options hals_opt;
  hals_opt.solver = nmfuse::Solver::HALS;
  app.add_option("DIR", dir, "folder with V.npy, W0.npy, H0.npy and sklearn.json")->required();
  app.add_option("--rank", k, "k")->required();
  app.add_option("--iters", iters, "iterations timed per solver");
  app.add_option("--max-iter", max_iter, "iterations allowed to reach the target loss");
  app.add_option("--reps", reps, "repetitions of each timing, best taken");
  app.add_option("--hals-inner-max", hals_opt.hals_inner_max, "HALS sweeps per product, at most");
  app.add_option("--hals-inner-tol", hals_opt.hals_inner_tol, "HALS inner stopping ratio");
  CLI11_PARSE(app, argc, argv);

  const Matrix<float> V = load_float(dir + "/V.npy"), W0 = load_float(dir + "/W0.npy"),
                      H0 = load_float(dir + "/H0.npy");
  const nlohmann::json peer = nlohmann::json::parse(nmfuse::io::read_file(dir + "/sklearn.json"));
  const double target = peer["cd"]["loss"];  // scikit-learn cd's loss after 200 iterations
  const index_t m = V.rows(), n = V.cols();
  const double flops = 4.0 * double(m) * double(n) * k, bytes = 8.0 * double(m) * double(n);

  const bool streamed = nmfuse::cpu::StreamedProducts<float>::pays(k);
  double floor = products(V, k, 20, streamed), sgemm = products(V, k, 20, false);
  hals_opt.rank = k;
  nmfuse::Options mu_opt = hals_opt;
  mu_opt.solver = nmfuse::Solver::MU;
  const Timing mu = time_solver(V, W0, H0, mu_opt, iters, target, max_iter, reps);
  const Timing hals = time_solver(V, W0, H0, hals_opt, iters, target, max_iter, reps);
  // scikit-learn's cd in nmfuse: one sweep per product, no extrapolation.
  nmfuse::Options plain_opt = hals_opt;
  plain_opt.hals_inner_max = 1;
  plain_opt.hals_extrapolate = false;
  const Timing plain = time_solver(V, W0, H0, plain_opt, iters, -1, max_iter, reps);
  floor = std::min(floor, products(V, k, 20, streamed));  // again: the VM's speed wanders
  sgemm = std::min(sgemm, products(V, k, 20, false));

  const nmfuse::BuildInfo info = nmfuse::build_info();
  std::printf("V %lld×%lld float32, rank %d, %d threads, %s\n", (long long)m, (long long)n, k,
              omp_get_max_threads(), info.blas.c_str());
  std::printf("model: 4mnk = %.3g flop and 8mn = %.3g B per iteration; floor = the two products "
              "as nmfuse computes them (%s) = %.4f s (%.1f GFLOP/s, %.1f GB/s)\n",
              flops, bytes, streamed ? "streamed over V" : "this BLAS", floor, flops / floor / 1e9,
              bytes / floor / 1e9);
  std::printf("target loss ½‖V−WH‖² = %.6g (scikit-learn cd after 200 iterations)\n\n", target);
  std::printf("%-22s %12s %10s %12s %14s %16s\n", "run", "s/iteration", "GFLOP/s", "floor/time",
              "×sklearn cd", "s to target");
  const double cd_iter = peer["cd"]["seconds_per_iteration"];
  const double cd_total = peer["cd"]["seconds"];
  auto row = [&](const char* name, double per_iter, double to_target, int its) {
    char reach[64];
    if (to_target >= 0) std::snprintf(reach, sizeof reach, "%.3f (%d it)", to_target, its);
    else std::snprintf(reach, sizeof reach, "not reached");
    std::printf("%-22s %12.5f %10.1f %12.2f %14.2f %16s\n", name, per_iter, flops / per_iter / 1e9,
                floor / per_iter, per_iter / cd_iter, reach);
  };
  row("floor: the products", floor, -1, 0);
  row("the products by SGEMM", sgemm, -1, 0);
  row("nmfuse mu", mu.per_iteration, mu.to_target, mu.iterations_to_target);
  row("nmfuse hals", hals.per_iteration, hals.to_target, hals.iterations_to_target);
  row("nmfuse hals, as cd", plain.per_iteration, -1, 0);
  row("scikit-learn mu", peer["mu"]["seconds_per_iteration"], -1, 0);
  row("scikit-learn cd", cd_iter, cd_total, 200);
  if (hals.to_target >= 0)
    std::printf("\nnmfuse hals reaches scikit-learn cd's 200-iteration loss in %.1f%% of its time\n",
                100 * hals.to_target / cd_total);
  return 0;
}
