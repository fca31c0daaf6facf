#pragma once
// What the file readers share: their one kind of error, and how they look at a path.
#include <algorithm>
#include <cctype>
#include <string>

#include "nmfuse/errors.hpp"

namespace nmfuse::io {

// A file (or a member of one) that cannot be read as what it should be.
[[noreturn]] inline void bad(const std::string& name, const std::string& why) {
  throw InvalidArgument(name + ": " + why);
}

inline std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

// Whether the path ends in `extension`, in any case.
inline bool has_extension(const std::string& path, const std::string& extension) {
  const std::string l = lower(path);
  return l.size() >= extension.size() &&
         l.compare(l.size() - extension.size(), extension.size(), extension) == 0;
}

}  // namespace nmfuse::io
