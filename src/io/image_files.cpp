#include "image_files.hpp"

#include <png.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <vector>

#include "atomic_file.hpp"
#include "matrix_files.hpp"
#include "nmfuse/errors.hpp"
#include "reading.hpp"

namespace nmfuse::io {
namespace {

// No image (or stack) larger than this many pixels is believed.
constexpr index_t kMaxPixels = index_t(1) << 30;
constexpr std::size_t kMaxUnpacked = std::size_t(1) << 32;

ImageStack stack_of(int height, int width, index_t count, const std::string& name) {
  if (height < 1 || width < 1 || count < 1) bad(name, "holds no image");
  if (index_t(height) * width > kMaxPixels / count)
    bad(name, std::to_string(count) + " images of " + std::to_string(height) + "×" +
                  std::to_string(width) + " pixels are more than nmfuse reads");
  ImageStack s;
  s.height = height;
  s.width = width;
  s.pixels = Matrix<float>(index_t(height) * width, count, Layout::ColMajor);
  return s;
}

// PGM's header: whitespace-separated numbers, with # comments to the end of a line.
class PgmHeader {
 public:
  PgmHeader(const std::string& bytes, const std::string& name) : b_(bytes), name_(name) {}
  long number(const char* what) {
    skip();
    long v = 0;
    int digits = 0;
    while (pos_ < b_.size() && std::isdigit(static_cast<unsigned char>(b_[pos_])) && digits < 9) {
      v = v * 10 + (b_[pos_++] - '0');
      ++digits;
    }
    if (digits == 0) bad(name_, std::string("PGM header: ") + what + " is not a number");
    if (pos_ < b_.size() && std::isdigit(static_cast<unsigned char>(b_[pos_])))
      bad(name_, std::string("PGM header: ") + what + " is too large");
    return v;
  }
  std::size_t pos() const { return pos_; }

 private:
  void skip() {
    while (pos_ < b_.size()) {
      if (b_[pos_] == '#') {
        while (pos_ < b_.size() && b_[pos_] != '\n') ++pos_;
      } else if (std::isspace(static_cast<unsigned char>(b_[pos_]))) {
        ++pos_;
      } else {
        return;
      }
    }
  }
  const std::string& b_;
  const std::string& name_;
  std::size_t pos_ = 2;
};

ImageStack image_file(const std::string& path) {
  const std::string bytes = read_file(path);
  if (has_extension(path, ".pgm")) return parse_pgm(bytes, path);
  const GrayImage g = decode_png(bytes, path);
  ImageStack s = stack_of(g.height, g.width, 1, path);
  for (std::size_t p = 0; p < g.pixels.size(); ++p) s.pixels.data()[p] = g.pixels[p] / 255.0f;
  return s;
}

ImageStack read_folder(const std::string& path, index_t limit) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(path)) {
    const std::string file = entry.path().string(), ext = lower(entry.path().extension().string());
    if (entry.is_regular_file() && (ext == ".png" || ext == ".pgm")) files.push_back(file);
  }
  std::sort(files.begin(), files.end());
  if (limit > 0 && index_t(files.size()) > limit) files.resize(std::size_t(limit));
  if (files.empty()) bad(path, "holds no .png or .pgm file");
  const ImageStack first = image_file(files[0]);
  ImageStack s = stack_of(first.height, first.width, index_t(files.size()), path);
  const index_t pixels = s.pixels.rows();
  for (std::size_t f = 0; f < files.size(); ++f) {
    const ImageStack one = f == 0 ? first : image_file(files[f]);
    if (one.height != s.height || one.width != s.width)
      bad(files[f], "is " + std::to_string(one.height) + "×" + std::to_string(one.width) +
                        " pixels, but " + files[0] + " is " + std::to_string(s.height) + "×" +
                        std::to_string(s.width));
    std::copy(one.pixels.data(), one.pixels.data() + pixels, s.pixels.data() + index_t(f) * pixels);
  }
  return s;
}

template <class T>
void fill_from(ImageStack& s, const NpyArray& a, float scale) {
  std::vector<T> aligned(s.pixels.size());  // a.data need not be aligned for T
  std::memcpy(aligned.data(), a.data, aligned.size() * sizeof(T));
  for (std::size_t e = 0; e < aligned.size(); ++e) s.pixels.data()[e] = float(aligned[e]) * scale;
}

ImageStack read_npy_stack(const std::string& path, index_t limit) {
  const std::string bytes = read_file(path);
  const NpyArray a = parse_npy_array(bytes, path);
  if (a.fortran) bad(path, "npy stack must be in C order (images first)");
  index_t count = 0, height = 0, width = 0;
  if (a.shape.size() == 3) {
    count = a.shape[0], height = a.shape[1], width = a.shape[2];
  } else if (a.shape.size() == 2) {
    count = a.shape[0];
    height = width = index_t(std::llround(std::sqrt(double(a.shape[1]))));
    if (height * width != a.shape[1])
      bad(path, "npy rows of " + std::to_string(a.shape[1]) + " pixels are no square image: "
                    "save the stack as images × rows × columns");
  } else {
    bad(path, "npy stack is not images × rows × columns");
  }
  if (height > 1 << 16 || width > 1 << 16) bad(path, "npy images are too large");
  const index_t kept = limit > 0 ? std::min(limit, count) : count;
  ImageStack s = stack_of(int(height), int(width), kept, path);
  if (a.descr == "|u1") fill_from<std::uint8_t>(s, a, 1.0f / 255);
  else if (a.descr == "<f4") fill_from<float>(s, a, 1.0f);
  else if (a.descr == "<f8") fill_from<double>(s, a, 1.0f);
  else bad(path, "npy stack dtype '" + a.descr + "' is not uint8, float32 or float64");
  return s;
}

}  // namespace

GrayImage decode_png(const std::string& bytes, const std::string& name) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size()))
    bad(name, std::string("not a readable PNG: ") + image.message);
  // Deflate packs at most ~1032 bytes into one: a header claiming more pixels than that
  // is not believed.
  const index_t most = std::min<index_t>(kMaxPixels, 1032 * index_t(bytes.size()));
  if (image.width < 1 || image.height < 1 || index_t(image.width) * image.height > most) {
    png_image_free(&image);
    bad(name, "PNG of " + std::to_string(image.width) + "×" + std::to_string(image.height) +
                  " pixels is empty or too large");
  }
  image.format = PNG_FORMAT_GRAY;
  GrayImage g;
  g.width = int(image.width);
  g.height = int(image.height);
  g.pixels.resize(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, g.pixels.data(), 0, nullptr)) {
    const std::string why = image.message;
    png_image_free(&image);
    bad(name, "PNG data cannot be read: " + why);
  }
  return g;
}

ImageStack parse_pgm(const std::string& bytes, const std::string& name) {
  if (bytes.size() < 2 || bytes[0] != 'P' || (bytes[1] != '5' && bytes[1] != '2'))
    bad(name, "not a PGM graymap (no P5 or P2 magic)");
  const bool binary = bytes[1] == '5';
  PgmHeader header(bytes, name);
  const long width = header.number("width"), height = header.number("height"),
             maxval = header.number("maxval");
  if (width < 1 || height < 1 || width > 1 << 16 || height > 1 << 16)
    bad(name, "PGM size " + std::to_string(width) + "×" + std::to_string(height) +
                  " is empty or too large");
  if (maxval < 1 || maxval > 65535) bad(name, "PGM maxval " + std::to_string(maxval) + " is not in 1..65535");
  // Check that the bytes can hold the pixels before anything is allocated for them.
  const index_t pixels = index_t(width) * height;
  const std::size_t sample = maxval < 256 ? 1 : 2;
  const std::size_t start = header.pos() + 1;  // P5: one whitespace byte after maxval
  const std::size_t needed = binary ? std::size_t(pixels) * sample : std::size_t(2 * pixels - 1);
  if (bytes.size() < start || bytes.size() - std::min(bytes.size(), binary ? start : header.pos()) < needed)
    bad(name, "PGM data is shorter than " + std::to_string(width) + "×" +
                  std::to_string(height) + " pixels (truncated)");
  ImageStack s = stack_of(int(height), int(width), 1, name);
  float* out = s.pixels.data();
  if (binary) {
    for (index_t p = 0; p < pixels; ++p) {
      const auto* at = reinterpret_cast<const unsigned char*>(bytes.data() + start + p * sample);
      const long v = sample == 1 ? at[0] : (long(at[0]) << 8 | at[1]);
      if (v > maxval) bad(name, "PGM pixel " + std::to_string(p) + " exceeds maxval");
      out[p] = float(double(v) / double(maxval));
    }
  } else {
    for (index_t p = 0; p < pixels; ++p) {
      const long v = header.number("a pixel");
      if (v > maxval) bad(name, "PGM pixel " + std::to_string(p) + " exceeds maxval");
      out[p] = float(double(v) / double(maxval));
    }
  }
  return s;
}

std::string gunzip(const std::string& bytes, const std::string& name) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) bad(name, "cannot start gzip decompression");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = uInt(std::min<std::size_t>(bytes.size(), UINT32_MAX));
  std::string out;
  char chunk[1 << 16];
  int status = Z_OK;
  while (status != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof chunk;
    status = inflate(&z, Z_NO_FLUSH);
    if (status != Z_OK && status != Z_STREAM_END) {
      inflateEnd(&z);
      bad(name, "gzip data is corrupt or truncated");
    }
    out.append(chunk, sizeof chunk - z.avail_out);
    if (out.size() > kMaxUnpacked) {
      inflateEnd(&z);
      bad(name, "gzip data unpacks to more than 4 GiB");
    }
    if (status == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
      inflateEnd(&z);
      bad(name, "gzip data is truncated");
    }
  }
  inflateEnd(&z);
  return out;
}

ImageStack parse_idx(const std::string& raw, const std::string& name, index_t limit) {
  const bool gz = raw.size() >= 2 && static_cast<unsigned char>(raw[0]) == 0x1f &&
                  static_cast<unsigned char>(raw[1]) == 0x8b;
  const std::string unpacked = gz ? gunzip(raw, name) : std::string();
  const std::string& b = gz ? unpacked : raw;
  auto byte = [&](std::size_t at) { return static_cast<unsigned char>(b[at]); };
  if (b.size() < 4 || byte(0) != 0 || byte(1) != 0)
    bad(name, "not an IDX file (no 0x0000 magic)");
  if (byte(2) != 0x08) bad(name, "IDX data type " + std::to_string(byte(2)) + " is not unsigned bytes (0x08)");
  if (byte(3) != 3)
    bad(name, "IDX file has " + std::to_string(byte(3)) + " dimensions, not 3 (images × rows × columns)");
  if (b.size() < 16) bad(name, "IDX header is truncated");
  index_t dims[3];
  for (int d = 0; d < 3; ++d)
    dims[d] = index_t(byte(4 + 4 * d)) << 24 | index_t(byte(5 + 4 * d)) << 16 |
              index_t(byte(6 + 4 * d)) << 8 | index_t(byte(7 + 4 * d));
  if (dims[1] > 1 << 16 || dims[2] > 1 << 16) bad(name, "IDX images are too large");
  const index_t per_image = dims[1] * dims[2];
  if (per_image == 0 || dims[0] == 0) bad(name, "IDX file holds no image");
  if (index_t(b.size() - 16) / per_image < dims[0])
    bad(name, "IDX data is shorter than its " + std::to_string(dims[0]) + " images (truncated)");
  const index_t count = limit > 0 ? std::min(limit, dims[0]) : dims[0];
  ImageStack s = stack_of(int(dims[1]), int(dims[2]), count, name);
  for (index_t e = 0; e < count * per_image; ++e) s.pixels.data()[e] = byte(16 + std::size_t(e)) / 255.0f;
  return s;
}

ImageStack read_images(const std::string& path, index_t limit) {
  if (std::filesystem::is_directory(path)) return read_folder(path, limit);
  if (has_extension(path, ".npy")) return read_npy_stack(path, limit);
  if (has_extension(path, ".png") || has_extension(path, ".pgm")) return image_file(path);
  return parse_idx(read_file(path), path, limit);
}

}  // namespace nmfuse::io
