#pragma once
// Zip archives in memory through libzip: what .npz files (numpy's) are.
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct zip;

namespace nmfuse::io {

// Reads members of an archive held in `bytes` (which must outlive the reader). Every
// failure is an InvalidArgument that starts with `name`.
class ZipReader {
 public:
  ZipReader(std::string_view bytes, const std::string& name);
  ~ZipReader();
  ZipReader(const ZipReader&) = delete;
  ZipReader& operator=(const ZipReader&) = delete;

  bool has(const std::string& member) const;
  // A member's bytes; a lying size or a zip bomb is caught as the bytes arrive.
  std::string read(const std::string& member) const;
  // The same bytes in pieces of at most 64 KiB, handed to `piece` as they unpack: a
  // reader that keeps part of a member holds only that part.
  void read_each(const std::string& member,
                 const std::function<void(std::string_view)>& piece) const;
  // The member's size unpacked, as the archive states it.
  std::size_t size(const std::string& member) const;

 private:
  zip* archive_ = nullptr;
  std::string name_;
};

// An archive of (member name, bytes), stored uncompressed.
std::string zip_archive(const std::vector<std::pair<std::string, std::string>>& members);

}  // namespace nmfuse::io
