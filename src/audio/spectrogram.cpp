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
  s.frames = 1 + std::max<index_t>(0, (s.samples - frame + hop - 1) / hop);
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

Sound istft(const Spectrogram& s) {
  const int frame = s.frame;
  const std::vector<float> w = hann(frame);
  std::vector<std::complex<float>> in(std::size_t(s.bins));
  std::vector<float> out(static_cast<std::size_t>(frame));
  const Plan plan(fftwf_plan_dft_c2r_1d(frame, reinterpret_cast<fftwf_complex*>(in.data()),
                                        out.data(), FFTW_ESTIMATE));
  std::vector<double> sum(std::size_t(s.samples), 0.0), weight(std::size_t(s.samples), 0.0);
  for (index_t f = 0; f < s.frames; ++f) {
    std::copy(s.values.begin() + f * s.bins, s.values.begin() + (f + 1) * s.bins, in.begin());
    fftwf_execute(plan.get());  // c2r overwrites `in`: it is refilled each frame
    for (int i = 0; i < frame; ++i) {
      const index_t t = f * s.hop + i;
      if (t >= s.samples) break;
      sum[std::size_t(t)] += double(w[std::size_t(i)]) * out[std::size_t(i)] / frame;
      weight[std::size_t(t)] += double(w[std::size_t(i)]) * w[std::size_t(i)];
    }
  }
  Sound sound;
  sound.rate = s.rate;
  sound.samples.resize(std::size_t(s.samples));
  for (std::size_t t = 0; t < sum.size(); ++t)
    sound.samples[t] = weight[t] > 1e-6 ? float(sum[t] / weight[t]) : 0.0f;
  return sound;
}

}  // namespace nmfuse::audio
