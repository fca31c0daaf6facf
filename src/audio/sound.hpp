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
