// Model: fit, then transform new columns with W fixed, and map back.
#include <gmock/gmock.h>

#include "helpers.hpp"

namespace {

using namespace testing_nmf;

TEST(Model, TransformReproducesTheFittedH) {
  const int k = 4;
  const Matrix<double> V = product(random_matrix(50, k, 1, 0.4), random_matrix(k, 40, 2, 0.4));
  nmfuse::Options opt = cpu_options(k);
  opt.max_iter = 3000;
  opt.tol = 1e-10;
  nmfuse::Model<double> model(opt);
  const auto& fit = model.fit(V.view());
  ASSERT_LT(relative_error(V, fit.W, fit.H), 1e-6);

  // With W fixed the problem in H is a strictly convex least squares: one solution.
  const Matrix<double> H = model.transform(V.view());
  EXPECT_LT(relative_difference(H, fit.H), 1e-5);

  // New columns: the first 7 of V give the first 7 columns of H.
  Matrix<double> some(50, 7, Layout::ColMajor);
  for (index_t i = 0; i < 50; ++i)
    for (index_t j = 0; j < 7; ++j) some(i, j) = V(i, j);
  const Matrix<double> Hs = model.transform(some.view());
  ASSERT_EQ(Hs.rows(), k);
  ASSERT_EQ(Hs.cols(), 7);
  for (index_t t = 0; t < k; ++t)
    for (index_t j = 0; j < 7; ++j) EXPECT_NEAR(Hs(t, j), fit.H(t, j), 1e-5 * (1 + fit.H(t, j)));

  const Matrix<double> back = model.inverse_transform(fit.H.view());
  EXPECT_LT(relative_difference(back, product(fit.W, fit.H)), 1e-14);
}

TEST(Model, UnfittedModelAndWrongRowsAreErrors) {
  nmfuse::Model<double> model(cpu_options(2));
  const Matrix<double> V = random_matrix(10, 5, 3);
  EXPECT_THROW(model.transform(V.view()), nmfuse::InvalidArgument);
  model.fit(V.view());
  const Matrix<double> other = random_matrix(11, 5, 4);
  try {
    model.transform(other.view());
    FAIL() << "no exception";
  } catch (const nmfuse::InvalidArgument& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("V has 11 rows, but the model's W has 10"));
  }
}

TEST(Model, ConstructorValidatesOptions) {
  nmfuse::Options opt = cpu_options(2);
  opt.tol = -1;
  EXPECT_THROW(nmfuse::Model<float>{opt}, nmfuse::InvalidArgument);
}

}  // namespace
