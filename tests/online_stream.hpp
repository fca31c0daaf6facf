#pragma once
// A stationary stream for online fitting: every column is W_planted·h + noise, with h
// fresh for each column. The online cases list the paths both the CPU and the emulated
// GPU run: HALS and MU for Frobenius, KL and β = 1.5 by MU, dense and sparse.
#include <random>
#include <vector>

#include "helpers.hpp"
#include "nmfuse/nmfuse.hpp"

namespace testing_nmf {

struct OnlineCase {
  const char* name;
  nmfuse::Loss loss;
  nmfuse::Solver solver;
  bool sparse;
  // fit_online's loss after 20 passes (and partial_fit's after 30 batches, on a batch
  // it has not seen), at most this times the batch solver's
  double reach;
};

inline const std::vector<OnlineCase> kOnlineCases = {
    {"hals", nmfuse::Loss::Frobenius, nmfuse::Solver::HALS, false, 1.05},
    {"mu", nmfuse::Loss::Frobenius, nmfuse::Solver::MU, false, 25},
    {"kl", nmfuse::Loss::KullbackLeibler, nmfuse::Solver::MU, false, 1.05},
    {"beta_1_5", nmfuse::Loss::Beta, nmfuse::Solver::MU, false, 2.5},
    {"sparse_hals", nmfuse::Loss::Frobenius, nmfuse::Solver::HALS, true, 1.05},
    {"sparse_kl", nmfuse::Loss::KullbackLeibler, nmfuse::Solver::MU, true, 60},
};

// W_planted: m×k, each component on its own band of rows plus a weak floor elsewhere,
// so that the components are identifiable (their cosines are well below 1).
inline Matrix<double> planted_dictionary(index_t m, int k) {
  Matrix<double> W(m, k, Layout::ColMajor);
  for (index_t i = 0; i < m; ++i)
    for (int t = 0; t < k; ++t) W(i, t) = (i * k / m == t) ? 1.0 : 0.05;
  return W;
}

// `cols` columns of the stream, from generator seed `seed`; a sparse stream zeroes
// each h entry with probability ½, so that many columns of V are exactly 0 on bands.
template <class T>
Matrix<T> stream_batch(const Matrix<double>& W, index_t cols, unsigned seed, bool sparse,
                       double noise = 0.01) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const index_t m = W.rows();
  const int k = int(W.cols());
  Matrix<T> V(m, cols, Layout::RowMajor);
  std::vector<double> h(static_cast<std::size_t>(k));
  for (index_t j = 0; j < cols; ++j) {
    for (double& x : h) x = u(gen) < 0.6 ? 0.0 : u(gen);
    for (index_t i = 0; i < m; ++i) {
      double v = 0;
      for (int t = 0; t < k; ++t) v += W(i, t) * h[std::size_t(t)];
      V(i, j) = T(sparse && v < 0.2 ? 0.0 : v + noise * u(gen));
    }
  }
  return V;
}

inline nmfuse::Options online_options(const OnlineCase& c, int rank) {
  nmfuse::Options opt;
  opt.rank = rank;
  opt.loss = c.loss;
  opt.beta = 1.5;
  opt.solver = c.solver;
  return opt;
}

// D_β(V | W·H) over every entry, in double, as the solver defines it.
template <class T>
double divergence(const Matrix<T>& V, const Matrix<T>& W, const Matrix<T>& H, double beta) {
  double sum = 0;
  for (index_t i = 0; i < V.rows(); ++i)
    for (index_t j = 0; j < V.cols(); ++j) {
      double wh = 0;
      for (index_t t = 0; t < W.cols(); ++t) wh += double(W(i, t)) * double(H(t, j));
      const double v = double(V(i, j));
      if (beta == 2) {
        sum += 0.5 * (v - wh) * (v - wh);
      } else if (beta == 1) {
        sum += (v > 0 ? v * std::log(v / wh) - v : 0) + wh;
      } else {
        sum += (std::pow(v, beta) + (beta - 1) * std::pow(wh, beta) -
                beta * v * std::pow(wh, beta - 1)) /
               (beta * (beta - 1));
      }
    }
  return sum;
}

}  // namespace testing_nmf
