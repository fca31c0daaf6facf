#include <algorithm>
#include <cmath>

#include "cli/commands.hpp"
#include "io/plots.hpp"

namespace nmfuse::cli {

int run_images(const io::ImageStack& images, const std::string& name, CommonFlags& f) {
  const Matrix<float>& V = images.pixels;
  const Result<float> r = factor_dense(V, name, f);
  const int k = int(r.W.cols());
  const std::string basis = join(f.out_dir, "basis.png");
  std::vector<std::string> parts;
  for (int t = 0; t < k; ++t) parts.push_back("part " + std::to_string(t));
  io::write_image_grid(basis, r.W, images.height, images.width,
                       int(std::ceil(std::sqrt(double(k)))), parts, "the parts (columns of W)");

  // The first images (up to 12) above their reconstructions W·h.
  const index_t shown = std::min<index_t>(12, V.cols()), pixels = V.rows();
  Matrix<float> pairs(pixels, 2 * shown, Layout::ColMajor);
  for (index_t j = 0; j < shown; ++j)
    for (index_t p = 0; p < pixels; ++p) {
      pairs(p, j) = V(p, j);
      float sum = 0;
      for (int t = 0; t < k; ++t) sum += r.W(p, t) * r.H(t, j);
      pairs(p, shown + j) = sum;
    }
  const std::string reconstructions = join(f.out_dir, "reconstructions.png");
  std::vector<std::string> titles;
  for (index_t j = 0; j < shown; ++j) titles.push_back("image " + std::to_string(j));
  for (index_t j = 0; j < shown; ++j) titles.push_back("W·h of " + std::to_string(j));
  io::write_image_grid(reconstructions, pairs, images.height, images.width, int(shown), titles,
                       "the first images (top) and their reconstructions W·h (below)");
  if (!f.quiet && !f.json)
    std::cout << "wrote " << join(f.out_dir, "W.npy") << ", H.npy, summary.json, " << basis
              << " (the " << k << " parts) and " << reconstructions << "\n";
  return kOk;
}

}  // namespace nmfuse::cli
