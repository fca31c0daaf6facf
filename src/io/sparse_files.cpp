#include "sparse_files.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <sstream>
#include <tuple>
#include <type_traits>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "atomic_file.hpp"
#include "mapped_file.hpp"
#include "matrix_files.hpp"
#include "nmfuse/errors.hpp"
#include "reading.hpp"
#include "text_numbers.hpp"
#include "zip_archive.hpp"

namespace nmfuse::io {
namespace {

// Each row's entries sorted by column, duplicates summed (scipy and Matrix Market may
// hold either; the library takes neither). Rows already sorted are not sorted again;
// rows are independent, so they go in parallel, and are closed up after if any shrank.
void canonicalize(SparseMatrix& A) {
  std::vector<std::int64_t> kept(std::size_t(A.rows));
#pragma omp parallel
  {
    std::vector<std::pair<std::int64_t, double>> row;
#pragma omp for schedule(dynamic, 256)
    for (index_t i = 0; i < A.rows; ++i) {
      const std::int64_t begin = A.row_ptr[std::size_t(i)], end = A.row_ptr[std::size_t(i) + 1];
      if (!std::is_sorted(A.col_idx.begin() + begin, A.col_idx.begin() + end)) {
        row.clear();
        for (std::int64_t e = begin; e < end; ++e) row.emplace_back(A.col_idx[e], A.values[e]);
        std::stable_sort(row.begin(), row.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        for (std::int64_t e = begin; e < end; ++e)
          std::tie(A.col_idx[e], A.values[e]) = row[std::size_t(e - begin)];
      }
      std::int64_t out = begin;
      for (std::int64_t e = begin; e < end; ++e) {
        if (e > begin && A.col_idx[e] == A.col_idx[out - 1]) {
          A.values[out - 1] += A.values[e];
          continue;
        }
        A.col_idx[out] = A.col_idx[e];
        A.values[out++] = A.values[e];
      }
      kept[std::size_t(i)] = out - begin;
    }
  }
  std::int64_t out = 0, begin = 0;  // begin: row i's start before closing up
  for (index_t i = 0; i < A.rows; ++i) {
    const std::int64_t next_begin = A.row_ptr[std::size_t(i) + 1];
    if (out != begin)
      for (std::int64_t e = 0; e < kept[std::size_t(i)]; ++e) {
        A.col_idx[out + e] = A.col_idx[begin + e];
        A.values[out + e] = A.values[begin + e];
      }
    out += kept[std::size_t(i)];
    A.row_ptr[std::size_t(i) + 1] = out;
    begin = next_begin;
  }
  A.col_idx.resize(std::size_t(out));
  A.values.resize(std::size_t(out));
}

// A sparse file of `bytes` bytes may describe a matrix of at most this many rows (the
// offsets allocated per row): a million, or 16 a byte of the file. Beyond that the
// size is not believed.
void check_rows(index_t m, std::size_t bytes, const std::string& name) {
  const index_t most = std::max<index_t>(index_t(1) << 20, 16 * index_t(bytes));
  if (m > most)
    bad(name, "claims " + std::to_string(m) + " rows, more than a file of " +
                  std::to_string(bytes) + " bytes may describe (" + std::to_string(most) + ")");
}

// CSR from entries (rows[e], cols[e], values[e]) in any order, indices already checked.
// Each thread places the entries of its own band of rows, in file order.
SparseMatrix from_entries(index_t m, index_t n, const std::vector<std::int64_t>& rows,
                          const std::vector<std::int64_t>& cols, const std::vector<double>& values) {
  SparseMatrix A;
  A.rows = m;
  A.cols = n;
  A.row_ptr.assign(std::size_t(m) + 1, 0);
  for (std::int64_t r : rows) ++A.row_ptr[std::size_t(r) + 1];
  std::partial_sum(A.row_ptr.begin(), A.row_ptr.end(), A.row_ptr.begin());
  A.col_idx.resize(rows.size());
  A.values.resize(rows.size());
#pragma omp parallel
  {
    int band = 0, bands = 1;
#ifdef _OPENMP
    band = omp_get_thread_num(), bands = omp_get_num_threads();
#endif
    // The band's rows hold about a 1/bands share of the entries.
    auto first_row = [&](int b) {
      const std::int64_t share = std::int64_t(rows.size()) * b / bands;
      return std::int64_t(std::lower_bound(A.row_ptr.begin(), A.row_ptr.end(), share) -
                          A.row_ptr.begin());
    };
    const std::int64_t lo = first_row(band), hi = band + 1 == bands ? m : first_row(band + 1);
    std::vector<std::int64_t> next(A.row_ptr.begin() + lo, A.row_ptr.begin() + std::max(lo, hi));
    for (std::size_t e = 0; e < rows.size(); ++e) {
      const std::int64_t r = rows[e];
      if (r < lo || r >= hi) continue;
      const std::int64_t at = next[std::size_t(r - lo)]++;
      A.col_idx[std::size_t(at)] = cols[e];
      A.values[std::size_t(at)] = values[e];
    }
  }
  canonicalize(A);
  return A;
}

// ---- Matrix Market ----

}  // namespace

namespace {

// What a Matrix Market file's banner and size line say, and where its entries start.
struct MatrixMarketHeader {
  std::string field;
  bool coordinate = true, symmetric = false, pattern = false;
  std::int64_t m = 0, n = 0, stated = 0;  // stated: the entries the body must hold
  std::size_t body = 0, body_line = 0;     // offset and line number of the first entry
};

inline std::int64_t integer_field(TextCursor& c, const char* what) {
  std::int64_t v = 0;
  if (!c.integer(v)) c.fail_field(what, "an integer");
  return v;
}

inline double real_field(TextCursor& c, const char* what) {
  double v = 0;
  if (!c.real(v)) c.fail_field(what, "a finite number");
  if (!std::isfinite(v)) c.fail(std::string(what) + " '" + c.last_field() + "' is not a finite number");
  return v;
}

MatrixMarketHeader parse_header(std::string_view text, const std::string& name) {
  TextCursor c(text, name);
  const std::string banner_line(c.rest_of_line());
  if (lower(banner_line.substr(0, 14)) != "%%matrixmarket")
    bad(name, "not a Matrix Market file (no %%MatrixMarket banner on line 1)");
  std::istringstream banner(lower(banner_line.substr(14)));
  std::string object, format, symmetry;
  MatrixMarketHeader h;
  banner >> object >> format >> h.field >> symmetry;
  const std::string& field = h.field;
  if (object != "matrix") bad(name, "Matrix Market object '" + object + "' is not 'matrix'");
  if (format != "coordinate" && format != "array")
    bad(name, "Matrix Market format '" + format + "' is neither 'coordinate' nor 'array'");
  if (field != "real" && field != "double" && field != "integer" && field != "pattern")
    bad(name, "Matrix Market field '" + field + "' is not supported (real, integer or pattern)");
  if (symmetry != "general" && symmetry != "symmetric")
    bad(name, "Matrix Market symmetry '" + symmetry + "' is not supported (general or symmetric)");
  if (format == "array" && field == "pattern") bad(name, "Matrix Market array of pattern entries");
  if (format == "array" && symmetry == "symmetric")
    bad(name, "symmetric Matrix Market arrays are not supported: write it as general");
  h.coordinate = format == "coordinate", h.symmetric = symmetry == "symmetric";
  h.pattern = field == "pattern";
  c.next_line();

  if (!c.next_data_line('%')) bad(name, "no size line");
  const std::int64_t m = integer_field(c, "the row count"), n = integer_field(c, "the column count");
  const std::int64_t entries = h.coordinate ? integer_field(c, "the entry count") : 0;
  if (!c.at_line_end()) c.fail("unexpected '" + c.word() + "' after the entry");
  c.next_line();
  if (m < 1 || n < 1)
    bad(name, "size " + std::to_string(m) + "×" + std::to_string(n) + " is empty or negative");
  if (m > 2147483647 || n > 2147483647)
    bad(name, "size " + std::to_string(m) + "×" + std::to_string(n) + " exceeds 2³¹ − 1");
  check_rows(m, text.size(), name);
  if (h.symmetric && m != n)
    bad(name, "a symmetric matrix must be square, not " + std::to_string(m) + "×" + std::to_string(n));
  // Every entry takes at least two characters of text: the counts cannot outgrow the file.
  const std::int64_t most = std::int64_t(text.size() / 2) + 1;
  h.stated = h.coordinate ? entries : (m > most / n ? most + 1 : m * n);
  if (h.stated < 0 || h.stated > most || (h.coordinate && entries / m > n))
    bad(name, "size line states " + std::to_string(h.coordinate ? entries : m) +
                  (h.coordinate ? " entries" : " rows") + ", more than the file holds");
  h.m = m, h.n = n;
  h.body = c.offset(), h.body_line = c.line();
  return h;
}

// Entries as parsed, 0-based, before they become CSR.
struct Entries {
  std::vector<std::int64_t> rows, cols;
  std::vector<double> values;
  void resize(std::size_t size) { rows.resize(size), cols.resize(size), values.resize(size); }
};

// The entry on the data line at the cursor (the e-th of the file), and its mirror in a
// symmetric file, written at out[at...]; returns how many were written. Stored zeros are
// kept: with Absent::Unknown they are observed entries.
inline std::size_t parse_entry(TextCursor& c, const MatrixMarketHeader& h, std::int64_t e, Entries& out,
                        std::size_t at) {
  std::int64_t i, j;
  if (h.coordinate) {
    i = integer_field(c, "the row index"), j = integer_field(c, "the column index");
    if (i < 1 || i > h.m || j < 1 || j > h.n)
      c.fail("entry (" + std::to_string(i) + ", " + std::to_string(j) + ") is outside the " +
             std::to_string(h.m) + "×" + std::to_string(h.n) + " matrix (indices start at 1)");
    if (h.symmetric && j > i)
      c.fail("a symmetric file holds the lower triangle only, not (" + std::to_string(i) + ", " +
             std::to_string(j) + ")");
    --i, --j;
  } else {  // column-major
    i = e % h.m, j = e / h.m;
  }
  const double v = h.pattern ? 1.0 : real_field(c, "the value");
  if (!c.at_line_end()) c.fail("unexpected '" + c.word() + "' after the entry");
  c.next_line();
  out.rows[at] = i, out.cols[at] = j, out.values[at] = v;
  if (!h.symmetric || i == j) return 1;
  out.rows[at + 1] = j, out.cols[at + 1] = i, out.values[at + 1] = v;
  return 2;
}

// The body line by line, each entry (and mirror) handed to keep(i, j, v), with the exact
// message for a file that holds too few or too many entries.
template <class Keep>
void each_entry(std::string_view text, const MatrixMarketHeader& h, const std::string& name,
                Keep keep) {
  TextCursor c(text.substr(h.body), name, h.body_line);
  Entries line;
  line.resize(2);
  for (std::int64_t e = 0; e < h.stated; ++e) {
    if (!c.next_data_line('%'))
      bad(name, "ends after " + std::to_string(e) + " of its " + std::to_string(h.stated) +
                    " entries (truncated)");
    const std::size_t written = parse_entry(c, h, e, line, 0);
    for (std::size_t t = 0; t < written; ++t) keep(line.rows[t], line.cols[t], line.values[t]);
  }
  if (c.next_data_line('%')) c.fail("more entries than the size line states");
}

Entries parse_entries(std::string_view text, const MatrixMarketHeader& h, const std::string& name) {
  Entries out;
  const std::size_t most = std::size_t(h.stated) * (h.symmetric ? 2 : 1);
  out.rows.reserve(most), out.cols.reserve(most), out.values.reserve(most);
  each_entry(text, h, name, [&](std::int64_t i, std::int64_t j, double v) {
    out.rows.push_back(i), out.cols.push_back(j), out.values.push_back(v);
  });
  return out;
}

// A coordinate body in pieces of whole lines on all threads. Piece p writes from its
// first line's slot on (a line holds at most one entry, two when mirrored); the pieces
// are then closed up in file order. Nothing (an empty result) where anything is wrong:
// parse_entries then finds it and says what.
Entries parse_entries_in_pieces(std::string_view text, const MatrixMarketHeader& h,
                                const std::string& name) {
  constexpr int kPieces = 16;  // fixed, so that the result does not depend on the threads
  std::vector<std::size_t> begin(kPieces + 1, text.size());
  begin[0] = h.body;
  for (int p = 1; p < kPieces; ++p) {
    const std::size_t at = h.body + (text.size() - h.body) * std::size_t(p) / kPieces;
    const std::size_t newline = text.find('\n', std::max(at, begin[p - 1]));
    begin[p] = newline == std::string::npos ? text.size() : newline + 1;
  }
  std::vector<std::size_t> newlines(kPieces), first_line(kPieces), slot(kPieces + 1, 0);
#pragma omp parallel for schedule(static)
  for (int p = 0; p < kPieces; ++p)
    newlines[p] = std::size_t(std::count(text.begin() + std::ptrdiff_t(begin[p]),
                                         text.begin() + std::ptrdiff_t(begin[p + 1]), '\n'));
  const std::size_t per_line = h.symmetric ? 2 : 1;
  first_line[0] = h.body_line;
  for (int p = 0; p < kPieces; ++p) {
    if (p > 0) first_line[p] = first_line[p - 1] + newlines[p - 1];
    slot[p + 1] = slot[p] + (newlines[p] + 1) * per_line;  // + 1: a last line without '\n'
  }
  Entries out;
  out.resize(slot[kPieces]);
  std::vector<std::size_t> written(kPieces, 0), lines(kPieces, 0);
  bool failed = false;
#pragma omp parallel for schedule(dynamic, 1) reduction(|| : failed)
  for (int p = 0; p < kPieces; ++p) {
    std::size_t piece_written = 0, piece_lines = 0;  // local: no false sharing
    try {
      TextCursor c(std::string_view(text).substr(begin[p], begin[p + 1] - begin[p]), name,
                   first_line[p]);
      while (c.next_data_line('%')) {
        piece_written += parse_entry(c, h, 0, out, slot[p] + piece_written);
        ++piece_lines;
      }
    } catch (...) {  // nothing may leave a parallel region; parse_entries says it again
      failed = true;
    }
    written[p] = piece_written, lines[p] = piece_lines;
  }
  std::size_t entries = 0, size = 0;
  for (int p = 0; p < kPieces; ++p) entries += lines[p];
  if (failed || entries != std::size_t(h.stated)) return {};
  for (int p = 0; p < kPieces; ++p)
    for (std::size_t e = 0; e < written[p]; ++e, ++size) {
      out.rows[size] = out.rows[slot[p] + e];
      out.cols[size] = out.cols[slot[p] + e];
      out.values[size] = out.values[slot[p] + e];
    }
  out.resize(size);
  return out;
}

// Counts that float holds exactly (up to 2²⁴) lose nothing in float32, and are
// factored in it: half the memory and time of double.
bool counts_float_holds(const MatrixMarketHeader& h, const std::vector<double>& values) {
  return (h.field == "integer" || h.pattern) &&
         std::all_of(values.begin(), values.end(), [](double v) { return std::fabs(v) <= 16777216.0; });
}

}  // namespace

SparseMatrix parse_matrix_market(const std::string& text, const std::string& name) {
  const MatrixMarketHeader h = parse_header(text, name);
  Entries entries;
  // Pieces pay on files of a megabyte or more; an empty result says something is wrong.
  if (h.coordinate && text.size() - h.body >= (std::size_t(1) << 20) && h.stated > 0)
    entries = parse_entries_in_pieces(text, h, name);
  if (entries.rows.empty()) entries = parse_entries(text, h, name);
  SparseMatrix A = from_entries(h.m, h.n, entries.rows, entries.cols, entries.values);
  A.single_precision = counts_float_holds(h, A.values);
  return A;
}

namespace {

// ---- scipy.sparse .npz: a zip of .npy arrays ----

// A 1-D array of numbers as T: integers for integer T (shapes, offsets, indices), any
// number for double.
template <class T>
std::vector<T> numbers(const NpyArray& a, const std::string& what, const std::string& name) {
  if (a.shape.size() != 1)
    bad(name, what + " is not a 1-D array (" + std::to_string(a.shape.size()) + " dimensions)");
  if (std::is_integral_v<T> && a.descr.size() > 1 && a.descr[1] == 'f')
    bad(name, what + " has dtype '" + a.descr + "', not an integer type");
  const std::size_t count = std::size_t(a.shape[0]);
  std::vector<T> out(count);
  auto convert = [&](auto tag) {
    using S = decltype(tag);
    for (std::size_t e = 0; e < count; ++e) {
      S v;
      std::memcpy(&v, a.data + e * sizeof(S), sizeof(S));
      out[e] = T(v);
    }
  };
  const std::string type = a.descr.substr(1);
  if (type == "f8") convert(double());
  else if (type == "f4") convert(float());
  else if (type == "i8") convert(std::int64_t());
  else if (type == "i4") convert(std::int32_t());
  else if (type == "i2") convert(std::int16_t());
  else if (type == "i1") convert(std::int8_t());
  else if (type == "u8") convert(std::uint64_t());
  else if (type == "u4") convert(std::uint32_t());
  else if (type == "u2") convert(std::uint16_t());
  else if (type == "u1" || type == "b1") convert(std::uint8_t());
  else bad(name, what + " has dtype '" + a.descr + "', not a number type");
  return out;
}

}  // namespace

SparseMatrix parse_npz(const std::string& bytes, const std::string& name) {
  const ZipReader archive(bytes, name);
  auto array = [&](const char* member, std::string& storage) {
    if (!archive.has(member))
      bad(name, std::string("has no ") + member + " (a .npz of scipy.sparse.save_npz holds "
                  "data, indices, indptr, format and shape)");
    storage = archive.read(member);
    return parse_npy_array(storage, name + ":" + member);
  };
  std::string format_bytes, shape_bytes, ptr_bytes, idx_bytes, data_bytes;
  const NpyArray format = array("format.npy", format_bytes);
  std::string kind(format.data, format.bytes);
  kind.erase(std::find(kind.begin(), kind.end(), '\0'), kind.end());
  if (format.descr.substr(1, 1) != "S" || (kind != "csr" && kind != "csc"))
    bad(name, "sparse format '" + kind + "' is not supported (csr or csc)");
  const std::vector<std::int64_t> shape = numbers<std::int64_t>(array("shape.npy", shape_bytes), "shape", name);
  constexpr std::int64_t kMaxSize = 2147483647;  // what the library's indices take
  if (shape.size() != 2 || shape[0] < 1 || shape[1] < 1 || shape[0] > kMaxSize ||
      shape[1] > kMaxSize)
    bad(name, "shape is not two sizes in [1, 2³¹ − 1]");
  check_rows(shape[0], bytes.size(), name);
  const bool csr = kind == "csr";
  const std::int64_t outer = csr ? shape[0] : shape[1], inner = csr ? shape[1] : shape[0];
  const std::vector<std::int64_t> ptr = numbers<std::int64_t>(array("indptr.npy", ptr_bytes), "indptr", name);
  ptr_bytes.clear();
  const std::vector<std::int64_t> idx = numbers<std::int64_t>(array("indices.npy", idx_bytes), "indices", name);
  idx_bytes.clear();
  const NpyArray data = array("data.npy", data_bytes);
  const bool single_precision = data.descr.substr(1) == "f4";
  const std::vector<double> values = numbers<double>(data, "data", name);
  data_bytes.clear();

  if (std::int64_t(ptr.size()) != outer + 1)
    bad(name, "indptr has " + std::to_string(ptr.size()) + " entries, but a " + kind + " of shape (" +
                  std::to_string(shape[0]) + ", " + std::to_string(shape[1]) + ") needs " +
                  std::to_string(outer + 1));
  if (idx.size() != values.size())
    bad(name, "indices has " + std::to_string(idx.size()) + " entries, data " +
                  std::to_string(values.size()));
  const std::int64_t nnz = std::int64_t(values.size());
  if (ptr[0] != 0 || ptr.back() != nnz)
    bad(name, "indptr runs from " + std::to_string(ptr[0]) + " to " + std::to_string(ptr.back()) +
                  ", not from 0 to the " + std::to_string(nnz) + " stored entries");
  std::vector<std::int64_t> rows(values.size()), cols(values.size());
  for (std::int64_t o = 0; o < outer; ++o) {
    if (ptr[o + 1] < ptr[o] || ptr[o + 1] > nnz)
      bad(name, "indptr at " + std::to_string(o + 1) + " is " + std::to_string(ptr[o + 1]) +
                    ", outside [" + std::to_string(ptr[o]) + ", " + std::to_string(nnz) + "]");
    for (std::int64_t e = ptr[o]; e < ptr[o + 1]; ++e) {
      if (idx[e] < 0 || idx[e] >= inner)
        bad(name, "index " + std::to_string(idx[e]) + " at position " + std::to_string(e) +
                      " is outside [0, " + std::to_string(inner) + ")");
      rows[e] = csr ? o : idx[e];
      cols[e] = csr ? idx[e] : o;
    }
  }
  SparseMatrix A = from_entries(shape[0], shape[1], rows, cols, values);
  A.single_precision = single_precision;
  return A;
}

namespace {

// The matrix Market file's entries inside `block`, each process reading the whole text
// through once and keeping its own.
SparseMatrix matrix_market_block(std::string_view text, const std::string& name,
                                 const BlockOfFile& block) {
  const MatrixMarketHeader h = parse_header(text, name);
  Entries kept;
  each_entry(text, h, name, [&](std::int64_t i, std::int64_t j, double v) {
    if (i < block.row_begin || i >= block.row_end || j < block.col_begin || j >= block.col_end)
      return;
    kept.rows.push_back(i - block.row_begin), kept.cols.push_back(j - block.col_begin);
    kept.values.push_back(v);
  });
  SparseMatrix A = from_entries(block.rows(), block.cols(), kept.rows, kept.cols, kept.values);
  A.single_precision = counts_float_holds(h, A.values);
  return A;
}

// Elements [first, end) of a 1-D .npy member of a zip, as T, as the member unpacks: the
// memory holds one piece of it and the elements kept. `descr` ← the array's dtype.
template <class T>
std::vector<T> numbers_in_range(const ZipReader& zip, const std::string& member,
                                std::int64_t first, std::int64_t end, const std::string& name,
                                std::string& descr, std::int64_t& length) {
  const std::string what = name + ":" + member;
  const std::size_t size = zip.size(member);
  std::string pending;  // the header, then the part of an element a piece ended in
  std::optional<NpyArray> head;
  std::size_t item = 0;
  std::int64_t next = 0;  // the element pending begins with
  std::vector<T> out;
  zip.read_each(member, [&](std::string_view piece) {
    pending.append(piece);
    if (!head) {
      if (pending.size() < std::min(size, kNpyHeadMost)) return;
      head = npy_header(pending, size, what);
      if (head->shape.size() != 1) bad(what, "is not a 1-D array");
      item = head->shape[0] > 0 ? head->bytes / std::size_t(head->shape[0]) : 1;
      descr = head->descr;
      length = std::int64_t(head->shape[0]);
      if (end > length)
        bad(what, "has " + std::to_string(length) + " elements, fewer than indptr's " +
                      std::to_string(end));
      out.reserve(std::size_t(std::max<std::int64_t>(end - first, 0)));
      pending.erase(0, head->offset);
    }
    const std::int64_t whole = std::int64_t(pending.size() / item);
    const std::int64_t from = std::max(next, first), to = std::min(next + whole, end);
    if (from < to) {
      NpyArray part = *head;
      part.shape = {index_t(to - from)};
      part.data = pending.data() + std::size_t(from - next) * item;
      const std::vector<T> values = numbers<T>(part, member, name);
      out.insert(out.end(), values.begin(), values.end());
    }
    next += whole;
    pending.erase(0, std::size_t(whole) * item);
  });
  if (!head) bad(what, "is shorter than a .npy header");
  if (next < end) bad(what, "ends at element " + std::to_string(next) + ", before " + std::to_string(end));
  return out;
}

SparseShape npz_shape(const ZipReader& archive, const std::string& name, std::size_t file_size) {
  if (!archive.has("shape.npy")) bad(name, "has no shape.npy (not a scipy.sparse .npz)");
  const std::string bytes = archive.read("shape.npy");
  const std::vector<std::int64_t> shape =
      numbers<std::int64_t>(parse_npy_array(bytes, name + ":shape.npy"), "shape", name);
  if (shape.size() != 2 || shape[0] < 1 || shape[1] < 1 || shape[0] > 2147483647 ||
      shape[1] > 2147483647)
    bad(name, "shape is not two sizes in [1, 2³¹ − 1]");
  check_rows(shape[0], file_size, name);  // as parse_npz: the CSR built has a row offset each
  return {shape[0], shape[1]};
}

// The .npz's entries inside `block`: its indptr whole, and of its indices and data only
// the stretch of the block's rows (CSR) or columns (CSC), as they unpack.
SparseMatrix npz_block(std::string_view bytes, const std::string& name, const BlockOfFile& block) {
  const ZipReader archive(bytes, name);
  for (const char* member : {"format.npy", "indptr.npy", "indices.npy", "data.npy"})
    if (!archive.has(member))
      bad(name, std::string("has no ") + member + " (a .npz of scipy.sparse.save_npz holds "
                  "data, indices, indptr, format and shape)");
  auto small = [&](const char* member) { return archive.read(member); };
  const std::string format_bytes = small("format.npy");
  const NpyArray format = parse_npy_array(format_bytes, name + ":format.npy");
  std::string kind(format.data, format.bytes);
  kind.erase(std::find(kind.begin(), kind.end(), '\0'), kind.end());
  if (format.descr.substr(1, 1) != "S" || (kind != "csr" && kind != "csc"))
    bad(name, "sparse format '" + kind + "' is not supported (csr or csc)");
  const bool csr = kind == "csr";
  const std::string ptr_bytes = small("indptr.npy");
  const std::vector<std::int64_t> ptr =
      numbers<std::int64_t>(parse_npy_array(ptr_bytes, name + ":indptr.npy"), "indptr", name);
  const index_t outer_begin = csr ? block.row_begin : block.col_begin;
  const index_t outer_end = csr ? block.row_end : block.col_end;
  const index_t inner_begin = csr ? block.col_begin : block.row_begin;
  const index_t inner_end = csr ? block.col_end : block.row_end;
  const SparseShape shape = npz_shape(archive, name, bytes.size());
  const index_t outer_total = csr ? shape.rows : shape.cols;
  const index_t inner_total = csr ? shape.cols : shape.rows;
  if (index_t(ptr.size()) != outer_total + 1 || ptr[0] != 0)
    bad(name, "indptr has " + std::to_string(ptr.size()) + " entries from " +
                  std::to_string(ptr.empty() ? 0 : ptr[0]) + ", but a " + kind + " of shape (" +
                  std::to_string(shape.rows) + ", " + std::to_string(shape.cols) + ") needs " +
                  std::to_string(outer_total + 1) + " from 0");
  for (index_t o = 0; o < outer_total; ++o)  // all of it: it is read whole anyway
    if (ptr[o + 1] < ptr[o])
      bad(name, "indptr at " + std::to_string(o + 1) + " is " + std::to_string(ptr[o + 1]) +
                    ", below " + std::to_string(ptr[o]));
  std::string idx_type, data_type;
  std::int64_t idx_length = 0, data_length = 0;
  const std::vector<std::int64_t> idx = numbers_in_range<std::int64_t>(
      archive, "indices.npy", ptr[outer_begin], ptr[outer_end], name, idx_type, idx_length);
  const std::vector<double> values = numbers_in_range<double>(
      archive, "data.npy", ptr[outer_begin], ptr[outer_end], name, data_type, data_length);
  if (idx_length != data_length || data_length != ptr.back())  // as parse_npz checks
    bad(name, "indices has " + std::to_string(idx_length) + " entries, data " +
                  std::to_string(data_length) + ", indptr ends at " + std::to_string(ptr.back()));
  Entries kept;
  for (index_t o = outer_begin; o < outer_end; ++o)
    for (std::int64_t e = ptr[o]; e < ptr[o + 1]; ++e) {
      const std::int64_t at = e - ptr[outer_begin], inner = idx[std::size_t(at)];
      if (inner < 0 || inner >= inner_total)
        bad(name, "index " + std::to_string(inner) + " at position " + std::to_string(e) +
                      " is outside [0, " + std::to_string(inner_total) + ")");
      if (inner < inner_begin || inner >= inner_end) continue;
      const std::int64_t i = csr ? o : inner, j = csr ? inner : o;
      kept.rows.push_back(i - block.row_begin), kept.cols.push_back(j - block.col_begin);
      kept.values.push_back(values[std::size_t(at)]);
    }
  SparseMatrix A = from_entries(block.rows(), block.cols(), kept.rows, kept.cols, kept.values);
  A.single_precision = data_type.substr(1) == "f4";
  return A;
}

}  // namespace

SparseShape read_sparse_shape(const std::string& path) {
  const MappedFile file(path);
  if (has_extension(path, ".mtx")) {
    const MatrixMarketHeader h = parse_header(file.bytes(), path);
    return {h.m, h.n};
  }
  if (!has_extension(path, ".npz")) bad(path, "unknown sparse file type (expected .mtx or .npz)");
  return npz_shape(ZipReader(file.bytes(), path), path, file.bytes().size());
}

SparseMatrix read_sparse_block(const std::string& path, const BlockOfFile& block) {
  const MappedFile file(path);
  if (has_extension(path, ".mtx")) return matrix_market_block(file.bytes(), path, block);
  if (has_extension(path, ".npz")) return npz_block(file.bytes(), path, block);
  bad(path, "unknown sparse file type (expected .mtx or .npz)");
}

bool is_sparse_file(const std::string& path) {
  return has_extension(path, ".mtx") || has_extension(path, ".npz");
}

SparseMatrix read_sparse(const std::string& path) {
  if (has_extension(path, ".mtx")) return parse_matrix_market(read_file(path), path);
  if (has_extension(path, ".npz")) return parse_npz(read_file(path), path);
  bad(path, "unknown sparse file type (expected .mtx or .npz)");
}

template <class T, class I>
CsrMatrix<T, I> narrowed(const SparseMatrix& A) {
  constexpr auto kMax = std::int64_t(std::numeric_limits<I>::max());
  if (std::int64_t(A.values.size()) > kMax || A.cols > kMax)
    throw InvalidArgument("the sparse matrix is too large for " + std::to_string(sizeof(I) * 8) +
                          "-bit indices");
  CsrMatrix<T, I> B;
  B.rows = A.rows;
  B.cols = A.cols;
  B.row_ptr.assign(A.row_ptr.begin(), A.row_ptr.end());
  B.col_idx.assign(A.col_idx.begin(), A.col_idx.end());
  B.values.assign(A.values.begin(), A.values.end());
  return B;
}

template CsrMatrix<float, std::int32_t> narrowed(const SparseMatrix&);
template CsrMatrix<float, std::int64_t> narrowed(const SparseMatrix&);
template CsrMatrix<double, std::int32_t> narrowed(const SparseMatrix&);
template CsrMatrix<double, std::int64_t> narrowed(const SparseMatrix&);

}  // namespace nmfuse::io
