"""Makes the sparse benchmark matrix and times scikit-learn's NMF on it.

A 20000×5000 count matrix at 1% density (float32 CSR, int32 indices): counts 1 +
Poisson(λ) at uniformly random positions, λ from a planted rank-20 model. Writes V.npz,
W0.npy and H0.npy (scikit-learn's NNDSVDa start, shared by every run) and sklearn.json:
for KL (solver mu) and Frobenius (solver cd), 200 iterations' seconds, the final loss
and the peak of memory Python allocated during the fit (tracemalloc).
"""
import argparse
import json
import os
import time
import tracemalloc

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import NMF
from sklearn.decomposition._nmf import _initialize_nmf
from threadpoolctl import threadpool_info


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--m", type=int, default=20000)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--density", type=float, default=0.01)
    ap.add_argument("--rank", type=int, default=20)
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    rng = np.random.default_rng(0)
    nnz = int(a.m * a.n * a.density)
    flat = rng.choice(a.m * a.n, size=nnz, replace=False)
    rows, cols = flat // a.n, flat % a.n
    Wt, Ht = rng.gamma(0.3, 1.0, (a.m, a.rank)), rng.gamma(0.3, 1.0, (a.rank, a.n))
    rate = np.einsum("ij,ij->i", Wt[rows], Ht[:, cols].T)
    values = (1 + rng.poisson(rate)).astype(np.float32)
    V = sp.csr_matrix((values, (rows.astype(np.int32), cols.astype(np.int32))),
                      shape=(a.m, a.n), dtype=np.float32)
    V.sort_indices()
    sp.save_npz(os.path.join(a.out, "V.npz"), V, compressed=False)
    W0, H0 = _initialize_nmf(V, a.rank, init="nndsvda", random_state=0)
    np.save(os.path.join(a.out, "W0.npy"), W0.astype(np.float32))
    np.save(os.path.join(a.out, "H0.npy"), H0.astype(np.float32))

    result = {"shape": [a.m, a.n], "stored": int(V.nnz), "rank": a.rank,
              "input_bytes": int(V.data.nbytes + V.indices.nbytes + V.indptr.nbytes),
              "blas": [{k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
                       for i in threadpool_info()]}
    for name, solver, loss in (("kl", "mu", "kullback-leibler"), ("frobenius", "cd", "frobenius")):
        # tol=0: exactly `iterations` iterations from the shared start.
        model = NMF(a.rank, solver=solver, beta_loss=loss, init="custom", max_iter=a.iterations,
                    tol=0)
        tracemalloc.start()
        start = time.perf_counter()
        model.fit_transform(V, W=W0.copy(), H=H0.copy())
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        result[name] = {"solver": solver, "seconds": seconds, "iterations": model.n_iter_,
                        "seconds_per_iteration": seconds / model.n_iter_,
                        "loss": 0.5 * float(model.reconstruction_err_) ** 2,
                        "peak_bytes": peak}
    with open(os.path.join(a.out, "sklearn.json"), "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
