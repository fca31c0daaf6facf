// consensus(): the consensus matrix of several runs, the average-linkage clustering of
// its distances 1 − C, and from it the cophenetic correlation without a second matrix.
#include "nmfuse/consensus.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/average_linkage.hpp"
#include "core/free_memory.hpp"
#include "nmfuse/errors.hpp"

namespace nmfuse {
namespace {

// Each sample's dominant component in one run: the row of H's largest entry in its
// column (the first of equal ones).
template <class T>
std::vector<int> dominant_components(const DenseView<const T>& H) {
  std::vector<int> label(std::size_t(H.cols), 0);
  for (index_t j = 0; j < H.cols; ++j)
    for (index_t t = 1; t < H.rows; ++t)
      if (H(t, j) > H(label[j], j)) label[j] = int(t);
  return label;
}

// The assignment of columns to rows of a k×k cost (row-major) of least total cost:
// column assignment[i] for row i (the Hungarian method with potentials, O(k³)).
std::vector<int> least_cost_assignment(const std::vector<double>& cost, int k) {
  std::vector<double> u(std::size_t(k) + 1, 0), v(std::size_t(k) + 1, 0);
  std::vector<int> row_of(std::size_t(k) + 1, 0), way(std::size_t(k) + 1, 0);
  for (int i = 1; i <= k; ++i) {
    row_of[0] = i;
    int j0 = 0;
    std::vector<double> least(std::size_t(k) + 1, INFINITY);
    std::vector<bool> used(std::size_t(k) + 1, false);
    do {  // grow the alternating tree from row i until a free column is reached
      used[j0] = true;
      const int i0 = row_of[j0];
      int j1 = 0;
      double delta = INFINITY;
      for (int j = 1; j <= k; ++j) {
        if (used[j]) continue;
        const double reduced = cost[std::size_t(i0 - 1) * k + (j - 1)] - u[i0] - v[j];
        if (reduced < least[j]) least[j] = reduced, way[j] = j0;
        if (least[j] < delta) delta = least[j], j1 = j;
      }
      for (int j = 0; j <= k; ++j) {
        if (used[j]) {
          u[row_of[j]] += delta;
          v[j] -= delta;
        } else {
          least[j] -= delta;
        }
      }
      j0 = j1;
    } while (row_of[j0] != 0);
    do {  // flip the path
      const int j1 = way[j0];
      row_of[j0] = row_of[j1];
      j0 = j1;
    } while (j0 != 0);
  }
  std::vector<int> assignment(static_cast<std::size_t>(k));
  for (int j = 1; j <= k; ++j) assignment[std::size_t(row_of[j] - 1)] = j - 1;
  return assignment;
}

}  // namespace

template <class T>
double component_silhouette(const std::vector<DenseView<const T>>& W) {
  if (W.size() < 2) throw InvalidArgument("component_silhouette: needs two runs or more");
  const index_t m = W[0].rows;
  const int k = int(W[0].cols);
  if (k < 2) throw InvalidArgument("component_silhouette: needs a rank of 2 or more");
  for (std::size_t r = 0; r < W.size(); ++r)
    if (W[r].rows != m || W[r].cols != k)
      throw InvalidArgument("component_silhouette: run " + std::to_string(r) + "'s W is " +
                            std::to_string(W[r].rows) + "×" + std::to_string(W[r].cols) +
                            ", but run 0's is " + std::to_string(m) + "×" + std::to_string(k));
  // The cosine of every pair of components, read from the runs' W where they lie (a
  // zero component has cosine 0 to all).
  const int runs = int(W.size()), count = runs * k;
  auto dot = [&](int a, int b) {
    const DenseView<const T>& x = W[std::size_t(a / k)];
    const DenseView<const T>& y = W[std::size_t(b / k)];
    double sum = 0;
    for (index_t i = 0; i < m; ++i) sum += double(x(i, a % k)) * double(y(i, b % k));
    return sum;
  };
  std::vector<double> norm(static_cast<std::size_t>(count));
  for (int a = 0; a < count; ++a) norm[std::size_t(a)] = std::sqrt(dot(a, a));
  std::vector<double> cosine(std::size_t(count) * std::size_t(count));
#pragma omp parallel for schedule(dynamic)
  for (int a = 0; a < count; ++a)
    for (int b = a; b < count; ++b) {
      const double scale = norm[std::size_t(a)] * norm[std::size_t(b)];
      cosine[std::size_t(a) * count + b] = cosine[std::size_t(b) * count + a] =
          scale > 0 ? dot(a, b) / scale : 0;
    }
  // Clusters: run r's component matched to reference component t is in cluster t.
  std::vector<int> cluster(static_cast<std::size_t>(count));
  for (int t = 0; t < k; ++t) cluster[std::size_t(t)] = t;
  for (int r = 1; r < runs; ++r) {
    std::vector<double> cost(std::size_t(k) * k);
    for (int t = 0; t < k; ++t)
      for (int c = 0; c < k; ++c) cost[std::size_t(t) * k + c] = -cosine[std::size_t(t) * count + r * k + c];
    const std::vector<int> match = least_cost_assignment(cost, k);
    for (int t = 0; t < k; ++t) cluster[std::size_t(r * k + match[std::size_t(t)])] = t;
  }
  double total = 0;
  for (int a = 0; a < count; ++a) {
    std::vector<double> mean(std::size_t(k), 0);  // to each cluster's members
    for (int b = 0; b < count; ++b)
      if (b != a) mean[std::size_t(cluster[b])] += 1 - cosine[std::size_t(a) * count + b];
    const int own = cluster[std::size_t(a)];
    double within = mean[std::size_t(own)] / (runs - 1), nearest = INFINITY;
    for (int t = 0; t < k; ++t)
      if (t != own) nearest = std::min(nearest, mean[std::size_t(t)] / runs);
    const double spread = std::max(within, nearest);
    total += spread > 0 ? (nearest - within) / spread : 0;
  }
  return total / count;
}

template <class T>
Consensus consensus(const std::vector<DenseView<const T>>& H) {
  if (H.empty()) throw InvalidArgument("consensus: no runs given");
  const index_t n = H[0].cols;
  if (n < 1) throw InvalidArgument("consensus: the runs' H have no columns");
  for (std::size_t r = 0; r < H.size(); ++r)
    if (H[r].cols != n || H[r].rows < 1)
      throw InvalidArgument("consensus: run " + std::to_string(r) + "'s H is " +
                            std::to_string(H[r].rows) + "×" + std::to_string(H[r].cols) +
                            ", but run 0's has " + std::to_string(n) + " columns");
  core::check_consensus_fits(n);
  Consensus out;
  out.samples = n;
  out.matrix.assign(std::size_t(n * n), 0.0);
  std::vector<std::vector<int>> labels;
  for (const auto& h : H) labels.push_back(dominant_components(h));
  const double share = 1.0 / double(H.size());
#pragma omp parallel for schedule(static)
  for (index_t j = 0; j < n; ++j)
    for (const auto& label : labels)
      for (index_t i = 0; i < n; ++i)
        if (label[i] == label[j]) out.matrix[std::size_t(i + j * n)] += share;

  // Dispersion, and the sums over pairs i < j of d = 1 − C the correlation needs.
  double dispersion = 0, sum_d = 0, sum_d2 = 0;
  std::vector<double> D(out.matrix.size());
  for (index_t j = 0; j < n; ++j)
    for (index_t i = 0; i < n; ++i) {
      const double c = out.matrix[std::size_t(i + j * n)];
      dispersion += 4 * (c - 0.5) * (c - 0.5);
      D[std::size_t(i + j * n)] = 1 - c;
      if (i < j) sum_d += 1 - c, sum_d2 += (1 - c) * (1 - c);
    }
  out.dispersion = dispersion / (double(n) * double(n));
  core::Linkage link = core::average_linkage(D, n);
  out.order = std::move(link.order);
  // Average linkage makes each merge's height the mean d of the pairs it joins, so
  // Σ c·d = Σ c². Where all distances are equal the clustering reproduces them (1).
  const double pairs = double(n) * double(n - 1) / 2;
  const double var_c = link.sum_c2 - link.sum_c * link.sum_c / pairs;
  const double var_d = sum_d2 - sum_d * sum_d / pairs;
  const double cov = link.sum_c2 - link.sum_c * sum_d / pairs;
  out.cophenetic = var_d <= 0 ? 1.0 : var_c <= 0 ? 0.0 : cov / std::sqrt(var_c * var_d);
  return out;
}

template Consensus consensus(const std::vector<DenseView<const float>>&);
template Consensus consensus(const std::vector<DenseView<const double>>&);
template double component_silhouette(const std::vector<DenseView<const float>>&);
template double component_silhouette(const std::vector<DenseView<const double>>&);

}  // namespace nmfuse
