// factorize_many() on the CPU: each batched restart equals its lone run (batched_restarts.hpp),
// the progress callback names the restart, and the arguments are checked.
#include <gmock/gmock.h>

#include "batched_restarts.hpp"

namespace {

using namespace testing_nmf;

class CpuRestarts : public ::testing::TestWithParam<RestartCase> {};

// In double. With AVX-512, up to 64 columns, a dense batch's products are streamed as
// the lone run's are, entry by entry in the same order: equal bit for bit. Otherwise
// they are one BLAS GEMM of the batch's width against the lone run's own, and a sparse
// batch may take side H through Vᵀ where the lone run scatters from V's rows: sums of
// ~130 terms in another order, ~1e-14 relative, grown by at most a few orders over 100
// iterations.
TEST_P(CpuRestarts, EachEqualsItsLoneRun) {
  expect_restarts_match_lone_runs<double>(GetParam(), nmfuse::Device::Cpu, 1e-9);
}

INSTANTIATE_TEST_SUITE_P(Paths, CpuRestarts, ::testing::ValuesIn(kRestartCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Restarts, GivenStartsAndTheProgressOfEach) {
  const Matrix<float> V = random_matrix<float>(40, 30, 3);
  nmfuse::Options opt;
  opt.rank = 3;
  opt.init = nmfuse::Init::Custom;
  opt.max_iter = 20;
  opt.tol = 0;
  std::vector<Matrix<float>> W0, H0;
  std::vector<nmfuse::DenseView<const float>> W0v, H0v;
  for (unsigned r = 0; r < 3; ++r) {
    W0.push_back(random_matrix<float>(40, 3, 10 + r));
    H0.push_back(random_matrix<float>(3, 30, 20 + r));
  }
  for (unsigned r = 0; r < 3; ++r) W0v.push_back(W0[r].view()), H0v.push_back(H0[r].view());
  std::vector<int> seen(3, 0);
  nmfuse::Options watched = opt;
  watched.on_progress = [&](const nmfuse::Progress& p) {
    ++seen.at(std::size_t(p.restart));
    return true;
  };
  const auto runs = nmfuse::factorize_many(V.view(), watched, W0v, H0v);
  ASSERT_EQ(runs.size(), 3u);
  for (unsigned r = 0; r < 3; ++r) {
    const auto alone = nmfuse::factorize(V.view(), opt, W0v[r], H0v[r]);
    // To float rounding: where the BLAS makes the products (no AVX-512), one product of
    // all three restarts' columns rounds otherwise than each restart's own; 20 MU steps
    // grow 1e-7 to 8.5e-6 (measured on AVX2).
    EXPECT_LT(relative_difference(runs[r].W, alone.W), 1e-4);
    EXPECT_LT(relative_difference(runs[r].H, alone.H), 1e-4);
    EXPECT_EQ(seen[r], 2) << "the checks at iterations 10 and 20";
  }
}

TEST(Restarts, ArgumentsAreChecked) {
  const Matrix<float> V = random_matrix<float>(20, 10, 4);
  nmfuse::Options opt;
  opt.rank = 2;
  auto fails = [&](const nmfuse::Options& o, int restarts, const char* says) {
    try {
      nmfuse::factorize_many(V.view(), o, restarts);
      ADD_FAILURE() << "no exception for " << says;
    } catch (const nmfuse::InvalidArgument& e) {
      EXPECT_THAT(e.what(), ::testing::HasSubstr(says));
    }
  };
  fails(opt, 0, "restarts = 0: must be at least 1");
  nmfuse::Options negative = opt;
  negative.restarts_at_once = -1;
  fails(negative, 2, "restarts_at_once");
  nmfuse::Options checkpoints = opt;
  checkpoints.checkpoint_every = 5;
  checkpoints.on_checkpoint = [](const nmfuse::Checkpoint&) {};
  fails(checkpoints, 2, "keeps no checkpoints");
  nmfuse::Options custom = opt;
  custom.init = nmfuse::Init::Custom;
  fails(custom, 2, "init custom needs the initial W and H");
}

}  // namespace
