#pragma once
// The host memory free now, and the check that something large fits in half of it.
#include <unistd.h>

#include <sstream>
#include <string>

#include "nmfuse/errors.hpp"
#include "nmfuse/view.hpp"

namespace nmfuse::core {

inline double free_host_bytes() {
  return double(sysconf(_SC_AVPHYS_PAGES)) * double(sysconf(_SC_PAGESIZE));
}

// Throws InvalidArgument saying what needs `bytes` where that is more than half the
// free memory, so that a call fails at once with a message instead of later with
// std::bad_alloc.
inline void check_fits_in_memory(double bytes, const std::string& what) {
  const double free = free_host_bytes();
  if (bytes <= free / 2) return;
  std::ostringstream msg;
  msg << what << " needs " << bytes / 1e9 << " GB, more than half the " << free / 1e9
      << " GB free";
  throw InvalidArgument(msg.str());
}

// The consensus of n samples holds two n×n matrices of doubles: itself and its
// clustering's distances.
inline void check_consensus_fits(index_t samples) {
  check_fits_in_memory(2 * 8 * double(samples) * double(samples),
                       "the consensus of " + std::to_string(samples) +
                           " samples (its matrix and its clustering's distances)");
}

}  // namespace nmfuse::core
