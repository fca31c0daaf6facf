// Links against the installed nmfuse and factors a tiny matrix.
#include <nmfuse/nmfuse.hpp>

#include <cstdio>
#include <vector>

int main() {
  std::vector<double> v = {1, 2, 3, 2, 4, 6, 3, 6, 9.5};
  nmfuse::Options opt;
  opt.rank = 1;
  opt.device = nmfuse::Device::Cpu;
  const auto r = nmfuse::factorize(nmfuse::DenseView<const double>(v.data(), 3, 3), opt);
  std::printf("loss %g after %d iterations\n", r.loss_history.back(), r.iterations);
  return r.loss_history.back() < 0.1 ? 0 : 1;
}
