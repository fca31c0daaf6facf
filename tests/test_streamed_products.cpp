// The dense big products streamed over V (src/cpu/streamed_products.hpp) against plain
// double loops: both directions, ranks on and off the vector widths, row counts that
// leave partial blocks, and a row stride past the row.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "cpu/cpu_backends.hpp"
#include "cpu/streamed_products.hpp"

namespace {

using nmfuse::index_t;

template <class T>
void check(index_t rows, index_t cols, index_t ld, int k, bool along_rows) {
  std::mt19937_64 rng(std::uint64_t(rows * 131 + cols * 7 + k));
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<T> A(std::size_t(rows * ld));
  for (T& a : A) a = T(u(rng));
  const index_t y_rows = along_rows ? cols : rows, out_rows = along_rows ? rows : cols;
  std::vector<T> Y(std::size_t(y_rows * k)), out(std::size_t(out_rows * k), T(-1));
  for (T& y : Y) y = T(u(rng));
  nmfuse::cpu::StreamedProducts<T> p;
  p.multiply(A.data(), rows, cols, ld, along_rows, Y.data(), k, out.data());
  // A sum of `inner` products of values in [0, 1), rounded in T at each step: within
  // inner·ε of the exact sum relative to it (all terms are positive).
  const index_t inner = along_rows ? cols : rows;
  const double tolerance = double(inner) * std::numeric_limits<T>::epsilon();
  for (index_t o = 0; o < out_rows; ++o)
    for (int t = 0; t < k; ++t) {
      double exact = 0;
      for (index_t q = 0; q < inner; ++q) {
        const double a = along_rows ? A[std::size_t(o * ld + q)] : A[std::size_t(q * ld + o)];
        exact += a * double(Y[std::size_t(q + t * y_rows)]);
      }
      ASSERT_NEAR(double(out[std::size_t(o + t * out_rows)]), exact, tolerance * exact)
          << "out(" << o << ", " << t << ") of " << rows << "×" << cols << ", k = " << k
          << (along_rows ? ", along rows" : ", along columns");
    }
}

TEST(StreamedProducts, MatchPlainSumsInFloatAndDouble) {
  for (const bool along_rows : {true, false})
    for (const int k : {1, 7, 16, 20, 33, 48, 64}) {
      check<float>(37, 29, 31, k, along_rows);
      check<double>(37, 29, 29, k, along_rows);
      check<float>(5, 300, 301, k, along_rows);
    }
}

// What --version and build_info() say of the dense products is what the backend does
// (this file is compiled with the backend's flags).
TEST(StreamedProducts, BuildInfoSaysWhetherTheyAreStreamed) {
  const std::string said = nmfuse::cpu::dense_products();
  const bool streamed = nmfuse::cpu::StreamedProducts<float>::pays(32);
  EXPECT_EQ(said.rfind(streamed ? "streamed" : "by the BLAS", 0), 0u) << said;
}

}  // namespace
