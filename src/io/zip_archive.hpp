#pragma once
// Zip archives in memory through libzip: what .npz files (numpy's) are.
#include <string>
#include <utility>
#include <vector>

struct zip;

namespace nmfuse::io {

// Reads members of an archive held in `bytes` (which must outlive the reader). Every
// failure is an InvalidArgument that starts with `name`.
class ZipReader {
 public:
  ZipReader(const std::string& bytes, const std::string& name);
  ~ZipReader();
  ZipReader(const ZipReader&) = delete;
  ZipReader& operator=(const ZipReader&) = delete;

  bool has(const std::string& member) const;
  // A member's bytes; a lying size or a zip bomb is caught as the bytes arrive.
  std::string read(const std::string& member) const;

 private:
  zip* archive_ = nullptr;
  std::string name_;
};

// An archive of (member name, bytes), stored uncompressed.
std::string zip_archive(const std::vector<std::pair<std::string, std::string>>& members);

}  // namespace nmfuse::io
