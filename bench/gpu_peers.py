"""Sets PyTorch (the same multiplicative updates written plainly, on the GPU) and
scikit-learn (on the machine's CPUs) beside nmfuse's GPU runs from bench_gpu's JSON
lines, and prints one markdown table."""
import argparse
import json
import time

import numpy as np


def torch_mu(m, n, k, iterations):
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    g = torch.Generator(device="cuda").manual_seed(0)
    V = torch.rand(m, n, device="cuda", generator=g)
    W = torch.rand(m, k, device="cuda", generator=g)
    H = torch.rand(k, n, device="cuda", generator=g)
    eps = torch.finfo(torch.float32).eps

    def step():
        W.mul_((V @ H.T) / (W @ (H @ H.T) + eps))
        H.mul_((W.T @ V) / ((W.T @ W) @ H + eps))

    step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iterations):
        step()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / iterations


def sklearn_mu(m, n, k, iterations):
    from sklearn.decomposition import NMF
    rng = np.random.default_rng(0)
    V = rng.random((m, n), dtype=np.float32)
    W0 = rng.random((m, k), dtype=np.float32)
    H0 = rng.random((k, n), dtype=np.float32)
    model = NMF(k, solver="mu", init="custom", max_iter=iterations, tol=0)
    start = time.perf_counter()
    model.fit_transform(V, W=W0, H=H0)
    return (time.perf_counter() - start) / model.n_iter_


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nmfuse", required=True, help="bench_gpu's JSON lines")
    ap.add_argument("--sklearn-size", type=int, default=8192, help="largest m = n for scikit-learn")
    a = ap.parse_args()
    runs = [json.loads(line) for line in open(a.nmfuse)]
    print("| m = n | k | nmfuse mu s/it | floor/time | PyTorch mu s/it | ×PyTorch | scikit-learn mu s/it | ×scikit-learn |")
    print("|---|---|---|---|---|---|---|---|")
    for r in (r for r in runs if r["run"] == "mu"):
        m, n, k, t = r["m"], r["n"], r["k"], r["seconds_per_iteration"]
        try:
            pt = torch_mu(m, n, k, 10)
        except Exception as e:  # noqa: BLE001 - report and go on
            pt = float("nan")
            print(f"<!-- PyTorch failed at {m}x{n} k={k}: {e} -->")
        sk = float("nan")
        if m <= a.sklearn_size:
            try:
                sk = sklearn_mu(m, n, k, 3)
            except Exception as e:  # noqa: BLE001
                print(f"<!-- scikit-learn failed at {m}x{n} k={k}: {e} -->")
        print(f"| {m} | {k} | {t:.5f} | {r['floor'] / t:.2f} | {pt:.5f} | {pt / t:.1f} | {sk:.4f} | {sk / t:.0f} |",
              flush=True)
    print()
    print("| m = n | k | run | s/iteration | floor/time |")
    print("|---|---|---|---|---|")
    for r in runs:
        print(f"| {r['m']} | {r['k']} | {r['run']} | {r['seconds_per_iteration']:.5f} | {r['floor'] / r['seconds_per_iteration']:.2f} |")


if __name__ == "__main__":
    main()
