// Restarts at once against one restart and against the same restarts one after another
// (issue 12): a planted dense V, a fixed number of iterations (tol = 0) so that every
// run does the same work, HALS and MU. Beside each time: the big products' GFLOP/s
// (4·m·n·k per restart and iteration, DESIGN.md §5) and the ratio to one restart.
// The model beside them: the products of width k and k·R timed alone (their floor),
// and R at once predicted as the shared products plus R times the rest of one restart.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "nmfuse/nmfuse.hpp"
#include "products_floor.hpp"

namespace {

using nmfuse::index_t;
using nmfuse::Matrix;
using Clock = std::chrono::steady_clock;

// W·H of rank k plus uniform noise of a tenth of its mean, row-major.
Matrix<float> planted(index_t m, index_t n, int k, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0, 1);
  std::vector<float> W(std::size_t(m) * k), H(std::size_t(k) * n);
  for (float& w : W) w = u(rng);
  for (float& h : H) h = u(rng);
  Matrix<float> V(m, n, nmfuse::Layout::RowMajor);
  for (index_t i = 0; i < m; ++i)
    for (index_t j = 0; j < n; ++j) {
      float sum = 0;
      for (int t = 0; t < k; ++t) sum += W[std::size_t(i) * k + t] * H[std::size_t(t) * n + j];
      V(i, j) = sum + 0.1f * float(k) / 4 * u(rng);
    }
  return V;
}

// The best of `repeats` runs: the VM's speed wanders by 10% from one second to the next.
template <class F>
double seconds(int repeats, F f) {
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto t = Clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"factorize_many() against one restart and restarts one after another"};
  index_t m = 5000, n = 2000;
  int k = 10, restarts = 20, iterations = 50, repeats = 3;
  app.add_option("--rows", m);
  app.add_option("--cols", n);
  app.add_option("--rank", k);
  app.add_option("--restarts", restarts);
  app.add_option("--iterations", iterations);
  app.add_option("--repeats", repeats, "runs of each, the best kept");
  CLI11_PARSE(app, argc, argv);

  const Matrix<float> V = planted(m, n, k, 1);
  std::printf("dense %lld×%lld float32, rank %d, %d iterations each, %d restarts, CPU (%s)\n",
              (long long)m, (long long)n, k, iterations, restarts,
              nmfuse::build_info().blas_kernels.c_str());
  std::printf("%-5s %-28s %10s %12s %14s %10s\n", "", "run", "seconds", "ms/iteration",
              "product GFLOP/s", "× one");
  // The backend streams products where that pays (StreamedProducts::pays), the BLAS
  // otherwise.
  auto products_of_width = [&](int width) {
    return products(V, width, 10, nmfuse::cpu::StreamedProducts<float>::pays(width));
  };
  const double products_one = products_of_width(k) * iterations,
               products_all = products_of_width(k * restarts) * iterations;
  for (nmfuse::Solver solver : {nmfuse::Solver::HALS, nmfuse::Solver::MU}) {
    nmfuse::Options opt;
    opt.rank = k;
    opt.solver = solver;
    opt.device = nmfuse::Device::Cpu;
    opt.max_iter = iterations;
    opt.tol = 0;
    const double flops = 4.0 * double(m) * double(n) * k * iterations;
    auto row = [&](const char* what, double t, int runs, double one) {
      std::printf("%-5s %-28s %10.3f %12.2f %14.1f %10.2f\n", nmfuse::to_string(solver).c_str(),
                  what, t, 1e3 * t / iterations, runs * flops / t / 1e9, one > 0 ? t / one : 1.0);
    };
    const double one = seconds(repeats, [&] { nmfuse::factorize(V.view(), nmfuse::restart_options(opt, 0)); });
    row("one restart", one, 1, 0);
    const double together = seconds(repeats, [&] { nmfuse::factorize_many(V.view(), opt, restarts); });
    row("all at once (factorize_many)", together, restarts, one);
    const double in_turn = seconds(repeats, [&] {
      for (int r = 0; r < restarts; ++r) nmfuse::factorize(V.view(), nmfuse::restart_options(opt, r));
    });
    row("one after another", in_turn, restarts, one);
    row("floor: the products, width k", products_one, 1, one);
    row("floor: the products, width kR", products_all, restarts, one);
    row("model: kR products + R·rest", products_all + restarts * (one - products_one), restarts,
        one);
  }
  return 0;
}
