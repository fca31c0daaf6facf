#pragma once
// Sums whose value depends neither on the thread count nor on which thread finishes
// first (an OpenMP reduction adds its threads' partial sums in arrival order): the
// range is cut into a fixed number of chunks, each summed in order, and the chunk sums
// are added in order. Checkpointed runs resume bit for bit on any thread count.
#include <algorithm>
#include <array>

#include "nmfuse/view.hpp"

namespace nmfuse::cpu {

constexpr int kSumChunks = 256;

// Σ over [0, count) as chunk(begin, end) sums it (a double), in kSumChunks chunks.
template <class Chunk>
double fixed_sum(index_t count, Chunk chunk) {
  std::array<double, kSumChunks> part{};
  const index_t size = (count + kSumChunks - 1) / kSumChunks;
#pragma omp parallel for schedule(static)
  for (int c = 0; c < kSumChunks; ++c) {
    const index_t begin = c * size, end = std::min(count, begin + size);
    if (begin < end) part[std::size_t(c)] = chunk(begin, end);
  }
  double sum = 0;
  for (double p : part) sum += p;
  return sum;
}

}  // namespace nmfuse::cpu
