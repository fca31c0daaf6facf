// build_info() and set_cpu_threads(): what this copy of nmfuse can use, and how many
// threads its CPU backend takes.
#include "cpu/blas_library.hpp"
#include "cpu/cpu_backends.hpp"
#include "cuda/cuda_hooks.hpp"
#include "nmfuse/factorize.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace nmfuse {

BuildInfo build_info() {
  BuildInfo info;
  info.version = NMFUSE_VERSION;
  info.cuda_compiled = cuda::compiled();
  const cuda::GpuStatus gpu = cuda::probe();
  info.usable_gpus = gpu.usable;
  info.gpu_status = gpu.reason;
  const cpu::BlasLibrary& blas = cpu::blas_library();
  info.blas = blas.name;
  info.blas_kernels = blas.kernels;
  info.blas_kernels_selected = blas.selected;
  info.blas_slower = blas.slower;
  info.blas_is_reference = blas.reference;
  info.dense_products = cpu::dense_products();
  return info;
}

void set_cpu_threads(int threads) {
  if (threads <= 0) return;
#ifdef _OPENMP
  omp_set_num_threads(threads);
#endif
  cpu::set_blas_threads(threads);
}

}  // namespace nmfuse
