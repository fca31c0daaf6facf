#include "solver.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

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

SolverSettings settings_for(const Options& opt, index_t m, index_t n, double entries) {
  SolverSettings s;
  s.beta = beta_of(opt);
  s.solver = resolved_solver(opt);
  s.max_iter = opt.max_iter;
  s.tol = opt.tol;
  s.check_every = opt.check_every;
  const double rho = opt.l1_ratio, alpha_W = opt.alpha_W,
               alpha_H = opt.alpha_H.value_or(opt.alpha_W);
  s.penalty_W = {alpha_W * rho * double(n), alpha_W * (1 - rho) * double(n)};
  s.penalty_H = {alpha_H * rho * double(m), alpha_H * (1 - rho) * double(m)};
  s.penalty_W.restart_dead = s.penalty_H.restart_dead = opt.hals_restart_dead;
  s.inner_sweeps_W = opt.hals_inner_max > 0 ? opt.hals_inner_max : inner_sweeps(m, n, entries, opt.rank);
  s.inner_sweeps_H = opt.hals_inner_max > 0 ? opt.hals_inner_max : inner_sweeps(n, m, entries, opt.rank);
  s.inner_tol = opt.hals_inner_tol;
  s.extrapolate = opt.hals_extrapolate && s.solver == Solver::HALS && s.beta == 2;
  s.on_progress = opt.on_progress;
  return s;
}

template <class T>
SolverOutcome solve(Backend<T>& b, const SolverSettings& s) {
  const auto start = std::chrono::steady_clock::now();
  // With a mask every β takes the general path, which multiplies by it.
  const bool frobenius = s.beta == 2 && !s.masked, kl = s.beta == 1 && !s.masked;
  // Févotte & Idier's exponent, which keeps the multiplicative updates' loss falling.
  const T loss_beta = T(s.beta);
  const T gamma = T(s.beta < 1 ? 1 / (2 - s.beta) : s.beta > 2 ? 1 / (s.beta - 1) : 1);
  const double v_squared = frobenius ? b.data_squared_norm() : 0;

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

  // A half-step leaves G_side up to date, unless extrapolation will move X_side on
  // anyway (and recompute it).
  auto half_step = [&](Side side, bool then_extrapolated) {
    const auto pen = cast<T>(side == Side::W ? s.penalty_W : s.penalty_H);
    if (kl) {
      b.column_sums(partner(side));
      b.kl_product(side);
      b.update_mu_kl(side, pen);
      return;
    }
    if (!frobenius && s.solver == Solver::MU) {
      b.beta_products(side, loss_beta);
      b.update_mu_beta(side, pen, gamma);
      return;
    }
    if (s.masked) {  // HALS with a mask: products and Grams row by row
      b.update_hals_masked(side, pen, side == Side::W ? s.inner_sweeps_W : s.inner_sweeps_H,
                           T(s.inner_tol));
      if (!then_extrapolated) b.gram(side);
      return;
    }
    b.product(side);
    if (s.solver == Solver::HALS)
      b.update_hals(side, pen, side == Side::W ? s.inner_sweeps_W : s.inner_sweeps_H,
                    T(s.inner_tol));
    else
      b.update_mu_frobenius(side, pen);
    if (!then_extrapolated) b.gram(side);
  };
  auto extrapolate = [&](Side side, double step) {
    b.extrapolate(side, T(step));
    if (step > 0) b.gram(side);
  };

  SolverOutcome out;
  SolverState state;
  if (s.resume) {  // the backend holds the factors: remake the Grams the loop expects
    state = *s.resume;
    b.gram(Side::W);
    b.gram(Side::H);
  } else {
    double initial_loss;
    if (frobenius) {
      b.gram(Side::W);
      b.gram(Side::H);
      b.product(Side::W);
      initial_loss = checked_loss(frobenius_loss(Side::W));
    } else {
      initial_loss = divergence();
    }
    state.loss_history.push_back(initial_loss);
    state.loss_iterations.push_back(0);
    // scikit-learn's test on e = √(2·loss): stop when (e_previous − e) / e_initial < tol;
    // in magnitude, since an extrapolated step may raise the loss for a while.
    state.e_initial = state.e_previous = std::sqrt(2 * initial_loss);
    state.last_loss = initial_loss;
    if (extrapolating) {  // remember the start
      if (s.update_W) extrapolate(Side::W, 0);
      extrapolate(Side::H, 0);
    }
  }
  auto finish = [&](StopReason why) {
    out.stop_reason = why;
    out.iterations = state.iteration;
    out.loss_history = state.loss_history;
    out.loss_iterations = state.loss_iterations;
    return out;
  };
  if (state.e_initial == 0 && s.max_iter > 0) return finish(StopReason::Converged);

  for (int it = state.iteration + 1; it <= s.max_iter; ++it) {
    if (s.update_W) {
      half_step(Side::W, extrapolating);
      if (extrapolating) extrapolate(Side::W, state.step);
    }
    half_step(Side::H, false);
    state.iteration = it;
    const bool check = it % s.check_every == 0 || it == s.max_iter;
    if (check || extrapolating) {
      // The loss of (W, H) as they are now, before H is extrapolated. Any rise counts,
      // also one within rounding: near an exact fit that is what keeps β from growing
      // and the iterates from drifting along the fit's flat directions.
      double loss = frobenius ? frobenius_loss(Side::H) : divergence();
      const bool rose = loss > state.last_loss;
      state.last_loss = loss;
      if (check) {
        loss = checked_loss(loss);
        const double e = std::sqrt(2 * loss);
        Progress p;
        p.iteration = it;
        p.loss = loss;
        p.relative_decrease = (state.e_previous - e) / state.e_initial;
        p.seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        state.loss_history.push_back(loss);
        state.loss_iterations.push_back(it);
        if (s.on_progress && !s.on_progress(p)) return finish(StopReason::Callback);
        if (s.tol > 0 && std::fabs(p.relative_decrease) < s.tol)
          return finish(StopReason::Converged);
        state.e_previous = e;
      }
      if (extrapolating && it < s.max_iter) {
        if (rose) {  // overshot: a smaller step, and none for H this time
          state.step_cap = state.step;
          state.step /= kShrink;
          extrapolate(Side::H, 0);
        } else {
          state.step = std::min(state.step_cap, kGrow * state.step);
          state.step_cap = std::min(1.0, kGrowCap * state.step_cap);
          extrapolate(Side::H, state.step);
        }
      }
    }
    const bool interrupted = s.interrupt && s.interrupt();
    if (s.on_checkpoint && it < s.max_iter &&
        (interrupted || (s.checkpoint_every > 0 && it % s.checkpoint_every == 0)))
      s.on_checkpoint(state);
    if (interrupted && it < s.max_iter) return finish(StopReason::Interrupted);
  }
  return finish(StopReason::MaxIter);
}

template SolverOutcome solve(Backend<float>&, const SolverSettings&);
template SolverOutcome solve(Backend<double>&, const SolverSettings&);

}  // namespace nmfuse::core
