#pragma once
// What to compute and how: plain values with defaults, checked by validate().
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace nmfuse {

struct Checkpoint;  // nmfuse/checkpoint.hpp

// The β-divergences d_β(v | wh), summed over the entries (Févotte & Idier 2011).
enum class Loss {
  Frobenius,        // β = 2: ½‖V − WH‖²_F
  KullbackLeibler,  // β = 1: Σ v·log(v / wh) − v + wh
  ItakuraSaito,     // β = 0: Σ v/wh − log(v/wh) − 1 (V must be positive)
  Beta,             // Options::beta: Σ (v^β + (β−1)·wh^β − β·v·wh^(β−1)) / (β(β−1))
};

enum class Solver {
  Auto,  // HALS for Frobenius, MU otherwise
  MU,    // multiplicative updates (Lee & Seung)
  HALS,  // hierarchical alternating least squares with inner sweeps (Gillis & Glineur)
};

enum class Init {
  Auto,      // NNDSVDa where rank ≤ min(m, n), Random above (scikit-learn's rule)
  Random,    // √(mean(V)/k)·|N(0,1)| from the seeded generator
  NNDSVD,    // Boutsidis & Gallopoulos; keeps exact zeros (a poor start for MU)
  NNDSVDa,   // NNDSVD with zeros replaced by mean(V)
  NNDSVDar,  // NNDSVD with zeros replaced by mean(V)·|N(0,1)|/100
  Custom,    // the W and H passed to factorize()
};

enum class Device {
  Auto,  // the GPU when a usable one is present, otherwise the CPU
  Cpu,
  Cuda,  // an error when CUDA is not compiled in or no GPU is usable
};

// Where a dense V lives while the GPU factors it.
enum class OutOfCore {
  Auto,  // in GPU memory where it fits; else streamed to the GPU in blocks of columns
  Off,   // in GPU memory, or OutOfDeviceMemory
  On,    // streamed in blocks of columns even where it would fit
};

// What a progress callback sees at each convergence check.
struct Progress {
  int restart = 0;                // of factorize_many(); 0 for factorize()
  int iteration = 0;
  double loss = 0;                // the divergence D(V | WH), without regularization
  double relative_decrease = 0;   // (e_previous − e) / e_initial, e = √(2·loss)
  double seconds = 0;             // since the solver started
};

// Returns false to stop the run.
using ProgressCallback = std::function<bool(const Progress&)>;

struct Options {
  int rank = 0;  // k ≥ 1, required; the SVD starts (NNDSVD*) need k ≤ min(m, n)
  Loss loss = Loss::Frobenius;
  double beta = 1.5;  // β of Loss::Beta (β ≤ 0 needs V > 0)
  Solver solver = Solver::Auto;
  Init init = Init::Auto;
  int max_iter = 200;      // 0 returns the initial factors
  double tol = 1e-4;       // stop when |e_previous − e| / e_initial < tol at a check
  int check_every = 10;    // iterations between loss evaluations
  std::uint64_t seed = 0;  // every random draw comes from this

  // Regularization with scikit-learn's meaning (see README): l1_W = α_W·ρ·n,
  // l2_W = α_W·(1−ρ)·n, l1_H = α_H·ρ·m, l2_H = α_H·(1−ρ)·m, with ρ = l1_ratio.
  double alpha_W = 0;
  std::optional<double> alpha_H;  // unset: the same as alpha_W
  double l1_ratio = 0;

  // Accelerated HALS: each row repeats its coordinate sweep while the last sweep moved
  // it by more than hals_inner_tol times the first sweep, at most hals_inner_max times
  // (0: 1 + ½·(cost of the products / cost of a sweep), Gillis & Glineur 2012).
  int hals_inner_max = 0;
  double hals_inner_tol = 0.01;
  // HALS moves each factor on past its update, x + β·(x − x_previous), with β adapted
  // to whether the loss went down (Ang & Gillis 2019): fewer iterations to a loss.
  bool hals_extrapolate = true;
  // A component whose column of W (or row of H) is all zero is dead: coordinate descent
  // never moves it again. HALS restarts it from a fixed pseudo-random column; false
  // leaves it dead, as scikit-learn's `cd` does.
  bool hals_restart_dead = true;

  // factorize_many(): the most restarts that run side by side (0: as many as fit in
  // memory); the others run in later groups of as many.
  int restarts_at_once = 0;

  // Online fitting (Model::partial_fit and Model::fit_online, scikit-learn's
  // MiniBatchNMF): W learns from batches of columns. A step keeps forget_factor^(its
  // columns / batch_size) of what the earlier batches taught W (fit_online: of its
  // columns / V's columns, so that a pass forgets that much). A batch's H is solved as
  // transform() solves it (max_iter, tol). fit_online runs at most max_passes passes and
  // stops when a step moves W by less than tol (relative) or after max_no_improvement
  // steps (0: never) without a new low of the smoothed batch cost.
  int batch_size = 1024;
  int max_passes = 200;
  double forget_factor = 0.7;
  int max_no_improvement = 10;

  Device device = Device::Auto;
  // A dense V on the host that the GPU factors: in its memory, or streamed to it block
  // by block on a second stream, each copy overlapping the previous block's products
  // (the same iterates, to float rounding). Auto on the CPU reads V in place.
  OutOfCore out_of_core = OutOfCore::Auto;
  // Out of core, the most bytes of V a pass holds at once (0: on the GPU what its memory
  // allows, at most 64 MiB; on the CPU 64 MiB). On the CPU, out_of_core = on reads V
  // block by block and drops each block's pages once read: for a memory-mapped V larger
  // than RAM (io's MappedNpy, `nmfuse factor X.npy --out-of-core on`).
  std::int64_t out_of_core_block = 0;
  // Let cuBLAS use TF32 tensor cores for the big products on the GPU: several times
  // faster, with products rounded to 10-bit mantissas. Off: plain float throughout.
  bool allow_tf32 = false;
  ProgressCallback on_progress;

  // Long runs. Every checkpoint_every iterations (0: never), and when `interrupt`
  // returns true (it is asked after each iteration; the run then stops with
  // StopReason::Interrupted), on_checkpoint receives the state to go on from. A run
  // given `resume` goes on from such a state (init is then ignored) and, on the CPU,
  // ends bit for bit as the run without the interruption would have.
  int checkpoint_every = 0;
  std::function<void(const Checkpoint&)> on_checkpoint;
  std::function<bool()> interrupt;
  std::shared_ptr<const Checkpoint> resume;

  // Throws InvalidArgument naming the first bad field and its value.
  void validate() const;
};

std::string to_string(Loss);
std::string to_string(Solver);
std::string to_string(Init);
std::string to_string(Device);
std::string to_string(OutOfCore);

// The solver that Solver::Auto stands for with this loss.
Solver resolved_solver(const Options&);

// The start that Init::Auto stands for on an m×n V at the options' rank.
Init resolved_init(const Options&, std::int64_t m, std::int64_t n);

// The β of the options' loss: 2, 1, 0 or Options::beta.
double beta_of(const Options&);

}  // namespace nmfuse
