#pragma once
// The one loop (DESIGN.md §1), written once against the backend operation set.
#include <vector>

#include "backend.hpp"
#include "nmfuse/checkpoint.hpp"
#include "nmfuse/options.hpp"
#include "nmfuse/result.hpp"

namespace nmfuse::core {

// The loop's own state between iterations, beside the factors (and extrapolation's
// previous iterates) that the backend holds: what a checkpoint saves with them.
using SolverState = LoopState;

struct SolverSettings {
  double beta = 2;             // of the β-divergence: 2 Frobenius, 1 KL, others general
  bool masked = false;         // missing values: the general β path for every β
  Solver solver = Solver::MU;  // resolved: MU or HALS
  int max_iter = 200;
  double tol = 1e-4;
  int check_every = 10;
  kernels::Penalty<double> penalty_W, penalty_H;
  int inner_sweeps_W = 1, inner_sweeps_H = 1;  // HALS sweeps per product, at most
  double inner_tol = 0.01;
  bool extrapolate = false;  // HALS (so Frobenius) only
  bool update_W = true;  // false: W stays fixed (transform)
  ProgressCallback on_progress;
  // Checkpoints: every checkpoint_every iterations (0: never) and when interrupt()
  // says so (the run then stops), on_checkpoint sees the state; the factors are the
  // backend's. `resume`: go on from such a state, the backend holding its factors.
  int checkpoint_every = 0;
  std::function<void(const SolverState&)> on_checkpoint;
  std::function<bool()> interrupt;
  const SolverState* resume = nullptr;
};

// The settings Options asks for on an m×n matrix whose products touch `entries` entries
// (m·n dense, the stored ones sparse): scikit-learn's scaling of the penalties and
// Gillis & Glineur's bound on the inner sweeps.
SolverSettings settings_for(const Options& opt, index_t m, index_t n, double entries);

// The penalties of a side's factor, scikit-learn's scaling: l1 = α·ρ·other and
// l2 = α·(1 − ρ)·other, `other` the partner's rows (n for W, m for H).
kernels::Penalty<double> penalty_of(const Options& opt, Side side, double other);

struct SolverOutcome {
  std::vector<double> loss_history;
  std::vector<int> loss_iterations;
  int iterations = 0;
  StopReason stop_reason = StopReason::MaxIter;
  int block = 0;  // the backend's block that holds its final factors
};

// Runs from the factors the backend holds; leaves the final ones there.
template <class T>
SolverOutcome solve(Backend<T>& b, const SolverSettings& s);

// Runs b.batch() restarts at once from the factors its blocks hold, restart r from
// block r, each stopping on its own rule and then leaving the batch (its factors go
// to the block its outcome names). Every restart takes the steps it would take alone.
// No checkpoints.
template <class T>
std::vector<SolverOutcome> solve_batch(Backend<T>& b, const SolverSettings& s);

}  // namespace nmfuse::core
