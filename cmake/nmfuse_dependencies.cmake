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

# Python: the interpreter of .venv (made by .ci/setup) unless one is named, its headers,
# and nanobind (PyPI; Debian 12 has none), found through that interpreter.
set(NMFUSE_WITH_PYTHON OFF)
if(NOT NMFUSE_PYTHON STREQUAL "OFF")
  if(NOT Python_EXECUTABLE AND EXISTS ${PROJECT_SOURCE_DIR}/.venv/bin/python)
    set(Python_EXECUTABLE ${PROJECT_SOURCE_DIR}/.venv/bin/python)
  endif()
  find_package(Python 3.9 COMPONENTS Interpreter Development.Module)
  if(Python_FOUND)
    execute_process(COMMAND ${Python_EXECUTABLE} -m nanobind --cmake_dir
      OUTPUT_VARIABLE nanobind_ROOT OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    find_package(nanobind CONFIG QUIET)
  endif()
  if(nanobind_FOUND)
    set(NMFUSE_WITH_PYTHON ON)
  elseif(NMFUSE_PYTHON STREQUAL "ON")
    message(FATAL_ERROR "NMFUSE_PYTHON=ON but Python's headers or nanobind were not found "
                        "(.ci/setup installs them in .venv)")
  endif()
endif()
message(STATUS "nmfuse: Python package ${NMFUSE_WITH_PYTHON} (${Python_EXECUTABLE})")
