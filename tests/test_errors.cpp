// Every bad argument gets an exception of the right kind whose message names the
// argument and the value.
#include <gmock/gmock.h>

#include <limits>

#include "helpers.hpp"

namespace {

using namespace testing_nmf;
using ::testing::HasSubstr;

template <class E, class F>
std::string message_of(F f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception type: ") + e.what();
  }
  return "no exception";
}

nmfuse::Result<double> run(const Matrix<double>& V, const nmfuse::Options& opt) {
  return nmfuse::factorize(V.view(), opt);
}

TEST(Errors, BadEntriesOfVAreNamedWithTheirPosition) {
  Matrix<double> V = random_matrix(20, 30, 1);
  const nmfuse::Options opt = cpu_options(3);
  V(3, 17) = -0.5;
  EXPECT_THAT(message_of<nmfuse::InvalidArgument>([&] { run(V, opt); }),
              HasSubstr("V (20×30) has a negative entry at (3, 17): -0.5"));
  V(3, 17) = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THAT(message_of<nmfuse::InvalidArgument>([&] { run(V, opt); }),
              HasSubstr("a NaN entry at (3, 17)"));
  V(3, 17) = std::numeric_limits<double>::infinity();
  EXPECT_THAT(message_of<nmfuse::InvalidArgument>([&] { run(V, opt); }),
              HasSubstr("an infinite entry at (3, 17)"));
}

TEST(Errors, ZeroEntryForItakuraSaito) {
  Matrix<double> V = random_matrix(10, 8, 9);
  V(2, 5) = 0;
  nmfuse::Options opt = cpu_options(2);
  opt.loss = nmfuse::Loss::ItakuraSaito;
  EXPECT_THAT(message_of<nmfuse::InvalidArgument>([&] { run(V, opt); }),
              HasSubstr("V has a zero at (2, 5), but the β-divergence with β = 0 is undefined"));
  opt.loss = nmfuse::Loss::Beta;
  opt.beta = -0.5;
  EXPECT_THAT(message_of<nmfuse::InvalidArgument>([&] { run(V, opt); }),
              HasSubstr("with β = -0.5 is undefined"));
  opt.beta = std::nan("");
  EXPECT_THAT(message_of<nmfuse::InvalidArgument>([&] { run(V, opt); }),
              HasSubstr("option beta = nan: must be finite"));
  opt.beta = 1.5;
  opt.solver = nmfuse::Solver::HALS;
  EXPECT_THAT(message_of<nmfuse::InvalidArgument>([&] { run(V, opt); }),
              HasSubstr("option solver = HALS: supports only loss Frobenius"));
}

TEST(Errors, MisShapedMatrices) {
  std::vector<double> data(12, 1.0);
  const nmfuse::Options opt = cpu_options(1);
  EXPECT_THAT(message_of<nmfuse::InvalidArgument>([&] {
                nmfuse::factorize(nmfuse::DenseView<const double>(data.data(), 0, 4), opt);
              }),
              HasSubstr("V (0×4) is empty"));
  EXPECT_THAT(message_of<nmfuse::InvalidArgument>([&] {
                nmfuse::factorize(nmfuse::DenseView<const double>(nullptr, 3, 4), opt);
              }),
              HasSubstr("V (3×4) has no data"));
  EXPECT_THAT(message_of<nmfuse::InvalidArgument>([&] {
                nmfuse::factorize(nmfuse::DenseView<const double>(
                                      data.data(), 3, 4, Layout::RowMajor, 2),
                                  opt);
              }),
              HasSubstr("leading dimension 2, less than 4"));
}

TEST(Errors, RankOutOfRange) {
  const Matrix<double> V = random_matrix(20, 8, 2);
  EXPECT_THAT(message_of<nmfuse::InvalidArgument>([&] { run(V, cpu_options(0)); }),
              HasSubstr("option rank = 0"));
  nmfuse::Options svd_start = cpu_options(9);
  svd_start.init = nmfuse::Init::NNDSVDa;
  EXPECT_THAT(message_of<nmfuse::InvalidArgument>([&] { run(V, svd_start); }),
              HasSubstr("option rank = 9: init = nndsvda needs a rank between 1 and "
                        "min(m, n) = 8 for a 20×8 matrix"));
}

TEST(Errors, BadOptionsNameTheField) {
  const Matrix<double> V = random_matrix(20, 8, 3);
  auto with = [&](auto change) {
    nmfuse::Options opt = cpu_options(2);
    change(opt);
    return message_of<nmfuse::InvalidArgument>([&] { run(V, opt); });
  };
  EXPECT_THAT(with([](auto& o) { o.tol = -1; }), HasSubstr("option tol = -1"));
  EXPECT_THAT(with([](auto& o) { o.max_iter = -5; }), HasSubstr("option max_iter = -5"));
  EXPECT_THAT(with([](auto& o) { o.check_every = 0; }), HasSubstr("option check_every = 0"));
  EXPECT_THAT(with([](auto& o) { o.l1_ratio = 2; }), HasSubstr("option l1_ratio = 2"));
  EXPECT_THAT(with([](auto& o) { o.alpha_W = -1; }), HasSubstr("option alpha_W = -1"));
  EXPECT_THAT(with([](auto& o) { o.alpha_H = std::nan(""); }), HasSubstr("option alpha_H = nan"));
  EXPECT_THAT(with([](auto& o) { o.hals_inner_tol = 1; }), HasSubstr("option hals_inner_tol = 1"));
  EXPECT_THAT(with([](auto& o) {
                o.solver = nmfuse::Solver::HALS;
                o.loss = nmfuse::Loss::KullbackLeibler;
              }),
              HasSubstr("option solver = HALS: supports only loss Frobenius"));
}

TEST(Errors, CustomInitialFactors) {
  const Matrix<double> V = random_matrix(20, 10, 4);
  nmfuse::Options opt = cpu_options(3);
  opt.init = nmfuse::Init::Custom;
  Matrix<double> W0 = random_matrix(20, 3, 5), H0 = random_matrix(3, 10, 6);
  const Matrix<double> wrong = random_matrix(3, 20, 7);
  EXPECT_THAT(message_of<nmfuse::InvalidArgument>([&] { run(V, opt); }),
              HasSubstr("init custom needs the initial W and H"));
  EXPECT_THAT(message_of<nmfuse::InvalidArgument>(
                  [&] { nmfuse::factorize(V.view(), opt, wrong.view(), H0.view()); }),
              HasSubstr("initial W is 3×20, expected 20×3"));
  W0(4, 1) = -2;
  EXPECT_THAT(message_of<nmfuse::InvalidArgument>(
                  [&] { nmfuse::factorize(V.view(), opt, W0.view(), H0.view()); }),
              HasSubstr("initial W (20×3) has a negative entry at (4, 1): -2"));
  opt.init = nmfuse::Init::Random;
  EXPECT_THAT(message_of<nmfuse::InvalidArgument>(
                  [&] { nmfuse::factorize(V.view(), opt, W0.view(), H0.view()); }),
              HasSubstr("but init is random, not custom"));
}

TEST(Errors, AllZeroMatrixForNndsvd) {
  const Matrix<double> V(10, 8, Layout::RowMajor);
  for (nmfuse::Init init : {nmfuse::Init::NNDSVD, nmfuse::Init::NNDSVDa, nmfuse::Init::NNDSVDar}) {
    nmfuse::Options opt = cpu_options(2);
    opt.init = init;
    EXPECT_THAT(message_of<nmfuse::InvalidArgument>([&] { run(V, opt); }),
                HasSubstr("init " + nmfuse::to_string(init) +
                          " needs a matrix with a non-zero entry, but V is all zeros"));
  }
}

// Here (toolkit, no driver) and in a CPU-only build, Cuda is a clear error and Auto
// falls back to the CPU saying why.
TEST(Errors, CudaWithoutAUsableGpu) {
  const nmfuse::BuildInfo info = nmfuse::build_info();
  if (info.usable_gpus > 0) GTEST_SKIP() << "a GPU is usable here: " << info.gpu_status;
  const Matrix<double> V = random_matrix(20, 10, 8);
  nmfuse::Options opt = cpu_options(2);
  opt.device = nmfuse::Device::Cuda;
  if (info.cuda_compiled) {
    EXPECT_THAT(message_of<nmfuse::DeviceUnavailable>([&] { run(V, opt); }),
                HasSubstr("device cuda was requested, but no GPU is usable"));
  } else {
    EXPECT_THAT(message_of<nmfuse::NotCompiled>([&] { run(V, opt); }),
                HasSubstr("built without CUDA"));
  }
  opt.device = nmfuse::Device::Auto;
  const auto r = run(V, opt);
  EXPECT_EQ(r.device, nmfuse::Device::Cpu);
  EXPECT_THAT(r.device_reason, HasSubstr("no usable GPU"));
}

}  // namespace
