#!/usr/bin/env bash
# The rank survey beside R's NMF package (Debian's r-cran-nmf, installed with
# `apt-get install --no-install-recommends r-cran-nmf`: 53 packages), in one run, on the
# same planted matrix: `nmfuse rank --ranks 2:8 --restarts 10` with KL multiplicative
# updates (Brunet et al.'s algorithm) beside `nmfEstimateRank(V, 2:8, method = "brunet",
# nrun = 10)`; each rank's cophenetic correlation and dispersion from both, nmfuse's
# held-out error, and each whole survey's wall time.
# Usage: bench/rank_vs_r.sh [BUILD_DIR] [ROWS COLS PLANTED_RANK]
set -euo pipefail
build=${1:-build} m=${2:-300} n=${3:-100} planted=${4:-5}
command -v Rscript > /dev/null || { echo "Rscript is missing: apt-get install --no-install-recommends r-cran-nmf"; exit 1; }
work=$build/rank-vs-r
rm -rf "$work" && mkdir -p "$work"
echo "$(nproc --all) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%F)"
echo "V: ${m}×${n}, W·H of rank $planted (positive factors, 30% of H's entries 0) plus ±0.005 of noise"
# The planted V, the same every time: a linear congruential draw.
awk -v m="$m" -v n="$n" -v k="$planted" 'BEGIN { s = 17
  for (i = 0; i < m; ++i) for (t = 0; t < k; ++t) { s = (s * 1103515245 + 12345) % 2147483648; W[i, t] = s / 2147483648 }
  for (t = 0; t < k; ++t) for (j = 0; j < n; ++j) { s = (s * 1103515245 + 12345) % 2147483648
    H[t, j] = (s % 10 < 3) ? 0 : s / 2147483648 }
  for (i = 0; i < m; ++i) { line = ""
    for (j = 0; j < n; ++j) { v = 0; for (t = 0; t < k; ++t) v += W[i, t] * H[t, j]
      s = (s * 1103515245 + 12345) % 2147483648; v += 0.01 * (s / 2147483648 - 0.5)
      if (v < 0) v = 0
      line = line (j ? "," : "") sprintf("%.6f", v) }
    print line } }' > "$work/V.csv"

# nmfuse twice: with its defaults (tol 1e-4), and run to convergence as R's brunet is
# (its runs stop when the consensus has not changed for 40 iterations, or at 2000).
survey() {  # OUT_NAME, then nmfuse rank's extra flags; prints the wall seconds
  local start; start=$(date +%s.%N)
  "$build/nmfuse" rank "$work/V.csv" --ranks 2:8 --restarts 10 --loss kl --solver mu --init random \
    --out "$work/$1" --json "${@:2}" > "$work/$1.json"
  echo "$(date +%s.%N) - $start" | bc
}
default_seconds=$(survey nmfuse)
converged_seconds=$(survey nmfuse_converged --tol 1e-6 --max-iter 2000)

start=$(date +%s.%N)
Rscript --vanilla - "$work/V.csv" > "$work/r.txt" 2> "$work/r.log" <<'R'
suppressMessages(library(NMF))
V <- as.matrix(read.csv(commandArgs(TRUE)[1], header = FALSE))
estimate <- nmfEstimateRank(V, range = 2:8, method = "brunet", nrun = 10, seed = 123456)
m <- estimate$measures
write.table(data.frame(rank = m$rank, cophenetic = m$cophenetic, dispersion = m$dispersion),
            row.names = FALSE, col.names = FALSE)
R
r_seconds=$(echo "$(date +%s.%N) - $start" | bc)

python3 - "$work" "$default_seconds" "$converged_seconds" "$r_seconds" <<'PY'
import json, sys
work = sys.argv[1]
runs = {name: json.load(open("%s/%s.json" % (work, name))) for name in ("nmfuse", "nmfuse_converged")}
r = {int(float(f[0])): (float(f[1]), float(f[2])) for f in (l.split() for l in open(work + "/r.txt")) if f}
print("| rank | cophenetic: nmfuse (tol 1e-4) | nmfuse (1e-6) | R | dispersion: nmfuse (1e-4) | nmfuse (1e-6) | R | held-out error: nmfuse (1e-4) | nmfuse (1e-6) |")
print("|---|---|---|---|---|---|---|---|---|")
for a, b in zip(runs["nmfuse"]["ranks"], runs["nmfuse_converged"]["ranks"]):
    k = a["rank"]
    rc, rd = r.get(k, (float("nan"), float("nan")))
    print("| %d | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %.3g | %.3g |" % (
        k, a["cophenetic"], b["cophenetic"], rc, a["dispersion"], b["dispersion"], rd,
        a["holdout_mean"], b["holdout_mean"]))
for name, label in (("nmfuse", "tol 1e-4"), ("nmfuse_converged", "tol 1e-6")):
    print("nmfuse (%s) suggests rank %s: %s" % (label, runs[name]["suggested_rank"], runs[name].get("rule", "")))
d, c, rs = (float(x) for x in sys.argv[2:5])
print("whole survey, wall time: nmfuse %.1f s (tol 1e-4), %.1f s (tol 1e-6), each 7 ranks × (10 "
      "restarts + 3 held-out splits); R nmfEstimateRank %.1f s (7 ranks × 10 runs): %.1f× and %.1f×"
      % (d, c, rs, rs / d, rs / c))
PY
