#pragma once
// Advice to the system about memory that V occupies, for out-of-core passes over a
// memory-mapped V: read a range ahead, or drop its pages now that they have been read
// (a file's pages are read again from the file; memory with no file behind it keeps its
// contents). Only the pages wholly inside [begin, end) are named; advice the system
// declines changes nothing but the memory a pass holds.
#include <cstdint>

#include <sys/mman.h>
#include <unistd.h>

namespace nmfuse::core {

inline void advise_pages(const void* begin, const void* end, int advice) {
  const std::uintptr_t page = std::uintptr_t(sysconf(_SC_PAGESIZE));
  const auto first = reinterpret_cast<std::uintptr_t>(begin);
  const auto last = reinterpret_cast<std::uintptr_t>(end);
  const std::uintptr_t from = (first + page - 1) / page * page, to = last / page * page;
  if (to > from) static_cast<void>(madvise(reinterpret_cast<void*>(from), to - from, advice));
}

inline void read_ahead(const void* begin, const void* end) {
  advise_pages(begin, end, MADV_WILLNEED);
}

inline void drop_pages(const void* begin, const void* end) {
  advise_pages(begin, end, MADV_PAGEOUT);
}

}  // namespace nmfuse::core
