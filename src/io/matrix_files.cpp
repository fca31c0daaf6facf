#include "matrix_files.hpp"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <regex>

#include "atomic_file.hpp"
#include "nmfuse/errors.hpp"
#include "reading.hpp"
#include "text_numbers.hpp"

namespace nmfuse::io {
namespace {

constexpr char kNpyMagic[] = "\x93NUMPY";

// The value of 'key' in the header dict, as written by numpy.
std::string header_field(const std::string& header, const std::string& key,
                         const std::string& name) {
  const std::regex re("'" + key + "'\\s*:\\s*('[^']*'|True|False|\\([^)]*\\))");
  std::smatch m;
  if (!std::regex_search(header, m, re)) bad(name, "npy header has no '" + key + "'");
  return m[1];
}

// As numpy prints it: (9,) or (3, 4).
std::string shape_text(const std::vector<index_t>& shape) {
  std::string out = "(";
  for (std::size_t d = 0; d < shape.size(); ++d)
    out += (d ? ", " : "") + std::to_string(shape[d]);
  return out + (shape.size() == 1 ? ",)" : ")");
}

// The .npy header's prefix of a file: magic, version, header length, at most 16 KiB of
// header (numpy writes a few hundred bytes).

// A 2-D .npy array as a matrix of its own type, its data copied in by fill(destination).
template <class Fill>
AnyMatrix npy_matrix(const NpyArray& a, const std::string& name, Fill fill) {
  if (a.shape.size() != 2) bad(name, "npy shape " + shape_text(a.shape) + " is not 2-D");
  if (a.shape[0] == 0 || a.shape[1] == 0) bad(name, "npy matrix is empty");
  auto make = [&](auto zero) -> AnyMatrix {
    Matrix<decltype(zero)> A(a.shape[0], a.shape[1], a.fortran ? Layout::ColMajor : Layout::RowMajor);
    fill(static_cast<void*>(A.data()));
    return A;
  };
  if (a.descr == "<f4") return make(float());
  if (a.descr == "<f8") return make(double());
  if (a.descr == "|u1" || a.descr == "|b1") return make(std::uint8_t());
  bad(name, "npy dtype '" + a.descr +
                "' is not supported (float32 '<f4', float64 '<f8', or for masks uint8 or bool)");
}

}  // namespace

NpyArray parse_npy_array(const std::string& bytes, const std::string& name) {
  NpyArray a = npy_header(bytes, bytes.size(), name);
  a.data = bytes.data() + a.offset;
  return a;
}

NpyArray npy_header(const std::string& bytes, std::size_t file_size, const std::string& name) {
  if (bytes.size() < 10 || bytes.compare(0, 6, kNpyMagic) != 0)
    bad(name, "not a .npy file (no \\x93NUMPY magic)");
  const int major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_len, start;
  if (major == 1) {
    header_len = std::size_t(static_cast<unsigned char>(bytes[8])) |
                 std::size_t(static_cast<unsigned char>(bytes[9])) << 8;
    start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) bad(name, "npy header is truncated");
    header_len = 0;
    for (int b = 0; b < 4; ++b)
      header_len |= std::size_t(static_cast<unsigned char>(bytes[8 + b])) << (8 * b);
    start = 12;
  } else {
    bad(name, "npy format version " + std::to_string(major) + " is not supported");
  }
  // numpy writes a few hundred bytes; std::regex recurses per character of longer ones.
  if (header_len > 16384) bad(name, "npy header of " + std::to_string(header_len) + " bytes is too long");
  if (bytes.size() - start < header_len) bad(name, "npy header is truncated");
  const std::string header = bytes.substr(start, header_len);

  NpyArray a;
  const std::string descr = header_field(header, "descr", name);
  a.descr = descr.size() >= 2 && descr.front() == '\'' ? descr.substr(1, descr.size() - 2) : descr;
  a.fortran = header_field(header, "fortran_order", name) == "True";
  const std::string shape = header_field(header, "shape", name);
  const std::regex number("\\d+");
  for (std::sregex_iterator it(shape.begin(), shape.end(), number), end; it != end; ++it) {
    if (it->str().size() > 15) bad(name, "npy shape " + shape + " is too large");
    a.shape.push_back(std::stoll(it->str()));
  }
  const std::regex item("^[<>|=][a-zA-Z](\\d+)$");
  std::smatch m;
  if (!std::regex_match(a.descr, m, item) || m[1].length() > 3)
    bad(name, "npy dtype '" + a.descr + "' is not a plain number or byte string type");
  const std::size_t item_size = std::stoul(m[1]);
  if (a.descr[0] == '>' && item_size > 1) bad(name, "npy dtype '" + a.descr + "' is big-endian");
  // Checks the payload's size against the shape before anything is read, so that a
  // hostile header cannot ask for terabytes.
  const std::size_t have = file_size - start - header_len;
  std::size_t need = item_size;
  for (index_t d : a.shape) {
    if (d != 0 && need > have / std::size_t(d))
      bad(name, "npy shape " + shape + " needs more than the " + std::to_string(have) +
                    " bytes of data (truncated)");
    need *= std::size_t(d);
  }
  if (have != need)
    bad(name, "npy data is " + std::to_string(have) + " bytes, but shape " + shape + " needs " +
                  std::to_string(need) + (have < need ? " (truncated)" : ""));
  a.offset = start + header_len;
  a.bytes = need;
  return a;
}

namespace {

// A .npy file read straight into the matrix's storage, with no copy of the file between.
AnyMatrix read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw IoError("cannot open " + path + ": " + std::strerror(errno));
  const std::size_t size = std::size_t(in.tellg());
  std::string head(std::min(size, kNpyHeadMost), '\0');
  in.seekg(0);
  in.read(head.data(), std::streamsize(head.size()));
  const NpyArray a = npy_header(head, size, path);
  return npy_matrix(a, path, [&](void* to) {
    in.seekg(std::streamoff(a.offset));
    in.read(static_cast<char*>(to), std::streamsize(a.bytes));
    if (!in) throw IoError("cannot read " + path + ": " + std::strerror(errno));
  });
}

}  // namespace

AnyMatrix parse_npy(const std::string& bytes, const std::string& name) {
  const NpyArray a = parse_npy_array(bytes, name);
  return npy_matrix(a, name, [&](void* to) { std::memcpy(to, a.data, a.bytes); });
}

namespace {

// A .npy file of `bytes` bytes of data with numpy's dtype `descr` and `shape` text.
std::string encode_npy_array(const std::string& descr, const std::string& shape, bool fortran,
                             const void* data, std::size_t bytes) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': " +
                       (fortran ? "True" : "False") + ", 'shape': " + shape + ", }";
  // Pad so that the data starts on a multiple of 64 bytes, ending in a newline.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string out(kNpyMagic, 6);
  out += '\x01';
  out += '\x00';
  out += char(header.size() & 0xff);
  out += char(header.size() >> 8);
  out += header;
  out.append(static_cast<const char*>(data), bytes);
  return out;
}

}  // namespace

template <class T>
std::string encode_npy(const Matrix<T>& A) {
  return encode_npy_array(sizeof(T) == 4 ? "<f4" : "<f8", shape_text({A.rows(), A.cols()}),
                          A.layout() == Layout::ColMajor, A.data(), A.size() * sizeof(T));
}

template <class T>
std::string encode_npy(const std::vector<T>& v) {
  static_assert(sizeof(T) == 8, "float64 or int64 vectors");
  return encode_npy_array(std::is_floating_point_v<T> ? "<f8" : "<i8",
                          shape_text({index_t(v.size())}), false, v.data(), v.size() * 8);
}
template std::string encode_npy(const std::vector<double>&);
template std::string encode_npy(const std::vector<std::int64_t>&);

template std::string encode_npy(const Matrix<float>&);
template std::string encode_npy(const Matrix<double>&);

Matrix<double> parse_csv(const std::string& text, const std::string& name) {
  TextCursor c(text, name);
  std::vector<double> values;
  index_t cols = -1, rows = 0;
  while (c.next_data_line(0)) {
    const std::size_t line_start = c.offset();
    index_t count = 0;
    do {
      double v = 0;
      if (!c.real(v))
        bad(name, c.where() + ", field " + std::to_string(count + 1) + ": '" + c.word() +
                      "' is not a number");
      values.push_back(v);
      ++count;
    } while (c.take(','));
    if (!c.at_line_end())
      bad(name, c.where() + ", field " + std::to_string(count) + ": '" + c.word() +
                    "' is not a number");
    if (cols >= 0 && count != cols)
      bad(name, c.where() + " has " + std::to_string(count) + " fields, earlier lines have " +
                    std::to_string(cols));
    if (cols < 0)  // as many lines as long as the first
      values.reserve((text.size() / (c.offset() - line_start + 1) + 1) * std::size_t(count));
    cols = count;
    ++rows;
    c.next_line();
  }
  if (rows == 0) bad(name, "no numbers in the file");
  Matrix<double> A(rows, cols, Layout::RowMajor);
  std::copy(values.begin(), values.end(), A.data());
  return A;
}

Matrix<std::uint8_t> read_mask(const std::string& path) {
  return std::visit(
      [](const auto& A) {
        Matrix<std::uint8_t> M(A.rows(), A.cols(), A.layout());
        std::transform(A.data(), A.data() + A.size(), M.data(),
                       [](auto v) { return std::uint8_t(v != 0); });
        return M;
      },
      read_matrix(path));
}

MappedNpy::MappedNpy(const std::string& path) : file_(path) {
  const std::string_view bytes = file_.bytes();
  const NpyArray a = npy_header(std::string(bytes.substr(0, kNpyHeadMost)), bytes.size(), path);
  if (a.shape.size() != 2) bad(path, "npy shape " + shape_text(a.shape) + " is not 2-D");
  if (a.shape[0] == 0 || a.shape[1] == 0) bad(path, "npy matrix is empty");
  const Layout layout = a.fortran ? Layout::ColMajor : Layout::RowMajor;
  const index_t rows = a.shape[0], cols = a.shape[1];
  auto as = [&](auto zero) {
    using T = decltype(zero);
    if (a.offset % sizeof(T) != 0) bad(path, "npy data is not aligned to its item size");
    return DenseView<const T>(reinterpret_cast<const T*>(bytes.data() + a.offset), rows, cols,
                              layout);
  };
  if (a.descr == "<f4") view_ = as(float());
  else if (a.descr == "<f8") view_ = as(double());
  else bad(path, "npy dtype '" + a.descr + "' cannot be mapped: float32 '<f4' or float64 '<f8'");
  data_bytes_ = a.bytes;
}

AnyMatrix read_matrix(const std::string& path) {
  if (has_extension(path, ".npy")) return read_npy(path);
  if (has_extension(path, ".csv")) return parse_csv(read_file(path), path);
  bad(path, "unknown file type (expected .npy or .csv)");
}

}  // namespace nmfuse::io
