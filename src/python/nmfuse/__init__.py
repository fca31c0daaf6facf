"""nmfuse: non-negative matrix factorization on the CPU and NVIDIA GPUs.

``nmfuse.NMF`` and ``nmfuse.MiniBatchNMF`` take scikit-learn's parameters (plus
``device``) and run nmfuse's C++ library underneath.
"""
from . import datasets
from ._estimator import NMF, MiniBatchNMF, consensus, estimate_rank
from ._nmfuse import build_info, set_cpu_threads

__all__ = ["MiniBatchNMF", "NMF", "build_info", "consensus", "datasets", "estimate_rank", "set_cpu_threads"]
__version__ = build_info()["version"]
