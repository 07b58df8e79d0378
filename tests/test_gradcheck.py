"""core.gradcheck: agrees with the analytic gradients, and notices when one is wrong."""

import numpy as np
import pytest

from core import gradcheck
from core import layers
from core.layers import Embedding, Linear, Sigmoid, SoftmaxCrossEntropy
from core.model import Config, FourGramModel
from _support import PARAM_NAMES

VOCAB = [f"w{i}" for i in range(12)]
# Word 0 three times across examples, word 4 three times in one context, word 7 twice in one context.
X = np.array([[0, 3, 1], [2, 1, 0], [4, 4, 4], [7, 0, 7], [9, 10, 11]])
T = np.array([1, 5, 0, 7, 2])
REPEATED_ROW = 4


def make_model(activation="sigmoid", init_std=0.01, seed=5, dtype=np.float64):
    cfg = Config(embed_dim=4, hidden_dim=6, activation=activation, init_std=init_std, seed=seed)
    return FourGramModel(VOCAB, cfg, dtype=dtype)


@pytest.mark.parametrize("activation", list(layers.ACTIVATIONS))
@pytest.mark.parametrize("init_std", [0.01, 0.5])
def test_check_all_agrees_on_every_parameter(activation, init_std):
    """At the default initial scale (tiny gradients) and at a larger one."""
    model = make_model(activation, init_std)
    report = gradcheck.check_all(model, X, T, samples=12)
    assert set(report) == set(PARAM_NAMES)
    for name, checks in report.items():
        worst = max(checks, key=lambda c: c.rel_error)
        assert worst.rel_error < 1e-6, (name, worst)
        assert max(abs(c.analytic) for c in checks) > 0, f"{name}: only zero gradients were checked"
        assert all(c.verdict == "ok" for c in checks)


@pytest.mark.parametrize("name", ["dz_o", "dh", "dz_h", "de"])
def test_intermediate_gradients(name):
    model = make_model(init_std=0.3)
    rng = np.random.default_rng(0)
    shape = {"dz_o": (5, 12), "dh": (5, 6), "dz_h": (5, 6), "de": (5, 12)}[name]
    for _ in range(4):
        index = tuple(int(rng.integers(s)) for s in shape)
        c = gradcheck.check_entry(model, X, T, name, index)
        assert c.rel_error < 1e-6, c
        assert c.analytic != 0


def test_the_repeated_embedding_row_is_checked_exactly():
    model = make_model(init_std=0.3)
    for j in range(4):
        c = gradcheck.check_entry(model, X, T, "W_emb", (REPEATED_ROW, j))
        assert c.rel_error < 1e-6 and abs(c.analytic) > 1e-6
    untouched = gradcheck.check_entry(model, X, T, "W_emb", (6, 0))  # word 6 is not in the batch
    assert untouched.analytic == 0.0 and untouched.numeric == 0.0 and untouched.verdict == "ok"


def test_a_float32_model_is_checked_in_float64():
    model = make_model(init_std=0.3, dtype=np.float32)
    c = gradcheck.check_entry(model, X, T, "W_h", (2, 3))
    assert c.rel_error < 1e-6


def test_checking_leaves_the_model_untouched():
    """A gradient check in the middle of a minibatch must not change that minibatch."""
    model = make_model(init_std=0.3)
    before = {k: v.copy() for k, v in model.params.items()}
    model.forward(X, T)
    model.backward()
    grads = {k: v.copy() for k, v in model.grads.items()}
    model.forward(X, T)  # a minibatch paused after its forward pass
    gradcheck.check_entry(model, X[:2], T[:2], "W_o", (0, 0))
    gradcheck.check_entry(model, X[:2], T[:2], "dz_h", (0, 0))
    gradcheck.check_all(model, X[:3], T[:3], samples=2)
    model.backward()
    for k in PARAM_NAMES:
        np.testing.assert_array_equal(model.params[k], before[k])
        np.testing.assert_array_equal(model.grads[k], grads[k])


# ---- the checker can fail ----------------------------------------------------------------------


def worst(report, name):
    return max(c.rel_error for c in report[name])


def test_the_overwrite_bug_is_reported(monkeypatch):
    """With the naive embedding gradient, the repeated rows fail the check."""

    def naive_backward(self, dout):
        self.grads["W"][...] = self.naive_grad(dout)

    model = make_model(init_std=0.3)
    assert gradcheck.check_entry(model, X, T, "W_emb", (REPEATED_ROW, 1)).verdict == "ok"
    monkeypatch.setattr(Embedding, "backward", naive_backward)
    c = gradcheck.check_entry(model, X, T, "W_emb", (REPEATED_ROW, 1))
    assert c.rel_error > 0.1 and c.verdict == "wrong"
    single = gradcheck.check_entry(model, X, T, "W_emb", (9, 1))  # fed once: the naive update is right there
    assert single.rel_error < 1e-6
    report = gradcheck.check_all(model, X, T, samples=12)
    assert worst(report, "W_emb") > 0.1
    assert worst(report, "W_o") < 1e-6


def test_a_dropped_activation_term_is_reported(monkeypatch):
    model = make_model(init_std=0.3)
    monkeypatch.setattr(Sigmoid, "backward", lambda self, dout: dout * self.out)  # forgot the (1 − h)
    report = gradcheck.check_all(model, X, T, samples=8)
    for name in ("W_h", "b_h", "W_emb"):
        assert worst(report, name) > 0.1, name
    for name in ("W_o", "b_o"):
        assert worst(report, name) < 1e-6, name


def test_a_missing_bias_gradient_is_reported(monkeypatch):
    model = make_model(init_std=0.3)

    def no_bias(self, dout):
        np.matmul(self.x.T, dout, out=self.grads["W"])
        self.grads["b"].fill(0)

    monkeypatch.setattr(Linear, "backward_params", no_bias)
    report = gradcheck.check_all(model, X, T, samples=6)
    assert worst(report, "b_o") > 0.5 and worst(report, "b_h") > 0.5
    assert worst(report, "W_o") < 1e-6


def test_a_forgotten_mean_is_reported(monkeypatch):
    model = make_model(init_std=0.3)
    original = SoftmaxCrossEntropy.backward
    monkeypatch.setattr(
        SoftmaxCrossEntropy, "backward", lambda self, dout=1.0: original(self, dout) * len(self.targets)
    )
    c = gradcheck.check_entry(model, X, T, "b_o", (3,))
    assert c.rel_error == pytest.approx(1 - 1 / len(X), rel=1e-6)  # off by the factor N


def test_relative_error_and_verdicts():
    c = gradcheck.GradCheck("W_o", (0, 0), analytic=1.0, numeric=1.0 + 1e-9, step=1e-4)
    assert c.rel_error == pytest.approx(1e-9, rel=1e-3) and c.verdict == "ok"
    assert gradcheck.GradCheck("W_o", (0, 0), 1.0, 1.0001, 1e-4).verdict == "doubtful"
    assert gradcheck.GradCheck("W_o", (0, 0), 1.0, -1.0, 1e-4).verdict == "wrong"
    assert gradcheck.GradCheck("W_o", (0, 0), 0.0, 0.0, 1e-4).rel_error == 0.0
    with pytest.raises(KeyError):
        gradcheck.check_entry(make_model(), X, T, "W_nothing", (0,))


def test_check_all_in_pieces_gives_check_all_s_report():
    model = make_model(init_std=0.3)
    whole = gradcheck.check_all(model, X, T, samples=6)
    job = gradcheck.CheckAll(model, X, T, samples=6)
    completed = []
    pieces = 0
    while not job.finished:
        completed += job.run_for(0.0)  # one entry per piece
        pieces += 1
    assert pieces == job.total == job.done == sum(len(c) for c in whole.values())
    assert completed == list(model.params) and job.seconds > 0
    assert job.results == whole
