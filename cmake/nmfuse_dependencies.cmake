# Finds what the library links: OpenMP, a BLAS with LAPACK (OpenBLAS preferred, since
# Debian's generic libblas is the slow reference one), and the CUDA toolkit if present.
find_package(OpenMP REQUIRED)

set(BLA_VENDOR OpenBLAS)
find_package(BLAS)
if(BLAS_FOUND)
  find_package(LAPACK REQUIRED)
  set(NMFUSE_BLAS_DEFINITIONS NMFUSE_HAVE_OPENBLAS)
  set(NMFUSE_BLA_VENDOR OpenBLAS)
else()
  unset(BLA_VENDOR)
  find_package(BLAS REQUIRED)
  find_package(LAPACK REQUIRED)
  message(WARNING "OpenBLAS not found: linking ${BLAS_LIBRARIES}, which may be the slow "
                  "reference BLAS. Install libopenblas-dev.")
  list(JOIN BLAS_LIBRARIES " " blas_list)
  set(NMFUSE_BLAS_DEFINITIONS "NMFUSE_BLAS_LIBRARIES=\"${blas_list}\"")
  if(blas_list MATCHES "/blas/libblas")  # Debian's Netlib reference BLAS
    list(APPEND NMFUSE_BLAS_DEFINITIONS NMFUSE_BLAS_IS_REFERENCE)
  endif()
endif()

set(NMFUSE_WITH_CUDA OFF)
if(NOT NMFUSE_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      # sm_80 and sm_90 code, and PTX for sm_75 (Turing, the oldest CUDA 13 compiles
      # for), which every newer GPU compiles when it loads: one pass more would buy
      # nothing, one fewer loses the T4s and the Blackwells.
      set(CMAKE_CUDA_ARCHITECTURES 75-virtual 80-real 90-real)
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(NMFUSE_WITH_CUDA ON)
  elseif(NMFUSE_CUDA STREQUAL "ON")
    message(FATAL_ERROR "NMFUSE_CUDA=ON but no CUDA compiler was found")
  endif()
endif()
message(STATUS "nmfuse: CUDA backend ${NMFUSE_WITH_CUDA}")
