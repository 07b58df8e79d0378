"""Every layer's backward pass against central finite differences, in float64.

The finite-difference helper here is independent of ``core.gradcheck``: the
loss is ``Σ w ⊙ layer(x)`` with random weights ``w``, so the gradient that
flows into ``backward`` (``dout = w``) is random rather than all ones.
"""

import numpy as np
import pytest

from core.layers import ACTIVATIONS, ReLU, Embedding, Linear, Sigmoid, SoftmaxCrossEntropy, Tanh
import _activations

STEP = 1e-6
TOL = 1e-6


def numeric_grad(f, a: np.ndarray, step: float = STEP) -> np.ndarray:
    """Central differences of the scalar ``f()`` with respect to every entry of ``a`` (changed in place, restored)."""
    g = np.zeros_like(a, dtype=np.float64)
    it = np.nditer(a, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = a[i]
        a[i] = old + step
        up = f()
        a[i] = old - step
        down = f()
        a[i] = old
        g[i] = (up - down) / (2 * step)
    return g


def rel_error(a, b) -> float:
    """Largest entry-wise |a − b| / max(|a|, |b|).

    Entries far smaller than the array's largest are measured against 1e-4 of
    that largest value: for them the finite difference's rounding noise (about
    1e-16 · loss / step) would otherwise dominate.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    floor = max(1e-4 * max(np.abs(a).max(), np.abs(b).max()), 1e-12)
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)
    return float((np.abs(a - b) / scale).max())


def check_layer(layer, x, rng, wrt_input=True):
    """Analytic gradients of Σ w·layer(x) for the input and every parameter vs finite differences."""
    out = layer.forward(x)
    w = rng.standard_normal(out.shape)

    def loss():
        return float(np.sum(w * layer.forward(x)))

    layer.forward(x)
    dx = layer.backward(w)
    analytic = {k: g.copy() for k, g in layer.grads.items()}
    for k, p in layer.params.items():
        num = numeric_grad(loss, p)
        assert np.abs(num).max() > 1e-3, "the check would be empty"
        assert rel_error(analytic[k], num) < TOL, k
    if wrt_input:
        num = numeric_grad(loss, x)
        assert dx.shape == x.shape
        assert rel_error(dx, num) < TOL
    return dx


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_linear_gradients(rng):
    layer = Linear(4, 3, init_std=1.0, rng=1)
    layer.params["b"][...] = rng.standard_normal(3)
    check_layer(layer, rng.standard_normal((5, 4)), rng)


def test_linear_forward_is_affine(rng):
    layer = Linear(4, 3, init_std=1.0, rng=1)
    x = rng.standard_normal((5, 4))
    np.testing.assert_allclose(layer.forward(x), x @ layer.params["W"] + layer.params["b"])


@pytest.mark.parametrize("check", _activations.ALL_CHECKS, ids=lambda f: f.__name__.removeprefix("check_"))
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_every_registered_activation(name, check):
    cls = ACTIVATIONS[name]
    check(cls, _activations.inputs_away_from_kinks(cls))


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_every_registered_activation_writes_its_formulas(name):
    _activations.check_formula_texts(ACTIVATIONS[name])


def test_activation_values(rng):
    z = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(Sigmoid().forward(z), 1 / (1 + np.exp(-z)), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(Tanh().forward(z), np.tanh(z))
    np.testing.assert_array_equal(ReLU().forward(z), np.maximum(z, 0))
    # σ stays finite and in [0, 1] where exp(−z) overflows.
    big = Sigmoid().forward(np.array([-1e4, 1e4]))
    assert np.isfinite(big).all() and big[0] == 0.0 and big[1] == 1.0


def test_relu_passes_no_gradient_below_zero(rng):
    x = rng.standard_normal((6, 5))
    layer = ReLU()
    layer.forward(x)
    dx = layer.backward(rng.standard_normal(x.shape))
    assert (dx[x < 0] == 0).all() and (dx[x > 0] != 0).all()


def test_layers_have_matching_params_and_grads():
    for layer in (Embedding(5, 2), Linear(3, 2), *(cls() for cls in ACTIVATIONS.values()), SoftmaxCrossEntropy()):
        assert set(layer.params) == set(layer.grads)
        for k in layer.params:
            assert layer.params[k].shape == layer.grads[k].shape
            assert layer.params[k].dtype == np.float64
    assert Linear(3, 2, dtype=np.float32).params["W"].dtype == np.float32
    assert Embedding(5, 2, dtype=np.float32).grads["W"].dtype == np.float32


def test_seeds_and_generators_reproduce_initial_weights():
    a = Linear(4, 3, rng=5).params["W"]
    b = Linear(4, 3, rng=np.random.default_rng(5)).params["W"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, Linear(4, 3, rng=6).params["W"])


# ---- embedding -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "x",
    [
        [[0, 3, 1], [2, 1, 0]],  # words repeat across examples
        [[5, 5, 5]],  # one word three times in one context
        [[0, 3, 1, 2], [2, 1, 0, 4]],
        [4, 4, 1, 0],  # 1-D
        [[[1, 1], [0, 5]], [[5, 2], [1, 1]]],  # 3-D
    ],
)
def test_embedding_gradient_is_a_scatter_add(x, rng):
    x = np.array(x)
    layer = Embedding(6, 3, init_std=1.0, rng=2)
    out = layer.forward(x)
    assert out.shape == x.shape + (3,)
    np.testing.assert_array_equal(out, layer.params["W"][x])
    assert layer.backward(rng.standard_normal(out.shape)) is None
    check_layer(layer, x, rng, wrt_input=False)


def test_embedding_gradient_by_hand():
    """Row v of the gradient is the sum of dout over every place v was looked up."""
    x = np.array([[0, 3, 1], [2, 1, 0]])
    layer = Embedding(5, 2)
    layer.forward(x)
    dout = np.arange(12, dtype=np.float64).reshape(2, 3, 2) + 1
    layer.backward(dout)
    g = layer.grads["W"]
    np.testing.assert_array_equal(g[0], dout[0, 0] + dout[1, 2])
    np.testing.assert_array_equal(g[1], dout[0, 2] + dout[1, 1])
    np.testing.assert_array_equal(g[2], dout[1, 0])
    np.testing.assert_array_equal(g[3], dout[0, 1])
    np.testing.assert_array_equal(g[4], 0)


def test_embedding_backward_does_not_accumulate_across_calls(rng):
    layer = Embedding(4, 2)
    x = np.array([[1, 1, 2]])
    layer.forward(x)
    dout = rng.standard_normal((1, 3, 2))
    layer.backward(dout)
    first = layer.grads["W"].copy()
    layer.backward(dout)
    np.testing.assert_array_equal(layer.grads["W"], first)


def test_embedding_refuses_bad_indices():
    layer = Embedding(4, 2)
    with pytest.raises(IndexError):
        layer.forward(np.array([[0, 4, 1]]))
    with pytest.raises(IndexError):
        layer.forward(np.array([-1]))
    with pytest.raises(TypeError):
        layer.forward(np.array([0.0, 1.0]))


def test_contributions_for_the_design_example(rng):
    """Batch of 2 with 4 positions: row 0 = δ[0,0] + δ[1,2]."""
    x = np.array([[0, 3, 1, 2], [2, 1, 0, 4]])
    layer = Embedding(6, 3, rng=0)
    layer.forward(x)
    de = rng.standard_normal((2, 4, 3))
    layer.backward(de)
    c = layer.contributions()
    assert c == {
        0: [(0, 0), (1, 2)],
        1: [(0, 2), (1, 1)],
        2: [(0, 3), (1, 0)],
        3: [(0, 1)],
        4: [(1, 3)],
    }
    np.testing.assert_array_equal(layer.grads["W"][0], de[0, 0] + de[1, 2])


@pytest.mark.parametrize("shape", [(7, 3), (20,), (4, 3, 2)])
def test_contributions_sum_exactly_to_the_gradient(shape, rng):
    layer = Embedding(5, 4, rng=0)
    x = rng.integers(0, 5, size=shape)
    layer.forward(x)
    dout = rng.standard_normal(shape + (4,))
    layer.backward(dout)
    c = layer.contributions()
    assert sorted(c) == sorted(set(x.ravel().tolist()))
    total = 0
    for row, places in c.items():
        assert places == sorted(places)  # row-major order of x
        assert all(x[p] == row for p in places)
        total += len(places)
        summed = np.zeros(4)
        for p in places:  # the same order np.add.at adds them in
            summed += dout[p]
        np.testing.assert_array_equal(summed, layer.grads["W"][row])
    assert total == x.size
    untouched = sorted(set(range(5)) - set(c))
    assert (layer.grads["W"][untouched] == 0).all()


def test_naive_gradient_differs_exactly_on_repeated_rows(rng):
    x = np.array([[0, 3, 1], [2, 1, 0], [5, 5, 5]])
    layer = Embedding(7, 3, rng=0)
    layer.forward(x)
    dout = rng.standard_normal((3, 3, 3))
    layer.backward(dout)
    true = layer.grads["W"].copy()
    naive = layer.naive_grad(dout)
    np.testing.assert_array_equal(layer.grads["W"], true)  # naive_grad does not touch grads
    counts = np.bincount(x.ravel(), minlength=7)
    differs = np.any(naive != true, axis=1)
    np.testing.assert_array_equal(differs, counts > 1)
    np.testing.assert_array_equal(naive[counts <= 1], true[counts <= 1])
    # Each repeated row kept exactly one of its contributions.
    c = layer.contributions()
    for row in np.flatnonzero(counts > 1):
        assert any(np.array_equal(naive[row], dout[p]) for p in c[row])


# ---- softmax and cross-entropy -------------------------------------------------------------------


def naive_ce(z, t):
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return -np.mean(np.log(p[np.arange(len(t)), t]))


def test_softmax_ce_forward_matches_the_naive_formula(rng):
    z = rng.standard_normal((6, 5)) * 3
    t = np.array([0, 4, 2, 2, 1, 3])
    layer = SoftmaxCrossEntropy()
    assert layer.forward(z, t) == pytest.approx(naive_ce(z, t), rel=1e-12)
    np.testing.assert_allclose(layer.p, np.exp(z) / np.exp(z).sum(axis=1, keepdims=True), rtol=1e-12)


def test_softmax_ce_on_huge_logits(rng):
    z = np.array([[1e4, 0.0, -1e4], [1e4, 1e4 - 2.0, 0.0]])
    t = np.array([1, 1])
    with np.errstate(all="ignore"):
        assert not np.isfinite(naive_ce(z, t))  # the naive formula overflows here
    layer = SoftmaxCrossEntropy()
    loss = layer.forward(z, t)
    # Row 0: −log p₁ = 1e4 (up to e^(−1e4)); row 1: log(1 + e²) − (−2) ... = log(1 + e⁻²) + 2.
    expected = (1e4 + (np.log1p(np.exp(-2.0)) + 2.0)) / 2
    assert np.isfinite(loss)
    assert loss == pytest.approx(expected, rel=1e-12)
    assert np.isfinite(layer.backward()).all()


def test_softmax_ce_backward_is_p_minus_onehot_over_n(rng):
    z = rng.standard_normal((4, 6))
    t = np.array([5, 0, 0, 3])
    layer = SoftmaxCrossEntropy()
    layer.forward(z, t)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    onehot = np.eye(6)[t]
    np.testing.assert_allclose(layer.backward(), (p - onehot) / 4, rtol=1e-12, atol=1e-15)


def test_softmax_ce_gradient_by_finite_differences(rng):
    z = rng.standard_normal((5, 4)) * 2
    t = np.array([3, 3, 0, 1, 2])
    c = 1.7  # a random scale of the loss, passed as dout
    layer = SoftmaxCrossEntropy()

    def loss():
        return c * layer.forward(z, t)

    num = numeric_grad(loss, z)
    layer.forward(z, t)
    assert rel_error(layer.backward(c), num) < TOL


def test_softmax_ce_refuses_bad_targets():
    layer = SoftmaxCrossEntropy()
    with pytest.raises(IndexError):
        layer.forward(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError):
        layer.forward(np.zeros((2, 3)), np.array([0]))


def test_array_specs_use_only_known_roles_kinds_and_axes():
    from core.model import Config, FourGramModel
    from core.specs import AXES, KINDS, ROLES, TensorSpec, axis_title

    for dims in [(), (6,), (6, 5), (6, 5, 4, 3)]:
        model = FourGramModel([f"w{i}" for i in range(9)], Config(embed_dim=3, hidden_dims=dims))
        for spec in model.specs.values():
            assert spec.role in ROLES and spec.kind in KINDS and set(spec.axes) <= set(AXES), spec
            assert all(axis_title(a) and axis_title(a, short=True) for a in spec.axes)
    with pytest.raises(KeyError, match="no axis called 'row'"):
        axis_title("row")
    with pytest.raises(ValueError, match="no axis called 'row'"):
        TensorSpec("A", "forward", ("row", "unit"), ("N", "H"), "signed", "an array", "hidden")
    with pytest.raises(ValueError, match="2 axes for 1 sizes"):
        TensorSpec("A", "forward", ("example", "unit"), ("N",), "signed", "an array", "hidden")
    with pytest.raises(ValueError, match="no role called 'output'"):
        TensorSpec("A", "output", ("example",), ("N",), "signed", "an array", "hidden")
