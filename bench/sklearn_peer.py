"""Makes a benchmark matrix and times scikit-learn's NMF on it (float32, mu and cd).

Writes V.npy, W0.npy, H0.npy (scikit-learn's NNDSVDa start, shared by every run) and
sklearn.json (seconds, seconds per iteration and the final ½‖V−WH‖² of each solver).
"""
import argparse
import json
import os
import time

import numpy as np
from sklearn.decomposition import NMF
from sklearn.decomposition._nmf import _initialize_nmf
from threadpoolctl import threadpool_info


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--m", type=int, required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--rank", type=int, required=True)
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    # A noisy non-negative matrix of rank `rank`, fixed by the seed.
    rng = np.random.default_rng(0)
    V = rng.random((a.m, a.rank)) @ rng.random((a.rank, a.n)) + 0.5 * rng.random((a.m, a.n))
    V = np.asarray(V, dtype=np.float32)
    W0, H0 = _initialize_nmf(V, a.rank, init="nndsvda", random_state=0)
    np.save(os.path.join(a.out, "V.npy"), V)
    np.save(os.path.join(a.out, "W0.npy"), W0.astype(np.float32))
    np.save(os.path.join(a.out, "H0.npy"), H0.astype(np.float32))

    result = {"blas": [{k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
                       for i in threadpool_info()]}
    for solver in ("mu", "cd"):
        # tol=0: exactly `iterations` iterations from the shared start.
        model = NMF(a.rank, solver=solver, init="custom", max_iter=a.iterations, tol=0)
        start = time.perf_counter()
        model.fit_transform(V, W=W0.copy(), H=H0.copy())
        seconds = time.perf_counter() - start
        result[solver] = {"seconds": seconds, "iterations": model.n_iter_,
                          "seconds_per_iteration": seconds / model.n_iter_,
                          "loss": 0.5 * float(model.reconstruction_err_) ** 2}
    with open(os.path.join(a.out, "sklearn.json"), "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
