#pragma once
// The BLAS that the CPU backend's products run on, and the kernels it uses on this CPU.
#include <string>

namespace nmfuse::cpu {

struct BlasLibrary {
  std::string name;      // as the library names itself ("OpenBLAS 0.3.21 DYNAMIC_ARCH ...")
  std::string kernels;   // OpenBLAS: the core whose kernels run ("Cooperlake")
  std::string selected;  // how those kernels were chosen, when nmfuse chose them
  std::string slower;    // why faster kernels for this CPU cannot be had; empty if none
  bool reference = false;  // the Netlib reference BLAS
};

// What was loaded. At load time, an OpenBLAS that does not know this CPU (and so runs
// generic kernels) is switched to its best kernels for the CPU's instruction sets.
const BlasLibrary& blas_library();

// Says `slower` on stderr, once per process, if there is anything to say.
void warn_once_if_slower();

void set_blas_threads(int threads);

// The x86-64 instruction sets that decide which OpenBLAS kernels a CPU can run.
struct CpuFeatures {
  bool avx = false, avx2_fma = false, avx512 = false, avx512_bf16 = false, amd = false;
};
CpuFeatures this_cpu();

// OpenBLAS 0.3.21's core with the widest kernels these features run ("" for none
// past SSE3): the choice newer OpenBLAS makes for CPUs that 0.3.21 does not know.
std::string openblas_core_for(const CpuFeatures& cpu);

// How wide a core's kernels are: 1 SSE, 2 AVX, 3 AVX2, 4 AVX-512.
int vector_tier(const std::string& openblas_core);

}  // namespace nmfuse::cpu
