// File formats: round trips, and a clear error for each kind of bad file.
#include <gmock/gmock.h>

#include <filesystem>

#include "helpers.hpp"
#include "io/atomic_file.hpp"
#include "io/matrix_files.hpp"

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
