#include "audio/notes.hpp"

#include <algorithm>
#include <cmath>

namespace nmfuse::audio {

double peak_frequency(const Matrix<float>& W, int t, const Spectrogram& s) {
  index_t best = 1;  // bin 0 is the constant
  for (index_t b = 1; b < W.rows(); ++b)
    if (W(b, t) > W(best, t)) best = b;
  double offset = 0;
  if (best + 1 < W.rows()) {
    const double l = W(best - 1, t), c = W(best, t), r = W(best + 1, t);
    const double curvature = l - 2 * c + r;
    if (curvature < 0) offset = 0.5 * (l - r) / curvature;
  }
  return s.bin_frequency(double(best) + offset);
}

int nearest_note(double hz) { return int(std::lround(69 + 12 * std::log2(hz / 440.0))); }

std::string note_name(int midi) {
  static const char* names[] = {"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};
  return names[((midi % 12) + 12) % 12] + std::to_string(midi / 12 - 1);
}

std::vector<double> onsets(const Matrix<float>& H, int t, const Spectrogram& s, double threshold) {
  float top = 0;
  for (index_t f = 0; f < H.cols(); ++f) top = std::max(top, H(t, f));
  std::vector<double> times;
  bool on = false;
  for (index_t f = 0; f < H.cols(); ++f) {
    const bool above = H(t, f) > threshold * top;
    if (above && !on) times.push_back(s.frame_time(f));
    on = above;
  }
  return times;
}

}  // namespace nmfuse::audio
