#include <filesystem>

#include "cli/commands.hpp"
#include "cli/run.hpp"
#include "datasets/swimmer.hpp"
#include "io/plots.hpp"

namespace nmfuse::cli {
namespace {

// Where Debian's dataset-fashion-mnist puts the 10000 test images.
constexpr const char* kFashionImages = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";

// Where Debian's fortunes puts its categories, a file of %-separated records each.
constexpr const char* kFortunes = "/usr/share/games/fortunes";

int demo_swimmer(CommonFlags& f, const CLI::App& given) {
  using namespace datasets;
  // Plain HALS from NNDSVD: more sweeps per product merge limbs here.
  if (!given.count("--init")) f.opt.init = Init::NNDSVD;
  if (!given.count("--hals-inner-max")) f.opt.hals_inner_max = 1;
  if (!given.count("--max-iter")) f.opt.max_iter = 500;
  if (!given.count("--tol")) f.opt.tol = 1e-6;
  if (f.opt.rank == 0) f.opt.rank = kSwimmerParts;
  const Matrix<float> V = swimmer();
  const Result<float> r = factor_dense(V, "swimmer (generated)", f);
  const std::string picture = join(f.out_dir, "parts.png");
  std::vector<std::string> titles;
  for (int t = 0; t < int(r.W.cols()); ++t) titles.push_back("part " + std::to_string(t));
  io::write_image_grid(picture, r.W, kSwimmerSide, kSwimmerSide, 6, titles,
                       "the swimmer's parts (columns of W)");
  if (!f.quiet && !f.json)
    std::cout << "wrote " << join(f.out_dir, "W.npy") << ", H.npy, summary.json and " << picture
              << " (the " << f.opt.rank << " learned parts)\n";
  return kOk;
}

// Parts of clothes: Fashion-MNIST's first 2000 test images at rank 16.
int demo_fashion(CommonFlags& f) {
  if (f.opt.rank == 0) f.opt.rank = 16;
  if (f.image_limit == 0) f.image_limit = 2000;
  const std::string path = shipped(kFashionImages, "dataset-fashion-mnist", "fashion");
  return run_images(io::read_images(path, f.image_limit), path, f);
}

// Topics of four categories of Debian's fortunes, one topic each.
int demo_text(CommonFlags& f, const CLI::App& given) {
  if (f.opt.rank == 0) f.opt.rank = 4;
  if (!given.count("--max-iter")) f.opt.max_iter = 300;
  std::vector<std::string> files;
  for (const char* category : {"food", "startrek", "sports", "love"})
    files.push_back(shipped(std::string(kFortunes) + "/" + category, "fortunes", "text"));
  return run_topics(files, {}, 10, f, given);
}

}  // namespace

int run_demo(const std::string& name, CommonFlags& f, const CLI::App& given) {
  if (f.out_dir.empty()) f.out_dir = "nmfuse-" + name;
  if (name == "swimmer") return demo_swimmer(f, given);
  if (name == "fashion") return demo_fashion(f);
  if (name == "text") return demo_text(f, given);
  if (name == "music") return demo_music(f, given);
  throw InvalidArgument("no demo called " + name);
}

}  // namespace nmfuse::cli
