// Online fitting (Model::fit_online) against scikit-learn's MiniBatchNMF on the same
// stream (sklearn_online_peer.py writes it and times the peer): for 1 … P passes in
// batches of the same size, nmfuse's time, columns per second and loss D(V | W·H) over
// all of V (H from transform, as for the peer), and the passes nmfuse needs to reach
// the peer's loss after its P passes. The model beside it: a pass reads V once per
// inner iteration of each batch's H solve, 4·m·b·k flops a batch and iteration.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "bench_files.hpp"
#include "nmfuse/nmfuse.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Run {
  double seconds = 0, loss = 0;
  int steps = 0;
};

Run fit(const nmfuse::Matrix<float>& V, nmfuse::Options opt) {
  const auto start = Clock::now();
  nmfuse::Model<float> model(opt);
  const nmfuse::OnlineInfo info = model.fit_online(V.view());
  Run r;
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.steps = info.steps;
  const nmfuse::Matrix<float> H = model.transform(V.view());
  opt.init = nmfuse::Init::Custom;
  opt.max_iter = 0;
  r.loss = nmfuse::factorize(V.view(), opt, model.W().view(), H.view()).loss_history[0];
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fit_online beside scikit-learn's MiniBatchNMF"};
  std::string dir;
  app.add_option("dir", dir, "what sklearn_online_peer.py wrote")->required();
  CLI11_PARSE(app, argc, argv);
  const nmfuse::Matrix<float> V = load_float(dir + "/V.npy");
  nlohmann::json peer;
  std::ifstream(dir + "/sklearn_online.json") >> peer;
  const int k = peer["rank"], batch = peer["batch"];
  const double m = double(V.rows()), n = double(V.cols());
  std::printf("stream %lld×%lld float32 (columns are samples), rank %d, batches of %d, CPU (%s)\n",
              (long long)V.rows(), (long long)V.cols(), k, batch,
              nmfuse::build_info().blas_kernels.c_str());
  std::printf("%-10s %-26s %8s %10s %12s %14s\n", "loss", "run", "passes", "seconds",
              "columns/s", "D(V|WH)");
  for (auto [name, loss] : {std::pair{"frobenius", nmfuse::Loss::Frobenius},
                            std::pair{"kl", nmfuse::Loss::KullbackLeibler}}) {
    const auto& p = peer["runs"][name];
    const int passes = p["passes"];
    const double peer_loss = p["loss"];
    std::printf("%-10s %-26s %8d %10.3f %12.0f %14.6g\n", name, "scikit-learn MiniBatchNMF",
                passes, double(p["seconds"]), double(p["columns_per_second"]), peer_loss);
    nmfuse::Options opt;
    opt.rank = k;
    opt.loss = loss;
    opt.device = nmfuse::Device::Cpu;
    opt.batch_size = batch;
    opt.max_no_improvement = 0;  // as the peer: only the passes stop it (or W at rest)
    const double steps_per_pass = std::ceil(n / batch);
    int reached = 0;
    for (int q = 1; q <= passes; ++q) {
      opt.max_passes = q;
      const Run r = fit(V, opt);
      std::printf("%-10s %-26s %8d %10.3f %12.0f %14.6g%s\n", name, "nmfuse fit_online", q,
                  r.seconds, n * (r.steps / steps_per_pass) / r.seconds, r.loss,
                  !reached && r.loss <= peer_loss ? "  ← reaches the peer's loss" : "");
      if (!reached && r.loss <= peer_loss) reached = q;
    }
    std::printf("%-10s model: a batch's inner iteration is 4·m·b·k = %.3g flop\n", name,
                4 * m * batch * k);
  }
  return 0;
}
