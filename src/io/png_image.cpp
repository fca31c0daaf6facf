#include "png_image.hpp"

#include <png.h>

#include <algorithm>

#include "nmfuse/errors.hpp"

namespace nmfuse::io {

std::string encode_png(const GrayImage& image) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!info) {
    png_destroy_write_struct(&png, nullptr);
    throw Error("libpng could not start a PNG");
  }
  std::string out;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw Error("libpng failed while encoding a PNG");
  }
  png_set_write_fn(
      png, &out,
      [](png_structp p, png_bytep data, png_size_t n) {
        static_cast<std::string*>(png_get_io_ptr(p))->append(reinterpret_cast<char*>(data), n);
      },
      nullptr);
  png_set_IHDR(png, info, image.width, image.height, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < image.height; ++y)
    png_write_row(png, const_cast<png_bytep>(image.pixels.data() + std::size_t(y) * image.width));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

template <class T>
GrayImage montage(const Matrix<T>& A, int image_height, int image_width, int columns, int zoom) {
  constexpr int kGap = 2;
  const int tiles = int(A.cols());
  const int rows = (tiles + columns - 1) / columns;
  const int tile_w = image_width * zoom, tile_h = image_height * zoom;
  GrayImage g;
  g.width = columns * (tile_w + kGap) + kGap;
  g.height = rows * (tile_h + kGap) + kGap;
  g.pixels.assign(std::size_t(g.width) * g.height, 160);  // grey frame between tiles
  for (int t = 0; t < tiles; ++t) {
    T top = 0;
    for (index_t i = 0; i < A.rows(); ++i) top = std::max(top, A(i, t));
    const int x0 = kGap + (t % columns) * (tile_w + kGap);
    const int y0 = kGap + (t / columns) * (tile_h + kGap);
    for (int y = 0; y < tile_h; ++y)
      for (int x = 0; x < tile_w; ++x) {
        const T v = A(index_t(y / zoom) * image_width + x / zoom, t);
        const double level = top > 0 ? double(v) / double(top) : 0.0;
        g.pixels[std::size_t(y0 + y) * g.width + x0 + x] = std::uint8_t(255.0 * (1.0 - level));
      }
  }
  return g;
}

template GrayImage montage(const Matrix<float>&, int, int, int, int);
template GrayImage montage(const Matrix<double>&, int, int, int, int);

}  // namespace nmfuse::io
