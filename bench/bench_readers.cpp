// The file readers' speed beside scipy's and numpy's on the same files (from
// sklearn_whole_run_peer.py's peers.json): Matrix Market (wordnet.mtx), CSV (dense.csv)
// and, when given, a .npy; each the best of 10, the file already in the page cache.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>

#include "io/atomic_file.hpp"
#include "io/matrix_files.hpp"
#include "io/sparse_files.hpp"

namespace {

double best_seconds(const std::function<void()>& f) {
  double best = 1e30;
  for (int r = 0; r < 10; ++r) {
    const auto t = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"nmfuse's file readers beside scipy's and numpy's"};
  std::string dir, npy;
  app.add_option("DIR", dir, "folder with wordnet.mtx, dense.csv and peers.json")->required();
  app.add_option("--npy", npy, "a .npy file to time as well");
  CLI11_PARSE(app, argc, argv);
  const nlohmann::json peers = nlohmann::json::parse(nmfuse::io::read_file(dir + "/peers.json"));

  std::printf("%-28s %10s %10s %12s %22s\n", "reader", "MB", "seconds", "MB/s", "peer MB/s");
  auto row = [](const char* name, double bytes, double seconds, const char* peer, double peer_rate) {
    std::printf("%-28s %10.1f %10.4f %12.1f %14.1f %s\n", name, bytes / 1e6, seconds,
                bytes / seconds / 1e6, peer_rate, peer);
  };
  const std::string mtx = dir + "/wordnet.mtx", csv = dir + "/dense.csv";
  const std::string mtx_text = nmfuse::io::read_file(mtx), csv_text = nmfuse::io::read_file(csv);
  const double read_mtx = best_seconds([&] { nmfuse::io::read_file(mtx); });
  row("read the .mtx file", double(mtx_text.size()), read_mtx, "", 0);
  const double parse_mtx = best_seconds([&] { nmfuse::io::parse_matrix_market(mtx_text, mtx); });
  row("Matrix Market: parse to CSR", double(mtx_text.size()), parse_mtx, "scipy.io.mmread",
      peers["mmread"]["MB_per_s"]);
  const double whole_mtx = best_seconds([&] { nmfuse::io::read_sparse(mtx); });
  row("Matrix Market: read_sparse", double(mtx_text.size()), whole_mtx, "scipy.io.mmread",
      peers["mmread"]["MB_per_s"]);
  const double parse_csv = best_seconds([&] { nmfuse::io::parse_csv(csv_text, csv); });
  row("CSV: parse", double(csv_text.size()), parse_csv, "numpy.loadtxt",
      peers["loadtxt"]["MB_per_s"]);
  if (!npy.empty()) {
    const double bytes = double(nmfuse::io::read_file(npy).size());
    row(".npy: read_matrix", bytes, best_seconds([&] { nmfuse::io::read_matrix(npy); }), "", 0);
  }
  return 0;
}
