#pragma once
// A checkpoint as one file: a zip of .npy arrays that numpy.load() reads (W, H, the
// previous iterates, the loss history, the loop's scalars) and run.json, which says
// what run it belongs to. Written atomically.
#include <string>

#include "nmfuse/checkpoint.hpp"

namespace nmfuse::io {

struct CheckpointFile {
  Checkpoint state;
  std::string run;  // JSON text: the run the checkpoint belongs to
};

void write_checkpoint(const std::string& path, const CheckpointFile& file);
CheckpointFile read_checkpoint(const std::string& path);

}  // namespace nmfuse::io
