"""nmfuse.NMF against scikit-learn: its estimator checks, its iterates from the same
start, and what the Python layer adds (sparse input, missing values, the GIL, Ctrl-C)."""
import re
import threading
import time
import _thread
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import nnls
from sklearn.decomposition import NMF as SklearnNMF
from sklearn.decomposition._nmf import _initialize_nmf
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import check_estimator

import nmfuse

# Rounding: a relative error of the working precision's ε per operation, grown by the
# iterations' sums of n terms and by how far each iteration carries the last one's
# error. After 30 iterations the factors agree to about 10⁴·ε in relative terms: 1e-3
# in float32 (ε = 1.2e-7), 1e-11 in float64 (ε = 2.2e-16).
TOLERANCE = {np.float32: 1e-3, np.float64: 1e-11}


def relative_difference(a, b):
    return np.abs(np.asarray(a) - np.asarray(b)).max() / np.abs(np.asarray(b)).max()


def planted(m, n, k, seed, dtype=np.float64, noise=0.1):
    """A non-negative rank-k matrix plus non-negative noise."""
    rng = np.random.default_rng(seed)
    X = rng.random((m, k)) @ rng.random((k, n)) + noise * rng.random((m, n))
    return X.astype(dtype)


def start(X, k, seed):
    rng = np.random.default_rng(seed)
    scale = np.sqrt(X.mean() / k)
    return ((scale * rng.random((X.shape[0], k))).astype(X.dtype),
            (scale * rng.random((k, X.shape[1]))).astype(X.dtype))


def test_scikit_learn_estimator_checks():
    # What NMF cannot take, as scikit-learn's own NMF: nothing beyond its tags. The
    # checks run on the CPU (device="auto" would take a GPU where there is one).
    check_estimator(nmfuse.NMF(device="cpu", max_iter=500))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("beta_loss", ["frobenius", "kullback-leibler", 1.5, "itakura-saito"])
def test_mu_equals_scikit_learn_from_the_same_start(beta_loss, dtype):
    X = planted(60, 40, 4, seed=1, dtype=dtype) + dtype(0.01)  # positive: IS is defined
    W0, H0 = start(X, 4, seed=2)
    settings = dict(n_components=4, init="custom", solver="mu", beta_loss=beta_loss,
                    max_iter=30, tol=0)
    ours = nmfuse.NMF(device="cpu", **settings)
    theirs = SklearnNMF(**settings)
    W = ours.fit_transform(X, W=W0.copy(), H=H0.copy())
    W_sk = theirs.fit_transform(X, W=W0.copy(), H=H0.copy())
    assert W.dtype == dtype and ours.components_.dtype == dtype
    assert relative_difference(W, W_sk) < TOLERANCE[dtype]
    assert relative_difference(ours.components_, theirs.components_) < TOLERANCE[dtype]
    assert ours.reconstruction_err_ == pytest.approx(theirs.reconstruction_err_, rel=TOLERANCE[dtype])
    assert ours.n_iter_ == theirs.n_iter_ == 30


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("regularization", [{}, dict(alpha_W=0.01, l1_ratio=0.5),
                                            dict(alpha_W=0.01, alpha_H=0.1, l1_ratio=1.0)])
@pytest.mark.parametrize("solver", ["cd", "mu"])
def test_solvers_equal_scikit_learn_with_regularization(solver, regularization, dtype):
    X = planted(50, 70, 5, seed=3, dtype=dtype)
    W0, H0 = start(X, 5, seed=4)
    settings = dict(n_components=5, init="custom", solver=solver, max_iter=30, tol=0,
                    **regularization)
    ours = nmfuse.NMF(device="cpu", **settings).fit(X, W=W0.copy(), H=H0.copy())
    theirs = SklearnNMF(**settings).fit(X, W=W0.copy(), H=H0.copy())
    assert relative_difference(ours.components_, theirs.components_) < TOLERANCE[dtype]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cd_from_nndsvda_keeps_dead_components_dead_as_scikit_learn(dtype):
    # From NNDSVDa at rank 10 a column of W dies in the first update: scikit-learn's cd
    # leaves that component where it is, and so does nmfuse's.
    X = planted(100, 50, 10, seed=16, dtype=dtype)
    W0, H0 = (A.astype(dtype) for A in _initialize_nmf(X, 10, init="nndsvda"))
    settings = dict(n_components=10, init="custom", solver="cd", max_iter=30, tol=0)
    ours = nmfuse.NMF(device="cpu", **settings).fit(X, W=W0.copy(), H=H0.copy())
    theirs = SklearnNMF(**settings).fit(X, W=W0.copy(), H=H0.copy())
    assert relative_difference(ours.components_, theirs.components_) < TOLERANCE[dtype]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transform_solves_for_W_with_the_components_fixed(dtype):
    X = planted(40, 30, 3, seed=5, dtype=dtype)
    model = nmfuse.NMF(3, solver="mu", device="cpu", random_state=0).fit(X)
    X_new = planted(10, 30, 3, seed=6, dtype=dtype)
    # MU starts where scikit-learn's transform starts: the same iterates.
    fixed = dict(n_components=3, solver="mu", max_iter=40, tol=0)
    ours = nmfuse.NMF(device="cpu", **fixed)
    theirs = SklearnNMF(**fixed)
    for estimator in (ours, theirs):
        estimator.fit(X)
        estimator.components_ = model.components_.copy()
    W = ours.transform(X_new)
    assert W.dtype == dtype and W.shape == (10, 3)
    assert relative_difference(W, theirs.transform(X_new)) < TOLERANCE[dtype]
    # Coordinate descent converges to each row's non-negative least squares solution.
    cd = nmfuse.NMF(3, solver="cd", tol=0, max_iter=2000, device="cpu").fit(X)
    W = cd.transform(X_new)
    H = cd.components_.astype(np.float64)
    for row, w in zip(X_new.astype(np.float64), W):
        assert relative_difference(w, nnls(H.T, row)[0]) < 100 * np.sqrt(np.finfo(dtype).eps)
    assert relative_difference(cd.inverse_transform(W), W @ cd.components_) == 0


@pytest.mark.parametrize("index", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_input_gives_the_dense_factors(dtype, index):
    rng = np.random.default_rng(7)
    dense = planted(80, 50, 4, seed=8, dtype=dtype) * (rng.random((80, 50)) < 0.3)
    csr = sp.csr_matrix(dense)
    csr.indices = csr.indices.astype(index)
    csr.indptr = csr.indptr.astype(index)
    settings = dict(n_components=4, max_iter=50, tol=0, device="cpu", random_state=0)
    for solver, beta_loss in (("cd", "frobenius"), ("mu", "kullback-leibler")):
        a = nmfuse.NMF(solver=solver, beta_loss=beta_loss, **settings)
        W_dense = a.fit_transform(dense)
        for X in (csr, csr.tocsc()):
            b = nmfuse.NMF(solver=solver, beta_loss=beta_loss, **settings)
            W_sparse = b.fit_transform(X)
            assert W_sparse.dtype == dtype
            assert relative_difference(W_sparse, W_dense) < TOLERANCE[dtype]
            assert relative_difference(b.components_, a.components_) < TOLERANCE[dtype]
        assert relative_difference(a.transform(csr), a.transform(dense)) < TOLERANCE[dtype]


def test_layouts_give_one_answer_and_results_are_not_copied():
    X = planted(30, 20, 3, seed=9)
    settings = dict(n_components=3, max_iter=40, device="cpu", random_state=0)
    c = nmfuse.NMF(**settings).fit_transform(np.ascontiguousarray(X))
    f = nmfuse.NMF(**settings).fit_transform(np.asfortranarray(X))
    wide = np.zeros((30, 25))
    wide[:, :20] = X  # rows with a stride past their length
    s = nmfuse.NMF(**settings).fit_transform(wide[:, :20])
    assert relative_difference(f, c) < TOLERANCE[np.float64]
    assert relative_difference(s, c) < TOLERANCE[np.float64]
    every_other = np.repeat(X, 2, axis=1)[:, ::2]  # neither rows nor columns contiguous
    assert relative_difference(nmfuse.NMF(**settings).fit_transform(every_other), c) < 1e-11
    assert not c.flags.owndata  # the library's own matrix, handed over


def test_missing_values_as_nan_or_a_mask():
    X = planted(40, 30, 3, seed=10)
    observed = np.random.default_rng(11).random(X.shape) < 0.8
    settings = dict(n_components=3, solver="mu", max_iter=60, tol=0, device="cpu", random_state=0)
    with_nan = np.where(observed, X, np.nan)
    a = nmfuse.NMF(**settings).fit(with_nan)
    b = nmfuse.NMF(**settings).fit(X, mask=observed)
    scrambled = np.where(observed, X, 1e6)  # what lies under the mask does not count
    c = nmfuse.NMF(**settings).fit(scrambled, mask=observed)
    assert relative_difference(a.components_, b.components_) == 0
    assert relative_difference(c.components_, b.components_) == 0
    full = nmfuse.NMF(**settings).fit(X)
    assert relative_difference(full.components_, b.components_) > 1e-3


def test_errors_carry_the_library_messages():
    X = planted(20, 8, 2, seed=12)
    with pytest.raises(ValueError, match=re.escape("option rank = 9: init = nndsvda needs a rank")):
        nmfuse.NMF(9, init="nndsvda", device="cpu").fit(X)
    with pytest.raises(ValueError, match="Negative values in data passed to NMF"):
        nmfuse.NMF(2, device="cpu").fit(-X)
    with pytest.raises(ValueError, match="solver 'cd' does not handle beta_loss"):
        nmfuse.NMF(2, beta_loss="kullback-leibler").fit(X)
    with pytest.raises(ValueError, match="X must be float32 or float64"):
        nmfuse._nmfuse.fit_dense(X.astype(np.float16), nmfuse._nmfuse.Options())
    with pytest.raises(TypeError, match="same dtype as X"):
        W0, H0 = start(X, 2, seed=13)
        nmfuse.NMF(2, init="custom").fit(X, W=W0.astype(np.float32), H=H0)
    for bad in (dict(max_iter=0), dict(solver="sgd"), dict(alpha_H=-1), dict(shuffle=True),
                dict(n_components=0), dict(device="tpu"), dict(beta_loss="hinge")):
        with pytest.raises(ValueError, match=f"The '{next(iter(bad))}' parameter of NMF must be"):
            nmfuse.NMF(**bad).fit(X)
    with pytest.warns(ConvergenceWarning, match="Maximum number of iterations 5 reached"):
        nmfuse.NMF(2, max_iter=5, tol=1e-12, device="cpu").fit(X)


def test_the_gil_is_released_during_a_fit():
    X = planted(600, 400, 20, seed=14, dtype=np.float32)
    done = threading.Event()
    ticks = 0

    def fit():
        nmfuse.NMF(20, solver="mu", max_iter=300, tol=0, device="cpu").fit(X)
        done.set()

    worker = threading.Thread(target=fit)
    worker.start()
    while not done.is_set():  # runs only while the fit lets go of the GIL
        ticks += 1
        time.sleep(0.001)
    worker.join()
    assert ticks > 20


def test_ctrl_c_stops_a_fit_with_keyboard_interrupt():
    X = planted(400, 300, 10, seed=15, dtype=np.float32)
    threading.Timer(0.3, _thread.interrupt_main).start()
    began = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        nmfuse.NMF(10, solver="mu", max_iter=10**7, tol=0, device="cpu").fit(X)
    assert time.monotonic() - began < 60  # not the ten million iterations


def test_readme_python_quick_start_finds_every_limb_position():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    assert len(code.strip().splitlines()) == 5
    scope = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the quick start converges
        exec(code, scope)
    parts = nmfuse.datasets.swimmer_parts()
    found = scope["model"].components_
    correlation = np.corrcoef(np.vstack([parts, found]))[:17, 17:]
    assert (correlation[1:].max(axis=1) > 0.99).all()  # the 16 limb positions
    assert scope["parts"].shape == (17, 32, 32)


def test_consensus_of_restarts():
    X = planted(40, 30, 3, seed=17)
    runs = [nmfuse.NMF(3, init="random", solver="mu", max_iter=30, random_state=seed,
                       device="cpu").fit_transform(X) for seed in range(12)]
    result = nmfuse.consensus(runs)
    labels = [W.argmax(axis=1) for W in runs]
    expected = np.mean([label[:, None] == label[None, :] for label in labels], axis=0)
    assert np.abs(result["matrix"] - expected).max() < 1e-12
    assert result["dispersion"] == pytest.approx(np.mean(4 * (expected - 0.5) ** 2), rel=1e-12)
    # C takes 13 values here, so its clustering has ties, broken by sample index; scipy
    # breaks them otherwise, and its own value moves as the samples are permuted.
    assert 0 < result["cophenetic"] <= 1
    assert sorted(result["order"]) == list(range(40))
    same = nmfuse.consensus([runs[0]] * 5)
    assert set(np.unique(same["matrix"])) <= {0.0, 1.0} and same["cophenetic"] == pytest.approx(1)


def test_estimate_rank_suggests_the_planted_rank():
    X = planted(50, 60, 4, seed=18)
    survey = nmfuse.estimate_rank(X, range(2, 7), restarts=3, splits=3, solver="mu",
                                  max_iter=300, random_state=0, device="cpu")
    assert survey["suggested_rank"] == 4, survey["rule"]
    assert sorted(survey["ranks"]) == [2, 3, 4, 5, 6]
    four = survey["ranks"][4]
    assert four["consensus"].shape == (50, 50) and len(four["losses"]) == 3
    assert survey["ranks"][3]["holdout_mean"] > four["holdout_mean"]
    assert "one standard error" in survey["rule"]


def test_estimate_rank_of_missing_and_sparse_x_matches_the_masked_survey():
    X = planted(50, 60, 4, seed=19)
    observed = np.random.default_rng(20).random(X.shape) < 0.8
    params = dict(restarts=2, splits=2, solver="mu", max_iter=100, random_state=0, device="cpu")
    masked = nmfuse.estimate_rank(X, [3, 4], mask=observed, **params)
    missing = nmfuse.estimate_rank(np.where(observed, X, np.nan), [3, 4], **params)
    assert masked["ranks"][4]["holdout_errors"] == missing["ranks"][4]["holdout_errors"]
    assert "observed entries" in masked["rule"]
    # The observed entries as the stored ones of a sparse X whose absent ones are
    # unknown: the same entries, hidden in the same order (the samples' order).
    S = sp.csr_matrix(np.where(observed, X, 0))
    sparse = nmfuse.estimate_rank(S, [3, 4], absent="unknown", **params)
    assert sparse["ranks"][4]["holdout_errors"] == pytest.approx(
        masked["ranks"][4]["holdout_errors"], rel=1e-9)
    assert "stored entries" in sparse["rule"]
    with pytest.raises(ValueError, match="mask is for a dense X"):
        nmfuse.estimate_rank(S, [3], mask=observed, **params)


def test_minibatch_nmf_fits_around_missing_values_of_a_sparse_x():
    X, W = planted_stream(1200, seed=21)
    observed = np.random.default_rng(22).random(X.shape) < 2 / 3
    S = sp.csr_matrix((X[observed], np.nonzero(observed)), shape=X.shape)
    model = nmfuse.MiniBatchNMF(4, solver="mu", absent="unknown", batch_size=100, max_iter=20,
                                max_no_improvement=None, tol=0, random_state=0, device="cpu")
    model.fit(S)
    # The missing entries are predicted from the observed ones.
    predicted = model.transform(S) @ model.components_
    hidden = ~observed
    assert np.linalg.norm((predicted - X)[hidden]) < 0.1 * np.linalg.norm(X[hidden])
    with pytest.raises(ValueError, match="absent='unknown' is for a scipy.sparse X"):
        nmfuse.MiniBatchNMF(4, absent="unknown", device="cpu").fit(X)
    with pytest.raises(ValueError, match="online fitting with missing values"):
        nmfuse.MiniBatchNMF(4, absent="unknown", device="cpu").fit(S)


def test_minibatch_nmf_takes_a_dense_x_with_missing_values():
    """np.nan or mask= in a dense X: the steps of the sparse X of its observed entries
    (absent="unknown"), to rounding, in fit, partial_fit and transform."""
    X, _ = planted_stream(600, seed=23)
    observed = np.random.default_rng(24).random(X.shape) < 0.7
    S = sp.csr_matrix((X[observed], np.nonzero(observed)), shape=X.shape)
    with_nan = np.where(observed, X, np.nan)
    params = dict(n_components=4, solver="mu", batch_size=100, max_iter=5, tol=0,
                  max_no_improvement=None, random_state=0, device="cpu")
    sparse = nmfuse.MiniBatchNMF(absent="unknown", **params).fit(S)
    by_nan = nmfuse.MiniBatchNMF(**params).fit(with_nan)
    by_mask = nmfuse.MiniBatchNMF(**params).fit(np.where(observed, X, 1000.0), mask=observed)
    for dense in (by_nan, by_mask):
        np.testing.assert_allclose(dense.components_, sparse.components_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(by_nan.transform(with_nan), sparse.transform(S),
                               rtol=1e-9, atol=1e-12)
    by_nan.partial_fit(with_nan[:100])
    sparse.partial_fit(S[:100])
    np.testing.assert_allclose(by_nan.components_, sparse.components_, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="online fitting with missing values"):
        nmfuse.MiniBatchNMF(4, device="cpu").fit(with_nan)
    with pytest.raises(ValueError, match="online fitting with missing values"):
        nmfuse.MiniBatchNMF(4, device="cpu").fit(X, mask=observed)
    assert not nmfuse.MiniBatchNMF(solver="hals").__sklearn_tags__().input_tags.allow_nan
    assert nmfuse.MiniBatchNMF(solver="mu").__sklearn_tags__().input_tags.allow_nan


def planted_stream(n_samples, seed):
    """Samples (rows) W_planted·h + noise: h sparse, W_planted banded (identifiable)."""
    m, k = 40, 4
    W = np.full((m, k), 0.05)
    W[np.arange(m), np.arange(m) * k // m] = 1.0
    rng = np.random.default_rng(seed)
    H = rng.random((k, n_samples)) * (rng.random((k, n_samples)) > 0.6)
    return (W @ H + 0.01 * rng.random((m, n_samples))).T.copy(), W


def frobenius(X, model):
    return 0.5 * np.sum((X - model.transform(X) @ model.components_) ** 2)


def test_minibatch_fit_approaches_the_batch_solution_and_beats_scikit_learns():
    from sklearn.decomposition import MiniBatchNMF as SklearnMiniBatchNMF
    X, planted = planted_stream(2400, 7)
    params = dict(batch_size=200, max_iter=20, max_no_improvement=None, random_state=0)
    online = nmfuse.MiniBatchNMF(4, tol=1e-6, device="cpu", **params).fit(X)
    assert online.n_steps_ == 240 and online.n_iter_ == 20
    batch = nmfuse.NMF(4, solver="hals", max_iter=1000, tol=1e-7, device="cpu").fit(X)
    assert frobenius(X, online) < 1.05 * frobenius(X, batch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        peer = SklearnMiniBatchNMF(4, init="nndsvda", tol=0, **params).fit(X)
    assert frobenius(X, online) < frobenius(X, peer)
    cosines = planted.T @ online.components_.T
    cosines /= np.outer(np.linalg.norm(planted, axis=0), np.linalg.norm(online.components_, axis=1))
    assert np.all(cosines.max(axis=1) > 0.99)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_minibatch_partial_fit_sparse_equals_dense(dtype):
    X, _ = planted_stream(600, 3)
    X = (X * (X > 0.3)).astype(dtype)
    dense, sparse = (nmfuse.MiniBatchNMF(4, beta_loss="kullback-leibler", solver="mu",
                                         random_state=0, device="cpu") for _ in range(2))
    for start in range(0, 600, 150):
        dense.partial_fit(X[start:start + 150])
        sparse.partial_fit(sp.csr_matrix(X[start:start + 150]))
    assert dense.n_steps_ == sparse.n_steps_ == 4
    assert dense.components_.dtype == dtype
    tolerance = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(sparse.components_, dense.components_, rtol=tolerance,
                               atol=tolerance * dense.components_.max())
    assert dense.transform(X[:7]).shape == (7, 4)


def test_minibatch_parameters_are_checked():
    X, _ = planted_stream(100, 1)
    with pytest.raises(ValueError, match="'solver' parameter of MiniBatchNMF"):
        nmfuse.MiniBatchNMF(2, solver="cd").fit(X)
    with pytest.raises(ValueError, match="forget_factor = 0"):
        nmfuse.MiniBatchNMF(2, forget_factor=0, device="cpu").fit(X)
    model = nmfuse.MiniBatchNMF(2, device="cpu").partial_fit(X)
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(X[:, :10])
    with pytest.raises(TypeError, match="learns from float64 batches"):
        model.partial_fit(X.astype(np.float32))
    assert nmfuse.MiniBatchNMF(3, batch_size=7).get_params()["batch_size"] == 7
    with pytest.raises(ValueError, match="takes no W or H"):
        nmfuse.MiniBatchNMF(2, device="cpu").fit(X, H=np.ones((2, X.shape[1])))


def test_minibatch_penalizes_the_components_by_alpha_H():
    # scikit-learn's H is the components: alpha_H alone must shrink them, alpha_W alone
    # must leave them nearly as they were.
    X, _ = planted_stream(400, 2)
    fit = lambda **alpha: nmfuse.MiniBatchNMF(
        4, batch_size=100, max_iter=5, random_state=0, device="cpu", l1_ratio=1.0, **alpha).fit(X)
    plain = fit().components_.sum()
    assert fit(alpha_W=0.0, alpha_H=0.05).components_.sum() < 0.9 * plain
    assert fit(alpha_W=0.05, alpha_H=0.0).components_.sum() > 0.9 * plain


def test_minibatch_scikit_learn_estimator_checks():
    check_estimator(nmfuse.MiniBatchNMF(device="cpu", max_iter=50))


def test_minibatch_unpickled_goes_on_from_its_components():
    import pickle
    X, _ = planted_stream(800, 4)
    model = nmfuse.MiniBatchNMF(4, random_state=0, device="cpu")
    for start in range(0, 400, 100):
        model.partial_fit(X[start:start + 100])
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copy.transform(X[:5]), model.transform(X[:5]))
    model.partial_fit(X[400:500])
    assert model.n_steps_ == 5, "pickling leaves the live model's sums alone"
    before = copy.components_.copy()
    copy.partial_fit(X[400:500])
    assert copy.n_steps_ == 1  # its sums start afresh, from the components
    unit = lambda H: H / np.linalg.norm(H, axis=1, keepdims=True)  # NMF's scale is free
    assert np.all(np.sum(unit(copy.components_) * unit(before), axis=1) > 0.99)
