// Each initialization against its definition (REFERENCE.md, "Initializations").
#include <numeric>

#include "core/lapack.hpp"
#include "helpers.hpp"

namespace {

using namespace testing_nmf;

nmfuse::Result<double> initial(const Matrix<double>& V, int k, nmfuse::Init init,
                               std::uint64_t seed = 0) {
  nmfuse::Options opt = cpu_options(k);
  opt.init = init;
  opt.max_iter = 0;
  opt.seed = seed;
  return nmfuse::factorize(V.view(), opt);
}

double mean(const Matrix<double>& V) {
  return std::accumulate(V.data(), V.data() + V.size(), 0.0) / double(V.size());
}

TEST(Init, RandomIsScaledHalfNormal) {
  const Matrix<double> V = random_matrix(400, 600, 1);
  const int k = 10;
  const auto r = initial(V, k, nmfuse::Init::Random, 5);
  // E|N(0,1)| = √(2/π) ≈ 0.80 and the half-normal's sd is 0.60: the mean of 4000 (W) or
  // 6000 (H) samples is within 4% of it but with odds below 1e-3 (3.3σ and more).
  const double expected = std::sqrt(mean(V) / k) * std::sqrt(2 / M_PI);
  for (const Matrix<double>* X : {&r.W, &r.H}) {
    EXPECT_GE(*std::min_element(X->data(), X->data() + X->size()), 0.0);
    EXPECT_NEAR(mean(*X), expected, 0.04 * expected);
  }
}

// NNDSVD from the full SVD by LAPACK, written from the definition. V has rank 6, so the
// randomized SVD with 10 extra columns is exact to rounding.
TEST(Init, NndsvdFollowsItsDefinition) {
  const index_t m = 30, n = 24;
  const int k = 4;
  const Matrix<double> V = product(random_matrix(m, 6, 2), random_matrix(6, n, 3),
                                   Layout::ColMajor);

  Matrix<double> A = V;  // dgesdd overwrites its input
  std::vector<double> S(n), U(std::size_t(m) * n), VT(std::size_t(n) * n);
  std::vector<int> iwork(8 * n);
  int mi = int(m), ni = int(n), info = 0, lwork = -1;
  double size = 0;
  const char jobz = 'S';
  dgesdd_(&jobz, &mi, &ni, A.data(), &mi, S.data(), U.data(), &mi, VT.data(), &ni, &size,
          &lwork, iwork.data(), &info, 1);
  std::vector<double> work(static_cast<std::size_t>(size));
  lwork = int(size);
  dgesdd_(&jobz, &mi, &ni, A.data(), &mi, S.data(), U.data(), &mi, VT.data(), &ni,
          work.data(), &lwork, iwork.data(), &info, 1);
  ASSERT_EQ(info, 0);

  Matrix<double> W(m, k, Layout::ColMajor), H(k, n, Layout::RowMajor);
  for (int j = 0; j < k; ++j) {
    std::vector<double> x(m), y(n);
    for (index_t i = 0; i < m; ++i) x[i] = U[i + j * m];
    for (index_t i = 0; i < n; ++i) y[i] = VT[j + i * n];
    auto pos = [](std::vector<double> v, double sign) {
      for (double& e : v) e = std::max(0.0, sign * e);
      return v;
    };
    auto nrm = [](const std::vector<double>& v) {
      return std::sqrt(std::inner_product(v.begin(), v.end(), v.begin(), 0.0));
    };
    std::vector<double> u, v;
    double scale;
    if (j == 0) {
      u = x;
      v = y;
      for (double& e : u) e = std::fabs(e);
      for (double& e : v) e = std::fabs(e);
      scale = std::sqrt(S[0]);
    } else {
      const auto xp = pos(x, 1), xn = pos(x, -1), yp = pos(y, 1), yn = pos(y, -1);
      const double mp = nrm(xp) * nrm(yp), mn = nrm(xn) * nrm(yn);
      u = mp > mn ? xp : xn;
      v = mp > mn ? yp : yn;
      const double nu = nrm(u), nv = nrm(v);
      for (double& e : u) e /= nu;
      for (double& e : v) e /= nv;
      scale = std::sqrt(S[j] * std::max(mp, mn));
    }
    for (index_t i = 0; i < m; ++i) W(i, j) = scale * u[i] < 1e-6 ? 0 : scale * u[i];
    for (index_t i = 0; i < n; ++i) H(j, i) = scale * v[i] < 1e-6 ? 0 : scale * v[i];
  }

  const auto r = initial(V, k, nmfuse::Init::NNDSVD);
  EXPECT_LT(relative_difference(r.W, W), 1e-9);
  EXPECT_LT(relative_difference(r.H, H), 1e-9);
  EXPECT_GT(std::count(r.W.data(), r.W.data() + r.W.size(), 0.0), 0);  // it has zeros

  // NNDSVDa fills those zeros with mean(V); NNDSVDar with small positive noise.
  const auto a = initial(V, k, nmfuse::Init::NNDSVDa);
  const auto ar = initial(V, k, nmfuse::Init::NNDSVDar);
  const double avg = mean(V);
  for (std::size_t i = 0; i < r.W.size(); ++i) {
    if (r.W.data()[i] == 0) {
      EXPECT_NEAR(a.W.data()[i], avg, 1e-14 * avg);  // Σ V in another order
      EXPECT_GT(ar.W.data()[i], 0);
      EXPECT_LT(ar.W.data()[i], 0.06 * avg);  // |N(0,1)| < 6
    } else {
      EXPECT_EQ(a.W.data()[i], r.W.data()[i]);
      EXPECT_EQ(ar.W.data()[i], r.W.data()[i]);
    }
  }
}

TEST(Init, AutoIsNndsvda) {
  const Matrix<double> V = random_matrix(30, 20, 4);
  const auto a = initial(V, 3, nmfuse::Init::Auto), b = initial(V, 3, nmfuse::Init::NNDSVDa);
  EXPECT_EQ(relative_difference(a.W, b.W), 0.0);
}

}  // namespace
