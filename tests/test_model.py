"""The 4-gram model: gradients of the whole network, the update, words, and hyperparameter checks."""

import numpy as np
import pytest

from core.errors import ConfigError, InputError, UnknownWordError
from core.layers import ACTIVATIONS, activation_class
from core.model import Config, FourGramModel
from _support import PARAM_NAMES

VOCAB = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran"]
# The activations the scalar autograd and PyTorch below write out on their own (the finite-difference
# test covers every registered one).
REFERENCE_ACTIVATIONS = ["sigmoid", "tanh", "relu"]
# Words repeat across examples (0, 1, 3) and within one context (row 2: 5 three times; row 3: 1 twice).
X = np.array([[0, 1, 2], [3, 0, 4], [5, 5, 5], [1, 6, 1], [2, 3, 0]])
T = np.array([3, 4, 5, 7, 0])


def small_model(activation="sigmoid", seed=3, **kw) -> FourGramModel:
    cfg = Config(embed_dim=3, hidden_dim=4, activation=activation, init_std=0.7, seed=seed, **kw)
    model = FourGramModel(VOCAB, cfg)
    rng = np.random.default_rng(seed)
    model.params["b_h"][...] = 0.3 * rng.standard_normal(4)  # biases are 0 at first: give them a gradient's worth
    model.params["b_o"][...] = 0.3 * rng.standard_normal(len(VOCAB))
    return model


def reference_loss(P, x, t, activation) -> float:
    """The model's loss written out again, from the parameters alone (and the activation's function)."""
    n = len(x)
    e = P["W_emb"][x].reshape(n, -1)
    z_h = e @ P["W_h"] + P["b_h"]
    h = activation_class(activation).apply(z_h)
    z_o = h @ P["W_o"] + P["b_o"]
    m = z_o.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(z_o - m).sum(axis=1, keepdims=True)))[:, 0]
    return float(np.mean(lse - z_o[np.arange(n), t]))


def numeric_grads(model, x, t, step=1e-6):
    out = {}
    act = model.config.activation
    for name in PARAM_NAMES:
        p = model.params[name]
        g = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + step
            up = reference_loss(model.params, x, t, act)
            p[i] = old - step
            down = reference_loss(model.params, x, t, act)
            p[i] = old
            g[i] = (up - down) / (2 * step)
        out[name] = g
    return out


def rel_error(a, b) -> float:
    floor = max(1e-4 * max(np.abs(a).max(), np.abs(b).max()), 1e-12)
    return float((np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)).max())


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_model_gradients_match_finite_differences(activation):
    model = small_model(activation)
    e = model.params["W_emb"][X].reshape(len(X), -1)
    z_h = e @ model.params["W_h"] + model.params["b_h"]
    for kink in activation_class(activation).kinks:  # the check needs every hidden input away from a kink
        assert np.abs(z_h - kink).min() > 1e-3
    loss = model.forward(X, T)
    assert loss == pytest.approx(reference_loss(model.params, X, T, activation), rel=1e-12)
    model.backward()
    analytic = {k: g.copy() for k, g in model.grads.items()}
    numeric = numeric_grads(model, X, T)
    for name in PARAM_NAMES:
        assert np.abs(numeric[name]).max() > 1e-3, f"{name}: the check would be empty"
        assert rel_error(analytic[name], numeric[name]) < 1e-6, name
    # The overwrite bug would fail this check on the repeated words.
    n = len(X)
    de = model.loss_layer.backward()
    for layer in reversed(model.layers[1:]):  # dz_o back to de
        de = layer.backward(de)
    naive = model.embedding.naive_grad(de.reshape(n, 3, -1))
    assert rel_error(naive, numeric["W_emb"]) > 1e-2


class Var:
    """A scalar that remembers how it was computed: a minimal reverse-mode autograd, independent of core.layers."""

    def __init__(self, value, parents=()):
        self.value, self.parents, self.grad = float(value), parents, 0.0  # parents: ((Var, local derivative), ...)

    def __add__(self, other):
        other = other if isinstance(other, Var) else Var(other)
        return Var(self.value + other.value, ((self, 1.0), (other, 1.0)))

    __radd__ = __add__

    def __mul__(self, other):
        other = other if isinstance(other, Var) else Var(other)
        return Var(self.value * other.value, ((self, other.value), (other, self.value)))

    __rmul__ = __mul__

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-other)

    def exp(self):
        e = np.exp(self.value)
        return Var(e, ((self, e),))

    def log(self):
        return Var(np.log(self.value), ((self, 1.0 / self.value),))

    def act(self, kind):
        z = self.value
        if kind == "sigmoid":
            s = 1.0 / (1.0 + np.exp(-z))
            return Var(s, ((self, s * (1 - s)),))
        if kind == "tanh":
            t = np.tanh(z)
            return Var(t, ((self, 1 - t * t),))
        return Var(max(z, 0.0), ((self, 1.0 if z > 0 else 0.0),))

    def backward(self):
        order, seen = [], set()

        def visit(v):
            if id(v) not in seen:
                seen.add(id(v))
                for p, _ in v.parents:
                    visit(p)
                order.append(v)

        visit(self)
        self.grad = 1.0
        for v in reversed(order):
            for p, local in v.parents:
                p.grad += local * v.grad


def autograd_grads(model, x, t):
    """Gradients of the mean cross-entropy by the scalar autograd above, built from the parameters alone."""
    act = model.config.activation
    P = {k: np.vectorize(Var, otypes=[object])(v) for k, v in model.params.items()}
    n, d = len(x), P["W_emb"].shape[1]
    H, V = P["b_h"].shape[0], P["b_o"].shape[0]
    total = Var(0.0)
    for i in range(n):
        e = [P["W_emb"][x[i, k], j] for k in range(3) for j in range(d)]
        h = [sum((e[a] * P["W_h"][a, u] for a in range(3 * d)), P["b_h"][u]).act(act) for u in range(H)]
        z = [sum((h[u] * P["W_o"][u, v] for u in range(H)), P["b_o"][v]) for v in range(V)]
        m = max(zz.value for zz in z)  # a constant shift: keeps exp finite, changes no derivative
        lse = sum(((zz - m).exp() for zz in z), Var(0.0)).log() + m
        total = total + (lse - z[t[i]])
    loss = total * (1.0 / n)
    loss.backward()
    return loss.value, {k: np.vectorize(lambda v: v.grad, otypes=[float])(a) for k, a in P.items()}


@pytest.mark.parametrize("activation", REFERENCE_ACTIVATIONS)
def test_an_independent_autograd_agrees(activation):
    model = small_model(activation)
    loss = model.forward(X, T)
    model.backward()
    auto_loss, auto = autograd_grads(model, X, T)
    assert loss == pytest.approx(auto_loss, rel=1e-13)
    for name in PARAM_NAMES:
        assert np.abs(auto[name]).max() > 1e-3
        np.testing.assert_allclose(model.grads[name], auto[name], rtol=1e-11, atol=1e-15, err_msg=name)


def test_torch_autograd_agrees():
    """An independent autograd, when PyTorch happens to be installed."""
    torch = pytest.importorskip("torch")
    for activation in REFERENCE_ACTIVATIONS:
        model = small_model(activation)
        model.forward(X, T)
        model.backward()
        P = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in model.params.items()}
        x = torch.tensor(X)
        e = P["W_emb"][x].reshape(len(X), -1)
        z_h = e @ P["W_h"] + P["b_h"]
        h = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}[activation](z_h)
        z_o = h @ P["W_o"] + P["b_o"]
        loss = torch.nn.functional.cross_entropy(z_o, torch.tensor(T))
        loss.backward()
        for name in PARAM_NAMES:
            np.testing.assert_allclose(model.grads[name], P[name].grad.numpy(), rtol=1e-10, atol=1e-14)


def test_momentum_update_by_hand():
    model = small_model(learning_rate=0.5, momentum=0.8)
    before = {k: v.copy() for k, v in model.params.items()}
    model.forward(X, T)
    model.backward()
    g1 = {k: v.copy() for k, v in model.grads.items()}
    model.apply_update()
    for k in PARAM_NAMES:
        np.testing.assert_allclose(model.velocity[k], -0.5 * g1[k], rtol=1e-15)
        np.testing.assert_allclose(model.params[k], before[k] - 0.5 * g1[k], rtol=1e-13)
    mid = {k: v.copy() for k, v in model.params.items()}
    model.forward(X, T)
    model.backward()
    g2 = {k: v.copy() for k, v in model.grads.items()}
    model.apply_update()
    for k in PARAM_NAMES:
        v = 0.8 * (-0.5 * g1[k]) - 0.5 * g2[k]
        np.testing.assert_allclose(model.velocity[k], v, rtol=1e-13, atol=1e-16)
        np.testing.assert_allclose(model.params[k], mid[k] + v, rtol=1e-13, atol=1e-16)


def test_defaults_and_initial_weights():
    c = Config()
    assert (c.embed_dim, c.hidden_dim, c.activation, c.init_std) == (50, 200, "sigmoid", 0.01)
    assert (c.learning_rate, c.momentum, c.batch_size) == (0.1, 0.9, 100)
    vocab = [f"w{i}" for i in range(250)]
    model = FourGramModel(vocab)
    assert model.shapes() == {"W_emb": (250, 50), "W_h": (150, 200), "b_h": (200,), "W_o": (200, 250), "b_o": (250,)}
    for k in ("W_emb", "W_h", "W_o"):
        assert model.params[k].std() == pytest.approx(0.01, rel=0.05)
        assert abs(model.params[k].mean()) < 1e-3
    assert not model.params["b_h"].any() and not model.params["b_o"].any()
    assert all(not v.any() for v in model.velocity.values())
    np.testing.assert_array_equal(FourGramModel(vocab).params["W_h"], model.params["W_h"])  # same seed, same weights
    assert not np.array_equal(FourGramModel(vocab, Config(seed=2)).params["W_h"], model.params["W_h"])


# ---- words ----------------------------------------------------------------------------------


def softmax_by_hand(model, words):
    P = model.params
    idx = [VOCAB.index(w) for w in words]
    e = np.concatenate([P["W_emb"][i] for i in idx])
    h = 1 / (1 + np.exp(-(e @ P["W_h"] + P["b_h"])))
    z = h @ P["W_o"] + P["b_o"]
    return np.exp(z) / np.exp(z).sum()


def test_predict_top_k():
    model = small_model()
    top = model.predict(["the", "cat", "sat"], k=3)
    assert len(top) == 3
    p = softmax_by_hand(model, ["the", "cat", "sat"])
    order = np.argsort(-p)[:3]
    assert [w for w, _ in top] == [VOCAB[i] for i in order]
    np.testing.assert_allclose([q for _, q in top], p[order], rtol=1e-12)
    probs = [q for _, q in top]
    assert probs == sorted(probs, reverse=True)
    assert sum(probs) <= 1.0
    everything = model.predict("The cat SAT", k=100)  # a string, any case; k larger than V
    assert len(everything) == len(VOCAB)
    assert sum(q for _, q in everything) == pytest.approx(1.0, abs=1e-12)


def test_predict_between_forward_and_backward_does_not_change_the_gradients():
    """A viewer that asks for predictions in the middle of a minibatch must not disturb it."""
    model = small_model()
    model.forward(X, T)
    model.backward()
    expected = {k: v.copy() for k, v in model.grads.items()}
    model.forward(X, T)
    model.predict(["the", "cat", "sat"], k=3)
    model.evaluate(np.array([[0, 0, 0, 1], [2, 2, 2, 3]]))
    model.backward()
    for k in PARAM_NAMES:
        np.testing.assert_array_equal(model.grads[k], expected[k])


def test_nearest_and_distance():
    model = small_model()
    W = model.params["W_emb"]
    near = model.nearest("cat", k=4)
    words = [w for w, _ in near]
    assert "cat" not in words and len(words) == 4
    dists = [d for _, d in near]
    assert dists == sorted(dists)
    for w, d in near:
        assert d == pytest.approx(np.linalg.norm(W[VOCAB.index(w)] - W[1]), rel=1e-12)
    others = [np.linalg.norm(W[i] - W[1]) for i in range(len(VOCAB)) if i != 1 and VOCAB[i] not in words]
    assert min(others) >= dists[-1]
    assert len(model.nearest("cat", k=100)) == len(VOCAB) - 1
    assert model.distance("cat", "dog") == pytest.approx(model.distance("dog", "cat"), rel=0, abs=0)
    assert model.distance("cat", "dog") == pytest.approx(np.linalg.norm(W[1] - W[6]), rel=1e-12)
    assert model.distance("mat", "mat") == 0.0


def test_unknown_words():
    model = small_model()
    with pytest.raises(UnknownWordError) as info:
        model.predict(["the", "cta", "sat"])
    err = info.value
    assert isinstance(err, InputError)
    assert err.word == "cta" and "cat" in err.suggestions
    assert "\n" not in str(err) and "cta" in str(err) and "cat" in str(err)
    for call in (lambda: model.nearest("zebra"), lambda: model.distance("the", "zebra")):
        with pytest.raises(UnknownWordError) as info:
            call()
        assert info.value.suggestions  # always something to offer
    with pytest.raises(InputError, match="exactly 3 words"):
        model.predict(["the", "cat"])


# ---- hyperparameters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, words",
    [
        (dict(batch_size=0), "batch size"),
        (dict(learning_rate=-0.1), "learning rate"),
        (dict(learning_rate=0.0), "learning rate"),
        (dict(momentum=1.0), "momentum"),
        (dict(momentum=1.5), "momentum"),
        (dict(momentum=-0.1), "momentum"),
        (dict(hidden_dim=10**6), "hidden dim"),
        (dict(embed_dim=0), "embed dim"),
        (dict(activation="softplus"), "activation"),
        (dict(init_std=float("nan")), "init std"),
        (dict(learning_rate="0.1"), "learning rate"),
        (dict(batch_size=2.5), "batch size"),
    ],
)
def test_config_refuses_values_that_cannot_work(change, words):
    with pytest.raises(ConfigError) as info:
        Config(**change).validate()
    message = str(info.value)
    assert words in message and "\n" not in message and len(message) < 120
    with pytest.raises(ConfigError):
        FourGramModel(VOCAB, Config(**change))


def test_config_accepts_teaching_sizes():
    Config(batch_size=1, momentum=0.0, hidden_dim=1, embed_dim=1).validate()
    assert Config.from_dict(Config(learning_rate=0.5).to_dict()) == Config(learning_rate=0.5)
    with pytest.raises(ConfigError, match="unknown"):
        Config.from_dict({"hiden_dim": 3})


def test_vocabulary_checks():
    with pytest.raises(ConfigError):
        FourGramModel(["a"])
    with pytest.raises(ConfigError):
        FourGramModel(["a", "b", "a"])


def test_an_init_std_whose_weights_round_to_zero_in_training_is_refused():
    from core.model import MIN_INIT_STD

    # at the limit, every initial weight survives the 32-bit copy run mode trains on
    model = FourGramModel([f"w{i}" for i in range(20)], Config(embed_dim=4, hidden_dim=5, init_std=MIN_INIT_STD))
    for name, theta in model.params.items():
        if name.startswith("W"):
            assert np.count_nonzero(theta.astype(np.float32)) == theta.size, name
    # far below it, they all become 0 there: nothing breaks the symmetry, so the network cannot learn
    assert np.count_nonzero((1e-300 * np.ones(3)).astype(np.float32)) == 0
    with pytest.raises(ConfigError, match=r"init std must be at least 1e-30, got 1e-300: smaller weights round to 0"):
        Config(init_std=1e-300).validate()
    Config(init_std=MIN_INIT_STD).validate()
