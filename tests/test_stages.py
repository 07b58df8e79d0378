"""The 14 stages of the default network's minibatch: order, formulas, read-only arrays, and the numbers themselves."""

import numpy as np
import pytest

from core import gradcheck
from core.corpus import Corpus
from core.model import Config, FourGramModel
from core.stages import run_stages
from core.trainer import Trainer
from _support import PARAM_NAMES

N, D, H, V = 5, 4, 7, 11  # distinct sizes, so every number in a shape string says which size it is
VOCAB = [f"w{i}" for i in range(V)]
X = np.array([[0, 3, 1], [2, 1, 0], [5, 5, 5], [1, 6, 1], [9, 10, 0]])
T = np.array([1, 4, 0, 2, 7])

# The default network's stages, by name: stable (README and core/stages.py document them).
STAGE_NAMES = [
    "embed",
    "hidden_input",
    "hidden",
    "logits",
    "softmax",
    "loss",
    "output_error",
    "output_weights",
    "back_to_hidden",
    "through_activation",
    "hidden_weights",
    "back_to_embeddings",
    "embedding_gradient",
    "update",
]
N_STAGES = len(STAGE_NAMES)
DESIGN_ORDER = [
    "embed",
    "hidden input",
    "hidden",
    "logits",
    "softmax",
    "loss",
    "output error",
    "output weights",
    "back to hidden",
    "through σ",
    "hidden weights",
    "back to embeddings",
    "embedding gradient",
    "update",
]


def make_model(activation="sigmoid", seed=2) -> FourGramModel:
    cfg = Config(embed_dim=D, hidden_dim=H, activation=activation, init_std=0.5, seed=seed, learning_rate=0.3)
    model = FourGramModel(VOCAB, cfg)
    model.velocity["W_h"][...] = 0.01  # a non-zero velocity, so the momentum term shows in the update
    return model


def all_stages(model, x=X, t=T):
    return list(run_stages(model, x, t))


def make_corpus(n_train=60, seed=0) -> Corpus:
    rng = np.random.default_rng(seed)
    rows = lambda n: rng.integers(0, V, size=(n, 4)).astype(np.int32)  # noqa: E731
    return Corpus("tiny", "text", "memory", VOCAB, rows(n_train), rows(20), rows(20))


def test_fourteen_stages_in_the_design_order():
    model = make_model()
    stages = all_stages(model)
    assert len(stages) == len(model.stage_specs) == N_STAGES == 14
    assert [s.title.lower() for s in stages] == DESIGN_ORDER
    assert [s.name for s in stages] == [s.name for s in model.stage_specs] == STAGE_NAMES
    assert [s.index for s in stages] == list(range(14))
    assert [s.is_backward for s in stages] == [False] * 6 + [True] * 8
    tanh = all_stages(make_model("tanh"))
    assert tanh[9].title == "Through tanh" and "1 − h²" in tanh[9].formula
    assert "σ" in stages[2].formula and "h ⊙ (1−h)" in stages[9].formula


def test_formulas_and_shapes_with_numbers():
    model = make_model()
    s = {st.name: st for st in all_stages(model)}
    expect = {
        "embed": ("W_emb[x₁]", ["e: N×3d = 5×12"]),
        "hidden_input": ("z_h = e·W_h + b_h", ["5×7 = (5×12)·(12×7) + 7"]),
        "hidden": ("h = σ(z_h)", ["h: N×H = 5×7"]),
        "logits": ("z_o = h·W_o + b_o", ["5×11 = (5×7)·(7×11) + 11"]),
        "softmax": ("softmax(z_o)", ["p: N×V = 5×11"]),
        "loss": ("log p[n, tₙ]", ["N = 5"]),
        "output_error": ("dz_o = (p − Y)/N", ["dz_o: N×V = 5×11"]),
        "output_weights": ("dW_o = hᵀ·dz_o", ["7×11 = (7×5)·(5×11)", "db_o: V = 11"]),
        "back_to_hidden": ("dh = dz_o·W_oᵀ", ["5×7 = (5×11)·(11×7)"]),
        "through_activation": ("dz_h = dh ⊙", ["dz_h: N×H = 5×7"]),
        "hidden_weights": ("dW_h = eᵀ·dz_h", ["12×7 = (12×5)·(5×7)", "db_h: H = 7"]),
        "back_to_embeddings": ("de = dz_h·W_hᵀ", ["5×12 = (5×7)·(7×12)"]),
        "embedding_gradient": ("dW_emb[v] = Σ", ["dW_emb: V×d = 11×4"]),
        "update": ("v ← μ·v − η·∇", ["ΔW_emb: V×d = 11×4", "ΔW_h: 3d×H = 12×7", "Δb_o: V = 11"]),
    }
    for name, (formula, shapes) in expect.items():
        assert formula in s[name].formula, name
        for piece in shapes:
            assert piece in s[name].shapes, (name, s[name].shapes)
    for st in s.values():  # every array's axes are described
        assert st.axes == {k: model.specs[k].axes for k in st.arrays}
        for k, a in st.arrays.items():
            assert a.ndim == len(st.axes[k]), k


def test_stage_arrays_are_read_only_and_detached():
    model = make_model()
    stages = all_stages(model)
    after = {k: v.copy() for k, v in model.params.items()}
    for st in stages:
        for name, a in st.arrays.items():
            assert not a.flags.writeable, (st.name, name)
            with pytest.raises(ValueError):
                a[(0,) * a.ndim] = 123.0
            for p in model.params.values():
                assert not np.shares_memory(a, p), (st.name, name)
            for g in model.grads.values():
                assert not np.shares_memory(a, g), (st.name, name)
    # Even a viewer that forces an array writable changes only its own copy.
    for st in stages:
        for a in st.arrays.values():
            if a.flags.owndata:
                a.flags.writeable = True
                a[...] = 0
    for k in PARAM_NAMES:
        np.testing.assert_array_equal(model.params[k], after[k])
    assert stages[12].naive is not None and not stages[12].naive.flags.writeable


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_every_stage_equals_an_independent_recomputation():
    model = make_model()
    P = {k: v.copy() for k, v in model.params.items()}
    v0 = {k: v.copy() for k, v in model.velocity.items()}
    lr, mu = model.config.learning_rate, model.config.momentum
    s = {st.name: st.arrays for st in run_stages(model, X, T)}
    stage = {st.name: st for st in run_stages(make_model(), X, T)}

    e = np.concatenate([P["W_emb"][X[:, 0]], P["W_emb"][X[:, 1]], P["W_emb"][X[:, 2]]], axis=1)
    z_h = e @ P["W_h"] + P["b_h"]
    h = sigmoid(z_h)
    z_o = h @ P["W_o"] + P["b_o"]
    p = np.exp(z_o) / np.exp(z_o).sum(axis=1, keepdims=True)
    loss_n = -np.log(p[np.arange(N), T])
    Y = np.zeros((N, V))
    for n in range(N):
        Y[n, T[n]] = 1
    dz_o = (p - Y) / N
    dW_o, db_o = h.T @ dz_o, dz_o.sum(axis=0)
    dh = dz_o @ P["W_o"].T
    dz_h = dh * h * (1 - h)
    dW_h, db_h = e.T @ dz_h, dz_h.sum(axis=0)
    de = dz_h @ P["W_h"].T
    dW_emb = np.zeros((V, D))
    for n in range(N):
        for k in range(3):
            dW_emb[X[n, k]] += de[n, k * D : (k + 1) * D]
    grads = {"W_emb": dW_emb, "W_h": dW_h, "b_h": db_h, "W_o": dW_o, "b_o": db_o}

    close = dict(rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(s["embed"]["x"], X)
    np.testing.assert_array_equal(s["embed"]["e"], e)
    np.testing.assert_allclose(s["hidden_input"]["z_h"], z_h, **close)
    np.testing.assert_allclose(s["hidden"]["h"], h, **close)
    np.testing.assert_allclose(s["logits"]["z_o"], z_o, **close)
    np.testing.assert_allclose(s["softmax"]["p"], p, **close)
    np.testing.assert_allclose(s["loss"]["loss_n"], loss_n, **close)
    assert stage["loss"].extras["L"] == pytest.approx(loss_n.mean(), rel=1e-12)
    assert stage["update"].loss == pytest.approx(loss_n.mean(), rel=1e-12)
    np.testing.assert_allclose(s["output_error"]["dz_o"], dz_o, **close)
    np.testing.assert_allclose(s["output_weights"]["dW_o"], dW_o, **close)
    np.testing.assert_allclose(s["output_weights"]["db_o"], db_o, **close)
    np.testing.assert_allclose(s["back_to_hidden"]["dh"], dh, **close)
    np.testing.assert_allclose(s["through_activation"]["dz_h"], dz_h, **close)
    np.testing.assert_allclose(s["hidden_weights"]["dW_h"], dW_h, **close)
    np.testing.assert_allclose(s["hidden_weights"]["db_h"], db_h, **close)
    np.testing.assert_allclose(s["back_to_embeddings"]["de"], de, **close)
    np.testing.assert_allclose(s["embedding_gradient"]["dW_emb"], dW_emb, **close)
    for k in PARAM_NAMES:
        delta = mu * v0[k] - lr * grads[k]
        np.testing.assert_allclose(s["update"]["Δ" + k], delta, **close)
        np.testing.assert_allclose(model.params[k], P[k] + delta, **close)


def test_embedding_gradient_stage_records_the_contributions():
    st = all_stages(make_model())[12]
    assert st.name == "embedding_gradient"
    expected = {}
    for n in range(N):
        for k in range(3):
            expected.setdefault(int(X[n, k]), []).append((n, k))
    assert st.contributions == expected
    assert st.contributions[0] == [(0, 0), (1, 2), (4, 2)]
    assert st.contributions[1] == [(0, 2), (1, 1), (3, 0), (3, 2)]
    assert st.contributions[5] == [(2, 0), (2, 1), (2, 2)]
    de = st.arrays["de"].reshape(N, 3, D)
    dW = st.arrays["dW_emb"]
    for row, places in st.contributions.items():
        total = np.zeros(D)
        for n, k in places:
            total += de[n, k]
        np.testing.assert_array_equal(total, dW[row])
    repeated = np.bincount(X.ravel(), minlength=V) > 1
    np.testing.assert_array_equal(np.any(st.naive != dW, axis=1), repeated)


def test_design_example_batch_of_two():
    """The DESIGN.md example, through the stages: row 0 = δ[0,0] + δ[1,2]."""
    model = FourGramModel(VOCAB, Config(embed_dim=D, hidden_dim=H, init_std=0.5))
    x = np.array([[0, 3, 1], [2, 1, 0]])
    st = list(run_stages(model, x, np.array([4, 5])))[12]
    de = st.arrays["de"].reshape(2, 3, D)
    assert st.contributions[0] == [(0, 0), (1, 2)]
    np.testing.assert_array_equal(st.arrays["dW_emb"][0], de[0, 0] + de[1, 2])
    np.testing.assert_array_equal(st.naive[0], de[1, 2])  # the overwrite keeps only the last one


def weights_after(trainer):
    return {k: v.copy() for k, v in trainer.model.params.items()}


@pytest.mark.parametrize("stop_after", range(N_STAGES))
def test_stopping_between_stages_changes_nothing(stop_after):
    """Stop after any stage, let a viewer look around (predict, evaluate, gradient check), resume: same weights."""
    corpus = make_corpus()
    cfg = Config(embed_dim=D, hidden_dim=H, init_std=0.3, batch_size=N, seed=4)
    straight = Trainer(corpus, cfg, fast_dtype=np.float64)
    for _ in range(2):
        straight.finish_batch()
    paused = Trainer(corpus, cfg, fast_dtype=np.float64)
    paused.finish_batch()
    for _ in range(stop_after + 1):
        st = paused.step_stage()
    assert st.index == stop_after and paused.stage_index == (stop_after if stop_after < N_STAGES - 1 else -1)
    model = paused.model
    model.predict(VOCAB[:3], k=3)
    model.nearest(VOCAB[0], k=2)
    paused.evaluate("valid")
    x, t = paused.batch_at(1)
    gradcheck.check_entry(model, x, t, "W_h", (0, 0))
    gradcheck.check_entry(model, x, t, "dz_h", (0, 0))
    for a in st.arrays.values():
        np.asarray(a).sum()
    if paused.in_batch:
        paused.finish_batch()
    assert paused.step == straight.step == 2
    for k in PARAM_NAMES:
        np.testing.assert_array_equal(paused.model.params[k], straight.model.params[k])
    np.testing.assert_array_equal(paused.history.train_ce, straight.history.train_ce)


def test_stepping_a_batch_through_the_trainer():
    corpus = make_corpus()
    tr = Trainer(corpus, Config(embed_dim=D, hidden_dim=H, batch_size=N))
    assert not tr.in_batch and tr.stage_index == -1
    st = tr.step_stage()
    assert st.name == "embed" and tr.in_batch and tr.stage_index == 0 and st.batch == 0
    x, t = tr.batch_at(0)
    np.testing.assert_array_equal(st.arrays["x"], x)
    np.testing.assert_array_equal(st.arrays["t"], t)
    last = tr.finish_batch()
    assert last.name == "update" and not tr.in_batch and tr.step == 1
    assert len(tr.history) == 1 and tr.history.train_ce[0] == pytest.approx(last.loss)
    assert tr.step_stage().batch == 1
