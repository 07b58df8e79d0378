"""The lesson's special step widgets (pytest-qt, offscreen): what they show equals what core/lessons.py computes."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from core.lessons import WIDGETS, EmbeddingSketch, LessonBatch
from explorer.panels.lesson_steps import STEP_WIDGETS, GradcheckStep, SketchStep, TrainStep, plain_text


def number(text: str) -> float:
    return float(text.replace("−", "-"))


def numbers(texts) -> np.ndarray:
    return np.array([[number(t) for t in row] for row in texts])


@pytest.fixture(scope="module")
def batch(demo_corpus):
    return LessonBatch(demo_corpus)


def shown(qtbot, cls, batch, session, size=(1280, 600)):
    """A step widget on screen, as the lesson view makes it."""
    w = cls(batch, session)
    qtbot.addWidget(w)
    w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    return w


@pytest.fixture
def sketch(qtbot, batch, session):
    return shown(qtbot, SketchStep, batch, session)


def shown_gradient(w: SketchStep) -> np.ndarray:
    return numbers(row[:3] for row in w.grad_table.texts())


def test_every_special_step_of_the_lessons_has_a_widget():
    assert set(STEP_WIDGETS) == set(WIDGETS) - {"tables"}


def test_the_sketch_shows_the_classic_pattern(sketch):
    core = EmbeddingSketch()
    np.testing.assert_array_equal(numbers(sketch.w_table.texts()), core.W)
    assert [[b.text() for b in row] for row in sketch.index_buttons] == [["0", "3", "1", "2"], ["2", "1", "0", "4"]]
    # the gather: cell (n, k) names the row it took and shows its numbers
    out = core.forward()
    for n in range(2):
        for k in range(4):
            head, values = sketch.gather_table.cells[n][k].text().split("\n")
            assert head == f"W[{core.index[n, k]}]"
            np.testing.assert_array_equal([number(v) for v in values.split()], out[n, k])
            head, values = sketch.delta_table.cells[n][k].text().split("\n")
            assert head.endswith(f"→ row {core.index[n, k]}")
            np.testing.assert_array_equal([number(v) for v in values.split()], core.delta[n, k])
    # rows 0, 1, 2 are sums of two, rows 3 and 4 single
    assert sketch.shown_sum_rows() == [0, 1, 2] == core.sum_rows()
    made = [row[3] for row in sketch.grad_table.texts()]
    assert made == ["Σ sum of 2"] * 3 + ["one δ"] * 2
    np.testing.assert_allclose(shown_gradient(sketch), core.gradient())
    eq = [label.text() for label in sketch.equations]
    assert eq[0].startswith("dW[0, 0] = δ₀₀₀ + δ₁₂₀ = ")
    assert eq[3].startswith("dW[3, 0] = δ₀₁₀ = ") and "+" not in eq[3]
    assert eq[4].startswith("dW[4, 0] = δ₁₃₀ = ")
    for v in range(5):  # the numbers written out add up to the row's entry
        assert eq[v] == core.equation(v, 0)
        total = eq[v].rsplit("= ", 1)[1]
        assert number(total) == pytest.approx(core.delta[..., 0][core.index == v].sum())


def test_another_column_writes_that_column_out(qtbot, sketch):
    core = EmbeddingSketch()
    qtbot.mouseClick(sketch.column_buttons[2], Qt.MouseButton.LeftButton)
    assert sketch.column() == 2
    assert [label.text() for label in sketch.equations] == [core.equation(v, 2) for v in range(5)]
    assert sketch.equations[0].text().startswith("dW[0, 2] = δ₀₀₂ + δ₁₂₂")


def test_the_overwrite_panel_is_what_dW_x_equals_delta_gives(sketch):
    core = EmbeddingSketch()
    np.testing.assert_allclose(numbers(row[:3] for row in sketch.naive_table.texts()), core.naive())
    assert sketch.shown_wrong_rows() == core.overwrite_rows() == [0, 1, 2]
    kept = core.overwrite_kept(0)
    assert sketch.naive_table.cells[0][3].text() == f"≠ kept δ{'₀₁'[kept[0]]}{'₀₁₂₃'[kept[1]]} only"


def test_clicking_an_index_changes_which_rows_are_sums(qtbot, sketch):
    core = EmbeddingSketch()
    button = sketch.index_buttons[0][1]  # the 3
    with qtbot.waitSignal(sketch.changed):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    core.set_index(0, 1, 4)  # the next row
    assert button.text() == "4"
    # row 3 is no longer gathered, row 4 now twice
    assert sketch.shown_sum_rows() == [0, 1, 2, 4] == core.sum_rows()
    assert sketch.grad_table.cells[3][3].text() == "0: not used"
    np.testing.assert_allclose(shown_gradient(sketch), core.gradient())
    np.testing.assert_allclose(shown_gradient(sketch), sketch.sketch.gradient())
    np.testing.assert_allclose(numbers(row[:3] for row in sketch.naive_table.texts()), core.naive())
    assert sketch.shown_wrong_rows() == core.overwrite_rows()
    assert sketch.equations[3].text() == "dW[3, 0] = 0 (row 3 is never gathered)"
    assert sketch.gather_table.cells[0][1].text().startswith("W[4]\n")
    # choosing a row from the index's menu: the 2 at (1, 0) becomes a 3
    action = next(a for a in button.menu().actions() if a.text() == "row 3")
    sketch.index_buttons[1][0].menu().actions()[3].trigger()
    assert action.text() == "row 3" and sketch.index_buttons[1][0].text() == "3"
    core.set_index(1, 0, 3)
    assert sketch.shown_sum_rows() == core.sum_rows() == [0, 1, 4]
    np.testing.assert_allclose(shown_gradient(sketch), core.gradient())


# ---- the finite-difference check -------------------------------------------------------------------------------


@pytest.fixture
def gradcheck(qtbot, batch, session):
    return shown(qtbot, GradcheckStep, batch, session)


def shown_numbers(w: GradcheckStep) -> dict[str, float]:
    return {key: number(plain_text(label)) for key, label in w.values.items()}


def assert_shows_the_core_check(w: GradcheckStep, batch: LessonBatch) -> None:
    name, index = w.check.name, w.check.index
    core = batch.finite_difference(name, index)  # computed again, independently of the widget's
    shown = shown_numbers(w)
    assert shown["theta"] == pytest.approx(batch.weights[name][index], rel=1e-9)
    assert shown["h"] == core.h
    assert shown["loss_plus"] == pytest.approx(core.loss_plus, rel=1e-12)
    assert shown["loss_minus"] == pytest.approx(core.loss_minus, rel=1e-12)
    assert shown["difference"] == pytest.approx(core.loss_plus - core.loss_minus, rel=1e-5)
    assert shown["numeric"] == pytest.approx(core.numeric, rel=1e-9)
    assert shown["analytic"] == pytest.approx(batch.tensors["d" + name][index], rel=1e-9)
    assert shown["rel_error"] == pytest.approx(core.rel_error, rel=0.05)
    assert core.rel_error < 1e-6
    label = f"{name}[{', '.join(map(str, index))}]"
    assert plain_text(w.entry_label).startswith(label + ": ")
    assert w.formulas["analytic"].text() == f"backprop: d{label}"
    assert plain_text(w.verdict_label).startswith(f"They agree to {core.digits} significant digits")


def test_the_gradcheck_step_shows_the_cores_numbers(gradcheck, batch):
    assert gradcheck.check.name == "W_h"
    assert_shows_the_core_check(gradcheck, batch)


def test_another_entry_and_another_weight_are_checked_too(qtbot, gradcheck, batch):
    first = gradcheck.check.index
    with qtbot.waitSignal(gradcheck.changed):
        qtbot.mouseClick(gradcheck.another_button, Qt.MouseButton.LeftButton)
    assert gradcheck.check.name == "W_h" and gradcheck.check.index != first
    assert_shows_the_core_check(gradcheck, batch)
    combo = gradcheck.weight_combo
    with qtbot.waitSignal(gradcheck.changed):
        combo.setCurrentIndex(combo.findData("W_emb"))
        combo.activated.emit(combo.currentIndex())
    assert gradcheck.check.name == "W_emb"
    assert gradcheck.check.index[0] in batch.x  # a row the minibatch used: its gradient is not 0
    assert_shows_the_core_check(gradcheck, batch)


# ---- now train it ----------------------------------------------------------------------------------------------


def test_the_train_step_trains_the_sessions_network_the_loss_falls_and_predictions_change(qtbot, batch, session):
    w = shown(qtbot, TrainStep, batch, session, (1366, 600))
    assert w.progress_label.text() == "Not trained yet: press Train."
    prompt = w.predictions.prompt
    assert prompt.objectName() == "lesson_prompt_input"  # not the name of the window's own predictions panel
    prompt.clear()
    qtbot.keyClicks(prompt, "how are you")
    before = w.predictions.shown_predictions()
    assert w.predictions.context_words() == ("how", "are", "you")
    assert before == session.model.predict(["how", "are", "you"], len(before))
    session.stop_after = 300  # run mode pauses by itself there
    with qtbot.waitSignal(session.running_changed):
        qtbot.mouseClick(w.run_button, Qt.MouseButton.LeftButton)
    assert session.running and w.run_button.text() == "Pause"
    qtbot.waitUntil(lambda: not session.running, timeout=120_000)
    assert w.run_button.text() == "Train" and not w.run_button.isChecked()
    qtbot.waitUntil(lambda: w.progress.steps == 300, timeout=10_000)
    # the loss shown went down, and it is the session's own history
    words = w.progress_label.text().replace(",", "").replace(";", "").rstrip(".").split()
    first, last = number(words[words.index("100:") + 1]), number(words[-1])
    assert last < first
    ce = session.trainer.history.train_ce
    assert first == pytest.approx(ce[:100].mean(), abs=6e-4) and last == pytest.approx(ce[-100:].mean(), abs=6e-4)
    xs, ys = w.curve.getData()
    assert len(xs) <= 80 and ys[-1] < ys[0]
    # the predictions for the typed words changed with the weights
    after = w.predictions.shown_predictions()
    assert after != before
    assert after == session.model.predict(["how", "are", "you"], len(after))


def test_the_train_steps_button_follows_the_sessions_run_mode(qtbot, batch, session):
    w = shown(qtbot, TrainStep, batch, session)
    with qtbot.waitSignal(session.running_changed):
        session.start()  # the toolbar's Run
    assert w.run_button.isChecked() and w.run_button.text() == "Pause"
    with qtbot.waitSignal(session.running_changed):
        qtbot.mouseClick(w.run_button, Qt.MouseButton.LeftButton)
    assert not session.running and w.run_button.text() == "Train"


@pytest.mark.parametrize("cls", [SketchStep, GradcheckStep, TrainStep])
def test_every_step_widget_fits_a_laptop_screen_without_sideways_scrolling(qtbot, batch, session, cls):
    # In a 1280×720 window the lesson view leaves a step's widget about 890×600 beside the step's text.
    w = shown(qtbot, cls, batch, session, (880, 560))
    hint = w.minimumSizeHint()
    assert hint.width() <= 880 and hint.height() <= 560
    for label in w.findChildren(QLabel):  # nothing cut off: every label has the room it asks for
        if label.isVisible() and label.text():
            need = label.heightForWidth(label.width()) if label.wordWrap() else label.minimumSizeHint().height()
            assert label.height() >= need - 1, (cls.__name__, label.text()[:40])
            if not label.wordWrap():
                assert label.width() >= label.minimumSizeHint().width() - 1, (cls.__name__, label.text()[:40])


def test_the_sketch_takes_two_rows_when_the_width_allows_and_three_when_not(qtbot, batch, session):
    wide = shown(qtbot, SketchStep, batch, session, (1240, 600))
    narrow = shown(qtbot, SketchStep, batch, session, (880, 600))
    assert wide.width() >= wide.wide_width() > 880
    assert wide.is_wide() and not narrow.is_wide()
    assert wide.sizeHint().height() < narrow.sizeHint().height()
    assert narrow.minimumSizeHint().width() <= 880 and narrow.width() == 880
    assert wide.grad_table.texts() == narrow.grad_table.texts()
    narrow.resize(1240, 600)
    qtbot.waitUntil(narrow.is_wide)


@pytest.mark.parametrize("cls", [SketchStep, GradcheckStep, TrainStep])
def test_every_step_widget_fits_under_the_steps_words_without_scrolling_up_and_down(qtbot, batch, session, cls):
    # Under the step's words in a 1280×720 window, the lesson view's scroll area is about 1254×445.
    w = shown(qtbot, cls, batch, session, (1254, 445))
    need = w.heightForWidth(1254) if w.hasHeightForWidth() else w.sizeHint().height()
    assert need <= 445, (cls.__name__, need)
