#pragma once
// The CPU backends: dense V (BLAS products) and CSR V (OpenMP sparse kernels).
#include <memory>

#include "core/backend.hpp"
#include "nmfuse/sparse.hpp"

namespace nmfuse::cpu {

// `batch`: the restarts it holds side by side (core/backend.hpp).
template <class T>
std::unique_ptr<core::Backend<T>> make_dense_backend(DenseView<const T> V, int rank,
                                                    int batch = 1);

template <class T, class I>
std::unique_ptr<core::Backend<T>> make_sparse_backend(CsrView<T, I> V, int rank, int batch = 1);

}  // namespace nmfuse::cpu
