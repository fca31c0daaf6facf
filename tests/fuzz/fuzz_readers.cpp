// libFuzzer targets for every reader of untrusted bytes; which one this binary runs is
// chosen at compile time (NMFUSE_FUZZ_TARGET). A reader may refuse its input with an
// nmfuse::Error; anything else (a crash, a sanitizer report, another exception, a hang,
// a huge allocation) is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include <unistd.h>

#include "io/atomic_file.hpp"
#include "io/checkpoint_file.hpp"
#include "io/image_files.hpp"
#include "io/matrix_files.hpp"
#include "io/sparse_files.hpp"
#include "nmfuse/errors.hpp"
#include "text/corpus.hpp"

namespace {

void read(const std::string& bytes) {
  using namespace nmfuse;
#if NMFUSE_FUZZ_TARGET == 1
  io::parse_npy(bytes, "fuzz.npy");
#elif NMFUSE_FUZZ_TARGET == 2
  io::parse_csv(bytes, "fuzz.csv");
#elif NMFUSE_FUZZ_TARGET == 3
  io::parse_matrix_market(bytes, "fuzz.mtx");
#elif NMFUSE_FUZZ_TARGET == 4
  io::parse_npz(bytes, "fuzz.npz");
#elif NMFUSE_FUZZ_TARGET == 5
  io::parse_idx(bytes, "fuzz.idx", 0);
#elif NMFUSE_FUZZ_TARGET == 6
  io::parse_pgm(bytes, "fuzz.pgm");
#elif NMFUSE_FUZZ_TARGET == 7
  text::count_terms(text::split_records(bytes, "fuzz"), {1, 1.0});
#elif NMFUSE_FUZZ_TARGET == 8
  io::decode_png(bytes, "fuzz.png");
#elif NMFUSE_FUZZ_TARGET == 9
  const std::string path = "/tmp/nmfuse-fuzz-checkpoint-" + std::to_string(::getpid()) + ".npz";
  io::write_atomically(path, bytes);
  io::read_checkpoint(path);
#else
#error "NMFUSE_FUZZ_TARGET names no reader"
#endif
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    read(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const nmfuse::Error&) {
    // refused with a message: what a reader must do with bad bytes
  }
  return 0;
}
