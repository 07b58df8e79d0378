"""Word vectors projected to two dimensions, for the embedding map.

``pca(X)`` is principal component analysis written with NumPy: centre the
rows, take the singular value decomposition ``Xc = U·S·Vᵀ``, and project onto
the first rows of ``Vᵀ`` (the directions of largest variance). The fraction of
the total variance along component k is ``S[k]² / Σ S²``.

A principal direction is only defined up to its sign (``c`` and ``−c`` are
equally good), and SVD routines pick either. A map refreshed during training
would then flip from one frame to the next; passing the previous components
as ``reference`` turns each new component to point the same way as the old one.

``tsne(X)`` uses scikit-learn, imported only when called; it is an optional
extra (``uv sync --extra tsne`` or ``pip install 'backprop-explorer[tsne]'``).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np

from .errors import ExplorerError

TSNE_INSTALL_HINT = (
    "t-SNE needs scikit-learn, which is not installed: run `uv sync --extra tsne` "
    "(or `pip install 'backprop-explorer[tsne]'`)"
)


@dataclass(frozen=True)
class Projection:
    """Positions on the map and, for PCA, what the axes mean."""

    coords: np.ndarray  # (V, 2) one point per row of X
    method: str  # "pca" or "tsne"
    components: np.ndarray | None = None  # (2, d) unit principal directions (PCA only)
    explained: np.ndarray | None = None  # (2,) fraction of the total variance along each (PCA only)
    mean: np.ndarray | None = None  # (d,) the centre that was subtracted (PCA only)

    def axis_titles(self) -> tuple[str, str]:
        """Axis labels: "PC 1 (41.2% of variance)", "PC 2 (12.0%)" for PCA."""
        if self.method == "pca" and self.explained is not None:
            a, b = (100.0 * self.explained).tolist()
            return f"PC 1 ({a:.1f}% of variance)", f"PC 2 ({b:.1f}%)"
        return "t-SNE 1", "t-SNE 2"


def _checked(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise ExplorerError(f"need a matrix with one row per word, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ExplorerError("the word vectors contain non-finite values; nothing to draw")
    return X


def align_signs(components: np.ndarray, reference: np.ndarray | None) -> np.ndarray:
    """Flip each row of ``components`` (k, d) so that it points the same way as the row of ``reference``.

    Without a usable reference (None, another shape), each row is turned so
    that its largest entry in absolute value is positive: a deterministic
    choice that does not depend on the SVD routine.
    """
    comps = np.array(components, dtype=np.float64, copy=True)
    if reference is not None and np.shape(reference) == comps.shape:
        dots = (comps * reference).sum(axis=1)  # (k,)
        comps[dots < 0] *= -1
        return comps
    if comps.size:
        biggest = np.abs(comps).argmax(axis=1)  # (k,)
        signs = np.sign(comps[np.arange(len(comps)), biggest])
        signs[signs == 0] = 1
        comps *= signs[:, None]
    return comps


def pca(X, n_components: int = 2, reference: np.ndarray | None = None) -> Projection:
    """Project the rows of X (V, d) on their first ``n_components`` principal directions.

    ``reference``: the components of the previous projection (``Projection.components``),
    so that the new ones keep their signs (see the module docstring).
    When X has fewer independent directions than asked for, the missing
    coordinates are 0 and their variance fraction is 0.
    """
    X = _checked(X)
    # Work on X / 2**e with |entries| < 2: any finite size (1e-300 or 1e300) is centred and decomposed
    # without overflow or underflow, and dividing by a power of two changes no digit.
    _, e = np.frexp(np.abs(X).max())  # max = m·2**e with 0.5 ≤ m < 1 (e = 0 for an all-zero X)
    scale = float(np.ldexp(1.0, int(e) - 1))
    Xs = X / scale  # (V, d)
    mean_s = Xs.mean(axis=0)  # (d,)
    Xc = Xs - mean_s  # (V, d)
    _, S, Vt = np.linalg.svd(Xc, full_matrices=False)  # S (r,), Vt (r, d) with r = min(V, d)
    k = int(n_components)
    comps = np.zeros((k, X.shape[1]))
    m = min(k, Vt.shape[0])
    comps[:m] = Vt[:m]
    comps = align_signs(comps, reference)
    total = float((S**2).sum())
    explained = np.zeros(k)
    if total > 0:
        explained[:m] = S[:m] ** 2 / total
    with np.errstate(over="ignore", invalid="ignore"):
        coords = (Xc @ comps.T) * scale  # (V, k)
        mean = mean_s * scale
    if not (np.isfinite(coords).all() and np.isfinite(mean).all()):
        raise ExplorerError(
            f"the word vectors are too large to map (entries up to {np.abs(X).max():.3g}): "
            "their coordinates exceed the largest number a float holds"
        )
    return Projection(coords=coords, method="pca", components=comps, explained=explained, mean=mean)


def tsne_available() -> bool:
    """True when scikit-learn can be imported (it is an optional extra)."""
    return importlib.util.find_spec("sklearn") is not None


def tsne(X, *, seed: int = 0, init: np.ndarray | None = None, perplexity: float = 30.0) -> Projection:
    """t-SNE map of the rows of X (V, d) through scikit-learn (slow: a second or more for 250 words).

    ``init``: positions (V, 2) to start from, e.g. the previous map, so that
    successive maps during training look alike. Raises ExplorerError with
    the install command when scikit-learn is missing.
    """
    X = _checked(X)
    if X.shape[0] < 3:
        raise ExplorerError("t-SNE needs at least 3 words")
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        raise ExplorerError(TSNE_INSTALL_HINT) from None
    start = "pca"
    if init is not None and np.shape(init) == (X.shape[0], 2) and np.isfinite(init).all():
        start = np.asarray(init, dtype=np.float64)
    # scikit-learn requires perplexity < number of samples
    perp = float(min(perplexity, max(1.0, (X.shape[0] - 1) / 3)))
    coords = TSNE(n_components=2, perplexity=perp, init=start, random_state=seed).fit_transform(X)
    return Projection(coords=np.asarray(coords, dtype=np.float64), method="tsne")


__all__ = ["Projection", "pca", "align_signs", "tsne", "tsne_available", "TSNE_INSTALL_HINT"]
