"""The lesson's special step widgets (pytest-qt, offscreen): what they show equals what core/lessons.py computes."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from core.lessons import WIDGETS, EmbeddingSketch, LessonBatch
from explorer.panels.lesson_steps import STEP_WIDGETS, GradcheckStep, SketchStep, plain_text


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


def test_every_special_step_widget_is_one_the_lessons_name():
    assert set(STEP_WIDGETS) <= set(WIDGETS) - {"tables"}


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


def test_the_sketch_fits_a_laptop_screen_without_sideways_scrolling(sketch):
    assert sketch.minimumSizeHint().width() <= 1240
    assert sketch.minimumSizeHint().height() <= 560


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
