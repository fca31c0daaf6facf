#pragma once
// The seeded generator behind every random draw. Box–Muller on mt19937_64 so that a
// seed gives the same numbers on every platform (std::normal_distribution may not).
#include <cmath>
#include <cstdint>
#include <random>

namespace nmfuse::core {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}

  // Uniform in (0, 1].
  double uniform() { return (double(engine_() >> 11) + 1.0) * 0x1.0p-53; }

  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double radius = std::sqrt(-2.0 * std::log(uniform()));
    const double angle = 2.0 * M_PI * uniform();
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }

 private:
  std::mt19937_64 engine_;
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace nmfuse::core
