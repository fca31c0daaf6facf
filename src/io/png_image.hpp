#pragma once
// Pictures of factors, as 8-bit grayscale PNG (libpng).
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

// The columns of A (each an image of image_height×image_width pixels, stored row by
// row) side by side in a grid of `columns` tiles, each scaled to its own maximum and
// enlarged `zoom` times, dark on white.
template <class T>
GrayImage montage(const Matrix<T>& A, int image_height, int image_width, int columns, int zoom);

}  // namespace nmfuse::io
