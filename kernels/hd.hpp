#pragma once
// NMFUSE_HD marks arithmetic that both backends run: the CPU backend calls it from
// C++, the CUDA kernels call it on the device.
#if defined(__CUDACC__)
#define NMFUSE_HD __host__ __device__ __forceinline__
#define NMFUSE_UNROLL _Pragma("unroll")
#else
#define NMFUSE_HD inline
#define NMFUSE_UNROLL  // the host compiler unrolls at -O2 where it pays
#endif
