"""The fast path: the stepper's mathematics on flat buffers, in float64 and float32."""

import importlib.util
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from core.corpus import Corpus
from core.fast import FastPath
from core.layers import ACTIVATIONS
from core.model import Config, FourGramModel
from core.trainer import Trainer
from _support import PARAM_NAMES, interrupt_on_call

V = 23
VOCAB = [f"w{i}" for i in range(V)]
BENCH = Path(__file__).resolve().parents[1] / "bench"


def make_model(activation="sigmoid", embed_dim=6, hidden_dim=7, batch_size=100, **kw) -> FourGramModel:
    cfg = Config(embed_dim=embed_dim, hidden_dim=hidden_dim, activation=activation, batch_size=batch_size, **kw)
    return FourGramModel(VOCAB, cfg)


def batches(n, count, seed=0):
    """``count`` minibatches (x (n, 3), t (n,)) from a small vocabulary, so words repeat a lot.

    Every batch's first context repeats a word inside itself, as "w3 w3 w5" would.
    """
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        x = rng.integers(0, V, size=(n, 3)).astype(np.int32)
        x[0, 2] = x[0, 0]
        out.append((x, rng.integers(0, V, size=n).astype(np.int32)))
    return out


def stepper_batch(model, x, t, lr, mu) -> float:
    loss = model.forward(x, t)
    model.backward()
    model.apply_update(lr, mu)
    return loss


def assert_close(a, b, rtol, err_msg=""):
    """Every element within rtol of the array's largest magnitude (elements near 0 compared on that scale)."""
    scale = max(float(np.abs(b).max()), 1e-300)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale, err_msg=err_msg)


# ---- the same numbers as the stepper -------------------------------------------------------------------


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("n", [1, 2, 100])
def test_float64_fast_path_follows_the_stepper_for_50_batches(activation, n):
    # Larger initial weights and learning rate than the defaults, so the weights move far in 50 batches
    # (much larger ones make small batches chaotic: rounding differences then grow without bound).
    stepped = make_model(activation, init_std=0.05, learning_rate=0.2)
    fast = FastPath(stepped, np.float64)
    start = {k: v.copy() for k, v in stepped.params.items()}
    for i, (x, t) in enumerate(batches(n, 50, seed=n)):
        lr, mu = (0.2, 0.9) if i % 2 else (0.1, 0.5)  # live changes of the learning rate and momentum apply
        expected = stepper_batch(stepped, x, t, lr, mu)
        assert fast.train_batch(x, t, lr, mu) == pytest.approx(expected, rel=1e-12)
    for k in PARAM_NAMES:
        assert_close(fast.params[k], stepped.params[k], 1e-12, err_msg=k)
        assert_close(fast.velocity[k], stepped.velocity[k], 1e-12, err_msg=k)
        # The weights moved far beyond the tolerance: the comparison is not between two copies of the start.
        assert np.abs(stepped.params[k] - start[k]).max() > 1e-4 * np.abs(stepped.params[k]).max(), k


@pytest.mark.parametrize("embed_dim", [6, 5])  # even: the scatter-add adds float pairs; odd: single floats
def test_embedding_update_is_a_scatter_add_over_every_occurrence(embed_dim):
    model = make_model(embed_dim=embed_dim, init_std=0.3)
    fast = FastPath(model, np.float64)
    x = np.array([[0, 3, 1], [2, 1, 0], [4, 4, 4]])  # word 0 twice, word 1 twice, word 4 three times in one context
    t = np.array([2, 4, 0])
    lr = 0.25
    fast.train_batch(x, t, lr, 0.0)  # momentum 0: the velocity is −η·∇ of this batch
    model.forward(x, t)
    model.backward()
    de = model.loss_layer.backward()
    for layer in reversed(model.layers[1:]):  # dz_o back to de
        de = layer.backward(de)
    de = de.reshape(3, 3, embed_dim)
    step = fast.velocity["W_emb"]
    np.testing.assert_allclose(step[0], -lr * (de[0, 0] + de[1, 2]), rtol=1e-13)
    np.testing.assert_allclose(step[1], -lr * (de[0, 2] + de[1, 1]), rtol=1e-13)
    np.testing.assert_allclose(step[4], -lr * de[2].sum(axis=0), rtol=1e-13)
    np.testing.assert_allclose(step, -lr * model.grads["W_emb"], rtol=1e-13, atol=1e-18)
    assert not step[5:].any()  # untouched rows get nothing
    for k in ("W_h", "b_h", "W_o", "b_o"):
        np.testing.assert_allclose(fast.steps[k], -lr * model.grads[k], rtol=1e-13, atol=1e-18, err_msg=k)


@pytest.mark.parametrize("embed_dim", [6, 5])
def test_large_embeddings_compute_the_scatter_indices_without_a_table(monkeypatch, embed_dim):
    model = make_model(embed_dim=embed_dim, init_std=0.1)
    with_table = FastPath(model, np.float32)
    monkeypatch.setattr("core.layers._LANE_TABLE_MAX", 0)
    without = FastPath(model, np.float32)
    assert with_table.scatter.table is not None and without.scatter.table is None
    for x, t in batches(30, 10, seed=6):
        assert with_table.train_batch(x, t, 0.1, 0.9) == without.train_batch(x, t, 0.1, 0.9)
    np.testing.assert_array_equal(with_table.theta, without.theta)


def test_float32_stays_close_to_float64():
    model = make_model(init_std=0.1, learning_rate=0.3)
    f32, f64 = FastPath(model, np.float32), FastPath(model, np.float64)
    assert f32.theta.dtype == np.float32 and f64.theta.dtype == np.float64
    losses32, losses64 = [], []
    for x, t in batches(100, 50, seed=7):
        losses32.append(f32.train_batch(x, t, 0.3, 0.9))
        losses64.append(f64.train_batch(x, t, 0.3, 0.9))
    np.testing.assert_allclose(losses32, losses64, rtol=2e-5)
    for k in PARAM_NAMES:
        assert_close(f32.params[k], f64.params[k], 1e-4, err_msg=k)
    data = np.column_stack(batches(500, 1, seed=8)[0])
    assert f32.evaluate(data) == pytest.approx(f64.evaluate(data), rel=1e-5)


def test_load_and_store_round_trip_and_count_versions():
    model = make_model()
    fast = FastPath(model, np.float64)
    assert fast.version == model.version
    for x, t in batches(10, 3):
        fast.train_batch(x, t, 0.1, 0.9)
    before = model.version
    fast.store(model)
    assert model.version == fast.version == before + 1
    for k in PARAM_NAMES:
        np.testing.assert_array_equal(model.params[k], fast.params[k])
        np.testing.assert_array_equal(model.velocity[k], fast.velocity[k])
    assert np.abs(model.velocity["W_o"]).max() > 0
    other = FastPath(make_model(seed=5), np.float64)
    other.load(model)
    np.testing.assert_array_equal(other.theta, fast.theta)
    np.testing.assert_array_equal(other.vel, fast.vel)


# ---- the trainer's loop --------------------------------------------------------------------------------------


def test_an_interrupted_run_forgets_its_minibatches_and_can_go_on(monkeypatch):
    rng = np.random.default_rng(9)
    rows = lambda n: rng.integers(0, V, size=(n, 4)).astype(np.int32)  # noqa: E731
    corpus = Corpus("tiny", "text", "memory", VOCAB, rows(200), rows(20), rows(20))
    cfg = Config(embed_dim=6, hidden_dim=7, batch_size=10)
    tr, fresh = Trainer(corpus, cfg), Trainer(corpus, cfg)
    tr.run(3)
    before = {k: v.copy() for k, v in tr.model.params.items()}
    fast = tr._fast_path()
    interrupt_on_call(monkeypatch, fast, "train_trusted", 4)
    with pytest.raises(KeyboardInterrupt):
        tr.run(10)
    monkeypatch.undo()
    assert tr.step == 3 and len(tr.history) == 3
    for k in PARAM_NAMES:
        np.testing.assert_array_equal(tr.model.params[k], before[k])
    assert tr.run(5) == 5
    fresh.run(8)
    for k in PARAM_NAMES:
        np.testing.assert_array_equal(tr.model.params[k], fresh.model.params[k])
    np.testing.assert_array_equal(tr.history.train_ce, fresh.history.train_ce)


# ---- evaluation and checks ---------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_evaluate_matches_the_model_across_chunk_boundaries(activation):
    model = make_model(activation, init_std=0.5)
    fast = FastPath(model, np.float64)
    data = np.column_stack(batches(237, 1, seed=3)[0])
    expected = model.evaluate(data)
    assert fast.evaluate(data) == pytest.approx(expected, rel=1e-12)
    assert fast.evaluate(data, batch=50) == pytest.approx(expected, rel=1e-12)  # 4 chunks of 50 and one of 37
    assert np.isnan(fast.evaluate(data[:0]))


@pytest.mark.parametrize("name", PARAM_NAMES)
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_all_finite_sees_one_bad_value_in_any_parameter(name, bad):
    fast = FastPath(make_model(), np.float32)
    assert fast.all_finite()
    fast.params[name].reshape(-1)[-1] = bad
    assert not fast.all_finite()


@pytest.mark.parametrize("x0, t0", [(23, 0), (-1, 0), (0, 23), (0, -1)])
def test_out_of_range_words_are_refused(x0, t0):
    fast = FastPath(make_model(), np.float32)
    x, t = batches(4, 1)[0]
    x[1, 1], t[2] = x0, t0
    with pytest.raises(IndexError, match="out of range"):
        fast.train_batch(x, t, 0.1, 0.9)


def test_a_minibatch_allocates_no_array_once_its_buffers_exist():
    words = [f"w{i}" for i in range(250)]
    fast = FastPath(FourGramModel(words, Config()), np.float32)  # the exercise's sizes
    rng = np.random.default_rng(4)
    data = [(rng.integers(0, 250, (100, 3)).astype(np.int32), rng.integers(0, 250, 100).astype(np.int32)) for _ in range(21)]
    fast.train_batch(*data[0], 0.1, 0.9)  # allocates the buffers for batch size 100
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for x, t in data[1:]:
            fast.train_batch(x, t, 0.1, 0.9)
            fast.all_finite()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    # The smallest array of a minibatch is e (100×150 float32, 60 kB); z_o is 100 kB. None is allocated:
    # what remains is NumPy's fixed-size iteration buffer for broadcasting (8192 elements) and Python scalars.
    assert peak < 100 * 150 * 4, f"{peak} bytes allocated at the peak of 20 minibatches"


# ---- the benchmark's reference port computes the same model --------------------------------------------------


def load_bench(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reference_numpy_port_trains_the_same_model():
    ref_mod = load_bench("reference_numpy")
    model = make_model(init_std=0.3)
    fast = FastPath(model, np.float64)
    ref = ref_mod.ReferenceNumpy(model.params, np.float64)
    for x, t in batches(100, 20, seed=11):
        assert ref.train_batch(x, t, 0.1, 0.9) == pytest.approx(fast.train_batch(x, t, 0.1, 0.9), rel=1e-9)
    for k in PARAM_NAMES:
        assert_close(ref.w[k], fast.params[k], 1e-10, err_msg=k)


def test_strong_numpy_port_trains_the_same_model():
    ref_mod = load_bench("reference_numpy_strong")
    model = make_model(init_std=0.3)
    fast = FastPath(model, np.float64)
    ref = ref_mod.ReferenceNumpyStrong(model.params, np.float64)
    for x, t in batches(100, 20, seed=13):
        assert ref.train_batch(x, t, 0.1, 0.9) == pytest.approx(fast.train_batch(x, t, 0.1, 0.9), rel=1e-9)
    for k in PARAM_NAMES:
        assert_close(ref.w[k], fast.params[k], 1e-10, err_msg=k)
        assert_close(ref.v[k], fast.velocity[k], 1e-10, err_msg=k)
    rows = np.column_stack(batches(500, 1, seed=14)[0])
    assert ref.evaluate(rows) == pytest.approx(fast.evaluate(rows), rel=1e-9)


def test_reference_torch_port_trains_the_same_model():
    pytest.importorskip("torch", reason="torch is only installed for benchmark runs")
    ref_mod = load_bench("reference_torch")
    model = make_model(init_std=0.3)
    fast = FastPath(model, np.float64)
    ref = ref_mod.ReferenceTorch(model.params, np.float64, learning_rate=0.1, momentum=0.9)
    for x, t in batches(100, 20, seed=12):
        rows = ref.tensor(np.column_stack([x, t]))
        expected = fast.train_batch(x, t, 0.1, 0.9)
        assert ref.train_batch(rows[:, :3], rows[:, 3]) == pytest.approx(expected, rel=1e-9)
    got = ref.params()
    for k in PARAM_NAMES:
        assert_close(got[k], fast.params[k], 1e-10, err_msg=k)


# ---- the softmax without a shift, and its fallback -------------------------------------------------------------


@pytest.mark.parametrize(
    "logit_offset, shifted",
    [(0.0, False), (70.0, True), (-80.0, True), (300.0, True)],
    ids=["ordinary", "sums-too-big", "sums-too-small", "exp-overflows"],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_logits_far_from_zero_are_shifted_and_give_the_steppers_numbers(monkeypatch, logit_offset, shifted, dtype):
    """Every logit moved by the same amount (through b_o) changes no probability: the fast path computes exp(z_o)
    unshifted when the row sums allow it and shifts the rows when they do not, with the stepper's results."""
    stepped = make_model(init_std=0.3, learning_rate=0.2)
    stepped.params["b_o"] += logit_offset
    fast = FastPath(stepped, dtype)
    calls = []
    real = FastPath._shifted_softmax
    monkeypatch.setattr(FastPath, "_shifted_softmax", lambda self, b: (calls.append(1), real(self, b)))
    rtol = 1e-12 if dtype == np.float64 else 2e-4
    for x, t in batches(100, 5, seed=8):
        expected = stepper_batch(stepped, x, t, 0.2, 0.9)
        assert fast.train_batch(x, t, 0.2, 0.9) == pytest.approx(expected, rel=rtol)
    assert len(calls) == (5 if shifted else 0)
    for k in PARAM_NAMES:
        assert_close(fast.params[k], stepped.params[k], rtol, err_msg=k)
    assert fast.evaluate(np.column_stack(batches(50, 1, seed=9)[0])) == pytest.approx(
        stepped.evaluate(np.column_stack(batches(50, 1, seed=9)[0])), rel=rtol
    )


def test_no_warning_escapes_when_exp_overflows(recwarn):
    model = make_model(init_std=0.3)
    model.params["b_o"] += 1000.0  # exp(z_o) is infinite for every logit
    fast = FastPath(model, np.float32)
    x, t = batches(100, 1)[0]
    assert np.isfinite(fast.train_batch(x, t, 0.1, 0.9))
    assert np.isfinite(fast.evaluate(np.column_stack([x, t])))
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


# ---- the weight gradients on a second thread -----------------------------------------------------------------


@pytest.mark.parametrize("hidden_dims", [(7,), (), (7, 5)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_overlapped_weight_gradients_give_the_same_bits(hidden_dims, dtype):
    cfg = Config(embed_dim=6, hidden_dims=hidden_dims, activations=("tanh",) * len(hidden_dims), init_std=0.3)
    model = FourGramModel(VOCAB, cfg)
    paths = {mode: FastPath(model, dtype, overlap=mode) for mode in ("off", "on", "auto")}
    for i, (x, t) in enumerate(batches(100, 150, seed=21)):
        losses = {mode: fast.train_batch(x, t, 0.1, 0.9) for mode, fast in paths.items()}
        assert losses["on"] == losses["off"] == losses["auto"], i
    for k in model.params:
        assert np.array_equal(paths["on"].params[k], paths["off"].params[k]), k
        assert np.array_equal(paths["auto"].params[k], paths["off"].params[k]), k
        assert np.array_equal(paths["on"].velocity[k], paths["off"].velocity[k]), k
    assert not np.array_equal(paths["on"].params["W_emb"], model.params["W_emb"])  # it trained


def tries_of(ways, way):
    """Indices of the blocks run the other way than the one before and after (single-block tries)."""
    return [i for i in range(1, len(ways) - 1) if ways[i] == way and ways[i - 1] != way and ways[i + 1] != way]


def test_auto_overlap_keeps_the_faster_way_and_tries_the_other_less_and_less_often():
    from core.fast import _BLOCK

    fast = FastPath(make_model(), np.float64, overlap="auto")

    def blocks(count, seconds_on, seconds_off):
        ways = []
        for _ in range(count):
            ways.append(fast.overlapping)
            for _ in range(_BLOCK):
                fast._timed(seconds_on if fast.overlapping else seconds_off)
        return ways

    ways = blocks(60, 1.0, 2.0)  # overlapping is the faster
    assert ways[:3] == [False, True, True]  # a first block in sequence, then the other way is tried, and wins
    assert sum(ways) > 0.9 * len(ways)
    gaps = np.diff(tries_of(ways, False))
    assert len(gaps) >= 2 and all(gaps[1:] >= gaps[:-1]) and gaps[-1] > gaps[0]  # tries of the slower way space out
    ways = blocks(60, 3.0, 2.0)  # now overlapping is the slower: the first slow block switches at once
    assert ways[0] is True and ways[1] is False
    assert sum(ways) < 0.1 * len(ways)
    gaps = np.diff(tries_of(ways, True))
    assert len(gaps) >= 2 and all(gaps[1:] >= gaps[:-1]) and gaps[-1] > gaps[0]


def test_an_error_in_the_worker_reaches_the_caller_and_frees_the_worker(monkeypatch):
    import core.fast as fm

    model = make_model()
    fast = FastPath(model, np.float64, overlap="on")
    (x, t), = batches(100, 1, seed=3)
    fast.train_batch(x, t, 0.1, 0.9)
    worker = fm._gradient_worker()
    real = fast.last.backward[0]
    bad = (real[0], real[1], real[2], np.empty((1, 1)), *real[4:])  # −η·dW_o into a buffer of the wrong shape
    monkeypatch.setattr(fast.last, "backward", [bad, *fast.last.backward[1:]])
    with pytest.raises(ValueError):
        fast.train_batch(x, t, 0.1, 0.9)
    assert worker.lock.acquire(blocking=False)  # released
    worker.lock.release()
    monkeypatch.undo()
    other = FastPath(model, np.float64, overlap="off")
    ok = FastPath(model, np.float64, overlap="on")
    assert ok.train_batch(x, t, 0.1, 0.9) == other.train_batch(x, t, 0.1, 0.9)  # the worker still works


def test_an_unknown_overlap_mode_is_refused():
    with pytest.raises(ValueError, match="overlap must be one of auto, on, off"):
        FastPath(make_model(), overlap="sometimes")
