# The CUDA backend as a module: libnmfuse_cuda.so (host side in src/cuda/, custom kernels
# in kernels/), opened by libnmfuse with dlopen on the first GPU request or probe
# (src/cuda/module_loader.cpp), so that libnmfuse and the command never link CUDA.
set(NMFUSE_CUDA_SOURCES src/cuda/cuda_dense_backend.cu src/cuda/cuda_sparse_backend.cu
  src/cuda/gpu_links.cu kernels/update_kernels.cu kernels/sparse_kernels.cu)
target_sources(nmfuse PRIVATE src/cuda/module_loader.cpp)
target_link_libraries(nmfuse PRIVATE ${CMAKE_DL_LIBS})
# The runtime's header for its types only: libnmfuse opens the runtime with dlopen.
target_include_directories(nmfuse PRIVATE ${CUDAToolkit_INCLUDE_DIRS})
target_compile_definitions(nmfuse PRIVATE
  NMFUSE_CUDART_SONAME="libcudart.so.${CUDAToolkit_VERSION_MAJOR}")

add_library(nmfuse_cuda MODULE ${NMFUSE_CUDA_SOURCES} src/cuda/module_entry.cpp)
target_include_directories(nmfuse_cuda PRIVATE include src kernels)
target_link_libraries(nmfuse_cuda PRIVATE CUDA::cudart CUDA::cublas CUDA::cusparse)
# Only the entry point is exported: the module's names never meet libnmfuse's.
set_target_properties(nmfuse_cuda PROPERTIES CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON
  CXX_VISIBILITY_PRESET hidden CUDA_VISIBILITY_PRESET hidden
  LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})
target_link_options(nmfuse_cuda PRIVATE -Wl,--no-undefined)
# NCCL links the GPUs of a distributed run's processes (src/cuda/gpu_links.cu); where
# the toolkit lacks it, they sum through their hosts. The wheel leaves it out.
find_path(NMFUSE_NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
find_library(NMFUSE_NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR})
if(NMFUSE_NCCL_INCLUDE_DIR AND NMFUSE_NCCL_LIBRARY AND NOT SKBUILD)
  target_include_directories(nmfuse_cuda PRIVATE ${NMFUSE_NCCL_INCLUDE_DIR})
  target_link_libraries(nmfuse_cuda PRIVATE ${NMFUSE_NCCL_LIBRARY})
  target_compile_definitions(nmfuse_cuda PRIVATE NMFUSE_HAVE_NCCL=1)
  message(STATUS "nmfuse: NCCL between GPUs ON (${NMFUSE_NCCL_LIBRARY})")
else()
  message(STATUS "nmfuse: NCCL between GPUs OFF: GPU processes sum through their hosts")
endif()
# What the probe names when a GPU is older than every architecture built.
list(JOIN CMAKE_CUDA_ARCHITECTURES " " NMFUSE_CUDA_ARCHITECTURES)
target_compile_definitions(nmfuse_cuda PRIVATE NMFUSE_CUDA_ARCHITECTURES="${NMFUSE_CUDA_ARCHITECTURES}")
# ptxas -v reports each kernel's registers, spills and shared memory; the launcher keeps
# that in a log beside each object, which tests/check_ptxas.sh checks.
target_compile_options(nmfuse_cuda PRIVATE
  $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr -Xptxas=-v>)
set_target_properties(nmfuse_cuda PROPERTIES
  CUDA_COMPILER_LAUNCHER ${PROJECT_SOURCE_DIR}/cmake/ptxas_log.sh)
install(TARGETS nmfuse_cuda LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
