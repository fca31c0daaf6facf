// Which BLAS kernels the CPU backend runs. Debian 12's OpenBLAS 0.3.21 falls back to
// its generic Prescott kernels on CPUs newer than it (Sapphire and Emerald Rapids, Zen 4),
// 3-4× slower than its own AVX-512 ones there; newer OpenBLAS maps those CPUs onto the
// kernels 0.3.21 already has. nmfuse makes the same choice once, at load time, before
// anything in it calls the BLAS, through OpenBLAS's documented OPENBLAS_CORETYPE.
#include "cpu/blas_library.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <mutex>

#ifdef NMFUSE_HAVE_OPENBLAS
extern "C" {
char* openblas_get_config();
char* openblas_get_corename();
void openblas_set_num_threads(int);
// Only a DYNAMIC_ARCH OpenBLAS (Debian's) has these: weak, so that others still link.
__attribute__((weak)) void gotoblas_dynamic_init();
__attribute__((weak)) void gotoblas_dynamic_quit();
}
#endif

namespace nmfuse::cpu {

CpuFeatures this_cpu() {
  CpuFeatures f;
#if defined(__x86_64__)
  // libgcc's checks include the operating system's support (XCR0) for the registers.
  f.avx = __builtin_cpu_supports("avx");
  f.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  f.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512cd");
  f.avx512_bf16 = f.avx512 && __builtin_cpu_supports("avx512bf16");
  f.amd = __builtin_cpu_is("amd");
#endif
  return f;
}

std::string openblas_core_for(const CpuFeatures& cpu) {
  if (cpu.avx512_bf16) return "Cooperlake";
  if (cpu.avx512) return "SkylakeX";
  if (cpu.avx2_fma) return cpu.amd ? "Zen" : "Haswell";
  if (cpu.avx) return "Sandybridge";
  return "";
}

int vector_tier(const std::string& core) {
  std::string c(core);
  std::transform(c.begin(), c.end(), c.begin(), [](unsigned char x) { return std::tolower(x); });
  for (const char* name : {"skylakex", "cooperlake", "sapphirerapids"})
    if (c == name) return 4;
  for (const char* name : {"haswell", "zen"})
    if (c == name) return 3;
  for (const char* name : {"sandybridge", "bulldozer", "piledriver", "steamroller", "excavator"})
    if (c == name) return 2;
  return 1;
}

namespace {

#ifdef NMFUSE_HAVE_OPENBLAS
// Whether this build has the core's kernels: each has a table gotoblas_<CORE>.
bool core_built(std::string core) {
  std::transform(core.begin(), core.end(), core.begin(),
                 [](unsigned char x) { return std::toupper(x); });
  return dlsym(RTLD_DEFAULT, ("gotoblas_" + core).c_str()) != nullptr;
}

// The next narrower core to try when `core` is not in this build.
std::string fallback(const std::string& core) {
  if (core == "Cooperlake") return "SkylakeX";
  if (core == "SkylakeX") return "Haswell";
  if (core == "Haswell" || core == "Zen") return "Sandybridge";
  return "";
}

// Restarts OpenBLAS's dispatch with OPENBLAS_CORETYPE = core, leaving the environment
// as it was: gotoblas_dynamic_init reads the variable, as at OpenBLAS's own start-up.
void select_core(const std::string& core) {
  setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
  unsetenv("OPENBLAS_CORETYPE");
}

BlasLibrary open_blas() {
  BlasLibrary b;
  const std::string chosen = openblas_get_corename();
  b.kernels = chosen;
  std::string best = openblas_core_for(this_cpu());
  if (best.empty() || vector_tier(chosen) >= vector_tier(best)) return b;
  if (const char* user = std::getenv("OPENBLAS_CORETYPE")) {
    b.slower = std::string("OPENBLAS_CORETYPE=") + user + " runs OpenBLAS's " + chosen +
               " kernels, but this CPU runs its " + best + " ones";
    return b;
  }
  if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit) {
    b.slower = "this OpenBLAS was built for " + chosen + " alone (no DYNAMIC_ARCH), but this "
               "CPU runs " + best + " kernels: install Debian's libopenblas-openmp-dev";
    return b;
  }
  while (!best.empty() && !core_built(best)) best = fallback(best);
  if (best.empty() || vector_tier(best) <= vector_tier(chosen)) {
    b.slower = "this OpenBLAS has no kernels for this CPU's instruction sets past " + chosen;
    return b;
  }
  select_core(best);
  b.kernels = openblas_get_corename();
  b.selected = "OpenBLAS chose " + chosen + " (it does not know this CPU); nmfuse selected " +
               b.kernels + " for its instruction sets";
  return b;
}
#endif

BlasLibrary load() {
#ifdef NMFUSE_HAVE_OPENBLAS
  BlasLibrary b = open_blas();
  b.name = std::string("OpenBLAS ") + openblas_get_config();  // names the core in use
  return b;
#else
  BlasLibrary b;
  b.name = NMFUSE_BLAS_LIBRARIES;
#ifdef NMFUSE_BLAS_IS_REFERENCE
  b.reference = true;
  b.slower = "linked to the Netlib reference BLAS, many times slower than an optimized one: "
             "install libopenblas-openmp-dev and rebuild";
#endif
  return b;
#endif
}

}  // namespace

const BlasLibrary& blas_library() {
  static const BlasLibrary loaded = load();
  return loaded;
}

namespace {
// Selected while the library loads, before any caller can reach the BLAS through it.
[[maybe_unused]] const bool selected_at_load = (blas_library(), true);
}  // namespace

void warn_once_if_slower() {
  static std::once_flag said;
  if (blas_library().slower.empty()) return;
  std::call_once(said, [] {
    std::cerr << "nmfuse: slower BLAS kernels: " << blas_library().slower << "\n";
  });
}

void set_blas_threads(int threads) {
#ifdef NMFUSE_HAVE_OPENBLAS
  openblas_set_num_threads(threads);
#else
  (void)threads;
#endif
}

}  // namespace nmfuse::cpu
