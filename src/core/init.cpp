#include "init.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "cpu/blas.hpp"
#include "lapack.hpp"
#include "nmfuse/errors.hpp"
#include "rng.hpp"

namespace nmfuse::core {
namespace {

// scikit-learn's threshold below which NNDSVD entries become exact zeros.
constexpr double kNndsvdZero = 1e-6;

void check_lapack(const char* routine, int info) {
  if (info != 0)
    throw Error(std::string("LAPACK ") + routine + " failed during initialization, info = " +
                std::to_string(info));
}

// Replaces the columns of A (rows×cols, column-major, rows ≥ cols) by an orthonormal
// basis of their span.
void orthonormalize(std::vector<double>& A, int rows, int cols) {
  std::vector<double> tau(cols);
  int info = 0, query = -1;
  double size = 0;
  dgeqrf_(&rows, &cols, A.data(), &rows, tau.data(), &size, &query, &info);
  std::vector<double> work(std::max<std::size_t>(1, std::size_t(size)));
  int lwork = int(work.size());
  dgeqrf_(&rows, &cols, A.data(), &rows, tau.data(), work.data(), &lwork, &info);
  check_lapack("dgeqrf", info);
  dorgqr_(&rows, &cols, &cols, A.data(), &rows, tau.data(), &size, &query, &info);
  work.resize(std::max<std::size_t>(work.size(), std::size_t(size)));
  lwork = int(work.size());
  dorgqr_(&rows, &cols, &cols, A.data(), &rows, tau.data(), work.data(), &lwork, &info);
  check_lapack("dorgqr", info);
}

// out = V·X (s = W) or Vᵀ·X (s = H), in double around the backend's own precision.
template <class T>
std::vector<double> multiply(Backend<T>& b, Side s, const std::vector<double>& X, int cols) {
  const std::vector<T> x(X.begin(), X.end());
  std::vector<T> out(std::size_t(b.factor_rows(s)) * cols);
  b.multiply_host(s, x.data(), cols, out.data());
  return {out.begin(), out.end()};
}

}  // namespace

template <class T>
TruncatedSvd truncated_svd(Backend<T>& b, int k, std::uint64_t seed) {
  const int m = int(b.rows()), n = int(b.cols());
  const int smaller = std::min(m, n);
  const int l = std::min(k + 10, smaller);              // oversampled width
  const int power_iterations = k < 0.1 * smaller ? 7 : 4;  // scikit-learn's choice

  Rng rng(seed);
  std::vector<double> Z(std::size_t(n) * l);
  for (double& z : Z) z = rng.normal();
  std::vector<double> Y = multiply(b, Side::W, Z, l);  // V·Ω, m×l
  for (int it = 0; it < power_iterations; ++it) {
    orthonormalize(Y, m, l);
    Z = multiply(b, Side::H, Y, l);  // Vᵀ·Y, n×l
    orthonormalize(Z, n, l);
    Y = multiply(b, Side::W, Z, l);
  }
  orthonormalize(Y, m, l);                  // Y = Q, the range of V
  Z = multiply(b, Side::H, Y, l);           // Z = Vᵀ·Q = Bᵀ, n×l

  // Z = Uz·S·Vzᵀ, so V ≈ Q·B = (Q·Vz)·S·Uzᵀ.
  std::vector<double> Uz(std::size_t(n) * l), S(l), VzT(std::size_t(l) * l);
  std::vector<int> iwork(8 * std::size_t(l));
  int info = 0, query = -1;
  double size = 0;
  const char jobz = 'S';
  dgesdd_(&jobz, &n, &l, Z.data(), &n, S.data(), Uz.data(), &n, VzT.data(), &l, &size,
          &query, iwork.data(), &info, 1);
  std::vector<double> work(std::max<std::size_t>(1, std::size_t(size)));
  int lwork = int(work.size());
  dgesdd_(&jobz, &n, &l, Z.data(), &n, S.data(), Uz.data(), &n, VzT.data(), &l,
          work.data(), &lwork, iwork.data(), &info, 1);
  check_lapack("dgesdd", info);

  TruncatedSvd svd;
  svd.U.resize(std::size_t(m) * k);
  // U = Q·Vz[:, :k] = Q·(VzT[:k, :])ᵀ
  cpu::gemm(plan_gemm(column_major(m, l), false, StoredMatrix{k, l, l, Layout::ColMajor},
                      true, m),
            1.0, Y.data(), VzT.data(), 0.0, svd.U.data());
  svd.S.assign(S.begin(), S.begin() + k);
  svd.R.assign(Uz.begin(), Uz.begin() + std::size_t(n) * k);
  return svd;
}

template <class T>
Factors<T> initialize(Backend<T>& b, Init init, std::uint64_t seed) {
  const index_t m = b.rows(), n = b.cols();
  const int k = b.rank();
  const double mean = b.data_sum() / (double(m) * double(n));
  Rng rng(seed);
  Factors<T> f{std::vector<T>(std::size_t(m) * k), std::vector<T>(std::size_t(n) * k)};

  if (init == Init::Random) {
    const double scale = std::sqrt(mean / k);
    for (T& w : f.W) w = T(scale * std::fabs(rng.normal()));
    for (T& h : f.Ht) h = T(scale * std::fabs(rng.normal()));
    return f;
  }

  if (!(mean > 0))
    throw InvalidArgument("init " + to_string(init) +
                          " needs a matrix with a non-zero entry, but V is all zeros");
  const TruncatedSvd svd = truncated_svd(b, k, seed);
  auto column = [](const std::vector<double>& A, index_t rows, int j) {
    return std::vector<double>(A.begin() + j * rows, A.begin() + (j + 1) * rows);
  };
  auto norm = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x * x;
    return std::sqrt(s);
  };
  auto part = [](const std::vector<double>& v, double sign) {
    std::vector<double> p(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) p[i] = std::max(0.0, sign * v[i]);
    return p;
  };
  auto magnitude = [](std::vector<double> v) {
    for (double& x : v) x = std::fabs(x);
    return v;
  };
  auto store = [](std::vector<T>& dst, index_t rows, int j, const std::vector<double>& v,
                  double scale) {
    for (index_t i = 0; i < rows; ++i) dst[i + j * rows] = T(scale * v[i]);
  };

  // Singular values at the level of rounding in V's products (sums of up to max(m, n)
  // terms in T: about √max(m, n)·ε relative) carry no information: their pairs stay
  // zero instead of becoming noise that depends on the BLAS kernel.
  const double noise = svd.S[0] * 10 * std::sqrt(double(std::max(m, n))) *
                       std::numeric_limits<T>::epsilon();
  for (int j = 0; j < k; ++j) {
    if (svd.S[j] <= noise) break;
    const std::vector<double> x = column(svd.U, m, j), y = column(svd.R, n, j);
    if (j == 0) {  // the leading pair can be taken non-negative as a whole
      store(f.W, m, 0, magnitude(x), std::sqrt(svd.S[0]));
      store(f.Ht, n, 0, magnitude(y), std::sqrt(svd.S[0]));
      continue;
    }
    const std::vector<double> xp = part(x, 1), xn = part(x, -1), yp = part(y, 1),
                              yn = part(y, -1);
    const double xpn = norm(xp), xnn = norm(xn), ypn = norm(yp), ynn = norm(yn);
    const bool positive = xpn * ypn > xnn * ynn;
    const double sigma = positive ? xpn * ypn : xnn * ynn;
    if (sigma == 0) continue;  // nothing of this pair is non-negative: leave it zero
    const double lambda = std::sqrt(svd.S[j] * sigma);
    store(f.W, m, j, positive ? xp : xn, lambda / (positive ? xpn : xnn));
    store(f.Ht, n, j, positive ? yp : yn, lambda / (positive ? ypn : ynn));
  }

  for (auto* factor : {&f.W, &f.Ht})
    for (T& v : *factor) {
      if (v < T(kNndsvdZero)) v = 0;
      if (v != 0) continue;
      if (init == Init::NNDSVDa) v = T(mean);
      if (init == Init::NNDSVDar) v = T(std::fabs(rng.normal()) * mean / 100);
    }
  return f;
}

template TruncatedSvd truncated_svd(Backend<float>&, int, std::uint64_t);
template TruncatedSvd truncated_svd(Backend<double>&, int, std::uint64_t);
template Factors<float> initialize(Backend<float>&, Init, std::uint64_t);
template Factors<double> initialize(Backend<double>&, Init, std::uint64_t);

}  // namespace nmfuse::core
