// Checkpoints: a run interrupted and resumed from its checkpoint ends bit for bit as
// the uninterrupted run, for every solver path, dense, masked and sparse, float and
// double.
#include <gmock/gmock.h>

#include "helpers.hpp"

namespace {

using namespace testing_nmf;
using nmfuse::Loss;
using nmfuse::Solver;

struct Path {
  const char* name;
  Loss loss;
  double beta;
  Solver solver;
  bool masked;
  bool sparse;
};
void PrintTo(const Path& p, std::ostream* os) { *os << p.name; }

// Runs V (dense, masked or sparse as `p` says) with `opt`.
template <class T>
struct Problem {
  Matrix<T> V = random_matrix<T>(60, 45, 81, 0.3);
  Matrix<std::uint8_t> M = [] {
    const Matrix<double> coin = random_matrix(60, 45, 82);
    Matrix<std::uint8_t> m(60, 45, Layout::RowMajor);
    for (index_t i = 0; i < 60; ++i)
      for (index_t j = 0; j < 45; ++j) m(i, j) = coin(i, j) < 0.7;
    return m;
  }();
  nmfuse::CsrMatrix<T> S = to_csr<T>(V);

  nmfuse::Result<T> run(const Path& p, const nmfuse::Options& opt) const {
    if (p.sparse) return nmfuse::factorize(S.view(p.masked ? nmfuse::Absent::Unknown : nmfuse::Absent::Zero), opt);
    if (p.masked) return nmfuse::factorize(V.view(), opt, M.view());
    return nmfuse::factorize(V.view(), opt);
  }
};

template <class T>
bool same(const Matrix<T>& a, const Matrix<T>& b) {
  return a.size() == b.size() && std::equal(a.data(), a.data() + a.size(), b.data());
}

class Resume : public ::testing::TestWithParam<Path> {};

template <class T>
void interrupted_then_resumed_is_the_whole_run(const Path& p) {
  const Problem<T> problem;
  nmfuse::Options opt = cpu_options(5);
  opt.loss = p.loss;
  opt.beta = p.beta;
  opt.solver = p.solver;
  opt.max_iter = 25;
  opt.check_every = 4;
  opt.tol = 0;
  const auto whole = problem.run(p, opt);

  int calls = 0;
  std::shared_ptr<nmfuse::Checkpoint> saved;
  nmfuse::Options first = opt;
  first.interrupt = [&] { return ++calls == 9; };
  first.on_checkpoint = [&](const nmfuse::Checkpoint& c) {
    saved = std::make_shared<nmfuse::Checkpoint>(c);
  };
  const auto part = problem.run(p, first);
  EXPECT_EQ(part.stop_reason, nmfuse::StopReason::Interrupted);
  EXPECT_EQ(part.iterations, 9);
  ASSERT_TRUE(saved);
  EXPECT_EQ(saved->iteration, 9);

  nmfuse::Options second = opt;
  second.resume = saved;
  const auto rest = problem.run(p, second);
  EXPECT_EQ(rest.iterations, 25);
  EXPECT_TRUE(same(rest.W, whole.W)) << "W differs from the uninterrupted run's";
  EXPECT_TRUE(same(rest.H, whole.H)) << "H differs from the uninterrupted run's";
  EXPECT_EQ(rest.loss_history, whole.loss_history);
  EXPECT_EQ(rest.loss_iterations, whole.loss_iterations);
}

TEST_P(Resume, InterruptedThenResumedIsTheWholeRunInDouble) {
  interrupted_then_resumed_is_the_whole_run<double>(GetParam());
}
TEST_P(Resume, InterruptedThenResumedIsTheWholeRunInFloat) {
  interrupted_then_resumed_is_the_whole_run<float>(GetParam());
}

INSTANTIATE_TEST_SUITE_P(
    Paths, Resume,
    ::testing::Values(Path{"hals_extrapolated", Loss::Frobenius, 2, Solver::HALS, false, false},
                      Path{"mu", Loss::Frobenius, 2, Solver::MU, false, false},
                      Path{"kl", Loss::KullbackLeibler, 1, Solver::MU, false, false},
                      Path{"beta_0_5", Loss::Beta, 0.5, Solver::MU, false, false},
                      Path{"masked_hals", Loss::Frobenius, 2, Solver::HALS, true, false},
                      Path{"sparse_kl", Loss::KullbackLeibler, 1, Solver::MU, false, true},
                      Path{"sparse_unknown_hals", Loss::Frobenius, 2, Solver::HALS, true, true}),
    [](const auto& info) { return std::string(info.param.name); });

// checkpoint_every: a checkpoint after every N iterations but the last, each a state
// the run goes on from.
TEST(Checkpoint, EveryNIterationsAndEachResumes) {
  const Problem<double> problem;
  const Path hals{"hals", Loss::Frobenius, 2, Solver::HALS, false, false};
  nmfuse::Options opt = cpu_options(4);
  opt.max_iter = 20;
  opt.tol = 0;
  const auto whole = problem.run(hals, opt);
  std::vector<std::shared_ptr<nmfuse::Checkpoint>> saved;
  nmfuse::Options with = opt;
  with.checkpoint_every = 5;
  with.on_checkpoint = [&](const nmfuse::Checkpoint& c) {
    saved.push_back(std::make_shared<nmfuse::Checkpoint>(c));
  };
  EXPECT_TRUE(same(problem.run(hals, with).W, whole.W));  // checkpoints change nothing
  ASSERT_EQ(saved.size(), 3u);
  for (std::size_t c = 0; c < saved.size(); ++c) {
    EXPECT_EQ(saved[c]->iteration, 5 * int(c + 1));
    nmfuse::Options again = opt;
    again.resume = saved[c];
    EXPECT_TRUE(same(problem.run(hals, again).W, whole.W)) << "from iteration " << saved[c]->iteration;
  }
}

TEST(Checkpoint, ResumingAnotherProblemIsRefused) {
  const Problem<double> problem;
  const Path mu{"mu", Loss::Frobenius, 2, Solver::MU, false, false};
  nmfuse::Options opt = cpu_options(4);
  opt.solver = Solver::MU;
  opt.max_iter = 6;
  std::shared_ptr<nmfuse::Checkpoint> saved;
  opt.checkpoint_every = 3;
  opt.on_checkpoint = [&](const nmfuse::Checkpoint& c) {
    saved = std::make_shared<nmfuse::Checkpoint>(c);
  };
  problem.run(mu, opt);
  ASSERT_TRUE(saved);
  nmfuse::Options other = cpu_options(3);
  other.resume = saved;
  try {
    problem.run(mu, other);
    ADD_FAILURE() << "a rank-4 checkpoint was accepted at rank 3";
  } catch (const nmfuse::InvalidArgument& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("checkpoint's W is 60×4, but this problem needs 60×3"));
  }
  nmfuse::Options hals = cpu_options(4);
  hals.solver = Solver::HALS;
  hals.resume = saved;
  EXPECT_THROW(problem.run(mu, hals), nmfuse::InvalidArgument);  // no previous iterates
}

}  // namespace
