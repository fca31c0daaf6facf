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

// Householder QR: A (rows×cols, column-major, rows ≥ cols) becomes Q, and R (cols×cols,
// column-major, upper) gets R, so that A = Q·R.
void householder_qr(std::vector<double>& A, int rows, int cols, std::vector<double>& R) {
  std::vector<double> tau(cols);
  int info = 0, query = -1;
  double size = 0;
  dgeqrf_(&rows, &cols, A.data(), &rows, tau.data(), &size, &query, &info);
  std::vector<double> work(std::max<std::size_t>(1, std::size_t(size)));
  int lwork = int(work.size());
  dgeqrf_(&rows, &cols, A.data(), &rows, tau.data(), work.data(), &lwork, &info);
  check_lapack("dgeqrf", info);
  R.assign(std::size_t(cols) * cols, 0.0);
  for (int j = 0; j < cols; ++j)
    for (int i = 0; i <= j; ++i) R[i + std::size_t(j) * cols] = A[i + std::size_t(j) * rows];
  dorgqr_(&rows, &cols, &cols, A.data(), &rows, tau.data(), &size, &query, &info);
  work.resize(std::max<std::size_t>(work.size(), std::size_t(size)));
  lwork = int(work.size());
  dorgqr_(&rows, &cols, &cols, A.data(), &rows, tau.data(), work.data(), &lwork, &info);
  check_lapack("dorgqr", info);
}

// The upper Cholesky factor R of AᵀA = RᵀR, or false where A's columns are too close to
// dependent for it to be trusted: cond(A)² = cond(AᵀA) must stay well inside 1/ε.
bool gram_cholesky(const std::vector<double>& A, int rows, int cols, std::vector<double>& R) {
  R.assign(std::size_t(cols) * cols, 0.0);
  const double one = 1, zero = 0;
  dsyrk_("U", "T", &cols, &rows, &one, A.data(), &rows, &zero, R.data(), &cols, 1, 1);
  int info = 0;
  dpotrf_("U", &cols, R.data(), &cols, &info, 1);
  if (info != 0) return false;
  double largest = 0, smallest = std::numeric_limits<double>::infinity();
  for (int j = 0; j < cols; ++j) {
    largest = std::max(largest, std::fabs(R[j + std::size_t(j) * cols]));
    smallest = std::min(smallest, std::fabs(R[j + std::size_t(j) * cols]));
  }
  return smallest > 1e-5 * largest;
}

// The columns of A (rows×cols, column-major, rows ≥ cols) replaced by an orthonormal basis
// of their span, and R (cols×cols) with A = Q·R. Cholesky QR twice (a Gram, a Cholesky
// factor and a triangular solve: level-3 BLAS, on tall, narrow A several times faster
// than Householder's column-by-column sweeps), or Householder where the columns are
// nearly dependent.
void orthonormalize(std::vector<double>& A, int rows, int cols, std::vector<double>& R) {
  const double one = 1;
  std::vector<double> R2;
  if (!gram_cholesky(A, rows, cols, R)) return householder_qr(A, rows, cols, R);
  dtrsm_("R", "U", "N", "N", &rows, &cols, &one, R.data(), &cols, A.data(), &rows, 1, 1, 1, 1);
  if (gram_cholesky(A, rows, cols, R2))
    dtrsm_("R", "U", "N", "N", &rows, &cols, &one, R2.data(), &cols, A.data(), &rows, 1, 1, 1, 1);
  else
    householder_qr(A, rows, cols, R2);
  // A₀ = Q·R2·R: R ← R2·R
  dtrmm_("L", "U", "N", "N", &cols, &cols, &one, R2.data(), &cols, R.data(), &cols, 1, 1, 1, 1);
}

void orthonormalize(std::vector<double>& A, int rows, int cols) {
  std::vector<double> R;
  orthonormalize(A, rows, cols, R);
}

// out = V·X (s = W) or Vᵀ·X (s = H), in double around the backend's own precision;
// out's storage is reused: the start's memory peaks here, on the larger side of V.
template <class T>
void multiply(Backend<T>& b, Side s, const std::vector<double>& X, int cols,
              std::vector<double>& out) {
  std::vector<T> result(std::size_t(b.factor_rows(s)) * cols);
  {
    const std::vector<T> x(X.begin(), X.end());
    b.multiply_host(s, x.data(), cols, result.data());
  }
  out.assign(result.begin(), result.end());
}

}  // namespace

template <class T>
TruncatedSvd truncated_svd(Backend<T>& b, int k, std::uint64_t seed) {
  // The range finder runs on A = V or Vᵀ, whichever has more rows (as scikit-learn's
  // randomized_svd does), so that the random Ω has the fewer.
  const bool tall = b.rows() >= b.cols();
  const Side left = tall ? Side::W : Side::H, right = tall ? Side::H : Side::W;
  const int m = int(tall ? b.rows() : b.cols()), n = int(tall ? b.cols() : b.rows());
  const int l = std::min(k + 10, n);  // oversampled width
  // Two power iterations (Halko, Martinsson & Tropp 2011 find one or two enough where the
  // spectrum decays): scikit-learn's seven (four for large k) sharpen singular vectors
  // that NNDSVD keeps only the positive parts of; measured, two give as good a start at
  // a third of the cost (bench/RESULTS.md, issue 11).
  const int power_iterations = 2;
  Rng rng(seed);
  std::vector<double> Z(std::size_t(n) * l);
  for (double& z : Z) z = rng.normal();
  std::vector<double> Y;
  multiply(b, left, Z, l, Y);  // A·Ω, m×l
  for (int it = 0; it < power_iterations; ++it) {
    orthonormalize(Y, m, l);
    multiply(b, right, Y, l, Z);  // Aᵀ·Y, n×l
    orthonormalize(Z, n, l);
    multiply(b, left, Z, l, Y);
  }
  orthonormalize(Y, m, l);         // Y = Q, the range of A
  multiply(b, right, Y, l, Z);     // Z = Aᵀ·Q = Bᵀ, n×l
  // Z = Qz·Rz and Rz = Ur·S·Vrᵀ, so A ≈ Q·B = (Q·Vr)·S·(Qz·Ur)ᵀ: the SVD of an l×l matrix.
  std::vector<double> Rz;
  orthonormalize(Z, n, l, Rz);
  std::vector<double> Ur(std::size_t(l) * l), S(l), VrT(std::size_t(l) * l);
  std::vector<int> iwork(8 * std::size_t(l));
  int info = 0, query = -1;
  double size = 0;
  const char jobz = 'S';
  dgesdd_(&jobz, &l, &l, Rz.data(), &l, S.data(), Ur.data(), &l, VrT.data(), &l, &size,
          &query, iwork.data(), &info, 1);
  std::vector<double> work(std::max<std::size_t>(1, std::size_t(size)));
  int lwork = int(work.size());
  dgesdd_(&jobz, &l, &l, Rz.data(), &l, S.data(), Ur.data(), &l, VrT.data(), &l,
          work.data(), &lwork, iwork.data(), &info, 1);
  check_lapack("dgesdd", info);
  // A's left vectors Q·Vr[:, :k] = Q·(VrT[:k, :])ᵀ and right ones Qz·Ur[:, :k]; for
  // A = Vᵀ they are V's right and left ones.
  std::vector<double> left_vectors(std::size_t(m) * k), right_vectors(std::size_t(n) * k);
  cpu::gemm(plan_gemm(column_major(m, l), false, StoredMatrix{k, l, l, Layout::ColMajor},
                      true, m),
            1.0, Y.data(), VrT.data(), 0.0, left_vectors.data());
  cpu::gemm(plan_gemm(column_major(n, l), false, column_major(l, k), false, n), 1.0, Z.data(),
            Ur.data(), 0.0, right_vectors.data());
  TruncatedSvd svd;
  svd.U = tall ? std::move(left_vectors) : std::move(right_vectors);
  svd.R = tall ? std::move(right_vectors) : std::move(left_vectors);
  svd.S.assign(S.begin(), S.begin() + k);
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
