// Times the CUDA backend on dense float problems already on the GPU and prints, per
// run, seconds per iteration beside DESIGN.md §5's floor: max(bytes / bandwidth,
// flops / flop rate) on an H200 (4.3 TB/s, 60 TFLOP/s plain fp32). One JSON line per
// run goes to --json for gpu_peers.py, which sets PyTorch and scikit-learn beside it.
#include <CLI/CLI.hpp>
#include <cuda_runtime.h>
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nmfuse/nmfuse.hpp"

namespace {

using nmfuse::index_t;

void cuda_check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

// Uniform [0, 1) floats from a hash of the index: the same matrix on any thread count.
std::vector<float> uniform_matrix(index_t count) {
  std::vector<float> v(static_cast<std::size_t>(count));
#pragma omp parallel for schedule(static)
  for (index_t e = 0; e < count; ++e) {
    std::uint64_t z = std::uint64_t(e) * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    v[std::size_t(e)] = float((z ^ (z >> 31)) >> 40) * 0x1.0p-24f;
  }
  return v;
}

// Solver seconds (the callback's clock) of a run of `iterations`.
double solver_seconds(const nmfuse::DeviceView& V, nmfuse::Options opt, int iterations) {
  opt.max_iter = iterations;
  opt.check_every = iterations;
  double seconds = 0;
  opt.on_progress = [&](const nmfuse::Progress& p) {
    seconds = p.seconds;
    return true;
  };
  nmfuse::factorize(V, opt);
  return seconds;
}

}  // namespace

int run(int argc, char** argv);

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_gpu: %s\n", e.what());
    return 1;
  }
}

int run(int argc, char** argv) {
  CLI::App app{"nmfuse GPU benchmark"};
  std::vector<index_t> sizes{8192, 16384, 32768};
  std::vector<int> ranks{16, 64, 256};
  std::string json_path = "nmfuse-gpu.jsonl";
  double bandwidth = 4.3e12, flop_rate = 60e12, budget = 2.0;
  bool tf32 = false;
  app.add_option("--sizes", sizes, "square sizes m = n");
  app.add_option("--ranks", ranks, "ranks k");
  app.add_option("--json", json_path, "where to write one JSON line per run");
  app.add_option("--bandwidth", bandwidth, "floor: bytes per second");
  app.add_option("--flop-rate", flop_rate, "floor: flop per second");
  app.add_option("--budget", budget, "seconds of iterations to time per run, about");
  app.add_flag("--tf32", tf32, "let cuBLAS use TF32 tensor cores");
  CLI11_PARSE(app, argc, argv);

  std::ofstream json(json_path);
  std::printf("%7s %5s %-6s %12s %9s %10s %10s %8s\n", "m=n", "k", "run", "s/iteration", "GB/s",
              "GFLOP/s", "floor s", "floor/t");
  for (index_t size : sizes) {
    const std::vector<float> host = uniform_matrix(size * size);
    float* dV = nullptr;
    cuda_check(cudaMalloc(&dV, host.size() * sizeof(float)), "cudaMalloc V");
    cuda_check(cudaMemcpy(dV, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice),
               "copy V");
    const nmfuse::DeviceView V(dV, size, size, nmfuse::Layout::RowMajor);
    for (int k : ranks) {
      struct Run {
        const char* name;
        nmfuse::Loss loss;
        nmfuse::Solver solver;
        double products;  // m·n·k products per iteration: 2 (Frobenius) or 4 (KL: W·H too)
      };
      for (const Run& run : {Run{"mu", nmfuse::Loss::Frobenius, nmfuse::Solver::MU, 2},
                             Run{"hals", nmfuse::Loss::Frobenius, nmfuse::Solver::HALS, 2},
                             Run{"kl", nmfuse::Loss::KullbackLeibler, nmfuse::Solver::MU, 4}}) {
        nmfuse::Options opt;
        opt.rank = k;
        opt.loss = run.loss;
        opt.solver = run.solver;
        opt.init = nmfuse::Init::Random;
        opt.tol = 0;
        opt.allow_tf32 = tf32;
        // One iteration first (it carries the start-up); then time `iters` more.
        const double one = solver_seconds(V, opt, 1);
        const int iters = int(std::clamp(budget / std::max(one, 1e-4), 2.0, 50.0));
        const double per_iteration = (solver_seconds(V, opt, 1 + iters) - one) / iters;
        const double mn = double(size) * double(size);
        const double flops = 2.0 * run.products * mn * k, bytes = 2.0 * sizeof(float) * mn;
        const double floor = std::max(bytes / bandwidth, flops / flop_rate);
        std::printf("%7lld %5d %-6s %12.5f %9.0f %10.0f %10.5f %8.2f\n", (long long)size, k,
                    run.name, per_iteration, bytes / per_iteration / 1e9,
                    flops / per_iteration / 1e9, floor, floor / per_iteration);
        std::fflush(stdout);
        json << nlohmann::json{{"m", size}, {"n", size}, {"k", k}, {"run", run.name},
                               {"seconds_per_iteration", per_iteration}, {"floor", floor},
                               {"iterations_timed", iters}, {"tf32", tf32}}
                    .dump()
             << "\n";
      }
    }
    cuda_check(cudaFree(dV), "cudaFree V");
  }
  return 0;
}
