"""nmfuse.NMF against scikit-learn's NMF in one Python process: the swimmer set and a
dense 5000×2000 matrix, float32, time and final error side by side.

Run with the build's package and the .venv's scikit-learn (PyPI, its own OpenBLAS):
    PYTHONPATH=build/python .venv/bin/python bench/python_vs_sklearn.py
Each library runs `--repeats` times in a row, after a pause of a second that lets the
other's thread pool go to sleep (`--order interleaved` alternates them instead: on a
2-core machine each then runs while the other's threads still spin); the table gives
the fastest and slowest.
The floor is the performance model's: an iteration's two big products (4·m·n·k flops),
timed here as NumPy computes them (scikit-learn's OpenBLAS).
"""
import argparse
import platform
import time
import warnings

import numpy as np
from sklearn.decomposition import NMF as SklearnNMF
from sklearn.decomposition._nmf import _initialize_nmf
from sklearn.exceptions import ConvergenceWarning

import nmfuse


def planted(m, n, k):
    rng = np.random.default_rng(0)  # bench/sklearn_peer.py's matrix
    return (rng.random((m, k)) @ rng.random((k, n)) + 0.5 * rng.random((m, n))).astype(np.float32)


def products_seconds(X, k, repeats=5):
    """One iteration's big products, X·Hᵀ and Xᵀ·W, as NumPy runs them."""
    rng = np.random.default_rng(1)
    W = rng.random((X.shape[0], k), dtype=np.float32)
    H = rng.random((k, X.shape[1]), dtype=np.float32)
    best = np.inf
    for _ in range(repeats):
        began = time.perf_counter()
        X @ H.T
        X.T @ W
        best = min(best, time.perf_counter() - began)
    return best


def timed_fit(model, X, **params):
    began = time.perf_counter()
    model.fit(X, **params)
    return time.perf_counter() - began, model


def compare(name, X, k, repeats, order):
    m, n = X.shape
    floor = products_seconds(X, k)
    print(f"\n{name}: {m}×{n} float32, rank {k}; floor (the two products by NumPy): "
          f"{floor * 1e3:.2f} ms per iteration = {4 * m * n * k / floor / 1e9:.0f} GFLOP/s")
    W0, H0 = (A.astype(np.float32) for A in _initialize_nmf(X, k, init="nndsvda"))  # one start for both
    same_start = dict(init="custom", tol=0, max_iter=200)
    runs = [
        ("mu, 200 iterations", SklearnNMF(k, solver="mu", **same_start),
         nmfuse.NMF(k, solver="mu", device="cpu", **same_start)),
        ("cd, 200 iterations", SklearnNMF(k, solver="cd", **same_start),
         nmfuse.NMF(k, solver="cd", device="cpu", **same_start)),
    ]
    print(f"{'run':<44} {'seconds':>15} {'ms/iter':>13} {'iters':>6} {'error':>12} {'floor':>7}")
    cd_error = None
    for label, theirs, ours in runs:
        times = {"scikit-learn": [], "nmfuse": []}
        fitted = {}
        turns = [("scikit-learn", theirs), ("nmfuse", ours)]
        if order == "interleaved":
            turns = turns * repeats
        else:
            turns = [turn for turn in turns for _ in range(repeats)]
        for i, (who, model) in enumerate(turns):
            if order == "grouped" and i % repeats == 0:
                time.sleep(1)
            seconds, fitted[who] = timed_fit(model, X, W=W0.copy(), H=H0.copy())
            times[who].append(seconds)
        for who in ("scikit-learn", "nmfuse"):
            t, model = times[who], fitted[who]
            per = np.array(t) / model.n_iter_
            print(f"{who + ' ' + label:<44} {min(t):>7.3f}–{max(t):<7.3f} "
                  f"{per.min() * 1e3:>6.2f}–{per.max() * 1e3:<6.2f} {model.n_iter_:>6} "
                  f"{model.reconstruction_err_:>12.6g} {floor / per.min():>6.0%}")
        ratio = min(times["nmfuse"]) / min(times["scikit-learn"])
        print(f"{'  nmfuse / scikit-learn':<44} {ratio:>7.2f}×")
        if label.startswith("cd"):
            cd_error, cd_seconds = fitted["scikit-learn"].reconstruction_err_, min(times["scikit-learn"])
    # Whole runs as a user writes them: each library's own start, to cd's error.
    time.sleep(1)
    for max_iter in (5, 10, 20, 40, 80, 160):
        fast = nmfuse.NMF(k, solver="hals", tol=0, max_iter=max_iter, device="cpu")
        seconds = min(timed_fit(fast, X)[0] for _ in range(repeats))
        if fast.reconstruction_err_ <= cd_error * (1 + 1e-6) or max_iter == 160:
            break
    print(f"{'nmfuse hals to cd’s 200-iteration error':<44} {seconds:>7.3f}{'':8} "
          f"{seconds / fast.n_iter_ * 1e3:>6.2f}{'':7} {fast.n_iter_:>6} "
          f"{fast.reconstruction_err_:>12.6g}")
    print(f"{'  nmfuse hals / scikit-learn cd':<44} {seconds / cd_seconds:>7.2f}×")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--order", choices=("grouped", "interleaved"), default="grouped")
    a = ap.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    info = nmfuse.build_info()
    print(f"{time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
          f"nmfuse {info['version']} ({info['blas_kernels']} kernels), "
          f"scikit-learn {__import__('sklearn').__version__}, numpy {np.__version__}; "
          f"runs {a.order}")
    compare("swimmer", nmfuse.datasets.load_swimmer(), 17, a.repeats, a.order)
    compare("dense", planted(5000, 2000, 32), 32, a.repeats, a.order)


if __name__ == "__main__":
    main()
