#pragma once
// The CPU backends: dense V (BLAS products) and CSR V (OpenMP sparse kernels).
#include <cstdint>
#include <memory>

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

}  // namespace nmfuse::cpu
