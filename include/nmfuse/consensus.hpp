#pragma once
// How much several factorizations of one V agree about its samples (the columns of V):
// Brunet et al. 2004's consensus matrix and cophenetic correlation, Kim & Park 2007's
// dispersion. Runs differ by their start (restarts) and agree where NMF's answer is
// stable; measured per rank, they help choose it.
#include <vector>

#include "nmfuse/view.hpp"

namespace nmfuse {

struct Consensus {
  index_t samples = 0;  // n
  // n×n, symmetric: C(i, j) = the fraction of runs in which samples i and j have the
  // same dominant component (the largest entry of their column of H).
  std::vector<double> matrix;
  double operator()(index_t i, index_t j) const { return matrix[std::size_t(i + j * samples)]; }
  // Pearson correlation of the distances 1 − C(i, j) with the cophenetic distances of
  // their average-linkage clustering, over the pairs i < j: 1 for a perfect consensus.
  // R runs give C only R + 1 values, so the clustering meets ties; they are broken by
  // sample index, the same way every time (scipy and R's NMF break them otherwise, and
  // their value moves a little when the samples are permuted).
  double cophenetic = 0;
  // (1/n²)·Σ 4·(C(i, j) − ½)²: 1 where every C(i, j) is 0 or 1, less as runs disagree.
  double dispersion = 0;
  // The samples in the leaf order of that clustering: C reordered by it shows its blocks.
  std::vector<index_t> order;
};

// The consensus of runs given by their H (k×n each, any layout; k may differ between
// runs; n the same). float or double. Throws InvalidArgument when there are no runs or
// their column counts differ.
template <class T>
Consensus consensus(const std::vector<DenseView<const T>>& H);

// How stable the components are across runs of one rank (cNMF's and NMFk's measure):
// each run's components (the columns of its W, m×k) are matched one to one with the
// first run's by the assignment of greatest total cosine similarity (Hungarian
// method), which makes k clusters of one component per run; the result is the mean
// silhouette of all the components under the cosine distance, 1 when every run found
// the same components, near 0 or below when they differ. Needs two runs or more, of one
// rank k ≥ 2.
template <class T>
double component_silhouette(const std::vector<DenseView<const T>>& W);

}  // namespace nmfuse
