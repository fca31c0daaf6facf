#pragma once
// The choice of rank: for each rank of a range, several restarts (their consensus and
// losses) and held-out error (entries hidden from the fit, the error measured on them),
// a suggested rank with the rule that chose it, and every measure so a person can
// disagree.
#include <cmath>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "nmfuse/consensus.hpp"
#include "nmfuse/factorize.hpp"
#include "nmfuse/options.hpp"
#include "nmfuse/view.hpp"

namespace nmfuse {

struct SurveyOptions {
  std::vector<int> ranks;  // the ranks to try, each ≥ 1
  int restarts = 10;       // runs per rank from starts seeded seed, seed + 1, …
  double holdout = 0.1;    // the fraction of entries hidden in each split, in (0, 1)
  int splits = 3;          // held-out splits per rank
  // Called after each fit with the rank, the fits done at it and the fits per rank
  // (restarts + splits): a progress bar.
  std::function<void(int rank, int done, int per_rank)> on_fit;
};

struct RankMeasures {
  int rank = 0;
  Consensus consensus;               // of the restarts' H
  double silhouette = NAN;           // component_silhouette of their W (rank ≥ 2, 2+ restarts)
  std::vector<double> losses;        // each restart's final D(V | WH)
  int best_restart = 0;              // the one of the least loss
  std::vector<double> holdout_errors;  // per split: the mean d_β(v | wh) over hidden entries
  double holdout_mean = 0;
  double holdout_standard_error = 0;  // of holdout_mean over the splits
};

struct RankSurvey {
  std::vector<RankMeasures> ranks;  // in the order asked
  int suggested_rank = 0;
  std::string rule;  // how suggested_rank was chosen, in words
};

// Surveys the ranks with opt's loss, solver and stopping rule (opt.rank is ignored;
// Init::Auto means Init::Random here, so that restarts differ). The restarts of a rank
// run at once (factorize_many()). Each held-out split hides a fraction survey.holdout of
// the entries a split may hide, the same ones at every rank: every entry of a dense V,
// the observed entries of a masked one, the stored entries of a sparse one. The
// suggestion is the smallest rank whose held-out error is within one standard error of
// the least held-out error (the one-standard-error rule).
template <class T>
RankSurvey survey_ranks(DenseView<const T> V, const Options& opt, const SurveyOptions& survey);

// With missing values: only the entries `observed` marks are fitted, or hidden.
template <class T>
RankSurvey survey_ranks(DenseView<const T> V, MaskView observed, const Options& opt,
                        const SurveyOptions& survey);

// Sparse V. With Absent::Unknown the splits stay sparse. With Absent::Zero the hidden
// stored entries are unknown among fitted zeros, which the sparse path does not take:
// each split fits a dense copy of V with a mask (m·n entries and bytes; refused past
// half the free memory, with a message).
template <class T, class I>
RankSurvey survey_ranks(CsrView<T, I> V, const Options& opt, const SurveyOptions& survey);

// A view of mutable entries is surveyed as a view of constant ones.
template <class T, std::enable_if_t<!std::is_const_v<T>, int> = 0>
RankSurvey survey_ranks(DenseView<T> V, const Options& opt, const SurveyOptions& survey) {
  return survey_ranks(DenseView<const T>(V), opt, survey);
}
template <class T, std::enable_if_t<!std::is_const_v<T>, int> = 0>
RankSurvey survey_ranks(DenseView<T> V, MaskView observed, const Options& opt,
                        const SurveyOptions& survey) {
  return survey_ranks(DenseView<const T>(V), observed, opt, survey);
}

}  // namespace nmfuse
