"""Writes the .npz fixtures of tests/test_io.cpp with scipy.sparse.save_npz.

Run: build/bench-venv/bin/python tests/data/make_npz.py (scipy comes with scikit-learn).
"""
import os

import numpy as np
import scipy.sparse as sp

here = os.path.dirname(os.path.abspath(__file__))
# 3×4 with a zero row; the same matrix every time.
dense = np.array([[1.0, 0, 2.5, 0], [0, 0, 0, 0], [4, 0, 0, 0.5]])
sp.save_npz(os.path.join(here, "small_csr.npz"), sp.csr_matrix(dense))  # compressed
sp.save_npz(os.path.join(here, "small_csc.npz"), sp.csc_matrix(dense.astype(np.float32)),
            compressed=False)
# Integer counts with unsorted indices and a duplicate, as scipy may hold them.
counts = sp.csr_matrix((np.array([3, 1, 2], dtype=np.int64), np.array([2, 0, 2]),
                        np.array([0, 3, 3, 3])), shape=(3, 4))
sp.save_npz(os.path.join(here, "counts_unsorted.npz"), counts)
