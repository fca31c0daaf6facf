// `nmfuse rank`: the rank survey of a matrix file (dense, with or without a mask, or
// sparse); writes rank.json (every measure per rank, the suggested rank and the rule
// that chose it), rank.png (the measures against the rank), and consensus_K.npy and
// .png (the consensus matrix at the suggested rank K, samples in dendrogram order, the
// order in rank.json).
#include <unistd.h>

#include "cli/commands.hpp"
#include "io/plots.hpp"

namespace nmfuse::cli {
namespace {

nlohmann::json measures_json(const RankMeasures& m) {
  return {{"rank", m.rank},
          {"losses", m.losses},
          {"best_restart", m.best_restart},
          {"holdout_errors", m.holdout_errors},
          {"holdout_mean", m.holdout_mean},
          {"holdout_standard_error", m.holdout_standard_error},
          {"cophenetic", m.consensus.cophenetic},
          {"dispersion", m.consensus.dispersion},
          {"silhouette", m.silhouette},  // NaN (null): rank 1 or a single restart
          {"order", m.consensus.order}};
}

// Runs survey_ranks through run(options) with a progress bar; `input` is what the
// summary says of V.
template <class RunSurvey>
int survey(RunSurvey&& run, nlohmann::json input, const SurveyOptions& given, CommonFlags& f) {
  SurveyOptions s = given;
  const bool terminal = ::isatty(STDOUT_FILENO) != 0;
  if (!f.quiet && !f.json) {
    const int fits = int(s.ranks.size()) * (s.restarts + s.splits);
    auto done = std::make_shared<int>(0);
    s.on_fit = [terminal, fits, done](int rank, int at_rank, int per_rank) {
      ++*done;
      std::cout << (terminal ? "\r" : "") << "rank " << rank << ": fit " << at_rank << "/"
                << per_rank << "  (" << *done << "/" << fits << " in all)"
                << (terminal && *done < fits ? "   " : "\n") << std::flush;
    };
  }
  const RankSurvey r = run(s);
  const std::string name = input["input"];
  nlohmann::json summary = input;
  summary.update({{"loss", to_string(f.opt.loss)},
                  {"beta", beta_of(f.opt)},
                  {"solver", to_string(resolved_solver(f.opt))},
                  {"restarts", s.restarts},
                  {"holdout", s.holdout},
                  {"splits", s.splits},
                  {"seed", f.opt.seed},
                  {"suggested_rank", r.suggested_rank},
                  {"rule", r.rule},
                  {"ranks", nlohmann::json::array()}});
  for (const RankMeasures& m : r.ranks) summary["ranks"].push_back(measures_json(m));
  std::filesystem::create_directories(f.out_dir);
  io::write_atomically(join(f.out_dir, "rank.json"), summary.dump(2) + "\n");
  const std::string consensus = "consensus_" + std::to_string(r.suggested_rank);
  for (const RankMeasures& m : r.ranks)
    if (m.rank == r.suggested_rank)
      write_consensus(join(f.out_dir, consensus), m.consensus, m.rank);
  io::write_rank_plot(join(f.out_dir, "rank.png"), r, "rank survey of " + name);
  if (f.json) {
    std::cout << summary.dump(2) << "\n";
  } else if (!f.quiet) {
    for (const RankMeasures& m : r.ranks)
      std::cout << "rank " << m.rank << ": held-out error " << m.holdout_mean << " ± "
                << m.holdout_standard_error << ", cophenetic " << m.consensus.cophenetic
                << ", dispersion " << m.consensus.dispersion << ", silhouette "
                << m.silhouette << "\n";
    std::cout << "suggested rank " << r.suggested_rank << ": " << r.rule << "\n"
              << "wrote rank.json, rank.png, " << consensus << ".npy and " << consensus
              << ".png in " << f.out_dir << "\n";
  }
  if (g_stop_signal != 0) throw Interrupted("interrupted: the survey's fits were cut short");
  return kOk;
}

}  // namespace

std::vector<int> parse_ranks(const std::string& text) {
  std::vector<int> ranks;
  auto bad = [&] {
    return InvalidArgument("--ranks " + text + ": expected FIRST:LAST or K,K,…");
  };
  try {
    const auto colon = text.find(':');
    if (colon != std::string::npos) {
      const int first = std::stoi(text.substr(0, colon)), last = std::stoi(text.substr(colon + 1));
      if (first > last) throw bad();
      for (int k = first; k <= last; ++k) ranks.push_back(k);
    } else {
      std::size_t at = 0;
      while (at <= text.size()) {
        const auto comma = text.find(',', at);
        ranks.push_back(std::stoi(text.substr(at, comma - at)));
        if (comma == std::string::npos) break;
        at = comma + 1;
      }
    }
  } catch (const std::logic_error&) {  // std::stoi's invalid_argument and out_of_range
    throw bad();
  }
  return ranks;
}

int run_rank(const std::string& input, Absent absent, const SurveyOptions& s, CommonFlags& f) {
  f.opt.interrupt = [] { return g_stop_signal != 0; };
  if (io::is_sparse_file(input)) {
    if (!f.mask_path.empty())
      throw InvalidArgument("--mask takes a dense V; for a sparse V, --absent unknown makes "
                            "its stored entries the observed ones");
    const io::SparseMatrix S = io::read_sparse(input);
    const nlohmann::json described = {{"input", input},
                                      {"shape", {S.rows, S.cols}},
                                      {"sparse", sparse_description(S, absent)}};
    int code = kOk;
    with_narrowed(S, [&](const auto& V) {
      code = survey([&](const SurveyOptions& o) { return survey_ranks(V.view(absent), f.opt, o); },
                    described, s, f);
    });
    return code;
  }
  const io::AnyMatrix V = io::read_matrix(input);
  return std::visit(
      [&](const auto& A) -> int {
        using T = typename std::decay_t<decltype(A)>::value_type;
        if constexpr (std::is_same_v<T, std::uint8_t>) {
          throw InvalidArgument(input + ": a uint8/bool matrix is a mask, not V");
        } else {
          const nlohmann::json described = {{"input", input}, {"shape", {A.rows(), A.cols()}}};
          if (f.mask_path.empty())
            return survey([&](const SurveyOptions& o) { return survey_ranks(A.view(), f.opt, o); },
                          described, s, f);
          const Matrix<std::uint8_t> mask = io::read_mask(f.mask_path);
          nlohmann::json with_mask = described;
          with_mask["mask"] = f.mask_path;
          return survey(
              [&](const SurveyOptions& o) { return survey_ranks(A.view(), mask.view(), f.opt, o); },
              with_mask, s, f);
        }
      },
      V);
}

}  // namespace nmfuse::cli
