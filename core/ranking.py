"""The k largest of many values without sorting them all.

``top_k(values, k)`` gives the same indices, in the same order, as
``np.argsort(-values, kind="stable")[:k]``: largest first, equal values in
index order, NaN last. It partitions first (``np.partition``, linear time),
then sorts only the values at least as large as the k-th largest, so a
ranking over a vocabulary of V words costs O(V + k log k) instead of
O(V log V).
"""

from __future__ import annotations

import numpy as np


def top_k(values, k: int) -> np.ndarray:
    """Indices of the ``k`` largest entries of the 1-D ``values``, largest first, ties by index."""
    values = np.asarray(values)
    n = values.shape[0]
    k = max(0, min(int(k), n))
    if k == 0:
        return np.zeros(0, dtype=np.intp)
    if k < n and not _has_nan(values):
        kth = np.partition(values, n - k)[n - k]  # the k-th largest
        candidates = np.flatnonzero(values >= kth)  # (≥ k,) every index at or above it, ties included
        order = np.argsort(-values[candidates], kind="stable")
        return candidates[order[:k]]
    return np.argsort(-values, kind="stable")[:k]


def bottom_k(values, k: int) -> np.ndarray:
    """Indices of the ``k`` smallest entries, smallest first, ties by index: ``np.argsort(values, kind="stable")[:k]``."""
    values = np.asarray(values)
    n = values.shape[0]
    k = max(0, min(int(k), n))
    if k == 0:
        return np.zeros(0, dtype=np.intp)
    if k < n and not _has_nan(values):
        kth = np.partition(values, k - 1)[k - 1]  # the k-th smallest
        candidates = np.flatnonzero(values <= kth)
        order = np.argsort(values[candidates], kind="stable")
        return candidates[order[:k]]
    return np.argsort(values, kind="stable")[:k]


def _has_nan(values: np.ndarray) -> bool:
    """NaN sort last in argsort but count as largest in a partition: rank those the slow way."""
    return values.dtype.kind in "fc" and bool(np.isnan(values).any())


__all__ = ["top_k", "bottom_k"]
