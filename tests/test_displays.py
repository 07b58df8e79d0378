"""What the window shows is the session's state at the moment it is drawn (pytest-qt, the real window).

Each test does what a user did, then reads what the toolbar, the status bar
or a panel shows, and compares it with the session.
"""

from __future__ import annotations

import html
import re

import pytest


@pytest.fixture
def window(laptop_window):
    return laptop_window


def plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text.replace("<br>", "\n")))


def run_until(window, qtbot, steps: int) -> None:
    """Run mode (the toolbar's Run) until ``steps`` minibatches are trained; it pauses by itself there."""
    s = window.session
    s.stop_after = steps
    with qtbot.waitSignal(s.running_changed, timeout=5000):
        window.action_run.trigger()
    assert s.running
    with qtbot.waitSignal(s.running_changed, timeout=30_000) as stopped:
        pass
    assert stopped.args == [False] and s.trainer.step == steps


def step_to(window, name: str):
    """Press Step stage until the stage ``name`` is on screen."""
    for _ in range(len(window.session.model.stage_specs)):
        window.action_step_stage.trigger()
        if window.session.stage.name == name:
            return window.session.stage
    raise AssertionError(f"no stage {name}")


def show(window, qtbot, attr: str):
    window.docks[attr].raise_()
    panel = window.panel(attr)
    qtbot.waitUntil(lambda: panel.isVisible() and not panel.visibleRegion().isEmpty())
    return panel


# ---- the toolbar and the status bar -------------------------------------------------------------


def test_after_run_the_toolbar_names_the_next_minibatch(window, qtbot):
    s = window.session
    run_until(window, qtbot, 25)
    first = s.model.stage_specs[0].title
    assert window.stage_label.text() == f"Between minibatches: next is minibatch 26, stage 1/14 {first}"
    window.action_step_stage.trigger()
    assert window.stage_label.text().startswith("Stage 1/14: ")
    run_until(window, qtbot, 40)  # run mode first finishes the minibatch in progress
    assert window.stage_label.text() == f"Between minibatches: next is minibatch 41, stage 1/14 {first}"


def test_while_running_the_toolbar_says_so(window, qtbot):
    s = window.session
    window.action_run.trigger()
    try:
        qtbot.waitUntil(lambda: s.trainer.step >= 3, timeout=10_000)
        assert window.stage_label.text().startswith("Running:")
    finally:
        window.action_run.trigger()
    assert f"next is minibatch {s.trainer.step + 1}," in window.stage_label.text()


def test_examples_per_second_only_while_running(window, qtbot):
    s = window.session
    window.action_run.trigger()
    qtbot.waitUntil(lambda: window.status_speed.text() != "– examples/s", timeout=10_000)
    assert window.status_speed.text().endswith(" examples/s")
    window.action_run.trigger()  # pause
    assert not s.running
    assert window.status_speed.text() == "– examples/s"
    assert "the last run" in window.status_speed.toolTip()
    window.action_run.trigger()
    qtbot.waitUntil(lambda: window.status_speed.text() != "– examples/s", timeout=10_000)
    s.rebuild(s.config.replace(batch_size=50))  # a new network (it pauses first)
    assert window.status_speed.text() == "– examples/s"
    assert "the last run" not in window.status_speed.toolTip()


# ---- the embedding-gradient panel ------------------------------------------------------------------


def test_the_teaching_batch_message_goes_once_another_network_is_built_and_trained(window, qtbot):
    s = window.session
    view = show(window, qtbot, "embedding_grad_view")
    assert view.teaching_batch()
    assert "New network with batch size 2" in view.message_label.text() and view.message_label.isVisible()
    s.rebuild(s.config.replace(batch_size=100))  # as the hyperparameters panel does
    run_until(window, qtbot, 3)
    assert not view.message_label.isVisible()
    assert "Embedding gradient" in plain(view.header.text()) and "between minibatches" in plain(view.header.text())
    assert view.step_to_embedding_gradient() is not None
    header = plain(view.header.text())
    assert "Embedding gradient of minibatch 4 (100 examples)" in header


def test_the_message_stays_while_its_minibatch_is_on_screen_and_goes_with_the_next(window, qtbot):
    view = show(window, qtbot, "embedding_grad_view")
    assert view.teaching_batch()
    said = view.message_label.text()
    window.action_step_stage.trigger()  # 13 → 14: still that minibatch
    assert view.message_label.isVisible() and view.message_label.text() == said
    window.action_step_stage.trigger()  # the next minibatch starts
    assert not view.message_label.isVisible()


def test_stepping_from_the_embedding_gradient_to_the_update_keeps_the_gradient_on_screen(window, qtbot):
    s = window.session
    view = show(window, qtbot, "embedding_grad_view")
    gradient = view.step_to_embedding_gradient()
    assert s.stage.name == "embedding_gradient"
    window.action_step_stage.trigger()  # 13 → 14
    assert s.stage.is_update and s.stage.batch == gradient.batch
    assert view.showing and view.stage is gradient and view.pages.currentIndex() == 1
    assert "The update (stage 14) has been applied" in plain(view.header.text())


@pytest.mark.parametrize("reach", ["embedding_gradient", "update"])
def test_a_panel_first_shown_after_the_embedding_gradient_shows_it(window, qtbot, reach):
    w = window
    assert "embedding_grad_view" not in w.panels  # not built yet: its tab is behind another
    gradient = step_to(w, "embedding_gradient")
    if reach == "update":
        w.action_step_stage.trigger()
    view = show(w, qtbot, "embedding_grad_view")
    assert view.showing and view.stage is gradient
    assert view.pages.currentIndex() == 1 and view.list_order()
    after = "The update (stage 14) has been applied" in plain(view.header.text())
    assert after == (reach == "update")


def test_a_panel_behind_a_tab_catches_up_with_the_stage_when_brought_forward(window, qtbot):
    s = window.session
    view = show(window, qtbot, "embedding_grad_view")
    show(window, qtbot, "matrix_view")  # the same tabs: the gradient panel goes behind it
    assert view.visibleRegion().isEmpty()
    gradient = step_to(window, "embedding_gradient")
    window.action_step_stage.trigger()  # 13 → 14 while it is out of sight
    show(window, qtbot, "embedding_grad_view")
    qtbot.waitUntil(lambda: view.showing)
    assert view.stage is gradient
    assert "The update (stage 14) has been applied" in plain(view.header.text())
    window.action_step_stage.trigger()  # the next minibatch, seen
    assert not view.showing and view.pages.currentIndex() == 0


# ---- the network diagram -------------------------------------------------------------------------


def test_the_loss_box_names_the_loss_of_the_minibatch_on_screen_or_the_last_one(window):
    s, view = window.session, window.network_view
    assert view.box_texts()["loss"].lines[-1] == "cross-entropy"
    loss = step_to(window, "loss")
    assert view.box_texts()["loss"].lines[-1] == f"L = {loss.loss:.3f}"
    s.step_batch()  # its update: still that minibatch on screen
    assert view.box_texts()["loss"].lines[-1] == f"L = {loss.loss:.3f}"
    last = s.trainer.history.train_ce[-1]
    window.action_step_stage.trigger()  # the next minibatch's first stage: its loss is not computed yet
    assert view.box_texts()["loss"].lines[-1] == f"last L = {last:.3f}"
    s.reset()
    assert view.box_texts()["loss"].lines[-1] == "cross-entropy"


# ---- one click, one redraw ---------------------------------------------------------------------------


class Count:
    def __init__(self, *signals):
        self.n = 0
        for signal in signals:
            signal.connect(self)

    def __call__(self, *_args):
        self.n += 1


def test_step_minibatch_is_announced_once_and_redrawn_once(window, qtbot):
    s, matrices = window.session, window.matrix_view
    view = show(window, qtbot, "embedding_grad_view")
    show(window, qtbot, "matrix_view")
    stages, weights, history = Count(s.stage_changed), Count(s.weights_changed), Count(s.history_changed)
    redraws = matrices.redraws
    window.action_step_batch.trigger()
    assert s.stage.is_update and s.trainer.step == 1
    assert (stages.n, weights.n, history.n) == (1, 1, 1)
    assert matrices.redraws == redraws + 1
    assert matrices.current_name() == s.stage.spec.arrays[0]
    # every stage of that minibatch is still there for the panels that show one
    assert [n for n in (spec.name for spec in s.model.stage_specs) if s.stage_named(n) is None] == []
    show(window, qtbot, "embedding_grad_view")
    qtbot.waitUntil(lambda: view.showing)  # it catches up when its tab comes forward
    assert view.stage is s.stage_named("embedding_gradient")
    # from the middle of a minibatch: the rest of it, once
    window.action_step_stage.trigger()
    window.action_step_stage.trigger()
    stages.n = 0
    window.action_step_batch.trigger()
    assert stages.n == 1 and s.stage.is_update and s.trainer.step == 2


def test_step_to_the_embedding_gradient_is_announced_once(window, qtbot):
    s = window.session
    view = show(window, qtbot, "embedding_grad_view")
    stages = Count(s.stage_changed)
    view.step_button.click()
    assert stages.n == 1 and s.stage.name == "embedding_gradient" and view.showing
    stages.n = 0
    weights = Count(s.weights_changed)
    view.step_button.click()  # on to the next minibatch's: through this one's update
    assert stages.n == 1 and weights.n == 1
    assert s.stage.name == "embedding_gradient" and s.stage.batch == 1 and s.trainer.step == 1


def test_step_to_an_unknown_stage_raises(window):
    with pytest.raises(KeyError):
        window.session.step_to("no_such_stage")
