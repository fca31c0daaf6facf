// The BLAS kernels the CPU backend runs: the core nmfuse asks OpenBLAS for on a CPU it
// does not know, and, on this machine, that the kernels in use are as wide as the CPU
// allows or the library says why not.
#include <gtest/gtest.h>

#include "cpu/blas_library.hpp"
#include "nmfuse/factorize.hpp"

namespace {

using nmfuse::cpu::CpuFeatures;
using nmfuse::cpu::openblas_core_for;
using nmfuse::cpu::vector_tier;

CpuFeatures features(bool avx, bool avx2, bool avx512, bool bf16, bool amd) {
  CpuFeatures f;
  f.avx = avx, f.avx2_fma = avx2, f.avx512 = avx512, f.avx512_bf16 = bf16, f.amd = amd;
  return f;
}

TEST(BlasLibrary, CoreForTheWidestInstructionSet) {
  // Sapphire/Emerald Rapids and Zen 4 (AVX-512 with BF16): Cooperlake, as newer OpenBLAS.
  EXPECT_EQ(openblas_core_for(features(true, true, true, true, false)), "Cooperlake");
  EXPECT_EQ(openblas_core_for(features(true, true, true, true, true)), "Cooperlake");
  EXPECT_EQ(openblas_core_for(features(true, true, true, false, false)), "SkylakeX");
  EXPECT_EQ(openblas_core_for(features(true, true, false, false, false)), "Haswell");
  EXPECT_EQ(openblas_core_for(features(true, true, false, false, true)), "Zen");
  EXPECT_EQ(openblas_core_for(features(true, false, false, false, false)), "Sandybridge");
  EXPECT_EQ(openblas_core_for(features(false, false, false, false, false)), "");
}

TEST(BlasLibrary, TiersOfOpenBlasCores) {
  EXPECT_EQ(vector_tier("Prescott"), 1);
  EXPECT_EQ(vector_tier("Nehalem"), 1);
  EXPECT_EQ(vector_tier("Sandybridge"), 2);
  EXPECT_EQ(vector_tier("Haswell"), 3);
  EXPECT_EQ(vector_tier("ZEN"), 3);  // OpenBLAS's names are case-insensitive
  EXPECT_EQ(vector_tier("SkylakeX"), 4);
  EXPECT_EQ(vector_tier("Cooperlake"), 4);
}

TEST(BlasLibrary, KernelsAsWideAsThisCpuOrAReason) {
  const nmfuse::BuildInfo info = nmfuse::build_info();
  const std::string best = openblas_core_for(nmfuse::cpu::this_cpu());
  if (!info.blas_slower.empty()) GTEST_SUCCEED() << "slower: " << info.blas_slower;
  else if (!info.blas_kernels.empty() && !best.empty())
    EXPECT_GE(vector_tier(info.blas_kernels), vector_tier(best)) << info.blas;
  else
    EXPECT_FALSE(info.blas_is_reference) << "the reference BLAS must say it is slower";
  // The library names the kernels, as --version prints them.
  EXPECT_NE(info.blas.find(info.blas_kernels), std::string::npos) << info.blas;
}

}  // namespace
