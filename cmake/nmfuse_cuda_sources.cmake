# The CUDA backend: host side in src/cuda/, custom kernels in kernels/.
target_sources(nmfuse PRIVATE src/cuda/cuda_dense_backend.cu src/cuda/cuda_sparse_backend.cu
  kernels/update_kernels.cu kernels/sparse_kernels.cu)
target_link_libraries(nmfuse PRIVATE CUDA::cudart CUDA::cublas CUDA::cusparse)
set_target_properties(nmfuse PROPERTIES CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON)
# -Xptxas -v prints each kernel's registers and spills (bench/RESULTS.md records them).
option(NMFUSE_PTXAS_VERBOSE "Print register use of the CUDA kernels" OFF)
target_compile_options(nmfuse PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr
  $<$<BOOL:${NMFUSE_PTXAS_VERBOSE}>:-Xptxas=-v>>)
