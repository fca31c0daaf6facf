#pragma once
// 8-bit grayscale PNG (libpng): what the images command reads, and its tests write.
#include <cstdint>
#include <string>
#include <vector>

#include "nmfuse/view.hpp"

namespace nmfuse::io {

struct GrayImage {
  int width = 0, height = 0;
  std::vector<std::uint8_t> pixels;  // row by row
};

std::string encode_png(const GrayImage& image);

}  // namespace nmfuse::io
