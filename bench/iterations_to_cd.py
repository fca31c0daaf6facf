"""Iterations nmfuse's accelerated HALS needs to reach scikit-learn cd's 200-iteration
loss from the same start, on the problems of bench/RESULTS.md ("W's first step").

Each count is a fit of that many iterations (tol=0), its loss computed here in double.
Run from the repository root after the build: PYTHONPATH=build/python python this.py
"""
import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import NMF
from sklearn.decomposition._nmf import _initialize_nmf

from nmfuse import _nmfuse as N


def planted(m, n, k):  # bench/sklearn_peer.py's matrix
    rng = np.random.default_rng(0)
    return rng.random((m, k)) @ rng.random((k, n)) + 0.5 * rng.random((m, n))


def bumps():  # image-like: 2000 mixtures of 30 Gaussian bumps on a 40×40 grid
    rng = np.random.default_rng(0)
    X, Y = np.meshgrid(np.linspace(0, 1, 40), np.linspace(0, 1, 40))
    parts = []
    for _ in range(30):
        cx, cy, s = rng.random(), rng.random(), 0.05 + 0.15 * rng.random()
        parts.append(np.exp(-((X - cx) ** 2 + (Y - cy) ** 2) / (2 * s * s)).ravel())
    return rng.gamma(0.5, 1, (2000, 30)) @ np.array(parts) + 0.05 * rng.random((2000, 1600))


def loss(V, W, H):
    return 0.5 * float(np.sum((V.astype(np.float64) - W.astype(np.float64) @ H) ** 2))


def iterations_to(V, k, W0, H0, target, most=40):
    for it in range(1, most + 1):
        o = N.Options()
        o.rank, o.solver, o.init, o.max_iter, o.tol = k, N.Solver.HALS, N.Init.Custom, it, 0
        o.device = N.Device.Cpu
        W, H, _ = N.fit_dense(V, o, False, W=W0, H=H0)
        if loss(V, W, H) <= target:
            return it
    return f"> {most}"


def main():
    problems = [("5000×2000, k = 32", planted(5000, 2000, 32), 32),
                ("1000×500, k = 10", planted(1000, 500, 10), 10),
                ("digits, k = 10", load_digits().data, 10),
                ("2000×1600 bumps, k = 30", bumps(), 30)]
    print("| start, problem | iterations |\n|---|---|")
    for name, V, k in problems:
        V = np.asarray(V, dtype=np.float32)
        W0, H0 = _initialize_nmf(V, k, init="nndsvda", random_state=0)
        W0, H0 = W0.astype(np.float32), H0.astype(np.float32)
        cd = NMF(k, solver="cd", init="custom", max_iter=200, tol=0)
        W = cd.fit_transform(V, W=W0.copy(), H=H0.copy())
        target = loss(V, W, cd.components_)
        print(f"| NNDSVDa, {name} | {iterations_to(V, k, W0, H0, target)} |")
        rng = np.random.default_rng(1)
        a = np.sqrt(V.mean() / k)
        Wr = (a * np.abs(rng.standard_normal((V.shape[0], k)))).astype(np.float32)
        Hr = (a * np.abs(rng.standard_normal((k, V.shape[1])))).astype(np.float32)
        print(f"| random, {name} | {iterations_to(V, k, Wr, Hr, target)} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
