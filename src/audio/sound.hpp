#pragma once
// Sound for `nmfuse audio`: files through libsndfile (WAV, FLAC, OGG, ... mixed down to
// mono), the short-time Fourier transform through FFTW, and melodies written as MIDI
// and rendered by FluidSynth.
#include <complex>
#include <string>
#include <vector>

#include "nmfuse/view.hpp"

namespace nmfuse::audio {

struct Sound {
  int rate = 0;                // samples per second
  std::vector<float> samples;  // mono
};

Sound read_sound(const std::string& path);
// 16-bit PCM WAV, written atomically.
void write_wav(const std::string& path, const Sound& sound);

// A Hann-windowed STFT: `frame` samples a column, `hop` apart; bins 0..frame/2.
struct Spectrogram {
  int frame = 0, hop = 0, rate = 0;
  index_t samples = 0;                            // of the sound it came from
  index_t bins = 0, frames = 0;
  std::vector<std::complex<float>> values;        // bins × frames, column-major
  Matrix<float> magnitude() const;                // bins × frames, column-major
  double bin_frequency(double bin) const { return bin * rate / frame; }
  double frame_time(index_t f) const { return double(f) * hop / rate; }
};

Spectrogram stft(const Sound& sound, int frame, int hop);
// The inverse by weighted overlap-add, `samples` long.
Sound istft(const Spectrogram& s);

// The frames stft() makes of `samples` samples.
index_t frame_count(index_t samples, int frame, int hop);

// Long sounds a piece at a time (`nmfuse audio --batch-size`): memory holds a piece.
// A sound file read by ranges of its samples, mixed down to mono.
class SoundReader {
 public:
  explicit SoundReader(const std::string& path);  // InvalidArgument if it is no sound
  ~SoundReader();
  SoundReader(const SoundReader&) = delete;
  SoundReader& operator=(const SoundReader&) = delete;
  int rate() const { return rate_; }
  index_t samples() const { return samples_; }
  // Samples [first, first + count) (fewer at the end).
  std::vector<float> read(index_t first, index_t count);

 private:
  struct sf_private_tag* file_ = nullptr;  // libsndfile's SNDFILE
  std::string path_;
  int rate_ = 0, channels_ = 0;
  index_t samples_ = 0;
};

// Frames [first, first + count) of the whole sound's stft(), exactly: `samples` and
// `frames` of the result are the whole sound's sample count and `count`.
Spectrogram stft_frames(SoundReader& sound, int frame, int hop, index_t first, index_t count);

// istft() a piece at a time: add() the pieces in order; each returns the samples that
// no later frame reaches, the last piece the rest. Equal to istft() of the whole.
class InverseStft {
 public:
  InverseStft(int frame, int hop, index_t samples);
  std::vector<float> add(const Spectrogram& piece, index_t first_frame);

 private:
  int frame_, hop_;
  index_t samples_, done_ = 0;       // samples handed out so far
  std::vector<double> sum_, weight_;  // from sample done_ on
};

// A 16-bit PCM WAV written a piece at a time, into a temporary file renamed at finish().
class WavWriter {
 public:
  WavWriter(const std::string& path, int rate);
  ~WavWriter();  // unfinished: the temporary file is removed
  WavWriter(const WavWriter&) = delete;
  WavWriter& operator=(const WavWriter&) = delete;
  void write(const std::vector<float>& samples);
  void finish();

 private:
  struct sf_private_tag* file_ = nullptr;  // libsndfile's SNDFILE
  std::string path_, temporary_;
};

// A melody as MIDI bytes (format 0, one track) and its rendering by FluidSynth with a
// General MIDI sound font.
struct Note {
  int pitch;      // MIDI note number: 60 is middle C
  double start;   // seconds
  double length;  // seconds
};
std::string midi_file(const std::vector<Note>& notes, int program);
// Rendered until the last note has rung out for half a second.
Sound render_midi(const std::string& midi, const std::string& sound_font, int rate);

// Where Debian's fluid-soundfont-gm puts its General MIDI sound font; General MIDI's
// flute, whose partials are weak beside the fundamental.
constexpr const char* kSoundFont = "/usr/share/sounds/sf2/FluidR3_GM.sf2";
constexpr int kFlute = 73;

// The music demo's tune: four pitches (C5, E5, G5, C6) in 16 notes 0.3 s apart.
const std::vector<Note>& demo_melody();

}  // namespace nmfuse::audio
