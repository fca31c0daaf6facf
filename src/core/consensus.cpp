// consensus(): the consensus matrix of several runs, the average-linkage clustering of
// its distances 1 − C, and from it the cophenetic correlation without a second matrix.
#include "nmfuse/consensus.hpp"

#include <cmath>
#include <string>

#include "core/average_linkage.hpp"
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

}  // namespace

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

}  // namespace nmfuse
