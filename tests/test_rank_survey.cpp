// The rank survey on planted data of known rank: the held-out error bottoms out at that
// rank and the one-standard-error rule suggests it; the same seed gives the same survey.
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

}  // namespace
