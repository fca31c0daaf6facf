#include "checkpoint_file.hpp"

#include <cmath>
#include <cstring>
#include <type_traits>

#include "atomic_file.hpp"
#include "matrix_files.hpp"
#include "nmfuse/errors.hpp"
#include "reading.hpp"
#include "zip_archive.hpp"

namespace nmfuse::io {
namespace {

// The loop's scalars, in this order, as state.npy.
constexpr int kScalars = 6;

Matrix<double> matrix(const ZipReader& zip, const std::string& member, const std::string& name) {
  AnyMatrix any = parse_npy(zip.read(member), name + ":" + member);
  if (auto* m = std::get_if<Matrix<double>>(&any)) return std::move(*m);
  bad(name, member + " is not a float64 matrix");
}

template <class T>
std::vector<T> vector(const ZipReader& zip, const std::string& member, const std::string& name) {
  const std::string bytes = zip.read(member);
  const NpyArray a = parse_npy_array(bytes, name + ":" + member);
  if (a.shape.size() != 1 || a.descr != (std::is_floating_point_v<T> ? "<f8" : "<i8"))
    bad(name, member + " is not a 1-D " + (std::is_floating_point_v<T> ? "float64" : "int64") +
                  " array");
  std::vector<T> v(std::size_t(a.shape[0]));
  std::memcpy(v.data(), a.data, a.bytes);
  return v;
}

}  // namespace

void write_checkpoint(const std::string& path, const CheckpointFile& file) {
  const Checkpoint& c = file.state;
  const std::vector<double> scalars{double(c.iteration), c.step,     c.step_cap,
                                    c.last_loss,         c.e_initial, c.e_previous};
  const std::vector<std::int64_t> iterations(c.loss_iterations.begin(), c.loss_iterations.end());
  std::vector<std::pair<std::string, std::string>> members{
      {"W.npy", encode_npy(c.W)},
      {"H.npy", encode_npy(c.H)},
      {"loss_history.npy", encode_npy(c.loss_history)},
      {"loss_iterations.npy", encode_npy(iterations)},
      {"state.npy", encode_npy(scalars)},
      {"run.json", file.run}};
  if (c.previous_W.size() > 0) {
    members.emplace_back("previous_W.npy", encode_npy(c.previous_W));
    members.emplace_back("previous_H.npy", encode_npy(c.previous_H));
  }
  write_atomically(path, zip_archive(members));
}

CheckpointFile read_checkpoint(const std::string& path) {
  const std::string bytes = read_file(path);
  const ZipReader zip(bytes, path);
  CheckpointFile file;
  Checkpoint& c = file.state;
  c.W = matrix(zip, "W.npy", path);
  c.H = matrix(zip, "H.npy", path);
  if (zip.has("previous_W.npy")) {
    c.previous_W = matrix(zip, "previous_W.npy", path);
    c.previous_H = matrix(zip, "previous_H.npy", path);
  }
  c.loss_history = vector<double>(zip, "loss_history.npy", path);
  const std::vector<std::int64_t> iterations = vector<std::int64_t>(zip, "loss_iterations.npy", path);
  c.loss_iterations.assign(iterations.begin(), iterations.end());
  const std::vector<double> scalars = vector<double>(zip, "state.npy", path);
  if (scalars.size() != kScalars) bad(path, "state.npy does not hold the loop's 6 scalars");
  for (double v : scalars)
    if (!std::isfinite(v) || v < 0) bad(path, "state.npy holds a negative or non-finite value");
  if (scalars[0] > 2147483647 || scalars[0] != std::floor(scalars[0]))
    bad(path, "state.npy's iteration count is not an int");
  // A long run whose loss rises by rounding alone shrinks its step until it is 0.
  if (!(scalars[1] <= 1 && scalars[2] <= 1))
    bad(path, "state.npy's extrapolation step is not in [0, 1]");
  c.iteration = int(scalars[0]);
  c.step = scalars[1];
  c.step_cap = scalars[2];
  c.last_loss = scalars[3];
  c.e_initial = scalars[4];
  c.e_previous = scalars[5];
  if (c.loss_history.size() != c.loss_iterations.size() || c.loss_history.empty())
    bad(path, "loss_history and loss_iterations disagree");
  file.run = zip.read("run.json");
  return file;
}

}  // namespace nmfuse::io
