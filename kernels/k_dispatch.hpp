#pragma once
// Chooses the fast-path width K for a rank k: the smallest of 8, 16, 32, 64 that holds
// it, or 0 (the strided large-k path). Both backends dispatch through here.
#include <type_traits>

namespace nmfuse::kernels {

constexpr int kMaxFastRank = 64;

template <class F>
decltype(auto) dispatch_rank(int k, F&& f) {
  if (k <= 8) return f(std::integral_constant<int, 8>{});
  if (k <= 16) return f(std::integral_constant<int, 16>{});
  if (k <= 32) return f(std::integral_constant<int, 32>{});
  if (k <= kMaxFastRank) return f(std::integral_constant<int, 64>{});
  return f(std::integral_constant<int, 0>{});
}

}  // namespace nmfuse::kernels
