#pragma once
// Plots with axes, tick labels, titles, legends and colour scales, drawn by PLplot
// through its cairo driver (Debian's libplplot-dev and plplot-driver-cairo) as PNG files,
// each written to a temporary file and renamed.
#include <string>

#include "nmfuse/consensus.hpp"
#include "nmfuse/rank_survey.hpp"

namespace nmfuse::io {

// rank.png: held-out error (± one standard error), cophenetic correlation, dispersion
// and component silhouette against the rank, one panel each, the suggested rank marked.
void write_rank_plot(const std::string& path, const RankSurvey& survey, const std::string& title);

// consensus_K.png: the consensus matrix with its samples in dendrogram order, and its
// colour scale from 0 (never together) to 1 (always together).
void write_consensus_plot(const std::string& path, const Consensus& c, int rank);

}  // namespace nmfuse::io
