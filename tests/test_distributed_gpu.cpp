// Distributed runs on GPUs, one per process, under mpirun (tests/CMakeLists.txt runs this
// with 1, 2, 4 and 6 processes): the emulated GPU where there is no GPU, each process's
// its own, their sums through the emulated NCCL over the same MPI processes. On every
// grid the run equals one GPU's from the same start to float rounding, and every process
// ends with the same bits.
#include <dlfcn.h>

#include <cstdlib>

#include "cuda/module_api.hpp"
#include "distributed_helpers.hpp"

namespace {

using namespace testing_distributed;

// The test harness's choice, before anything loads a CUDA module (as test_cuda.cpp's).
const bool module_chosen = setenv("NMFUSE_CUDA_MODULE", "gpu-or-emulated", 0) == 0;

#define REQUIRE_GPU()                                                                    \
  do {                                                                                   \
    static_cast<void>(module_chosen);                                                    \
    const nmfuse::BuildInfo info = nmfuse::build_info();                                 \
    ASSERT_GT(info.usable_gpus, 0) << "no usable GPU: " << info.gpu_status;              \
  } while (0)

Options gpu_iterations(int rank, int iterations) {
  Options opt = fixed_iterations(rank, iterations);
  opt.device = nmfuse::Device::Cuda;
  return opt;
}

// ½‖V‖²: the size of the terms the Frobenius loss is computed from.
template <class T>
double half_squared_norm(const Matrix<T>& V) {
  double sum = 0;
  for (std::size_t e = 0; e < V.size(); ++e) sum += double(V.data()[e]) * V.data()[e];
  return sum / 2;
}

double frobenius_scale(const Options& opt, double half_norm) {
  return opt.loss == nmfuse::Loss::Frobenius ? half_norm : 0.0;
}

bool says(const nmfuse::RunInfo& r, const std::string& part) {
  return r.device_reason.find(part) != std::string::npos;
}

// Where the processes have GPUs of their own (always on the emulated GPU), their sums
// go through NCCL; processes sharing a real GPU sum through their hosts.
bool linked_as_expected(const nmfuse::RunInfo& r) {
  if (processes() == 1) return says(r, "one process: nothing to sum across");
  return says(r, "the GPUs summed through NCCL") || says(r, "two processes share a GPU");
}

// In float each product's sums, taken in another order, move it by ~√n·ε ≈ 1e-6
// relative; 8 iterations carry that to W and H, growing it by at most ~10² here.
constexpr double kFloatTolerance = 1e-4;

struct Case {
  const char* name;
  void (*set)(Options&);
};
const Case kCases[] = {
    {"HALS, extrapolated", [](Options&) {}},
    {"HALS, plain, random start",
     [](Options& o) {
       o.hals_extrapolate = false;
       o.init = nmfuse::Init::Random;
     }},
    {"MU, Frobenius", [](Options& o) { o.solver = nmfuse::Solver::MU; }},
    {"MU, Kullback–Leibler", [](Options& o) { o.loss = nmfuse::Loss::KullbackLeibler; }},
    {"MU, β = 1.5",
     [](Options& o) {
       o.loss = nmfuse::Loss::Beta;
       o.beta = 1.5;
     }},
};

TEST(DistributedGpu, DenseEqualsOneGpuOnEveryGrid) {
  REQUIRE_GPU();
  const index_t m = 26, n = 22;
  const int k = 3;
  const Matrix<float> V = testing_nmf::cast<float>(planted(m, n, k, 111));
  for (const Case& c : kCases) {
    Options opt = gpu_iterations(k, 8);
    c.set(opt);
    const Result<float> single = nmfuse::factorize(V.view(), opt);
    for (GridShape shape : every_grid()) {
      Grid grid(MPI_COMM_WORLD, m, n, shape);
      const Result<float> r = nmfuse::distributed::factorize(grid, block_view(V, grid.block()), opt);
      const std::string what = std::string(c.name) + ", " + named(shape);
      EXPECT_EQ(r.device, nmfuse::Device::Cuda) << what;
      EXPECT_TRUE(linked_as_expected(r)) << what << ": " << r.device_reason;
      expect_same_as_one_process(r, single, kFloatTolerance, what,
                                 frobenius_scale(opt, half_squared_norm(V)));
    }
  }
}

TEST(DistributedGpu, SparseEqualsOneGpuOnEveryGrid) {
  REQUIRE_GPU();
  const index_t m = 30, n = 24;
  const int k = 3;
  Matrix<double> V = planted(m, n, k, 121);
  const Matrix<double> keep = random_matrix(m, n, 122);
  for (index_t i = 0; i < m; ++i)
    for (index_t j = 0; j < n; ++j)
      if (keep(i, j) < 0.5) V(i, j) = 0;
  const nmfuse::CsrMatrix<float> whole = testing_nmf::to_csr<float>(V);
  for (const Case& c : {kCases[1], kCases[3]}) {
    Options opt = gpu_iterations(k, 8);
    c.set(opt);
    const Result<float> single = nmfuse::factorize(whole.view(), opt);
    for (GridShape shape : every_grid()) {
      Grid grid(MPI_COMM_WORLD, m, n, shape);
      const nmfuse::CsrMatrix<float> block = block_csr<float>(V, grid.block());
      const Result<float> r = nmfuse::distributed::factorize(grid, block, opt);
      expect_same_as_one_process(r, single, kFloatTolerance,
                                 std::string("sparse ") + c.name + ", " + named(shape),
                                 frobenius_scale(opt, half_squared_norm(V)));
    }
  }
}

// The other path, for a CUDA module without NCCL or processes sharing a GPU: each sum
// copied to the host and made by MPI. The same run to float rounding.
TEST(DistributedGpu, SummedThroughTheHostsEqualsThroughNccl) {
  REQUIRE_GPU();
  const index_t m = 24, n = 20;
  const Matrix<float> V = testing_nmf::cast<float>(planted(m, n, 3, 131));
  const Options opt = gpu_iterations(3, 8);
  Grid grid(MPI_COMM_WORLD, m, n);
  const Result<float> nccl = nmfuse::distributed::factorize(grid, block_view(V, grid.block()), opt);
  setenv("NMFUSE_NCCL", "off", 1);
  const Result<float> hosts = nmfuse::distributed::factorize(grid, block_view(V, grid.block()), opt);
  unsetenv("NMFUSE_NCCL");
  if (processes() > 1)
    EXPECT_TRUE(says(hosts, "summed through their hosts (NMFUSE_NCCL=off)")) << hosts.device_reason;
  expect_same_as_one_process(hosts, nccl, kFloatTolerance, "through the hosts, " + named(grid.shape()),
                             half_squared_norm(V));
}

// Double data runs in float on the GPUs, as on one GPU, and comes back in double.
TEST(DistributedGpu, DoubleDataComputesInFloat) {
  REQUIRE_GPU();
  const index_t m = 24, n = 21;
  const Matrix<double> V = planted(m, n, 3, 141);
  const Options opt = gpu_iterations(3, 8);
  const Result<double> single = nmfuse::factorize(V.view(), opt);
  Grid grid(MPI_COMM_WORLD, m, n);
  const Result<double> r = nmfuse::distributed::factorize(grid, block_view(V, grid.block()), opt);
  EXPECT_TRUE(says(r, "double data computed in float")) << r.device_reason;
  EXPECT_TRUE(linked_as_expected(r)) << r.device_reason;
  expect_same_as_one_process(r, single, kFloatTolerance, "double, " + named(grid.shape()),
                             half_squared_norm(V));
}

// A stop on one process, and the run resumed from its checkpoint on the GPUs, ends
// where the uninterrupted run does, bit for bit (the same grid, the same sums).
TEST(DistributedGpu, InterruptedRunResumesFromItsCheckpoint) {
  REQUIRE_GPU();
  const index_t m = 24, n = 20;
  const Matrix<float> V = testing_nmf::cast<float>(planted(m, n, 3, 151));
  const Options opt = gpu_iterations(3, 10);
  Grid grid(MPI_COMM_WORLD, m, n);
  const Result<float> whole = nmfuse::distributed::factorize(grid, block_view(V, grid.block()), opt);
  Options stopping = opt;
  int calls = 0;
  stopping.interrupt = [&] { return ++calls == 4 && process() == processes() - 1; };
  std::shared_ptr<nmfuse::Checkpoint> saved;
  stopping.on_checkpoint = [&](const nmfuse::Checkpoint& c) {
    saved = std::make_shared<nmfuse::Checkpoint>(c);
  };
  const Result<float> stopped =
      nmfuse::distributed::factorize(grid, block_view(V, grid.block()), stopping);
  EXPECT_EQ(stopped.stop_reason, nmfuse::StopReason::Interrupted);
  ASSERT_TRUE(saved);
  EXPECT_EQ(saved->iteration, 4);
  Options resuming = opt;
  resuming.resume = saved;
  const Result<float> resumed =
      nmfuse::distributed::factorize(grid, block_view(V, grid.block()), resuming);
  EXPECT_EQ(resumed.iterations, whole.iterations);
  EXPECT_EQ(relative_difference(resumed.W, whole.W), 0.0);
  EXPECT_EQ(relative_difference(resumed.H, whole.H), 0.0);
}

// A process whose GPU cannot run the kernels (the emulated GPU told to report an old
// architecture): device cuda fails on every process, naming it; device auto runs every
// process on its CPU.
TEST(DistributedGpu, AProcessWithoutAGpu) {
  REQUIRE_GPU();
  using SetCompute = void (*)(int);
  const auto set_compute = reinterpret_cast<SetCompute>(
      dlsym(nmfuse::cuda::module_handle(), "nmfuse_emulator_set_compute"));
  if (!set_compute) GTEST_SKIP() << "only the emulated GPU can be made unusable";
  const index_t m = 20, n = 18;
  const Matrix<double> V = planted(m, n, 2, 161);
  Grid grid(MPI_COMM_WORLD, m, n);
  const int last = processes() - 1;
  if (process() == last) set_compute(10);  // sm_10: older than every architecture built
  expect_everywhere<nmfuse::DeviceUnavailable>(
      [&] {
        nmfuse::distributed::factorize(grid, block_view(V, grid.block()), gpu_iterations(2, 3));
      },
      "process " + std::to_string(last) + " of " + std::to_string(processes()) +
          ": device cuda was requested, but no GPU is usable");
  Options automatic = gpu_iterations(2, 3);
  automatic.device = nmfuse::Device::Auto;
  const Result<double> r =
      nmfuse::distributed::factorize(grid, block_view(V, grid.block()), automatic);
  if (process() == last) set_compute(0);
  EXPECT_EQ(r.device, nmfuse::Device::Cpu);
  if (process() != last) EXPECT_TRUE(says(r, "another process of the run has no usable GPU"));
  Options cpu = automatic;
  cpu.device = nmfuse::Device::Cpu;
  expect_same_as_one_process(r, nmfuse::factorize(V.view(), cpu), 1e-9, "auto, one GPU short");
}

}  // namespace
