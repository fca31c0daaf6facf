// The short-time Fourier transform and its inverse through FFTW (single precision).
#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "audio/sound.hpp"
#include "nmfuse/errors.hpp"

namespace nmfuse::audio {
namespace {

// The periodic Hann window, whose squares overlap-add to a constant at hop = frame/4.
std::vector<float> hann(int frame) {
  std::vector<float> w(static_cast<std::size_t>(frame));
  for (int i = 0; i < frame; ++i)
    w[std::size_t(i)] = float(0.5 - 0.5 * std::cos(2 * M_PI * i / frame));
  return w;
}

struct PlanDeleter {
  void operator()(fftwf_plan_s* p) const { fftwf_destroy_plan(p); }
};
using Plan = std::unique_ptr<fftwf_plan_s, PlanDeleter>;

}  // namespace

Matrix<float> Spectrogram::magnitude() const {
  Matrix<float> M(bins, frames, Layout::ColMajor);
  for (std::size_t e = 0; e < values.size(); ++e) M.data()[e] = std::abs(values[e]);
  return M;
}

Spectrogram stft(const Sound& sound, int frame, int hop) {
  if (frame < 16 || hop < 1 || hop > frame)
    throw InvalidArgument("STFT frame " + std::to_string(frame) + " and hop " +
                          std::to_string(hop) + ": need frame ≥ 16 and 1 ≤ hop ≤ frame");
  Spectrogram s;
  s.frame = frame;
  s.hop = hop;
  s.rate = sound.rate;
  s.samples = index_t(sound.samples.size());
  s.bins = frame / 2 + 1;
  s.frames = frame_count(s.samples, frame, hop);
  s.values.resize(std::size_t(s.bins * s.frames));
  const std::vector<float> w = hann(frame);
  std::vector<float> in(static_cast<std::size_t>(frame));
  std::vector<std::complex<float>> out(std::size_t(s.bins));
  const Plan plan(fftwf_plan_dft_r2c_1d(frame, in.data(),
                                        reinterpret_cast<fftwf_complex*>(out.data()),
                                        FFTW_ESTIMATE));
  for (index_t f = 0; f < s.frames; ++f) {
    for (int i = 0; i < frame; ++i) {
      const index_t t = f * hop + i;
      in[std::size_t(i)] = t < s.samples ? w[std::size_t(i)] * sound.samples[std::size_t(t)] : 0.0f;
    }
    fftwf_execute(plan.get());
    std::copy(out.begin(), out.end(), s.values.begin() + f * s.bins);
  }
  return s;
}

index_t frame_count(index_t samples, int frame, int hop) {
  return 1 + std::max<index_t>(0, (samples - frame + hop - 1) / hop);
}

Sound istft(const Spectrogram& s) {
  Sound sound;
  sound.rate = s.rate;
  sound.samples = InverseStft(s.frame, s.hop, s.samples).add(s, 0);
  return sound;
}

InverseStft::InverseStft(int frame, int hop, index_t samples)
    : frame_(frame), hop_(hop), samples_(samples) {}

// Each frame's inverse FFT, windowed, and the window's square are summed per sample
// (in double, in frame order); a sample is their quotient once every frame is in.
std::vector<float> InverseStft::add(const Spectrogram& piece, index_t first_frame) {
  const std::vector<float> w = hann(frame_);
  std::vector<std::complex<float>> in(std::size_t(piece.bins));
  std::vector<float> out(static_cast<std::size_t>(frame_));
  const Plan plan(fftwf_plan_dft_c2r_1d(frame_, reinterpret_cast<fftwf_complex*>(in.data()),
                                        out.data(), FFTW_ESTIMATE));
  const index_t reach = std::min(samples_, (first_frame + piece.frames - 1) * hop_ + frame_);
  sum_.resize(std::size_t(std::max<index_t>(reach - done_, index_t(sum_.size()))), 0.0);
  weight_.resize(sum_.size(), 0.0);
  for (index_t f = 0; f < piece.frames; ++f) {
    std::copy(piece.values.begin() + f * piece.bins, piece.values.begin() + (f + 1) * piece.bins,
              in.begin());
    fftwf_execute(plan.get());  // c2r overwrites `in`: it is refilled each frame
    const index_t start = (first_frame + f) * hop_;
    for (int i = 0; i < frame_ && start + i < samples_; ++i) {
      const std::size_t t = std::size_t(start + i - done_);
      sum_[t] += double(w[std::size_t(i)]) * out[std::size_t(i)] / frame_;
      weight_[t] += double(w[std::size_t(i)]) * w[std::size_t(i)];
    }
  }
  // Samples before the next frame's start are complete; after the last frame, all.
  const bool last = first_frame + piece.frames >= frame_count(samples_, frame_, hop_);
  const index_t ready = last ? samples_ : std::min(samples_, (first_frame + piece.frames) * hop_);
  std::vector<float> sound(std::size_t(ready - done_));
  for (std::size_t t = 0; t < sound.size(); ++t)
    sound[t] = weight_[t] > 1e-6 ? float(sum_[t] / weight_[t]) : 0.0f;
  sum_.erase(sum_.begin(), sum_.begin() + std::ptrdiff_t(sound.size()));
  weight_.erase(weight_.begin(), weight_.begin() + std::ptrdiff_t(sound.size()));
  done_ = ready;
  return sound;
}

}  // namespace nmfuse::audio
