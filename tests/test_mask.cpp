// Missing values: a mask of observed entries keeps the others out of the fit and the
// loss, for every β.
#include <gmock/gmock.h>

#include "helpers.hpp"

namespace {

using namespace testing_nmf;
using nmfuse::Loss;

// About `share` of the entries observed, fixed by the seed; row-major bytes.
Matrix<std::uint8_t> random_mask(index_t rows, index_t cols, unsigned seed, double share) {
  const Matrix<double> u = random_matrix(rows, cols, seed);
  Matrix<std::uint8_t> M(rows, cols, Layout::RowMajor);
  for (index_t i = 0; i < rows; ++i)
    for (index_t j = 0; j < cols; ++j) M(i, j) = u(i, j) < share;
  return M;
}

// The mask as the referee takes it: row-major 0/1 ints.
std::vector<int> referee_mask(const Matrix<std::uint8_t>& M) {
  std::vector<int> observed(M.size());
  for (index_t i = 0; i < M.rows(); ++i)
    for (index_t j = 0; j < M.cols(); ++j) observed[std::size_t(i * M.cols() + j)] = M(i, j);
  return observed;
}

nmfuse::Options mu_options(int rank, Loss loss, double beta) {
  nmfuse::Options opt = cpu_options(rank);
  opt.loss = loss;
  opt.beta = beta;
  opt.solver = nmfuse::Solver::MU;
  opt.init = nmfuse::Init::Custom;
  opt.tol = 0;
  return opt;
}

struct Divergence {
  Loss loss;
  double beta;
  const char* name;
};
void PrintTo(const Divergence& d, std::ostream* os) { *os << d.name; }

class Masked : public ::testing::TestWithParam<Divergence> {};

// The referee applies the mask to the ratio matrices of REFERENCE.md's update; every
// iteration must match it, for both layouts of V.
TEST_P(Masked, EveryIterationMatchesTheReferee) {
  const Divergence d = GetParam();
  for (Layout layout : {Layout::RowMajor, Layout::ColMajor}) {
    const Matrix<double> V = random_matrix(45, 38, 31, 0, layout);
    const Matrix<std::uint8_t> M = random_mask(45, 38, 32, 0.7);
    const Matrix<double> W0 = random_matrix(45, 5, 33), H0 = random_matrix(5, 38, 34);
    const std::vector<int> observed = referee_mask(M);
    const naive::Dense Vn = to_naive(V);
    naive::Dense W = to_naive(W0), H = to_naive(H0);
    nmfuse::Options opt = mu_options(5, d.loss, d.beta);
    for (int it = 1; it <= 4; ++it) {
      naive::beta_iteration(Vn, W, H, d.beta, {}, {}, &observed);
      opt.max_iter = it;
      const auto r = nmfuse::factorize(V.view(), opt, W0.view(), H0.view(), M.view());
      EXPECT_LT(relative_difference(r.W, W), 1e-10) << "W after iteration " << it;
      EXPECT_LT(relative_difference(r.H, H), 1e-10) << "H after iteration " << it;
      const double loss = naive::beta_loss(Vn, W, H, d.beta, &observed);
      EXPECT_NEAR(r.loss_history.back(), loss, 1e-9 * loss);
    }
  }
}

// What an unobserved entry holds cannot matter (to MU, and to HALS for Frobenius).
TEST_P(Masked, UnobservedEntriesDoNotMatter) {
  const Divergence d = GetParam();
  Matrix<double> V = random_matrix(40, 30, 35, 0);
  const Matrix<std::uint8_t> M = random_mask(40, 30, 36, 0.6);
  const Matrix<double> W0 = random_matrix(40, 4, 37), H0 = random_matrix(4, 30, 38);
  std::vector<nmfuse::Options> runs{mu_options(4, d.loss, d.beta)};
  if (d.loss == Loss::Frobenius) {
    runs.push_back(runs[0]);
    runs[1].solver = nmfuse::Solver::HALS;
  }
  for (nmfuse::Options opt : runs) {
    opt.max_iter = 30;
    Matrix<double> changed = V;
    int count = 0;
    for (index_t i = 0; i < 40; ++i)
      for (index_t j = 0; j < 30; ++j)
        if (!M(i, j)) changed(i, j) = 100.0 + ++count;
    ASSERT_GT(count, 100);
    const auto a = nmfuse::factorize(V.view(), opt, W0.view(), H0.view(), M.view());
    const auto b = nmfuse::factorize(changed.view(), opt, W0.view(), H0.view(), M.view());
    EXPECT_TRUE(std::equal(a.W.data(), a.W.data() + a.W.size(), b.W.data()));
    EXPECT_TRUE(std::equal(a.H.data(), a.H.data() + a.H.size(), b.H.data()));
    EXPECT_EQ(a.loss_history, b.loss_history);
    // Nor from the start the library computes (NNDSVDa here), in either layout.
    opt.init = nmfuse::Init::Auto;
    const auto c = nmfuse::factorize(V.view(), opt, M.view());
    const auto d = nmfuse::factorize(changed.view(), opt, M.view());
    Matrix<double> changed_columns(40, 30, Layout::ColMajor);
    for (index_t i = 0; i < 40; ++i)
      for (index_t j = 0; j < 30; ++j) changed_columns(i, j) = changed(i, j);
    const auto e = nmfuse::factorize(changed_columns.view(), opt, M.view());
    EXPECT_TRUE(std::equal(c.H.data(), c.H.data() + c.H.size(), d.H.data()));
    EXPECT_LT(relative_difference(e.H, c.H), 1e-10);
  }
}

// A mask that observes everything is no mask: the general masked path agrees with the
// dedicated ones to double rounding.
TEST_P(Masked, FullMaskIsNoMask) {
  const Divergence d = GetParam();
  const Matrix<double> V = random_matrix(30, 25, 39, 0);
  Matrix<std::uint8_t> all(30, 25, Layout::RowMajor);
  std::fill(all.data(), all.data() + all.size(), 1);
  const Matrix<double> W0 = random_matrix(30, 3, 40), H0 = random_matrix(3, 25, 41);
  nmfuse::Options opt = mu_options(3, d.loss, d.beta);
  opt.max_iter = 15;
  const auto plain = nmfuse::factorize(V.view(), opt, W0.view(), H0.view());
  const auto masked = nmfuse::factorize(V.view(), opt, W0.view(), H0.view(), all.view());
  EXPECT_LT(relative_difference(masked.W, plain.W), 1e-10);
  EXPECT_NEAR(masked.loss_history.back(), plain.loss_history.back(),
              1e-10 * plain.loss_history.back());
}

INSTANTIATE_TEST_SUITE_P(Divergences, Masked,
                         ::testing::Values(Divergence{Loss::Frobenius, 2, "frobenius"},
                                           Divergence{Loss::KullbackLeibler, 1, "kl"},
                                           Divergence{Loss::ItakuraSaito, 0, "itakura_saito"},
                                           Divergence{Loss::Beta, 1.5, "beta_1_5"}),
                         [](const auto& info) { return std::string(info.param.name); });

// HALS with a mask: every row its own Gram, against the referee, in both layouts, with
// regularization and extrapolation as the library runs them.
TEST(Mask, HalsEveryIterationMatchesTheReferee) {
  for (Layout layout : {Layout::RowMajor, Layout::ColMajor}) {
    const Matrix<double> V = random_matrix(41, 36, 48, 0, layout);
    const Matrix<std::uint8_t> M = random_mask(41, 36, 49, 0.65);
    const Matrix<double> W0 = random_matrix(41, 6, 50), H0 = random_matrix(6, 36, 51);
    const std::vector<int> observed = referee_mask(M);
    nmfuse::Options opt = cpu_options(6);
    opt.solver = nmfuse::Solver::HALS;
    opt.init = nmfuse::Init::Custom;
    opt.tol = 0;
    opt.hals_inner_max = 3;
    opt.hals_inner_tol = 0;
    opt.alpha_W = 0.01;
    opt.l1_ratio = 0.5;
    const naive::Penalty pen_W{0.01 * 0.5 * 36, 0.01 * 0.5 * 36}, pen_H{0.01 * 0.5 * 41, 0.01 * 0.5 * 41};
    const naive::Dense Vn = to_naive(V);
    naive::ExtrapolatedHals hals(Vn, to_naive(W0), to_naive(H0), &observed);
    for (int it = 1; it <= 5; ++it) {
      if (it > 1) hals.go_on(Vn);
      hals.iterate(Vn, pen_W, pen_H, 3);
      opt.max_iter = it;
      const auto r = nmfuse::factorize(V.view(), opt, W0.view(), H0.view(), M.view());
      EXPECT_LT(relative_difference(r.W, hals.W), 1e-10) << "W after iteration " << it;
      EXPECT_LT(relative_difference(r.H, hals.H), 1e-10) << "H after iteration " << it;
    }
  }
}

// A planted rank-3 matrix with 30% of its entries hidden: the fit predicts them. MU
// converges slowly (0.2% off after 20000 iterations here), HALS fast (1e-6 after 500);
// either is far from what ignoring the hidden entries gives (they are ~30% of ‖V‖).
TEST(Mask, HiddenEntriesOfAPlantedMatrixArePredicted) {
  const Matrix<double> V = product(random_matrix(60, 3, 42), random_matrix(3, 50, 43));
  const Matrix<std::uint8_t> M = random_mask(60, 50, 44, 0.7);
  for (auto [solver, iterations, tolerance] : {std::tuple{nmfuse::Solver::MU, 20000, 1e-2},
                                                std::tuple{nmfuse::Solver::HALS, 500, 1e-6}}) {
    nmfuse::Options opt = cpu_options(3);
    opt.solver = solver;
    opt.init = nmfuse::Init::Random;
    opt.max_iter = iterations;
    opt.tol = 0;
    nmfuse::Model<double> model(opt);
    const auto& r = model.fit(V.view(), M.view());
    const Matrix<double> WH = product(r.W, r.H);
    double hidden_error = 0, hidden_norm = 0;
    for (index_t i = 0; i < 60; ++i)
      for (index_t j = 0; j < 50; ++j)
        if (!M(i, j)) {
          hidden_error += std::pow(WH(i, j) - V(i, j), 2);
          hidden_norm += V(i, j) * V(i, j);
        }
    EXPECT_LT(std::sqrt(hidden_error / hidden_norm), tolerance) << nmfuse::to_string(solver);
  }
}

TEST(Mask, BadMasksAreNamed) {
  const Matrix<double> V = random_matrix(10, 8, 45);
  nmfuse::Options opt = cpu_options(2);
  const Matrix<std::uint8_t> wrong(8, 10, Layout::RowMajor);
  EXPECT_THROW(
      {
        try {
          nmfuse::factorize(V.view(), opt, wrong.view());
        } catch (const nmfuse::InvalidArgument& e) {
          EXPECT_THAT(e.what(), ::testing::HasSubstr("mask of observed entries is 8×10, but V is 10×8"));
          throw;
        }
      },
      nmfuse::InvalidArgument);
  const Matrix<std::uint8_t> none(10, 8, Layout::RowMajor);
  EXPECT_THROW(nmfuse::factorize(V.view(), opt, none.view()), nmfuse::InvalidArgument);
  // Itakura–Saito needs V > 0 only where it is observed.
  const Matrix<std::uint8_t> some = random_mask(10, 8, 46, 0.5);
  Matrix<double> with_zero = random_matrix(10, 8, 47);
  index_t zi = -1, zj = -1;
  for (index_t i = 0; i < 10 && zi < 0; ++i)
    for (index_t j = 0; j < 8; ++j)
      if (!some(i, j)) {
        zi = i, zj = j;
        break;
      }
  with_zero(zi, zj) = 0;
  opt.loss = Loss::ItakuraSaito;
  opt.max_iter = 5;
  EXPECT_NO_THROW(nmfuse::factorize(with_zero.view(), opt, some.view()));
}

}  // namespace
