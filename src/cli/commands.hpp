#pragma once
// The subcommands beyond `factor`: each returns the exit code.
#include <string>
#include <vector>

#include "cli/run.hpp"
#include "io/image_files.hpp"
#include "text/corpus.hpp"

namespace nmfuse::cli {

// Factors a stack of images (pixels × images) and writes W, H, basis.png (the parts)
// and reconstructions.png (originals above their reconstructions).
int run_images(const io::ImageStack& images, const std::string& name, CommonFlags& f);

// Topics of documents (folders of text files, files of %-separated records): KL by
// default on the sparse term × document counts; writes topics.txt (top words),
// documents.csv (each document's topic weights), vocabulary.txt, W and H.
int run_topics(const std::vector<std::string>& paths, const text::CorpusOptions& corpus_options,
               int top_words, CommonFlags& f, const CLI::App& given);

// Notes of a sound file (WAV, FLAC, OGG: libsndfile): KL by default on its magnitude
// spectrogram; writes W (templates), H (activations), spectrogram.png and each
// component's sound by Wiener masking. Throws NotCompiled in a build without sound.
int run_audio(const std::string& path, CommonFlags& f, const CLI::App& given);
// The music demo: a melody written as MIDI, rendered by FluidSynth, factored.
int demo_music(CommonFlags& f, const CLI::App& given);

// `nmfuse rank`: the rank survey of a matrix file (survey_ranks): dense (with the mask
// of f.mask_path, if any) or sparse (its absent entries `absent`); writes rank.json,
// rank.png and consensus_K.npy and .png for the suggested rank K.
int run_rank(const std::string& input, Absent absent, const SurveyOptions& survey,
             CommonFlags& f);
// "2:10" or "2,4,8".
std::vector<int> parse_ranks(const std::string& text);

// Whether mpirun (Open MPI's, MPICH's or PMIx's) started this process among others.
bool launched_by_mpirun();
// `factor` over the processes mpirun started, on a grid of `grid` ("RxC"; empty: chosen):
// src/cli/distributed.cpp. Throws NotCompiled in a build without MPI.
int run_distributed_factor(const std::string& input, const std::string& grid, Absent absent,
                           CommonFlags& f);

// `nmfuse demo NAME`: swimmer (generated), fashion (Debian's dataset-fashion-mnist).
// `given` says which flags the user set, so that each demo fills in its own defaults.
int run_demo(const std::string& name, CommonFlags& f, const CLI::App& given);

}  // namespace nmfuse::cli
