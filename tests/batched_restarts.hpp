#pragma once
// factorize_many() against lone runs, on whichever device the including test names:
// each batched restart must take its lone run's steps and stop where it stops, while
// the others go on (the starts differ, so the restarts stop at different iterations),
// and groups must give what one batch gives.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "helpers.hpp"
#include "nmfuse/errors.hpp"

namespace testing_nmf {

struct RestartCase {
  const char* name;
  nmfuse::Loss loss;
  nmfuse::Solver solver;
  bool masked;  // dense: a mask; sparse: absent entries unknown
  bool sparse;
  int rank;
};

inline void PrintTo(const RestartCase& c, std::ostream* os) { *os << c.name; }

inline const RestartCase kRestartCases[] = {
    {"mu", nmfuse::Loss::Frobenius, nmfuse::Solver::MU, false, false, 4},
    {"hals", nmfuse::Loss::Frobenius, nmfuse::Solver::HALS, false, false, 4},
    {"hals_wide", nmfuse::Loss::Frobenius, nmfuse::Solver::HALS, false, false, 16},
    {"kl", nmfuse::Loss::KullbackLeibler, nmfuse::Solver::MU, false, false, 4},
    {"beta_1_5", nmfuse::Loss::Beta, nmfuse::Solver::MU, false, false, 4},
    {"masked_mu", nmfuse::Loss::Frobenius, nmfuse::Solver::MU, true, false, 4},
    {"masked_hals", nmfuse::Loss::Frobenius, nmfuse::Solver::HALS, true, false, 4},
    {"sparse_hals", nmfuse::Loss::Frobenius, nmfuse::Solver::HALS, false, true, 4},
    {"sparse_mu_wide", nmfuse::Loss::Frobenius, nmfuse::Solver::MU, false, true, 16},
    {"sparse_kl", nmfuse::Loss::KullbackLeibler, nmfuse::Solver::MU, false, true, 4},
    {"sparse_unknown_hals", nmfuse::Loss::Frobenius, nmfuse::Solver::HALS, true, true, 4},
};

// The data of a case: 130×97 with a fifth of the entries zero (or unobserved).
template <class T>
struct RestartData {
  Matrix<T> V = random_matrix<T>(130, 97, 61, 0.2);
  Matrix<std::uint8_t> observed = [] {
    const Matrix<double> u = random_matrix(130, 97, 62);
    Matrix<std::uint8_t> m(130, 97, Layout::ColMajor);  // another layout than V's
    for (index_t i = 0; i < 130; ++i)
      for (index_t j = 0; j < 97; ++j) m(i, j) = u(i, j) >= 0.2;
    return m;
  }();
  nmfuse::CsrMatrix<T, std::int32_t> S = [this] {
    auto csr = to_csr<T, std::int32_t>(V);
    return csr;
  }();
};

template <class T>
std::vector<nmfuse::Result<T>> many(const RestartData<T>& d, const RestartCase& c,
                                    const nmfuse::Options& opt, int restarts) {
  if (c.sparse) {
    auto view = d.S.view();
    view.absent = c.masked ? nmfuse::Absent::Unknown : nmfuse::Absent::Zero;
    return nmfuse::factorize_many(view, opt, restarts);
  }
  if (c.masked) return nmfuse::factorize_many(d.V.view(), opt, restarts, d.observed.view());
  return nmfuse::factorize_many(d.V.view(), opt, restarts);
}

template <class T>
nmfuse::Result<T> lone(const RestartData<T>& d, const RestartCase& c, const nmfuse::Options& opt) {
  if (c.sparse) {
    auto view = d.S.view();
    view.absent = c.masked ? nmfuse::Absent::Unknown : nmfuse::Absent::Zero;
    return nmfuse::factorize(view, opt);
  }
  if (c.masked) return nmfuse::factorize(d.V.view(), opt, d.observed.view());
  return nmfuse::factorize(d.V.view(), opt);
}

inline nmfuse::Options restart_case_options(const RestartCase& c, nmfuse::Device device) {
  nmfuse::Options opt;
  opt.rank = c.rank;
  opt.loss = c.loss;
  opt.solver = c.solver;
  opt.device = device;
  opt.max_iter = 100;
  opt.tol = 1e-3;       // loose, and checked at every iteration, so that the restarts
  opt.check_every = 1;  // stop at iterations of their own
  opt.seed = 7;
  return opt;
}

// `tolerance`: of the factors, relative to their largest entry. Where the batch's
// product has the lone run's width per column (streamed products on the CPU up to
// 64 columns, the emulated GPU's exact sums), the same arithmetic in the same order
// gives 0.
template <class T>
void expect_restarts_match_lone_runs(const RestartCase& c, nmfuse::Device device,
                                     double tolerance) {
  const RestartData<T> d;
  const nmfuse::Options opt = restart_case_options(c, device);
  constexpr int kRestarts = 5;
  const auto runs = many(d, c, opt, kRestarts);
  ASSERT_EQ(runs.size(), std::size_t(kRestarts));
  std::set<int> stops;
  for (int r = 0; r < kRestarts; ++r) {
    SCOPED_TRACE("restart " + std::to_string(r));
    const nmfuse::Result<T> alone = lone(d, c, nmfuse::restart_options(opt, r));
    EXPECT_EQ(runs[r].iterations, alone.iterations);
    EXPECT_EQ(runs[r].stop_reason, alone.stop_reason);
    EXPECT_EQ(runs[r].device, device);
    EXPECT_LE(relative_difference(runs[r].W, alone.W), tolerance);
    EXPECT_LE(relative_difference(runs[r].H, alone.H), tolerance);
    ASSERT_EQ(runs[r].loss_history.size(), alone.loss_history.size());
    for (std::size_t i = 0; i < alone.loss_history.size(); ++i)
      EXPECT_NEAR(runs[r].loss_history[i], alone.loss_history[i],
                  tolerance * alone.loss_history[0]);
    stops.insert(runs[r].iterations);
  }
  // Restarts left the batch while others ran on: the test saw a batch shrink.
  EXPECT_GE(stops.size(), 2u) << "every restart stopped at iteration " << *stops.begin();

  // Groups of 2, 2 and 1 give what one batch of 5 gives.
  nmfuse::Options grouped = opt;
  grouped.restarts_at_once = 2;
  const auto in_groups = many(d, c, grouped, kRestarts);
  ASSERT_EQ(in_groups.size(), std::size_t(kRestarts));
  for (int r = 0; r < kRestarts; ++r) {
    EXPECT_EQ(in_groups[r].iterations, runs[r].iterations);
    EXPECT_LE(relative_difference(in_groups[r].W, runs[r].W), tolerance);
    EXPECT_LE(relative_difference(in_groups[r].H, runs[r].H), tolerance);
  }
}

}  // namespace testing_nmf
