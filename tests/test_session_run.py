"""Run mode of the session: stopping at a given step, and what each redraw announces."""

from __future__ import annotations

import numpy as np


def test_stop_after_pauses_exactly_there_with_the_final_state_announced(session, qtbot):
    seen = []
    session.history_changed.connect(lambda: seen.append(len(session.trainer.history)))
    session.stop_after = 37
    with qtbot.waitSignal(session.running_changed, check_params_cb=lambda running: not running, timeout=20_000):
        session.start()
    assert not session.running
    assert session.trainer.step == 37
    assert len(session.trainer.history) == 37
    assert seen and seen[-1] == 37  # the pause announced the last minibatch
    assert session.stop_after is None


def test_pause_forgets_a_stop_step(session, qtbot):
    session.stop_after = 10_000
    session.start()
    qtbot.waitUntil(lambda: session.trainer.step >= 3, timeout=20_000)
    session.pause()
    assert session.stop_after is None and not session.running


def test_weights_are_announced_at_most_as_often_as_the_history(session, qtbot):
    counts = {"weights": 0, "history": 0}
    session.weights_changed.connect(lambda: counts.__setitem__("weights", counts["weights"] + 1))
    session.history_changed.connect(lambda: counts.__setitem__("history", counts["history"] + 1))
    session.redraw_hz, session.weights_hz = 1000.0, 1.0  # a redraw on every tick, the weights rarely
    session.stop_after = 150
    with qtbot.waitSignal(session.running_changed, check_params_cb=lambda running: not running, timeout=20_000):
        session.start()
    assert counts["history"] >= 2
    assert counts["weights"] < counts["history"]
    light, heavy = session.redraw_seconds
    assert light > 0.0  # measured on the redraws that happened


def test_the_first_minibatch_is_drawn_while_the_window_is_idle(session, qtbot):
    """The epoch's order of the training rows (tens of ms on a large corpus) is ready before the first step."""
    qtbot.waitUntil(lambda: session.trainer._epoch_data is not None, timeout=5_000)
    x, t = session.trainer.current_batch()
    assert x.shape == (session.config.batch_size, 3) and t.shape == (session.config.batch_size,)


def test_run_mode_validates_at_the_same_steps_and_values_as_a_headless_run(session, qtbot):
    """Validation passes fall due every few dozen minibatches on the demo corpus; run mode evaluates them on
    another thread while training goes on, and the history ends up as a plain Trainer's."""
    from core.trainer import Trainer

    every = session.trainer.valid_every
    session.stop_after = 3 * every + 5
    with qtbot.waitSignal(session.running_changed, check_params_cb=lambda running: not running, timeout=30_000):
        session.start()
    headless = Trainer(session.corpus, session.config)
    headless.run(3 * every + 5)
    steps = [s for s, _ in session.trainer.history.valid]
    assert steps == [s for s, _ in headless.history.valid] and steps[:3] == [every, 2 * every, 3 * every]
    for (_, a), (_, b) in zip(session.trainer.history.valid, headless.history.valid):
        assert abs(a - b) < 1e-9


def test_a_divergence_in_run_mode_still_records_the_passes_before_it(demo_corpus, qtbot):
    from core.model import Config
    from core.trainer import Trainer
    from explorer.session import Session

    cfg = Config(learning_rate=1.5)  # the loss explodes at minibatch 4: back to the weights after 2
    session = Session(demo_corpus, trainer=Trainer(demo_corpus, cfg, valid_every=1))
    try:
        with qtbot.waitSignal(session.diverged, timeout=20_000):
            session.start()
        assert session.trainer.step == 2 and not session.running
        qtbot.waitUntil(lambda: not session.trainer.validation_owed, timeout=5_000)
        assert [s for s, _ in session.trainer.history.valid] == [1, 2]
    finally:
        session.shutdown()


def test_start_pause_reset_in_quick_succession_keep_the_validation_history_in_order(demo_corpus, qtbot):
    """Passes in progress on the other thread when run mode pauses, restarts or the network is reset:
    each is recorded once, in step order, for the weights of its step, or dropped with its network."""
    from core.trainer import Trainer
    from explorer.session import Session

    session = Session(demo_corpus, trainer=Trainer(demo_corpus, valid_every=3))
    try:
        for _ in range(6):
            session.start()
            start = session.trainer.step
            qtbot.waitUntil(lambda: session.trainer.step >= start + 8, timeout=20_000)
            session.pause()
        qtbot.waitUntil(lambda: not session.trainer.validation_owed, timeout=10_000)
        steps = [s for s, _ in session.trainer.history.valid]
        assert steps == sorted(set(steps)) and len(steps) >= 6 * 8 // 3 - 6
        headless = Trainer(demo_corpus, valid_every=3)
        headless.run(session.trainer.step)
        assert session.trainer.history.valid == headless.history.valid

        session.start()
        qtbot.waitUntil(lambda: session.trainer.validation_owed or session.trainer.step > 40, timeout=20_000)
        session.reset()  # a new network while a pass may be in progress: it goes with the old trainer
        assert session.trainer.history.valid == [] and not session.trainer.validation_owed
    finally:
        session.shutdown()


def test_the_stage_on_screen_has_one_home(session, qtbot):
    """The trainer keeps the stage; the session shows it and forgets it exactly when the trainer does."""
    session.step_stage()
    session.step_stage()
    assert session.stage is session.trainer.stage and session.stage.index == 1
    session.start()  # started and paused before any tick: the minibatch in progress stays on screen
    session.pause()
    assert session.stage is session.trainer.stage and session.stage.index == 1 and "e" in session.tensors
    with qtbot.waitSignal(session.stage_changed, check_params_cb=lambda stage: stage is None):
        session.run_batches(2)
    assert session.stage is None and session.trainer.stage is None and session.tensors == {}
    model, x, t = session.trainer.gradient_context()  # nothing on screen: the next minibatch, current weights
    np.testing.assert_array_equal(x, session.trainer.current_batch()[0])
    np.testing.assert_array_equal(model.params["W_o"], session.model.params["W_o"])
