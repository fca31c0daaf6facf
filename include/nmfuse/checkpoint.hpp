#pragma once
// What a run needs to go on exactly where it stopped: Options::on_checkpoint receives
// it, Options::resume continues from it.
#include <vector>

#include "nmfuse/view.hpp"

namespace nmfuse {

// The solver loop's own state between iterations.
struct LoopState {
  int iteration = 0;                     // iterations done
  double step = 0.25, step_cap = 1.0;    // extrapolated HALS: the step and its cap
  double last_loss = 0;                  // the loss the last iteration measured
  double e_initial = 0, e_previous = 0;  // the stopping rule's √(2·loss): at 0, at the last check
  std::vector<double> loss_history;      // as in RunInfo
  std::vector<int> loss_iterations;
};

struct Checkpoint : LoopState {
  Matrix<double> W, H;  // W m×k column-major, H k×n row-major (a float run's values exactly)
  // Extrapolated HALS: the iterates as they were before their last extrapolation (empty
  // otherwise).
  Matrix<double> previous_W, previous_H;
};

}  // namespace nmfuse
