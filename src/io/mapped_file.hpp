#pragma once
// A whole file mapped read-only: its pages are read as they are touched and may be let
// go again by the kernel, so a reader that keeps only part of it holds only that part.
#include <cstddef>
#include <string>
#include <string_view>

namespace nmfuse::io {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // IoError where it cannot
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::string_view bytes() const { return {static_cast<const char*>(base_), size_}; }

 private:
  void* base_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace nmfuse::io
