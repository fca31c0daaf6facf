// The CUDA backend against the CPU backend from identical starts: one iteration at a
// time, then whole runs; every solver, loss, init and regularization; ranks on the
// register fast path (8, 16, 32, 64 wide) and past it; sizes that are not multiples of the
// block of 128 threads. Float on both sides, TF32 off.
//
// They run against the real CUDA module where it sees a usable GPU and against the
// emulated GPU (tests/cuda_emulator/) elsewhere: never skipped.
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <gmock/gmock.h>

#include <cstdlib>
#include <functional>
#include <iostream>

#include "cuda/module_api.hpp"
#include "batched_restarts.hpp"
#include "online_stream.hpp"
#include "helpers.hpp"
#include "nmfuse/rank_survey.hpp"

namespace {

using namespace testing_nmf;

// The test harness's choice, before anything loads a CUDA module: a GPU where there is
// one, the emulated GPU elsewhere (src/cuda/module_loader.cpp). An explicit setting wins.
const bool module_chosen = setenv("NMFUSE_CUDA_MODULE", "gpu-or-emulated", 0) == 0;

// Every GPU test needs a GPU, real or emulated: where neither loads, it fails.
#define REQUIRE_GPU()                                                          \
  do {                                                                         \
    const nmfuse::BuildInfo info = nmfuse::build_info();                       \
    ASSERT_GT(info.usable_gpus, 0) << "no usable GPU: " << info.gpu_status;    \
  } while (0)

// The CUDA runtime of the module the tests run against, for data a test puts on the GPU
// itself: the real runtime, or the emulator's.
struct GpuRuntime {
  decltype(&cudaMalloc) malloc;
  decltype(&cudaFree) free;
  decltype(&cudaMemcpy) memcpy;
  decltype(&cudaStreamCreate) stream_create;
  decltype(&cudaStreamDestroy) stream_destroy;
};

const GpuRuntime& gpu() {
  static const GpuRuntime r = [] {
    static_cast<void>(nmfuse::build_info());  // loads the module
    void* module = nmfuse::cuda::module_handle();
    if (!module) throw std::runtime_error("no CUDA module is loaded");
    auto find = [&](auto& f, const char* name) {
      f = reinterpret_cast<std::remove_reference_t<decltype(f)>>(dlsym(module, name));
      if (!f) throw std::runtime_error(std::string("the CUDA module has no ") + name);
    };
    GpuRuntime g{};
    find(g.malloc, "cudaMalloc");
    find(g.free, "cudaFree");
    find(g.memcpy, "cudaMemcpy");
    find(g.stream_create, "cudaStreamCreate");
    find(g.stream_destroy, "cudaStreamDestroy");
    return g;
  }();
  return r;
}

// The emulated GPU's knobs (null on a real GPU), each set for one scope: set(v) now,
// set(0), the configured value, when the scope ends, whatever the test's outcome.
template <class Value>
class EmulatorKnob {
 public:
  explicit EmulatorKnob(const char* name)
      : set_(reinterpret_cast<void (*)(Value)>(dlsym(nmfuse::cuda::module_handle(), name))) {}
  ~EmulatorKnob() {
    if (set_) set_(Value(0));
  }
  explicit operator bool() const { return set_ != nullptr; }
  void operator()(Value v) const { set_(v); }

 private:
  void (*set_)(Value);
};

// Says once, in the test output, which GPU the tests run on.
class SayWhichGpu : public ::testing::Environment {
 public:
  void SetUp() override {
    static_cast<void>(module_chosen);
    std::cout << "GPU tests run on: " << nmfuse::build_info().gpu_status << std::endl;
  }
};
const auto* const say_which_gpu = ::testing::AddGlobalTestEnvironment(new SayWhichGpu);

// β ≤ 0 (Itakura–Saito among them) takes V without zeros.
bool needs_positive_data(nmfuse::Loss loss, double beta) {
  return loss == nmfuse::Loss::ItakuraSaito || (loss == nmfuse::Loss::Beta && beta <= 0);
}

nmfuse::Options on(nmfuse::Device device, nmfuse::Options opt) {
  opt.device = device;
  return opt;
}

struct Case {
  const char* name;
  nmfuse::Loss loss;
  nmfuse::Solver solver;
  int rank;
  Layout layout;
  double alpha;
  double beta = 0;  // of Loss::Beta
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class GpuMatchesCpu : public ::testing::TestWithParam<Case> {};

// Each iteration's products sum up to max(m, n) = 300 float terms in another order on
// each side: a relative difference of order √300·ε_float ≈ 2e-6 an entry, growing with
// the iterations through the divisions. 1e-4 after the first steps leaves a margin of
// 50 and still fails on any indexing or transpose mistake, which is of order 1.
TEST_P(GpuMatchesCpu, StepByStepThenWholeRuns) {
  REQUIRE_GPU();
  const Case c = GetParam();
  const index_t m = 300, n = 211;  // neither is a multiple of 128
  const bool positive = needs_positive_data(c.loss, c.beta);
  const Matrix<float> V = random_matrix<float>(m, n, 21, positive ? 0 : 0.2, c.layout);
  const Matrix<float> W0 = random_matrix<float>(m, c.rank, 22);
  const Matrix<float> H0 = random_matrix<float>(c.rank, n, 23);
  nmfuse::Options opt;
  opt.rank = c.rank;
  opt.loss = c.loss;
  opt.beta = c.beta;
  opt.solver = c.solver;
  opt.init = nmfuse::Init::Custom;
  opt.alpha_W = c.alpha;
  opt.l1_ratio = 0.4;
  opt.tol = 0;
  // The factors are compared after one HALS sweep per half-step: repeated coordinate
  // sweeps over an ill-conditioned Gram amplify rounding far past it (at k = 64 and 3
  // sweeps the CPU's own float factors differ from its double ones by 0.4%). Even so,
  // past k ≈ 64 the conditioning adds to the rounding the comment above derives, so the
  // GPU's float factors are held against the CPU's double ones within 1e-4 plus three
  // times what this problem makes of the CPU's own float rounding. The loss, which
  // those directions hardly move, is compared at the default sweeps.
  nmfuse::Options one_sweep = opt;
  one_sweep.hals_inner_max = 1;
  const Matrix<double> Vd = cast<double>(V), W0d = cast<double>(W0), H0d = cast<double>(H0);
  for (int it = 1; it <= 3; ++it) {
    one_sweep.max_iter = opt.max_iter = it;
    const auto cpu = nmfuse::factorize(V.view(), on(nmfuse::Device::Cpu, one_sweep), W0.view(), H0.view());
    const auto ref = nmfuse::factorize(Vd.view(), on(nmfuse::Device::Cpu, one_sweep), W0d.view(), H0d.view());
    const auto gpu = nmfuse::factorize(V.view(), on(nmfuse::Device::Cuda, one_sweep), W0.view(), H0.view());
    ASSERT_EQ(gpu.device, nmfuse::Device::Cuda);
    EXPECT_LT(relative_difference(gpu.W, ref.W), 1e-4 * it + 3 * relative_difference(cpu.W, ref.W))
        << "W after iteration " << it;
    EXPECT_LT(relative_difference(gpu.H, ref.H), 1e-4 * it + 3 * relative_difference(cpu.H, ref.H))
        << "H after iteration " << it;
    const auto cpu_loss = nmfuse::factorize(V.view(), on(nmfuse::Device::Cpu, opt), W0.view(), H0.view());
    const auto gpu_loss = nmfuse::factorize(V.view(), on(nmfuse::Device::Cuda, opt), W0.view(), H0.view());
    EXPECT_NEAR(gpu_loss.loss_history.back(), cpu_loss.loss_history.back(),
                1e-4 * cpu_loss.loss_history.back());
  }
  // Whole runs without extrapolation: its step follows the sign of each change of the
  // loss, which near convergence is rounding, so two backends may part ways there.
  opt.hals_extrapolate = false;
  opt.max_iter = 60;
  opt.check_every = 5;
  const auto cpu = nmfuse::factorize(V.view(), on(nmfuse::Device::Cpu, opt), W0.view(), H0.view());
  const auto gpu = nmfuse::factorize(V.view(), on(nmfuse::Device::Cuda, opt), W0.view(), H0.view());
  ASSERT_EQ(gpu.loss_history.size(), cpu.loss_history.size());
  for (std::size_t i = 0; i < cpu.loss_history.size(); ++i)
    EXPECT_NEAR(gpu.loss_history[i], cpu.loss_history[i], 1e-3 * cpu.loss_history[i]) << "check " << i;
}

using nmfuse::Loss;
using nmfuse::Solver;
INSTANTIATE_TEST_SUITE_P(
    Solvers, GpuMatchesCpu,
    ::testing::Values(Case{"mu_k5", Loss::Frobenius, Solver::MU, 5, Layout::RowMajor, 0},
                      Case{"mu_k64_reg", Loss::Frobenius, Solver::MU, 64, Layout::ColMajor, 0.01},
                      Case{"mu_k70", Loss::Frobenius, Solver::MU, 70, Layout::RowMajor, 0},
                      Case{"mu_k16", Loss::Frobenius, Solver::MU, 16, Layout::ColMajor, 0},
                      Case{"hals_k7", Loss::Frobenius, Solver::HALS, 7, Layout::ColMajor, 0},
                      Case{"hals_k12_reg", Loss::Frobenius, Solver::HALS, 12, Layout::RowMajor, 0.01},
                      Case{"hals_k32_reg", Loss::Frobenius, Solver::HALS, 32, Layout::RowMajor, 0.01},
                      Case{"hals_k64", Loss::Frobenius, Solver::HALS, 64, Layout::RowMajor, 0},
                      Case{"hals_k90", Loss::Frobenius, Solver::HALS, 90, Layout::ColMajor, 0},
                      Case{"kl_k6", Loss::KullbackLeibler, Solver::MU, 6, Layout::RowMajor, 0},
                      Case{"kl_k17_reg", Loss::KullbackLeibler, Solver::MU, 17, Layout::ColMajor, 0.01},
                      Case{"kl_k80", Loss::KullbackLeibler, Solver::MU, 80, Layout::RowMajor, 0},
                      Case{"is_k6", Loss::ItakuraSaito, Solver::MU, 6, Layout::ColMajor, 0},
                      Case{"beta_0_5_k20_reg", Loss::Beta, Solver::MU, 20, Layout::RowMajor, 0.01, 0.5},
                      Case{"beta_3_k66", Loss::Beta, Solver::MU, 66, Layout::ColMajor, 0, 3}),
    [](const auto& info) { return std::string(info.param.name); });

// Missing values on the GPU: the same masked updates as on the CPU, for each β.
TEST(Gpu, MaskedRunsMatchTheCpu) {
  REQUIRE_GPU();
  const Matrix<float> V = random_matrix<float>(180, 150, 28, 0, Layout::ColMajor);
  const Matrix<double> u = random_matrix(180, 150, 29);
  Matrix<std::uint8_t> M(180, 150, Layout::RowMajor);
  for (index_t i = 0; i < 180; ++i)
    for (index_t j = 0; j < 150; ++j) M(i, j) = u(i, j) < 0.7;
  const Matrix<float> W0 = random_matrix<float>(180, 7, 30), H0 = random_matrix<float>(7, 150, 31);
  for (nmfuse::Loss loss : {nmfuse::Loss::Frobenius, nmfuse::Loss::KullbackLeibler,
                            nmfuse::Loss::ItakuraSaito}) {
    nmfuse::Options opt;
    opt.rank = 7;
    opt.loss = loss;
    opt.solver = nmfuse::Solver::MU;
    opt.init = nmfuse::Init::Custom;
    opt.max_iter = 3;
    opt.tol = 0;
    const auto cpu = nmfuse::factorize(V.view(), on(nmfuse::Device::Cpu, opt), W0.view(),
                                       H0.view(), M.view());
    const auto gpu = nmfuse::factorize(V.view(), on(nmfuse::Device::Cuda, opt), W0.view(),
                                       H0.view(), M.view());
    EXPECT_LT(relative_difference(gpu.W, cpu.W), 3e-4) << nmfuse::to_string(loss);
    EXPECT_NEAR(gpu.loss_history.back(), cpu.loss_history.back(), 1e-4 * cpu.loss_history.back());
  }
  // HALS with a mask: a Gram per row, in shared memory, for k ≤ 64; beyond, Auto runs
  // on the CPU and says so.
  nmfuse::Options hals;
  hals.rank = 7;
  hals.init = nmfuse::Init::Custom;
  hals.max_iter = 3;
  hals.tol = 0;
  const auto cpu = nmfuse::factorize(V.view(), on(nmfuse::Device::Cpu, hals), W0.view(),
                                     H0.view(), M.view());
  const auto gpu = nmfuse::factorize(V.view(), on(nmfuse::Device::Cuda, hals), W0.view(),
                                     H0.view(), M.view());
  EXPECT_LT(relative_difference(gpu.W, cpu.W), 3e-4);
  EXPECT_LT(relative_difference(gpu.H, cpu.H), 3e-4);
  hals.rank = 70;
  hals.init = nmfuse::Init::Random;
  const auto fell_back = nmfuse::factorize(V.view(), hals, M.view());
  EXPECT_EQ(fell_back.device, nmfuse::Device::Cpu);
  EXPECT_THAT(fell_back.device_reason, ::testing::HasSubstr("rank ≤ 64 on the GPU"));
}

// The inits come from the backend's own products and sums: they agree to float
// rounding, so the first loss agrees closely.
TEST(Gpu, InitsAgreeWithTheCpu) {
  REQUIRE_GPU();
  const Matrix<float> V = random_matrix<float>(257, 130, 24);
  for (nmfuse::Init init : {nmfuse::Init::Random, nmfuse::Init::NNDSVD, nmfuse::Init::NNDSVDa,
                            nmfuse::Init::NNDSVDar}) {
    nmfuse::Options opt;
    opt.rank = 9;
    opt.init = init;
    opt.max_iter = 0;
    const auto cpu = nmfuse::factorize(V.view(), on(nmfuse::Device::Cpu, opt));
    const auto gpu = nmfuse::factorize(V.view(), on(nmfuse::Device::Cuda, opt));
    EXPECT_NEAR(gpu.loss_history[0], cpu.loss_history[0], 1e-4 * cpu.loss_history[0])
        << nmfuse::to_string(init);
    EXPECT_LT(relative_difference(gpu.W, cpu.W), 1e-3) << nmfuse::to_string(init);
  }
}

TEST(Gpu, DoubleInputRunsInFloatOnTheGpu) {
  REQUIRE_GPU();
  const Matrix<double> V = random_matrix(120, 90, 25);
  nmfuse::Options opt;
  opt.rank = 4;
  opt.max_iter = 30;
  const auto gpu = nmfuse::factorize(V.view(), on(nmfuse::Device::Auto, opt));
  const auto cpu = nmfuse::factorize(V.view(), on(nmfuse::Device::Cpu, opt));
  EXPECT_EQ(gpu.device, nmfuse::Device::Cuda);
  EXPECT_THAT(gpu.device_reason, ::testing::HasSubstr("computed in float"));
  EXPECT_NEAR(gpu.loss_history.back(), cpu.loss_history.back(), 1e-3 * cpu.loss_history.back());
}

TEST(Gpu, TransformMatchesTheCpu) {
  REQUIRE_GPU();
  const Matrix<float> V = random_matrix<float>(150, 140, 26);
  nmfuse::Options opt;
  opt.rank = 6;
  opt.max_iter = 100;
  nmfuse::Model<float> gpu_model(on(nmfuse::Device::Cuda, opt)), cpu_model(on(nmfuse::Device::Cpu, opt));
  gpu_model.fit(V.view());
  cpu_model.fit(V.view());
  EXPECT_LT(relative_difference(gpu_model.transform(V.view()), cpu_model.transform(V.view())), 1e-2);
}

// Data already on the GPU: factored in place, factors left there.
TEST(Gpu, DeviceResidentInputAndOutput) {
  REQUIRE_GPU();
  const Matrix<float> V = random_matrix<float>(200, 150, 27);
  float* dV = nullptr;
  ASSERT_EQ(gpu().malloc(reinterpret_cast<void**>(&dV), V.size() * sizeof(float)), cudaSuccess);
  ASSERT_EQ(gpu().memcpy(dV, V.data(), V.size() * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
  cudaStream_t stream;
  ASSERT_EQ(gpu().stream_create(&stream), cudaSuccess);
  nmfuse::Options opt;
  opt.rank = 5;
  opt.max_iter = 40;
  opt.seed = 3;
  const nmfuse::DeviceResult d =
      nmfuse::factorize(nmfuse::DeviceView(dV, 200, 150, Layout::RowMajor), opt, stream);
  const auto host = nmfuse::factorize(V.view(), on(nmfuse::Device::Cuda, opt));
  Matrix<float> W(200, 5, Layout::ColMajor);
  ASSERT_EQ(d.W.rows(), 200);
  ASSERT_EQ(gpu().memcpy(W.data(), d.W.data(), W.size() * sizeof(float), cudaMemcpyDeviceToHost),
            cudaSuccess);
  EXPECT_LT(relative_difference(W, host.W), 1e-5);
  EXPECT_EQ(d.loss_history.size(), host.loss_history.size());

  // A negative entry on the device is named like one on the host.
  const float bad = -2.0f;
  ASSERT_EQ(gpu().memcpy(dV + 3 * 150 + 7, &bad, sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
  try {
    nmfuse::factorize(nmfuse::DeviceView(dV, 200, 150, Layout::RowMajor), opt, stream);
    ADD_FAILURE() << "no exception";
  } catch (const nmfuse::InvalidArgument& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("negative entry at (3, 7): -2"));
  }
  gpu().stream_destroy(stream);
  gpu().free(dV);
}

TEST(Gpu, TooLargeProblemSaysHowMuchItNeeds) {
  REQUIRE_GPU();
  // The check reads the free memory before anything reads V, so a tiny buffer can
  // stand for a 2⁵¹-entry matrix.
  float* tiny = nullptr;
  ASSERT_EQ(gpu().malloc(reinterpret_cast<void**>(&tiny), sizeof(float)), cudaSuccess);
  nmfuse::Options opt;
  opt.rank = 64;
  try {
    nmfuse::factorize(nmfuse::DeviceView(tiny, index_t(1) << 30, index_t(1) << 21,
                                         Layout::RowMajor),
                      opt);
    ADD_FAILURE() << "no exception";
  } catch (const nmfuse::OutOfDeviceMemory& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("of GPU memory, but only"));
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception: " << e.what();
  }
  gpu().free(tiny);
}

// The out-of-GPU-memory path for real: the emulated GPU's memory shrunk below what a
// problem needs, which is refused, naming the sizes, before anything is copied; with
// the memory back, the same problem runs. (A real GPU's memory cannot be shrunk.)
TEST(Gpu, OutOfMemoryIsReportedUpFrontNamingTheSizes) {
  REQUIRE_GPU();
  const EmulatorKnob<std::size_t> set_memory("nmfuse_emulator_set_memory");
  if (!set_memory) GTEST_SKIP() << "only the emulated GPU's memory can be shrunk";
  const Matrix<float> V = random_matrix<float>(400, 300, 40, 0.5);
  const auto S = to_csr<float>(V);
  nmfuse::Options opt;
  opt.rank = 8;
  opt.device = nmfuse::Device::Cuda;
  opt.max_iter = 5;
  set_memory(std::size_t(256) << 10);  // V alone is 469 KiB
  for (bool sparse : {false, true}) {
    try {
      sparse ? nmfuse::factorize(S.view(), opt) : nmfuse::factorize(V.view(), opt);
      ADD_FAILURE() << "no exception";
    } catch (const nmfuse::OutOfDeviceMemory& e) {
      EXPECT_THAT(e.what(), ::testing::HasSubstr("a 400×300 problem at rank 8 needs"));
      EXPECT_THAT(e.what(), ::testing::HasSubstr("of GPU memory, but only 0.2 MiB of 0.2 MiB is free"));
    } catch (const std::exception& e) {
      ADD_FAILURE() << "wrong exception: " << e.what();
    }
  }
  set_memory(0);  // the configured size again
  EXPECT_EQ(nmfuse::factorize(V.view(), opt).device, nmfuse::Device::Cuda);
  EXPECT_EQ(nmfuse::factorize(S.view(), opt).device, nmfuse::Device::Cuda);
}

// What the check says a problem needs is enough: with exactly that much memory free the
// run goes through (the libraries' workspaces are part of the estimate).
TEST(Gpu, WhatTheMemoryCheckAsksForIsEnough) {
  REQUIRE_GPU();
  const EmulatorKnob<std::size_t> set_memory("nmfuse_emulator_set_memory");
  if (!set_memory) GTEST_SKIP() << "only the emulated GPU's memory can be shrunk";
  const Matrix<float> V = random_matrix<float>(400, 300, 40, 0.5);
  const auto S = to_csr<float>(V);
  for (bool sparse : {false, true}) {
    nmfuse::Options opt;
    opt.rank = 8;
    opt.device = nmfuse::Device::Cuda;
    opt.max_iter = 5;
    opt.loss = nmfuse::Loss::KullbackLeibler;
    opt.solver = nmfuse::Solver::MU;
    auto run = [&] { return sparse ? nmfuse::factorize(S.view(), opt) : nmfuse::factorize(V.view(), opt); };
    set_memory(std::size_t(64) << 10);
    double needed_mib = 0;
    try {
      run();
    } catch (const nmfuse::OutOfDeviceMemory& e) {
      const std::string what = e.what();
      needed_mib = std::stod(what.substr(what.find(" needs ") + 7));
    }
    ASSERT_GT(needed_mib, 0) << (sparse ? "sparse" : "dense");
    set_memory(std::size_t((needed_mib + 0.1) * 1024 * 1024));
    EXPECT_NO_THROW(run()) << (sparse ? "sparse" : "dense") << ", with " << needed_mib + 0.1 << " MiB";
  }
}

// factorize_many() on the GPU: one product, one strided-batched Gram and one update
// launch for all running restarts. In float: on the emulated GPU every product entry is
// summed alike whatever the width, so the batch equals its lone runs exactly; a real
// GPU's libraries choose kernels by width, hence the bound of GpuMatchesCpu.
class GpuRestarts : public ::testing::TestWithParam<RestartCase> {};

TEST_P(GpuRestarts, EachEqualsItsLoneRun) {
  REQUIRE_GPU();
  expect_restarts_match_lone_runs<float>(GetParam(), nmfuse::Device::Cuda, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Paths, GpuRestarts, ::testing::ValuesIn(kRestartCases),
                         [](const auto& info) { return std::string(info.param.name); });

// Online steps on the GPU: each batch's H solve and the products of W's update run there,
// the sums on the host. Five batches in float end as far from the double CPU run as the
// float CPU run does (~2e-7), within a factor of 3 and one float ε (rounding in other
// orders, as in GpuMatchesCpu).
class GpuOnline : public ::testing::TestWithParam<OnlineCase> {};

// The GPU's W after five batches against the CPU's, in float and double:
// step(model, b) feeds the model (nmfuse::Model<T>) batch b and returns its OnlineInfo.
template <class Step>
void expect_online_gpu_near_cpu(nmfuse::Options opt, Step step) {
  opt.max_iter = 30;
  opt.tol = 0;  // the same inner iterations on every device
  opt.batch_size = 100;
  auto run = [&](auto zero, nmfuse::Device device) {
    using T = decltype(zero);
    nmfuse::Options o = opt;
    o.device = device;
    nmfuse::Model<T> model(o);
    for (unsigned b = 0; b < 5; ++b) EXPECT_EQ(step(model, b).device, device);
    return model.W();
  };
  const Matrix<double> ref = run(0.0, nmfuse::Device::Cpu);
  const Matrix<float> cpu = run(0.0f, nmfuse::Device::Cpu), gpu = run(0.0f, nmfuse::Device::Cuda);
  EXPECT_LT(relative_difference(gpu, ref), 3 * relative_difference(cpu, ref) + 1e-7)
      << nmfuse::to_string(opt.loss);
}

TEST_P(GpuOnline, PartialFitMatchesTheCpu) {
  REQUIRE_GPU();
  const OnlineCase c = GetParam();
  const Matrix<double> planted = planted_dictionary(40, 4);
  expect_online_gpu_near_cpu(online_options(c, 4), [&](auto& model, unsigned b) {
    using T = typename std::decay_t<decltype(model.W())>::value_type;
    const Matrix<T> V = stream_batch<T>(planted, 100, 50 + b, c.sparse);
    return c.sparse ? model.partial_fit(to_csr<T>(V).view()) : model.partial_fit(V.view());
  });
}

INSTANTIATE_TEST_SUITE_P(Paths, GpuOnline, ::testing::ValuesIn(kOnlineCases),
                         [](const auto& info) { return std::string(info.param.name); });

// Online steps with missing values (CSR batches whose absent entries are unknown, and
// dense batches with a mask; by MU) on the GPU, against the CPU's as above.
TEST(Gpu, OnlineWithMissingValuesMatchesTheCpu) {
  REQUIRE_GPU();
  const Matrix<double> planted = planted_dictionary(40, 4);
  for (nmfuse::Loss loss : {nmfuse::Loss::Frobenius, nmfuse::Loss::KullbackLeibler})
    for (bool masked_dense : {false, true}) {
      nmfuse::Options opt = online_options(kOnlineCases[1], 4);
      opt.loss = loss;
      expect_online_gpu_near_cpu(opt, [&](auto& model, unsigned b) {
        using T = typename std::decay_t<decltype(model.W())>::value_type;
        const Matrix<T> V = stream_batch<T>(planted, 100, 60 + b, false);
        auto seen = [b](index_t i, index_t j) { return (i * 7 + j * 3 + b) % 3 != 0; };
        if (!masked_dense) return model.partial_fit(to_csr<T>(V, seen).view(nmfuse::Absent::Unknown));
        std::vector<std::uint8_t> observed(V.size());
        for (index_t i = 0; i < V.rows(); ++i)
          for (index_t j = 0; j < V.cols(); ++j) observed[std::size_t(i * V.cols() + j)] = seen(i, j);
        return model.partial_fit(V.view(), nmfuse::MaskView(observed.data(), V.rows(), V.cols()));
      });
    }
}

// Double data with a mask runs in float on the GPU, its mask laid out anew for the
// float copy (row-major, whatever V's layout: here column-major).
TEST(Gpu, FitOnlineWithDoubleDataAndAMaskRunsOnTheGpu) {
  REQUIRE_GPU();
  const Matrix<double> rows = stream_batch<double>(planted_dictionary(30, 3), 300, 4, false);
  Matrix<double> V(30, 300, Layout::ColMajor);
  std::vector<std::uint8_t> observed(V.size());
  for (index_t i = 0; i < 30; ++i)
    for (index_t j = 0; j < 300; ++j) {
      const bool seen = (i * 5 + j) % 4 != 0;
      V(i, j) = seen ? rows(i, j) : 1000.0;
      observed[std::size_t(i * 300 + j)] = seen;
    }
  const nmfuse::MaskView mask(observed.data(), 30, 300);
  nmfuse::Options opt = online_options(kOnlineCases[1], 3);
  opt.batch_size = 100;
  opt.max_passes = 3;
  opt.device = nmfuse::Device::Cuda;
  nmfuse::Model<double> gpu(opt);
  EXPECT_EQ(gpu.fit_online(V.view(), mask).device, nmfuse::Device::Cuda);
  opt.device = nmfuse::Device::Cpu;
  nmfuse::Model<double> cpu(opt);
  cpu.fit_online(V.view(), mask);
  EXPECT_LT(relative_difference(gpu.W(), cpu.W()), 1e-3);
}

// fit_online with double data runs its batches in float on the GPU.
TEST(Gpu, FitOnlineWithDoubleDataRunsOnTheGpu) {
  REQUIRE_GPU();
  const Matrix<double> V = stream_batch<double>(planted_dictionary(30, 3), 300, 3, false);
  nmfuse::Options opt = online_options(kOnlineCases[0], 3);
  opt.device = nmfuse::Device::Cuda;
  opt.batch_size = 100;
  opt.max_passes = 3;
  nmfuse::Model<double> gpu(opt);
  EXPECT_EQ(gpu.fit_online(V.view()).steps, 9);
  EXPECT_EQ(gpu.fit_online(V.view()).device, nmfuse::Device::Cuda);
  opt.device = nmfuse::Device::Cpu;
  nmfuse::Model<double> cpu(opt);
  cpu.fit_online(V.view());
  EXPECT_LT(relative_difference(gpu.W(), cpu.W()), 1e-3);
}

// Out of core: a V that does not fit in GPU memory streams to it in blocks of its
// stored columns, two stages on a copy stream of their own. With the emulated GPU's
// memory shrunk below what V needs, each run equals the run with V in GPU memory: the
// products sum the same terms, a block's partial sums added in float (≈1e-7 an entry,
// grown through the updates' divisions over 10 iterations: 1e-4 leaves a margin), and
// the emulator runs the kernels only where events or synchronizations say they must
// have run, and the copies as early as they may.
struct OutOfCoreCase {
  const char* name;
  nmfuse::Loss loss;
  nmfuse::Solver solver;
  Layout layout;
  index_t padding;  // of the leading dimension
};

class GpuOutOfCore : public ::testing::TestWithParam<OutOfCoreCase> {};

// The "needs X MiB" of an OutOfDeviceMemory, in bytes.
double needed_bytes(const std::function<void()>& run) {
  try {
    run();
  } catch (const nmfuse::OutOfDeviceMemory& e) {
    const std::string what = e.what();
    return std::stod(what.substr(what.find(" needs ") + 7)) * 1024 * 1024;
  }
  return 0;
}

TEST_P(GpuOutOfCore, StreamedVEqualsVInGpuMemory) {
  REQUIRE_GPU();
  const EmulatorKnob<std::size_t> set_memory("nmfuse_emulator_set_memory");
  if (!set_memory) GTEST_SKIP() << "only the emulated GPU's memory can be shrunk";
  const OutOfCoreCase c = GetParam();
  const index_t m = 600, n = 400;
  const Matrix<float> dense = random_matrix<float>(m, n, 8);
  // The same entries with a padded leading dimension, in the case's layout.
  const index_t ld = (c.layout == Layout::RowMajor ? n : m) + c.padding;
  std::vector<float> storage(std::size_t(ld * (c.layout == Layout::RowMajor ? m : n)), -1.0f);
  const nmfuse::DenseView<float> V(storage.data(), m, n, c.layout, ld);
  for (index_t i = 0; i < m; ++i)
    for (index_t j = 0; j < n; ++j) V(i, j) = dense(i, j);
  nmfuse::Options opt;
  opt.rank = 6;
  opt.loss = c.loss;
  opt.beta = 1.5;
  opt.solver = c.solver;
  opt.device = nmfuse::Device::Cuda;
  opt.max_iter = 10;
  opt.tol = 0;
  opt.out_of_core = nmfuse::OutOfCore::Off;
  const nmfuse::Result<float> resident = nmfuse::factorize(V, opt);
  EXPECT_THAT(resident.device_reason, ::testing::Not(::testing::HasSubstr("streamed")));

  set_memory(std::size_t(64) << 10);
  const double in_memory = needed_bytes([&] { nmfuse::factorize(V, opt); });
  ASSERT_GT(in_memory, 0);
  const double v_bytes = sizeof(float) * double(m) * double(n);
  set_memory(std::size_t(in_memory - 0.9 * v_bytes));  // V does not fit
  EXPECT_GT(needed_bytes([&] { nmfuse::factorize(V, opt); }), 0) << "out_of_core = off";
  opt.out_of_core = nmfuse::OutOfCore::Auto;
  const EmulatorKnob<int> set_eager_copies("nmfuse_emulator_set_eager_copies");
  set_eager_copies(1);  // copies run ahead of the kernels that read the stages
  const nmfuse::Result<float> streamed = nmfuse::factorize(V, opt);
  set_eager_copies(0);
  set_memory(0);
  EXPECT_THAT(streamed.device_reason, ::testing::HasSubstr("streamed to the GPU in blocks of"));
  EXPECT_THAT(streamed.device_reason, ::testing::HasSubstr("does not fit in free GPU memory"));
  const std::string& why = streamed.device_reason;
  const index_t block = std::stoll(why.substr(why.find("blocks of ") + 10));
  const index_t stored_cols = c.layout == Layout::RowMajor ? m : n;
  EXPECT_LE(3 * block, 2 * stored_cols) << "at least two blocks a pass: " << why;
  EXPECT_EQ(streamed.iterations, resident.iterations);
  EXPECT_LT(relative_difference(streamed.W, resident.W), 1e-4);
  EXPECT_LT(relative_difference(streamed.H, resident.H), 1e-4);
  for (std::size_t e = 0; e < resident.loss_history.size(); ++e)
    EXPECT_NEAR(streamed.loss_history[e], resident.loss_history[e], 1e-4 * resident.loss_history[e]);

  // Asked for, V streams even where it fits, and the run says why.
  opt.out_of_core = nmfuse::OutOfCore::On;
  const nmfuse::Result<float> asked = nmfuse::factorize(V, opt);
  EXPECT_THAT(asked.device_reason, ::testing::HasSubstr("as out_of_core = on asks"));
  EXPECT_LT(relative_difference(asked.W, resident.W), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(
    Paths, GpuOutOfCore,
    ::testing::Values(
        OutOfCoreCase{"mu_rows", nmfuse::Loss::Frobenius, nmfuse::Solver::MU, Layout::RowMajor, 0},
        OutOfCoreCase{"hals_columns", nmfuse::Loss::Frobenius, nmfuse::Solver::HALS,
                      Layout::ColMajor, 0},
        OutOfCoreCase{"hals_rows_padded", nmfuse::Loss::Frobenius, nmfuse::Solver::HALS,
                      Layout::RowMajor, 7},
        OutOfCoreCase{"kl_columns_padded", nmfuse::Loss::KullbackLeibler, nmfuse::Solver::MU,
                      Layout::ColMajor, 5},
        OutOfCoreCase{"beta_rows", nmfuse::Loss::Beta, nmfuse::Solver::MU, Layout::RowMajor, 0}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Gpu, OutOfCoreOnTakesNoMask) {
  REQUIRE_GPU();
  const Matrix<float> V = random_matrix<float>(30, 20, 1);
  Matrix<std::uint8_t> observed(30, 20, Layout::RowMajor);
  for (std::size_t e = 0; e < observed.size(); ++e) observed.data()[e] = e % 3 != 0;
  nmfuse::Options opt;
  opt.rank = 2;
  opt.device = nmfuse::Device::Cuda;
  opt.out_of_core = nmfuse::OutOfCore::On;
  EXPECT_THAT([&] { nmfuse::factorize(V.view(), opt, observed.view()); },
              ::testing::ThrowsMessage<nmfuse::InvalidArgument>(
                  ::testing::HasSubstr("option out_of_core = on")));
}

// Restarts that do not fit in GPU memory together run in smaller groups: with room for
// one restart (a rank-16 restart of a 2000×60 V takes 0.37 MiB more than the last),
// three run one at a time and each still equals its lone run.
TEST(Gpu, RestartsThatDoNotFitTogetherRunInGroups) {
  REQUIRE_GPU();
  const EmulatorKnob<std::size_t> set_memory("nmfuse_emulator_set_memory");
  if (!set_memory) GTEST_SKIP() << "only the emulated GPU's memory can be shrunk";
  const Matrix<float> V = random_matrix<float>(2000, 60, 42);
  nmfuse::Options opt;
  opt.rank = 16;
  opt.device = nmfuse::Device::Cuda;
  opt.max_iter = 3;
  set_memory(std::size_t(64) << 10);
  double one_mib = 0;
  try {
    nmfuse::factorize_many(V.view(), opt, 3);
  } catch (const nmfuse::OutOfDeviceMemory& e) {  // what one restart needs, to 0.1 MiB
    const std::string what = e.what();
    one_mib = std::stod(what.substr(what.find(" needs ") + 7));
  }
  ASSERT_GT(one_mib, 0);
  set_memory(std::size_t((one_mib + 0.15) * 1024 * 1024));
  const auto runs = nmfuse::factorize_many(V.view(), opt, 3);
  set_memory(0);
  ASSERT_EQ(runs.size(), 3u);
  for (int r = 0; r < 3; ++r) {
    const auto alone = nmfuse::factorize(V.view(), nmfuse::restart_options(opt, r));
    EXPECT_LE(relative_difference(runs[r].W, alone.W), 1e-4);
    EXPECT_LE(relative_difference(runs[r].H, alone.H), 1e-4);
  }
}

// The rank survey of a sparse V on the GPU: its restarts (sparse) and its splits
// (sparse with unknown absent entries, dense with a mask where they are zeros) agree
// with the CPU's to float rounding, amplified over 100 MU steps.
TEST(Gpu, RankSurveyOfASparseVMatchesTheCpu) {
  REQUIRE_GPU();
  const Matrix<float> V = product(random_matrix<float>(40, 3, 43, 0.3), random_matrix<float>(3, 30, 44));
  const auto S = to_csr<float>(V);
  nmfuse::Options opt;
  opt.solver = nmfuse::Solver::MU;
  opt.max_iter = 100;
  nmfuse::SurveyOptions s;
  s.ranks = {2, 3, 4};
  s.restarts = 2;
  s.splits = 2;
  for (nmfuse::Absent absent : {nmfuse::Absent::Zero, nmfuse::Absent::Unknown}) {
    const auto gpu = nmfuse::survey_ranks(S.view(absent), on(nmfuse::Device::Cuda, opt), s);
    const auto cpu = nmfuse::survey_ranks(S.view(absent), on(nmfuse::Device::Cpu, opt), s);
    for (std::size_t r = 0; r < 3; ++r)
      for (std::size_t e = 0; e < 2; ++e) {
        EXPECT_NEAR(gpu.ranks[r].losses[e], cpu.ranks[r].losses[e], 1e-3 * cpu.ranks[r].losses[e]);
        EXPECT_NEAR(gpu.ranks[r].holdout_errors[e], cpu.ranks[r].holdout_errors[e],
                    1e-3 * cpu.ranks[r].holdout_errors[e] + 1e-6);
      }
    EXPECT_EQ(gpu.suggested_rank, cpu.suggested_rank) << cpu.rule;
  }
}

// A GPU older than every architecture built (here an sm_70, which CUDA 13 no longer
// compiles for) runs cuBLAS but not the kernels: the probe says it is not usable and
// why, Auto runs on the CPU and Cuda is refused, instead of a failed launch later.
TEST(Gpu, AGpuTheKernelsCannotRunOnIsNotUsable) {
  REQUIRE_GPU();
  const EmulatorKnob<int> set_compute("nmfuse_emulator_set_compute");
  if (!set_compute) GTEST_SKIP() << "only the emulated GPU can be made older";
  set_compute(70);
  const nmfuse::BuildInfo info = nmfuse::build_info();
  EXPECT_EQ(info.usable_gpus, 0);
  EXPECT_THAT(info.gpu_status, ::testing::HasSubstr("sm_70"));
  EXPECT_THAT(info.gpu_status, ::testing::HasSubstr("cannot run nmfuse's kernels, built for"));
  const Matrix<float> V = random_matrix<float>(50, 40, 41);
  nmfuse::Options opt;
  opt.rank = 3;
  opt.max_iter = 5;
  const auto r = nmfuse::factorize(V.view(), opt);
  EXPECT_EQ(r.device, nmfuse::Device::Cpu);
  EXPECT_THAT(r.device_reason, ::testing::HasSubstr("cannot run nmfuse's kernels"));
  opt.device = nmfuse::Device::Cuda;
  EXPECT_THROW(nmfuse::factorize(V.view(), opt), nmfuse::DeviceUnavailable);
  set_compute(120);  // newer than any code built: the PTX compiles for it
  EXPECT_EQ(nmfuse::factorize(V.view(), opt).device, nmfuse::Device::Cuda);
}

// TF32 products near an exact fit: the loss a run reports is that of its factors, not
// TF32's rounding of the expanded loss (2⁻¹¹·‖V‖², far above it), dense and sparse.
TEST(Gpu, Tf32RunsReportTheLossOfTheirFactors) {
  REQUIRE_GPU();
  const Matrix<float> V = product(random_matrix<float>(150, 4, 50), random_matrix<float>(4, 110, 51));
  // Sparse: 60% of the entries stored, the others unknown, so that an exact fit exists.
  const Matrix<double> coin = random_matrix(150, 110, 52);
  const auto S = to_csr<float>(V, [&](index_t i, index_t j) { return coin(i, j) < 0.6; });
  double v_squared = 0;
  for (index_t e = 0; e < V.size(); ++e) v_squared += double(V.data()[e]) * V.data()[e];
  for (bool sparse : {false, true}) {
    nmfuse::Options opt;
    opt.rank = 4;
    opt.device = nmfuse::Device::Cuda;
    opt.max_iter = 300;
    opt.tol = 1e-6;
    opt.check_every = 5;
    auto run = [&] {
      return sparse ? nmfuse::factorize(S.view(nmfuse::Absent::Unknown), opt) : nmfuse::factorize(V.view(), opt);
    };
    opt.allow_tf32 = true;
    const auto tf32 = run();
    opt.allow_tf32 = false;
    const auto full = run();
    const Matrix<float> WH = product(tf32.W, tf32.H);
    double residual = 0;
    for (index_t i = 0; i < V.rows(); ++i)
      for (index_t j = 0; j < V.cols(); ++j) {
        const double d = double(V(i, j)) - WH(i, j);
        if (!sparse || coin(i, j) < 0.6) residual += d * d;
      }
    const double exact = 0.5 * residual;
    std::cout << (sparse ? "sparse" : "dense") << ": TF32 reports " << tf32.loss_history.back()
              << ", its factors' loss is " << exact << " (‖V‖² = " << v_squared << "); "
              << tf32.iterations << " iterations with TF32, " << full.iterations << " without\n";
    // Float's own rounding of the residual's entries: ε² per unit of ‖V‖².
    const double eps = std::numeric_limits<float>::epsilon();
    EXPECT_NEAR(tf32.loss_history.back(), exact, 1e-2 * exact + eps * eps * v_squared)
        << (sparse ? "sparse" : "dense");
  }
}

// A host pointer passed as GPU data is refused before any kernel touches it.
TEST(Gpu, HostPointerAsDeviceDataIsRefused) {
  REQUIRE_GPU();
  std::vector<float> host(12, 1.0f);
  nmfuse::Options opt;
  opt.rank = 2;
  EXPECT_THROW(nmfuse::factorize(nmfuse::DeviceView(host.data(), 3, 4), opt),
               nmfuse::InvalidArgument);
}

// Sparse V (CSR) on the GPU (cuSPARSE SpMM and SDDMM) against the CPU's CSR backend,
// both index widths, absent entries as zeros and as unknowns; tolerances as above.
struct SparseCase {
  const char* name;
  nmfuse::Loss loss;
  double beta;
  nmfuse::Solver solver;
  nmfuse::Absent absent;
  int rank;
};
void PrintTo(const SparseCase& c, std::ostream* os) { *os << c.name; }

class GpuSparseMatchesCpu : public ::testing::TestWithParam<SparseCase> {};

TEST_P(GpuSparseMatchesCpu, StepByStepThenWholeRuns) {
  REQUIRE_GPU();
  const SparseCase c = GetParam();
  const Matrix<float> V = random_matrix<float>(300, 211, 24, 0.8);
  const auto S32 = to_csr<float, std::int32_t>(V);
  const auto S64 = to_csr<float, std::int64_t>(V);
  const Matrix<float> W0 = random_matrix<float>(300, c.rank, 25);
  const Matrix<float> H0 = random_matrix<float>(c.rank, 211, 26);
  nmfuse::Options opt;
  opt.rank = c.rank;
  opt.loss = c.loss;
  opt.beta = c.beta;
  opt.solver = c.solver;
  opt.init = nmfuse::Init::Custom;
  opt.tol = 0;
  opt.hals_extrapolate = false;
  for (int it : {1, 3}) {
    opt.max_iter = it;
    const auto cpu = nmfuse::factorize(S32.view(c.absent), on(nmfuse::Device::Cpu, opt),
                                       W0.view(), H0.view());
    for (const auto& gpu :
         {nmfuse::factorize(S32.view(c.absent), on(nmfuse::Device::Cuda, opt), W0.view(), H0.view()),
          nmfuse::factorize(S64.view(c.absent), on(nmfuse::Device::Cuda, opt), W0.view(), H0.view())}) {
      ASSERT_EQ(gpu.device, nmfuse::Device::Cuda);
      EXPECT_LT(relative_difference(gpu.W, cpu.W), 1e-4 * it) << "W after iteration " << it;
      EXPECT_LT(relative_difference(gpu.H, cpu.H), 1e-4 * it) << "H after iteration " << it;
      EXPECT_NEAR(gpu.loss_history.back(), cpu.loss_history.back(),
                  1e-4 * cpu.loss_history.back());
    }
  }
  opt.max_iter = 60;
  opt.check_every = 5;
  const auto cpu = nmfuse::factorize(S32.view(c.absent), on(nmfuse::Device::Cpu, opt), W0.view(), H0.view());
  const auto gpu = nmfuse::factorize(S32.view(c.absent), on(nmfuse::Device::Cuda, opt), W0.view(), H0.view());
  ASSERT_EQ(gpu.loss_history.size(), cpu.loss_history.size());
  for (std::size_t i = 0; i < cpu.loss_history.size(); ++i)
    EXPECT_NEAR(gpu.loss_history[i], cpu.loss_history[i], 1e-3 * cpu.loss_history[i]) << "check " << i;
}

INSTANTIATE_TEST_SUITE_P(
    Sparse, GpuSparseMatchesCpu,
    ::testing::Values(
        SparseCase{"frobenius_mu", nmfuse::Loss::Frobenius, 2, nmfuse::Solver::MU, nmfuse::Absent::Zero, 8},
        SparseCase{"kl_k14", nmfuse::Loss::KullbackLeibler, 1, nmfuse::Solver::MU, nmfuse::Absent::Zero, 14},
        SparseCase{"frobenius_hals_k40", nmfuse::Loss::Frobenius, 2, nmfuse::Solver::HALS, nmfuse::Absent::Zero, 40},
        SparseCase{"kl_k70", nmfuse::Loss::KullbackLeibler, 1, nmfuse::Solver::MU, nmfuse::Absent::Zero, 70},
        SparseCase{"beta_1_5", nmfuse::Loss::Beta, 1.5, nmfuse::Solver::MU, nmfuse::Absent::Zero, 6},
        SparseCase{"unknown_hals", nmfuse::Loss::Frobenius, 2, nmfuse::Solver::HALS, nmfuse::Absent::Unknown, 12},
        SparseCase{"unknown_kl", nmfuse::Loss::KullbackLeibler, 1, nmfuse::Solver::MU, nmfuse::Absent::Unknown, 10},
        SparseCase{"unknown_is", nmfuse::Loss::ItakuraSaito, 0, nmfuse::Solver::MU, nmfuse::Absent::Unknown, 5},
        SparseCase{"unknown_beta_3", nmfuse::Loss::Beta, 3, nmfuse::Solver::MU, nmfuse::Absent::Unknown, 7}),
    [](const auto& info) { return std::string(info.param.name); });

// The default start and Model on sparse V: the GPU's NNDSVDa (its SpMM products) and
// transform agree with the CPU's.
TEST(Gpu, SparseInitAndTransformMatchTheCpu) {
  REQUIRE_GPU();
  const Matrix<float> V = random_matrix<float>(257, 190, 27, 0.85);
  const auto S = to_csr<float>(V);
  nmfuse::Options opt;
  opt.rank = 9;
  opt.max_iter = 0;
  const auto cpu = nmfuse::factorize(S.view(), on(nmfuse::Device::Cpu, opt));
  const auto gpu = nmfuse::factorize(S.view(), on(nmfuse::Device::Cuda, opt));
  EXPECT_LT(relative_difference(gpu.W, cpu.W), 1e-3);
  opt.max_iter = 50;
  nmfuse::Model<float> cpu_model(on(nmfuse::Device::Cpu, opt)), gpu_model(on(nmfuse::Device::Cuda, opt));
  cpu_model.fit(S.view());
  gpu_model.fit(S.view());
  EXPECT_LT(relative_difference(gpu_model.transform(S.view()), cpu_model.transform(S.view())), 1e-2);
}

// A run on the GPU interrupted at an iteration that is not a check, then resumed from
// its checkpoint, ends as the uninterrupted run: every loss, masked and sparse. The
// checkpoint reads the factors mid-run and the resumed run starts from its products,
// not from a loss evaluation (issue: a resumed β run met a ratio block not yet sized).
struct ResumePath {
  const char* name;
  nmfuse::Loss loss;
  double beta;
  nmfuse::Solver solver;
  bool masked;
  bool sparse;
};
void PrintTo(const ResumePath& p, std::ostream* os) { *os << p.name; }

class GpuResume : public ::testing::TestWithParam<ResumePath> {};

TEST_P(GpuResume, InterruptedThenResumedIsTheWholeRun) {
  REQUIRE_GPU();
  const ResumePath p = GetParam();
  const bool positive = needs_positive_data(p.loss, p.beta);
  const Matrix<float> V = random_matrix<float>(60, 45, 81, positive ? 0 : 0.3);
  const Matrix<double> coin = random_matrix(60, 45, 82);
  Matrix<std::uint8_t> M(60, 45, Layout::RowMajor);
  for (index_t i = 0; i < 60; ++i)
    for (index_t j = 0; j < 45; ++j) M(i, j) = coin(i, j) < 0.7;
  const auto S = to_csr<float>(V);
  auto run = [&](const nmfuse::Options& opt) {
    if (p.sparse) return nmfuse::factorize(S.view(p.masked ? nmfuse::Absent::Unknown : nmfuse::Absent::Zero), opt);
    if (p.masked) return nmfuse::factorize(V.view(), opt, M.view());
    return nmfuse::factorize(V.view(), opt);
  };
  nmfuse::Options opt;
  opt.rank = 5;
  opt.device = nmfuse::Device::Cuda;
  opt.loss = p.loss;
  opt.beta = p.beta;
  opt.solver = p.solver;
  opt.max_iter = 25;
  opt.check_every = 4;
  opt.tol = 0;
  const auto whole = run(opt);

  int calls = 0;
  std::shared_ptr<nmfuse::Checkpoint> saved;
  nmfuse::Options first = opt;
  first.interrupt = [&] { return ++calls == 9; };
  first.on_checkpoint = [&](const nmfuse::Checkpoint& c) { saved = std::make_shared<nmfuse::Checkpoint>(c); };
  const auto part = run(first);
  EXPECT_EQ(part.stop_reason, nmfuse::StopReason::Interrupted);
  ASSERT_TRUE(saved);
  EXPECT_EQ(saved->iteration, 9);
  EXPECT_LT(relative_difference(cast<float>(saved->W), part.W), 1e-7) << "the checkpoint's W is not the run's";

  nmfuse::Options second = opt;
  second.resume = saved;
  const auto rest = run(second);
  EXPECT_EQ(rest.iterations, 25);
  // The same arithmetic in the same order: equal up to a reduction's order on a real GPU.
  EXPECT_LT(relative_difference(rest.W, whole.W), 1e-5);
  EXPECT_LT(relative_difference(rest.H, whole.H), 1e-5);
  ASSERT_EQ(rest.loss_history.size(), whole.loss_history.size());
  for (std::size_t i = 0; i < whole.loss_history.size(); ++i)
    EXPECT_NEAR(rest.loss_history[i], whole.loss_history[i], 1e-5 * whole.loss_history[i]);
}

INSTANTIATE_TEST_SUITE_P(
    Paths, GpuResume,
    ::testing::Values(
        ResumePath{"mu", nmfuse::Loss::Frobenius, 2, nmfuse::Solver::MU, false, false},
        ResumePath{"hals_extrapolated", nmfuse::Loss::Frobenius, 2, nmfuse::Solver::HALS, false, false},
        ResumePath{"kl", nmfuse::Loss::KullbackLeibler, 1, nmfuse::Solver::MU, false, false},
        ResumePath{"is", nmfuse::Loss::ItakuraSaito, 0, nmfuse::Solver::MU, false, false},
        ResumePath{"beta_0_5", nmfuse::Loss::Beta, 0.5, nmfuse::Solver::MU, false, false},
        ResumePath{"beta_3", nmfuse::Loss::Beta, 3, nmfuse::Solver::MU, false, false},
        ResumePath{"masked_mu", nmfuse::Loss::Frobenius, 2, nmfuse::Solver::MU, true, false},
        ResumePath{"masked_hals", nmfuse::Loss::Frobenius, 2, nmfuse::Solver::HALS, true, false},
        ResumePath{"sparse_kl", nmfuse::Loss::KullbackLeibler, 1, nmfuse::Solver::MU, false, true},
        ResumePath{"sparse_beta_1_5", nmfuse::Loss::Beta, 1.5, nmfuse::Solver::MU, false, true},
        ResumePath{"sparse_unknown_hals", nmfuse::Loss::Frobenius, 2, nmfuse::Solver::HALS, true, true}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
