// survey_ranks(): at each rank the restarts at once (factorize_many()), and held-out
// splits. A split hides a random fraction of the entries a split may hide (every entry
// of a dense V, the observed ones of a masked V, the stored ones of a sparse V), fits
// the rest, and measures the error on the hidden ones.
#include "nmfuse/rank_survey.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>

#include "core/free_memory.hpp"
#include "core/rng.hpp"
#include "nmfuse/errors.hpp"
#include "nmfuse/factorize.hpp"
#include "row_update.hpp"

namespace nmfuse {
namespace {

std::string shape(index_t rows, index_t cols) {
  return std::to_string(rows) + "×" + std::to_string(cols);
}

template <class T>
struct Entry {
  index_t i, j;
  T v;
};

// The survey's data: its restarts, the entries a split may hide (in a fixed order, so
// that a seed hides the same ones at every rank), and a fit that leaves some out.
template <class T>
struct DenseData {
  DenseView<const T> V;
  const MaskView* observed;  // null: every entry

  std::string hideable() const { return observed ? "observed entries" : "entries"; }
  // What a split holds beside V: its mask.
  void check_memory() const {
    core::check_fits_in_memory(double(V.rows) * double(V.cols), "a held-out split's mask of " +
                                                                     shape(V.rows, V.cols));
  }
  std::vector<Result<T>> restarts(const Options& opt, int R) const {
    return observed ? factorize_many(V, opt, R, *observed) : factorize_many(V, opt, R);
  }
  template <class F>
  void for_each_hideable(F&& f) const {
    for (index_t i = 0; i < V.rows; ++i)
      for (index_t j = 0; j < V.cols; ++j)
        if (!observed || (*observed)(i, j)) f(i, j, V(i, j));
  }
  Result<T> fit_without(const Options& opt, const std::vector<std::uint8_t>& hidden) const {
    std::vector<std::uint8_t> kept(std::size_t(V.rows * V.cols));
    std::size_t c = 0;
    for (index_t i = 0; i < V.rows; ++i)
      for (index_t j = 0; j < V.cols; ++j)
        if (!observed || (*observed)(i, j)) kept[std::size_t(i * V.cols + j)] = !hidden[c++];
    return factorize(V, opt, MaskView(kept.data(), V.rows, V.cols, Layout::RowMajor));
  }
};

template <class T, class I>
struct SparseData {
  CsrView<T, I> V;

  std::string hideable() const { return "stored entries"; }
  // What a split holds beside V: a copy of the kept entries, or the dense copy and mask.
  void check_memory() const {
    if (V.absent == Absent::Zero)
      core::check_fits_in_memory(
          double(V.rows) * double(V.cols) * double(sizeof(T) + 1),
          "the held-out split of a sparse V whose absent entries are zeros fits a dense copy "
          "with a mask (a V whose absent entries are unknown stays sparse): " +
              shape(V.rows, V.cols));
  }
  std::vector<Result<T>> restarts(const Options& opt, int R) const {
    return factorize_many(V, opt, R);
  }
  template <class F>
  void for_each_hideable(F&& f) const {
    for (index_t i = 0; i < V.rows; ++i)
      for (I e = V.row_ptr[i]; e < V.row_ptr[i + 1]; ++e) f(i, index_t(V.col_idx[e]), V.values[e]);
  }
  Result<T> fit_without(const Options& opt, const std::vector<std::uint8_t>& hidden) const {
    return V.absent == Absent::Unknown ? fit_unknown_absent(opt, hidden)
                                       : fit_zero_absent(opt, hidden);
  }

 private:
  // The kept stored entries are V's observed ones.
  Result<T> fit_unknown_absent(const Options& opt, const std::vector<std::uint8_t>& hidden) const {
    CsrMatrix<T, I> kept;
    kept.rows = V.rows, kept.cols = V.cols;
    kept.row_ptr.reserve(std::size_t(V.rows) + 1);
    for (index_t i = 0; i < V.rows; ++i) {
      for (I e = V.row_ptr[i]; e < V.row_ptr[i + 1]; ++e)
        if (!hidden[std::size_t(e)]) kept.col_idx.push_back(V.col_idx[e]), kept.values.push_back(V.values[e]);
      kept.row_ptr.push_back(I(kept.values.size()));
    }
    return factorize(kept.view(Absent::Unknown), opt);
  }

  // Hidden entries among zeros that are fitted: the sparse path takes no unknown entry
  // beside its zeros, so the split fits a dense copy with a mask (Absent::Unknown's
  // split stays sparse).
  Result<T> fit_zero_absent(const Options& opt, const std::vector<std::uint8_t>& hidden) const {
    Matrix<T> dense(V.rows, V.cols, Layout::RowMajor);
    std::vector<std::uint8_t> kept(dense.size(), 1);
    for (index_t i = 0; i < V.rows; ++i)
      for (I e = V.row_ptr[i]; e < V.row_ptr[i + 1]; ++e) {
        const std::size_t at = std::size_t(i * V.cols + index_t(V.col_idx[e]));
        dense.data()[at] = V.values[e];
        kept[at] = !hidden[std::size_t(e)];
      }
    return factorize(dense.view(), opt, MaskView(kept.data(), V.rows, V.cols, Layout::RowMajor));
  }
};

void check_survey(const SurveyOptions& s, index_t hideable, const std::string& what) {
  auto bad = [](const std::string& text) { throw InvalidArgument("survey option " + text); };
  if (s.ranks.empty()) bad("ranks: none given");
  for (int k : s.ranks)
    if (k < 1) bad("ranks: " + std::to_string(k) + " is not a rank (each must be ≥ 1)");
  if (s.restarts < 1) bad("restarts = " + std::to_string(s.restarts) + ": must be ≥ 1");
  if (s.splits < 1) bad("splits = " + std::to_string(s.splits) + ": must be ≥ 1");
  if (!(s.holdout > 0 && s.holdout < 1) || s.holdout * double(hideable) < 1) {
    std::ostringstream msg;
    msg << "holdout = " << s.holdout << ": must be in (0, 1) and hide at least one of the "
        << hideable << " " << what;
    bad(msg.str());
  }
}

// The mean divergence over the hidden entries, at W·H.
template <class T>
double hidden_error(const std::vector<Entry<T>>& hidden, const Result<T>& r, double beta) {
  double sum = 0;
  for (const Entry<T>& e : hidden) {
    double wh = 0;
    for (index_t t = 0; t < r.W.cols(); ++t) wh += double(r.W(e.i, t)) * double(r.H(t, e.j));
    sum += kernels::beta_divergence(double(e.v), wh, beta);
  }
  return hidden.empty() ? 0 : sum / double(hidden.size());
}

template <class T, class Data>
RankSurvey survey(const Data& data, const Options& options, const SurveyOptions& s) {
  index_t hideable = 0;
  data.for_each_hideable([&](index_t, index_t, T) { ++hideable; });
  check_survey(s, hideable, data.hideable());
  // Before the first fit: what the splits and the consensus will hold.
  data.check_memory();
  core::check_consensus_fits(data.V.cols);
  const double beta = beta_of(options);

  // The held-out splits, drawn once: the same entries hidden at every rank.
  struct Split {
    std::vector<std::uint8_t> hide;  // a flag per hideable entry, in their order
    std::vector<Entry<T>> hidden;
  };
  std::vector<Split> splits(std::size_t(s.splits));
  for (int split = 0; split < s.splits; ++split) {
    core::Rng rng(options.seed ^ (0x9e3779b97f4a7c15ULL * std::uint64_t(split + 1)));
    Split& d = splits[std::size_t(split)];
    d.hide.assign(std::size_t(hideable), 0);
    std::size_t c = 0;
    data.for_each_hideable([&](index_t i, index_t j, T v) {
      d.hide[c] = rng.uniform() < s.holdout;
      if (d.hide[c++]) d.hidden.push_back({i, j, v});
    });
  }
  RankSurvey out;
  for (int k : s.ranks) {
    Options opt = options;
    opt.rank = k;
    RankMeasures measures;
    measures.rank = k;
    const std::vector<Result<T>> runs = data.restarts(opt, s.restarts);
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

    for (int split = 0; split < s.splits; ++split) {
      const Split& d = splits[std::size_t(split)];
      const Result<T> r = data.fit_without(restart_options(opt, 0), d.hide);
      measures.holdout_errors.push_back(hidden_error(d.hidden, r, beta));
      if (s.on_fit) s.on_fit(k, s.restarts + split + 1, s.restarts + s.splits);
    }
    const double count = double(s.splits);
    double mean = 0, spread = 0;
    for (double e : measures.holdout_errors) mean += e / count;
    for (double e : measures.holdout_errors) spread += (e - mean) * (e - mean);
    measures.holdout_mean = mean;
    measures.holdout_standard_error =
        s.splits > 1 ? std::sqrt(spread / (count - 1)) / std::sqrt(count) : 0;
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
       << s.holdout << " of the " << data.hideable()
       << ") is within one standard error of the least, " << least->holdout_mean << " ± "
       << least->holdout_standard_error << " at rank " << least->rank;
  out.rule = rule.str();
  return out;
}

}  // namespace

template <class T>
RankSurvey survey_ranks(DenseView<const T> V, const Options& opt, const SurveyOptions& s) {
  return survey<T>(DenseData<T>{V, nullptr}, opt, s);
}

template <class T>
RankSurvey survey_ranks(DenseView<const T> V, MaskView observed, const Options& opt,
                        const SurveyOptions& s) {
  if (observed.rows != V.rows || observed.cols != V.cols)
    throw InvalidArgument("the mask of observed entries is " + std::to_string(observed.rows) +
                          "×" + std::to_string(observed.cols) + ", but V is " +
                          std::to_string(V.rows) + "×" + std::to_string(V.cols));
  return survey<T>(DenseData<T>{V, &observed}, opt, s);
}

template <class T, class I>
RankSurvey survey_ranks(CsrView<T, I> V, const Options& opt, const SurveyOptions& s) {
  return survey<T>(SparseData<T, I>{V}, opt, s);
}

template RankSurvey survey_ranks(DenseView<const float>, const Options&, const SurveyOptions&);
template RankSurvey survey_ranks(DenseView<const double>, const Options&, const SurveyOptions&);
template RankSurvey survey_ranks(DenseView<const float>, MaskView, const Options&,
                                 const SurveyOptions&);
template RankSurvey survey_ranks(DenseView<const double>, MaskView, const Options&,
                                 const SurveyOptions&);
template RankSurvey survey_ranks(CsrView<float, std::int32_t>, const Options&, const SurveyOptions&);
template RankSurvey survey_ranks(CsrView<float, std::int64_t>, const Options&, const SurveyOptions&);
template RankSurvey survey_ranks(CsrView<double, std::int32_t>, const Options&, const SurveyOptions&);
template RankSurvey survey_ranks(CsrView<double, std::int64_t>, const Options&, const SurveyOptions&);

}  // namespace nmfuse
