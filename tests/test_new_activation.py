"""A new activation is one class: registered here, in this file alone, it works everywhere.

LeakyReLU (a kink at 0, like ReLU, but a slope below it) and softplus (smooth,
its derivative written from its output) are defined and registered below,
only for the duration of each test. The stepper, the fast path, the gradient
check, the formulas and the diagram's text then handle them with no other
change: they all look the activation up in ``core.layers.ACTIVATIONS``. An
unknown name is refused everywhere, never replaced by another activation.
"""

import numpy as np
import pytest

from core import gradcheck
from core.errors import ConfigError
from core.fast import FastPath
from core.layers import ACTIVATIONS, Activation, registered_activation
from core.model import Config, FourGramModel
from core.stages import run_stages
import _activations

SLOPE = 0.1


class LeakyReLU(Activation):
    """max(z, 0.1·z): the derivative is 1 above 0 and 0.1 below it."""

    name = "leaky_relu"
    symbol = "LReLU"
    definition = "max({z}, 0.1·{z})"
    derivative = "(1 if {z} > 0 else 0.1)"
    kind = "signed"
    kinks = (0.0,)

    @staticmethod
    def apply(z):
        z = np.asarray(z)
        return np.where(z > 0, z, SLOPE * z)

    def derivative_factors(self, z, h):
        return (np.where(np.asarray(z) > 0, 1.0, SLOPE),)

    @staticmethod
    def forward_inplace(a):
        np.maximum(a, SLOPE * a, out=a)

    @staticmethod
    def backward_inplace(h, g, tmp):
        np.greater(h, 0, out=tmp)  # h > 0 exactly where z > 0
        np.multiply(tmp, 1 - SLOPE, out=tmp)
        np.add(tmp, SLOPE, out=tmp)
        np.multiply(g, tmp, out=g)


class Softplus(Activation):
    """log(1 + eᶻ); its derivative σ(z) = 1 − e⁻ʰ comes from the output alone."""

    name = "softplus"
    symbol = "softplus"
    definition = "log(1 + exp({z}))"
    derivative = "(1 − exp(−{h}))"

    @staticmethod
    def apply(z):
        return np.logaddexp(0.0, z)

    def derivative_factors(self, z, h):
        return (-np.expm1(-np.asarray(h)),)

    @staticmethod
    def forward_inplace(a):
        np.logaddexp(0.0, a, out=a)

    @staticmethod
    def backward_inplace(h, g, tmp):
        np.negative(h, out=tmp)
        np.expm1(tmp, out=tmp)
        np.multiply(g, tmp, out=g)
        np.negative(g, out=g)


NEW = [LeakyReLU, Softplus]
VOCAB = [f"w{i}" for i in range(11)]
# Word 0 across examples, word 4 three times in one context, word 7 twice in one.
X = np.array([[0, 3, 1], [2, 1, 0], [4, 4, 4], [7, 0, 7], [9, 10, 5]])
T = np.array([1, 5, 0, 7, 2])


@pytest.fixture(params=NEW, ids=lambda c: c.name)
def new(request):
    with registered_activation(request.param) as cls:
        yield cls
    assert cls.name not in ACTIVATIONS


def model_with(name, hidden_dims=(6,), **kw) -> FourGramModel:
    cfg = Config(embed_dim=4, hidden_dims=hidden_dims, activations=name, init_std=0.5, seed=3, batch_size=len(X), **kw)
    return FourGramModel(VOCAB, cfg)


def test_the_class_meets_what_every_activation_must_do(new):
    z = _activations.inputs_away_from_kinks(new)
    for check in _activations.ALL_CHECKS:
        check(new, z)
    _activations.check_formula_texts(new)


def test_the_stepper_computes_it_and_writes_its_formulas(new):
    model = model_with(new.name)
    stages = {s.name: s for s in run_stages(model, X, T)}
    z_h, h = stages["hidden_input"].arrays["z_h"], stages["hidden"].arrays["h"]
    np.testing.assert_array_equal(h, new.apply(z_h))
    dh, dz_h = stages["back_to_hidden"].arrays["dh"], stages["through_activation"].arrays["dz_h"]
    np.testing.assert_allclose(dz_h, dh * new().derivative_factors(z_h, h)[0], rtol=1e-13)
    assert stages["hidden"].formula == f"h = {new.symbol}(z_h)"
    assert stages["through_activation"].formula == f"dz_h = dh ⊙ {new.derivative.format(h='h', z='z_h')}"
    assert stages["through_activation"].title == f"Through {new.symbol}"
    assert model.box_of("hidden").title == f"Hidden ({new.symbol})"
    assert model.specs["h"].kind == new.kind
    tensors = {k: v for s in stages.values() for k, v in s.arrays.items()}
    for name in ("h", "dz_h"):
        for index in [(0, 0), (2, 5), (4, 3)]:
            f = model.entry_formula(name, index, tensors)
            assert f.total == pytest.approx(float(tensors[name][index]), rel=1e-12, abs=1e-300), (name, index)
            assert new.symbol in f.text or name == "dz_h"
    words = model.entry_formula("h", (0, 0), tensors).text
    if new.definition:
        assert new.definition.format(z="z_h") in words


def test_the_fast_path_trains_it_as_the_stepper_does(new):
    stepped = model_with(new.name, hidden_dims=(7, 5), learning_rate=0.2)
    fast = FastPath(stepped, np.float64)
    start = {k: v.copy() for k, v in stepped.params.items()}
    rng = np.random.default_rng(0)
    for _ in range(50):
        x = rng.integers(0, len(VOCAB), size=(len(X), 3))
        x[0, 2] = x[0, 0]  # a word twice in one context
        t = rng.integers(0, len(VOCAB), size=len(X))
        expected = stepped.forward(x, t)
        stepped.backward()
        stepped.apply_update()
        assert fast.train_batch(x, t, 0.2, 0.9) == pytest.approx(expected, rel=1e-10)
    for k, theta in stepped.params.items():
        np.testing.assert_allclose(fast.params[k], theta, rtol=1e-10, atol=1e-10 * np.abs(theta).max(), err_msg=k)
        assert np.abs(theta - start[k]).max() > 1e-3 * np.abs(theta).max(), f"{k} hardly moved"


def test_the_gradient_check_agrees_with_its_backward(new):
    model = model_with(new.name, hidden_dims=(6, 5))
    report = gradcheck.check_all(model, X, T, samples=10)
    assert set(report) == set(model.params)
    for name, checks in report.items():
        worst = max(checks, key=lambda c: c.rel_error)
        assert worst.rel_error < 1e-6, (name, worst)
        assert max(abs(c.analytic) for c in checks) > 0, name
    rng = np.random.default_rng(1)
    for name in ("dz_h1", "dh1", "dz_h2", "de"):
        shape = model.shape_of(name, len(X))
        for _ in range(4):
            c = gradcheck.check_entry(model, X, T, name, tuple(int(rng.integers(s)) for s in shape))
            assert c.rel_error < 1e-6, c


def test_a_wrong_derivative_is_caught_by_the_gradient_check(new):
    class Wrong(new):
        name = new.name + "_wrong"

        def backward(self, dout):
            return dout  # the derivative forgotten

    with registered_activation(Wrong):
        model = model_with(Wrong.name)
        report = gradcheck.check_all(model, X, T, samples=10)
    assert max(c.rel_error for c in report["W_h"]) > 1e-3


def test_an_unknown_name_is_refused_everywhere():
    with pytest.raises(ConfigError, match="activation must be one of"):
        Config(activations="leaky_relu").validate()
    with registered_activation(LeakyReLU):
        model = model_with("leaky_relu")
    # Registered no longer: the fast path does not fall back to another activation.
    with pytest.raises(ConfigError, match="leaky_relu"):
        FastPath(model, np.float64)


def test_a_colour_kind_nobody_knows_is_refused_when_the_network_is_built():
    class Misnamed(Softplus):
        name = "softplus_misnamed"
        kind = "sequential"  # not one of core.specs.KINDS: the heatmap would have guessed its colours

    with registered_activation(Misnamed):
        with pytest.raises(ValueError, match="no colour kind called 'sequential'"):
            model_with(Misnamed.name)
