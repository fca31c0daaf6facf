// `nmfuse audio` and the music demo: NMF of a magnitude spectrogram into note templates
// (columns of W) and their activations (rows of H), each component resynthesized by
// Wiener masking.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>

#include "cli/commands.hpp"
#ifdef NMFUSE_HAVE_AUDIO
#include "audio/notes.hpp"
#include "audio/sound.hpp"
#include "io/plots.hpp"
#endif

namespace nmfuse::cli {

#ifdef NMFUSE_HAVE_AUDIO
namespace {

// A frame of about 93 ms (2048 samples at 22.05 kHz), a power of two; a quarter hop.
int frame_for(int rate) {
  int frame = 256;
  while (frame < 0.09 * rate) frame *= 2;
  return frame;
}

// V and H as the picture shows them: at most 1000 columns, each the maximum over `step`
// frames, filled batch by batch.
struct Thumbnail {
  index_t step;
  Matrix<float> V, H;
  Thumbnail(index_t bins, int k, index_t frames)
      : step((frames + 999) / 1000), V(bins, (frames + step - 1) / step, Layout::ColMajor),
        H(k, (frames + step - 1) / step, Layout::RowMajor) {}
  void add(const Matrix<float>& Vb, const Matrix<float>& Hb, index_t first) {
    for (index_t f = 0; f < Vb.cols(); ++f) {
      const index_t c = (first + f) / step;
      for (index_t b = 0; b < Vb.rows(); ++b) V(b, c) = std::max(V(b, c), Vb(b, f));
      for (index_t t = 0; t < Hb.rows(); ++t) H(t, c) = std::max(H(t, c), Hb(t, f));
    }
  }
};

// Each component's peak frequency, the note nearest it and its onsets.
nlohmann::json component_notes(const Matrix<float>& W, const Matrix<float>& H,
                               const audio::Spectrogram& s) {
  nlohmann::json notes = nlohmann::json::array();
  for (int t = 0; t < int(W.cols()); ++t) {
    const double hz = audio::peak_frequency(W, t, s);
    notes.push_back({{"component", t}, {"peak_hz", hz},
                     {"note", audio::note_name(audio::nearest_note(hz))},
                     {"onsets", audio::onsets(H, t, s).size()}});
  }
  return notes;
}

void print_notes(const nlohmann::json& notes) {
  for (const auto& n : notes)
    std::cout << "component " << n["component"].get<int>() << ": peak "
              << std::lround(n["peak_hz"].get<double>()) << " Hz (" << n["note"].get<std::string>()
              << "), " << n["onsets"].get<std::size_t>() << " onsets\n";
}

// spectrogram.png: the thumbnail of V, W and the thumbnail of H on shared axes, each
// component named by its note.
void write_picture(const std::string& path, const Thumbnail& thumbnail, const Matrix<float>& W,
                   const nlohmann::json& notes, const audio::Spectrogram& s,
                   const std::string& title) {
  io::SpectrogramPlot plot{thumbnail.V, W, thumbnail.H};
  plot.seconds = s.frame_time(s.frames);
  plot.bin_hz = s.bin_frequency(1);
  plot.title = title;
  for (const auto& n : notes) plot.notes.push_back(n["note"].get<std::string>());
  io::write_spectrogram_plot(path, plot);
}

}  // namespace

int run_audio(const audio::Sound& sound, const std::string& name, CommonFlags& f,
              const CLI::App& given) {
  if (!given.count("--loss")) f.opt.loss = Loss::KullbackLeibler;
  const int frame = frame_for(sound.rate);
  const audio::Spectrogram s = audio::stft(sound, frame, frame / 4);
  const Matrix<float> V = s.magnitude();
  const Result<float> r = factor_dense(V, name, f);
  const int k = int(r.W.cols());

  // Component t: the STFT masked by W_t·h_t / W·H (Wiener), back to sound.
  const std::string components = join(f.out_dir, "components");
  std::filesystem::create_directories(components);
  for (int t = 0; t < k; ++t) {
    audio::Spectrogram part = s;
    for (index_t fr = 0; fr < s.frames; ++fr)
      for (index_t b = 0; b < s.bins; ++b) {
        double all = 0;
        for (int u = 0; u < k; ++u) all += double(r.W(b, u)) * r.H(u, fr);
        const double mine = double(r.W(b, t)) * r.H(t, fr);
        part.values[std::size_t(fr * s.bins + b)] *= float(all > 0 ? mine / all : 0);
      }
    audio::write_wav(join(components, "component_" + std::to_string(t) + ".wav"), audio::istft(part));
  }
  Thumbnail thumbnail(s.bins, k, s.frames);
  thumbnail.add(V, r.H, 0);
  const nlohmann::json notes = component_notes(r.W, r.H, s);
  write_picture(join(f.out_dir, "spectrogram.png"), thumbnail, r.W, notes, s, name);
  if (!f.quiet && !f.json) {
    print_notes(notes);
    std::cout << "wrote " << join(f.out_dir, "W.npy") << " (templates), H.npy (activations), "
              << join(f.out_dir, "spectrogram.png") << " and " << components
              << "/component_*.wav\n";
  }
  return kOk;
}

namespace {

// `nmfuse audio --batch-size N`: the sound streamed N frames at a time, never held
// whole. W learns online over --max-passes passes (1 unless given); a last pass solves
// each batch's activations, masks its STFT into the components' WAV files (Wiener, as
// run_audio does) and keeps a thumbnail for the picture. Memory: a batch, W, H (k × the
// frames) and the thumbnail.
int run_audio_streamed(const std::string& path, CommonFlags& f, const CLI::App& given) {
  if (!given.count("--loss")) f.opt.loss = Loss::KullbackLeibler;
  if (!given.count("--max-passes")) f.opt.max_passes = 1;
  audio::SoundReader sound(path);
  const int frame = frame_for(sound.rate()), hop = frame / 4, k = f.opt.rank;
  const index_t frames = audio::frame_count(sound.samples(), frame, hop);
  const index_t batch = std::min<index_t>(f.opt.batch_size, frames);
  const index_t batches = (frames + batch - 1) / batch;
  Model<float> model(f.opt);
  const auto start = std::chrono::steady_clock::now();
  const ProgressCallback show =
      f.quiet || f.json ? nullptr : progress_printer(int(f.opt.max_passes * batches), 0);
  int step = 0;
  const OnlineInfo* online = nullptr;  // the model's, after each step
  for (int pass = 0; pass < f.opt.max_passes; ++pass)
    for (index_t b = 0; b < batches; ++b) {
      const audio::Spectrogram s = audio::stft_frames(sound, frame, hop, b * batch, batch);
      online = &model.partial_fit(s.magnitude().view());
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      Progress p;
      p.iteration = ++step;
      p.loss = online->batch_cost.back();  // per column
      p.seconds = seconds;
      if (show) show(p);
      if (g_stop_signal != 0)
        throw Interrupted("interrupted after " + std::to_string(step) + " online steps: nothing "
                          "written (an online audio fit keeps no checkpoints)");
    }

  const Matrix<float>& W = model.W();
  Matrix<float> H(k, frames, Layout::RowMajor);
  Thumbnail thumbnail(frame / 2 + 1, k, frames);
  const std::string components = join(f.out_dir, "components");
  std::filesystem::create_directories(components);
  std::vector<std::unique_ptr<audio::WavWriter>> wav;
  std::vector<audio::InverseStft> inverse;
  for (int t = 0; t < k; ++t) {
    wav.push_back(std::make_unique<audio::WavWriter>(
        join(components, "component_" + std::to_string(t) + ".wav"), sound.rate()));
    inverse.emplace_back(frame, hop, sound.samples());
  }
  audio::Spectrogram shape;  // the whole sound's, for the picture and the notes
  for (index_t b = 0; b < batches; ++b) {
    const audio::Spectrogram s = audio::stft_frames(sound, frame, hop, b * batch, batch);
    const Matrix<float> Vb = s.magnitude(), Hb = model.transform(Vb.view());
    for (int t = 0; t < k; ++t)
      for (index_t fr = 0; fr < s.frames; ++fr) H(t, b * batch + fr) = Hb(t, fr);
    thumbnail.add(Vb, Hb, b * batch);
    audio::Spectrogram part = s;
    for (int t = 0; t < k; ++t) {
      for (index_t fr = 0; fr < s.frames; ++fr)
        for (index_t bin = 0; bin < s.bins; ++bin) {
          double all = 0;
          for (int u = 0; u < k; ++u) all += double(W(bin, u)) * Hb(u, fr);
          const double mine = double(W(bin, t)) * Hb(t, fr);
          const std::size_t e = std::size_t(fr * s.bins + bin);
          part.values[e] = s.values[e] * float(all > 0 ? mine / all : 0);
        }
      wav[std::size_t(t)]->write(inverse[std::size_t(t)].add(part, b * batch));
    }
    shape = s;
  }
  for (auto& w : wav) w->finish();
  shape.frames = frames;
  io::write_atomically(join(f.out_dir, "W.npy"), io::encode_npy(W));
  io::write_atomically(join(f.out_dir, "H.npy"), io::encode_npy(H));
  const nlohmann::json notes = component_notes(W, H, shape);
  write_picture(join(f.out_dir, "spectrogram.png"), thumbnail, W, notes, shape, path);
  const nlohmann::json summary = {
      {"input", path},
      {"sound", {{"rate", sound.rate()}, {"samples", sound.samples()}}},
      {"stft", {{"frame", frame}, {"hop", hop}, {"bins", shape.bins}, {"frames", frames}}},
      {"rank", k},
      {"loss", nmfuse::to_string(f.opt.loss)},
      {"beta", nmfuse::beta_of(f.opt)},
      {"seed", f.opt.seed},
      {"online", {{"batch_size", batch}, {"forget_factor", f.opt.forget_factor},
                  {"passes", f.opt.max_passes}, {"steps", online->steps},
                  {"batch_cost", online->batch_cost}}},
      {"components", notes},
      {"device", nmfuse::to_string(online->device)},
      {"device_reason", online->device_reason},
      {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()},
  };
  io::write_atomically(join(f.out_dir, "summary.json"), summary.dump(2) + "\n");
  if (f.json) std::cout << summary.dump(2) << "\n";
  if (!f.quiet && !f.json) {
    print_notes(notes);
    std::cout << "streamed " << frames << " frames in " << batches << " batches of " << batch
              << "; wrote " << join(f.out_dir, "W.npy") << " (templates), H.npy (activations), "
              << join(f.out_dir, "spectrogram.png") << ", summary.json and " << components
              << "/component_*.wav\n";
  }
  return kOk;
}

}  // namespace

int run_audio(const std::string& path, CommonFlags& f, const CLI::App& given) {
  if (f.online) return run_audio_streamed(path, f, given);
  return run_audio(audio::read_sound(path), path, f, given);
}

// Writes the melody as MIDI, renders it with FluidSynth, factors it at rank 4 and says
// which template is which note.
int demo_music(CommonFlags& f, const CLI::App& given) {
  const std::string sound_font = shipped(audio::kSoundFont, "fluid-soundfont-gm", "music");
  if (f.opt.rank == 0) f.opt.rank = 4;
  if (!given.count("--max-iter")) f.opt.max_iter = 500;
  std::filesystem::create_directories(f.out_dir);
  const std::string midi = audio::midi_file(audio::demo_melody(), audio::kFlute);
  io::write_atomically(join(f.out_dir, "melody.mid"), midi);
  const audio::Sound sound = audio::render_midi(midi, sound_font, 22050);
  audio::write_wav(join(f.out_dir, "melody.wav"), sound);
  return run_audio(sound, "melody.mid rendered by FluidSynth", f, given);
}

#else

int run_audio(const std::string&, CommonFlags&, const CLI::App&) {
  throw NotCompiled("nmfuse was built without sound: install libsndfile1-dev libfftw3-dev "
                    "libfluidsynth-dev and rebuild");
}
int demo_music(CommonFlags& f, const CLI::App& given) { return run_audio("", f, given); }

#endif

}  // namespace nmfuse::cli
