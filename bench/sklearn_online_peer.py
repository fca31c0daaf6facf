"""Makes the online benchmark's stream and times scikit-learn's MiniBatchNMF on it.

V (m×n, float32, written as V.npy) is a stationary planted stream: every column is
W·h + noise, h sparse (each entry 0 with probability 0.6, else uniform), W a dictionary
of banded components. scikit-learn's orientation is Vᵀ: the samples are V's columns.
For Frobenius and KL, MiniBatchNMF runs `passes` passes (tol 0, no early stop) in
batches of `batch`; the loss is D(V | W·H) over all of V with H from transform(), as
bench_online computes nmfuse's. Writes sklearn_online.json.
"""
import argparse
import json
import os
import time
import warnings

import numpy as np
from sklearn.decomposition import MiniBatchNMF
from sklearn.decomposition._nmf import _beta_divergence


def stream(m, n, k, seed):
    rng = np.random.default_rng(seed)
    W = np.full((m, k), 0.05)
    W[np.arange(m), np.arange(m) * k // m] = 1.0
    H = rng.random((k, n)) * (rng.random((k, n)) > 0.6)
    return (W @ H + 0.01 * rng.random((m, n))).astype(np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--m", type=int, default=500)
    ap.add_argument("--n", type=int, default=40000)
    ap.add_argument("--rank", type=int, default=10)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    V = stream(a.m, a.n, a.rank, 0)
    np.save(os.path.join(a.out, "V.npy"), V)
    X = np.ascontiguousarray(V.T)
    runs = {}
    for loss, beta in (("frobenius", 2), ("kl", 1)):
        model = MiniBatchNMF(a.rank, init="nndsvda", batch_size=a.batch, beta_loss=beta,
                             max_iter=a.passes, tol=0, max_no_improvement=None, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            model.fit(X)
            seconds = time.perf_counter() - start
            Wt = model.transform(X)
        loss_value = float(_beta_divergence(X, Wt, model.components_, beta))
        runs[loss] = {"seconds": seconds, "passes": a.passes, "steps": int(model.n_steps_),
                      "loss": loss_value, "columns_per_second": a.n * a.passes / seconds}
    with open(os.path.join(a.out, "sklearn_online.json"), "w") as f:
        json.dump({"m": a.m, "n": a.n, "rank": a.rank, "batch": a.batch, "runs": runs}, f, indent=2)


if __name__ == "__main__":
    main()
