"""core.projection: PCA with NumPy, sign stability, the optional t-SNE."""

import numpy as np
import pytest

from core import projection
from core.errors import ExplorerError
from core.projection import align_signs, pca


def low_rank(seed=0, v=60, d=8):
    """Rows a·u + b·w + mean with orthonormal u, w: a rank-2 cloud with known axes and variances."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, 2)))
    u, w = q[:, 0], q[:, 1]
    a = rng.standard_normal(v) * 3.0
    b = rng.standard_normal(v) * 1.0
    a -= a.mean()
    b -= b.mean()
    b -= (a @ b) / (a @ a) * a  # uncorrelated scores, so u and w are exactly the principal axes
    mean = rng.standard_normal(d)
    X = a[:, None] * u + b[:, None] * w + mean
    return X, u, w, a, b, mean


def test_pca_recovers_a_rank_two_cloud():
    X, u, w, a, b, mean = low_rank()
    p = pca(X)
    assert p.coords.shape == (len(X), 2)
    np.testing.assert_allclose(p.mean, mean, atol=1e-12)
    # the components are ±u and ±w, and the coordinates the matching scores
    np.testing.assert_allclose(np.abs(p.components @ u), [1, 0], atol=1e-10)
    np.testing.assert_allclose(np.abs(p.components @ w), [0, 1], atol=1e-10)
    np.testing.assert_allclose(np.abs(p.coords[:, 0]), np.abs(a), atol=1e-10)
    np.testing.assert_allclose(np.abs(p.coords[:, 1]), np.abs(b), atol=1e-10)
    # rank 2: the two components carry all the variance, in proportion a²:b²
    np.testing.assert_allclose(p.explained.sum(), 1.0, atol=1e-12)
    np.testing.assert_allclose(p.explained[0] / p.explained[1], (a @ a) / (b @ b), rtol=1e-9)


def test_variance_fractions_of_an_axis_aligned_cloud():
    # variances 9, 4, 1 along three axes: fractions 9/14 and 4/14 for the first two
    rng = np.random.default_rng(3)
    Z = rng.standard_normal((500, 3))
    Z -= Z.mean(axis=0)
    Z, _ = np.linalg.qr(Z)  # orthonormal columns: no cross terms
    X = Z * np.array([3.0, 2.0, 1.0])
    p = pca(X)
    np.testing.assert_allclose(p.explained, [9 / 14, 4 / 14], rtol=1e-10)
    assert p.axis_titles() == ("PC 1 (64.3% of variance)", "PC 2 (28.6%)")


def test_coordinates_are_the_centred_rows_times_the_components():
    X = np.random.default_rng(1).standard_normal((40, 6))
    p = pca(X)
    np.testing.assert_allclose(p.coords, (X - X.mean(axis=0)) @ p.components.T, atol=1e-12)
    np.testing.assert_allclose(p.components @ p.components.T, np.eye(2), atol=1e-12)


def test_signs_follow_the_reference_between_refreshes():
    X = np.random.default_rng(2).standard_normal((50, 5))
    first = pca(X)
    # a reference pointing the other way flips both components, and the map with them
    flipped = pca(X, reference=-first.components)
    np.testing.assert_allclose(flipped.components, -first.components, atol=1e-12)
    np.testing.assert_allclose(flipped.coords, -first.coords, atol=1e-12)
    # a small change of the data keeps the orientation of the previous map
    Y = X + 1e-3 * np.random.default_rng(4).standard_normal(X.shape)
    for ref in (first.components, -first.components):
        nxt = pca(Y, reference=ref)
        assert ((nxt.components * ref).sum(axis=1) > 0).all()


def test_without_reference_the_largest_loading_is_positive():
    X = np.random.default_rng(5).standard_normal((30, 4))
    for M in (X, -X, X[::-1]):
        c = pca(M).components
        rows = np.arange(2)
        assert (c[rows, np.abs(c).argmax(axis=1)] > 0).all()
    comps = np.array([[0.1, -0.9], [0.8, 0.2]])
    np.testing.assert_allclose(align_signs(comps, None), [[-0.1, 0.9], [0.8, 0.2]])


def test_one_dimensional_and_constant_inputs():
    p = pca(np.arange(5.0)[:, None])  # d = 1: the second coordinate is 0
    np.testing.assert_allclose(p.coords[:, 1], 0)
    np.testing.assert_allclose(p.explained, [1.0, 0.0])
    q = pca(np.ones((4, 3)))  # no variance at all
    np.testing.assert_allclose(q.coords, 0)
    np.testing.assert_allclose(q.explained, 0)


@pytest.mark.parametrize("factor", [2.0**-1000, 1e-300, 1e-30, 1e30, 1e300, 2.0**1000])
def test_any_finite_scale_projects_as_the_same_cloud_scaled(factor):
    """Word vectors of any finite size (an init std of 1e-300, a checkpoint with weights of 1e300): the same
    map, scaled, with the same variance fractions; centring or the SVD at that scale must not overflow or
    underflow."""
    X, *_ = low_rank(seed=3)
    plain = pca(X)
    p = pca(X * factor)
    assert np.isfinite(p.coords).all() and np.isfinite(p.components).all()
    np.testing.assert_allclose(p.components, plain.components, atol=1e-9)
    np.testing.assert_allclose(p.explained, plain.explained, atol=1e-9)
    np.testing.assert_allclose(p.coords, plain.coords * factor, rtol=1e-9, atol=1e-9 * factor)
    np.testing.assert_allclose(p.mean, plain.mean * factor, rtol=1e-9, atol=1e-9 * factor)


def test_vectors_whose_map_cannot_be_represented_are_a_clear_error():
    """Entries near the largest float: a coordinate (±1.5e308·√8 along the diagonal) would be infinite."""
    X = np.array([[1.5e308] * 8, [-1.5e308] * 8, [0.0] * 8])
    assert np.isfinite(pca(X / 4).coords).all()  # a quarter of that size still has a map
    with pytest.raises(ExplorerError, match="too large"):
        pca(X)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ExplorerError, match="non-finite"):
        pca(np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(ExplorerError, match="one row per word"):
        pca(np.zeros(3))


def test_tsne_without_scikit_learn_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_sklearn(name, *args, **kwargs):
        if name.startswith("sklearn"):
            raise ImportError("no sklearn")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    with pytest.raises(ExplorerError, match="uv sync --extra tsne"):
        projection.tsne(np.random.default_rng(0).standard_normal((10, 3)))


@pytest.mark.skipif(not projection.tsne_available(), reason="scikit-learn (the tsne extra) is not installed")
def test_tsne_gives_one_point_per_row():
    X = np.random.default_rng(0).standard_normal((40, 5))
    p = projection.tsne(X, seed=0)
    assert p.coords.shape == (40, 2) and np.isfinite(p.coords).all()
    assert p.axis_titles() == ("t-SNE 1", "t-SNE 2")
