// Times the CUDA backend on dense float problems already on the GPU and prints, per
// run, seconds per iteration beside DESIGN.md §5's floor: max(bytes / bandwidth,
// flops / flop rate) on an H200 (4.3 TB/s, 60 TFLOP/s plain fp32). One JSON line per
// run goes to --json for gpu_peers.py, which sets PyTorch and scikit-learn beside it.
// --out-of-core times a host V streamed to the GPU beside it copied there once.
#include <CLI/CLI.hpp>
#include <cuda_runtime.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
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

// A rows×cols CSR with `per_row` distinct columns in each row, sorted, values 1 + a
// small count: the same matrix on any thread count.
nmfuse::CsrMatrix<float, std::int32_t> sparse_counts(index_t rows, index_t cols, int per_row) {
  nmfuse::CsrMatrix<float, std::int32_t> A;
  A.rows = rows;
  A.cols = cols;
  A.row_ptr.resize(std::size_t(rows + 1));
  for (index_t i = 0; i <= rows; ++i) A.row_ptr[std::size_t(i)] = std::int32_t(i * per_row);
  A.col_idx.resize(std::size_t(rows * per_row));
  A.values.resize(A.col_idx.size());
#pragma omp parallel for schedule(static)
  for (index_t i = 0; i < rows; ++i) {
    std::int32_t* c = A.col_idx.data() + i * per_row;
    std::uint64_t z = std::uint64_t(i) * 0x9E3779B97F4A7C15ull + 1;
    auto next = [&z] {
      z ^= z << 13, z ^= z >> 7, z ^= z << 17;
      return z;
    };
    for (int e = 0; e < per_row;) {  // distinct columns by rejection: per_row ≪ cols
      const auto j = std::int32_t(next() % std::uint64_t(cols));
      if (std::find(c, c + e, j) == c + e) c[e++] = j;
    }
    std::sort(c, c + per_row);
    for (int e = 0; e < per_row; ++e) A.values[std::size_t(i * per_row + e)] = float(1 + next() % 5);
  }
  return A;
}

// Solver seconds (the callback's clock) of a run of `iterations`, V on the host or GPU.
template <class View>
double solver_seconds(const View& V, nmfuse::Options opt, int iterations) {
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

// KL on a sparse count matrix: seconds per iteration and the bandwidth over the bytes
// its non-zeros force (each half-step reads the CSR once: 8 B a stored entry).
void sparse_kl(index_t rows, index_t cols, double density, int k, std::ofstream& json) {
  const int per_row = std::max(1, int(density * double(cols) + 0.5));
  const auto A = sparse_counts(rows, cols, per_row);
  const double nnz = double(A.values.size()), bytes = 2 * 8.0 * nnz;
  nmfuse::Options opt;
  opt.rank = k;
  opt.loss = nmfuse::Loss::KullbackLeibler;
  opt.init = nmfuse::Init::Random;
  opt.device = nmfuse::Device::Cuda;
  opt.tol = 0;
  const int iters = 10;
  const double one = solver_seconds(A.view(), opt, 1);
  const double per_iteration = (solver_seconds(A.view(), opt, 1 + iters) - one) / iters;
  std::printf("sparse KL %lld×%lld, %.0f stored (%.2g%%), rank %d: %.5f s/iteration, %.0f GB/s "
              "over the 16 B a stored entry forces per iteration, %.1f GFLOP/s (8·nnz·k)\n",
              (long long)rows, (long long)cols, nnz, 100 * nnz / (double(rows) * cols), k,
              per_iteration, bytes / per_iteration / 1e9, 8 * nnz * k / per_iteration / 1e9);
  json << nlohmann::json{{"m", rows}, {"n", cols}, {"k", k}, {"run", "sparse_kl"}, {"stored", nnz},
                         {"seconds_per_iteration", per_iteration},
                         {"forced_bytes_per_iteration", bytes}, {"iterations_timed", iters}}
              .dump()
       << "\n";
}

// Out of core: V on the host streamed to the GPU (out_of_core = on) beside V copied
// there once, Frobenius MU. The model: each half-step moves V across once, so an
// iteration's floor is 2·4·m·n bytes at the measured host-to-device bandwidth (a plain
// copy of 1 GiB from pinned memory).
void out_of_core(index_t rows, index_t cols, int k, std::ofstream& json) {
  std::vector<float> host = uniform_matrix(rows * cols);
  const std::size_t probe_bytes = std::size_t(1) << 30;
  float* device = nullptr;
  cuda_check(cudaMalloc(&device, probe_bytes), "cudaMalloc probe");
  cuda_check(cudaHostRegister(host.data(), probe_bytes, cudaHostRegisterPortable), "pin probe");
  cuda_check(cudaMemcpy(device, host.data(), probe_bytes, cudaMemcpyHostToDevice), "warm copy");
  const auto start = std::chrono::steady_clock::now();
  cuda_check(cudaMemcpy(device, host.data(), probe_bytes, cudaMemcpyHostToDevice), "timed copy");
  const double h2d = double(probe_bytes) /
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  cuda_check(cudaHostUnregister(host.data()), "unpin probe");
  cuda_check(cudaFree(device), "cudaFree probe");
  const nmfuse::DenseView<const float> V(host.data(), rows, cols, nmfuse::Layout::RowMajor);
  const double bytes = 2.0 * sizeof(float) * double(rows) * double(cols);
  std::printf("out of core %lld×%lld rank %d, host-to-device %.1f GB/s measured\n",
              (long long)rows, (long long)cols, k, h2d / 1e9);
  for (nmfuse::OutOfCore how : {nmfuse::OutOfCore::Off, nmfuse::OutOfCore::On}) {
    nmfuse::Options opt;
    opt.rank = k;
    opt.solver = nmfuse::Solver::MU;
    opt.init = nmfuse::Init::Random;
    opt.device = nmfuse::Device::Cuda;
    opt.tol = 0;
    opt.out_of_core = how;
    const int iters = 5;
    const double one = solver_seconds(V, opt, 1);
    const double per_iteration = (solver_seconds(V, opt, 1 + iters) - one) / iters;
    std::printf("  out_of_core %-3s %.4f s/iteration, %.1f GB/s of V across, %.2f of the "
                "floor %.4f s\n",
                nmfuse::to_string(how).c_str(), per_iteration, bytes / per_iteration / 1e9,
                bytes / h2d / per_iteration, bytes / h2d);
    json << nlohmann::json{{"m", rows}, {"n", cols}, {"k", k}, {"run", "out_of_core"},
                           {"out_of_core", nmfuse::to_string(how)},
                           {"seconds_per_iteration", per_iteration},
                           {"host_to_device_bytes_per_second", h2d}}
                .dump()
         << "\n";
  }
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
  std::vector<double> sparse;  // rows, cols, density, rank
  app.add_option("--sparse", sparse, "instead: KL on a sparse count matrix ROWS COLS DENSITY RANK")
      ->expected(4);
  std::vector<double> streamed;  // rows, cols, rank
  app.add_option("--out-of-core", streamed, "instead: V on the host, streamed or copied: ROWS COLS RANK")
      ->expected(3);
  app.add_option("--sizes", sizes, "square sizes m = n");
  app.add_option("--ranks", ranks, "ranks k");
  app.add_option("--json", json_path, "where to write one JSON line per run");
  app.add_option("--bandwidth", bandwidth, "floor: bytes per second");
  app.add_option("--flop-rate", flop_rate, "floor: flop per second");
  app.add_option("--budget", budget, "seconds of iterations to time per run, about");
  app.add_flag("--tf32", tf32, "let cuBLAS use TF32 tensor cores");
  CLI11_PARSE(app, argc, argv);

  std::ofstream json(json_path);
  if (!streamed.empty()) {
    out_of_core(index_t(streamed[0]), index_t(streamed[1]), int(streamed[2]), json);
    return 0;
  }
  if (!sparse.empty()) {
    sparse_kl(index_t(sparse[0]), index_t(sparse[1]), sparse[2], int(sparse[3]), json);
    return 0;
  }
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
