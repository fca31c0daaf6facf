// The consensus of several runs: the matrix, dispersion and cophenetic correlation on
// cases worked by hand, and the nearest-neighbour-chain clustering against the plain
// closest-pair-first one.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/average_linkage.hpp"
#include "nmfuse/consensus.hpp"
#include "nmfuse/errors.hpp"

namespace {

using nmfuse::index_t;
using nmfuse::Layout;
using nmfuse::Matrix;

// H (k×n) whose column j has its largest entry in row label[j].
Matrix<double> h_with_labels(const std::vector<int>& label, int k, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> small(0, 0.5);
  Matrix<double> H(k, index_t(label.size()), Layout::RowMajor);
  for (index_t j = 0; j < H.cols(); ++j)
    for (index_t t = 0; t < k; ++t) H(t, j) = t == label[j] ? 1.0 : small(rng);
  return H;
}

nmfuse::Consensus of(const std::vector<Matrix<double>>& runs) {
  std::vector<nmfuse::DenseView<const double>> views;
  for (const auto& H : runs) views.push_back(H.view());
  return nmfuse::consensus(views);
}

TEST(Consensus, IdenticalRunsAreExactlyZeroOrOne) {
  const std::vector<int> label{2, 0, 1, 0, 2, 1, 1, 0};
  const Matrix<double> H = h_with_labels(label, 3, 1);
  const nmfuse::Consensus c = of({H, H, H});
  for (index_t i = 0; i < 8; ++i)
    for (index_t j = 0; j < 8; ++j) EXPECT_EQ(c(i, j), label[i] == label[j] ? 1.0 : 0.0);
  EXPECT_EQ(c.dispersion, 1.0);
  EXPECT_DOUBLE_EQ(c.cophenetic, 1.0);
  // The leaf order keeps each component's samples together.
  std::vector<int> along;
  for (index_t s : c.order) along.push_back(label[std::size_t(s)]);
  EXPECT_EQ(std::unique(along.begin(), along.end()) - along.begin(), 3);
  std::vector<index_t> sorted = c.order;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<index_t>{0, 1, 2, 3, 4, 5, 6, 7}));
}

// Three runs of four samples, labels worked by hand (the layout of H does not matter).
TEST(Consensus, AWorkedExample) {
  const Matrix<double> a = h_with_labels({0, 0, 1, 1}, 2, 2), b = h_with_labels({0, 1, 1, 1}, 2, 3);
  Matrix<double> c_cols(3, 4, Layout::ColMajor);
  const Matrix<double> c_rows = h_with_labels({2, 2, 1, 1}, 3, 4);
  for (index_t t = 0; t < 3; ++t)
    for (index_t j = 0; j < 4; ++j) c_cols(t, j) = c_rows(t, j);
  const nmfuse::Consensus c = of({a, b, c_cols});
  // Pairs: 01 → 2/3, 23 → 1, 12 → 1/3, 13 → 1/3, 02 and 03 → 0.
  EXPECT_DOUBLE_EQ(c(0, 1), 2.0 / 3);
  EXPECT_DOUBLE_EQ(c(2, 3), 1.0);
  EXPECT_DOUBLE_EQ(c(1, 2), 1.0 / 3);
  EXPECT_DOUBLE_EQ(c(3, 0), 0.0);
  // Σ 4(C − ½)² over the 16 entries: the diagonal 4·1, the pairs twice each.
  const double pairs = 2 * (1 / 9.0 + 1 + 1 / 9.0 + 1 / 9.0 + 1 + 1);
  EXPECT_NEAR(c.dispersion, (4 + pairs) / 16, 1e-15);
  // Distances d: 01 1/3, 23 0, 12 and 13 2/3, 02 and 03 1. Average linkage merges 23 at 0,
  // 0 and 1 at 1/3, then both at (2/3 + 2/3 + 1 + 1)/4 = 5/6: c = (5/6, 5/6, 5/6, 5/6, 1/3, 0)
  // against d = (1, 1, 2/3, 2/3, 1/3, 0).
  const std::vector<double> d{1, 1, 2.0 / 3, 2.0 / 3, 1.0 / 3, 0};
  const std::vector<double> coph{5.0 / 6, 5.0 / 6, 5.0 / 6, 5.0 / 6, 1.0 / 3, 0};
  auto mean = [](const std::vector<double>& x) { return std::accumulate(x.begin(), x.end(), 0.0) / 6; };
  double sxy = 0, sxx = 0, syy = 0;
  for (int p = 0; p < 6; ++p) {
    sxy += (d[p] - mean(d)) * (coph[p] - mean(coph));
    sxx += (d[p] - mean(d)) * (d[p] - mean(d));
    syy += (coph[p] - mean(coph)) * (coph[p] - mean(coph));
  }
  EXPECT_NEAR(c.cophenetic, sxy / std::sqrt(sxx * syy), 1e-14);
}

TEST(Consensus, RunsMustShareTheirSamples) {
  const Matrix<double> a = h_with_labels({0, 1, 0}, 2, 5), b = h_with_labels({0, 1}, 2, 6);
  try {
    of({a, b});
    ADD_FAILURE() << "no error";
  } catch (const nmfuse::InvalidArgument& e) {
    EXPECT_THAT(e.what(), testing::HasSubstr("run 1's H is 2×2, but run 0's has 3 columns"));
  }
  EXPECT_THROW(nmfuse::consensus(std::vector<nmfuse::DenseView<const float>>{}),
               nmfuse::InvalidArgument);
}

// The referee: merge the closest pair first, O(n³); cophenetic distances kept whole.
std::vector<double> closest_pair_cophenetic(std::vector<double> D, index_t n) {
  std::vector<std::vector<index_t>> members(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) members[i] = {i};
  std::vector<double> coph(std::size_t(n * n), 0);
  std::vector<bool> active(std::size_t(n), true);
  for (index_t step = 1; step < n; ++step) {
    index_t a = -1, b = -1;
    for (index_t i = 0; i < n; ++i)
      for (index_t j = i + 1; j < n; ++j)
        if (active[i] && active[j] && (a < 0 || D[i + j * n] < D[a + b * n])) a = i, b = j;
    for (index_t x : members[a])
      for (index_t y : members[b]) coph[x + y * n] = coph[y + x * n] = D[a + b * n];
    const double sa = double(members[a].size()), sb = double(members[b].size());
    for (index_t c = 0; c < n; ++c)
      if (active[c] && c != a && c != b)
        D[a + c * n] = D[c + a * n] = (sa * D[a + c * n] + sb * D[b + c * n]) / (sa + sb);
    members[a].insert(members[a].end(), members[b].begin(), members[b].end());
    active[b] = false;
  }
  return coph;
}

TEST(AverageLinkage, TheChainMergesAsClosestPairFirst) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  for (index_t n : {2, 3, 10, 57}) {  // continuous distances: no ties
    std::vector<double> D(std::size_t(n * n), 0);
    for (index_t j = 0; j < n; ++j)
      for (index_t i = j + 1; i < n; ++i) D[i + j * n] = D[j + i * n] = u(rng);
    const std::vector<double> coph = closest_pair_cophenetic(D, n);
    std::vector<double> work = D;
    const nmfuse::core::Linkage link = nmfuse::core::average_linkage(work, n);
    double sum_c = 0, sum_c2 = 0, sum_cd = 0, sum_d = 0;
    for (index_t j = 0; j < n; ++j)
      for (index_t i = 0; i < j; ++i) {
        const double c = coph[i + j * n];
        sum_c += c, sum_c2 += c * c, sum_cd += c * D[i + j * n], sum_d += D[i + j * n];
      }
    EXPECT_NEAR(link.sum_c, sum_c, 1e-12 * sum_c) << n;
    EXPECT_NEAR(link.sum_c2, sum_c2, 1e-12 * sum_c2) << n;
    EXPECT_NEAR(sum_cd, sum_c2, 1e-12 * sum_c2) << n;  // what consensus() relies on
    EXPECT_EQ(link.merges.size(), std::size_t(n - 1));
    EXPECT_EQ(link.order.size(), std::size_t(n));
    // Heights never fall along the merges of one branch: a dendrogram.
    for (const auto& m : link.merges)
      for (index_t child : {m.left, m.right})
        if (child >= n) EXPECT_LE(link.merges[std::size_t(child - n)].height, m.height);
  }
}

}  // namespace

namespace {

// W (m×k) of k well-separated non-negative components, each a bump of its own.
Matrix<double> separated_components(index_t m, int k, unsigned seed, double noise) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  Matrix<double> W(m, k, Layout::ColMajor);
  for (int t = 0; t < k; ++t)
    for (index_t i = 0; i < m; ++i)
      W(i, t) = (i * k / m == t ? 1.0 : 0.0) + noise * u(rng);
  return W;
}

double silhouette_of(const std::vector<Matrix<double>>& runs) {
  std::vector<nmfuse::DenseView<const double>> views;
  for (const auto& W : runs) views.push_back(W.view());
  return nmfuse::component_silhouette(views);
}

TEST(ComponentSilhouette, TheSameComponentsInAnyOrderAndScaleAreOne) {
  const Matrix<double> W = separated_components(60, 6, 8, 0.3);
  std::vector<Matrix<double>> runs{W};
  std::mt19937 rng(9);
  for (int r = 0; r < 4; ++r) {  // the columns permuted and rescaled: the same components
    std::vector<int> perm{0, 1, 2, 3, 4, 5};
    std::shuffle(perm.begin(), perm.end(), rng);
    Matrix<double> P(60, 6, Layout::RowMajor);
    for (int t = 0; t < 6; ++t)
      for (index_t i = 0; i < 60; ++i) P(i, t) = (t + 1.5) * W(i, perm[std::size_t(t)]);
    runs.push_back(P);
  }
  EXPECT_NEAR(silhouette_of(runs), 1.0, 1e-12);
}

TEST(ComponentSilhouette, StableComponentsScoreHighAndUnrelatedOnesLow) {
  std::vector<Matrix<double>> stable, unrelated;
  std::mt19937 rng(10);
  std::uniform_real_distribution<double> u(0, 1);
  for (unsigned r = 0; r < 5; ++r) {
    stable.push_back(separated_components(80, 4, 11 + r, 0.2));
    Matrix<double> W(80, 4, Layout::ColMajor);
    for (std::size_t e = 0; e < W.size(); ++e) W.data()[e] = u(rng);
    unrelated.push_back(W);
  }
  EXPECT_GT(silhouette_of(stable), 0.8);
  EXPECT_LT(silhouette_of(unrelated), 0.2);
  EXPECT_THROW(silhouette_of({stable[0]}), nmfuse::InvalidArgument);
}

}  // namespace
