#pragma once
// Average-linkage (UPGMA) hierarchical clustering by the nearest-neighbour chain:
// O(n²) time on one n×n distance matrix (Murtagh 1983; average linkage is reducible,
// so merging mutual nearest neighbours gives the same dendrogram as merging the
// closest pair first, up to ties).
#include <cmath>
#include <vector>

#include "nmfuse/view.hpp"

namespace nmfuse::core {

// The clustering of D (n×n column-major, symmetric; overwritten): its merges, the
// leaves in dendrogram order, and Σ over pairs i < j of the cophenetic distance c_ij
// and of c_ij² (each merge of A and B at height h gives |A|·|B| pairs c = h).
struct Linkage {
  struct Merge {
    index_t left, right;  // nodes: i < n is sample i, n + r the r-th merge
    double height;
  };
  std::vector<Merge> merges;
  std::vector<index_t> order;
  double sum_c = 0, sum_c2 = 0;
};

inline Linkage average_linkage(std::vector<double>& D, index_t n) {
  auto d = [&](index_t a, index_t b) -> double& { return D[std::size_t(a + b * n)]; };
  std::vector<index_t> size(std::size_t(n), 1);
  std::vector<index_t> node(static_cast<std::size_t>(n));  // the dendrogram node in each slot
  for (index_t i = 0; i < n; ++i) node[i] = i;
  std::vector<bool> active(std::size_t(n), true);
  std::vector<index_t> chain;
  Linkage out;
  for (index_t clusters = n; clusters > 1; --clusters) {
    if (chain.empty()) {
      index_t first = 0;
      while (!active[first]) ++first;
      chain.push_back(first);
    }
    for (;;) {  // walk to the nearest neighbour until two are each other's nearest
      const index_t a = chain.back();
      const index_t previous = chain.size() > 1 ? chain[chain.size() - 2] : -1;
      index_t b = previous;  // ties go to the previous link, which ends the walk
      double best = previous >= 0 ? d(a, previous) : INFINITY;
      for (index_t c = 0; c < n; ++c)
        if (active[c] && c != a && d(a, c) < best) best = d(a, c), b = c;
      if (b != previous) {
        chain.push_back(b);
        continue;
      }
      chain.pop_back();
      chain.pop_back();
      const double pairs = double(size[a]) * double(size[b]);
      out.sum_c += best * pairs;
      out.sum_c2 += best * best * pairs;
      // The merged cluster takes b's slot; Lance–Williams for the average distance.
      for (index_t c = 0; c < n; ++c)
        if (active[c] && c != a && c != b)
          d(b, c) = d(c, b) = (double(size[a]) * d(a, c) + double(size[b]) * d(b, c)) /
                              double(size[a] + size[b]);
      size[b] += size[a];
      active[a] = false;
      out.merges.push_back({node[b], node[a], best});
      node[b] = n + index_t(out.merges.size()) - 1;
      break;
    }
  }
  // Leaves left to right, depth first from the root (the last merge).
  std::vector<index_t> stack{n + index_t(out.merges.size()) - 1};
  while (!stack.empty()) {
    const index_t v = stack.back();
    stack.pop_back();
    if (v < n) {
      out.order.push_back(v);
    } else {
      stack.push_back(out.merges[std::size_t(v - n)].right);
      stack.push_back(out.merges[std::size_t(v - n)].left);
    }
  }
  return out;
}

}  // namespace nmfuse::core
