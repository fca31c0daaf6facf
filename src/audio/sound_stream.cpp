// Long sounds a piece at a time: ranges of a file's samples through libsndfile's seek,
// the STFT of a range of frames, and WAV files written as the pieces come (the inverse
// STFT piece by piece is spectrogram.cpp's).
#include <sndfile.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "audio/sound.hpp"
#include "nmfuse/errors.hpp"

namespace nmfuse::audio {

SoundReader::SoundReader(const std::string& path) : path_(path) {
  SF_INFO info{};
  file_ = sf_open(path.c_str(), SFM_READ, &info);
  if (!file_) throw InvalidArgument(path + ": not a readable sound file: " + sf_strerror(nullptr));
  if (info.channels < 1 || info.samplerate < 1 || info.frames < 1 || !info.seekable) {
    sf_close(file_);
    throw InvalidArgument(path + ": sound of " + std::to_string(info.frames) + " frames, " +
                          std::to_string(info.channels) + " channels at " +
                          std::to_string(info.samplerate) + " Hz is empty or cannot be sought");
  }
  rate_ = info.samplerate, channels_ = info.channels, samples_ = index_t(info.frames);
}

SoundReader::~SoundReader() { sf_close(file_); }

std::vector<float> SoundReader::read(index_t first, index_t count) {
  count = std::clamp<index_t>(samples_ - first, 0, count);
  std::vector<float> mono(std::size_t(count), 0.0f);
  if (count == 0) return mono;
  if (sf_seek(file_, sf_count_t(first), SEEK_SET) < 0)
    throw IoError(path_ + ": cannot seek to sample " + std::to_string(first));
  std::vector<float> interleaved(std::size_t(count) * std::size_t(channels_));
  const sf_count_t got = sf_readf_float(file_, interleaved.data(), sf_count_t(count));
  if (got != sf_count_t(count))
    throw IoError(path_ + ": read " + std::to_string(got) + " of samples " +
                  std::to_string(first) + "…" + std::to_string(first + count - 1));
  for (index_t t = 0; t < count; ++t) {
    float sum = 0;
    for (int c = 0; c < channels_; ++c) sum += interleaved[std::size_t(t * channels_ + c)];
    mono[std::size_t(t)] = sum / float(channels_);
  }
  return mono;
}

// Frame f covers samples [f·hop, f·hop + frame): the piece's frames are those of the
// samples from first·hop on, which stft() numbers from 0 and pads past the end alike.
Spectrogram stft_frames(SoundReader& sound, int frame, int hop, index_t first, index_t count) {
  const index_t total = frame_count(sound.samples(), frame, hop);
  count = std::min(count, total - first);
  Sound piece;
  piece.rate = sound.rate();
  piece.samples = sound.read(first * hop, (count - 1) * hop + frame);
  Spectrogram s = stft(piece, frame, hop);
  s.values.resize(std::size_t(s.bins * count));  // the last piece: no frame past the sound's
  s.frames = count;
  s.samples = sound.samples();
  return s;
}

WavWriter::WavWriter(const std::string& path, int rate)
    : path_(path), temporary_(path + ".partial") {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  file_ = sf_open(temporary_.c_str(), SFM_WRITE, &info);
  if (!file_) throw IoError("cannot write " + temporary_ + ": " + sf_strerror(nullptr));
  sf_command(file_, SFC_SET_CLIPPING, nullptr, SF_TRUE);  // clipped, not wrapped
}

WavWriter::~WavWriter() {
  if (!file_) return;
  sf_close(file_);
  std::error_code ignored;
  std::filesystem::remove(temporary_, ignored);
}

void WavWriter::write(const std::vector<float>& samples) {
  if (sf_writef_float(file_, samples.data(), sf_count_t(samples.size())) != sf_count_t(samples.size()))
    throw IoError("cannot write the samples of " + path_ + ": " + sf_strerror(file_));
}

void WavWriter::finish() {
  const int closed = sf_close(file_);
  file_ = nullptr;
  std::error_code error;
  if (closed == 0) std::filesystem::rename(temporary_, path_, error);
  if (closed != 0 || error) {
    std::filesystem::remove(temporary_, error);
    throw IoError("cannot finish " + path_);
  }
}

}  // namespace nmfuse::audio
