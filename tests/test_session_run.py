"""Run mode of the session: stopping at a given step, and what each redraw announces."""

from __future__ import annotations




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
