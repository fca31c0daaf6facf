#pragma once
// Initial factors (REFERENCE.md, "Initializations"), computed on the host from the
// backend's products so that every backend starts from the very same numbers.
#include <cstdint>
#include <vector>

#include "backend.hpp"
#include "nmfuse/options.hpp"

namespace nmfuse::core {

template <class T>
struct Factors {
  std::vector<T> W;   // m×k, column-major
  std::vector<T> Ht;  // n×k, column-major
};

// A rank-k truncated SVD V ≈ U·diag(S)·Rᵀ by a randomized range finder with power
// iterations (Halko, Martinsson & Tropp 2011).
struct TruncatedSvd {
  std::vector<double> U;  // m×k, column-major
  std::vector<double> S;  // k, descending
  std::vector<double> R;  // n×k, column-major: the right singular vectors
};

template <class T>
TruncatedSvd truncated_svd(Backend<T>& b, int k, std::uint64_t seed);

// init must be Random or one of the NNDSVD family.
template <class T>
Factors<T> initialize(Backend<T>& b, Init init, std::uint64_t seed);

}  // namespace nmfuse::core
