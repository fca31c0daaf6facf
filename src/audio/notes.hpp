#pragma once
// Reading notes off a factorization of a magnitude spectrogram: which pitch a template
// holds, and when its activation starts a note.
#include <string>
#include <vector>

#include "audio/sound.hpp"

namespace nmfuse::audio {

// The frequency of the strongest bin of template t (column t of W, bins × k), refined
// by a parabola through it and its neighbours.
double peak_frequency(const Matrix<float>& W, int t, const Spectrogram& s);

// The MIDI note nearest a frequency (A4 = 440 Hz = 69), and its name ("C4", "F#5").
int nearest_note(double hz);
std::string note_name(int midi);

// Onsets of row t of H (k × frames): the frames where the activation rises through
// `threshold` times its maximum, in seconds.
std::vector<double> onsets(const Matrix<float>& H, int t, const Spectrogram& s,
                           double threshold = 0.3);

}  // namespace nmfuse::audio
