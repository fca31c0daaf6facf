#pragma once
// Between a backend and a Checkpoint: the factors read out of one, and put back into it.
#include <string>
#include <vector>

#include "core/backend.hpp"
#include "core/check_input.hpp"
#include "core/float_conversion.hpp"
#include "core/solver.hpp"
#include "nmfuse/checkpoint.hpp"
#include "nmfuse/errors.hpp"

namespace nmfuse::core {

// A backend's factor, or (`previous`) the iterate its extrapolation remembers.
template <class T>
Matrix<T> factor_matrix(core::Backend<T>& b, core::Side s, bool previous = false) {
  // W is m×k column-major; Ht (n×k column-major) is H (k×n) row-major.
  Matrix<T> X = s == core::Side::W ? Matrix<T>(b.rows(), b.rank(), Layout::ColMajor)
                                   : Matrix<T>(b.rank(), b.cols(), Layout::RowMajor);
  previous ? b.get_previous(s, X.data()) : b.get_factor(s, X.data());
  return X;
}

// The checkpoint of a run at `state`: its factors, and the previous iterates where it
// extrapolates.
template <class T>
Checkpoint checkpoint_of(core::Backend<T>& b, const core::SolverState& state, bool extrapolating) {
  Checkpoint c;
  static_cast<LoopState&>(c) = state;
  c.W = convert<double>(factor_matrix(b, core::Side::W));
  c.H = convert<double>(factor_matrix(b, core::Side::H));
  if (extrapolating) {
    c.previous_W = convert<double>(factor_matrix(b, core::Side::W, true));
    c.previous_H = convert<double>(factor_matrix(b, core::Side::H, true));
  }
  return c;
}

// Puts a checkpoint's factors (and previous iterates) into the backend and returns the
// loop's state, after checking that they fit this problem.
template <class T>
core::SolverState restore(core::Backend<T>& b, const Checkpoint& c, bool extrapolating) {
  auto check = [&](const char* name, const Matrix<double>& X, index_t rows, index_t cols,
                   Layout layout) {
    if (X.rows() == rows && X.cols() == cols && X.layout() == layout) return;
    throw InvalidArgument("option resume: the checkpoint's " + std::string(name) + " is " +
                          std::to_string(X.rows()) + "×" + std::to_string(X.cols()) +
                          ", but this problem needs " + std::to_string(rows) + "×" +
                          std::to_string(cols) + (X.layout() == layout ? "" : " in its layout"));
  };
  const index_t m = b.rows(), n = b.cols(), k = b.rank();
  check("W", c.W, m, k, Layout::ColMajor);
  check("H", c.H, k, n, Layout::RowMajor);
  auto put = [&](core::Side s, const Matrix<double>& X, bool previous) {
    core::check_matrix("the checkpoint's factor", X.view());
    if (!std::all_of(X.data(), X.data() + X.size(), [](double v) { return fits<T>(v); }))
      throw InvalidArgument("option resume: the checkpoint's factors do not fit in " +
                            std::string(sizeof(T) == 4 ? "float" : "double"));
    const std::vector<T> values(X.data(), X.data() + X.size());
    previous ? b.set_previous(s, values.data()) : b.set_factor(s, values.data());
  };
  put(core::Side::W, c.W, false);
  put(core::Side::H, c.H, false);
  if (extrapolating) {
    if (c.previous_W.size() == 0)
      throw InvalidArgument("option resume: the checkpoint holds no previous iterates, which "
                            "extrapolated HALS needs (it was written by another solver)");
    check("previous W", c.previous_W, m, k, Layout::ColMajor);
    check("previous H", c.previous_H, k, n, Layout::RowMajor);
    put(core::Side::W, c.previous_W, true);
    put(core::Side::H, c.previous_H, true);
  }
  return static_cast<const LoopState&>(c);
}

}  // namespace nmfuse::core
