"""Whole runs as a user sees them: the nmfuse command from start to written files,
beside scikit-learn's whole process on the same file (compare_cpu.sh runs it).

- WordNet-sized counts (wordnet.mtx), KL, rank 20, 20 iterations: nmfuse's whole
  process divided by 20 against scikit-learn's seconds per iteration (its fit alone),
  and nmfuse's peak resident memory (from the kernel, as /usr/bin/time reads it).
- Dense 5000×2000, rank 32: the fewest iterations of nmfuse's default HALS (its own
  NNDSVDa start) that reach scikit-learn cd's 200-iteration loss, and that whole run
  against cd's 200 iterations.
Each time is the best of 3, since other work on the machine only ever adds time.
"""
import argparse
import json
import os
import subprocess
import time


def run(nmfuse, args):
    """Seconds, peak resident MB (GNU time's %M) and the --json summary of one command."""
    start = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", nmfuse] + args + ["--json"], check=True,
                       capture_output=True, text=True)
    seconds = time.perf_counter() - start
    return seconds, int(p.stderr.strip().splitlines()[-1]) / 1024, json.loads(p.stdout)


def best(nmfuse, args, repeats=3):
    results = [run(nmfuse, args) for _ in range(repeats)]
    fastest = min(results, key=lambda r: r[0])
    return fastest[0], max(r[1] for r in results), fastest[2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nmfuse", required=True)
    ap.add_argument("--whole", required=True, help="sklearn_whole_run_peer.py's folder")
    ap.add_argument("--dense", required=True, help="sklearn_peer.py's 5000×2000 folder")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    peers = json.load(open(os.path.join(a.whole, "peers.json")))
    dense = json.load(open(os.path.join(a.dense, "sklearn.json")))

    sk = peers["sklearn_kl"]
    iterations = sk["iterations"]
    seconds, peak, summary = best(a.nmfuse, [
        "factor", os.path.join(a.whole, "wordnet.mtx"), "--rank", "20", "--loss", "kl",
        "--max-iter", str(iterations), "--tol", "0", "--check-every", str(iterations),
        "--out", os.path.join(a.out, "wordnet")])
    print(f"WordNet-sized counts, KL, rank 20, {iterations} iterations ({summary['dtype']})")
    print(f"{'':34} {'whole process s':>16} {'÷ iterations':>13} {'peak MB':>9}")
    print(f"{'nmfuse factor':34} {seconds:16.3f} {seconds / iterations:13.4f} {peak:9.1f}")
    print(f"{'scikit-learn (import, mmread, fit)':34} {sk['whole_process_seconds']:16.3f} "
          f"{sk['seconds_per_iteration']:13.4f} {'':>9}  (fit alone per iteration)")
    print(f"nmfuse's whole process per iteration is {seconds / iterations / sk['seconds_per_iteration']:.3f}"
          f" × scikit-learn's fit per iteration (target ≤ 0.25); peak {peak:.1f} MB (target ≤ 150)\n")

    target = dense["cd"]["loss"]
    V = os.path.join(a.dense, "V.npy")
    for it in range(1, 60):
        args = ["factor", V, "--rank", "32", "--max-iter", str(it), "--tol", "0",
                "--check-every", str(it), "--out", os.path.join(a.out, "dense")]
        if run(a.nmfuse, args)[2]["final_loss"] <= target:
            break
    seconds, peak, summary = best(a.nmfuse, args)
    cd = dense["cd"]["seconds"]
    print(f"Dense 5000×2000, rank 32: nmfuse factor (HALS, its NNDSVDa start) reaches scikit-learn "
          f"cd's 200-iteration loss {target:.6g} in {it} iterations (loss {summary['final_loss']:.6g})")
    print(f"whole process {seconds:.3f} s (solver and start {summary['seconds']:.3f} s) against cd's "
          f"{cd:.3f} s for 200 iterations: {100 * seconds / cd:.1f}% (target ≤ 4%); peak {peak:.1f} MB")


if __name__ == "__main__":
    main()
