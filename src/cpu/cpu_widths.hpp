#pragma once
// The padded widths of the CPU backend's per-row work for a rank k: the kernels'
// widths (kernels/k_dispatch.hpp: 8, 16, 32, 64, or 0 past that) and, between them, 24
// and 48. A row's update costs about k·K and a sparse entry's gather moves K values, so
// k = 20 pays for 24, not 32. The GPU keeps the kernels' widths (its warps are 32 wide).
#include <type_traits>
#include <utility>

#include "k_dispatch.hpp"

namespace nmfuse::cpu {

template <class F>
decltype(auto) dispatch_width(int k, F&& f) {
  if (k > 16 && k <= 24) return f(std::integral_constant<int, 24>{});
  if (k > 32 && k <= 48) return f(std::integral_constant<int, 48>{});
  return kernels::dispatch_rank(k, std::forward<F>(f));
}

}  // namespace nmfuse::cpu
