// One BLAS library, opened by path, timed on the products of one NMF iteration at
// 5000×2000, rank 32 (float): V·Ht, Vᵀ·W and the two k×k Grams. compare_blas.sh runs
// it once per candidate, interleaved, so that the candidates are measured side by side.
// Usage: blas_candidates LIBRARY [--prefix P] [--coretype NAME] [--repeats N]
//   --prefix: the symbols' prefix (scipy-openblas32 exports scipy_sgemm_)
//   --coretype: an OpenBLAS core to select before the first call (as nmfuse does)
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

using Sgemm = void (*)(const char*, const char*, const int*, const int*, const int*,
                       const float*, const float*, const int*, const float*, const int*,
                       const float*, float*, const int*, std::size_t, std::size_t);

int main(int argc, char** argv) {
  CLI::App app{"one BLAS on the products of an NMF iteration"};
  std::string library, prefix, coretype;
  int repeats = 20, m = 5000, n = 2000, k = 32;
  app.add_option("library", library)->required();
  app.add_option("--prefix", prefix);
  app.add_option("--coretype", coretype);
  app.add_option("--repeats", repeats);
  CLI11_PARSE(app, argc, argv);

  void* lib = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) { std::fprintf(stderr, "%s\n", dlerror()); return 1; }
  auto sgemm = reinterpret_cast<Sgemm>(dlsym(lib, (prefix + "sgemm_").c_str()));
  if (!sgemm) { std::fprintf(stderr, "no %ssgemm_ in %s\n", prefix.c_str(), library.c_str()); return 1; }
  if (!coretype.empty()) {
    auto quit = reinterpret_cast<void (*)()>(dlsym(lib, "gotoblas_dynamic_quit"));
    auto init = reinterpret_cast<void (*)()>(dlsym(lib, "gotoblas_dynamic_init"));
    if (!quit || !init) { std::fprintf(stderr, "not a DYNAMIC_ARCH OpenBLAS\n"); return 1; }
    setenv("OPENBLAS_CORETYPE", coretype.c_str(), 1);
    quit();
    init();
  }
  auto corename = reinterpret_cast<char* (*)()>(dlsym(lib, (prefix + "openblas_get_corename").c_str()));

  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  auto random = [&](std::size_t size) {
    std::vector<float> x(size);
    for (auto& v : x) v = u(rng);
    return x;
  };
  const std::vector<float> V = random(std::size_t(m) * n), W = random(std::size_t(m) * k),
                           Ht = random(std::size_t(n) * k);
  std::vector<float> VHt(std::size_t(m) * k), VtW(std::size_t(n) * k), G(std::size_t(k) * k);
  const float one = 1, zero = 0;
  // The four products of one iteration, as the CPU backend calls them (column-major V).
  auto iteration = [&] {
    sgemm("N", "N", &m, &k, &n, &one, V.data(), &m, Ht.data(), &n, &zero, VHt.data(), &m, 1, 1);
    sgemm("T", "N", &k, &k, &n, &one, Ht.data(), &n, Ht.data(), &n, &zero, G.data(), &k, 1, 1);
    sgemm("T", "N", &n, &k, &m, &one, V.data(), &m, W.data(), &m, &zero, VtW.data(), &n, 1, 1);
    sgemm("T", "N", &k, &k, &m, &one, W.data(), &m, W.data(), &m, &zero, G.data(), &k, 1, 1);
  };
  iteration();  // first touch, thread start-up
  std::vector<double> ms;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    iteration();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  const double flops = 2.0 * k * (2.0 * m * n + double(k) * (m + n));
  std::printf("%-60s %-16s median %6.2f ms  min %6.2f ms  %6.1f GFLOP/s\n", library.c_str(),
              corename ? corename() : "-", ms[ms.size() / 2], ms[0], flops / ms[ms.size() / 2] / 1e6);
  return 0;
}
