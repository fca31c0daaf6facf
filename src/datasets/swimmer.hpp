#pragma once
// The swimmer set (Donoho & Stodden 2003): 256 stick figures of 32×32 pixels, a fixed
// torso and four limbs, each limb in one of four positions, every combination once.
// No two parts share a pixel. The 17 parts factor it exactly, though not uniquely: each
// limb's four positions sum to the all-ones row, so its linear rank is 13 and the torso
// can be shared out among a limb's positions.
#include <array>
#include <vector>

#include "nmfuse/view.hpp"

namespace nmfuse::datasets {

constexpr int kSwimmerSide = 32;
constexpr int kSwimmerPixels = kSwimmerSide * kSwimmerSide;
constexpr int kSwimmerImages = 256;
constexpr int kSwimmerParts = 17;

// One part as an image of kSwimmerPixels, pixels row by row: part 0 is the torso (1),
// part 1 + 4·limb + position is that limb in that position (a grey level of its own).
std::vector<float> swimmer_part(int part);

// pixels × images: column j is image j, limb l in position (j >> 2l) & 3.
Matrix<float> swimmer();

}  // namespace nmfuse::datasets
