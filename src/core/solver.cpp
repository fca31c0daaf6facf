#include "solver.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "nmfuse/errors.hpp"

namespace nmfuse::core {
namespace {

// Sweeps that cost as much as the products they reuse, halved (Gillis & Glineur's
// α = ½): a half-step updating `rows` rows against `other` rows costs entries·k for its
// product (entries: rows·other dense, the stored ones sparse) and other·k² for the
// partner's Gram; a sweep costs rows·k².
int inner_sweeps(index_t rows, index_t other, double entries, int k) {
  const double ratio = (entries * k + double(other) * k * k) / (double(rows) * k * k);
  return int(std::clamp(1.0 + 0.5 * ratio, 1.0, 100.0));
}

template <class T>
kernels::Penalty<T> cast(kernels::Penalty<double> p) {
  return {T(p.l1), T(p.l2), p.restart_dead};
}

}  // namespace

kernels::Penalty<double> penalty_of(const Options& opt, Side side, double other) {
  const double rho = opt.l1_ratio,
               alpha = side == Side::W ? opt.alpha_W : opt.alpha_H.value_or(opt.alpha_W);
  return {alpha * rho * other, alpha * (1 - rho) * other, opt.hals_restart_dead};
}

SolverSettings settings_for(const Options& opt, index_t m, index_t n, double entries) {
  SolverSettings s;
  s.beta = beta_of(opt);
  s.solver = resolved_solver(opt);
  s.max_iter = opt.max_iter;
  s.tol = opt.tol;
  s.check_every = opt.check_every;
  s.penalty_W = penalty_of(opt, Side::W, double(n));
  s.penalty_H = penalty_of(opt, Side::H, double(m));
  s.inner_sweeps_W = opt.hals_inner_max > 0 ? opt.hals_inner_max : inner_sweeps(m, n, entries, opt.rank);
  s.inner_sweeps_H = opt.hals_inner_max > 0 ? opt.hals_inner_max : inner_sweeps(n, m, entries, opt.rank);
  s.inner_tol = opt.hals_inner_tol;
  s.extrapolate = opt.hals_extrapolate && s.solver == Solver::HALS && s.beta == 2;
  s.on_progress = opt.on_progress;
  return s;
}

template <class T>
std::vector<SolverOutcome> solve_batch(Backend<T>& b, const SolverSettings& s) {
  const auto start = std::chrono::steady_clock::now();
  const int restarts = b.batch();
  if (restarts > 1 && (s.resume || s.on_checkpoint))
    throw Error("internal: checkpoints are kept for one run, not a batch of restarts");
  // With a mask every β takes the general path, which multiplies by it.
  const bool frobenius = s.beta == 2 && !s.masked, kl = s.beta == 1 && !s.masked;
  // Févotte & Idier's exponent, which keeps the multiplicative updates' loss falling.
  const T loss_beta = T(s.beta);
  const T gamma = T(s.beta < 1 ? 1 / (2 - s.beta) : s.beta > 2 ? 1 / (s.beta - 1) : 1);
  const double v_squared = frobenius ? b.data_squared_norm() : 0;

  // The losses are the selected block's.
  // ½‖V − W·Htᵀ‖² = ½(‖V‖² − 2·Σ X_s ⊙ P_s + Σ G_W ⊙ G_H), valid right after the
  // half-step of side s, from products the loop has made anyway; clamped at 0.
  auto frobenius_loss = [&](Side s_done) {
    return std::max(0.0, 0.5 * (v_squared - 2 * b.dot_factor_product(s_done) + b.dot_grams()));
  };
  // Near an exact fit that expansion is all rounding (of the products' arithmetic: T's,
  // or TF32's, whose 2⁻¹⁰ makes that every check): the loss reported at a check is then
  // summed entry by entry instead.
  const double expansion_noise = 1000 * b.product_epsilon() * v_squared;
  auto checked_loss = [&](double expanded) {
    return frobenius && expanded < expansion_noise ? 0.5 * b.squared_residual_sum() : expanded;
  };
  auto divergence = [&] {  // every case but unmasked Frobenius
    if (!kl) return std::max(0.0, b.beta_divergence_sum(loss_beta));
    b.column_sums(Side::W);
    b.column_sums(Side::H);
    return std::max(0.0, b.kl_pointwise_sum() + b.dot_column_sums());
  };

  // Extrapolation's step (Ang & Gillis's β) grows while the loss keeps falling and
  // shrinks when it rises (Ang & Gillis 2019's schedule; their β₀ = 0.5 overshoots from a poor start, and 0.25
  // halved the iterations to scikit-learn cd's loss in bench/compare_cpu.sh).
  const bool extrapolating = s.extrapolate;  // settings_for: HALS, so Frobenius
  constexpr double kGrow = 1.05, kGrowCap = 1.01, kShrink = 1.5;

  // Restart running[slot] lies in block `slot`; blocks 0 … active − 1 still run.
  std::vector<int> running(restarts);
  for (int r = 0; r < restarts; ++r) running[r] = r;
  int active = restarts;
  std::vector<SolverState> state(restarts);
  std::vector<SolverOutcome> out(restarts);
  std::vector<int> stopped;  // slots whose restart stopped this iteration
  auto finish = [&](int slot, StopReason why) {
    SolverState& st = state[running[slot]];
    SolverOutcome& o = out[running[slot]];
    o.stop_reason = why;
    o.iterations = st.iteration;
    o.loss_history = std::move(st.loss_history);
    o.loss_iterations = std::move(st.loss_iterations);
    stopped.push_back(slot);
  };
  // Stopped restarts trade blocks with the last running ones (highest slot first, so
  // the block traded in still runs): the running blocks stay 0 … active − 1.
  auto compact = [&] {
    std::sort(stopped.rbegin(), stopped.rend());
    for (int slot : stopped) {
      --active;
      if (slot != active) {
        b.swap_blocks(slot, active);
        std::swap(running[slot], running[active]);
      }
    }
    stopped.clear();
  };

  // A half-step of every running restart. The Frobenius products are one product for
  // all of them, and the updates and Grams one call; the other losses go block by
  // block. A half-step leaves G_side up to date, unless extrapolation will move X_side
  // on anyway (and recompute it).
  auto half_steps = [&](Side side, bool then_extrapolated) {
    const auto pen = cast<T>(side == Side::W ? s.penalty_W : s.penalty_H);
    const int sweeps = side == Side::W ? s.inner_sweeps_W : s.inner_sweeps_H;
    if (frobenius) {
      b.select(0);
      b.product(side, active);
      if (s.solver == Solver::HALS)
        b.update_hals(side, pen, sweeps, T(s.inner_tol), active);
      else
        b.update_mu_frobenius(side, pen, active);
      if (!then_extrapolated) b.gram(side, active);
      return;
    }
    for (int slot = 0; slot < active; ++slot) {
      b.select(slot);
      if (kl) {
        b.column_sums(partner(side));
        b.kl_product(side);
        b.update_mu_kl(side, pen);
      } else if (s.solver == Solver::MU) {
        b.beta_products(side, loss_beta);
        b.update_mu_beta(side, pen, gamma);
      } else {  // HALS with a mask: products and Grams row by row
        b.update_hals_masked(side, pen, sweeps, T(s.inner_tol));
        if (!then_extrapolated) b.gram(side, 1);
      }
    }
  };
  auto extrapolate = [&](Side side, double step) {  // the selected block
    b.extrapolate(side, T(step));
    if (step > 0) b.gram(side, 1);
  };

  if (s.resume) {  // the backend holds the factors: remake the Grams the loop expects
    state[0] = *s.resume;
    b.select(0);
    b.gram(Side::W, 1);
    b.gram(Side::H, 1);
  } else {
    if (frobenius) {
      b.select(0);
      b.gram(Side::W, active);
      b.gram(Side::H, active);
      b.product(Side::W, active);
    }
    for (int slot = 0; slot < active; ++slot) {
      b.select(slot);
      SolverState& st = state[running[slot]];
      const double initial_loss = frobenius ? checked_loss(frobenius_loss(Side::W)) : divergence();
      st.loss_history.push_back(initial_loss);
      st.loss_iterations.push_back(0);
      // scikit-learn's test on e = √(2·loss): stop when (e_previous − e) / e_initial < tol;
      // in magnitude, since an extrapolated step may raise the loss for a while.
      st.e_initial = st.e_previous = std::sqrt(2 * initial_loss);
      st.last_loss = initial_loss;
      if (extrapolating) extrapolate(Side::H, 0);  // remember H's start; W's, below
    }
  }
  for (int slot = 0; slot < active; ++slot)
    if (state[running[slot]].e_initial == 0 && s.max_iter > 0) finish(slot, StopReason::Converged);
  compact();

  for (int it = state[running[0]].iteration + 1; it <= s.max_iter && active > 0; ++it) {
    if (s.update_W) {
      half_steps(Side::W, extrapolating);
      if (extrapolating) {
        // W's first update is fitted to the start's H: W₁ − W₀ measures how far the
        // start was off, not a trend, and extrapolating it raised the first loss 12-fold
        // at 5000×2000 (bench/RESULTS.md). W's extrapolation starts at iteration 2.
        for (int slot = 0; slot < active; ++slot) {
          b.select(slot);
          b.extrapolate(Side::W, it == 1 ? T(0) : T(state[running[slot]].step));
        }
        b.select(0);
        b.gram(Side::W, active);
      }
    }
    half_steps(Side::H, false);
    const bool check = it % s.check_every == 0 || it == s.max_iter;
    for (int slot = 0; slot < active; ++slot) {
      b.select(slot);
      SolverState& st = state[running[slot]];
      st.iteration = it;
      if (!check && !extrapolating) continue;
      // The loss of (W, H) as they are now, before H is extrapolated. Any rise counts,
      // also one within rounding: near an exact fit that is what keeps β from growing
      // and the iterates from drifting along the fit's flat directions.
      double loss = frobenius ? frobenius_loss(Side::H) : divergence();
      const bool rose = loss > st.last_loss;
      st.last_loss = loss;
      if (check) {
        loss = checked_loss(loss);
        const double e = std::sqrt(2 * loss);
        Progress p;
        p.restart = running[slot];
        p.iteration = it;
        p.loss = loss;
        p.relative_decrease = (st.e_previous - e) / st.e_initial;
        p.seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        st.loss_history.push_back(loss);
        st.loss_iterations.push_back(it);
        if (s.on_progress && !s.on_progress(p)) {
          finish(slot, StopReason::Callback);
          continue;
        }
        if (s.tol > 0 && std::fabs(p.relative_decrease) < s.tol) {
          finish(slot, StopReason::Converged);
          continue;
        }
        st.e_previous = e;
      }
      if (extrapolating && it < s.max_iter) {
        if (rose) {  // overshot: a smaller step, and none for H this time
          st.step_cap = st.step;
          st.step /= kShrink;
          extrapolate(Side::H, 0);
        } else {
          st.step = std::min(st.step_cap, kGrow * st.step);
          st.step_cap = std::min(1.0, kGrowCap * st.step_cap);
          extrapolate(Side::H, st.step);
        }
      }
    }
    const bool interrupted = s.interrupt && s.interrupt();
    if (s.on_checkpoint && stopped.empty() && it < s.max_iter &&
        (interrupted || (s.checkpoint_every > 0 && it % s.checkpoint_every == 0)))
      s.on_checkpoint(state[0]);
    if (interrupted && it < s.max_iter) {
      for (int slot = 0; slot < active; ++slot)
        if (std::find(stopped.begin(), stopped.end(), slot) == stopped.end())
          finish(slot, StopReason::Interrupted);
    }
    compact();
  }
  for (int slot = 0; slot < active; ++slot) finish(slot, StopReason::MaxIter);
  for (int slot = 0; slot < restarts; ++slot) out[running[slot]].block = slot;
  b.select(0);
  return out;
}

template <class T>
SolverOutcome solve(Backend<T>& b, const SolverSettings& s) {
  if (b.batch() != 1) throw Error("internal: solve() runs one restart; solve_batch() several");
  return std::move(solve_batch(b, s).front());
}

template SolverOutcome solve(Backend<float>&, const SolverSettings&);
template SolverOutcome solve(Backend<double>&, const SolverSettings&);
template std::vector<SolverOutcome> solve_batch(Backend<float>&, const SolverSettings&);
template std::vector<SolverOutcome> solve_batch(Backend<double>&, const SolverSettings&);

}  // namespace nmfuse::core
