// A melody written as a Standard MIDI File in code, rendered by FluidSynth.
#include <fluidsynth.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "audio/sound.hpp"
#include "nmfuse/errors.hpp"

namespace nmfuse::audio {
namespace {

constexpr int kTicksPerQuarter = 480;
constexpr double kSecondsPerQuarter = 0.5;  // 120 beats a minute, MIDI's default tempo

void put_u32(std::string& s, std::uint32_t v) {
  for (int shift : {24, 16, 8, 0}) s += char((v >> shift) & 0xff);
}

// MIDI's variable-length quantity: 7 bits a byte, high bit set on all but the last.
void put_varlen(std::string& s, std::uint32_t v) {
  std::string bytes(1, char(v & 0x7f));
  while (v >>= 7) bytes.insert(bytes.begin(), char(0x80 | (v & 0x7f)));
  s += bytes;
}

}  // namespace

const std::vector<Note>& demo_melody() {
  static const std::vector<Note> notes = [] {
    const int tune[] = {72, 76, 79, 76, 72, 84, 79, 76, 72, 79, 84, 79, 76, 72, 84, 72};
    std::vector<Note> n;
    for (int i = 0; i < 16; ++i) n.push_back({tune[i], 0.3 * i, 0.25});
    return n;
  }();
  return notes;
}

std::string midi_file(const std::vector<Note>& notes, int program) {
  // Note-on and note-off events by tick (note-offs first at a tick).
  std::multimap<std::pair<std::uint32_t, int>, std::string> events;
  auto tick = [](double seconds) {
    return std::uint32_t(std::lround(seconds / kSecondsPerQuarter * kTicksPerQuarter));
  };
  for (const Note& n : notes) {
    events.insert({{tick(n.start), 1}, std::string{char(0x90), char(n.pitch), char(100)}});
    events.insert({{tick(n.start + n.length), 0}, std::string{char(0x80), char(n.pitch), char(0)}});
  }
  std::string track;
  put_varlen(track, 0);
  track += std::string{char(0xc0), char(program)};  // the instrument
  std::uint32_t now = 0;
  for (const auto& [when, bytes] : events) {
    put_varlen(track, when.first - now);
    track += bytes;
    now = when.first;
  }
  put_varlen(track, 0);
  track += std::string{char(0xff), char(0x2f), char(0x00)};  // end of track

  std::string smf = "MThd";
  put_u32(smf, 6);
  smf += std::string{0, 0, 0, 1};                                         // format 0, 1 track
  smf += std::string{char(kTicksPerQuarter >> 8), char(kTicksPerQuarter & 0xff)};
  smf += "MTrk";
  put_u32(smf, std::uint32_t(track.size()));
  return smf + track;
}

Sound render_midi(const std::string& midi, const std::string& sound_font, int rate) {
  fluid_set_log_function(FLUID_WARN, nullptr, nullptr);  // quiet: errors come back as values
  fluid_set_log_function(FLUID_INFO, nullptr, nullptr);
  fluid_settings_t* settings = new_fluid_settings();
  fluid_settings_setnum(settings, "synth.sample-rate", rate);
  fluid_settings_setint(settings, "synth.reverb.active", 0);
  fluid_settings_setint(settings, "synth.chorus.active", 0);
  fluid_synth_t* synth = new_fluid_synth(settings);
  fluid_player_t* player = synth ? new_fluid_player(synth) : nullptr;
  auto release = [&] {
    if (player) delete_fluid_player(player);
    if (synth) delete_fluid_synth(synth);
    delete_fluid_settings(settings);
  };
  if (!player || fluid_synth_sfload(synth, sound_font.c_str(), 1) == FLUID_FAILED ||
      fluid_player_add_mem(player, midi.data(), midi.size()) != FLUID_OK ||
      fluid_player_play(player) != FLUID_OK) {
    release();
    throw InvalidArgument("FluidSynth cannot play the melody with " + sound_font);
  }
  Sound sound;
  sound.rate = rate;
  std::vector<float> left(512), right(512);
  const std::size_t most = std::size_t(rate) * 600;  // ten minutes, whatever the MIDI says
  // Until the player has passed the last event and every voice has been silent for
  // half a second (the player itself lingers after the end of the track).
  std::size_t silent = 0;
  while (sound.samples.size() < most && silent < std::size_t(rate) / 2) {
    fluid_synth_write_float(synth, 512, left.data(), 0, 1, right.data(), 0, 1);
    for (int i = 0; i < 512; ++i) sound.samples.push_back(0.5f * (left[i] + right[i]));
    const bool done = fluid_player_get_status(player) != FLUID_PLAYER_PLAYING ||
                      fluid_player_get_current_tick(player) >= fluid_player_get_total_ticks(player);
    silent = done && fluid_synth_get_active_voice_count(synth) == 0 ? silent + 512 : 0;
  }
  release();
  return sound;
}

}  // namespace nmfuse::audio
