// Sparse V (CSR): the sparse path computes what the dense path computes on the same
// matrix, with absent entries as zeros (Absent::Zero) or as unknowns (Absent::Unknown,
// the dense path with a mask of the stored entries).
#include <gmock/gmock.h>

#include "helpers.hpp"

namespace {

using namespace testing_nmf;
using nmfuse::Absent;
using nmfuse::Loss;
using nmfuse::Solver;

struct Case {
  Loss loss;
  double beta;
  Solver solver;
  const char* name;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

nmfuse::Options options_for(const Case& c, int rank, int iterations) {
  nmfuse::Options opt = cpu_options(rank);
  opt.loss = c.loss;
  opt.beta = c.beta;
  opt.solver = c.solver;
  opt.init = nmfuse::Init::Custom;
  opt.tol = 0;
  opt.max_iter = iterations;
  opt.check_every = 1;
  opt.hals_inner_max = 3;  // by default the sweeps follow the products' cost, which differs
  return opt;
}

// Both paths sum in their own order (BLAS blocks against row loops): agreement to a
// few hundred double roundings over the iterations.
constexpr double kSumOrder = 1e-10;

void expect_same_run(const nmfuse::Result<double>& sparse, const nmfuse::Result<double>& dense) {
  EXPECT_LT(relative_difference(sparse.W, dense.W), kSumOrder);
  EXPECT_LT(relative_difference(sparse.H, dense.H), kSumOrder);
  ASSERT_EQ(sparse.loss_history.size(), dense.loss_history.size());
  for (std::size_t c = 0; c < dense.loss_history.size(); ++c)
    EXPECT_NEAR(sparse.loss_history[c], dense.loss_history[c],
                kSumOrder * dense.loss_history[0])
        << "loss at check " << c;
}

class SparseZeros : public ::testing::TestWithParam<Case> {};

// Absent entries are zeros: every iteration of the sparse path matches the dense path
// on the densified matrix.
TEST_P(SparseZeros, EveryIterationMatchesTheDensePath) {
  const Case c = GetParam();
  const Matrix<double> V = random_matrix(57, 43, 61, 0.7);
  const auto S = to_csr<double>(V);
  ASSERT_LT(S.values.size(), V.size() / 2);
  const Matrix<double> W0 = random_matrix(57, 5, 62), H0 = random_matrix(5, 43, 63);
  for (int it : {1, 2, 6}) {
    const nmfuse::Options opt = options_for(c, 5, it);
    expect_same_run(nmfuse::factorize(S.view(), opt, W0.view(), H0.view()),
                    nmfuse::factorize(V.view(), opt, W0.view(), H0.view()));
  }
}

// A tall matrix with few columns: the CPU takes side H from V's rows into per-chunk
// accumulators instead of building Vᵀ (cpu_sparse_backend.cpp, scatter_pays); the
// same agreement holds.
TEST_P(SparseZeros, TallMatrixMatchesTheDensePath) {
  const Case c = GetParam();
  const Matrix<double> V = random_matrix(400, 20, 73, 0.5);
  const auto S = to_csr<double>(V);
  const Matrix<double> W0 = random_matrix(400, 3, 74), H0 = random_matrix(3, 20, 75);
  const nmfuse::Options opt = options_for(c, 3, 4);
  expect_same_run(nmfuse::factorize(S.view(), opt, W0.view(), H0.view()),
                  nmfuse::factorize(V.view(), opt, W0.view(), H0.view()));
}

// Ranks the CPU pads to 24 and 48 (src/cpu/cpu_widths.hpp), between the kernels' widths.
TEST_P(SparseZeros, PaddedRanksMatchTheDensePath) {
  const Case c = GetParam();
  const Matrix<double> V = random_matrix(70, 60, 76, 0.6);
  const auto S = to_csr<double>(V);
  for (const int k : {20, 40}) {
    const Matrix<double> W0 = random_matrix(70, k, 77), H0 = random_matrix(k, 60, 78);
    const nmfuse::Options opt = options_for(c, k, 3);
    expect_same_run(nmfuse::factorize(S.view(), opt, W0.view(), H0.view()),
                    nmfuse::factorize(V.view(), opt, W0.view(), H0.view()));
  }
}

class SparseUnknown : public ::testing::TestWithParam<Case> {};

// Absent entries are unknown: the sparse path matches the dense path with a mask of the
// stored entries, and what the dense matrix holds at the absent ones cannot matter.
TEST_P(SparseUnknown, EveryIterationMatchesTheMaskedDensePath) {
  const Case c = GetParam();
  const Matrix<double> V = random_matrix(52, 46, 64);
  const Matrix<double> coin = random_matrix(52, 46, 65);
  Matrix<std::uint8_t> M(52, 46, Layout::RowMajor);
  for (index_t i = 0; i < 52; ++i)
    for (index_t j = 0; j < 46; ++j) M(i, j) = coin(i, j) < 0.4;
  const auto S = to_csr<double>(V, [&](index_t i, index_t j) { return M(i, j) != 0; });
  const Matrix<double> W0 = random_matrix(52, 4, 66), H0 = random_matrix(4, 46, 67);
  for (int it : {1, 5}) {
    const nmfuse::Options opt = options_for(c, 4, it);
    expect_same_run(nmfuse::factorize(S.view(Absent::Unknown), opt, W0.view(), H0.view()),
                    nmfuse::factorize(V.view(), opt, W0.view(), H0.view(), M.view()));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Losses, SparseZeros,
    ::testing::Values(Case{Loss::Frobenius, 2, Solver::MU, "frobenius_mu"},
                      Case{Loss::Frobenius, 2, Solver::HALS, "frobenius_hals"},
                      Case{Loss::KullbackLeibler, 1, Solver::MU, "kl"},
                      Case{Loss::Beta, 0.5, Solver::MU, "beta_0_5"},
                      Case{Loss::Beta, 1.5, Solver::MU, "beta_1_5"},
                      Case{Loss::Beta, 3, Solver::MU, "beta_3"}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Losses, SparseUnknown,
    ::testing::Values(Case{Loss::Frobenius, 2, Solver::MU, "frobenius_mu"},
                      Case{Loss::Frobenius, 2, Solver::HALS, "frobenius_hals"},
                      Case{Loss::KullbackLeibler, 1, Solver::MU, "kl"},
                      Case{Loss::ItakuraSaito, 0, Solver::MU, "itakura_saito"},
                      Case{Loss::Beta, 1.5, Solver::MU, "beta_1_5"},
                      Case{Loss::Beta, 3, Solver::MU, "beta_3"}),
    [](const auto& info) { return std::string(info.param.name); });

// The β family on sparse data: the loss never rises under the Févotte–Idier exponent.
// β ≤ 0 is undefined at zeros, so there the absent entries are unknown.
TEST(Sparse, LossNeverRisesForAnyBeta) {
  const Matrix<double> V = random_matrix(80, 60, 68, 0.8);
  const auto S = to_csr<double>(V);
  for (double beta : {0.0, 0.5, 1.0, 1.5, 2.0, 3.0}) {
    nmfuse::Options opt = cpu_options(6);
    opt.loss = Loss::Beta;
    opt.beta = beta;
    opt.solver = Solver::MU;
    opt.init = nmfuse::Init::Random;
    opt.max_iter = 60;
    opt.tol = 0;
    opt.check_every = 1;
    const auto r = nmfuse::factorize(S.view(beta <= 0 ? Absent::Unknown : Absent::Zero), opt);
    for (std::size_t c = 1; c < r.loss_history.size(); ++c)
      EXPECT_LE(r.loss_history[c], r.loss_history[c - 1] * (1 + 1e-12))
          << "β = " << beta << ", check " << c;
    EXPECT_LT(r.loss_history.back(), 0.9 * r.loss_history.front()) << "β = " << beta;
  }
}

// 64-bit indices, float values, the default start and Model: the same fit as dense.
TEST(Sparse, IndexWidthsInitsAndModelAgreeWithDense) {
  const Matrix<float> V = random_matrix<float>(70, 50, 69, 0.75);
  const auto S32 = to_csr<float, std::int32_t>(V);
  const auto S64 = to_csr<float, std::int64_t>(V);
  nmfuse::Options opt = cpu_options(4);
  opt.max_iter = 20;
  opt.solver = Solver::HALS;
  opt.hals_inner_max = 3;
  for (nmfuse::Init init : {nmfuse::Init::NNDSVDa, nmfuse::Init::Random}) {
    opt.init = init;
    const auto dense = nmfuse::factorize(V.view(), opt);
    const auto a = nmfuse::factorize(S32.view(), opt);
    const auto b = nmfuse::factorize(S64.view(), opt);
    // The compiler may fuse multiply-adds differently per index width: float rounding.
    EXPECT_LT(relative_difference(a.W, b.W), 1e-5) << nmfuse::to_string(init);
    // Dense sums in another order: a few hundred float roundings, through 20 iterations.
    EXPECT_LT(relative_difference(a.W, dense.W), 1e-3) << nmfuse::to_string(init);
  }
  nmfuse::Model<float> model(opt);
  model.fit(S32.view());
  const Matrix<float> H_sparse = model.transform(S64.view());
  const Matrix<float> H_dense = model.transform(V.view());
  EXPECT_LT(relative_difference(H_sparse, H_dense), 1e-4);
}

// A planted rank-3 matrix, 30% of its entries not stored and unknown: HALS on the CSR
// predicts them (as the dense masked path does, test_mask.cpp).
TEST(Sparse, HiddenEntriesOfAPlantedMatrixArePredicted) {
  const Matrix<double> V = product(random_matrix(60, 3, 70), random_matrix(3, 50, 71));
  const Matrix<double> coin = random_matrix(60, 50, 72);
  const auto S = to_csr<double>(V, [&](index_t i, index_t j) { return coin(i, j) < 0.7; });
  nmfuse::Options opt = cpu_options(3);
  opt.solver = Solver::HALS;
  opt.init = nmfuse::Init::Random;
  opt.max_iter = 500;
  opt.tol = 0;
  const auto r = nmfuse::factorize(S.view(Absent::Unknown), opt);
  const Matrix<double> WH = product(r.W, r.H);
  double hidden_error = 0, hidden_norm = 0;
  for (index_t i = 0; i < 60; ++i)
    for (index_t j = 0; j < 50; ++j)
      if (coin(i, j) >= 0.7) {
        hidden_error += std::pow(WH(i, j) - V(i, j), 2);
        hidden_norm += V(i, j) * V(i, j);
      }
  EXPECT_LT(std::sqrt(hidden_error / hidden_norm), 1e-6);
}

void expect_refused(const nmfuse::CsrView<double>& V, const nmfuse::Options& opt,
                    const std::string& message) {
  try {
    nmfuse::factorize(V, opt);
    ADD_FAILURE() << "accepted; expected: " << message;
  } catch (const nmfuse::InvalidArgument& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr(message));
  }
}

TEST(Sparse, MalformedViewsAreNamed) {
  const std::vector<std::int32_t> ptr{0, 2, 3}, idx{1, 0, 2};
  const std::vector<double> values{1, 2, 3}, negative{1, -2, 3};
  nmfuse::Options opt = cpu_options(1);
  using View = nmfuse::CsrView<double>;
  expect_refused(View{ptr.data(), idx.data(), values.data(), 2, 3},
                 opt, "columns out of order or repeated in row 0 (1 then 0)");
  const std::vector<std::int32_t> far{0, 1, 3}, idx_ok{0, 1, 3};
  expect_refused(View{far.data(), idx_ok.data(), values.data(), 2, 3}, opt,
                 "column index 3 in row 1, outside [0, 3)");
  const std::vector<std::int32_t> fall{0, 2, 1};
  expect_refused(View{fall.data(), idx_ok.data(), values.data(), 2, 3}, opt,
                 "row_ptr[1] = 2 outside [row_ptr[0], nnz] = [0, 1]");
  const std::vector<std::int32_t> sorted{0, 1, 2};
  const std::vector<std::int32_t> ptr2{0, 2, 3};
  expect_refused(View{ptr2.data(), sorted.data(), negative.data(), 2, 3}, opt,
                 "a negative entry at (0, 1): -2");
  opt.loss = Loss::ItakuraSaito;
  expect_refused(View{ptr2.data(), sorted.data(), values.data(), 2, 3}, opt,
                 "has absent entries, which are zeros (Absent::Zero)");
  EXPECT_NO_THROW(nmfuse::factorize(
      View{ptr2.data(), sorted.data(), values.data(), 2, 3, Absent::Unknown}, opt));
}

}  // namespace
