"""A stage swapped for a learner's function: the right code trains exactly like the network, a bug shows downstream."""

import numpy as np
import pytest

from core.learner_train import LearnerCodeError, train_beside
from core.model import Config, FourGramModel
from core.stages import run_minibatch, run_stages

VOCAB = [f"w{i}" for i in range(13)]
CONFIG = Config(embed_dim=4, hidden_dims=(6,), batch_size=8, learning_rate=0.5)


def _batches(n, seed=0):
    rng = np.random.default_rng(seed)
    # few words: repeats across examples and within contexts in every minibatch
    return [(rng.integers(0, 5, (8, 3)), rng.integers(0, 13, 8)) for _ in range(n)]


def _state():
    return FourGramModel(VOCAB, CONFIG).state()


def correct_embedding_gradient(values):
    x, de, V, d = values["x"], values["de"], values["V"], values["d"]
    dW = np.zeros((V, d))
    np.add.at(dW, x.reshape(-1), de.reshape(-1, d))
    return dW


def overwrite(values):
    x, de, V, d = values["x"], values["de"], values["V"], values["d"]
    dW = np.zeros((V, d))
    dW[x.reshape(-1)] = de.reshape(-1, d)
    return dW


def test_run_minibatch_without_swaps_is_the_stepped_minibatch():
    a, b = FourGramModel(VOCAB, CONFIG), FourGramModel(VOCAB, CONFIG)
    x, t = _batches(1)[0]
    loss = run_minibatch(a, x, t)
    stages = list(run_stages(b, x, t))
    assert loss == pytest.approx(stages[-1].loss, rel=1e-12)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])


def test_the_right_code_trains_exactly_like_the_network():
    one = _batches(1)[0]  # the same minibatch again and again: its loss must fall
    curves = train_beside(VOCAB, CONFIG, _state(), [one] * 20, "embedding_gradient", ("dW_emb",),
                          correct_embedding_gradient)
    assert curves.stopped == "" and curves.trained == 20
    assert curves.max_gap() < 1e-12
    assert curves.correct[-1] < 0.9 * curves.correct[0]  # it does train
    assert list(curves.steps) == list(range(1, 21))


def test_the_overwrite_bug_trains_differently():
    curves = train_beside(VOCAB, CONFIG, _state(), _batches(20), "embedding_gradient", ("dW_emb",), overwrite)
    assert curves.trained == 20
    assert curves.max_gap() > 1e-6


def test_the_missing_activation_derivative_changes_the_curve():
    curves = train_beside(VOCAB, CONFIG, _state(), _batches(30), "through_activation", ("dz_h",),
                          lambda v: v["dh"])
    assert curves.trained == 30
    assert curves.max_gap() > 1e-4
    # minibatch 1's loss is computed before any update: the same for both
    assert curves.mine[0] == curves.correct[0]


def test_a_swapped_forward_stage_feeds_what_follows():
    x, t = _batches(1)[0]
    a, b = FourGramModel(VOCAB, CONFIG), FourGramModel(VOCAB, CONFIG)
    right = run_minibatch(a, x, t, {"hidden": (("h",), lambda v: 1 / (1 + np.exp(-v["z_h"])))})
    wrong = run_minibatch(b, x, t, {"hidden": (("h",), lambda v: np.zeros_like(v["z_h"]))})
    reference = run_minibatch(FourGramModel(VOCAB, CONFIG), x, t)
    assert right == pytest.approx(reference, abs=1e-12)
    assert wrong != pytest.approx(reference, abs=1e-6)  # h = 0 reaches the logits and the loss


def test_two_results_and_the_update_can_be_swapped():
    x, t = _batches(1)[0]
    a = FourGramModel(VOCAB, CONFIG)
    ref = FourGramModel(VOCAB, CONFIG)
    run_minibatch(a, x, t, {"output_weights": (("dW_o", "db_o"), lambda v: (v["h"].T @ v["dz_o"],
                                                                          v["dz_o"].sum(axis=0)))})
    run_minibatch(ref, x, t)
    for k in a.params:
        np.testing.assert_allclose(a.params[k], ref.params[k], rtol=0, atol=1e-14)
    # The momentum step with the wrong sign climbs the loss.
    climb = lambda v: v["momentum"] * v["v"] + v["learning_rate"] * v["grad"]  # noqa: E731
    curves = train_beside(VOCAB, CONFIG, _state(), _batches(15), "update", (), climb)
    assert np.nanmax(curves.mine[-5:]) > curves.correct[-5:].max()


def test_the_learner_code_inputs_are_read_only():
    def writes(values):
        values["de"][0, 0] = 1.0
        return values["de"]

    curves = train_beside(VOCAB, CONFIG, _state(), _batches(3), "embedding_gradient", ("dW_emb",), writes)
    assert curves.trained == 0 and "read-only" in curves.stopped


@pytest.mark.parametrize("fn,message", [
    (lambda v: np.zeros((3, 3)), "shape"),
    (lambda v: (np.zeros((13, 4)), np.zeros(4)), "returned 2 values"),
])
def test_a_wrong_result_stops_the_learner_run_and_says_why(fn, message):
    curves = train_beside(VOCAB, CONFIG, _state(), _batches(5), "embedding_gradient", ("dW_emb",), fn)
    assert curves.trained == 0 and curves.stopped.startswith("minibatch 1:") and message in curves.stopped
    assert np.isfinite(curves.correct).all()  # the network's own run goes on


def test_code_that_fails_later_keeps_the_minibatches_before():
    calls = []

    def fails_third(values):
        calls.append(1)
        if len(calls) == 3:
            raise LearnerCodeError("timed out: no answer within 5 s")
        return correct_embedding_gradient(values)

    curves = train_beside(VOCAB, CONFIG, _state(), _batches(6), "embedding_gradient", ("dW_emb",), fails_third)
    assert curves.trained == 2 and curves.stopped == "minibatch 3: timed out: no answer within 5 s"


def test_cancel_and_progress():
    import threading

    cancel = threading.Event()
    seen = []

    def progress(done, total):
        seen.append((done, total))
        if done == 2:
            cancel.set()

    curves = train_beside(VOCAB, CONFIG, _state(), _batches(10), "embedding_gradient", ("dW_emb",),
                          correct_embedding_gradient, cancel=cancel, on_progress=progress)
    assert curves.cancelled and seen == [(1, 10), (2, 10)] and curves.trained == 2


# ---- the learner's function in a separate process ------------------------------------------------------

SANDBOXED = """import numpy as np

def embedding_gradient(x, de, V, d):
    dW = np.zeros((V, d))
    np.add.at(dW, x.reshape(-1), de.reshape(-1, d))
    return dW

def through_activation(dh, h):
    return 1 / 0

def back_to_hidden(dz_o, W_o):
    while True:
        pass

def output_error(p, t, N):
    return "not an array"
"""


def test_a_sandboxed_function_trains_like_the_network_and_failures_stop_it_with_the_reason():
    from core.learner_train import sandboxed_stage

    with sandboxed_stage(SANDBOXED, "mine.py", "embedding_gradient", timeout=5, memory_mb=512) as fn:
        curves = train_beside(VOCAB, CONFIG, _state(), _batches(5), "embedding_gradient", ("dW_emb",), fn)
    assert curves.trained == 5 and curves.max_gap() < 1e-12
    for stage, results, message in (("through_activation", ("dz_h",), "raised ZeroDivisionError: division by zero (line 9)"),
                                    ("back_to_hidden", ("dh",), "timed out"),
                                    ("output_error", ("dz_o",), "returned str, not an array")):
        with sandboxed_stage(SANDBOXED, "mine.py", stage, timeout=0.5, memory_mb=512) as fn:
            curves = train_beside(VOCAB, CONFIG, _state(), _batches(3), stage, results, fn)
        assert curves.trained == 0 and message in curves.stopped, (stage, curves.stopped)
    with pytest.raises(LearnerCodeError, match="no function hidden"):
        with sandboxed_stage(SANDBOXED, "mine.py", "hidden", timeout=5, memory_mb=512):
            pass
    with pytest.raises(LearnerCodeError, match="cannot be run"):
        with sandboxed_stage("def hidden(:\n", "mine.py", "hidden", timeout=5, memory_mb=512):
            pass
