"""Gradient health: every reading equals a direct computation from the network's arrays, and depth shows.

A 4-hidden-layer sigmoid network's first layer gets gradients orders of
magnitude smaller than its last; a ReLU one's do not shrink that way.
"""

import numpy as np
import pytest

from core.health import Health
from core.layers import ACTIVATIONS
from core.model import Config, FourGramModel
from core.trainer import Trainer


def direct_saturation(name, h) -> float:
    """The definitions, written out again: σ and tanh beyond 0.99 of their range; ReLU units 0 for every example."""
    if name == "sigmoid":
        return float(np.mean((h < 0.005) | (h > 0.995)))
    if name == "tanh":
        return float(np.mean(np.abs(h) > 0.99))
    return float(np.mean(np.all(h == 0, axis=0)))


def test_a_stepped_minibatch_reading_is_its_arrays_norms(demo_corpus):
    cfg = Config(embed_dim=6, hidden_dims=(9, 7, 5), activations=("relu", "tanh", "sigmoid"), init_std=0.5,
                 batch_size=20)
    trainer = Trainer(demo_corpus, cfg)
    trainer.model.params["b_h1"][[2, 5]] = -100.0  # two ReLU units of 9 that no example can switch on: dead
    arrays = {}
    for _ in range(2 * len(trainer.model.stage_specs)):  # two stepped minibatches
        arrays.update(trainer.step_stage().arrays)
    health = trainer.health
    assert health.weights == ("W_h1", "W_h2", "W_h3", "W_o")
    assert health.labels == ("hidden 1", "hidden 2", "hidden 3", "output")
    assert health.hidden == ("hidden 1", "hidden 2", "hidden 3")
    assert [r.step for r in health.readings] == [1, 2]
    last = health.readings[-1]
    model = trainer.model
    for i, w in enumerate(health.weights):
        assert last.grad_norm[i] == pytest.approx(np.linalg.norm(arrays["d" + w]), rel=1e-12)
        ratio = np.linalg.norm(arrays["Δ" + w]) / np.linalg.norm(model.params[w])
        assert last.update_ratio[i] == pytest.approx(ratio, rel=1e-12)
        np.testing.assert_array_equal(health.grads[i], arrays["d" + w])
    assert last.saturation[0] == 2 / 9
    for i, (name, h) in enumerate(zip(cfg.activations, ("h1", "h2", "h3"))):
        assert last.saturation[i] == direct_saturation(name, arrays[h])
        np.testing.assert_array_equal(health.h[i], arrays[h])
    steps, values = health.series("grad_norm")
    assert steps.tolist() == [1, 2] and values.shape == (2, 4) and values[-1].tolist() == last.grad_norm.tolist()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_run_mode_readings_come_from_the_fast_path_and_equal_the_steppers(demo_corpus, dtype):
    cfg = Config(embed_dim=6, hidden_dims=(8, 6), activations=("tanh", "relu"), init_std=0.3, batch_size=30)
    trainer = Trainer(demo_corpus, cfg, fast_dtype=dtype)
    assert trainer.run(35) == 35
    health = trainer.health
    assert [r.step for r in health.readings] == [10, 20, 30]
    # The same 30 minibatches on the stepper's model, from the same initial weights.
    model = FourGramModel(demo_corpus.vocab, cfg)
    for s in range(30):
        x, t = trainer.batch_at(s)
        model.forward(x, t)
        model.backward()
        model.apply_update()
    last = health.readings[-1]
    tol = 1e-9 if dtype == np.float64 else 2e-4
    for i, w in enumerate(health.weights):
        assert last.grad_norm[i] == pytest.approx(np.linalg.norm(model.grads[w]), rel=tol), w
        ratio = np.linalg.norm(model.velocity[w]) / np.linalg.norm(model.params[w])
        assert last.update_ratio[i] == pytest.approx(ratio, rel=tol), w
        np.testing.assert_allclose(health.grads[i], model.grads[w], rtol=tol, atol=tol * np.abs(model.grads[w]).max())
    hs = [layer.out for layer in model.layers if hasattr(layer, "saturation")]  # each activation's h
    for i, (name, h) in enumerate(zip(cfg.activations, hs)):
        np.testing.assert_allclose(health.h[i], h, rtol=tol, atol=tol)
        if dtype == np.float64:
            assert last.saturation[i] == direct_saturation(name, h)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_every_activation_measures_its_saturation_as_a_fraction(name):
    h = ACTIVATIONS[name].apply(np.random.default_rng(0).standard_normal((40, 30)) * 4)
    s = ACTIVATIONS[name].saturation(h)
    assert s is None or 0.0 <= s <= 1.0
    if name in ("sigmoid", "tanh", "relu"):
        assert s == direct_saturation(name, h) and ACTIVATIONS[name].saturation_text


def test_four_sigmoid_layers_starve_the_first_and_four_relu_layers_do_not(demo_corpus):
    """Weights of std 0.2 (about √(2/64), the usual choice for ReLU layers 64 wide), 10 minibatches of 100.

    Going back through a sigmoid layer multiplies the gradient by σ′ ≤ ¼ (and the weights): ‖dW_h1‖ ends up
    about a hundredth of ‖dW_o‖. Through ReLU layers (ReLU′ = 1 where a unit is active) it does not shrink.
    (With the default std of 0.01 both shrink, ReLU's because its tiny weights do.)
    """
    ratios = {}
    for act in ("sigmoid", "relu"):
        trainer = Trainer(demo_corpus, Config(hidden_dims=(64, 64, 64, 64), activations=act, init_std=0.2))
        trainer.run(10)
        g = trainer.health.series("grad_norm")[1][-1]  # ‖dW_h1‖, ..., ‖dW_h4‖, ‖dW_o‖ after 10 minibatches
        ratios[act] = g[0] / g[-1]
        if act == "sigmoid":
            assert (np.diff(g) > 0).all(), g  # smaller at every layer going back
    assert ratios["sigmoid"] < 0.03, ratios
    assert ratios["relu"] > 0.3, ratios


def test_a_roll_back_forgets_the_readings_it_undoes(demo_corpus):
    from core.errors import DivergenceError

    trainer = Trainer(demo_corpus, Config(learning_rate=1.5))  # the loss explodes at minibatch 4
    trainer.health.every = 1
    with pytest.raises(DivergenceError):
        trainer.run(50)
    assert trainer.step == 2 and [r.step for r in trainer.health.readings] == [1, 2]


def test_a_network_without_hidden_layers_has_only_the_output(demo_corpus):
    trainer = Trainer(demo_corpus, Config(hidden_dims=(), batch_size=10))
    trainer.finish_batch()
    h = trainer.health
    assert h.weights == ("W_o",) and h.labels == ("output",) and h.hidden == ()
    assert h.series("saturation")[1].shape == (1, 0)
    with pytest.raises(KeyError):
        h.series("loss")
    assert isinstance(Health(trainer.model), Health)


def test_loss_above_uniform_says_why_from_the_minibatch_s_own_probabilities():
    import math

    from core.health import loss_above_uniform

    V = 4
    p = np.array([[0.85, 0.05, 0.05, 0.05], [0.97, 0.01, 0.01, 0.01]])
    t = np.array([1, 2])
    loss = float(-np.mean(np.log(p[np.arange(2), t])))
    assert loss > math.log(V)
    vocab = ["a", "b", "c", "d"]
    text = loss_above_uniform(loss, p, t, vocab, 2, 0.1)
    assert f"L = {loss:.3f} is above a uniform guess's (ln 4 = {math.log(4):.2f})" in text
    assert "example 1: p = 0.97 on 'a', 0.01 on its target 'c'" in text  # the target given the least
    assert "With 2 examples a minibatch, the learning rate 0.1 (set for 100) moves each example's target 50 times" in text
    assert "minibatch" not in loss_above_uniform(loss, p, t, vocab, 100, 0.1)
    assert loss_above_uniform(math.log(V) - 0.01, p, t, vocab, 2, 0.1) is None
