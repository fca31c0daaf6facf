// survey_ranks(): at each rank the restarts at once (factorize_many()), and held-out
// splits through factorize() with a mask of the entries each split keeps.
#include "nmfuse/rank_survey.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>

#include "core/rng.hpp"
#include "nmfuse/errors.hpp"
#include "nmfuse/factorize.hpp"
#include "row_update.hpp"

namespace nmfuse {
namespace {

void check_survey(const SurveyOptions& s, index_t m, index_t n) {
  auto bad = [](const std::string& what) { throw InvalidArgument("survey option " + what); };
  if (s.ranks.empty()) bad("ranks: none given");
  for (int k : s.ranks)
    if (k < 1) bad("ranks: " + std::to_string(k) + " is not a rank (each must be ≥ 1)");
  if (s.restarts < 1) bad("restarts = " + std::to_string(s.restarts) + ": must be ≥ 1");
  if (s.splits < 1) bad("splits = " + std::to_string(s.splits) + ": must be ≥ 1");
  if (!(s.holdout > 0 && s.holdout < 1) || s.holdout * double(m) * double(n) < 1) {
    std::ostringstream msg;
    msg << "holdout = " << s.holdout << ": must be in (0, 1) and hide at least one of the "
        << m * n << " entries";
    bad(msg.str());
  }
}

// The mean divergence over the entries the mask hides, at W·H.
template <class T>
double hidden_error(DenseView<const T> V, const Result<T>& r,
                    const std::vector<std::uint8_t>& kept, double beta) {
  double sum = 0;
  index_t count = 0;
  for (index_t i = 0; i < V.rows; ++i)
    for (index_t j = 0; j < V.cols; ++j) {
      if (kept[std::size_t(i * V.cols + j)]) continue;
      double wh = 0;
      for (index_t t = 0; t < r.W.cols(); ++t) wh += double(r.W(i, t)) * double(r.H(t, j));
      sum += kernels::beta_divergence(double(V(i, j)), wh, beta);
      ++count;
    }
  return count ? sum / double(count) : 0;
}

}  // namespace

template <class T>
RankSurvey survey_ranks(DenseView<const T> V, const Options& options, const SurveyOptions& s) {
  check_survey(s, V.rows, V.cols);
  const double beta = beta_of(options);
  RankSurvey out;
  for (int k : s.ranks) {
    Options opt = options;
    opt.rank = k;
    RankMeasures measures;
    measures.rank = k;
    const std::vector<Result<T>> runs = factorize_many(V, opt, s.restarts);
    for (int r = 0; r < s.restarts; ++r) {
      measures.losses.push_back(runs[r].loss_history.back());
      if (s.on_fit) s.on_fit(k, r + 1, s.restarts + s.splits);
    }
    measures.best_restart = int(std::min_element(measures.losses.begin(), measures.losses.end()) -
                                measures.losses.begin());
    std::vector<DenseView<const T>> W, H;
    for (const auto& run : runs) W.push_back(run.W.view()), H.push_back(run.H.view());
    measures.consensus = consensus(H);
    if (k >= 2 && s.restarts >= 2) measures.silhouette = component_silhouette(W);

    // Held-out splits: the same entries hidden at every rank (seeded by the split).
    for (int split = 0; split < s.splits; ++split) {
      core::Rng rng(options.seed ^ (0x9e3779b97f4a7c15ULL * std::uint64_t(split + 1)));
      std::vector<std::uint8_t> kept(std::size_t(V.rows * V.cols));
      for (auto& keep : kept) keep = rng.uniform() >= s.holdout;
      const MaskView mask(kept.data(), V.rows, V.cols, Layout::RowMajor);
      const Result<T> r = factorize(V, restart_options(opt, 0), mask);
      measures.holdout_errors.push_back(hidden_error(V, r, kept, beta));
      if (s.on_fit) s.on_fit(k, s.restarts + split + 1, s.restarts + s.splits);
    }
    const double splits = double(s.splits);
    double mean = 0, spread = 0;
    for (double e : measures.holdout_errors) mean += e / splits;
    for (double e : measures.holdout_errors) spread += (e - mean) * (e - mean);
    measures.holdout_mean = mean;
    measures.holdout_standard_error =
        s.splits > 1 ? std::sqrt(spread / (splits - 1)) / std::sqrt(splits) : 0;
    out.ranks.push_back(std::move(measures));
  }

  // The one-standard-error rule on the held-out error.
  const auto least = std::min_element(
      out.ranks.begin(), out.ranks.end(),
      [](const auto& a, const auto& b) { return a.holdout_mean < b.holdout_mean; });
  const double bound = least->holdout_mean + least->holdout_standard_error;
  out.suggested_rank = least->rank;
  for (const RankMeasures& m : out.ranks)
    if (m.holdout_mean <= bound && m.rank < out.suggested_rank) out.suggested_rank = m.rank;
  std::ostringstream rule;
  rule << "the smallest rank whose held-out error (mean over " << s.splits << " splits of "
       << s.holdout << " of the entries) is within one standard error of the least, "
       << least->holdout_mean << " ± " << least->holdout_standard_error << " at rank "
       << least->rank;
  out.rule = rule.str();
  return out;
}

template RankSurvey survey_ranks(DenseView<const float>, const Options&, const SurveyOptions&);
template RankSurvey survey_ranks(DenseView<const double>, const Options&, const SurveyOptions&);

}  // namespace nmfuse
