#include "nmfuse/options.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "nmfuse/errors.hpp"
#include "nmfuse/result.hpp"

namespace nmfuse {
namespace {

template <class V>
[[noreturn]] void reject(const char* field, const V& value, const char* must) {
  std::ostringstream msg;
  msg << "option " << field << " = " << value << ": " << must;
  throw InvalidArgument(msg.str());
}

}  // namespace

void Options::validate() const {
  if (rank < 1) reject("rank", rank, "must be at least 1");
  if (max_iter < 0) reject("max_iter", max_iter, "must be at least 0");
  if (!(tol >= 0) || !std::isfinite(tol)) reject("tol", tol, "must be finite and >= 0");
  if (check_every < 1) reject("check_every", check_every, "must be at least 1");
  if (restarts_at_once < 0)
    reject("restarts_at_once", restarts_at_once, "must be at least 0 (0: as many as fit)");
  if (batch_size < 1) reject("batch_size", batch_size, "must be at least 1");
  if (max_passes < 1) reject("max_passes", max_passes, "must be at least 1");
  if (!(forget_factor > 0 && forget_factor <= 1))
    reject("forget_factor", forget_factor, "must be in (0, 1]");
  if (max_no_improvement < 0)
    reject("max_no_improvement", max_no_improvement, "must be at least 0 (0: never stop for it)");
  if (out_of_core_block < 0)
    reject("out_of_core_block", out_of_core_block, "must be at least 0 (0: automatic)");
  if (checkpoint_every < 0)
    reject("checkpoint_every", checkpoint_every, "must be at least 0 (0: never)");
  if (!(alpha_W >= 0) || !std::isfinite(alpha_W))
    reject("alpha_W", alpha_W, "must be finite and >= 0");
  if (alpha_H && (!(*alpha_H >= 0) || !std::isfinite(*alpha_H)))
    reject("alpha_H", *alpha_H, "must be finite and >= 0");
  if (!(l1_ratio >= 0 && l1_ratio <= 1)) reject("l1_ratio", l1_ratio, "must be in [0, 1]");
  if (hals_inner_max < 0) reject("hals_inner_max", hals_inner_max, "must be at least 0 (0: automatic)");
  if (!(hals_inner_tol >= 0 && hals_inner_tol < 1))
    reject("hals_inner_tol", hals_inner_tol, "must be in [0, 1)");
  if (loss == Loss::Beta && !std::isfinite(beta)) reject("beta", beta, "must be finite");
  if (solver == Solver::HALS && beta_of(*this) != 2)
    reject("solver", "HALS", ("supports only loss Frobenius, not " + to_string(loss) +
                              "; use solver MU").c_str());
}

Solver resolved_solver(const Options& opt) {
  if (opt.solver != Solver::Auto) return opt.solver;
  return beta_of(opt) == 2 ? Solver::HALS : Solver::MU;
}

Init resolved_init(const Options& opt, std::int64_t m, std::int64_t n) {
  if (opt.init != Init::Auto) return opt.init;
  return opt.rank <= std::min(m, n) ? Init::NNDSVDa : Init::Random;
}

double beta_of(const Options& opt) {
  switch (opt.loss) {
    case Loss::Frobenius: return 2;
    case Loss::KullbackLeibler: return 1;
    case Loss::ItakuraSaito: return 0;
    case Loss::Beta: return opt.beta;
  }
  return 2;
}

std::string to_string(Loss v) {
  switch (v) {
    case Loss::Frobenius: return "frobenius";
    case Loss::KullbackLeibler: return "kl";
    case Loss::ItakuraSaito: return "is";
    case Loss::Beta: return "beta";
  }
  return "?";
}

std::string to_string(Solver v) {
  switch (v) {
    case Solver::Auto: return "auto";
    case Solver::MU: return "mu";
    case Solver::HALS: return "hals";
  }
  return "?";
}

std::string to_string(Init v) {
  switch (v) {
    case Init::Auto: return "auto";
    case Init::Random: return "random";
    case Init::NNDSVD: return "nndsvd";
    case Init::NNDSVDa: return "nndsvda";
    case Init::NNDSVDar: return "nndsvdar";
    case Init::Custom: return "custom";
  }
  return "?";
}

std::string to_string(OutOfCore v) {
  switch (v) {
    case OutOfCore::Auto: return "auto";
    case OutOfCore::Off: return "off";
    case OutOfCore::On: return "on";
  }
  return "?";
}

std::string to_string(Device v) {
  switch (v) {
    case Device::Auto: return "auto";
    case Device::Cpu: return "cpu";
    case Device::Cuda: return "cuda";
  }
  return "?";
}

std::string to_string(StopReason v) {
  switch (v) {
    case StopReason::Converged: return "converged";
    case StopReason::MaxIter: return "max_iter";
    case StopReason::Callback: return "callback";
    case StopReason::Interrupted: return "interrupted";
  }
  return "?";
}

}  // namespace nmfuse
