#pragma once
// How the emulated GPU runs, from the environment (read once):
//   NMFUSE_EMULATOR_THREADS   forward | reverse | shuffled (default): the order in which
//                             a block's threads run between two barriers;
//   NMFUSE_EMULATOR_BLOCKS    shuffled (default) | forward | parallel: blocks in a
//                             shuffled order on one OS thread, in order, or shuffled on
//                             two OS threads at once (races between blocks show);
//   NMFUSE_EMULATOR_SEED      the shuffles' seed (default 1);
//   NMFUSE_EMULATOR_MEMORY    the GPU's memory in MiB (default 4096): cudaMemGetInfo's
//                             total, and cudaMalloc fails past it;
//   NMFUSE_EMULATOR_COMPUTE   the compute capability reported, e.g. 90 (default).
#include <cstddef>
#include <cstdint>

namespace nmfuse::emulator {

enum class Order { Forward, Reverse, Shuffled };

struct Config {
  Order threads = Order::Shuffled;
  Order blocks = Order::Shuffled;
  bool parallel_blocks = false;
  std::uint64_t seed = 1;
  std::size_t memory_bytes = std::size_t(4096) << 20;
  int compute_capability = 90;
};

const Config& config();

}  // namespace nmfuse::emulator
