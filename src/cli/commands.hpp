#pragma once
// The subcommands beyond `factor`: each returns the exit code.
#include <string>

#include "cli/run.hpp"
#include "io/image_files.hpp"

namespace nmfuse::cli {

// Factors a stack of images (pixels × images) and writes W, H, basis.png (the parts)
// and reconstructions.png (originals above their reconstructions).
int run_images(const io::ImageStack& images, const std::string& name, CommonFlags& f);

// `nmfuse demo NAME`: swimmer (generated), fashion (Debian's dataset-fashion-mnist).
// `given` says which flags the user set, so that each demo fills in its own defaults.
int run_demo(const std::string& name, CommonFlags& f, const CLI::App& given);

}  // namespace nmfuse::cli
