// Sound files through libsndfile; writing goes through its virtual I/O into memory so
// that the file lands atomically.
#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "audio/sound.hpp"
#include "io/atomic_file.hpp"
#include "nmfuse/errors.hpp"

namespace nmfuse::audio {
namespace {

// A growing byte buffer with libsndfile's virtual I/O callbacks.
struct MemoryFile {
  std::string bytes;
  sf_count_t at = 0;
};

sf_count_t length(void* user) { return sf_count_t(static_cast<MemoryFile*>(user)->bytes.size()); }
sf_count_t seek(sf_count_t offset, int whence, void* user) {
  auto* m = static_cast<MemoryFile*>(user);
  const sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->at : sf_count_t(m->bytes.size());
  m->at = std::max<sf_count_t>(0, base + offset);
  return m->at;
}
sf_count_t read(void* out, sf_count_t count, void* user) {
  auto* m = static_cast<MemoryFile*>(user);
  const sf_count_t n = std::clamp<sf_count_t>(sf_count_t(m->bytes.size()) - m->at, 0, count);
  std::memcpy(out, m->bytes.data() + m->at, std::size_t(n));
  m->at += n;
  return n;
}
sf_count_t write(const void* in, sf_count_t count, void* user) {
  auto* m = static_cast<MemoryFile*>(user);
  if (std::size_t(m->at + count) > m->bytes.size()) m->bytes.resize(std::size_t(m->at + count));
  std::memcpy(m->bytes.data() + m->at, in, std::size_t(count));
  m->at += count;
  return count;
}
sf_count_t tell(void* user) { return static_cast<MemoryFile*>(user)->at; }

}  // namespace

Sound read_sound(const std::string& path) {
  SF_INFO info{};
  SNDFILE* file = sf_open(path.c_str(), SFM_READ, &info);
  if (!file) throw InvalidArgument(path + ": not a readable sound file: " + sf_strerror(nullptr));
  constexpr sf_count_t kMaxFrames = sf_count_t(1) << 31;
  if (info.channels < 1 || info.samplerate < 1 || info.frames < 1 || info.frames > kMaxFrames) {
    sf_close(file);
    throw InvalidArgument(path + ": sound of " + std::to_string(info.frames) + " frames, " +
                          std::to_string(info.channels) + " channels at " +
                          std::to_string(info.samplerate) + " Hz is empty or too long");
  }
  std::vector<float> interleaved(std::size_t(info.frames) * std::size_t(info.channels));
  const sf_count_t got = sf_readf_float(file, interleaved.data(), info.frames);
  sf_close(file);
  Sound s;
  s.rate = info.samplerate;
  s.samples.assign(std::size_t(got), 0.0f);
  for (sf_count_t f = 0; f < got; ++f) {
    float sum = 0;
    for (int c = 0; c < info.channels; ++c) sum += interleaved[std::size_t(f) * info.channels + c];
    s.samples[std::size_t(f)] = sum / float(info.channels);
  }
  if (s.samples.empty()) throw InvalidArgument(path + ": the sound file holds no samples");
  return s;
}

void write_wav(const std::string& path, const Sound& sound) {
  MemoryFile memory;
  SF_VIRTUAL_IO io{length, seek, read, write, tell};
  SF_INFO info{};
  info.samplerate = sound.rate;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* file = sf_open_virtual(&io, SFM_WRITE, &info, &memory);
  if (!file) throw IoError("cannot make a WAV file: " + std::string(sf_strerror(nullptr)));
  // Peaks above full scale are clipped, not wrapped.
  sf_command(file, SFC_SET_CLIPPING, nullptr, SF_TRUE);
  const sf_count_t n = sf_writef_float(file, sound.samples.data(), sf_count_t(sound.samples.size()));
  sf_close(file);
  if (n != sf_count_t(sound.samples.size())) throw IoError("cannot write the samples of " + path);
  io::write_atomically(path, memory.bytes);
}

}  // namespace nmfuse::audio
