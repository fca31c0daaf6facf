// Whole runs: exact recovery, monotone MU, stationarity, precision, determinism and the
// stopping rules.
#include <gmock/gmock.h>

#include "helpers.hpp"

namespace {

using namespace testing_nmf;

// Non-negative W (m×k) that is separable: row t is e_t, so NMF of W·H is unique up to
// scaling and order; the other rows are sparse random.
Matrix<double> planted_factor(index_t rows, int k, unsigned seed) {
  Matrix<double> A = random_matrix(rows, k, seed, 0.5);
  for (int t = 0; t < k; ++t)
    for (int s = 0; s < k; ++s) A(t, s) = t == s ? 1.0 : 0.0;
  return A;
}

TEST(Recovery, HalsRecoversPlantedFactorsExactlyInDouble) {
  const int k = 6;
  const Matrix<double> W = planted_factor(80, k, 1);
  const Matrix<double> Ht = planted_factor(60, k, 2);
  Matrix<double> H(k, 60, Layout::RowMajor);
  for (index_t t = 0; t < k; ++t)
    for (index_t j = 0; j < 60; ++j) H(t, j) = Ht(j, t);
  const Matrix<double> V = product(W, H);

  nmfuse::Options opt = cpu_options(k);
  opt.solver = nmfuse::Solver::HALS;
  opt.max_iter = 5000;
  opt.tol = 1e-12;
  const auto r = nmfuse::factorize(V.view(), opt);

  EXPECT_LT(relative_error(V, r.W, r.H), 1e-6);
  for (double cosine : best_matches(W, r.W)) EXPECT_GT(cosine, 1 - 1e-6);
  Matrix<double> foundHt(60, k, Layout::ColMajor);
  for (index_t t = 0; t < k; ++t)
    for (index_t j = 0; j < 60; ++j) foundHt(j, t) = r.H(t, j);
  for (double cosine : best_matches(Ht, foundHt)) EXPECT_GT(cosine, 1 - 1e-6);
}

// Multiplicative updates never increase their loss (for β outside [1, 2] thanks to the
// Févotte–Idier exponent); the loss is computed in double, so rounding allows an
// increase of a few ulps of the loss scale, nothing more.
struct Divergence {
  nmfuse::Loss loss;
  double beta;
  const char* name;
};

class MonotoneMu : public ::testing::TestWithParam<Divergence> {};

TEST_P(MonotoneMu, LossNeverIncreases) {
  const Divergence d = GetParam();
  const Matrix<double> V = random_matrix(70, 50, 3, d.beta <= 0 ? 0 : 0.3);
  nmfuse::Options opt = cpu_options(8);
  opt.loss = d.loss;
  opt.beta = d.beta;
  opt.solver = nmfuse::Solver::MU;
  opt.init = nmfuse::Init::Random;
  opt.max_iter = 300;
  opt.tol = 0;
  opt.check_every = 1;
  const auto r = nmfuse::factorize(V.view(), opt);
  ASSERT_EQ(r.loss_history.size(), 301u);
  EXPECT_LT(r.loss_history.back(), 0.9 * r.loss_history.front());  // it does descend
  for (std::size_t i = 1; i < r.loss_history.size(); ++i)
    EXPECT_LE(r.loss_history[i], r.loss_history[i - 1] * (1 + 1e-12)) << "at check " << i;
}

INSTANTIATE_TEST_SUITE_P(
    Divergences, MonotoneMu,
    ::testing::Values(Divergence{nmfuse::Loss::Frobenius, 2, "frobenius"},
                      Divergence{nmfuse::Loss::KullbackLeibler, 1, "kl"},
                      Divergence{nmfuse::Loss::ItakuraSaito, 0, "itakura_saito"},
                      Divergence{nmfuse::Loss::Beta, 0.5, "beta_0_5"},
                      Divergence{nmfuse::Loss::Beta, 1.5, "beta_1_5"},
                      Divergence{nmfuse::Loss::Beta, 3, "beta_3"}),
    [](const auto& info) { return std::string(info.param.name); });

// Loss::Beta at β = 2 and β = 1 is the Frobenius and KL path itself, bit for bit.
TEST(Divergences, BetaTwoAndOneAreFrobeniusAndKl) {
  const Matrix<double> V = random_matrix(40, 30, 15, 0.2);
  for (auto [beta, loss] : {std::pair{2.0, nmfuse::Loss::Frobenius},
                            std::pair{1.0, nmfuse::Loss::KullbackLeibler}}) {
    nmfuse::Options opt = cpu_options(4);
    opt.solver = nmfuse::Solver::MU;
    opt.max_iter = 25;
    opt.loss = loss;
    const auto named = nmfuse::factorize(V.view(), opt);
    opt.loss = nmfuse::Loss::Beta;
    opt.beta = beta;
    const auto general = nmfuse::factorize(V.view(), opt);
    EXPECT_TRUE(std::equal(named.W.data(), named.W.data() + named.W.size(), general.W.data()));
    EXPECT_TRUE(std::equal(named.H.data(), named.H.data() + named.H.size(), general.H.data()));
    EXPECT_EQ(named.loss_history, general.loss_history);
  }
}

// REFERENCE.md's optimality conditions for Frobenius: X ≥ 0, ∇ ≥ 0, X ⊙ ∇ = 0.
TEST(Stationarity, KktConditionsHoldAtConvergence) {
  const Matrix<double> V = random_matrix(40, 30, 4);
  nmfuse::Options opt = cpu_options(4);
  opt.max_iter = 4000;
  opt.tol = 0;
  const auto r = nmfuse::factorize(V.view(), opt);

  const naive::Dense Vn = to_naive(V), W = to_naive(r.W), H = to_naive(r.H);
  const naive::Dense Ht = naive::transpose(H), Wt = naive::transpose(W);
  const naive::Dense VHt = naive::multiply(Vn, Ht), WtV = naive::multiply(Wt, Vn);
  const naive::Dense gradW = naive::multiply(W, naive::multiply(H, Ht));
  const naive::Dense gradH = naive::multiply(naive::multiply(Wt, W), H);
  auto check = [](const naive::Dense& X, const naive::Dense& XQ, const naive::Dense& P) {
    double scale = 0, most_negative = 0, complementarity = 0;
    for (std::size_t i = 0; i < X.a.size(); ++i) {
      const double grad = XQ.a[i] - P.a[i];
      scale += P.a[i] * P.a[i];
      EXPECT_GE(X.a[i], 0.0);
      most_negative = std::min(most_negative, grad);
      complementarity += std::pow(X.a[i] * grad, 2);
    }
    scale = std::sqrt(scale);
    EXPECT_GT(most_negative, -1e-6 * scale);
    EXPECT_LT(std::sqrt(complementarity), 1e-6 * scale);
  };
  check(W, gradW, VHt);
  check(H, gradH, WtV);
}

// The same run in float and double. MU is a product of well-conditioned ratios: each
// step adds a relative error of about (n + k)·ε_float ≈ 4e-6 here, and 20 steps add up
// to under 1e-4; a wrong float path would differ at order 1.
TEST(Precision, FloatAndDoubleAgreeToFloatPrecision) {
  const Matrix<double> V = random_matrix(60, 40, 5, 0.1);
  const Matrix<double> W0 = random_matrix(60, 5, 6), H0 = random_matrix(5, 40, 7);
  for (nmfuse::Loss loss : {nmfuse::Loss::Frobenius, nmfuse::Loss::KullbackLeibler}) {
    nmfuse::Options opt = cpu_options(5);
    opt.loss = loss;
    opt.solver = nmfuse::Solver::MU;
    opt.init = nmfuse::Init::Custom;
    opt.max_iter = 20;
    opt.tol = 0;
    const auto d = nmfuse::factorize(V.view(), opt, W0.view(), H0.view());
    const Matrix<float> Vf = cast<float>(V), W0f = cast<float>(W0), H0f = cast<float>(H0);
    const auto f = nmfuse::factorize(Vf.view(), opt, W0f.view(), H0f.view());
    EXPECT_LT(relative_difference(f.W, d.W), 2e-4) << nmfuse::to_string(loss);
    EXPECT_LT(relative_difference(f.H, d.H), 2e-4) << nmfuse::to_string(loss);
    EXPECT_NEAR(f.loss_history.back(), d.loss_history.back(), 1e-4 * d.loss_history.back());
  }
}

TEST(Determinism, SameSeedSameFactorsOtherSeedOtherFactors) {
  const Matrix<float> V = random_matrix<float>(50, 40, 8);
  nmfuse::Options opt = cpu_options(5);
  opt.init = nmfuse::Init::Random;
  opt.max_iter = 30;
  opt.seed = 42;
  const auto a = nmfuse::factorize(V.view(), opt);
  const auto b = nmfuse::factorize(V.view(), opt);
  EXPECT_TRUE(std::equal(a.W.data(), a.W.data() + a.W.size(), b.W.data()));
  EXPECT_TRUE(std::equal(a.H.data(), a.H.data() + a.H.size(), b.H.data()));
  opt.seed = 43;
  const auto c = nmfuse::factorize(V.view(), opt);
  EXPECT_GT(relative_difference(c.W, a.W), 1e-3);
}

// V stored with padding between rows or columns gives the same factors as packed V.
TEST(Layouts, LeadingDimensionWithPadding) {
  const Matrix<double> packed = random_matrix(37, 23, 16, 0.1);
  for (Layout layout : {Layout::RowMajor, Layout::ColMajor}) {
    const index_t ld = (layout == Layout::RowMajor ? 23 : 37) + 5;
    std::vector<double> padded(std::size_t(ld * (layout == Layout::RowMajor ? 37 : 23)), -1.0);
    const nmfuse::DenseView<double> view(padded.data(), 37, 23, layout, ld);
    for (index_t i = 0; i < 37; ++i)
      for (index_t j = 0; j < 23; ++j) view(i, j) = packed(i, j);
    for (nmfuse::Loss loss : {nmfuse::Loss::Frobenius, nmfuse::Loss::KullbackLeibler}) {
      nmfuse::Options opt = cpu_options(4);
      opt.loss = loss;
      opt.max_iter = 20;
      const auto a = nmfuse::factorize(packed.view(), opt);
      const auto b = nmfuse::factorize(view, opt);
      // Only the BLAS kernels' blocking differs: double rounding, amplified a little.
      EXPECT_LT(relative_difference(b.W, a.W), 1e-10) << nmfuse::to_string(loss);
      EXPECT_LT(relative_difference(b.H, a.H), 1e-10) << nmfuse::to_string(loss);
    }
  }
}

// The smallest problems: 1×1, and the rank equal to min(m, n).
TEST(Layouts, TinyMatricesAndFullRank) {
  const Matrix<double> one = random_matrix(1, 1, 17);
  nmfuse::Options opt = cpu_options(1);
  opt.max_iter = 50;
  for (nmfuse::Solver solver : {nmfuse::Solver::MU, nmfuse::Solver::HALS}) {
    opt.solver = solver;
    const auto r = nmfuse::factorize(one.view(), opt);
    EXPECT_NEAR(r.W(0, 0) * r.H(0, 0), one(0, 0), 1e-6 * one(0, 0));
  }
  const Matrix<double> V = random_matrix(6, 4, 18);
  opt = cpu_options(4);
  opt.max_iter = 3000;
  opt.tol = 0;
  const auto r = nmfuse::factorize(V.view(), opt);
  EXPECT_LT(relative_error(V, r.W, r.H), 1e-3);  // rank 4 fits a 6×4 matrix (nearly) exactly
}

// Past min(m, n) only a random start has enough components: Init::Auto takes it, as
// scikit-learn does, and the loss still falls with every solver.
TEST(Layouts, RanksAboveTheSmallerSideStartAtRandom) {
  const Matrix<double> V = random_matrix(1, 10, 19);
  nmfuse::Options opt = cpu_options(10);
  EXPECT_EQ(nmfuse::resolved_init(opt, 1, 10), nmfuse::Init::Random);
  EXPECT_EQ(nmfuse::resolved_init(opt, 10, 10), nmfuse::Init::NNDSVDa);
  for (nmfuse::Solver solver : {nmfuse::Solver::MU, nmfuse::Solver::HALS}) {
    opt.solver = solver;
    const auto r = nmfuse::factorize(V.view(), opt);
    EXPECT_LT(r.loss_history.back(), r.loss_history.front()) << nmfuse::to_string(solver);
    EXPECT_EQ(r.W.cols(), 10);
  }
}

// A dead component (component 1: zero in W and H) restarts by default; with
// hals_restart_dead off it stays dead, as in scikit-learn's cd, and the others go on.
TEST(Hals, DeadComponentsRestartUnlessAskedNotTo) {
  const Matrix<double> V = random_matrix(40, 30, 21);
  Matrix<double> W0 = random_matrix(40, 4, 22), H0 = random_matrix(4, 30, 23);
  for (index_t i = 0; i < 40; ++i) W0(i, 1) = 0;
  for (index_t j = 0; j < 30; ++j) H0(1, j) = 0;
  nmfuse::Options opt = cpu_options(4);
  opt.solver = nmfuse::Solver::HALS;
  opt.init = nmfuse::Init::Custom;
  opt.max_iter = 5;
  opt.tol = 0;
  const auto revived = nmfuse::factorize(V.view(), opt, W0.view(), H0.view());
  opt.hals_restart_dead = false;
  const auto dead = nmfuse::factorize(V.view(), opt, W0.view(), H0.view());
  double revived_sum = 0, dead_sum = 0;
  for (index_t i = 0; i < 40; ++i) revived_sum += revived.W(i, 1), dead_sum += dead.W(i, 1);
  for (index_t j = 0; j < 30; ++j) revived_sum += revived.H(1, j), dead_sum += dead.H(1, j);
  EXPECT_GT(revived_sum, 0);
  EXPECT_EQ(dead_sum, 0);
  EXPECT_LT(dead.loss_history.back(), dead.loss_history.front());
}

TEST(Stopping, ToleranceStopsEarlyAndReportsConvergence) {
  const Matrix<double> V = random_matrix(50, 40, 9);
  nmfuse::Options opt = cpu_options(5);
  opt.max_iter = 1000;
  opt.tol = 1e-3;
  const auto r = nmfuse::factorize(V.view(), opt);
  EXPECT_TRUE(r.converged);
  EXPECT_EQ(r.stop_reason, nmfuse::StopReason::Converged);
  EXPECT_LT(r.iterations, 1000);
  EXPECT_EQ(r.iterations % opt.check_every, 0);
  EXPECT_EQ(r.loss_iterations.back(), r.iterations);
  EXPECT_EQ(r.device, nmfuse::Device::Cpu);
  EXPECT_GT(r.seconds, 0);
}

TEST(Stopping, CallbackSeesEveryCheckAndCanStop) {
  const Matrix<double> V = random_matrix(50, 40, 10);
  nmfuse::Options opt = cpu_options(5);
  opt.max_iter = 100;
  opt.tol = 0;
  opt.check_every = 5;
  std::vector<int> seen;
  opt.on_progress = [&](const nmfuse::Progress& p) {
    seen.push_back(p.iteration);
    return p.iteration < 20;
  };
  const auto r = nmfuse::factorize(V.view(), opt);
  EXPECT_EQ(seen, (std::vector<int>{5, 10, 15, 20}));
  EXPECT_EQ(r.iterations, 20);
  EXPECT_EQ(r.stop_reason, nmfuse::StopReason::Callback);
  EXPECT_FALSE(r.converged);
}

TEST(Stopping, ZeroIterationsReturnsTheInitialFactors) {
  const Matrix<double> V = random_matrix(30, 20, 11);
  const Matrix<double> W0 = random_matrix(30, 3, 12, 0, Layout::ColMajor);
  const Matrix<double> H0 = random_matrix(3, 20, 13);
  nmfuse::Options opt = cpu_options(3);
  opt.init = nmfuse::Init::Custom;
  opt.max_iter = 0;
  const auto r = nmfuse::factorize(V.view(), opt, W0.view(), H0.view());
  EXPECT_EQ(relative_difference(r.W, W0), 0.0);
  EXPECT_EQ(relative_difference(r.H, H0), 0.0);
  EXPECT_EQ(r.iterations, 0);
  ASSERT_EQ(r.loss_history.size(), 1u);
  EXPECT_NEAR(r.loss_history[0], naive::frobenius_loss(to_naive(V), to_naive(W0), to_naive(H0)),
              1e-9 * r.loss_history[0]);
}

// L1 on both factors (so that neither can absorb the other's scale) drives entries to
// exactly zero; more of it, more zeros. Enough of it kills components: a dead one (its
// column of W all zero) counts as zeros in W and H alike, since HALS restarts its row of
// H with values that multiply nothing.
TEST(Regularization, L1MakesTheFactorsSparser) {
  const Matrix<double> V = random_matrix(60, 50, 14);
  auto zeros = [&](double alpha) {
    nmfuse::Options opt = cpu_options(6);
    opt.alpha_W = alpha;
    opt.l1_ratio = 1;
    opt.max_iter = 300;
    const auto r = nmfuse::factorize(V.view(), opt);
    index_t count = 0;
    for (index_t t = 0; t < 6; ++t) {
      index_t in_W = 0, in_H = 0;
      for (index_t i = 0; i < V.rows(); ++i) in_W += r.W(i, t) == 0.0;
      for (index_t j = 0; j < V.cols(); ++j) in_H += r.H(t, j) == 0.0;
      count += in_W == V.rows() ? V.rows() + V.cols() : in_W + in_H;
    }
    return count;
  };
  const auto none = zeros(0), some = zeros(0.005), more = zeros(0.04);
  EXPECT_GT(some, none + 20);
  EXPECT_GT(more, some + 20);
}

}  // namespace

// Every run reports Σ v² over the entries it fits, the scale of its relative error:
// all of a dense V, the observed ones of a masked V or of a sparse V with unknown
// absent entries, the stored ones of a sparse V with absent zeros.
TEST(DataNorm, EachRunReportsTheSquaredNormOfWhatItFits) {
  const Matrix<double> V = random_matrix(30, 20, 61, 0.3);
  std::vector<std::uint8_t> observed(V.size());
  double all = 0, seen = 0;
  for (index_t i = 0; i < 30; ++i)
    for (index_t j = 0; j < 20; ++j) {
      observed[std::size_t(i * 20 + j)] = (i + j) % 3 != 0;
      all += V(i, j) * V(i, j);
      if ((i + j) % 3 != 0) seen += V(i, j) * V(i, j);
    }
  const nmfuse::MaskView mask(observed.data(), 30, 20, Layout::RowMajor);
  nmfuse::Options opt = cpu_options(3);
  opt.max_iter = 2;
  const double tol = 1e-14 * all;
  EXPECT_NEAR(nmfuse::factorize(V.view(), opt).data_squared_norm, all, tol);
  EXPECT_NEAR(nmfuse::factorize_many(V.view(), opt, 2)[1].data_squared_norm, all, tol);
  EXPECT_NEAR(nmfuse::factorize(V.view(), opt, mask).data_squared_norm, seen, tol);
  const auto S = to_csr<double>(V);
  EXPECT_NEAR(nmfuse::factorize(S.view(), opt).data_squared_norm, all, tol);
  const auto Seen = to_csr<double>(V, [&](index_t i, index_t j) { return (i + j) % 3 != 0; });
  EXPECT_NEAR(nmfuse::factorize(Seen.view(nmfuse::Absent::Unknown), opt).data_squared_norm,
              seen, tol);
}
