#pragma once
#include <string>
#include <vector>

#include "nmfuse/options.hpp"
#include "nmfuse/view.hpp"

namespace nmfuse {

enum class StopReason {
  Converged,    // the relative decrease of the loss fell below tol
  MaxIter,      // max_iter iterations ran
  Callback,     // the progress callback returned false
  Interrupted,  // Options::interrupt said so (a checkpoint was handed over first)
};

std::string to_string(StopReason);

// How a run went, whatever holds its factors.
struct RunInfo {
  std::vector<double> loss_history;  // D(V | WH) at iteration 0 and at every check
  std::vector<int> loss_iterations;  // the iteration of each loss_history entry
  int iterations = 0;
  StopReason stop_reason = StopReason::MaxIter;
  bool converged = false;
  Device device = Device::Cpu;  // which backend ran
  std::string device_reason;    // why that one
  double seconds = 0;           // wall time of the whole call
  // Σ v² over V's entries (its observed ones, with a mask or Absent::Unknown), in
  // double: the relative error of a Frobenius fit is √(2·loss / data_squared_norm).
  double data_squared_norm = 0;
};

// How online fitting (Model::partial_fit, Model::fit_online) has gone so far.
struct OnlineInfo {
  int steps = 0;                     // batches learned from, every call together
  int passes = 0;                    // fit_online: passes over V
  std::vector<double> batch_cost;    // per step: D(V_b | W·H_b) per column, before W moves
  std::vector<double> smoothed_cost;  // fit_online: its running average, which
                                      // max_no_improvement watches
  StopReason stop_reason = StopReason::MaxIter;  // of the last fit_online
  Device device = Device::Cpu;  // which backend ran the last step
  std::string device_reason;
  double seconds = 0;  // wall time of the last call
};

template <class T>
struct Result : RunInfo {
  Matrix<T> W;  // m×k, column-major
  Matrix<T> H;  // k×n, row-major (the solver keeps Hᵀ column-major: the same memory)
};

}  // namespace nmfuse
