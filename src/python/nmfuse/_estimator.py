"""nmfuse.NMF: scikit-learn's NMF estimator over nmfuse's library.

X is (n_samples, n_features) and X ≈ W·H with W = fit_transform(X) (n_samples ×
n_components) and H = components_ (n_components × n_features), as in scikit-learn: the
library's V is X itself, read where it lies.
"""
import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, check_non_negative, validate_data

from . import _nmfuse

_LOSSES = {"frobenius": 2.0, "kullback-leibler": 1.0, "itakura-saito": 0.0}
_INITS = {
    None: _nmfuse.Init.Auto,
    "random": _nmfuse.Init.Random,
    "nndsvd": _nmfuse.Init.NNDSVD,
    "nndsvda": _nmfuse.Init.NNDSVDa,
    "nndsvdar": _nmfuse.Init.NNDSVDar,
    "custom": _nmfuse.Init.Custom,
}
_DEVICES = {"auto": _nmfuse.Device.Auto, "cpu": _nmfuse.Device.Cpu, "cuda": _nmfuse.Device.Cuda}
_DLPACK_CUDA = (2, 13)  # kDLCUDA, kDLCUDAManaged


class NMF(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Non-negative matrix factorization, X ≈ W·H, by nmfuse.

    The parameters are scikit-learn's (``sklearn.decomposition.NMF``), with the same
    meaning, plus:

    solver : {"cd", "mu", "hals"}, default="cd"
        "cd" and "mu" run scikit-learn's coordinate descent and multiplicative updates
        step for step. "hals" is nmfuse's accelerated HALS (inner sweeps and
        extrapolation): the same loss as "cd" in fewer iterations, Frobenius only.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where to run: "auto" takes a usable GPU where there is one.
    absent : {"zero", "unknown"}, default="zero"
        What the entries a sparse X does not store are: zeros, or missing values.

    Missing values of a dense X are np.nan entries, or the False entries of the mask
    passed to fit; they neither pull the fit nor count in the loss.

    Where it differs from scikit-learn: the stopping rule is the loss-based test of
    "mu" for every solver (every 10 iterations), so "cd" may stop at another
    iteration; a random start (init="random", and "nndsvdar"'s noise) is drawn by
    nmfuse's generator, seeded from random_state; shuffle=True is not available.
    """

    def __init__(
        self,
        n_components="auto",
        *,
        init=None,
        solver="cd",
        beta_loss="frobenius",
        tol=1e-4,
        max_iter=200,
        random_state=None,
        alpha_W=0.0,
        alpha_H="same",
        l1_ratio=0.0,
        verbose=0,
        shuffle=False,
        device="auto",
        absent="zero",
    ):
        self.n_components = n_components
        self.init = init
        self.solver = solver
        self.beta_loss = beta_loss
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.alpha_W = alpha_W
        self.alpha_H = alpha_H
        self.l1_ratio = l1_ratio
        self.verbose = verbose
        self.shuffle = shuffle
        self.device = device
        self.absent = absent

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.input_tags.sparse = True
        tags.input_tags.allow_nan = True  # missing values
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    # The library's options for these parameters, on an X of n_features columns.
    def _options(self, n_features, H=None, fitting=True):
        def check(name, ok, want):
            if not ok:
                raise ValueError(f"The '{name}' parameter of NMF must be {want}. "
                                 f"Got {getattr(self, name)!r} instead.")

        k, loss = self.n_components, self.beta_loss
        check("n_components", k in (None, "auto") or (_is(k, numbers.Integral) and k >= 1),
              "an int ≥ 1, 'auto' or None")
        check("init", self.init in _INITS,
              "one of None, 'random', 'nndsvd', 'nndsvda', 'nndsvdar', 'custom'")
        check("solver", self.solver in ("cd", "mu", "hals"), "'cd', 'mu' or 'hals'")
        check("beta_loss", loss in _LOSSES if isinstance(loss, str) else _is(loss, numbers.Real),
              "'frobenius', 'kullback-leibler', 'itakura-saito' or a float")
        check("tol", _is(self.tol, numbers.Real) and self.tol >= 0, "a float ≥ 0")
        check("max_iter", _is(self.max_iter, numbers.Integral) and self.max_iter >= 1,
              "an int ≥ 1")
        check("alpha_W", _is(self.alpha_W, numbers.Real) and self.alpha_W >= 0, "a float ≥ 0")
        same = isinstance(self.alpha_H, str) and self.alpha_H == "same"
        check("alpha_H", same or (_is(self.alpha_H, numbers.Real) and self.alpha_H >= 0),
              "a float ≥ 0 or 'same'")
        check("l1_ratio", _is(self.l1_ratio, numbers.Real) and 0 <= self.l1_ratio <= 1,
              "a float in [0, 1]")
        check("shuffle", not self.shuffle, "False (nmfuse sweeps the components in order)")
        check("device", self.device in _DEVICES, "'auto', 'cpu' or 'cuda'")
        check("absent", self.absent in ("zero", "unknown"), "'zero' or 'unknown'")
        if k in (None, "auto"):
            k = H.shape[0] if H is not None else n_features
        beta = _LOSSES[loss] if isinstance(loss, str) else float(loss)
        if self.solver != "mu" and beta != 2:
            raise ValueError(f"Invalid beta_loss parameter: solver {self.solver!r} does not "
                             f"handle beta_loss = {loss!r}")
        if self.solver == "mu" and self.init == "nndsvd":
            warnings.warn(
                "The multiplicative update ('mu') solver cannot update zeros present in the "
                "initialization, and so leads to poorer results when used jointly with "
                "init='nndsvd'. You may try init='nndsvda' or init='nndsvdar' instead.",
                UserWarning,
            )

        opt = _nmfuse.Options()
        opt.rank = int(k)
        opt.loss = {2.0: _nmfuse.Loss.Frobenius, 1.0: _nmfuse.Loss.KullbackLeibler,
                    0.0: _nmfuse.Loss.ItakuraSaito}.get(beta, _nmfuse.Loss.Beta)
        opt.beta = beta
        if self.solver == "mu":
            opt.solver = _nmfuse.Solver.MU
        else:
            opt.solver = _nmfuse.Solver.HALS
            if self.solver == "cd":  # scikit-learn's: one plain sweep per pair of products
                opt.hals_inner_max = 1
                opt.hals_extrapolate = False
                opt.hals_restart_dead = False
        opt.init = _INITS[self.init]
        opt.max_iter = int(self.max_iter)
        opt.tol = float(self.tol)
        if fitting:  # random_state=None draws from NumPy's global generator, as scikit-learn
            opt.seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        opt.alpha_W = float(self.alpha_W)
        opt.alpha_H = None if self.alpha_H == "same" else float(self.alpha_H)
        opt.l1_ratio = float(self.l1_ratio)
        opt.device = _DEVICES[self.device]
        return opt

    def fit(self, X, y=None, **params):
        """Learn W and H for X; ``params`` go to fit_transform (W, H, mask)."""
        self.fit_transform(X, **params)
        return self

    def fit_transform(self, X, y=None, W=None, H=None, mask=None):
        """Learn the model for X (n_samples × n_features) and return W.

        W, H: the starting factors where init="custom" (ignored otherwise, with a
        warning). mask: a boolean array of X's shape, True where X is observed.
        """
        if _on_gpu(X):
            return self._fit_gpu(X, W, H, mask)
        X = validate_data(self, X, accept_sparse=("csr", "csc"), dtype=[np.float64, np.float32],
                          ensure_all_finite="allow-nan")
        check_non_negative(X, "NMF (input X)")
        opt = self._options(X.shape[1], H if self.init == "custom" else None)
        custom = self._starting_factors(X, W, H, opt.rank)
        starts = dict(W=custom[0], H=custom[1]) if custom else {}
        verbose = bool(self.verbose)
        if sp.issparse(X):
            _refuse_a_mask_for_sparse(mask)
            X = _canonical_csr(X)
            W, H, info = _nmfuse.fit_sparse(X.data, X.indices, X.indptr, X.shape[0], X.shape[1],
                                            self.absent == "unknown", opt, verbose, **starts)
        else:
            X, observed = _missing_as_mask(_rows_or_columns_contiguous(X), mask)
            W, H, info = _nmfuse.fit_dense(X, opt, verbose, observed=observed, **starts)
        return self._fitted(W, H, info, opt.rank)

    def _fit_gpu(self, X, W, H, mask):
        """Factors a CuPy or PyTorch array where it lies; W and H come back on the GPU."""
        if mask is not None or W is not None or H is not None:
            raise ValueError("an X on the GPU takes neither a mask nor starting factors")
        if self.init == "custom":
            raise ValueError("init='custom' needs X on the host")
        if "float32" not in str(X.dtype):
            raise ValueError(f"an X on the GPU must be float32, the GPU's working type; "
                             f"got {X.dtype}")
        opt = self._options(X.shape[1])
        W, H, info = _nmfuse.fit_gpu(X, opt, bool(self.verbose))
        framework = _framework_of(X)
        self.n_features_in_ = X.shape[1]
        return self._fitted(framework.from_dlpack(W), framework.from_dlpack(H), info, opt.rank)

    def _starting_factors(self, X, W, H, k):
        n_samples, n_features = X.shape
        if self.init != "custom":
            if W is not None or H is not None:
                warnings.warn("When init!='custom', provided W or H are ignored. Set "
                              " init='custom' to use them as initialization.", RuntimeWarning)
            return None
        if W is None or H is None:
            raise ValueError("init='custom' needs W and H")
        checked = []
        for name, A, shape in (("W", W, (n_samples, k)), ("H", H, (k, n_features))):
            A = check_array(A, dtype=None)
            if A.shape != shape:
                raise ValueError(f"Array with wrong shape passed to NMF (input {name}). "
                                 f"Expected {shape}, but got {A.shape}")
            if A.dtype != X.dtype:
                raise TypeError("H and W should have the same dtype as X. "
                                f"Got {name}.dtype = {A.dtype}.")
            check_non_negative(A, f"NMF (input {name})")
            checked.append(A)
        return checked

    def _fitted(self, W, H, info, k):
        self.components_ = H
        self.n_components_ = k
        self.n_iter_ = info["iterations"]
        self.reconstruction_err_ = float(np.sqrt(2 * info["loss_history"][-1]))
        self.loss_history_ = np.asarray(info["loss_history"])
        self.device_ = info["device"]
        self.device_reason_ = info["device_reason"]
        self.fit_seconds_ = info["seconds"]
        if self.n_iter_ == self.max_iter and self.tol > 0:
            warnings.warn(f"Maximum number of iterations {self.max_iter} reached. Increase it "
                          "to improve convergence.", ConvergenceWarning)
        return W

    def transform(self, X, mask=None):
        """W for new samples X (n × n_features) with components_ fixed; missing values
        (np.nan, or outside mask where X is dense) are fitted around."""
        check_is_fitted(self)
        if _on_gpu(X):  # the library solves for W on the host: there and back
            framework = _framework_of(X)
            if framework.to_host is None:
                raise TypeError(f"transform takes GPU arrays from CuPy and PyTorch, not {type(X)}")
            return framework.asarray(self.transform(framework.to_host(X), mask=mask))
        X = validate_data(self, X, accept_sparse=("csr", "csc"), dtype=[np.float64, np.float32],
                          reset=False, ensure_all_finite="allow-nan")
        check_non_negative(X, "NMF (input X)")
        # W for X is Hᵀ of the library's problem Xᵀ ≈ Hᵀ·Wᵀ, whose W is components_ᵀ.
        # Its regularization of H is this model's of W (alpha_W, scaled by n_features).
        opt = self._options(X.shape[1], self.components_, fitting=False)
        opt.alpha_H = opt.alpha_W
        H = self.components_
        if _on_gpu(H):
            to_host = _framework_of(H).to_host
            if to_host is None:
                raise TypeError(f"transform needs components_ from CuPy or PyTorch, not {type(H)}")
            H = to_host(H)
        H = np.asarray(H, dtype=X.dtype)
        if sp.issparse(X):
            _refuse_a_mask_for_sparse(mask)
            Xt = _canonical_csr(X.T.tocsr())
            Wt = _nmfuse.solve_H_sparse(Xt.data, Xt.indices, Xt.indptr, Xt.shape[0], Xt.shape[1],
                                        self.absent == "unknown", H.T, opt)
        else:  # missing values (np.nan, or outside mask) are fitted around
            X, observed = _missing_as_mask(_rows_or_columns_contiguous(X), mask)
            Wt = _nmfuse.solve_H_dense(X.T, H.T, opt,
                                       observed=None if observed is None else observed.T)
        return Wt.T

    def inverse_transform(self, X):
        """W·H: data back in the space of the features."""
        check_is_fitted(self)
        return X @ self.components_


class MiniBatchNMF(NMF):
    """Online NMF by nmfuse: scikit-learn's ``MiniBatchNMF`` over ``Model::partial_fit``.

    The parameters are scikit-learn's MiniBatchNMF's, with the same meaning (``max_iter``
    counts passes over X; ``transform_max_iter``, default ``max_iter``, bounds each
    batch's inner solve), plus ``device``, ``solver`` and ``absent``:

    solver : {"hals", "mu"}, default="hals"
        "hals" (Frobenius only) moves the components by HALS sweeps on the discounted
        sums Σ X_bᵀ·W_b and Σ W_bᵀ·W_b (Mairal et al. 2010); "mu", every β, keeps
        scikit-learn's sums of the multiplicative update (Lefèvre et al. 2011).
    absent : {"zero", "unknown"}, default="zero"
        For a scipy.sparse X: "unknown" makes its absent entries missing values, which
        "mu" fits around (only the stored entries count).

    Where it differs from scikit-learn (README, "Online fitting"): a batch's W is solved
    to ``tol`` rather than taken one multiplicative step; the first batch starts the
    components; ``fresh_restarts`` is not available; missing values are taken, with
    solver="mu": a dense X's np.nan entries or those outside ``mask`` (fit, partial_fit
    and fit_transform take one), a sparse X's absent entries with absent="unknown".
    """

    def __init__(
        self,
        n_components="auto",
        *,
        init=None,
        batch_size=1024,
        beta_loss="frobenius",
        tol=1e-4,
        max_no_improvement=10,
        max_iter=200,
        alpha_W=0.0,
        alpha_H="same",
        l1_ratio=0.0,
        forget_factor=0.7,
        transform_max_iter=None,
        random_state=None,
        verbose=0,
        solver="hals",
        device="auto",
        absent="zero",
    ):
        super().__init__(n_components, init=init, solver=solver, beta_loss=beta_loss, tol=tol,
                         max_iter=max_iter, random_state=random_state, alpha_W=alpha_W,
                         alpha_H=alpha_H, l1_ratio=l1_ratio, verbose=verbose, device=device,
                         absent=absent)
        self.batch_size = batch_size
        self.max_no_improvement = max_no_improvement
        self.forget_factor = forget_factor
        self.transform_max_iter = transform_max_iter

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.solver == "mu"  # online HALS takes no missing values
        return tags

    def _options(self, n_features, H=None, fitting=True):
        if self.solver not in ("hals", "mu"):
            raise ValueError("The 'solver' parameter of MiniBatchNMF must be 'hals' or 'mu'. "
                             f"Got {self.solver!r} instead.")
        opt = super()._options(n_features, H, fitting)
        inner = self.max_iter if self.transform_max_iter is None else self.transform_max_iter
        if not (_is(inner, numbers.Integral) and inner >= 1):
            raise ValueError("The 'transform_max_iter' parameter of MiniBatchNMF must be an "
                             f"int ≥ 1 or None. Got {inner!r} instead.")
        opt.max_iter = int(inner)
        opt.max_passes = int(self.max_iter)
        opt.batch_size = int(self.batch_size)
        opt.forget_factor = float(self.forget_factor)
        opt.max_no_improvement = 0 if self.max_no_improvement is None else int(self.max_no_improvement)
        return opt

    def fit_transform(self, X, y=None, W=None, H=None, mask=None):
        """Learn the components from X's rows in batches, then return W for X."""
        self.fit(X, W=W, H=H, mask=mask)
        return self.transform(X, mask=mask)

    def fit(self, X, y=None, W=None, H=None, mask=None):
        """A fresh online fit: passes over X's rows (samples) in batches of batch_size.
        mask: a boolean array of X's shape, True where X is observed."""
        X, observed = self._checked(X, W, H, mask, reset=True)
        self._model = None
        return self._learn(X, observed, fresh=True)

    def partial_fit(self, X, y=None, W=None, H=None, mask=None):
        """One step on a batch of new samples X (n × n_features)."""
        X, observed = self._checked(X, W, H, mask, reset=not hasattr(self, "components_"))
        return self._learn(X, observed, fresh=False)

    def transform(self, X, mask=None):
        """W for new samples X (n × n_features) with components_ fixed."""
        if self.solver != "mu":  # as its tags say: missing values only with solver="mu"
            check_array(X, accept_sparse=("csr", "csc"), dtype=None)
        return super().transform(X, mask=mask)

    # A pickle keeps the components but not the C++ model with its sums: partial_fit
    # after unpickling goes on from the components, its sums started afresh.
    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: the live model keeps its _model
        state.pop("_model", None)
        return state

    # (X, the mask of its observed entries or None); a dense X's np.nan entries are 0 in it.
    def _checked(self, X, W, H, mask, reset):
        if W is not None or H is not None or self.init == "custom":
            raise ValueError("MiniBatchNMF starts its components from the first batch: it "
                             "takes no W or H (init='custom')")
        X = validate_data(self, X, accept_sparse=("csr", "csc"), dtype=[np.float64, np.float32],
                          reset=reset, ensure_all_finite="allow-nan")
        check_non_negative(X, "MiniBatchNMF (input X)")
        if sp.issparse(X):
            _refuse_a_mask_for_sparse(mask)
            return X, None
        if self.absent != "zero":
            raise ValueError("absent='unknown' is for a scipy.sparse X; a dense X marks missing "
                             "values as np.nan or outside mask")
        if self.solver != "mu" and np.isnan(X).any():
            raise ValueError(f"Input X contains NaN: online fitting with missing values takes "
                             f"solver='mu', not {self.solver!r}")
        return _missing_as_mask(_rows_or_columns_contiguous(X), mask)

    # The library's V is Xᵀ (features × samples): its columns are the samples, its W the
    # components' transpose. A dense Xᵀ is a view; a sparse one is X in CSC, read as CSR.
    def _learn(self, X, observed, fresh):
        model = getattr(self, "_model", None)
        if model is None:
            # The library's W is the components (scikit-learn's H): the penalties swap.
            opt = self._options(X.shape[1])
            opt.alpha_W, opt.alpha_H = (opt.alpha_W if opt.alpha_H is None else opt.alpha_H,
                                        opt.alpha_W)
            kind = _nmfuse.OnlineModel32 if X.dtype == np.float32 else _nmfuse.OnlineModel64
            model = self._model = kind(opt, bool(self.verbose))
            if not fresh and hasattr(self, "components_"):  # unpickled: go on from them
                model.start_from(np.asarray(self.components_, dtype=X.dtype).T)
        elif (X.dtype == np.float32) != isinstance(model, _nmfuse.OnlineModel32):
            raise TypeError(f"this model learns from {'float32' if X.dtype != np.float32 else 'float64'} "
                            f"batches, not {X.dtype}")
        if sp.issparse(X):
            Vt = sp.csc_matrix(X, copy=True)  # sorted here, not the caller's
            Vt.sort_indices()
            call = model.fit_online_sparse if fresh else model.partial_fit_sparse
            info = call(Vt.data, Vt.indices, Vt.indptr, X.shape[1], X.shape[0],
                        self.absent == "unknown")
        else:
            observed = None if observed is None else observed.T
            call = model.fit_online if fresh else model.partial_fit
            info = call(X.T, observed=observed)
        self.components_ = np.ascontiguousarray(model.W().T)
        self.n_components_ = self.components_.shape[0]
        self.n_steps_ = info["steps"]
        self.n_iter_ = info["passes"]
        self.batch_cost_ = np.asarray(info["batch_cost"])
        self.device_ = info["device"]
        self.device_reason_ = info["device_reason"]
        return self


def consensus(runs):
    """How much several fits agree about the samples (the rows of X), from each fit's W
    (n_samples × k, k may differ): a dict of the consensus matrix (n_samples ×
    n_samples: how often two samples share their dominant component), "cophenetic"
    (Brunet et al. 2004), "dispersion" (Kim & Park 2007) and "order" (the samples in the
    leaf order of the matrix's average-linkage clustering, for plots)."""
    runs = [np.asarray(W) for W in runs]
    if runs and runs[0].dtype not in (np.float32, np.float64):
        runs = [W.astype(np.float64) for W in runs]
    return _nmfuse.consensus([_rows_or_columns_contiguous(W) for W in runs])


def estimate_rank(X, ranks=range(2, 11), *, restarts=10, holdout=0.1, splits=3, mask=None,
                  **params):
    """Surveys the ranks for X (n_samples × n_features): at each rank `restarts` fits
    from random starts (their consensus over the samples and their losses) and `splits`
    fits with a fraction `holdout` of the entries hidden, the mean error on those.
    ``params`` are NMF's (solver, beta_loss, tol, max_iter, random_state, absent, …).

    X may be dense, with missing values as np.nan or outside `mask` (a boolean array of
    X's shape, True where observed): only observed entries are fitted or hidden. A
    scipy.sparse X hides a fraction of its stored entries; with absent="zero" (the
    default) each split fits a dense copy of X with those entries masked.

    Returns a dict: "ranks" (a dict per rank: "losses", "best_restart",
    "holdout_errors", "holdout_mean", "holdout_standard_error", "cophenetic",
    "dispersion", "consensus", "order"), "suggested_rank" and "rule" (how it was
    chosen: the one-standard-error rule on the held-out error).
    """
    model = NMF(n_components=1, **params)
    X = check_array(X, accept_sparse=("csr", "csc"), dtype=[np.float64, np.float32],
                    ensure_all_finite="allow-nan")
    check_non_negative(X, "estimate_rank (input X)")
    opt = model._options(X.shape[1])
    # The samples are the library's columns: X's transpose, whose W is this X's H.
    opt.alpha_W, opt.alpha_H = (opt.alpha_W if opt.alpha_H is None else opt.alpha_H), opt.alpha_W
    survey = dict(options=opt, verbose=bool(model.verbose), ranks=[int(k) for k in ranks],
                  restarts=restarts, holdout=holdout, splits=splits)
    if sp.issparse(X):
        _refuse_a_mask_for_sparse(mask)
        Xt = _canonical_csr(X.T.tocsr())
        table = _nmfuse.survey_ranks_sparse(Xt.data, Xt.indices, Xt.indptr, Xt.shape[0],
                                            Xt.shape[1], model.absent == "unknown", **survey)
    else:
        X, observed = _missing_as_mask(_rows_or_columns_contiguous(X), mask)
        table = _nmfuse.survey_ranks(X.T, observed=None if observed is None else _rows_or_columns_contiguous(observed).T,
                                     **survey)
    suggested, rule = table.pop()
    return {"ranks": {row.pop("rank"): row for row in table}, "suggested_rank": suggested,
            "rule": rule}


def _is(value, kind):
    """A number of that kind (numbers.Integral, numbers.Real), not a bool."""
    return isinstance(value, kind) and not isinstance(value, bool)


def _on_gpu(X):
    return (not isinstance(X, np.ndarray) and hasattr(X, "__dlpack_device__")
            and X.__dlpack_device__()[0] in _DLPACK_CUDA)


class _Framework:
    """How to bring the library's GPU arrays (DLPack) into X's framework, and back."""

    def __init__(self, from_dlpack, asarray=None, to_host=None):
        self.from_dlpack, self.asarray, self.to_host = from_dlpack, asarray, to_host


def _framework_of(X):
    """CuPy's or PyTorch's, whichever X belongs to; for any other DLPack producer the
    library's own arrays, which export DLPack (and transform is not available)."""
    name = type(X).__module__.split(".")[0]
    if name == "cupy":
        import cupy

        return _Framework(cupy.from_dlpack, cupy.asarray, cupy.asnumpy)
    if name == "torch":
        import torch

        return _Framework(torch.from_dlpack, lambda A: torch.as_tensor(A, device=X.device),
                          lambda A: A.detach().cpu().numpy())
    return _Framework(lambda A: A)


def _canonical_csr(X):
    """CSR with sorted, unique column indices in each row, as the library reads it."""
    X = X.tocsr()
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    if X.indices.dtype != X.indptr.dtype:
        X.indices = X.indices.astype(np.int64)
        X.indptr = X.indptr.astype(np.int64)
    return X


def _rows_or_columns_contiguous(X):
    """X itself where the library can read it in place (its rows or its columns
    contiguous), else a C-ordered copy."""
    item = X.itemsize
    if X.strides[1] == item and X.strides[0] >= X.shape[1] * item:
        return X
    if X.strides[0] == item and X.strides[1] >= X.shape[0] * item:
        return X
    return np.ascontiguousarray(X)


def _refuse_a_mask_for_sparse(mask):
    if mask is not None:
        raise ValueError("mask is for a dense X; a sparse X marks missing values "
                         "with absent='unknown'")


def _missing_as_mask(X, mask):
    """(X with its np.nan entries as zeros, the mask of observed entries or None)."""
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != X.shape:
            raise ValueError(f"mask has shape {mask.shape}, but X has shape {X.shape}")
        mask = mask.astype(bool, copy=False)
    missing = np.isnan(X)
    if missing.any():
        observed = ~missing if mask is None else mask & ~missing
        return np.where(missing, 0, X).astype(X.dtype, copy=False), observed
    return X, mask
