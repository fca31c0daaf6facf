#pragma once
// The CPU backends: dense V (BLAS products) and CSR V (OpenMP sparse kernels).
#include <cstdint>
#include <memory>
#include <string>

#include "core/backend.hpp"
#include "nmfuse/sparse.hpp"

namespace nmfuse::cpu {

// `batch`: the restarts it holds side by side (core/backend.hpp). block_bytes > 0: V is
// read out of core, in blocks of at most that many bytes of its storage.
template <class T>
std::unique_ptr<core::Backend<T>> make_dense_backend(DenseView<const T> V, int rank,
                                                    int batch = 1, std::int64_t block_bytes = 0);

template <class T, class I>
std::unique_ptr<core::Backend<T>> make_sparse_backend(CsrView<T, I> V, int rank, int batch = 1);

// How the dense backend makes its big products on this build's target: streamed over V
// (with AVX-512, up to rank 64) or by the BLAS, and why (BuildInfo::dense_products).
std::string dense_products();

}  // namespace nmfuse::cpu
