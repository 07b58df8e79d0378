"""What every registered activation must do, as checks any test can run on any ``Activation`` subclass.

test_layers runs them on every class of ``core.layers.ACTIVATIONS``;
test_new_activation on activations it registers itself.
"""

import numpy as np

from core.specs import FormulaContext

STEP = 1e-6


def inputs_away_from_kinks(cls, shape=(6, 5), seed=7, scale=2.0) -> np.ndarray:
    """Random inputs, none within 1e-3 of a point where the activation's derivative jumps."""
    z = np.random.default_rng(seed).standard_normal(shape) * scale
    for kink in cls.kinks:
        z[np.abs(z - kink) < 1e-3] = kink + 0.5
    return z


def check_backward_against_finite_differences(cls, z) -> None:
    """dz = dout ⊙ f′(z) for a random dout, against central differences of Σ dout ⊙ f(z)."""
    layer = cls()
    dout = np.random.default_rng(1).standard_normal(z.shape)
    h = layer.forward(z)
    np.testing.assert_array_equal(h, cls.apply(z))
    dz = layer.backward(dout)
    numeric = np.zeros_like(z)
    for i in np.ndindex(z.shape):
        up, down = z.copy(), z.copy()
        up[i] += STEP
        down[i] -= STEP
        numeric[i] = float(np.sum(dout * (cls.apply(up) - cls.apply(down)))) / (2 * STEP)
    scale = np.maximum(np.maximum(np.abs(dz), np.abs(numeric)), 1e-4 * np.abs(numeric).max())
    assert float((np.abs(dz - numeric) / scale).max()) < 1e-6, cls.name
    assert np.abs(numeric).max() > 1e-3, f"{cls.name}: the check would be empty"


def check_fast_path_variants(cls, z) -> None:
    """forward_inplace computes f, backward_inplace (from h alone) the same dz as backward, in float64."""
    layer = cls()
    dout = np.random.default_rng(2).standard_normal(z.shape)
    h = layer.forward(z)
    expected = layer.backward(dout)
    a = z.copy()
    cls.forward_inplace(a)
    np.testing.assert_allclose(a, h, rtol=1e-13, atol=1e-300)
    g, tmp = dout.copy(), np.empty_like(z)
    cls.backward_inplace(a, g, tmp)
    np.testing.assert_allclose(g, expected, rtol=1e-12, atol=1e-300)


def check_derivative_and_change(cls, z) -> None:
    """The factors of the written derivative multiply to f′; ``change`` is f(z + dz) − f(z)."""
    layer = cls()
    h = layer.forward(z)
    product = np.ones_like(z)
    for f in layer.derivative_factors(z, h):
        product = product * f
    np.testing.assert_allclose(layer.backward(np.ones_like(z)), product, rtol=1e-13)
    dz = np.random.default_rng(3).standard_normal(z.shape) * 1e-3
    np.testing.assert_allclose(layer.change(z, dz), cls.apply(z + dz) - cls.apply(z), rtol=1e-8, atol=1e-15)


def check_formula_texts(cls) -> None:
    """The stage formulas name the activation, and the tooltip formula of h and dz recomputes the entry."""
    layer = cls()
    (fwd,) = layer.forward_stages()
    (bwd,) = layer.backward_stages()
    assert f"{cls.symbol}(z)" in fwd.formula, fwd.formula
    assert bwd.formula == f"dz = dh ⊙ {cls.derivative.format(h='h', z='z')}", bwd.formula
    assert "{" not in bwd.formula and "{" not in fwd.formula
    z = inputs_away_from_kinks(cls, (2, 3), seed=4)
    h = layer.forward(z)
    dh = np.random.default_rng(5).standard_normal(z.shape)
    dz = layer.backward(dh)
    tensors = {"z": z, "h": h, "dh": dh, "dz": dz}
    for name, value in (("h", h), ("dz", dz)):
        for index in np.ndindex(z.shape):
            f = layer.entry_formula(FormulaContext(name, index, tensors))
            assert f is not None and f.total is not None, (cls.name, name, index)
            assert f.total == float(value[index]) or abs(f.total - value[index]) <= 1e-12 * abs(value[index]), (
                cls.name, name, index, f.total, value[index])
            assert f.text.startswith(f"{name}[") and "{" not in f.text, f.text


ALL_CHECKS = (check_backward_against_finite_differences, check_fast_path_variants, check_derivative_and_change)
