// Online fitting on the CPU (Model::partial_fit, Model::fit_online): on a stationary
// planted stream it approaches the batch solution, its memory does not grow with the
// stream, it is deterministic, and its arguments are checked.
#include <gmock/gmock.h>

#include <fstream>
#include <unistd.h>

#include "online_stream.hpp"

namespace {

using namespace testing_nmf;
using nmfuse::Model;

// D(V | W·H) with H solved for W (transform, at the model's options).
template <class T>
double loss_of(const Model<T>& model, const Matrix<T>& V, bool sparse) {
  const double beta = nmfuse::beta_of(model.options());
  const Matrix<T> H = sparse ? model.transform(to_csr<T>(V).view()) : model.transform(V.view());
  return divergence(V, model.W(), H, beta);
}

template <class T>
const nmfuse::OnlineInfo& fit_online(Model<T>& model, const Matrix<T>& V, bool sparse) {
  if (!sparse) return model.fit_online(V.view());
  const auto S = to_csr<T>(V);
  return model.fit_online(S.view());
}

template <class T>
const nmfuse::OnlineInfo& partial_fit(Model<T>& model, const Matrix<T>& V, bool sparse) {
  if (!sparse) return model.partial_fit(V.view());
  const auto S = to_csr<T>(V);
  return model.partial_fit(S.view());
}

nmfuse::Options cpu(nmfuse::Options opt) {
  opt.device = nmfuse::Device::Cpu;
  return opt;
}

// The reference: the batch solver on all of V, run to a tight tolerance.
Model<double> fitted_by_the_batch_solver(const OnlineCase& c, int k, const Matrix<double>& V) {
  nmfuse::Options opt = cpu(online_options(c, k));
  opt.max_iter = 1000;
  opt.tol = 1e-7;
  Model<double> batch(opt);
  if (c.sparse) batch.fit(to_csr<double>(V).view());
  else batch.fit(V.view());
  return batch;
}

class OnlineCpu : public ::testing::TestWithParam<OnlineCase> {};

// Twenty passes over 1200 columns in batches of 100 find the planted components and
// end near the loss the batch solver reaches on the same V: within 5% for HALS and KL.
// The multiplicative paths' steps are smaller, and they are still on their way there
// (bench/RESULTS.md, "Online"): each case states its reach.
TEST_P(OnlineCpu, FitOnlineApproachesTheBatchSolution) {
  const OnlineCase c = GetParam();
  const int k = 4;
  const Matrix<double> planted = planted_dictionary(40, k);
  const Matrix<double> V = stream_batch<double>(planted, 1200, 7, c.sparse);
  nmfuse::Options opt = cpu(online_options(c, k));
  opt.batch_size = 100;
  opt.max_passes = 20;
  opt.tol = 1e-6;  // each batch's H nearly exact; W's change never stops the fit
  opt.max_no_improvement = 0;
  Model<double> online(opt);
  const nmfuse::OnlineInfo& info = fit_online(online, V, c.sparse);
  EXPECT_EQ(info.steps, 240);
  EXPECT_EQ(info.passes, 20);
  EXPECT_EQ(info.stop_reason, nmfuse::StopReason::MaxIter);
  EXPECT_EQ(info.batch_cost.size(), 240u);
  EXPECT_EQ(info.smoothed_cost.size(), 240u);
  EXPECT_EQ(info.device, nmfuse::Device::Cpu);
  EXPECT_LT(info.smoothed_cost.back(), 0.5 * info.smoothed_cost[12]) << "after the first pass";

  const Model<double> batch = fitted_by_the_batch_solver(c, k, V);
  const double online_loss = loss_of(online, V, c.sparse), batch_loss = loss_of(batch, V, c.sparse);
  EXPECT_LT(online_loss, c.reach * batch_loss) << "batch solver's loss " << batch_loss;
  for (double cosine : best_matches(planted, online.W())) EXPECT_GT(cosine, 0.99);
}

// Batches that keep arriving, each seen once: W learns the planted components, and its
// loss on a batch it has never seen is within the case's reach of what the batch
// solver's W, fitted on as many columns of the stream, reaches there.
TEST_P(OnlineCpu, PartialFitLearnsFromAStream) {
  const OnlineCase c = GetParam();
  const int k = 4, batches = 30;
  const Matrix<double> planted = planted_dictionary(40, k);
  nmfuse::Options opt = cpu(online_options(c, k));
  opt.batch_size = 100;
  Model<double> online(opt);
  for (int b = 0; b < batches; ++b)
    partial_fit(online, stream_batch<double>(planted, 100, 100 + unsigned(b), c.sparse), c.sparse);
  EXPECT_EQ(online.partial_fit(stream_batch<double>(planted, 100, 999, false).view()).steps,
            batches + 1);

  const Matrix<double> seen = stream_batch<double>(planted, 3000, 5, c.sparse);
  const Model<double> batch = fitted_by_the_batch_solver(c, k, seen);
  const Matrix<double> unseen = stream_batch<double>(planted, 300, 12345, c.sparse);
  const double online_loss = loss_of(online, unseen, c.sparse),
               batch_loss = loss_of(batch, unseen, c.sparse);
  EXPECT_LT(online_loss, c.reach * batch_loss) << "batch solver's loss " << batch_loss;
  for (double cosine : best_matches(planted, online.W())) EXPECT_GT(cosine, 0.99);
}

INSTANTIATE_TEST_SUITE_P(Paths, OnlineCpu, ::testing::ValuesIn(kOnlineCases),
                         [](const auto& info) { return std::string(info.param.name); });

// Resident memory, in bytes, from /proc/self/statm.
double resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  double pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * double(sysconf(_SC_PAGESIZE));
}

// What the model holds is W and its sums, O(m·k), whatever the stream's length: after
// 40 batches of 2 MB and after 400, resident memory is the same to within a batch.
TEST(Online, MemoryStaysBoundedWhileTheStreamGrows) {
  const int k = 5;
  const index_t m = 500, cols = 500;  // a batch: 500×500 doubles, 2 MB
  const Matrix<double> planted = planted_dictionary(m, k);
  nmfuse::Options opt = cpu(online_options(kOnlineCases[0], k));
  opt.max_iter = 5;
  Model<double> online(opt);
  double after_warmup = 0;
  for (int b = 0; b < 400; ++b) {
    online.partial_fit(stream_batch<double>(planted, cols, unsigned(b), false).view());
    if (b == 39) after_warmup = resident_bytes();
  }
  const double batch_bytes = double(m) * double(cols) * sizeof(double);
  EXPECT_LT(resident_bytes() - after_warmup, batch_bytes)
      << "resident " << resident_bytes() / 1e6 << " MB after 400 batches, "
      << after_warmup / 1e6 << " MB after 40";
  EXPECT_EQ(online.partial_fit(stream_batch<double>(planted, cols, 1, false).view()).batch_cost.size(),
            401u);
}

// Missing values: a sparse batch whose absent entries are unknown. With every entry
// stored, its steps are those of the same batch with absent zeros (its products then
// sum entry by entry instead of through W·HtᵀHt or column sums: to rounding).
TEST(Online, UnknownAbsentEntriesAllStoredStepAsZeroAbsentOnes) {
  const Matrix<double> planted = planted_dictionary(30, 3);
  for (double beta : {2.0, 1.0, 1.5}) {
    nmfuse::Options opt = cpu(online_options(kOnlineCases[1], 3));
    opt.loss = nmfuse::Loss::Beta;
    opt.beta = beta;
    Model<double> zero(opt), unknown(opt);
    for (unsigned b = 0; b < 4; ++b) {
      const auto S = to_csr<double>(stream_batch<double>(planted, 50, 40 + b, false),
                                    [](index_t, index_t) { return true; });
      zero.partial_fit(S.view(nmfuse::Absent::Zero));
      unknown.partial_fit(S.view(nmfuse::Absent::Unknown));
    }
    EXPECT_LT(relative_difference(unknown.W(), zero.W()), 1e-9) << "β = " << beta;
  }
}

// A planted stream with a third of its entries missing: fit_online by MU still finds
// the components, and W·H predicts the missing entries from the observed ones.
TEST(Online, MissingEntriesOfAPlantedStreamArePredicted) {
  const int k = 4;
  const Matrix<double> planted = planted_dictionary(40, k);
  const Matrix<double> V = stream_batch<double>(planted, 1200, 8, false);
  std::mt19937 rng(9);
  std::bernoulli_distribution seen(2.0 / 3);
  std::vector<std::uint8_t> observed(V.size());
  for (auto& o : observed) o = seen(rng);
  auto is_observed = [&](index_t i, index_t j) { return observed[std::size_t(i * 1200 + j)] != 0; };
  const auto S = to_csr<double>(V, is_observed);
  for (nmfuse::Loss loss : {nmfuse::Loss::Frobenius, nmfuse::Loss::KullbackLeibler}) {
    nmfuse::Options opt = cpu(online_options(kOnlineCases[1], k));
    opt.loss = loss;
    opt.batch_size = 100;
    opt.max_passes = 20;
    opt.max_no_improvement = 0;
    Model<double> online(opt);
    online.fit_online(S.view(nmfuse::Absent::Unknown));
    for (double cosine : best_matches(planted, online.W()))
      EXPECT_GT(cosine, 0.99) << nmfuse::to_string(loss);
    const Matrix<double> H = online.transform(S.view(nmfuse::Absent::Unknown));
    double error = 0, norm = 0;
    for (index_t i = 0; i < 40; ++i)
      for (index_t j = 0; j < 1200; ++j) {
        if (is_observed(i, j)) continue;
        double wh = 0;
        for (int t = 0; t < k; ++t) wh += online.W()(i, t) * H(t, j);
        error += (V(i, j) - wh) * (V(i, j) - wh);
        norm += V(i, j) * V(i, j);
      }
    EXPECT_LT(std::sqrt(error / norm), 0.1) << nmfuse::to_string(loss);
  }
  nmfuse::Options hals = cpu(online_options(kOnlineCases[0], k));
  Model<double> refused(hals);
  EXPECT_THAT([&] { refused.partial_fit(S.view(nmfuse::Absent::Unknown)); },
              ::testing::ThrowsMessage<nmfuse::InvalidArgument>(
                  ::testing::HasSubstr("option solver = hals: online fitting with missing values")));
}

// Missing values in a dense batch: its mask makes the same steps as the CSR of its
// observed entries with absent entries unknown (both sum the observed entries' terms,
// in other orders: to rounding), in fit_online, partial_fit and transform; what lies
// under the mask (here 1000) never counts.
TEST(Online, ADenseMaskStepsAsTheCsrOfItsObservedEntries) {
  const int k = 3;
  const Matrix<double> planted = planted_dictionary(30, k);
  Matrix<double> V = stream_batch<double>(planted, 300, 21, false);
  std::mt19937 rng(22);
  std::bernoulli_distribution seen(0.7);
  std::vector<std::uint8_t> observed(V.size());
  for (auto& o : observed) o = seen(rng);
  auto is_observed = [&](index_t i, index_t j) { return observed[std::size_t(i * 300 + j)] != 0; };
  const auto S = to_csr<double>(V, is_observed);
  for (index_t i = 0; i < 30; ++i)
    for (index_t j = 0; j < 300; ++j)
      if (!is_observed(i, j)) V(i, j) = 1000;
  const nmfuse::MaskView mask(observed.data(), 30, 300, Layout::RowMajor);
  for (double beta : {2.0, 1.0, 1.5}) {
    nmfuse::Options opt = cpu(online_options(kOnlineCases[1], k));
    opt.loss = nmfuse::Loss::Beta;
    opt.beta = beta;
    opt.batch_size = 70;  // a last batch of 20 columns: the mask is cut with V
    opt.max_passes = 3;
    Model<double> dense(opt), sparse(opt);
    dense.fit_online(V.view(), mask);
    sparse.fit_online(S.view(nmfuse::Absent::Unknown));
    EXPECT_LT(relative_difference(dense.W(), sparse.W()), 1e-9) << "β = " << beta;
    EXPECT_LT(relative_difference(dense.transform(V.view(), mask),
                                  sparse.transform(S.view(nmfuse::Absent::Unknown))),
              1e-9)
        << "β = " << beta;
    dense.partial_fit(V.view(), mask);
    sparse.partial_fit(S.view(nmfuse::Absent::Unknown));
    EXPECT_LT(relative_difference(dense.W(), sparse.W()), 1e-9) << "β = " << beta;
  }
  nmfuse::Options hals = cpu(online_options(kOnlineCases[0], k));
  Model<double> refused(hals);
  EXPECT_THAT([&] { refused.partial_fit(V.view(), mask); },
              ::testing::ThrowsMessage<nmfuse::InvalidArgument>(
                  ::testing::HasSubstr("option solver = hals: online fitting with missing values")));
  const nmfuse::MaskView narrow(observed.data(), 30, 299, Layout::RowMajor);
  nmfuse::Options mu = cpu(online_options(kOnlineCases[1], k));
  Model<double> model(mu);
  EXPECT_THAT([&] { model.fit_online(V.view(), narrow); },
              ::testing::ThrowsMessage<nmfuse::InvalidArgument>(::testing::HasSubstr(
                  "the mask of observed entries is 30×299, but V is 30×300")));
  EXPECT_THAT([&] { model.partial_fit(V.view(), narrow); },
              ::testing::ThrowsMessage<nmfuse::InvalidArgument>(::testing::HasSubstr(
                  "the mask of observed entries is 30×299, but the batch is 30×300")));
}

TEST(Online, SameSeedSameFitBitForBit) {
  const Matrix<double> planted = planted_dictionary(30, 3);
  const Matrix<double> V = stream_batch<double>(planted, 600, 3, false);
  nmfuse::Options opt = cpu(online_options(kOnlineCases[0], 3));
  opt.batch_size = 128;  // the last batch of a pass is short: 88 columns
  opt.max_passes = 2;
  Model<double> a(opt), b(opt);
  a.fit_online(V.view());
  b.fit_online(V.view());
  EXPECT_EQ(relative_difference(a.W(), b.W()), 0);
  EXPECT_EQ(a.fit_online(V.view()).steps, 10) << "fit_online starts afresh";
}

// partial_fit after fit() goes on from fit()'s W: on the data fit() saw, W stays where
// it was, to the batch solver's tolerance.
TEST(Online, PartialFitGoesOnFromAFittedModel) {
  const Matrix<double> planted = planted_dictionary(30, 3);
  const Matrix<double> V = stream_batch<double>(planted, 400, 4, false);
  nmfuse::Options opt = cpu(online_options(kOnlineCases[0], 3));
  opt.max_iter = 1000;
  opt.tol = 1e-8;
  Model<double> model(opt);
  const Matrix<double> fitted = model.fit(V.view()).W;
  model.partial_fit(V.view());
  EXPECT_LT(relative_difference(model.W(), fitted), 1e-3);
  EXPECT_EQ(model.partial_fit(V.view()).steps, 2);
}

// start_from: online steps go on from a W of the caller's (row-major here), which must
// have the options' rank.
TEST(Online, StartsFromAGivenW) {
  const Matrix<double> planted = planted_dictionary(30, 3);
  const Matrix<double> V = stream_batch<double>(planted, 300, 4, false);
  nmfuse::Options opt = cpu(online_options(kOnlineCases[0], 3));
  Model<double> model(opt);
  Matrix<double> W0(30, 3, Layout::RowMajor);
  for (index_t i = 0; i < 30; ++i)
    for (int t = 0; t < 3; ++t) W0(i, t) = planted(i, t);
  model.start_from(W0.view());
  EXPECT_EQ(relative_difference(model.W(), W0), 0);
  model.partial_fit(V.view());
  EXPECT_LT(relative_difference(model.W(), W0), 0.05) << "the planted W fits V already";
  Model<double> other(cpu(online_options(kOnlineCases[0], 2)));
  other.start_from(W0.view());
  EXPECT_THAT([&] { other.partial_fit(V.view()); },
              ::testing::ThrowsMessage<nmfuse::InvalidArgument>(
                  ::testing::HasSubstr("the model's W has 3 columns, but option rank = 2")));
}

TEST(Online, ProgressCountsStepsAndCanStopTheFit) {
  const Matrix<double> planted = planted_dictionary(30, 3);
  const Matrix<double> V = stream_batch<double>(planted, 1000, 4, false);
  nmfuse::Options opt = cpu(online_options(kOnlineCases[0], 3));
  opt.batch_size = 100;
  int calls = 0;
  opt.on_progress = [&](const nmfuse::Progress& p) {
    EXPECT_EQ(p.iteration, calls + 2) << "the first step only starts";
    return ++calls < 5;
  };
  Model<double> model(opt);
  const nmfuse::OnlineInfo& info = model.fit_online(V.view());
  EXPECT_EQ(calls, 5);
  EXPECT_EQ(info.steps, 6);
  EXPECT_EQ(info.stop_reason, nmfuse::StopReason::Callback);
}

TEST(Online, StopsWhenTheSmoothedCostStopsFalling) {
  const Matrix<double> planted = planted_dictionary(30, 3);
  const Matrix<double> V = stream_batch<double>(planted, 1000, 4, false);
  nmfuse::Options opt = cpu(online_options(kOnlineCases[0], 3));
  opt.batch_size = 100;
  opt.tol = 0;  // only max_no_improvement can stop it
  opt.max_no_improvement = 3;
  Model<double> model(opt);
  const nmfuse::OnlineInfo& info = model.fit_online(V.view());
  EXPECT_EQ(info.stop_reason, nmfuse::StopReason::Converged);
  ASSERT_GE(info.smoothed_cost.size(), 4u);
  const auto& s = info.smoothed_cost;
  const double lowest_before = *std::min_element(s.begin() + 1, s.end() - 3);
  for (auto it = s.end() - 3; it != s.end(); ++it) EXPECT_GE(*it, lowest_before);
}

TEST(Online, ArgumentsAreChecked) {
  const Matrix<double> V = random_matrix<double>(20, 30, 1);
  nmfuse::Options opt = cpu(online_options(kOnlineCases[0], 2));
  auto fails = [&](nmfuse::Options o, const std::string& says) {
    try {
      Model<double> bad(o);
      bad.partial_fit(V.view());
      ADD_FAILURE() << "accepted: " << says;
    } catch (const nmfuse::InvalidArgument& e) {
      EXPECT_THAT(e.what(), ::testing::HasSubstr(says));
    }
  };
  nmfuse::Options o = opt;
  o.batch_size = 0;
  fails(o, "option batch_size = 0");
  o = opt;
  o.forget_factor = 0;
  fails(o, "option forget_factor = 0");
  o = opt;
  o.forget_factor = 1.5;
  fails(o, "option forget_factor = 1.5");
  o = opt;
  o.max_no_improvement = -1;
  fails(o, "option max_no_improvement = -1");
  o = opt;
  o.max_passes = 0;
  fails(o, "option max_passes = 0");
  o = opt;
  o.init = nmfuse::Init::Custom;
  fails(o, "option init = custom");

  Model<double> model(opt);
  EXPECT_THROW(model.W(), nmfuse::InvalidArgument);
  model.partial_fit(V.view());
  const Matrix<double> other = random_matrix<double>(21, 30, 2);
  EXPECT_THAT([&] { model.partial_fit(other.view()); },
              ::testing::ThrowsMessage<nmfuse::InvalidArgument>(
                  ::testing::HasSubstr("the batch has 21 rows, but the model's W has 20")));
  Matrix<double> negative = V;
  negative(3, 4) = -1;
  EXPECT_THROW(model.partial_fit(negative.view()), nmfuse::InvalidArgument);
  const auto S = to_csr<double>(V);
  EXPECT_THAT([&] { model.partial_fit(S.view(nmfuse::Absent::Unknown)); },
              ::testing::ThrowsMessage<nmfuse::InvalidArgument>(
                  ::testing::HasSubstr("online fitting with missing values")));
  EXPECT_EQ(model.partial_fit(S.view()).steps, 2) << "a failed batch teaches nothing";
}

}  // namespace
