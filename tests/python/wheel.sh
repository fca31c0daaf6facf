#!/usr/bin/env bash
# Builds the wheel a user installs (`pip wheel .`, portable: no -march=native), installs
# it in a fresh virtual environment and runs the estimator's tests against it there.
# Arguments go to `pip wheel` (e.g. --config-settings=cmake.define.NMFUSE_CUDA=OFF).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=build/wheel
rm -rf "$out" && mkdir -p "$out"
.venv/bin/pip wheel --quiet --disable-pip-version-check --no-deps -w "$out" \
  --config-settings=cmake.define.NMFUSE_NATIVE=OFF --config-settings=build-dir="$out/build" "$@" .
/usr/bin/python3 -m venv "$out/venv"
"$out/venv/bin/pip" install --quiet --disable-pip-version-check "$out"/nmfuse-*.whl \
  -r tests/python/requirements.txt
# From outside the repository, so that `import nmfuse` finds the installed wheel.
cd "$out" && OMP_WAIT_POLICY=PASSIVE venv/bin/python -m pytest -q -p no:cacheprovider \
  ../../tests/python/test_estimator.py
