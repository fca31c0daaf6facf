#pragma once
// What the CPU benchmarks read: the float32 .npy files the peers' scripts write.
#include <string>
#include <utility>

#include "io/matrix_files.hpp"
#include "nmfuse/errors.hpp"

inline nmfuse::Matrix<float> load_float(const std::string& path) {
  auto any = nmfuse::io::read_matrix(path);
  if (auto* f = std::get_if<nmfuse::Matrix<float>>(&any)) return std::move(*f);
  throw nmfuse::InvalidArgument(path + ": the benchmark reads float32 .npy files");
}
