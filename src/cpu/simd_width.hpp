#pragma once
// The widest vector registers the translation unit is compiled for (-march=native where
// NMFUSE_NATIVE is on), and how many the target has. The CPU kernels size their vectors
// and register blocks by them: 64-byte vectors on an AVX2 machine are split in two and
// spill, which made the streamed products 24× slower there (bench/RESULTS.md).
// Every translation unit that includes a kernel sized by them must be compiled with the
// same flags (CMakeLists.txt), since the kernels are inline templates.

namespace nmfuse::cpu {

#if defined(__AVX512F__)
inline constexpr int kVectorBytes = 64, kVectorRegisters = 32;
#elif defined(__AVX__)
inline constexpr int kVectorBytes = 32, kVectorRegisters = 16;
#elif defined(__aarch64__)
inline constexpr int kVectorBytes = 16, kVectorRegisters = 32;
#else
inline constexpr int kVectorBytes = 16, kVectorRegisters = 16;
#endif

}  // namespace nmfuse::cpu
