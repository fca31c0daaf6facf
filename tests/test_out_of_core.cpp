// Out of core on the CPU: a memory-mapped .npy (io::MappedNpy) read block by block
// (out_of_core = on) gives the iterates of V in memory, and resident memory stays
// within a few blocks where reading the same mapping in place takes all of V.
#include <gmock/gmock.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>
#include <unistd.h>

#include "helpers.hpp"
#include "io/atomic_file.hpp"
#include "io/matrix_files.hpp"

namespace {

using namespace testing_nmf;

// A .npy file in the test's temporary folder, removed at the end of the test.
class NpyFile {
 public:
  template <class T>
  NpyFile(const Matrix<T>& A, const std::string& name)
      : path_((std::filesystem::temp_directory_path() /
               ("nmfuse-ooc-" + std::to_string(::getpid()) + "-" + name + ".npy"))
                  .string()) {
    nmfuse::io::write_atomically(path_, nmfuse::io::encode_npy(A));
  }
  ~NpyFile() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

template <class T>
nmfuse::DenseView<const T> mapped_view(const nmfuse::io::MappedNpy& file) {
  return std::get<nmfuse::DenseView<const T>>(file.view());
}

TEST(MappedNpy, ReadsWhatReadMatrixReads) {
  for (Layout layout : {Layout::RowMajor, Layout::ColMajor}) {
    const Matrix<double> A = random_matrix<double>(7, 5, 1, 0, layout);
    const NpyFile file(A, layout == Layout::RowMajor ? "c" : "fortran");
    const nmfuse::io::MappedNpy mapped(file.path());
    const auto V = mapped_view<double>(mapped);
    EXPECT_EQ(V.layout, layout);
    ASSERT_EQ(V.rows, 7);
    ASSERT_EQ(V.cols, 5);
    for (index_t i = 0; i < 7; ++i)
      for (index_t j = 0; j < 5; ++j) EXPECT_EQ(V(i, j), A(i, j));
    EXPECT_EQ(mapped.data_bytes(), 7 * 5 * sizeof(double));
  }
  const Matrix<float> F = random_matrix<float>(3, 4, 2);
  const NpyFile file(F, "float");
  const nmfuse::io::MappedNpy mapped(file.path());
  EXPECT_EQ(mapped_view<float>(mapped)(2, 3), F(2, 3));
}

TEST(MappedNpy, BadFilesSayWhy) {
  EXPECT_THAT([] { nmfuse::io::MappedNpy("/nonexistent/v.npy"); },
              ::testing::ThrowsMessage<nmfuse::IoError>(
                  ::testing::HasSubstr("cannot open /nonexistent/v.npy")));
  const std::string vector_path = (std::filesystem::temp_directory_path() /
                                   ("nmfuse-ooc-" + std::to_string(::getpid()) + "-1d.npy"))
                                      .string();
  nmfuse::io::write_atomically(vector_path, nmfuse::io::encode_npy(std::vector<double>{1, 2, 3}));
  EXPECT_THAT([&] { nmfuse::io::MappedNpy{vector_path}; },
              ::testing::ThrowsMessage<nmfuse::InvalidArgument>(
                  ::testing::HasSubstr("npy shape (3,) is not 2-D")));
  std::filesystem::remove(vector_path);
  const std::string text = vector_path + ".txt";
  std::ofstream(text) << "not a matrix";
  EXPECT_THAT([&] { nmfuse::io::MappedNpy{text}; },
              ::testing::ThrowsMessage<nmfuse::InvalidArgument>(::testing::HasSubstr("not a .npy file")));
  std::filesystem::remove(text);
}

struct Path {
  const char* name;
  nmfuse::Loss loss;
  nmfuse::Solver solver;
  int rank, restarts;  // rank × restarts > 64: the products by BLAS, block by block
  Layout layout;
};

class CpuOutOfCore : public ::testing::TestWithParam<Path> {};

// In double, V 300×200 in blocks of 4 KiB (a few of its stored rows each): the same
// sums in another grouping (a block's part added to the others'), ~1e-15 an entry,
// grown by the updates over 10 iterations: within 1e-10.
TEST_P(CpuOutOfCore, BlocksEqualVInMemory) {
  const Path c = GetParam();
  const Matrix<double> A = random_matrix<double>(300, 200, 3, 0, c.layout);
  const NpyFile file(A, c.name);
  const nmfuse::io::MappedNpy mapped(file.path());
  nmfuse::Options opt;
  opt.rank = c.rank;
  opt.loss = c.loss;
  opt.beta = 1.5;
  opt.solver = c.solver;
  opt.device = nmfuse::Device::Cpu;
  opt.max_iter = 10;
  opt.tol = 0;
  opt.check_every = 1;
  nmfuse::Options blocked = opt;
  blocked.out_of_core = nmfuse::OutOfCore::On;
  blocked.out_of_core_block = 4096;
  const auto resident = nmfuse::factorize_many(A.view(), opt, c.restarts);
  const auto streamed = nmfuse::factorize_many(mapped_view<double>(mapped), blocked, c.restarts);
  for (int r = 0; r < c.restarts; ++r) {
    EXPECT_THAT(streamed[r].device_reason, ::testing::HasSubstr("V read block by block"));
    EXPECT_LT(relative_difference(streamed[r].W, resident[r].W), 1e-10);
    EXPECT_LT(relative_difference(streamed[r].H, resident[r].H), 1e-10);
    ASSERT_EQ(streamed[r].loss_history.size(), resident[r].loss_history.size());
    for (std::size_t e = 0; e < resident[r].loss_history.size(); ++e)
      EXPECT_NEAR(streamed[r].loss_history[e], resident[r].loss_history[e],
                  1e-10 * resident[r].loss_history[e]);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Paths, CpuOutOfCore,
    ::testing::Values(
        Path{"mu_rows", nmfuse::Loss::Frobenius, nmfuse::Solver::MU, 5, 1, Layout::RowMajor},
        Path{"hals_columns", nmfuse::Loss::Frobenius, nmfuse::Solver::HALS, 5, 1, Layout::ColMajor},
        Path{"hals_blas_rows", nmfuse::Loss::Frobenius, nmfuse::Solver::HALS, 20, 4,
             Layout::RowMajor},
        Path{"mu_blas_columns", nmfuse::Loss::Frobenius, nmfuse::Solver::MU, 20, 4,
             Layout::ColMajor},
        Path{"kl_rows", nmfuse::Loss::KullbackLeibler, nmfuse::Solver::MU, 5, 1, Layout::RowMajor},
        Path{"beta_columns", nmfuse::Loss::Beta, nmfuse::Solver::MU, 5, 2, Layout::ColMajor}),
    [](const auto& info) { return std::string(info.param.name); });

// The most resident memory while `run` runs, over what was resident before, sampled
// every millisecond from /proc/self/statm.
template <class Run>
double peak_growth(Run run) {
  auto resident = [] {
    std::ifstream statm("/proc/self/statm");
    double pages = 0, rss = 0;
    statm >> pages >> rss;
    return rss * double(sysconf(_SC_PAGESIZE));
  };
  const double before = resident();
  std::atomic<bool> done{false};
  std::atomic<double> peak{before};
  std::thread sampler([&] {
    while (!done) {
      peak = std::max(peak.load(), resident());
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  run();
  done = true;
  sampler.join();
  return std::max(peak.load(), resident()) - before;
}

// A 32 MB V, mapped: read in place, all of it becomes resident; out of core in blocks of
// 1 MiB, resident memory grows by less than four blocks (the one read, the one read
// ahead, the ratio block; 0.9 MB measured here).
TEST(CpuOutOfCoreMemory, ResidentMemoryStaysWithinAFewBlocks) {
  const Matrix<double> A = random_matrix<double>(2000, 2000, 5);
  const NpyFile file(A, "memory");
  const double v_bytes = 2000.0 * 2000 * sizeof(double);
  nmfuse::Options opt;
  opt.rank = 5;
  opt.device = nmfuse::Device::Cpu;
  opt.max_iter = 3;
  opt.tol = 0;
  opt.init = nmfuse::Init::Random;
  nmfuse::factorize(random_matrix<double>(50, 40, 1).view(), opt);  // the BLAS's own buffers
  double blocked_growth = 0, in_place_growth = 0;
  {
    const nmfuse::io::MappedNpy mapped(file.path());
    nmfuse::Options blocked = opt;
    blocked.out_of_core = nmfuse::OutOfCore::On;
    blocked.out_of_core_block = 1 << 20;
    blocked_growth = peak_growth([&] { nmfuse::factorize(mapped_view<double>(mapped), blocked); });
  }
  {
    const nmfuse::io::MappedNpy mapped(file.path());  // a fresh mapping: nothing resident
    in_place_growth = peak_growth([&] { nmfuse::factorize(mapped_view<double>(mapped), opt); });
  }
  EXPECT_GT(in_place_growth, 0.8 * v_bytes) << "the measurement sees V's pages";
  EXPECT_LT(blocked_growth, 4.0 * (1 << 20))
      << "out of core: " << blocked_growth / 1e6 << " MB more resident, in place "
      << in_place_growth / 1e6 << " MB";
}

TEST(CpuOutOfCoreMemory, TakesNoMask) {
  const Matrix<double> A = random_matrix<double>(20, 10, 5);
  Matrix<std::uint8_t> observed(20, 10, Layout::RowMajor);
  for (std::size_t e = 0; e < observed.size(); ++e) observed.data()[e] = e % 4 != 0;
  nmfuse::Options opt;
  opt.rank = 2;
  opt.device = nmfuse::Device::Cpu;
  opt.out_of_core = nmfuse::OutOfCore::On;
  EXPECT_THAT([&] { nmfuse::factorize(A.view(), opt, observed.view()); },
              ::testing::ThrowsMessage<nmfuse::InvalidArgument>(
                  ::testing::HasSubstr("option out_of_core = on: a mask")));
  opt.out_of_core_block = -1;
  EXPECT_THROW(nmfuse::factorize(A.view(), opt), nmfuse::InvalidArgument);
}

}  // namespace
