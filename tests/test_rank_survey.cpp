// The rank survey on planted data of known rank: the held-out error bottoms out at that
// rank and the one-standard-error rule suggests it, for dense, masked and sparse V; the
// same seed gives the same survey.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "helpers.hpp"
#include "nmfuse/errors.hpp"
#include "nmfuse/rank_survey.hpp"

namespace {

using namespace testing_nmf;

// W·H of rank 4 with non-negative noise of a tenth of its mean.
Matrix<double> planted_rank_4(unsigned seed) {
  const Matrix<double> W = random_matrix(60, 4, seed), H = random_matrix(4, 50, seed + 1);
  std::mt19937 rng(seed + 2);
  std::uniform_real_distribution<double> noise(0, 0.1);
  Matrix<double> V(60, 50, Layout::RowMajor);
  for (index_t i = 0; i < 60; ++i)
    for (index_t j = 0; j < 50; ++j) {
      double sum = 0;
      for (index_t t = 0; t < 4; ++t) sum += W(i, t) * H(t, j);
      V(i, j) = sum + noise(rng);
    }
  return V;
}

// Each entry observed with probability `share`.
std::vector<std::uint8_t> observed_entries(index_t rows, index_t cols, double share,
                                           unsigned seed) {
  std::mt19937 rng(seed);
  std::bernoulli_distribution observed(share);
  std::vector<std::uint8_t> mask(std::size_t(rows * cols));
  for (auto& m : mask) m = observed(rng);
  return mask;
}

nmfuse::SurveyOptions ranks_2_to_7() {
  nmfuse::SurveyOptions s;
  s.ranks = {2, 3, 4, 5, 6, 7};
  s.restarts = 4;
  s.splits = 3;
  s.holdout = 0.1;
  return s;
}

TEST(RankSurvey, PlantedRankIsSuggestedAndHeldOutErrorBottomsOutThere) {
  for (nmfuse::Loss loss : {nmfuse::Loss::Frobenius, nmfuse::Loss::KullbackLeibler}) {
    const Matrix<double> V = planted_rank_4(31);
    nmfuse::Options opt = cpu_options(1);
    opt.loss = loss;
    opt.max_iter = 400;
    const nmfuse::RankSurvey survey = nmfuse::survey_ranks(V.view(), opt, ranks_2_to_7());
    ASSERT_EQ(survey.ranks.size(), 6u);
    // It bottoms out at rank 4: rank 4 within one standard error of the least, every
    // smaller rank far above (past rank 4 the fits only follow the noise, about equally).
    const auto least = std::min_element(
        survey.ranks.begin(), survey.ranks.end(),
        [](const auto& a, const auto& b) { return a.holdout_mean < b.holdout_mean; });
    const double bound = least->holdout_mean + least->holdout_standard_error;
    std::string measured;
    for (const auto& m : survey.ranks)
      measured += " " + std::to_string(m.rank) + ": " + std::to_string(m.holdout_mean) + " ± " +
                  std::to_string(m.holdout_standard_error);
    EXPECT_LE(survey.ranks[2].holdout_mean, bound) << nmfuse::to_string(loss) << measured;
    EXPECT_GT(survey.ranks[1].holdout_mean, 2 * bound) << nmfuse::to_string(loss) << measured;
    EXPECT_EQ(survey.suggested_rank, 4) << survey.rule;
    for (const auto& m : survey.ranks) {
      EXPECT_EQ(m.losses.size(), 4u);
      EXPECT_EQ(m.holdout_errors.size(), 3u);
      EXPECT_EQ(m.consensus.samples, 50);
      EXPECT_LE(m.losses[std::size_t(m.best_restart)],
                *std::min_element(m.losses.begin(), m.losses.end()));
    }
  }
}

TEST(RankSurvey, TheSameSeedGivesTheSameSurvey) {
  const Matrix<double> V = planted_rank_4(32);
  nmfuse::Options opt = cpu_options(1);
  opt.max_iter = 50;
  nmfuse::SurveyOptions s = ranks_2_to_7();
  s.ranks = {3, 4};
  const auto a = nmfuse::survey_ranks(V.view(), opt, s);
  const auto b = nmfuse::survey_ranks(V.view(), opt, s);
  for (std::size_t r = 0; r < 2; ++r) {
    EXPECT_EQ(a.ranks[r].losses, b.ranks[r].losses);
    EXPECT_EQ(a.ranks[r].holdout_errors, b.ranks[r].holdout_errors);
    EXPECT_EQ(a.ranks[r].consensus.matrix, b.ranks[r].consensus.matrix);
  }
  opt.seed = 1;
  const auto c = nmfuse::survey_ranks(V.view(), opt, s);
  EXPECT_NE(a.ranks[0].losses, c.ranks[0].losses);
}

TEST(RankSurvey, BadSurveyOptionsAreNamed) {
  const Matrix<double> V = planted_rank_4(33);
  nmfuse::SurveyOptions s = ranks_2_to_7();
  s.holdout = 1.5;
  EXPECT_THROW(nmfuse::survey_ranks(V.view(), cpu_options(1), s), nmfuse::InvalidArgument);
  s = ranks_2_to_7();
  s.ranks = {0};
  try {
    nmfuse::survey_ranks(V.view(), cpu_options(1), s);
    ADD_FAILURE() << "no error";
  } catch (const nmfuse::InvalidArgument& e) {
    EXPECT_STREQ(e.what(), "survey option ranks: 0 is not a rank (each must be ≥ 1)");
  }
}

TEST(RankSurvey, AMaskedVIsFittedAndMeasuredOnItsObservedEntriesOnly) {
  Matrix<double> V = planted_rank_4(34);
  const std::vector<std::uint8_t> mask = observed_entries(60, 50, 0.8, 35);
  // Unobserved entries far off the planted matrix: a survey that fitted or measured any
  // of them would neither bottom out at rank 4 nor reach the noise's error.
  for (index_t i = 0; i < 60; ++i)
    for (index_t j = 0; j < 50; ++j)
      if (!mask[std::size_t(i * 50 + j)]) V(i, j) = 1000;
  nmfuse::Options opt = cpu_options(1);
  opt.max_iter = 400;
  const nmfuse::RankSurvey survey = nmfuse::survey_ranks(
      V.view(), nmfuse::MaskView(mask.data(), 60, 50, Layout::RowMajor), opt, ranks_2_to_7());
  EXPECT_EQ(survey.suggested_rank, 4) << survey.rule;
  // ½(v − wh)² of noise uniform on [0, 0.1] is below 0.005 everywhere.
  EXPECT_LT(survey.ranks[2].holdout_mean, 0.005);
  EXPECT_NE(survey.rule.find("of the observed entries"), std::string::npos) << survey.rule;
}

TEST(RankSurvey, ASparseVOfUnknownAbsentEntriesIsSurveyedAsTheMaskedDenseOne) {
  const Matrix<double> V = planted_rank_4(36);
  const std::vector<std::uint8_t> mask = observed_entries(60, 50, 0.7, 37);
  const auto S = to_csr<double>(V, [&](index_t i, index_t j) { return mask[std::size_t(i * 50 + j)] != 0; });
  nmfuse::Options opt = cpu_options(1);
  opt.solver = nmfuse::Solver::MU;
  opt.max_iter = 100;
  nmfuse::SurveyOptions s = ranks_2_to_7();
  s.ranks = {3, 4, 5};
  s.restarts = 3;
  const auto dense = nmfuse::survey_ranks(
      V.view(), nmfuse::MaskView(mask.data(), 60, 50, Layout::RowMajor), opt, s);
  const auto sparse = nmfuse::survey_ranks(S.view(nmfuse::Absent::Unknown), opt, s);
  // The same fits (the stored entries, in row order, are the observed ones in row order,
  // so the splits hide the same entries) to double rounding, amplified over 100 steps.
  for (std::size_t r = 0; r < 3; ++r)
    for (std::size_t e = 0; e < 3; ++e) {
      EXPECT_NEAR(sparse.ranks[r].losses[e], dense.ranks[r].losses[e],
                  1e-9 * dense.ranks[r].losses[e]);
      EXPECT_NEAR(sparse.ranks[r].holdout_errors[e], dense.ranks[r].holdout_errors[e],
                  1e-9 * dense.ranks[r].holdout_errors[e]);
    }
  EXPECT_EQ(sparse.suggested_rank, dense.suggested_rank);
  EXPECT_NE(sparse.rule.find("of the stored entries"), std::string::npos) << sparse.rule;
}

TEST(RankSurvey, ASparseVOfZeroAbsentEntriesHidesStoredEntriesAmongFittedZeros) {
  // Planted rank 4 with sparse factors, so that V has exact zeros; noise on the rest.
  const Matrix<double> W = random_matrix(60, 4, 38, 0.4), H = random_matrix(4, 50, 39, 0.4);
  Matrix<double> V = product(W, H);
  std::mt19937 rng(40);
  std::uniform_real_distribution<double> noise(0, 0.1);
  for (std::size_t e = 0; e < V.size(); ++e)
    if (V.data()[e] != 0) V.data()[e] += noise(rng);
  const auto S = to_csr<double>(V);
  ASSERT_LT(S.values.size(), V.size() * 9 / 10);
  nmfuse::Options opt = cpu_options(1);
  opt.max_iter = 400;
  const nmfuse::RankSurvey survey = nmfuse::survey_ranks(S.view(), opt, ranks_2_to_7());
  EXPECT_EQ(survey.suggested_rank, 4) << survey.rule;
  EXPECT_NE(survey.rule.find("of the stored entries"), std::string::npos) << survey.rule;
}

// A sparse V of n×n with four stored entries, in its first two rows.
struct FourEntries {
  explicit FourEntries(index_t rows, index_t cols) : rows(rows), cols(cols) {
    row_ptr.assign(std::size_t(rows) + 1, 4);
    row_ptr[0] = 0, row_ptr[1] = 2;
  }
  nmfuse::CsrView<double, std::int64_t> view() const {
    return {row_ptr.data(), col_idx.data(), values.data(), rows, cols, nmfuse::Absent::Zero};
  }
  index_t rows, cols;
  std::vector<std::int64_t> row_ptr, col_idx{0, 1, 2, 3};
  std::vector<double> values{1, 2, 3, 4};
};

// The survey's own memory is checked before its first fit.
TEST(RankSurvey, WhatDoesNotFitInMemoryIsRefusedWithItsSizeBeforeAnyFit) {
  nmfuse::SurveyOptions s = ranks_2_to_7();
  s.ranks = {1};
  s.restarts = 1;
  s.holdout = 0.5;
  s.on_fit = [](int, int, int) { ADD_FAILURE() << "a fit ran"; };
  auto refusal = [&](const FourEntries& V) {
    try {
      nmfuse::survey_ranks(V.view(), cpu_options(1), s);
    } catch (const nmfuse::InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // Absent zeros: each split fits a dense copy, of 10⁶ × 10⁶ entries here.
  EXPECT_NE(refusal(FourEntries(1000000, 1000000)).find("1000000×1000000 needs 9000 GB"),
            std::string::npos);
  // The consensus of 10⁶ samples: two 10⁶ × 10⁶ matrices of doubles.
  EXPECT_NE(refusal(FourEntries(4, 1000000)).find("consensus of 1000000 samples (its matrix "
                                                  "and its clustering's distances) needs 16000 GB"),
            std::string::npos);
}

}  // namespace
