#pragma once
// Plots with axes, tick labels, titles, legends and colour scales, drawn by PLplot
// through its cairo driver (Debian's libplplot-dev and plplot-driver-cairo) as PNG files,
// each written to a temporary file and renamed.
#include <string>
#include <vector>

#include "nmfuse/consensus.hpp"
#include "nmfuse/rank_survey.hpp"
#include "nmfuse/view.hpp"

namespace nmfuse::io {

// rank.png: held-out error (± one standard error), cophenetic correlation, dispersion
// and component silhouette against the rank, one panel each, the suggested rank marked.
void write_rank_plot(const std::string& path, const RankSurvey& survey, const std::string& title);

// consensus_K.png: the consensus matrix with its samples in dendrogram order, and its
// colour scale from 0 (never together) to 1 (always together).
void write_consensus_plot(const std::string& path, const Consensus& c, int rank);

// spectrogram.png of `nmfuse audio`: the magnitude spectrogram V (bins × columns, in dB
// below its peak, 60 dB of range) against time (the columns span `seconds`) and frequency
// (bin b at b·bin_hz, up to 4 kHz); to its right the templates W (bins × k) on the same
// frequency axis, each named (its note); below it the activations H (k × columns) on the
// same time axis, numbered and named; a colour scale.
struct SpectrogramPlot {
  const Matrix<float>& V;
  const Matrix<float>& W;
  const Matrix<float>& H;
  double seconds = 0, bin_hz = 0;
  std::vector<std::string> notes;  // one a component: its name
  std::string title;
};
void write_spectrogram_plot(const std::string& path, const SpectrogramPlot& p);

// The columns of A as images (height × width pixels each, stored row by row) in a grid
// of `columns` tiles, each scaled to its own maximum, dark on white, each titled
// (titles[t]: "part 3"), under one title: the parts of `images` and the swimmer demo.
void write_image_grid(const std::string& path, const Matrix<float>& A, int height, int width,
                      int columns, const std::vector<std::string>& titles,
                      const std::string& title);

// documents.png of `nmfuse topics`: each document's topic weights (its column of H over
// its sum) against the documents in input order, a row a topic labelled by `topics[t]`,
// with the colour scale of the weights.
void write_topic_weights_plot(const std::string& path, const Matrix<float>& H,
                              const std::vector<std::string>& topics, const std::string& title);

}  // namespace nmfuse::io
