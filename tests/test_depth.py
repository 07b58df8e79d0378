"""Networks with 0 to 4 hidden layers of mixed activations: every gradient, the stages, the fast path.

The reference here is written out again from the parameters alone, following
the naming rule of core/model.py (one hidden layer: W_h, b_h, z_h, h; several:
W_h1, b_h1, z_h1, h1, W_h2, ...). Gradients are compared with central finite
differences in float64, on a minibatch where words repeat across examples and
within one context.
"""

import numpy as np
import pytest

from core import gradcheck
from core.fast import FastPath
from core.layers import ACTIVATIONS, activation_class
from core.model import Config, FourGramModel
from core.stages import run_stages

VOCAB = [f"w{i}" for i in range(9)]
# Word 0 in three examples, word 5 three times in one context, word 1 twice in one context.
X = np.array([[0, 1, 2], [3, 0, 4], [5, 5, 5], [1, 6, 1], [2, 3, 0], [8, 7, 6]])
T = np.array([3, 4, 5, 7, 0, 8])
WIDTHS = {0: (), 1: (5,), 2: (6, 4), 3: (4, 6, 3), 4: (5, 4, 6, 3)}


def activations_for(depth: int, shift: int = 0) -> tuple[str, ...]:
    """Every registered activation in turn, starting at ``shift``: mixed for two layers or more."""
    names = list(ACTIVATIONS)
    return tuple(names[(i + shift) % len(names)] for i in range(depth))


CASES = [(depth, shift) for depth in WIDTHS for shift in (range(len(ACTIVATIONS)) if depth else [0])]


def make(depth: int, shift: int = 0, seed: int = 4, **kw) -> FourGramModel:
    acts = activations_for(depth, shift) or "sigmoid"
    cfg = Config(embed_dim=3, hidden_dims=WIDTHS[depth], activations=acts, init_std=0.6, seed=seed,
                 batch_size=len(X), **kw)
    model = FourGramModel(VOCAB, cfg)
    rng = np.random.default_rng(seed)
    for name, p in model.params.items():
        if name.startswith("b_"):  # biases start at 0: give them values, so nothing is checked only at 0
            p[...] = 0.3 * rng.standard_normal(p.shape)
    return model


def names(depth: int) -> list[tuple[str, str, str, str]]:
    """(W, b, z, h) of every hidden layer, by the documented rule."""
    if depth == 1:
        return [("W_h", "b_h", "z_h", "h")]
    return [(f"W_h{i}", f"b_h{i}", f"z_h{i}", f"h{i}") for i in range(1, depth + 1)]


def steps(P, config) -> list[tuple[str, object]]:
    """The forward pass after e as (name of what it computes, function): z and h of each hidden layer, then z_o."""
    out = []
    for (W, b, z, h), act in zip(names(len(config.hidden_dims)), config.activations):
        out += [(z, lambda a, W=W, b=b: a @ P[W] + P[b]), (h, activation_class(act).apply)]
    out.append(("z_o", lambda a: a @ P["W_o"] + P["b_o"]))
    return out


def reference_forward(P, config, x, start: str = "e", value=None) -> dict[str, np.ndarray]:
    """Every array of the forward pass (e, z and h of each hidden layer, z_o), by name.

    With ``start`` and ``value``: the pass from that intermediate set to
    ``value`` on (only the arrays after it are computed).
    """
    out = {"e": P["W_emb"][x].reshape(len(x), -1) if start == "e" and value is None else value}  # (N, 3d)
    a = out["e"]
    todo = steps(P, config)
    if start != "e":
        k = [n for n, _ in todo].index(start)
        out, a, todo = {start: value}, value, todo[k + 1:]
    for name, f in todo:
        a = out[name] = f(a)
    return out


def kink_sides(forward, config) -> dict[str, np.ndarray]:
    """For every hidden input that reaches an activation with kinks: which side of each kink each entry is on."""
    out = {}
    for (_, _, z, _), act in zip(names(len(config.hidden_dims)), config.activations):
        kinks = activation_class(act).kinks
        if z in forward and kinks:
            out[z] = np.stack([forward[z] > k for k in kinks])
    return out


def loss_of(P, config, base_sides, start="e", value=None) -> float:
    """The mean cross-entropy; refuses a perturbation that moves a hidden input across a kink (no derivative there)."""
    forward = reference_forward(P, config, X, start, value)
    for z, sides in kink_sides(forward, config).items():
        assert (sides == base_sides[z]).all(), f"{z} crossed a kink: choose another seed"
    return cross_entropy(forward["z_o"], T)


def cross_entropy(z_o, t) -> float:
    m = z_o.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(z_o - m).sum(axis=1))
    return float(np.mean(lse - z_o[np.arange(len(t)), t]))


STEP = 1e-3


def central_difference(f, a: np.ndarray, step: float = STEP) -> np.ndarray:
    """The derivative of ``f()`` by every entry of ``a`` (moved in place, then restored), by central differences.

    The five-point stencil (f(−2h) − 8f(−h) + 8f(h) − f(2h)) / 12h: its error
    is of order h⁴, so h can be large enough (1e-3) for the rounding of the
    losses (about 1e-16 each) to stay near 1e-13 of the derivative.
    """
    g = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        values = []
        for k in (-2, -1, 1, 2):
            a[i] = old + k * step
            values.append(f())
        a[i] = old
        g[i] = (values[0] - 8 * values[1] + 8 * values[2] - values[3]) / (12 * step)
    return g


def rel_error(a, b) -> float:
    """Largest |a − b| / max(|a|, |b|), entries far below the largest measured against 1e-4 of it."""
    floor = max(1e-4 * max(np.abs(a).max(), np.abs(b).max()), 1e-12)
    return float((np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)).max())


def stepped_arrays(model) -> dict[str, np.ndarray]:
    """Every array of one stepped minibatch (before its update changes the weights)."""
    out = {}
    for stage in run_stages(model, X, T):
        if stage.is_update:
            break
        out.update(stage.arrays)
    return out


@pytest.mark.parametrize("depth, shift", CASES)
def test_every_gradient_matches_central_differences(depth, shift):
    model = make(depth, shift)
    c = model.config
    P = {k: v.copy() for k, v in model.params.items()}
    forward = reference_forward(P, c, X)
    sides = kink_sides(forward, c)
    arrays = stepped_arrays(model)
    for name, value in forward.items():
        np.testing.assert_allclose(arrays[name], value, rtol=1e-12, atol=1e-14, err_msg=name)
    assert arrays["loss_n"].mean() == pytest.approx(cross_entropy(forward["z_o"], T), rel=1e-12)

    # Every parameter's gradient.
    for name in P:
        numeric = central_difference(lambda: loss_of(P, c, sides), P[name])
        assert np.abs(numeric).max() > 1e-4, f"{name}: the check would be empty"
        assert rel_error(arrays["d" + name], numeric) < 1e-6, name
    # Every intermediate array's gradient: de, dz_h and dh of each layer, dz_o.
    for name, value in forward.items():
        a = value.copy()
        numeric = central_difference(lambda: loss_of(P, c, sides, name, a), a)
        grad = "d" + name
        assert rel_error(arrays[grad], numeric) < 1e-6, grad
    # The scatter-add: the overwrite bug would lose the repeated words' contributions.
    naive = np.zeros_like(P["W_emb"])
    naive[X.reshape(-1)] = arrays["de"].reshape(-1, c.embed_dim)
    assert rel_error(naive, arrays["dW_emb"]) > 1e-2


@pytest.mark.parametrize("depth", WIDTHS)
def test_the_gradient_check_agrees_on_everything_it_can_check(depth):
    model = make(depth, shift=1)
    names_checked = gradcheck.checkable(model)
    assert len(names_checked) == len(model.params) + 2 + 2 * depth  # dz_o, de, and dh, dz of each layer
    rng = np.random.default_rng(depth)
    for name in names_checked:
        shape = gradcheck.gradient_shape(model, name, len(X))
        for _ in range(3):
            c = gradcheck.check_entry(model, X, T, name, tuple(int(rng.integers(s)) for s in shape))
            assert c.rel_error < 1e-6, c


@pytest.mark.parametrize("depth", WIDTHS)
def test_the_stages_follow_the_naming_rule(depth):
    model = make(depth)
    stages = list(run_stages(model, X, T))
    assert len(stages) == len(model.stage_specs) == 9 + 5 * depth
    assert [s.name for s in stages] == [s.name for s in model.stage_specs]
    got = [s.name for s in stages]
    if depth == 1:
        hidden_fwd, hidden_bwd = ["hidden_input", "hidden"], ["back_to_hidden", "through_activation", "hidden_weights"]
    else:
        hidden_fwd = [n for i in range(1, depth + 1) for n in (f"hidden_input_{i}", f"hidden_{i}")]
        hidden_bwd = [n for i in range(depth, 0, -1)
                      for n in (f"back_to_hidden_{i}", f"through_activation_{i}", f"hidden_weights_{i}")]
    assert got == ["embed", *hidden_fwd, "logits", "softmax", "loss", "output_error", "output_weights", *hidden_bwd,
                   "back_to_embeddings", "embedding_gradient", "update"]
    assert [s.index for s in stages] == list(range(len(stages)))
    assert [b.key for b in model.boxes] == ["input", "embedding",
                                            *(["hidden"] if depth == 1 else [f"hidden_{i}" for i in range(1, depth + 1)]
                                              if depth else []), "output", "loss"]
    for stage in stages:  # each array's shape is the one its spec gives
        for name, a in stage.arrays.items():
            assert a.shape == model.shape_of(name, len(X)), name


@pytest.mark.parametrize("depth, shift", [(d, s) for d in WIDTHS for s in (0, 2)])
def test_the_fast_path_reaches_the_steppers_weights_after_50_minibatches(depth, shift):
    stepped = make(depth, shift)
    for k in stepped.params:  # smaller weights than the gradient tests': four layers stay trainable
        stepped.params[k] *= 0.5
    fast = FastPath(stepped, np.float64)
    start = {k: v.copy() for k, v in stepped.params.items()}
    rng = np.random.default_rng(depth + 10 * shift)
    for i in range(50):
        x = rng.integers(0, len(VOCAB), size=(len(X), 3))
        x[0, 1] = x[0, 0]  # a word twice in one context, and the vocabulary is small: repeats across examples
        t = rng.integers(0, len(VOCAB), size=len(X))
        lr, mu = (1.0, 0.9) if i % 2 else (0.5, 0.5)  # changed live, as the window does
        stepped.config = stepped.config.replace(learning_rate=lr, momentum=mu)
        stepper = list(run_stages(stepped, x, t))  # the window's stepper, stage by stage
        assert stepper[-1].extras == {"learning_rate": lr, "momentum": mu}
        assert fast.train_batch(x, t, lr, mu) == pytest.approx(stepper[-1].loss, rel=1e-10)
    for k, theta in stepped.params.items():
        np.testing.assert_allclose(fast.params[k], theta, rtol=1e-10, atol=1e-10 * np.abs(theta).max(), err_msg=k)
        np.testing.assert_allclose(fast.velocity[k], stepped.velocity[k], rtol=1e-10,
                                   atol=1e-10 * np.abs(stepped.velocity[k]).max(), err_msg=k)
        assert np.abs(theta - start[k]).max() > 1e-2 * np.abs(theta).max(), f"{k} hardly moved"
