// The argument mapping that both the CPU (BLAS) and GPU (cuBLAS) products go through,
// checked on every layout and transpose with small integers, where a GEMM is exact.
#include <gtest/gtest.h>

#include "core/gemm_plan.hpp"
#include "cpu/blas.hpp"

namespace {

using nmfuse::index_t;
using nmfuse::Layout;
using nmfuse::core::plan_gemm;
using nmfuse::core::StoredMatrix;

// A logical rows×cols matrix of small integers stored with the given layout and padding.
struct Stored {
  StoredMatrix desc;
  std::vector<double> data;
  double at(index_t i, index_t j) const {
    return desc.layout == Layout::RowMajor ? data[i * desc.ld + j] : data[j * desc.ld + i];
  }
};

Stored make(index_t rows, index_t cols, Layout layout, int salt) {
  const index_t ld = (layout == Layout::RowMajor ? cols : rows) + 3;  // padded
  Stored s{{rows, cols, ld, layout},
           std::vector<double>(std::size_t(ld * (layout == Layout::RowMajor ? rows : cols)), -99)};
  for (index_t i = 0; i < rows; ++i)
    for (index_t j = 0; j < cols; ++j)
      (layout == Layout::RowMajor ? s.data[i * ld + j] : s.data[j * ld + i]) =
          double((i * 7 + j * 3 + salt) % 11) - 5;
  return s;
}

TEST(GemmPlan, EveryLayoutAndTransposeGivesTheExactProduct) {
  const index_t m = 5, n = 4, k = 3;
  for (Layout la : {Layout::RowMajor, Layout::ColMajor})
    for (Layout lb : {Layout::RowMajor, Layout::ColMajor})
      for (bool ta : {false, true})
        for (bool tb : {false, true}) {
          // op(A) is m×k and op(B) is k×n.
          const Stored A = ta ? make(k, m, la, 1) : make(m, k, la, 1);
          const Stored B = tb ? make(n, k, lb, 2) : make(k, n, lb, 2);
          const index_t ldc = m + 2;
          std::vector<double> C(std::size_t(ldc * n), 0.0);
          const auto plan = plan_gemm(A.desc, ta, B.desc, tb, ldc);
          EXPECT_EQ(plan.m, m);
          EXPECT_EQ(plan.n, n);
          EXPECT_EQ(plan.k, k);
          nmfuse::cpu::gemm(plan, 1.0, A.data.data(), B.data.data(), 0.0, C.data());
          for (index_t i = 0; i < m; ++i)
            for (index_t j = 0; j < n; ++j) {
              double expected = 0;
              for (index_t s = 0; s < k; ++s)
                expected += (ta ? A.at(s, i) : A.at(i, s)) * (tb ? B.at(j, s) : B.at(s, j));
              EXPECT_EQ(C[i + j * ldc], expected)
                  << "layouts " << int(la) << int(lb) << " transposes " << ta << tb << " at ("
                  << i << ", " << j << ")";
            }
        }
}

}  // namespace
