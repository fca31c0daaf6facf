#pragma once
#include <string>

namespace nmfuse::io {

// Writes bytes to path so that path is either untouched or complete: the bytes go to a
// temporary file beside it, which is flushed and then renamed over path.
void write_atomically(const std::string& path, const std::string& bytes);

std::string read_file(const std::string& path);

}  // namespace nmfuse::io
