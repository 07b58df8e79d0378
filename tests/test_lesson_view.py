"""Lesson mode in the real window (pytest-qt, offscreen): modes, walking every step, the numbers, questions."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from core.lessons import LessonBatch, load_lessons, number_text
from explorer.app import create_window


@pytest.fixture
def make_window(qtbot, demo_corpus):
    made = []

    def make(width: int = 1366, height: int = 768, lessons=None, restore: bool = False):
        w = create_window(corpus=demo_corpus, lessons=lessons)
        w.confirm_on_close = False
        qtbot.addWidget(w)
        made.append(w)
        if restore:
            w.restore_layout()  # as the interactive app starts
        w.resize(width, height)
        w.show()
        qtbot.waitExposed(w)
        qtbot.waitUntil(lambda: (w.width(), w.height()) == (width, height))
        return w

    yield make
    for w in made:
        w.shutdown()


def expected_text(batch: LessonBatch, name: str, index) -> str:
    """What a lesson table cell of array ``name`` at ``index`` must show: the core's number (or word index)."""
    v = np.asarray(batch.array(name))[tuple(index)]
    spec = batch.model.specs.get(name)
    if spec is not None and spec.kind == "index":
        return f"{batch.vocab[int(v)]} ({int(v)})"
    return number_text(v)


def shown_numbers_match(view) -> list[str]:
    """Every cell of every table on screen against the core's array (an empty list when all agree)."""
    wrong = []
    batch = view.batch
    for name, group in view.groups.items():
        part, texts = group.part, group.table.texts()
        assert len(texts) == len(part.rows) and all(len(row) == len(part.cols) for row in texts)
        for r, row in enumerate(texts):
            for c, text in enumerate(row):
                index = part.index_of(r, c)
                want = expected_text(batch, name, index)
                if text != want:
                    wrong.append(f"{view.step.where}: {name}{list(index)} shows {text!r}, the core has {want!r}")
    return wrong


def correct_choice(view, question) -> str:
    """The right answer, worked out here from the core's arrays (not from the question's own answer)."""
    b, step = view.batch, view.step
    name = b.result_of(step)
    if question.kind == "shape":
        return "×".join(str(s) for s in b.array(name).shape)
    if question.kind == "nonzero_rows":
        rows = np.flatnonzero(np.any(b.array("dW_emb") != 0, axis=1))
        return ", ".join(f"'{b.vocab[v]}'" for v in rows)
    if question.kind == "repeat_sum":
        return next(c for c in question.choices if c.startswith("the sum of"))
    if question.kind == "sign":
        (index,) = question.entries
        return "positive" if np.asarray(b.array(name))[index] > 0 else "negative"
    a, c = question.entries
    arr = np.asarray(b.array(name))
    return question.choices[0] if arr[a] > arr[c] else question.choices[1]


def test_a_fresh_settings_folder_opens_in_lesson_mode_and_the_mode_is_remembered(
        make_window, qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("BACKPROP_EXPLORER_SETTINGS", str(tmp_path))
    w = make_window(restore=True)
    view = w.lesson_view
    assert w.mode == "lesson" and w.action_mode_lesson.isChecked() and not w.action_mode_explorer.isChecked()
    assert view.isVisible() and view.objectName() == "lesson_view"
    assert all(dock.isHidden() for dock in w.docks.values())
    assert view.width() > 0.95 * w.width()  # the lesson fills the window
    assert w.action_lesson_next.isEnabled() and w.action_lesson_back.isEnabled()
    assert not w.action_run.isVisible()  # the full-size network's controls belong to Explorer mode

    w.action_mode_explorer.trigger()  # back to the docks, as they were
    assert w.mode == "explorer" and not view.isVisible()
    qtbot.waitUntil(lambda: w.docks["matrix_view"].isVisible() and w.docks["network_view"].isVisible())
    assert not w.action_lesson_next.isEnabled() and w.action_run.isVisible()
    w.close()

    again = make_window(restore=True)
    assert again.mode == "explorer" and again.action_mode_explorer.isChecked()
    assert not again.lesson_view.isVisible() and again.docks["matrix_view"].isVisible()
    again.action_mode_lesson.trigger()
    again.close()
    third = make_window(restore=True)
    assert third.mode == "lesson" and third.lesson_view.isVisible()


def test_next_walks_every_step_and_every_number_shown_is_the_cores(make_window, qtbot):
    w = make_window()
    w.action_mode_lesson.trigger()
    view = w.lesson_view
    steps = [(c.title, s.title) for c in view.chapters for s in c.steps]
    assert len(steps) >= 15 and view.position == 0
    seen, tables_steps, wrong = [], 0, []
    while True:
        step = view.step
        seen.append((view.chapter.title, step.title))
        assert step.where in view.where_label.text()
        if step.widget == "tables":
            if view.question is not None:  # predict, then reveal: the result is hidden until answered
                results = set(view.batch.results(step))
                assert results and results <= set(view.hidden) and not results & set(view.groups)
                view.answer(view.question.answer)
            assert set(view.groups) == set(view.batch.shows(step))
            wrong += shown_numbers_match(view)
            tables_steps += 1
        if view.at_end():
            break
        with qtbot.waitSignal(view.step_changed, timeout=2000):
            w.action_lesson_next.trigger()
    assert seen == steps
    assert tables_steps >= 12
    assert wrong == [], "\n".join(wrong[:20])
    assert "End of the lesson" in view.tally_label.text() and view.tally_label.isVisible()
    assert not w.action_lesson_next.isEnabled() or not view.next()  # nothing after the end
    w.action_lesson_back.trigger()
    assert view.position == len(steps) - 2


def test_the_keys_move_through_the_lesson(make_window, qtbot):
    w = make_window()
    w.action_mode_lesson.trigger()
    view = w.lesson_view
    assert [k.toString() for k in w.action_lesson_next.shortcuts()] == ["Right", "Space"]
    assert [k.toString() for k in w.action_lesson_back.shortcuts()] == ["Left"]
    w.activateWindow()
    qtbot.waitUntil(view.hasFocus)  # Lesson mode gives the lesson the keyboard
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.position == 1
    qtbot.keyClick(view, Qt.Key.Key_Space)
    assert view.position == 2 and not w.session.running  # Space is the lesson's in Lesson mode, not Run's
    qtbot.keyClick(view, Qt.Key.Key_Left)
    assert view.position == 1


def test_clicking_the_right_answer_says_so_and_the_tally_counts(make_window, qtbot):
    w = make_window()
    w.action_mode_lesson.trigger()
    view = w.lesson_view
    asked = right = 0
    kinds = set()
    while not view.at_end():
        q = view.question
        if q is not None:
            want = correct_choice(view, q)
            assert q.choices[q.answer] == want, (view.step.where, q.prompt, q.choices, want)
            kinds.add(q.kind)
            choice = q.answer if asked % 3 != 1 else (q.answer + 1) % len(q.choices)  # now and then a wrong one
            button = view.answer_buttons[choice]
            qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
            asked += 1
            right += choice == q.answer
            text = view.feedback.text()
            assert view.feedback.isVisible()
            assert ("Right." in text) == (choice == q.answer)
            if choice != q.answer:
                assert "Not quite" in text and want in text
            assert view.tally.asked == asked and view.tally.right == right
            assert all(not b.isEnabled() for b in view.answer_buttons)  # one answer per question
            assert not view.hidden and view.batch.result_of(view.step) in view.groups  # revealed
        view.next()
    assert kinds >= {"shape", "sign", "bigger", "nonzero_rows", "repeat_sum"}
    assert f"{right} of {asked} predictions right" in view.tally_label.text()


def test_predicting_can_be_turned_off(make_window):
    w = make_window()
    w.action_mode_lesson.trigger()
    view = w.lesson_view
    view.go_to(1)  # 'Three words become one vector': a question about e
    assert view.question is not None and view.hidden
    view.predict_check.setChecked(False)
    assert view.question is None and not view.hidden and "e" in view.groups
    assert not view.question_box.isVisible()


def test_a_chapters_end_opens_its_panel_in_explorer_mode(make_window, qtbot):
    w = make_window()
    w.action_mode_lesson.trigger()
    view = w.lesson_view
    first = view.chapter
    view.go_to(len(first.steps) - 1)
    assert view.chapter_end() and view.explore_button.isVisible()
    assert "Matrices" in view.explore_button.text()
    qtbot.mouseClick(view.explore_button, Qt.MouseButton.LeftButton)
    assert w.mode == "explorer" and w.action_mode_explorer.isChecked()
    dock = w.docks[first.panel]
    qtbot.waitUntil(lambda: dock.isVisible() and not dock.visibleRegion().isEmpty())
    view.go_to(0)
    assert not view.explore_button.isVisible()  # only at a chapter's end


def test_a_v_wide_array_shows_the_columns_that_matter_and_the_full_heatmap_on_a_click(make_window, qtbot):
    w = make_window()
    w.action_mode_lesson.trigger()
    view = w.lesson_view
    view.predict_check.setChecked(False)
    view.go_to(next(i for i, (_c, s) in enumerate(view.steps) if s.stage == "logits"))
    group = view.groups["z_o"]
    assert group.part.cols == view.batch.columns_that_matter()
    assert group.table.columnCount() < len(view.batch.vocab) and group.full_button is not None
    qtbot.mouseClick(group.full_button, Qt.MouseButton.LeftButton)
    dialog = view.heatmap_dialog
    assert dialog is not None and dialog.isVisible()
    np.testing.assert_array_equal(dialog.heatmap.data, view.batch.array("z_o"))


def test_a_malformed_lesson_file_gives_one_message_and_the_window_still_opens(
        make_window, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("BACKPROP_EXPLORER_SETTINGS", str(tmp_path / "settings"))
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "01_good.md").write_text("---\ntitle: Good\n---\n\n## One\nstage: embed\n\nText.\n", encoding="utf-8")
    (lessons / "02_bad.md").write_text("---\ntitle: Bad\n---\n\n## Two\nstage: embedd\n", encoding="utf-8")
    w = make_window(lessons=lessons, restore=True)
    qtbot.waitUntil(lambda: w.last_message_box is not None and w.last_message_box.isVisible())
    text = w.last_message_box.text()
    assert "02_bad.md, line 6" in text and "unknown stage 'embedd'" in text
    assert "Traceback" not in text and "\n" not in text
    boxes = [b for b in w.findChildren(QMessageBox) if b.isVisible()]
    assert boxes == [w.last_message_box]
    assert w.mode == "explorer" and w.docks["matrix_view"].isVisible()  # Explorer mode works as ever
    w.action_step_stage.trigger()
    assert w.session.stage.name == "embed"
    w.action_mode_lesson.trigger()  # the lesson says the same line
    assert "02_bad.md, line 6" in w.lesson_view.text_label.text()
    assert not w.action_lesson_next.isEnabled() or not w.lesson_view.next()


# ---- pointing at an entry -----------------------------------------------------------------------------------


def move_to(table, r: int, c: int) -> None:
    """The pointer moves onto cell (r, c) (a real mouse-move event to the table's viewport)."""
    pos = QPointF(table.visualItemRect(table.item(r, c)).center())
    event = QMouseEvent(QEvent.Type.MouseMove, pos, QPointF(table.viewport().mapToGlobal(pos.toPoint())),
                        Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(table.viewport(), event)


def test_the_entries_an_entry_is_made_from_give_back_its_value(demo_corpus):
    """core: ``entry_sources`` names the operand entries that reproduce each result (products, sums, look-ups)."""
    b = LessonBatch(demo_corpus)
    T = {k: np.asarray(v, dtype=float) for k, v in b.tensors.items()}
    W = {k: np.asarray(v, dtype=float) for k, v in b.weights.items()}
    products = {"z_h": ("e", "W_h", "b_h"), "z_o": ("h", "W_o", "b_o"), "dW_h": ("e", "dz_h", None),
                "dW_o": ("h", "dz_o", None), "dh": ("dz_o", "W_o", None), "de": ("dz_h", "W_h", None)}
    rng = np.random.default_rng(0)
    for name, (a, w, bias) in products.items():
        for _ in range(5):
            index = tuple(int(rng.integers(s)) for s in T[name].shape)
            src = b.entry_sources(name, index)
            arr = lambda n: W[n] if n in W else T[n]  # noqa: E731  (weights as the minibatch used them)
            total = sum(arr(a)[i] * arr(w)[j] for i, j in zip(src[a], src[w], strict=True))
            total += arr(bias)[src[bias][0]] if bias else 0.0
            assert total == pytest.approx(T[name][index], rel=1e-9, abs=1e-12), name
    for v in b.words_that_matter():
        src = b.entry_sources("dW_emb", (v, 2))
        assert sum(T["de"][i] for i in src["de"]) == pytest.approx(T["dW_emb"][v, 2], abs=1e-15)
        assert [b.x[i] for i in src["x"]] == [v] * len(src["x"])
    (w_index,) = b.entry_sources("e", (1, 5))["W_emb"]
    assert T["e"][1, 5] == W["W_emb"][w_index]
    assert b.entry_sources("h", (0, 3)) == {"z_h": [(0, 3)]}
    # a step's results are what its stage makes: de, made a stage earlier, is an operand of the scatter-add
    chapters = {s.stage: s for c in load_lessons() for s in c.steps if s.stage}
    assert b.results(chapters["embedding_gradient"]) == ("dW_emb",)
    assert b.results(chapters["output_weights"]) == ("dW_o", "db_o")
    assert b.entry_sources("W_h", (0, 0)) == {}  # a parameter is made from nothing shown


def test_pointing_at_a_result_marks_its_operands_and_writes_its_arithmetic(make_window, qtbot):
    w = make_window()
    w.action_mode_lesson.trigger()
    view = w.lesson_view
    view.predict_check.setChecked(False)
    checked = set()
    for position, (_chapter, step) in enumerate(view.steps):
        if step.widget != "tables" or not step.stage:
            continue
        view.go_to(position)
        for name in view.batch.results(step):
            table = view.groups[name].table
            r, c = table.rowCount() - 1, table.columnCount() - 1
            move_to(table, r, c)
            qtbot.waitUntil(lambda t=table, rc=(r, c): rc in t.highlighted())
            index = table.part.index_of(r, c)
            assert view.arithmetic.text() == view.batch.entry_text(name, index)
            formula = view.batch.entry_formula(name, index)
            if formula is not None:  # the arithmetic ends with the entry's value, as the table shows it
                assert formula.total == pytest.approx(float(np.asarray(view.batch.array(name))[index]), rel=1e-6,
                                                      abs=1e-12)
            cut = {n: g.table.cut_cells() for n, g in view.groups.items() if g.table.cut_cells()}
            assert cut == {}, (step.where, cut)  # a marked entry (in bold) still fits its column
            marked = {n: set(g.table.highlighted()) for n, g in view.groups.items() if n != name}
            sources = view.batch.entry_sources(name, index)
            for other, cells in marked.items():
                want = {view.groups[other].table.cell_of(i) for i in sources.get(other, [])} - {None}
                assert cells == want, (step.where, name, other)
            if set(sources) & set(marked):  # an operand on screen: something of it is marked
                assert any(marked.values()), (step.where, name)
            checked.add(name)
    assert checked >= {"e", "z_h", "h", "z_o", "p", "dz_o", "dW_o", "dh", "dz_h", "dW_h", "de", "dW_emb"}


# ---- on a laptop ------------------------------------------------------------------------------------------------


def lesson_problems(window, where: str) -> list[str]:
    """A horizontal scroll bar, a table or step widget cut at the right, a clipped label, labels drawn over others,
    tables that do not fit the screen's height."""
    from test_layout import clipped_labels, overlapping_labels

    view = window.lesson_view
    found = []
    for scroll in (view.left_scroll, view.tables_scroll):
        if scroll.horizontalScrollBar().isVisible():
            found.append(f"{scroll.objectName()}: a horizontal scroll bar (needs {scroll.widget().minimumSizeHint().width()}"
                         f" px, has {scroll.viewport().width()})")
    right = view.tables_scroll.viewport()
    shown = list(view.groups.values()) + list(view.hidden.values()) + ([view.step_widget] if view.step_widget else [])
    for w in shown:
        edge = w.mapTo(right, w.rect().topRight()).x()
        if edge > right.width():
            found.append(f"{w.objectName() or type(w).__name__} ends at {edge} px, the area at {right.width()}")
    if view.step.widget == "tables" and view.tables_scroll.verticalScrollBar().isVisible():
        found.append("the tables scroll up and down: the step does not fit the screen")  # (a step widget may)
    for b in view.answer_buttons:
        if b.label.heightForWidth(b.label.width()) > b.label.height() + 1:
            found.append(f"answer {b.choice_text()!r} is cut ({b.label.height()} px tall)")
    found += clipped_labels(window) + overlapping_labels(window)
    return [f"{where}: {p}" for p in found]


@pytest.mark.parametrize("size", [(1280, 720), (1366, 768)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_no_step_scrolls_sideways_or_cuts_a_label_on_a_laptop(make_window, qtbot, size):
    w = make_window(*size)
    w.action_mode_lesson.trigger()
    view = w.lesson_view
    found = []

    last = []

    def still() -> bool:  # the same geometry twice in a row: laid out
        now = [c.geometry().getRect() for c in view.findChildren(QWidget) if c.isVisible()]
        same = now == last
        last[:] = now
        return same

    def settled():
        last.clear()
        qtbot.waitUntil(still, timeout=5000)

    for position, (_chapter, step) in enumerate(view.steps):
        view.go_to(position)
        settled()
        found += lesson_problems(w, f"{step.where}, {'asked' if view.question else 'shown'}")
        if view.question is not None:
            view.answer(view.question.answer)  # the feedback and the revealed result fit too
            settled()
            found += lesson_problems(w, f"{step.where}, answered")
    assert found == [], "\n".join(found)


def test_another_corpus_gives_the_lesson_a_minibatch_of_its_own(make_window, hinton_corpus):
    w = make_window()
    w.action_mode_lesson.trigger()
    view = w.lesson_view
    view.go_to(1)
    before = view.batch
    w.session.rebuild(w.session.config, hinton_corpus)
    assert view.batch is not before and view.batch.vocab == list(hinton_corpus.vocab)
    assert view.position == 1 and view.tally.asked == 0
    assert shown_numbers_match(view) == []  # the tables show the new minibatch's numbers


def _plain(label) -> str:
    from explorer.panels.lesson_steps import plain_text

    return plain_text(label)


def test_a_shape_question_does_not_show_its_answer_before_it_is_answered_and_a_wrong_answer_says_why(
        make_window, qtbot):
    w = make_window()
    w.action_mode_lesson.trigger()
    view = w.lesson_view
    asked = 0
    for position, (_chapter, step) in enumerate(view.steps):
        if step.question != "shape":
            continue
        view.go_to(position)
        q = view.question
        name = view.batch.result_of(step)
        answer = q.choices[q.answer]
        shown = "\n".join(_plain(label) for label in (view.formula_label, view.text_label, view.prompt_label))
        assert answer not in shown, (step.where, answer, shown)  # nor the shape line, nor the words give it
        assert f"{name}: ?" in _plain(view.formula_label)  # the line is there, its numbers not yet
        wrong = (q.answer + 1) % len(q.choices)
        qtbot.mouseClick(view.answer_buttons[wrong], Qt.MouseButton.LeftButton)
        feedback = _plain(view.feedback)
        rows, cols = view.batch.array(name).shape
        assert "Not quite" in feedback and f"{rows} rows, one per" in feedback and f"{cols} columns" in feedback
        shapes = " ".join(view.batch.stages[step.stage].shapes.split())
        assert shapes in " ".join(_plain(view.formula_label).split())  # revealed: the numbers too
        asked += 1
    assert asked == 4  # e, z_o, dW_o, dW_h


def test_the_repeated_words_step_does_not_answer_its_own_question(make_window):
    w = make_window()
    w.action_mode_lesson.trigger()
    view = w.lesson_view
    position = next(i for i, (_c, s) in enumerate(view.steps) if s.question == "repeat_sum")
    view.go_to(position)
    words = (_plain(view.text_label) + " " + _plain(view.position_label) + " " + view.step.title).lower()
    assert view.question.kind == "repeat_sum"
    for giveaway in ("sum", "adds", "both blocks"):
        assert giveaway not in words, words
    view.answer((view.question.answer + 1) % len(view.question.choices))
    assert "derivative of a sum is the sum of the derivatives" in _plain(view.feedback)


def test_the_sketch_steps_of_a_chapter_keep_the_learners_clicks(make_window, qtbot):
    w = make_window()
    w.action_mode_lesson.trigger()
    view = w.lesson_view
    first, second = [i for i, (_c, s) in enumerate(view.steps) if s.widget == "sketch"][:2]
    assert view.steps[first][0] is view.steps[second][0]  # one chapter, two sketch steps
    view.go_to(first)
    button = view.step_widget.index_buttons[0][0]
    before = int(view.step_widget.sketch.index[0, 0])
    with qtbot.waitSignal(view.step_widget.changed, timeout=2000):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    clicked = view.step_widget.sketch.index.copy()
    assert clicked[0, 0] == (before + 1) % view.step_widget.sketch.V
    view.go_to(second)  # 'Click an index to change it': the index the learner clicked is still there
    shown = view.step_widget
    assert shown.isVisible()
    np.testing.assert_array_equal(shown.sketch.index, clicked)
    assert shown.index_buttons[0][0].text() == str(clicked[0, 0])
    assert shown.grad_table.texts() == [[number_text(v) for v in row] + [shown.grad_table.cells[r][-1].text()]
                                        for r, row in enumerate(shown.sketch.gradient())]
    qtbot.mouseClick(shown.index_buttons[1][3], Qt.MouseButton.LeftButton)
    view.go_to(first)  # and back: the click made on the second step shows on the first
    np.testing.assert_array_equal(view.step_widget.sketch.index, shown.sketch.index)
    assert view.step_widget.index_buttons[1][3].text() == str(shown.sketch.index[1, 3])


@pytest.mark.parametrize("size", [(1280, 720), (1366, 768)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_training_steps_loss_plot_has_labelled_axes_and_shows_the_whole_curve(make_window, qtbot, size):
    w = make_window(*size)
    w.action_mode_lesson.trigger()
    view = w.lesson_view
    view.go_to(next(i for i, (_c, s) in enumerate(view.steps) if s.widget == "train"))
    step = view.step_widget
    item = step.plot.getPlotItem()
    (x0, x1), (y0, y1) = item.getViewBox().viewRange()
    assert x0 <= 0 and x1 >= 100 and y0 <= 0 < np.log(len(w.session.vocab)) <= y1  # before: up to a uniform guess
    w.session.run_batches(400)
    qtbot.waitUntil(lambda: step.progress.steps == 400)
    for side, label in (("bottom", "minibatch"), ("left", "cross-entropy")):
        axis = item.getAxis(side)
        assert axis.isVisible() and axis.labelText == label
    xs, ys = step.curve.getData()
    assert len(xs) > 10
    (x0, x1), (y0, y1) = item.getViewBox().viewRange()
    assert x0 <= 0 and x1 >= 399 and x0 <= xs.min() and xs.max() <= x1
    assert y0 < ys.min() and ys.max() < y1  # every point inside, none on or past an edge
    assert (y1 - y0) < 2 * (ys.max() - ys.min())  # and the curve fills the plot, not a sliver of it
    # The plot, its x axis included, is on screen: inside the part of the scroll area one sees.
    viewport = view.tables_scroll.viewport()
    top = step.plot.mapTo(viewport, step.plot.rect().topLeft())
    bottom = step.plot.mapTo(viewport, step.plot.rect().bottomRight())
    assert top.y() >= 0 and bottom.y() <= viewport.height() and bottom.x() <= viewport.width()
    axis = item.getAxis("bottom")
    axis_bottom = step.plot.mapFromScene(axis.mapToScene(axis.boundingRect().bottomLeft())).y()
    assert axis_bottom <= step.plot.height()
    assert step.plot.height() >= 200


def test_the_backward_steps_lead_to_writing_their_stage_yourself(make_window, qtbot):
    w = make_window()
    w.action_mode_lesson.trigger()
    view = w.lesson_view
    backward = {s.name for s in view.batch.model.stage_specs if s.backward}
    offered = []
    for i in range(len(view.steps)):
        view.go_to(i)
        step = view.step
        expected = step.widget == "tables" and step.stage in backward
        assert view.write_button.isVisible() == expected, step.where
        if expected:
            offered.append(step.stage)
            assert step.stage.replace("_", " ") in view.write_button.text()
    assert {"output_error", "embedding_gradient"} <= set(offered)
    for i in range(len(view.steps)):
        view.go_to(i)
        if view.step.widget == "tables" and view.step.stage == "through_activation":
            break
    qtbot.mouseClick(view.write_button, Qt.MouseButton.LeftButton)
    assert w.mode == "explorer" and w.action_mode_explorer.isChecked()
    dock = w.docks["write_view"]
    qtbot.waitUntil(lambda: dock.isVisible() and not dock.visibleRegion().isEmpty())
    assert w.write_view.stage_combo.currentData() == "through_activation"
    assert "def through_activation(" in w.write_view.code()


def test_a_bigger_questions_feedback_writes_each_calculation_on_a_line_of_its_own(make_window, qtbot):
    w = make_window()
    w.action_mode_lesson.trigger()
    view = w.lesson_view
    view.go_to(next(i for i, (_c, s) in enumerate(view.steps) if s.question == "bigger"))
    q = view.question
    (a, b) = q.entries
    name = view.batch.result_of(view.step)
    qtbot.mouseClick(view.answer_buttons[1 - q.answer], Qt.MouseButton.LeftButton)
    lines = [line.strip() for line in _plain(view.feedback).splitlines() if line.strip()]
    first, second = (" ".join(view.batch.entry_formula(name, i).text.split()) for i in (a, b))
    assert lines[0].startswith("Not quite") and lines[1:] == [first, second]


def test_a_vectors_caption_counts_the_columns_it_shows(make_window):
    w = make_window()
    w.action_mode_lesson.trigger()
    view = w.lesson_view
    view.predict_check.setChecked(False)
    view.go_to(next(i for i, (_c, s) in enumerate(view.steps) if "b_o" in s.show))
    group = view.groups["b_o"]
    V = len(view.batch.vocab)
    assert group.table.rowCount() == 1 and group.table.columnCount() < V
    assert f"showing {group.table.columnCount()} of {V} columns" in _plain(group.title)
    assert "rows" not in _plain(group.title)


def test_the_lessons_words_say_what_their_steps_show(make_window):
    w = make_window()
    view = w.lesson_view
    batch = view.batch
    softmax = next(s for _c, s in view.steps if s.stage == "softmax")
    assert "every word gets about 1/V" not in softmax.text and "close to 1/V" in softmax.text
    spread = batch.array("p") * len(batch.vocab)  # 'close to 1/V, within a few times of it, either way'
    assert 1 / 5 < spread.min() and spread.max() < 5 and spread.max() > 1.5  # (not 'about 1/V': up to 3/V)
    first_sketch = next(s for _c, s in view.steps if s.widget == "sketch")
    assert "forward pass" not in first_sketch.title.lower()  # the step shows the backward pass too
