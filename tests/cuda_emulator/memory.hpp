#pragma once
// The emulated GPU's memory: every cudaMalloc is tracked, so that a pointer can be
// checked to be device memory and an operand to lie inside one allocation.
#include <cstddef>

namespace nmfuse::emulator {

// The allocation holding p: its start and size, or {nullptr, 0}.
struct Allocation {
  const char* base = nullptr;
  std::size_t bytes = 0;
};
Allocation allocation_of(const void* p);

}  // namespace nmfuse::emulator
