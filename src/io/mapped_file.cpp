#include "mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "nmfuse/errors.hpp"

namespace nmfuse::io {

MappedFile::MappedFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError("cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw IoError("cannot read " + path + ": " + std::strerror(err));
  }
  size_ = std::size_t(st.st_size);
  base_ = size_ ? ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
  const int err = errno;
  ::close(fd);  // the mapping keeps the file
  if (base_ == MAP_FAILED) {
    base_ = nullptr;
    throw IoError("cannot map " + path + ": " + (size_ ? std::strerror(err) : "the file is empty"));
  }
}

MappedFile::~MappedFile() {
  if (base_) ::munmap(base_, size_);
}

}  // namespace nmfuse::io
