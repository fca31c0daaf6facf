#include "swimmer.hpp"

namespace nmfuse::datasets {
namespace {

constexpr int kTorsoTop = 9, kTorsoBottom = 22;  // rows; columns 15 and 16
constexpr int kLimbLength = 5;

struct Limb {
  int row, col;                 // the joint the limb swings around (not drawn)
  std::array<int, 4> d_row, d_col;  // the four directions, one per position
};

// Arms hang from the shoulders, legs from the hips; the right side mirrors the left.
// Rays from one joint in distinct king-move directions never meet, and the joints are
// far enough apart that rays from different joints do not either.
constexpr std::array<Limb, 4> kLimbs = {{
    {kTorsoTop, 14, {-1, -1, 0, 1}, {0, -1, -1, -1}},      // left arm
    {kTorsoTop, 17, {-1, -1, 0, 1}, {0, 1, 1, 1}},         // right arm
    {kTorsoBottom, 15, {1, 1, 0, -1}, {0, -1, -1, -1}},    // left leg
    {kTorsoBottom, 16, {1, 1, 0, -1}, {0, 1, 1, 1}},       // right leg
}};

}  // namespace

std::vector<float> swimmer_part(int part) {
  std::vector<float> image(kSwimmerPixels, 0.0f);
  if (part == 0) {
    for (int r = kTorsoTop; r <= kTorsoBottom; ++r)
      for (int c = 15; c <= 16; ++c) image[r * kSwimmerSide + c] = 1;
    return image;
  }
  // Each limb position has its own grey level: with equal ones the set's symmetries
  // make singular values repeat, and an SVD-based start would depend on rounding.
  const float level = 0.5f + 0.03f * float(part);
  const Limb& limb = kLimbs[(part - 1) / 4];
  const int position = (part - 1) % 4;
  for (int step = 1; step <= kLimbLength; ++step) {
    const int r = limb.row + step * limb.d_row[position];
    const int c = limb.col + step * limb.d_col[position];
    image[r * kSwimmerSide + c] = level;
  }
  return image;
}

Matrix<float> swimmer() {
  std::vector<std::vector<float>> parts;
  for (int p = 0; p < kSwimmerParts; ++p) parts.push_back(swimmer_part(p));
  Matrix<float> V(kSwimmerPixels, kSwimmerImages, Layout::ColMajor);
  for (int j = 0; j < kSwimmerImages; ++j) {
    for (int i = 0; i < kSwimmerPixels; ++i) V(i, j) = parts[0][i];
    for (int limb = 0; limb < 4; ++limb) {
      const std::vector<float>& part = parts[1 + 4 * limb + ((j >> (2 * limb)) & 3)];
      for (int i = 0; i < kSwimmerPixels; ++i) V(i, j) += part[i];
    }
  }
  return V;
}

}  // namespace nmfuse::datasets
