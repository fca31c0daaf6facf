// The swimmer set and the parts NMF finds in it.
#include "datasets/swimmer.hpp"
#include "helpers.hpp"

namespace {

using namespace testing_nmf;
using namespace nmfuse::datasets;

Matrix<float> parts() {
  Matrix<float> P(kSwimmerPixels, kSwimmerParts, Layout::ColMajor);
  for (int p = 0; p < kSwimmerParts; ++p) {
    const std::vector<float> image = swimmer_part(p);
    for (int i = 0; i < kSwimmerPixels; ++i) P(i, p) = image[i];
  }
  return P;
}

TEST(Swimmer, PartsAreDisjointAndEveryImageIsTorsoPlusFourLimbs) {
  const Matrix<float> P = parts();
  for (int i = 0; i < kSwimmerPixels; ++i) {
    int owners = 0;
    for (int p = 0; p < kSwimmerParts; ++p) owners += P(i, p) > 0;
    EXPECT_LE(owners, 1) << "pixel " << i << " belongs to two parts";
  }
  for (int p = 1; p < kSwimmerParts; ++p) {
    int pixels = 0;
    for (int i = 0; i < kSwimmerPixels; ++i) pixels += P(i, p) > 0;
    EXPECT_EQ(pixels, 5) << "limb part " << p;
  }
  const Matrix<float> V = swimmer();
  ASSERT_EQ(V.rows(), kSwimmerPixels);
  ASSERT_EQ(V.cols(), kSwimmerImages);
  for (int j : {0, 37, 255}) {
    for (int i = 0; i < kSwimmerPixels; ++i) {
      float expected = P(i, 0);
      for (int limb = 0; limb < 4; ++limb) expected += P(i, 1 + 4 * limb + ((j >> (2 * limb)) & 3));
      EXPECT_EQ(V(i, j), expected);
    }
  }
}

TEST(Swimmer, HalsFromNndsvdFindsEveryLimbPosition) {
  const Matrix<float> V = swimmer();
  nmfuse::Options opt = cpu_options(kSwimmerParts);
  opt.solver = nmfuse::Solver::HALS;
  opt.init = nmfuse::Init::NNDSVD;
  // Plain HALS (scikit-learn's cd). Many inner sweeps, near-exact alternating NNLS, end
  // here in a local minimum (relative error 0.08) that merges two limbs.
  opt.hals_inner_max = 1;
  opt.max_iter = 1000;
  opt.tol = 1e-7;
  const auto r = nmfuse::factorize(V.view(), opt);
  const std::vector<double> best = best_matches(parts(), r.W);
  for (int p = 1; p < kSwimmerParts; ++p)
    EXPECT_GT(best[p], 0.95) << "limb part " << p << " has no basis image like it";
}

}  // namespace
