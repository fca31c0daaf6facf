"""Files for whole-run timing, and scipy's, numpy's and scikit-learn's times on them.

Writes, in --out:
  wordnet.mtx  a count matrix of WordNet's size (25,346 × 117,313, 879,000 stored
               counts: 1 + Poisson(λ) from a planted rank-20 model), as scipy.io.mmwrite
               writes it (field integer);
  dense.csv    a 1000×5000 float matrix, as numpy.savetxt writes it (%.7g, commas);
  peers.json   scipy.io.mmread's and numpy.loadtxt's MB/s on them (best of 3), and a
               scikit-learn KL run (mu, 20 iterations, from its NNDSVDa start) on the
               counts: the whole process (start, imports, mmread, NNDSVDa, fit, save)
               as run in a fresh interpreter, and the fit's seconds per iteration.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import scipy.io
import scipy.sparse as sp

M, N, STORED, RANK = 25346, 117313, 879000, 20

# The run a user of scikit-learn makes, timed by the interpreter that runs it.
WHOLE_RUN = """
import sys, time
start = time.perf_counter()
import numpy as np, scipy.io
from sklearn.decomposition import NMF
from sklearn.decomposition._nmf import _initialize_nmf
V = scipy.io.mmread(sys.argv[1]).tocsr().astype(np.float64)
read = time.perf_counter()
k = int(sys.argv[2])
W0, H0 = _initialize_nmf(V, k, init="nndsvda", random_state=0)  # what init="nndsvda" does
initialized = time.perf_counter()
model = NMF(k, beta_loss="kullback-leibler", solver="mu", max_iter=int(sys.argv[3]), tol=0,
            init="custom")
W = model.fit_transform(V, W=W0, H=H0)
fit = time.perf_counter()
np.save(sys.argv[4] + "/W.npy", W)
np.save(sys.argv[4] + "/H.npy", model.components_)
print(read - start, initialized - read, fit - initialized, model.n_iter_)
"""


def best_seconds(f, repeats=3):
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--iterations", type=int, default=20)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    mtx, csv = os.path.join(a.out, "wordnet.mtx"), os.path.join(a.out, "dense.csv")

    rng = np.random.default_rng(0)
    if not os.path.exists(mtx):
        flat = rng.choice(M * N, size=STORED, replace=False)
        rows, cols = flat // N, flat % N
        Wt, Ht = rng.gamma(0.3, 1.0, (M, RANK)), rng.gamma(0.3, 1.0, (RANK, N))
        rate = np.einsum("ij,ij->i", Wt[rows], Ht[:, cols].T)
        counts = (1 + rng.poisson(rate)).astype(np.int64)
        scipy.io.mmwrite(mtx, sp.coo_matrix((counts, (rows, cols)), shape=(M, N)))
    if not os.path.exists(csv):
        np.savetxt(csv, rng.random((1000, 5000)).astype(np.float32), fmt="%.7g", delimiter=",")

    result = {}
    for name, path, read in (("mmread", mtx, lambda: scipy.io.mmread(mtx)),
                             ("loadtxt", csv, lambda: np.loadtxt(csv, delimiter=",", dtype=np.float64))):
        seconds = best_seconds(read)
        result[name] = {"seconds": seconds, "MB_per_s": os.path.getsize(path) / seconds / 1e6}

    out = os.path.join(a.out, "sklearn-out")
    os.makedirs(out, exist_ok=True)
    best = None
    for _ in range(3):
        t = time.perf_counter()
        text = subprocess.run([sys.executable, "-c", WHOLE_RUN, mtx, str(RANK), str(a.iterations), out],
                              check=True, capture_output=True, text=True).stdout
        whole = time.perf_counter() - t
        read, init, fit, iterations = text.split()
        if best is None or whole < best["whole_process_seconds"]:
            best = {"whole_process_seconds": whole, "read_seconds": float(read),
                    "init_seconds": float(init), "fit_seconds": float(fit),
                    "iterations": int(iterations),
                    "seconds_per_iteration": float(fit) / int(iterations)}
    result["sklearn_kl"] = best
    with open(os.path.join(a.out, "peers.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
