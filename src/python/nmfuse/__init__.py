"""nmfuse: non-negative matrix factorization on the CPU and NVIDIA GPUs.

``nmfuse.NMF`` takes scikit-learn's ``sklearn.decomposition.NMF`` parameters (plus
``device``) and runs nmfuse's C++ library underneath.
"""
from . import datasets
from ._estimator import NMF, consensus, estimate_rank
from ._nmfuse import build_info, set_cpu_threads

__all__ = ["NMF", "build_info", "consensus", "datasets", "estimate_rank", "set_cpu_threads"]
__version__ = build_info()["version"]
