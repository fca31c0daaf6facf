#pragma once
// Advice to the system about memory that V occupies, for out-of-core passes over a
// memory-mapped V: read a range ahead, or drop its pages now that they have been read
// (they are read again from the file when needed). Only the pages wholly inside
// [begin, end) are named; advice the system declines changes nothing but the memory a
// pass holds. Pages are dropped only where a file lies behind them: the caller's own
// memory would go to swap instead.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

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

// Whether p lies in a mapping of a file (/proc/self/maps names an inode for it).
inline bool file_backed(const void* p) {
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    unsigned long long from = 0, to = 0, inode = 0;
    char perms[8] = {};
    unsigned long long offset = 0;
    unsigned major = 0, minor = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx %7s %llx %x:%x %llu", &from, &to, perms, &offset,
                    &major, &minor, &inode) == 7 &&
        at >= from && at < to)
      return inode != 0;
  }
  return false;
}

}  // namespace nmfuse::core
