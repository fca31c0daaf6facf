#include "config.hpp"

#include <cstdlib>
#include <string>

#include "emulator.hpp"

namespace nmfuse::emulator {
namespace {

std::string variable(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

Order order(const char* name, const std::string& v) {
  if (v == "forward") return Order::Forward;
  if (v == "reverse") return Order::Reverse;
  if (v == "shuffled") return Order::Shuffled;
  fault(std::string(name) + "=" + v + ": expected forward, reverse or shuffled");
}

Config read() {
  Config c;
  c.threads = order("NMFUSE_EMULATOR_THREADS", variable("NMFUSE_EMULATOR_THREADS", "shuffled"));
  const std::string blocks = variable("NMFUSE_EMULATOR_BLOCKS", "shuffled");
  c.parallel_blocks = blocks == "parallel";
  c.blocks = c.parallel_blocks ? Order::Shuffled : order("NMFUSE_EMULATOR_BLOCKS", blocks);
  c.seed = std::stoull(variable("NMFUSE_EMULATOR_SEED", "1"));
  c.memory_bytes = std::size_t(std::stoull(variable("NMFUSE_EMULATOR_MEMORY", "4096"))) << 20;
  c.compute_capability = std::stoi(variable("NMFUSE_EMULATOR_COMPUTE", "90"));
  return c;
}

}  // namespace

const Config& config() {
  static const Config c = read();
  return c;
}

}  // namespace nmfuse::emulator
