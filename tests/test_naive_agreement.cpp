// The optimized backend against the plain-loop referee, one iteration at a time, from
// the same custom start: every solver, both layouts of V, fast-path and large ranks,
// with and without regularization.
#include "helpers.hpp"

namespace {

using namespace testing_nmf;

struct Case {
  const char* name;
  nmfuse::Loss loss;
  nmfuse::Solver solver;
  int rank;
  Layout layout;
  double alpha;     // alpha_W; alpha_H is twice it, l1_ratio 0.3
  double beta = 0;    // of Loss::Beta
  bool dead = false;  // start with component 1 dead (zero in W0 and H0)
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class NaiveAgreement : public ::testing::TestWithParam<Case> {};

TEST_P(NaiveAgreement, EveryIterationMatchesTheReferee) {
  const Case c = GetParam();
  const index_t m = 90, n = 75;
  const double beta = c.loss == nmfuse::Loss::Beta ? c.beta : c.loss == nmfuse::Loss::ItakuraSaito ? 0 : 2;
  // β ≤ 0 needs V positive: no zeros there.
  const Matrix<double> V = random_matrix(m, n, 11, beta <= 0 ? 0 : 0.2, c.layout);
  Matrix<double> W0 = random_matrix(m, c.rank, 12), H0 = random_matrix(c.rank, n, 13);
  if (c.dead) {
    for (index_t i = 0; i < m; ++i) W0(i, 1) = 0;
    for (index_t j = 0; j < n; ++j) H0(1, j) = 0;
  }

  nmfuse::Options opt = cpu_options(c.rank);
  opt.loss = c.loss;
  opt.beta = c.beta;
  opt.solver = c.solver;
  opt.init = nmfuse::Init::Custom;
  opt.alpha_W = c.alpha;
  opt.alpha_H = 2 * c.alpha;
  opt.l1_ratio = 0.3;
  opt.hals_inner_max = 3;
  opt.hals_inner_tol = 0;  // always the full 3 sweeps, as the referee does (extrapolating)
  opt.tol = 0;

  // REFERENCE.md's scaling: l1_W = α_W·ρ·n, l2_W = α_W·(1−ρ)·n, and m for H.
  const naive::Penalty pen_W{c.alpha * 0.3 * n, c.alpha * 0.7 * n};
  const naive::Penalty pen_H{2 * c.alpha * 0.3 * m, 2 * c.alpha * 0.7 * m};
  const naive::Dense Vn = to_naive(V);
  naive::Dense W = to_naive(W0), H = to_naive(H0);
  naive::ExtrapolatedHals hals(Vn, W, H);
  for (int it = 1; it <= 6; ++it) {
    if (c.loss == nmfuse::Loss::KullbackLeibler) {
      naive::kl_iteration(Vn, W, H, pen_W, pen_H);
    } else if (c.loss != nmfuse::Loss::Frobenius) {
      naive::beta_iteration(Vn, W, H, beta, pen_W, pen_H);
    } else if (c.solver == nmfuse::Solver::MU) {
      naive::mu_iteration(Vn, W, H, pen_W, pen_H);
    } else {
      if (it > 1) hals.go_on(Vn);
      hals.iterate(Vn, pen_W, pen_H, 3);
      W = hals.W;
      H = hals.H;
    }
    opt.max_iter = it;
    const auto r = nmfuse::factorize(V.view(), opt, W0.view(), H0.view());
    // Each step is a few products of length ≤ max(m, n) in double: rounding of order
    // 100·ε ≈ 2e-14 a step, amplified by the divisions; 1e-10 leaves room for that and
    // fails on any wrong index, transpose or penalty.
    EXPECT_LT(relative_difference(r.W, W), 1e-10) << "W after iteration " << it;
    EXPECT_LT(relative_difference(r.H, H), 1e-10) << "H after iteration " << it;
    const double expected_loss = c.loss == nmfuse::Loss::Frobenius ? naive::frobenius_loss(Vn, W, H)
                                 : c.loss == nmfuse::Loss::KullbackLeibler ? naive::kl_loss(Vn, W, H)
                                                                           : naive::beta_loss(Vn, W, H, beta);
    EXPECT_NEAR(r.loss_history.back(), expected_loss, 1e-9 * expected_loss);
  }
}

using nmfuse::Loss;
using nmfuse::Solver;
INSTANTIATE_TEST_SUITE_P(
    Solvers, NaiveAgreement,
    ::testing::Values(
        Case{"mu_k5_row", Loss::Frobenius, Solver::MU, 5, Layout::RowMajor, 0},
        Case{"mu_k16_col", Loss::Frobenius, Solver::MU, 16, Layout::ColMajor, 0},
        Case{"mu_k70_reg", Loss::Frobenius, Solver::MU, 70, Layout::RowMajor, 0.01},
        Case{"mu_k7_reg", Loss::Frobenius, Solver::MU, 7, Layout::ColMajor, 0.01},
        Case{"mu_k20_col", Loss::Frobenius, Solver::MU, 20, Layout::ColMajor, 0},
        Case{"mu_k40_row", Loss::Frobenius, Solver::MU, 40, Layout::RowMajor, 0},
        Case{"hals_k5_row", Loss::Frobenius, Solver::HALS, 5, Layout::RowMajor, 0},
        Case{"hals_k33_col", Loss::Frobenius, Solver::HALS, 33, Layout::ColMajor, 0},
        Case{"hals_k70_reg", Loss::Frobenius, Solver::HALS, 70, Layout::RowMajor, 0.01},
        Case{"hals_k9_reg", Loss::Frobenius, Solver::HALS, 9, Layout::ColMajor, 0.01},
        Case{"hals_k6_dead", Loss::Frobenius, Solver::HALS, 6, Layout::RowMajor, 0, 0, true},
        Case{"hals_k24_dead_reg", Loss::Frobenius, Solver::HALS, 24, Layout::ColMajor, 0.01, 0, true},
        Case{"kl_k5_row", Loss::KullbackLeibler, Solver::MU, 5, Layout::RowMajor, 0},
        Case{"kl_k12_col_reg", Loss::KullbackLeibler, Solver::MU, 12, Layout::ColMajor, 0.01},
        Case{"kl_k24_row", Loss::KullbackLeibler, Solver::MU, 24, Layout::RowMajor, 0},
        Case{"kl_k70", Loss::KullbackLeibler, Solver::MU, 70, Layout::ColMajor, 0},
        Case{"is_k5_row", Loss::ItakuraSaito, Solver::MU, 5, Layout::RowMajor, 0},
        Case{"beta_0_5_k9_col_reg", Loss::Beta, Solver::MU, 9, Layout::ColMajor, 0.01, 0.5},
        Case{"beta_1_5_k33_row", Loss::Beta, Solver::MU, 33, Layout::RowMajor, 0, 1.5},
        Case{"beta_3_k70_col", Loss::Beta, Solver::MU, 70, Layout::ColMajor, 0, 3}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
