// File formats: round trips, and a clear error for each kind of bad file.
#include <gmock/gmock.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "helpers.hpp"
#include "io/atomic_file.hpp"
#include "io/checkpoint_file.hpp"
#include "io/matrix_files.hpp"
#include "io/sparse_files.hpp"
#include "io/image_files.hpp"
#include "io/png_image.hpp"
#include "io/zip_archive.hpp"

#include <zlib.h>
#include <functional>
#include <map>
#include <random>

namespace {

using namespace testing_nmf;
using ::testing::HasSubstr;
namespace io = nmfuse::io;

std::string error_of(const std::string& bytes, bool npy) {
  try {
    if (npy) io::parse_npy(bytes, "x.npy");
    else io::parse_csv(bytes, "x.csv");
  } catch (const nmfuse::InvalidArgument& e) {
    return e.what();
  }
  return "no exception";
}

TEST(Npy, RoundTripKeepsTypeLayoutAndValues) {
  const Matrix<float> a = random_matrix<float>(7, 5, 1);
  const auto back = std::get<Matrix<float>>(io::parse_npy(io::encode_npy(a), "a"));
  EXPECT_EQ(back.layout(), Layout::RowMajor);
  EXPECT_TRUE(std::equal(a.data(), a.data() + a.size(), back.data()));

  const Matrix<double> b = random_matrix<double>(4, 9, 2, 0, Layout::ColMajor);
  const std::string bytes = io::encode_npy(b);
  EXPECT_EQ((bytes.size() - b.size() * 8) % 64, 0u);  // data aligned as numpy writes it
  const auto back_b = std::get<Matrix<double>>(io::parse_npy(bytes, "b"));
  EXPECT_EQ(back_b.layout(), Layout::ColMajor);
  EXPECT_EQ(back_b.rows(), 4);
  EXPECT_EQ(back_b(3, 8), b(3, 8));
}

// A long extrapolated run whose loss rises by rounding alone shrinks its step to 0
// (a 2×2 grid, 6,200 iterations of 300×200 float): its checkpoint still resumes.
TEST(CheckpointFile, AStepShrunkToZeroRoundTrips) {
  nmfuse::io::CheckpointFile file;
  file.state.W = testing_nmf::random_matrix(4, 2, 1, 0, Layout::ColMajor);
  file.state.H = testing_nmf::random_matrix(2, 3, 2);
  file.state.iteration = 6200;
  file.state.step = 0;
  file.state.step_cap = 0;
  file.state.loss_history = {1.0, 0.5};
  file.state.loss_iterations = {0, 6200};
  file.run = "{}";
  const std::string path =
      (std::filesystem::temp_directory_path() / "nmfuse_step_zero.npz").string();
  nmfuse::io::write_checkpoint(path, file);
  const nmfuse::io::CheckpointFile back = nmfuse::io::read_checkpoint(path);
  std::filesystem::remove(path);
  EXPECT_EQ(back.state.iteration, 6200);
  EXPECT_EQ(back.state.step, 0.0);
  EXPECT_EQ(back.state.step_cap, 0.0);
  EXPECT_EQ(testing_nmf::relative_difference(back.state.W, file.state.W), 0.0);
}

TEST(Npy, BadFilesSayWhatIsWrong) {
  const std::string good = io::encode_npy(random_matrix<float>(3, 3, 3));
  EXPECT_THAT(error_of("hello", true), HasSubstr("not a .npy file"));
  EXPECT_THAT(error_of(good.substr(0, good.size() - 4), true), HasSubstr("(truncated)"));
  EXPECT_THAT(error_of(good.substr(0, 20), true), HasSubstr("header is truncated"));
  std::string wrong_type = good;
  wrong_type.replace(wrong_type.find("<f4"), 3, "<i4");
  EXPECT_THAT(error_of(wrong_type, true), HasSubstr("dtype '<i4' is not supported"));
  std::string one_d = good;
  one_d.replace(one_d.find("(3, 3)"), 6, "(9,)  ");
  EXPECT_THAT(error_of(one_d, true), HasSubstr("shape (9,) is not 2-D"));
}

TEST(Csv, ReadsRowsAndRejectsBadFields) {
  const Matrix<double> a = io::parse_csv("1, 2.5,3\n4,5,6e-1\r\n\n", "a.csv");
  EXPECT_EQ(a.rows(), 2);
  EXPECT_EQ(a.cols(), 3);
  EXPECT_EQ(a(0, 1), 2.5);
  EXPECT_EQ(a(1, 2), 0.6);
  EXPECT_THAT(error_of("1,2\n3,x\n", false), HasSubstr("line 2, field 2: 'x' is not a number"));
  EXPECT_THAT(error_of("1,2\n3\n", false), HasSubstr("line 2 has 1 fields, earlier lines have 2"));
  EXPECT_THAT(error_of("\n\n", false), HasSubstr("no numbers"));
}

// The numbers strtod reads, read in place: signs, exponents, underflow to zero; and an
// overflow, which is no number.
TEST(Csv, NumbersAsStrtodReadsThem) {
  const Matrix<double> a = io::parse_csv("+1.5,\t-2e3 ,1e-400,12345678901234567890\n", "a.csv");
  EXPECT_EQ(a(0, 0), 1.5);
  EXPECT_EQ(a(0, 1), -2000);
  EXPECT_EQ(a(0, 2), 0);
  EXPECT_EQ(a(0, 3), 12345678901234567890.0);  // past the exact integer path: from_chars
  EXPECT_THAT(error_of("1,1e400\n", false), HasSubstr("field 2: '1e400' is not a number"));
  EXPECT_THAT(error_of("1,,2\n", false), HasSubstr("field 2: '' is not a number"));
  EXPECT_THAT(error_of("1 2\n", false), HasSubstr("field 1: '2' is not a number"));
}

// A .npy file is read into the matrix straight from the file; a short one says so.
TEST(Npy, FilesReadStraightIntoTheMatrix) {
  const auto dir = std::filesystem::temp_directory_path() / "nmfuse-npy-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const Matrix<double> a = random_matrix<double>(33, 17, 4, 0, Layout::ColMajor);
  const std::string path = (dir / "a.npy").string(), bytes = io::encode_npy(a);
  io::write_atomically(path, bytes);
  const auto back = std::get<Matrix<double>>(io::read_matrix(path));
  EXPECT_EQ(back.layout(), Layout::ColMajor);
  EXPECT_TRUE(std::equal(a.data(), a.data() + a.size(), back.data()));
  io::write_atomically(path, bytes.substr(0, bytes.size() - 8));
  try {
    io::read_matrix(path);
    ADD_FAILURE() << "a truncated .npy was read";
  } catch (const nmfuse::InvalidArgument& e) {
    EXPECT_THAT(e.what(), HasSubstr("(truncated)"));
  }
  EXPECT_THROW(io::read_matrix((dir / "missing.npy").string()), nmfuse::IoError);
  std::filesystem::remove_all(dir);
}

TEST(AtomicFile, WritesWholeFilesAndLeavesNoTemporary) {
  const auto dir = std::filesystem::temp_directory_path() / "nmfuse-atomic-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "out.bin").string();
  io::write_atomically(path, "first");
  io::write_atomically(path, "second");
  EXPECT_EQ(io::read_file(path), "second");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);
  EXPECT_THROW(io::write_atomically((dir / "missing" / "x").string(), "x"), nmfuse::IoError);
  EXPECT_THROW(io::read_matrix((dir / "nothing.npy").string()), nmfuse::IoError);
  std::filesystem::remove_all(dir);
}

}  // namespace

namespace sparse_files {

using nmfuse::index_t;

// The stored entries as (row, column, value) in CSR order.
std::vector<std::tuple<index_t, index_t, double>> entries(const io::SparseMatrix& A) {
  std::vector<std::tuple<index_t, index_t, double>> out;
  for (index_t i = 0; i < A.rows; ++i)
    for (auto e = A.row_ptr[i]; e < A.row_ptr[i + 1]; ++e)
      out.emplace_back(i, A.col_idx[e], A.values[e]);
  return out;
}
using Entries = std::vector<std::tuple<index_t, index_t, double>>;

std::string mtx_error(const std::string& text) {
  try {
    io::parse_matrix_market(text, "x.mtx");
  } catch (const nmfuse::InvalidArgument& e) {
    return e.what();
  }
  return "no exception";
}

TEST(MatrixMarket, CoordinateArrayPatternAndSymmetric) {
  // Out of order, with a duplicate (summed) and an explicit zero (kept: with
  // Absent::Unknown it is an observed entry).
  const auto A = io::parse_matrix_market(
      "%%MatrixMarket matrix coordinate real general\n% a comment\n\n3 4 5\n"
      "3 1 4\n1 3 2.5\n1 1 1\n1 3 0.5\n2 2 0\n", "a.mtx");
  EXPECT_EQ(A.rows, 3);
  EXPECT_EQ(A.cols, 4);
  EXPECT_EQ(entries(A), (Entries{{0, 0, 1}, {0, 2, 3}, {1, 1, 0}, {2, 0, 4}}));

  const auto B = io::parse_matrix_market(
      "%%MatrixMarket matrix array integer general\n2 2\n1\n0\n3\n4\n", "b.mtx");
  EXPECT_EQ(entries(B), (Entries{{0, 0, 1}, {0, 1, 3}, {1, 0, 0}, {1, 1, 4}}));

  const auto C = io::parse_matrix_market(
      "%%MatrixMarket matrix coordinate pattern symmetric\r\n3 3 2\r\n2 1\r\n3 3\r\n", "c.mtx");
  EXPECT_EQ(entries(C), (Entries{{0, 1, 1}, {1, 0, 1}, {2, 2, 1}}));
}

// A file of megabytes is parsed in pieces on all threads: the same entries as the
// definition (duplicates summed, mirrored when symmetric), and errors at their lines.
TEST(MatrixMarket, LargeFilesInPiecesAsOneParse) {
  std::mt19937_64 rng(5);
  for (const bool symmetric : {false, true}) {
    const index_t m = 3000, n = symmetric ? 3000 : 2000;
    std::map<std::pair<index_t, index_t>, double> expected;
    std::string body;
    const int stated = 150000;
    for (int e = 0; e < stated; ++e) {
      index_t i = index_t(rng() % m), j = index_t(rng() % n);
      if (symmetric && j > i) std::swap(i, j);
      const double v = double(rng() % 1000) / 8;
      expected[{i, j}] += v;
      if (symmetric && i != j) expected[{j, i}] += v;
      body += std::to_string(i + 1) + " " + std::to_string(j + 1) + " " + std::to_string(v) +
              (e % 1000 == 0 ? "\n% a comment\n\n" : "\n");
    }
    const std::string head = std::string("%%MatrixMarket matrix coordinate real ") +
                             (symmetric ? "symmetric" : "general") + "\n" + std::to_string(m) +
                             " " + std::to_string(n) + " ";
    ASSERT_GT(body.size(), std::size_t(1) << 20);
    const auto A = io::parse_matrix_market(head + std::to_string(stated) + "\n" + body, "big.mtx");
    Entries want;
    for (const auto& [at, v] : expected) want.emplace_back(at.first, at.second, v);
    EXPECT_EQ(entries(A), want);
    // The same file with one bad value past its middle, and with one entry too many.
    std::string broken = body;
    const std::size_t at = broken.find('\n', broken.size() * 3 / 4) + 1;
    broken.insert(at, "1 1 x\n");
    const std::size_t line = 3 + std::count(broken.begin(), broken.begin() + std::ptrdiff_t(at), '\n');
    EXPECT_THAT(mtx_error(head + std::to_string(stated + 1) + "\n" + broken),
                HasSubstr("line " + std::to_string(line) + ": the value 'x' is not a finite number"));
    EXPECT_THAT(mtx_error(head + std::to_string(stated - 1) + "\n" + body),
                HasSubstr("more entries than the size line states"));
    EXPECT_THAT(mtx_error(head + std::to_string(stated + 1) + "\n" + body),
                HasSubstr("ends after " + std::to_string(stated) + " of its"));
  }
}

// Counts that float holds exactly are factored in float32; other values in double.
TEST(MatrixMarket, ExactCountsAreSinglePrecision) {
  const std::string counts = "%%MatrixMarket matrix coordinate integer general\n2 2 2\n1 1 3\n2 2 ";
  EXPECT_TRUE(io::parse_matrix_market(counts + "16777216\n", "a.mtx").single_precision);
  EXPECT_FALSE(io::parse_matrix_market(counts + "16777217\n", "a.mtx").single_precision);
  EXPECT_TRUE(io::parse_matrix_market(
                  "%%MatrixMarket matrix coordinate pattern general\n2 2 1\n1 2\n", "p.mtx")
                  .single_precision);
  EXPECT_FALSE(io::parse_matrix_market(
                   "%%MatrixMarket matrix coordinate real general\n2 2 1\n1 2 3\n", "r.mtx")
                   .single_precision);
}

TEST(MatrixMarket, BadFilesSayWhatIsWrong) {
  const std::string head = "%%MatrixMarket matrix coordinate real general\n";
  EXPECT_THAT(mtx_error("3 3 1\n1 1 1\n"), HasSubstr("no %%MatrixMarket banner"));
  EXPECT_THAT(mtx_error("%%MatrixMarket matrix coordinate complex general\n1 1 1\n1 1 1 0\n"),
              HasSubstr("field 'complex' is not supported"));
  EXPECT_THAT(mtx_error(head + "2 2 3\n1 1 1\n"), HasSubstr("ends after 1 of its 3 entries"));
  EXPECT_THAT(mtx_error(head + "2 2 1\n3 1 1\n"),
              HasSubstr("line 3: entry (3, 1) is outside the 2×2 matrix"));
  EXPECT_THAT(mtx_error(head + "2 2 1\n1 1 x\n"), HasSubstr("line 3: the value 'x' is not a finite"));
  EXPECT_THAT(mtx_error(head + "2 2 1\n1 1 nan\n"), HasSubstr("'nan' is not a finite number"));
  EXPECT_THAT(mtx_error(head + "2 2 1\n1 1 1 7\n"), HasSubstr("unexpected '7'"));
  EXPECT_THAT(mtx_error(head + "2 2 1\n1 1 1\n2 2 2\n"), HasSubstr("more entries than the size"));
  EXPECT_THAT(mtx_error(head + "2 2\n"), HasSubstr("the entry count is missing"));
  // A size line that claims more than the file can hold allocates nothing.
  EXPECT_THAT(mtx_error(head + "100000 100000 9000000000\n1 1 1\n"),
              HasSubstr("more than the file holds"));
  EXPECT_THAT(mtx_error(head + "0 2 0\n"), HasSubstr("empty or negative"));
}

// Fixtures written by scipy.sparse.save_npz (tests/data/make_npz.py).
TEST(Npz, ReadsWhatScipyWrites) {
  const std::string dir = NMFUSE_TEST_DATA;
  const Entries expected{{0, 0, 1}, {0, 2, 2.5}, {2, 0, 4}, {2, 3, 0.5}};
  for (const char* file : {"small_csr.npz", "small_csc.npz"}) {
    const auto A = io::read_sparse(dir + "/" + file);
    EXPECT_EQ(A.rows, 3) << file;
    EXPECT_EQ(A.cols, 4) << file;
    EXPECT_EQ(entries(A), expected) << file;
  }
  // int64 counts, unsorted indices with a duplicate: sorted and summed.
  EXPECT_EQ(entries(io::read_sparse(dir + "/counts_unsorted.npz")),
            (Entries{{0, 0, 1}, {0, 2, 5}}));
}

TEST(Npz, BadFilesSayWhatIsWrong) {
  const std::string good = io::read_file(std::string(NMFUSE_TEST_DATA) + "/small_csc.npz");
  auto error = [](const std::string& bytes) {
    try {
      io::parse_npz(bytes, "x.npz");
    } catch (const nmfuse::InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  };
  EXPECT_THAT(error("not a zip"), HasSubstr("not a readable zip archive"));
  EXPECT_THAT(error(good.substr(0, good.size() / 2)), HasSubstr("x.npz"));
  // Every byte flipped in turn: an error or a well-formed matrix, never a crash.
  for (std::size_t at = 0; at < good.size(); ++at) {
    std::string bent = good;
    bent[at] = char(bent[at] ^ 0x5a);
    const std::string e = error(bent);
    if (e != "no exception") EXPECT_THAT(e, HasSubstr("x.npz")) << "byte " << at;
  }
}

// scipy.sparse.save_npz's layout, members stored: a format.npy of dtype |S3 holding
// "csr" or "csc", and shape, indptr, indices and data.
std::string npz_of(const std::string& format, index_t rows, index_t cols,
                   const std::vector<std::int64_t>& ptr, const std::vector<std::int64_t>& idx,
                   const std::vector<double>& values) {
  std::string header = "{'descr': '|S3', 'fortran_order': False, 'shape': (), }";
  header.resize(64 - 10 - 1, ' ');
  header += '\n';
  const std::string format_npy =
      std::string("\x93NUMPY\x01\x00", 8) + char(header.size()) + '\0' + header + format;
  return io::zip_archive({{"format.npy", format_npy},
                          {"shape.npy", io::encode_npy(std::vector<std::int64_t>{rows, cols})},
                          {"indptr.npy", io::encode_npy(ptr)},
                          {"indices.npy", io::encode_npy(idx)},
                          {"data.npy", io::encode_npy(values)}});
}

// Each block of a 3 × 2 split (uneven) of a file is the whole file's block: a .mtx in
// random order, and .npz files in CSR and CSC whose data spans many 64 KiB pieces.
TEST(SparseBlocks, EachBlockIsTheWholeFilesBlock) {
  const index_t m = 401, n = 263;
  std::mt19937 gen(5);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<std::tuple<index_t, index_t, double>> stored;
  for (index_t i = 0; i < m; ++i)
    for (index_t j = 0; j < n; ++j)
      if (u(gen) < 0.3) stored.emplace_back(i, j, std::floor(u(gen) * 100) / 8);
  const auto dir = std::filesystem::temp_directory_path() / "nmfuse-sparse-blocks";
  std::filesystem::create_directories(dir);
  std::vector<std::string> files;

  std::vector<std::tuple<index_t, index_t, double>> shuffled = stored;
  std::shuffle(shuffled.begin(), shuffled.end(), gen);
  std::string mtx = "%%MatrixMarket matrix coordinate real general\n" + std::to_string(m) + " " +
                    std::to_string(n) + " " + std::to_string(stored.size()) + "\n";
  for (const auto& [i, j, v] : shuffled)
    mtx += std::to_string(i + 1) + " " + std::to_string(j + 1) + " " + std::to_string(v) + "\n";
  files.push_back((dir / "v.mtx").string());
  io::write_atomically(files.back(), mtx);

  for (bool csr : {true, false}) {
    const index_t outer = csr ? m : n;
    std::vector<std::int64_t> ptr(std::size_t(outer) + 1, 0), idx;
    std::vector<double> values;
    auto by_outer = stored;
    if (!csr)
      std::sort(by_outer.begin(), by_outer.end(), [](const auto& a, const auto& b) {
        return std::tie(std::get<1>(a), std::get<0>(a)) < std::tie(std::get<1>(b), std::get<0>(b));
      });
    for (const auto& [i, j, v] : by_outer) {
      ++ptr[std::size_t(csr ? i : j) + 1];
      idx.push_back(csr ? j : i);
      values.push_back(v);
    }
    std::partial_sum(ptr.begin(), ptr.end(), ptr.begin());
    ASSERT_GT(values.size() * 8, std::size_t(3) << 16);  // data.npy spans pieces
    files.push_back((dir / (csr ? "csr.npz" : "csc.npz")).string());
    io::write_atomically(files.back(), npz_of(csr ? "csr" : "csc", m, n, ptr, idx, values));
  }

  for (const std::string& file : files) {
    const io::SparseShape shape = io::read_sparse_shape(file);
    EXPECT_EQ(shape.rows, m) << file;
    EXPECT_EQ(shape.cols, n) << file;
    const Entries whole = entries(io::read_sparse(file));
    for (int bi = 0; bi < 3; ++bi)
      for (int bj = 0; bj < 2; ++bj) {
        const io::BlockOfFile b{m * bi / 3, m * (bi + 1) / 3, n * bj / 2, n * (bj + 1) / 2};
        Entries expected;
        for (const auto& [i, j, v] : whole)
          if (i >= b.row_begin && i < b.row_end && j >= b.col_begin && j < b.col_end)
            expected.emplace_back(i - b.row_begin, j - b.col_begin, v);
        const io::SparseMatrix block = io::read_sparse_block(file, b);
        EXPECT_EQ(block.rows, b.rows()) << file;
        EXPECT_EQ(block.cols, b.cols()) << file;
        EXPECT_EQ(entries(block), expected) << file << ", block " << bi << ", " << bj;
      }
  }
  // The fixtures scipy wrote (deflated; CSC in float32; int64 counts unsorted).
  for (const char* name : {"small_csr.npz", "small_csc.npz", "counts_unsorted.npz"}) {
    const std::string file = std::string(NMFUSE_TEST_DATA) + "/" + name;
    const io::SparseMatrix A = io::read_sparse(file);
    const io::SparseMatrix top = io::read_sparse_block(file, {0, 2, 1, 4});
    Entries expected;
    for (const auto& [i, j, v] : entries(A))
      if (i < 2 && j >= 1) expected.emplace_back(i, j - 1, v);
    EXPECT_EQ(entries(top), expected) << name;
    EXPECT_EQ(top.single_precision, A.single_precision) << name;
  }
}

// A bad entry inside a block is found by the block's reader, naming the file.
TEST(SparseBlocks, BadEntriesInTheBlockSayWhatIsWrong) {
  const auto dir = std::filesystem::temp_directory_path() / "nmfuse-sparse-blocks";
  std::filesystem::create_directories(dir);
  const std::string bad = (dir / "bad.mtx").string(), bad_npz = (dir / "bad.npz").string();
  io::write_atomically(bad, "%%MatrixMarket matrix coordinate real general\n3 3 2\n1 1 1\n4 1 2\n");
  try {
    io::read_sparse_block(bad, {0, 1, 0, 3});
    ADD_FAILURE() << "no error";
  } catch (const nmfuse::InvalidArgument& e) {
    EXPECT_THAT(e.what(), HasSubstr("outside the 3×3 matrix"));
  }
  io::write_atomically(bad_npz, npz_of("csr", 2, 3, {0, 1, 2}, {0, 7}, {1.0, 2.0}));
  try {
    io::read_sparse_block(bad_npz, {1, 2, 0, 3});
    ADD_FAILURE() << "no error";
  } catch (const nmfuse::InvalidArgument& e) {
    EXPECT_THAT(e.what(), HasSubstr("index 7 at position 1 is outside [0, 3)"));
    EXPECT_THAT(e.what(), HasSubstr("bad.npz"));
  }
}

}  // namespace sparse_files

namespace image_files {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const nmfuse::InvalidArgument& e) {
    return e.what();
  }
  return "no exception";
}

// An IDX file of `count` images of rows×cols bytes: pixel p of image i is (i + p) % 256.
std::string idx(int count, int rows, int cols) {
  std::string b{0, 0, 8, 3};
  for (int d : {count, rows, cols})
    for (int shift : {24, 16, 8, 0}) b += char((d >> shift) & 0xff);
  for (int i = 0; i < count; ++i)
    for (int p = 0; p < rows * cols; ++p) b += char((i + p) % 256);
  return b;
}

std::string gzip(const std::string& raw) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, uLong(raw.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = uInt(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

TEST(Idx, ImagesBecomeColumnsPlainOrGzipped) {
  for (bool gz : {false, true}) {
    const std::string bytes = gz ? gzip(idx(5, 3, 4)) : idx(5, 3, 4);
    const auto s = io::parse_idx(bytes, "x.idx", 0);
    EXPECT_EQ(s.height, 3);
    EXPECT_EQ(s.width, 4);
    ASSERT_EQ(s.pixels.rows(), 12);
    ASSERT_EQ(s.pixels.cols(), 5);
    EXPECT_FLOAT_EQ(s.pixels(7, 2), float((2 + 7) % 256) / 255);  // pixel 7 of image 2
    EXPECT_EQ(io::parse_idx(bytes, "x.idx", 2).pixels.cols(), 2);  // --limit
  }
}

TEST(Idx, BadFilesSayWhatIsWrong) {
  const std::string good = idx(2, 2, 2);
  EXPECT_THAT(error_of([&] { io::parse_idx("PK", "x", 0); }), HasSubstr("not an IDX file"));
  EXPECT_THAT(error_of([&] { io::parse_idx(good.substr(0, good.size() - 1), "x", 0); }),
              HasSubstr("shorter than its 2 images (truncated)"));
  std::string floats = good;
  floats[2] = 0x0d;
  EXPECT_THAT(error_of([&] { io::parse_idx(floats, "x", 0); }), HasSubstr("data type 13"));
  const std::string gz = gzip(good);
  EXPECT_THAT(error_of([&] { io::parse_idx(gz.substr(0, gz.size() / 2), "x", 0); }),
              HasSubstr("gzip data"));
  // A header that claims 2³² images of 2¹⁶ × 2¹⁶ pixels allocates nothing.
  std::string huge{0, 0, 8, 3, '\xff', '\xff', '\xff', '\xff', 0, 1, 0, 0, 0, 1, 0, 0};
  EXPECT_THAT(error_of([&] { io::parse_idx(huge, "x", 0); }), HasSubstr("x:"));
}

TEST(Pgm, BinaryAndTextWithComments) {
  const std::string p5 = std::string("P5\n# a comment\n3 2\n255\n") + char(0) + char(51) +
                         char(102) + char(153) + char(204) + char(255);
  const auto a = io::parse_pgm(p5, "a.pgm");
  EXPECT_EQ(a.width, 3);
  EXPECT_EQ(a.height, 2);
  EXPECT_FLOAT_EQ(a.pixels(4, 0), 0.8f);
  const auto b = io::parse_pgm("P2 2 2 # size\n 1000\n0 250 500\n1000", "b.pgm");
  EXPECT_FLOAT_EQ(b.pixels(1, 0), 0.25f);
  EXPECT_FLOAT_EQ(b.pixels(3, 0), 1.0f);
  EXPECT_THAT(error_of([] { io::parse_pgm("P6 1 1 255\n", "x.pgm"); }), HasSubstr("not a PGM"));
  EXPECT_THAT(error_of([] { io::parse_pgm("P5 2 2 255\nab", "x.pgm"); }), HasSubstr("truncated"));
  EXPECT_THAT(error_of([] { io::parse_pgm("P2 1 1 9 10", "x.pgm"); }), HasSubstr("exceeds maxval"));
  EXPECT_THAT(error_of([] { io::parse_pgm("P5 99999999999 1 255\n", "x.pgm"); }), HasSubstr("too large"));
}

TEST(Png, DecodesWhatItEncodes) {
  io::GrayImage g;
  g.width = 5;
  g.height = 3;
  for (int p = 0; p < 15; ++p) g.pixels.push_back(std::uint8_t(p * 17));
  const io::GrayImage back = io::decode_png(io::encode_png(g), "g.png");
  EXPECT_EQ(back.width, 5);
  EXPECT_EQ(back.height, 3);
  EXPECT_EQ(back.pixels, g.pixels);
  EXPECT_THAT(error_of([] { io::decode_png("\x89PNG\r\n\x1a\nxx", "x.png"); }), HasSubstr("x.png"));
}

}  // namespace image_files
