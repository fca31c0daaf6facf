#pragma once
// Stacks of grayscale images for `nmfuse images`: a folder of PNG or PGM files, a .npy
// stack, or an IDX file (MNIST's format, gzipped or not), as one matrix of pixels ×
// images with values in [0, 1].
#include <string>

#include "nmfuse/view.hpp"
#include "png_image.hpp"

namespace nmfuse::io {

struct ImageStack {
  int height = 0, width = 0;
  Matrix<float> pixels;  // (height·width) × images, column-major; a column is an image row by row
};

GrayImage decode_png(const std::string& bytes, const std::string& name);
// Netpbm graymap: P5 (binary) or P2 (text), maxval up to 65535; scaled to [0, 1].
ImageStack parse_pgm(const std::string& bytes, const std::string& name);
// IDX of unsigned bytes with 3 dimensions (images × rows × columns); `limit` images at
// most (0: all).
ImageStack parse_idx(const std::string& bytes, const std::string& name, index_t limit);
// gzip's deflate stream, as IDX files are shipped.
std::string gunzip(const std::string& bytes, const std::string& name);

// By what the path is: a folder (its .png and .pgm files, by name), a .npy (images ×
// rows × columns, or images × pixels of a square side), an IDX file (.gz or not).
ImageStack read_images(const std::string& path, index_t limit);

}  // namespace nmfuse::io
