// Sound: the STFT and its inverse, WAV files, MIDI, and the music demo's ground truth:
// a rendered melody's pitches and note onsets come back out of the factorization.
#include <gmock/gmock.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "audio/notes.hpp"
#include "audio/sound.hpp"
#include "helpers.hpp"

namespace {

using namespace testing_nmf;
namespace audio = nmfuse::audio;

audio::Sound tone(double hz, double seconds, int rate) {
  audio::Sound s;
  s.rate = rate;
  for (int i = 0; i < int(seconds * rate); ++i)
    s.samples.push_back(float(0.5 * std::sin(2 * M_PI * hz * i / rate)));
  return s;
}

// Overlap-add of Hann windows at a quarter hop: exact up to float rounding away from
// the first and last frame's edges.
TEST(Audio, StftThenInverseGivesTheSoundBack) {
  const audio::Sound s = tone(440, 1.0, 22050);
  const audio::Sound back = audio::istft(audio::stft(s, 1024, 256));
  ASSERT_EQ(back.samples.size(), s.samples.size());
  double worst = 0;
  for (std::size_t t = 1024; t + 1024 < s.samples.size(); ++t)
    worst = std::max(worst, std::fabs(double(back.samples[t]) - s.samples[t]));
  EXPECT_LT(worst, 1e-5);
}

TEST(Audio, SpectrogramPeaksAtTheTone) {
  const audio::Spectrogram s = audio::stft(tone(523.25, 0.5, 22050), 2048, 512);
  const nmfuse::Matrix<float> V = s.magnitude();
  nmfuse::Matrix<float> column(V.rows(), 1, Layout::ColMajor);
  for (index_t b = 0; b < V.rows(); ++b) column(b, 0) = V(b, 3);
  EXPECT_EQ(audio::nearest_note(audio::peak_frequency(column, 0, s)), 72);
  EXPECT_EQ(audio::note_name(72), "C5");
  EXPECT_EQ(audio::note_name(61), "C#4");
}

TEST(Audio, WavFilesKeepTheSamples) {
  const audio::Sound s = tone(330, 0.2, 16000);
  const std::string path = (std::filesystem::temp_directory_path() / "nmfuse_tone.wav").string();
  audio::write_wav(path, s);
  const audio::Sound back = audio::read_sound(path);
  std::filesystem::remove(path);
  EXPECT_EQ(back.rate, 16000);
  ASSERT_EQ(back.samples.size(), s.samples.size());
  for (std::size_t t = 0; t < s.samples.size(); ++t)
    ASSERT_NEAR(back.samples[t], s.samples[t], 1.0 / 32768);  // 16-bit PCM
  EXPECT_THROW(audio::read_sound("/nonexistent.wav"), nmfuse::InvalidArgument);
}

// A long sound a piece at a time (nmfuse audio --batch-size): each piece's frames are
// the whole STFT's, bit for bit, and the pieces' inverse the whole inverse's, whatever
// the piece length (one frame, a few, more than the sound has); the WAV written piece
// by piece holds the same samples.
TEST(Audio, PiecesOfTheStftAndItsInverseAreTheWholes) {
  audio::Sound s = tone(440, 0.7, 8000);
  for (std::size_t t = 0; t < s.samples.size(); ++t) s.samples[t] += float(0.1 * std::sin(0.37 * t));
  const auto dir = std::filesystem::temp_directory_path();
  const std::string path = (dir / "nmfuse_pieces.wav").string();
  audio::write_wav(path, s);
  const audio::Sound stored = audio::read_sound(path);
  const int frame = 512, hop = 128;
  const audio::Spectrogram whole = audio::stft(stored, frame, hop);
  const audio::Sound inverse = audio::istft(whole);
  audio::SoundReader reader(path);
  ASSERT_EQ(reader.samples(), index_t(stored.samples.size()));
  ASSERT_EQ(audio::frame_count(reader.samples(), frame, hop), whole.frames);
  for (index_t piece : {index_t(1), index_t(7), index_t(16), whole.frames + 5}) {
    SCOPED_TRACE("pieces of " + std::to_string(piece) + " frames");
    audio::InverseStft pieces(frame, hop, reader.samples());
    std::vector<float> back;
    const std::string out = (dir / "nmfuse_pieces_out.wav").string();
    audio::WavWriter wav(out, reader.rate());
    for (index_t first = 0; first < whole.frames; first += piece) {
      const audio::Spectrogram p = audio::stft_frames(reader, frame, hop, first, piece);
      ASSERT_EQ(p.frames, std::min(piece, whole.frames - first));
      for (std::size_t e = 0; e < p.values.size(); ++e)
        ASSERT_EQ(p.values[e], whole.values[std::size_t(first * whole.bins) + e]) << "entry " << e;
      const std::vector<float> ready = pieces.add(p, first);
      back.insert(back.end(), ready.begin(), ready.end());
      wav.write(ready);
    }
    wav.finish();
    EXPECT_EQ(back, inverse.samples);
    const audio::Sound written = audio::read_sound(out);
    ASSERT_EQ(written.samples.size(), inverse.samples.size());
    for (std::size_t t = 0; t < written.samples.size(); ++t)
      ASSERT_NEAR(written.samples[t], inverse.samples[t], 1.0 / 32768);  // 16-bit PCM
    std::filesystem::remove(out);
  }
  std::filesystem::remove(path);
  EXPECT_THROW(audio::SoundReader("/nonexistent.wav"), nmfuse::InvalidArgument);
}

TEST(Audio, MidiFileHasTheNotes) {
  const std::string midi = audio::midi_file({{60, 0, 0.5}, {64, 0.5, 0.5}}, 0);
  EXPECT_EQ(midi.substr(0, 4), "MThd");
  EXPECT_EQ(midi.substr(14, 4), "MTrk");
  EXPECT_EQ(std::count(midi.begin(), midi.end(), char(0x90)), 2);  // two note-ons
  EXPECT_EQ(std::count(midi.begin(), midi.end(), char(0x80)), 2);  // two note-offs
}

// The music demo's melody (C5, E5, G5, C6 in 16 notes), rendered by FluidSynth and
// factored by KL at rank 4: each pitch is found by exactly one template whose spectral
// peak is at that note, and that template's activation starts exactly at the pitch's
// notes (within 50 ms: two hops).
TEST(Audio, RenderedMelodyGivesOneTemplatePerNoteAndItsOnsets) {
  if (!std::filesystem::exists(audio::kSoundFont))
    GTEST_SKIP() << "Debian's fluid-soundfont-gm is not installed (sudo apt install fluid-soundfont-gm)";
  const auto& melody = audio::demo_melody();
  const audio::Sound sound = audio::render_midi(audio::midi_file(melody, audio::kFlute),
                                                audio::kSoundFont, 22050);
  const audio::Spectrogram s = audio::stft(sound, 2048, 512);
  nmfuse::Options opt = cpu_options(4);
  opt.loss = nmfuse::Loss::KullbackLeibler;
  opt.max_iter = 500;
  const auto r = nmfuse::factorize(s.magnitude().view(), opt);

  std::map<int, std::vector<double>> truth;
  for (const auto& n : melody) truth[n.pitch].push_back(n.start);
  std::set<int> found;
  for (int t = 0; t < 4; ++t) {
    const int note = audio::nearest_note(audio::peak_frequency(r.W, t, s));
    ASSERT_TRUE(truth.count(note)) << "template " << t << " peaks at note " << note;
    EXPECT_TRUE(found.insert(note).second) << "note " << note << " found twice";
    const std::vector<double> starts = audio::onsets(r.H, t, s);
    ASSERT_EQ(starts.size(), truth[note].size()) << "onsets of note " << note;
    for (std::size_t i = 0; i < starts.size(); ++i)
      EXPECT_NEAR(starts[i], truth[note][i], 0.05) << "onset " << i << " of note " << note;
  }
}

}  // namespace
