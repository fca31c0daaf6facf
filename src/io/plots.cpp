#include "io/plots.hpp"

#include <plplot/plplot.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "nmfuse/errors.hpp"

namespace nmfuse::io {
namespace {

// Colour map 0 as the plots use it.
enum Colour { kBackground = 0, kInk = 1, kBlue = 2, kOrange = 3, kGreen = 4, kGrey = 5, kPurple = 6 };

// One PLplot stream drawing a PNG of width × height pixels into a temporary file;
// finish() renames it to `path`. A stream that is not finished leaves no file.
class Plot {
 public:
  Plot(const std::string& path, int width, int height)
      : path_(path), temporary_(path + ".tmp-plot") {
    require_png_driver();
    plmkstrm(&stream_);
    plsdev("pngcairo");
    plsfnam(temporary_.c_str());
    plspage(0, 0, width, height, 0, 0);
    plscmap0n(8);
    plscol0(kBackground, 255, 255, 255);
    plscol0(kInk, 0, 0, 0);
    plscol0(kBlue, 31, 119, 180);
    plscol0(kOrange, 255, 127, 14);
    plscol0(kGreen, 44, 160, 44);
    plscol0(kGrey, 150, 150, 150);
    plscol0(kPurple, 148, 103, 189);
    plinit();
    pladv(0);
    plcol0(kInk);
  }
  Plot(const Plot&) = delete;
  Plot& operator=(const Plot&) = delete;
  ~Plot() {
    if (!finished_) {
      plsstrm(stream_);
      plend1();
      std::error_code ignored;
      std::filesystem::remove(temporary_, ignored);
    }
  }

  void finish() {
    plsstrm(stream_);
    plend1();
    finished_ = true;
    std::error_code error;
    std::filesystem::rename(temporary_, path_, error);
    if (error || !std::filesystem::exists(path_))
      throw IoError(path_ + ": the plot could not be written" +
                    (error ? ": " + error.message() : std::string()));
  }

 private:
  static void require_png_driver() {
    std::vector<const char*> menu(128), names(128);
    const char** menu_data = menu.data();
    const char** name_data = names.data();
    int count = int(names.size());
    plgDevs(&menu_data, &name_data, &count);
    for (int i = 0; i < count; ++i)
      if (std::string(names[std::size_t(i)]) == "pngcairo") return;
    throw NotCompiled("PLplot has no pngcairo driver for the plots: install plplot-driver-cairo");
  }

  std::string path_, temporary_;
  PLINT stream_ = 0;
  bool finished_ = false;
};

// An image of nx × ny cells, cell (x, y) of colour at(x, y) in 0 … 1 of colour map 1,
// over [x0, x1] × [y0, y1] of the window. plimagefr takes its data as the corners of a
// grid and colours each cell by its first corner: one more row and column of corners,
// copies of the last, make it draw every cell.
template <class At>
void image(index_t nx, index_t ny, At at, double x0, double x1, double y0, double y1) {
  const index_t cx = nx + 1, cy = ny + 1;
  std::vector<double> corners(std::size_t(cx * cy));
  std::vector<const double*> columns(static_cast<std::size_t>(cx));
  for (index_t x = 0; x < cx; ++x) {
    for (index_t y = 0; y < cy; ++y)
      corners[std::size_t(x * cy + y)] = at(std::min(x, nx - 1), std::min(y, ny - 1));
    columns[std::size_t(x)] = corners.data() + x * cy;
  }
  plimagefr(columns.data(), PLINT(cx), PLINT(cy), x0, x1, y0, y1, 0, 1, 0, 1, nullptr, nullptr);
}

// Colour map 1 from white (0) to black (1): the pictures of factors.
void grey_map() {
  const PLFLT at[2] = {0, 1}, grey[2] = {1, 0};
  plscmap1n(256);
  plscmap1l(1, 2, at, grey, grey, grey, nullptr);
}

// A horizontal colour scale over the viewport [x0, x1] × [y0, y1]: colour map 1 from
// `low` to `high`, ticks every `step`, `label` below.
void colour_scale(double x0, double x1, double y0, double y1, double low, double high,
                  double step, const char* label) {
  plvpor(x0, x1, y0, y1);
  plwind(low, high, 0, 1);
  image(256, 1, [](index_t x, index_t) { return double(x) / 255; }, low, high, 0, 1);
  plcol0(kInk);
  plbox("bcnst", step, 2, "bc", 0, 0);
  plmtex("b", 3.0, 0.5, 0.5, label);
}

// A y range that shows the values and their bars, with a margin.
std::pair<double, double> y_range(const std::vector<double>& low, const std::vector<double>& high) {
  double lo = *std::min_element(low.begin(), low.end());
  double hi = *std::max_element(high.begin(), high.end());
  const double pad = hi > lo ? 0.08 * (hi - lo) : std::max(1e-3, 0.05 * std::fabs(hi));
  return {lo - pad, hi + pad};
}

// One panel: the values against the ranks (a subset of all_ranks, which the x axis
// spans), with bars where given, and the suggestion.
void panel(double top, double bottom, const std::vector<double>& all_ranks,
           const std::vector<double>& ranks, const std::vector<double>& values,
           const std::vector<double>& bar, Colour colour, const char* ylabel, double suggested,
           bool x_labels, const char* title) {
  std::vector<double> low(values), high(values);
  for (std::size_t i = 0; i < bar.size(); ++i) low[i] -= bar[i], high[i] += bar[i];
  const auto [ymin, ymax] = values.empty() ? std::pair<double, double>{0, 1} : y_range(low, high);
  plvpor(0.17, 0.95, bottom, top);
  plwind(all_ranks.front() - 0.5, all_ranks.back() + 0.5, ymin, ymax);
  plcol0(kInk);
  plbox(x_labels ? "bcnst" : "bcst", 1, 0, "bcnstv", 0, 0);
  if (x_labels) plmtex("b", 3.0, 0.5, 0.5, "rank");
  plmtex("l", 5.5, 0.5, 0.5, ylabel);
  if (title) plmtex("t", 1.5, 0.5, 0.5, title);
  plcol0(kGrey);
  pllsty(2);
  const double xs[2] = {suggested, suggested}, ys[2] = {ymin, ymax};
  plline(2, xs, ys);
  pllsty(1);
  plcol0(colour);
  plline(PLINT(ranks.size()), ranks.data(), values.data());
  plpoin(PLINT(ranks.size()), ranks.data(), values.data(), 17);
  if (!bar.empty()) plerry(PLINT(ranks.size()), ranks.data(), low.data(), high.data());
}

// The same where the values are at every rank.
void panel(double top, double bottom, const std::vector<double>& ranks,
           const std::vector<double>& values, const std::vector<double>& bar, Colour colour,
           const char* ylabel, double suggested, bool x_labels, const char* title) {
  panel(top, bottom, ranks, ranks, values, bar, colour, ylabel, suggested, x_labels, title);
}

}  // namespace

void write_rank_plot(const std::string& path, const RankSurvey& survey, const std::string& title) {
  std::vector<double> ranks, holdout, holdout_se, cophenetic, dispersion, silhouette_ranks,
      silhouette;
  for (const RankMeasures& m : survey.ranks) {
    ranks.push_back(m.rank);
    holdout.push_back(m.holdout_mean);
    holdout_se.push_back(m.holdout_standard_error);
    cophenetic.push_back(m.consensus.cophenetic);
    dispersion.push_back(m.consensus.dispersion);
    if (!std::isnan(m.silhouette)) {
      silhouette_ranks.push_back(m.rank);
      silhouette.push_back(m.silhouette);
    }
  }
  Plot plot(path, 900, 1250);
  const double k = survey.suggested_rank;
  panel(0.93, 0.75, ranks, holdout, holdout_se, kBlue, "held-out error", k, false, title.c_str());
  // The legend, inside the first panel: what the lines are.
  const PLINT options[2] = {PL_LEGEND_LINE, PL_LEGEND_LINE};
  const char* texts[2] = {"mean of the splits ± one standard error", nullptr};
  const std::string suggestion = "suggested rank " + std::to_string(survey.suggested_rank);
  texts[1] = suggestion.c_str();
  const PLINT text_colours[2] = {kInk, kInk}, line_colours[2] = {kBlue, kGrey};
  const PLINT line_styles[2] = {1, 2}, symbol_colours[2] = {kBlue, kGrey};
  const PLINT symbol_numbers[2] = {1, 0};
  const PLFLT line_widths[2] = {1, 1}, symbol_scales[2] = {1, 1};
  const char* symbols[2] = {"#(728)", ""};
  PLFLT width = 0, height = 0;
  pllegend(&width, &height, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
           PL_POSITION_TOP | PL_POSITION_RIGHT | PL_POSITION_INSIDE, 0.02, 0.04, 0.06,
           kBackground, kInk, 1, 2, 1, 2, options, 1.0, 0.75, 2.0, 0.0, text_colours, texts,
           nullptr, nullptr, nullptr, nullptr, line_colours, line_styles, line_widths,
           symbol_colours, symbol_scales, symbol_numbers, symbols);
  panel(0.70, 0.52, ranks, cophenetic, {}, kOrange, "cophenetic correlation", k, false, nullptr);
  panel(0.47, 0.29, ranks, dispersion, {}, kGreen, "dispersion", k, false, nullptr);
  if (!silhouette.empty())  // the same x range as the others, whatever ranks it has
    panel(0.24, 0.06, ranks, silhouette_ranks, silhouette, {}, kPurple,
          "component silhouette", k, true, nullptr);
  else
    panel(0.24, 0.06, ranks, {}, {}, {}, kGrey, "(no silhouette: one restart)", k, true,
          nullptr);
  plot.finish();
}

void write_consensus_plot(const std::string& path, const Consensus& c, int rank) {
  const index_t n = c.samples;
  Plot plot(path, 900, 820);
  // White for 0, dark blue for 1.
  const PLFLT at[2] = {0, 1}, red[2] = {1, 0.03}, green[2] = {1, 0.19}, blue[2] = {1, 0.42};
  plscmap1n(256);
  plscmap1l(1, 2, at, red, green, blue, nullptr);
  plvpor(0.1, 0.8, 0.1, 0.9);
  plwind(0, double(n), double(n), 0);  // the samples in order along x, and down along y
  image(n, n, [&](index_t x, index_t y) {
    return c(c.order[std::size_t(x)], c.order[std::size_t(y)]);
  }, 0, double(n), 0, double(n));
  plcol0(kInk);
  plbox("bcnst", 0, 0, "bcnstv", 0, 0);
  plmtex("b", 3.0, 0.5, 0.5, "samples, in dendrogram order");
  plmtex("l", 4.0, 0.5, 0.5, "samples, in dendrogram order");
  char title[160];
  std::snprintf(title, sizeof title,
                "consensus at rank %d: cophenetic correlation %.3f, dispersion %.3f", rank,
                c.cophenetic, c.dispersion);
  plmtex("t", 1.5, 0.5, 0.5, title);
  const PLINT label_options[1] = {PL_COLORBAR_LABEL_RIGHT};
  const char* labels[1] = {"share of runs that put the two samples together"};
  const char* axis_options[1] = {"bcvtm"};
  const PLFLT ticks[1] = {0.2};
  const PLINT sub_ticks[1] = {2}, counts[1] = {2};
  const PLFLT range[2] = {0, 1};
  const PLFLT* values[1] = {range};
  PLFLT width = 0, height = 0;
  plcolorbar(&width, &height, PL_COLORBAR_GRADIENT, PL_POSITION_RIGHT | PL_POSITION_OUTSIDE, 0.03,
             0, 0.04, 0.8, kBackground, kInk, 1, 0, 0, 0, 0, 1, label_options, labels, 1,
             axis_options, ticks, sub_ticks, counts, values);
  plot.finish();
}

void write_spectrogram_plot(const std::string& path, const SpectrogramPlot& p) {
  const index_t columns = p.V.cols(), k = p.W.cols();
  const double top_hz = std::min(4000.0, double(p.V.rows() - 1) * p.bin_hz);
  const index_t bins = std::min<index_t>(p.V.rows(), index_t(top_hz / p.bin_hz) + 1);
  float peak = 0;
  for (index_t b = 0; b < bins; ++b)
    for (index_t c = 0; c < columns; ++c) peak = std::max(peak, p.V(b, c));
  Plot plot(path, 1200, 900);
  grey_map();  // white (quiet) to black (loud)
  // The spectrogram, 60 dB of range below its peak.
  plvpor(0.13, 0.70, 0.38, 0.92);
  plwind(0, p.seconds, 0, top_hz);
  image(columns, bins, [&](index_t c, index_t b) {
    const double db = 20 * std::log10(std::max(1e-12, double(p.V(b, c)) / std::max(peak, 1e-30f)));
    return std::clamp(1 + db / 60, 0.0, 1.0);
  }, 0, p.seconds, 0, top_hz);
  plcol0(kInk);
  plbox("bcst", 0, 0, "bcnstv", 0, 0);
  plmtex("l", 4.6, 0.5, 0.5, "frequency (Hz)");
  plmtex("t", 1.5, 0.5, 0.5, p.title.c_str());
  // The templates, each scaled to its own peak, on the same frequency axis.
  plvpor(0.73, 0.97, 0.38, 0.92);
  plwind(0, double(k), 0, top_hz);
  std::vector<float> highest(static_cast<std::size_t>(k), 0.0f);
  for (index_t t = 0; t < k; ++t)
    for (index_t b = 0; b < bins; ++b)
      highest[std::size_t(t)] = std::max(highest[std::size_t(t)], p.W(b, t));
  image(k, bins, [&](index_t t, index_t b) {
    return highest[std::size_t(t)] > 0 ? double(p.W(b, t)) / highest[std::size_t(t)] : 0.0;
  }, 0, double(k), 0, top_hz);
  plcol0(kInk);
  plbox("bc", 1, 0, "bcst", 0, 0);
  for (index_t t = 0; t < k; ++t)  // its note, below it; the activations give its number too
    plmtex("b", 1.2, (double(t) + 0.5) / double(k), 0.5, p.notes[std::size_t(t)].c_str());
  plmtex("t", 1.5, 0.5, 0.5, "templates (W)");
  // The activations, each scaled to its own peak, on the spectrogram's time axis.
  plvpor(0.13, 0.70, 0.08, 0.32);
  plwind(0, p.seconds, 0, double(k));  // component 0 at the top
  std::vector<float> most(static_cast<std::size_t>(k), 0.0f);
  for (index_t t = 0; t < k; ++t)
    for (index_t c = 0; c < columns; ++c) most[std::size_t(t)] = std::max(most[std::size_t(t)], p.H(t, c));
  image(columns, k, [&](index_t c, index_t y) {
    const index_t t = k - 1 - y;
    return most[std::size_t(t)] > 0 ? double(p.H(t, c)) / most[std::size_t(t)] : 0.0;
  }, 0, p.seconds, 0, double(k));
  plcol0(kInk);
  plbox("bcnst", 0, 0, "bc", 0, 0);
  for (index_t t = 0; t < k; ++t)
    plmtex("lv", 0.8, 1 - (double(t) + 0.5) / double(k), 1.0,
           (std::to_string(t) + " " + p.notes[std::size_t(t)]).c_str());
  plmtex("b", 3.0, 0.5, 0.5, "time (s)");
  plmtex("t", 1.0, 0.5, 0.5, "activations (H)");
  colour_scale(0.76, 0.97, 0.22, 0.27, -60, 0, 20, "dB below the peak");
  plot.finish();
}

void write_image_grid(const std::string& path, const Matrix<float>& A, int height, int width,
                      int columns, const std::vector<std::string>& titles,
                      const std::string& title) {
  const int count = int(A.cols()), rows = (count + columns - 1) / columns;
  // Tiles of at least 120 pixels a side, the images' shape kept, and room for the titles.
  const double scale = std::max(1.0, 120.0 / std::max(height, width));
  const int tile_w = int(width * scale), tile_h = int(height * scale), gap = 34;
  const int page_w = columns * (tile_w + 12) + 24, page_h = rows * (tile_h + gap) + 60;
  Plot plot(path, page_w, page_h);
  grey_map();
  plschr(0, 0.7);
  for (int t = 0; t < count; ++t) {
    const int r = t / columns, c = t % columns;
    const double x0 = double(12 + c * (tile_w + 12)) / page_w;
    const double y1 = 1 - double(50 + r * (tile_h + gap) + gap - 14) / page_h;
    plvpor(x0, x0 + double(tile_w) / page_w, y1 - double(tile_h) / page_h, y1);
    plwind(0, width, height, 0);  // row 0 of the image at the top
    float most = 0;
    for (index_t p = 0; p < A.rows(); ++p) most = std::max(most, A(p, t));
    image(width, height, [&](index_t x, index_t y) {
      return most > 0 ? double(A(y * width + x, t)) / most : 0.0;
    }, 0, width, 0, height);
    plcol0(kInk);
    plbox("bc", 0, 0, "bc", 0, 0);
    plmtex("t", 0.6, 0.5, 0.5, titles[std::size_t(t)].c_str());
  }
  plschr(0, 1.0);
  plvpor(0, 1, 0, 1);
  plwind(0, 1, 0, 1);
  plmtex("t", -1.6, 0.5, 0.5, title.c_str());
  plot.finish();
}

void write_topic_weights_plot(const std::string& path, const Matrix<float>& H,
                              const std::vector<std::string>& topics, const std::string& title) {
  const index_t k = H.rows(), n = H.cols();
  std::vector<double> total(static_cast<std::size_t>(n), 0.0);
  for (index_t d = 0; d < n; ++d)
    for (index_t t = 0; t < k; ++t) total[std::size_t(d)] += H(t, d);
  Plot plot(path, 1200, std::max(500, int(220 + 34 * k)));
  grey_map();
  plvpor(0.24, 0.97, 0.40, 0.90);
  plwind(0, double(n), 0, double(k));  // topic 0 at the top
  image(n, k, [&](index_t d, index_t y) {
    const index_t t = k - 1 - y;
    return total[std::size_t(d)] > 0 ? H(t, d) / total[std::size_t(d)] : 0.0;
  }, 0, double(n), 0, double(k));
  plcol0(kInk);
  plbox("bcnst", 0, 0, "bc", 0, 0);
  plschr(0, 0.8);
  for (index_t t = 0; t < k; ++t)
    plmtex("lv", 0.8, 1 - (double(t) + 0.5) / double(k), 1.0, topics[std::size_t(t)].c_str());
  plschr(0, 1.0);
  plmtex("b", 3.0, 0.5, 0.5, "documents, in input order");
  plmtex("t", 1.5, 0.5, 0.5, title.c_str());
  colour_scale(0.62, 0.97, 0.15, 0.19, 0, 1, 0.2, "share of the document's words");
  plot.finish();
}

}  // namespace nmfuse::io
