"""The "Write it yourself" panel: a highlighted editor per stage, pre-filled from the registries, kept between runs."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor

from core import solutions
from explorer import create_window


@pytest.fixture
def window(laptop_window):
    return laptop_window


@pytest.fixture
def view(window):
    window.docks["write_view"].raise_()
    return window.write_view


def test_the_panel_is_a_dock_of_the_window_and_starts_on_the_embedding_gradient(window, qtbot):
    assert "write_view" not in dict(window.panels)  # behind a tab: built when first shown
    window.docks["write_view"].raise_()
    qtbot.waitUntil(lambda: "write_view" in dict(window.panels))
    view = window.write_view
    assert window.docks["write_view"].windowTitle() == "Write it yourself"
    assert view.stage == "embedding_gradient"
    assert view.stage_names() == [s.name for s in window.session.model.stage_specs]  # every stage, the update too
    code = view.code()
    assert "def embedding_gradient(x, de, V, d):" in code
    n = window.session.config.batch_size
    d = window.session.config.embed_dim
    assert f"de: N×3d = {n}×{3 * d}" in code  # the shapes of this network and batch size
    assert "Embedding gradient" in view.formula.text()


def test_each_stage_has_its_own_code_and_the_template_follows_the_network(view, window, qtbot):
    view.set_code("def embedding_gradient(x, de, V, d):\n    return 0\n")
    view.set_stage("output_weights")
    assert "def output_weights(h, dz_o):" in view.code()
    assert "dW_o: H×V" in view.code() and "db_o: V" in view.code()
    view.set_stage("embedding_gradient")
    assert view.code() == "def embedding_gradient(x, de, V, d):\n    return 0\n"
    # A new network of other sizes: the template of an untouched stage shows the new shapes.
    from dataclasses import replace

    window.session.rebuild(replace(window.session.config, hidden_dims=(17,)))
    view.set_stage("output_weights")
    assert "dW_o: H×V = 17×" in view.code()
    view.set_stage("embedding_gradient")
    assert view.code().endswith("return 0\n")


def test_code_is_kept_between_runs_in_the_data_folder(view, demo_corpus, qtbot):
    view.set_code("import numpy as np\n\ndef embedding_gradient(x, de, V, d):\n    return np.zeros((V, d))\n")
    path = solutions.solution_path("embedding_gradient")
    qtbot.waitUntil(lambda: path.exists())  # written a moment after the last keystroke
    assert "np.zeros((V, d))" in path.read_text()
    w2 = create_window(corpus=demo_corpus)
    qtbot.addWidget(w2)
    try:
        assert "return np.zeros((V, d))" in w2.write_view.code()  # the next run starts where this one left off
    finally:
        w2.shutdown()
    view.restore_template()  # the template has nothing to keep
    view.keep()
    assert not path.exists()


def test_typing_in_the_editor_indents_and_is_kept_when_the_window_closes(view, window, qtbot):
    view.editor.setFocus()
    cursor = view.editor.textCursor()
    cursor.movePosition(QTextCursor.MoveOperation.End)
    view.editor.setTextCursor(cursor)
    qtbot.keyClicks(view.editor, "def helper(a):")
    qtbot.keyClick(view.editor, Qt.Key.Key_Return)
    qtbot.keyClicks(view.editor, "return a")
    assert view.code().endswith("def helper(a):\n    return a")
    window.shutdown()  # before the save timer fired
    assert solutions.solution_path("embedding_gradient").read_text().endswith("    return a\n")


def test_open_and_save_any_py_file(view, tmp_path):
    source = tmp_path / "mine.py"
    source.write_text("import numpy as np\n\ndef output_error(p, t, N):\n    return p\n\n"
                      "def back_to_hidden(dz_o, W_o):\n    return dz_o @ W_o.T\n")
    view.ask_open_path = lambda *a: str(source)
    view.open_file()
    assert view.stage == "output_error" and view.code() == source.read_text()
    view.set_stage("back_to_hidden")
    assert view.code() == source.read_text()
    view.ask_save_path = lambda *a: str(tmp_path / "copy")
    view.save_file()
    assert (tmp_path / "copy.py").read_text() == source.read_text()
    assert "Saved" in view.status.text()


@pytest.mark.parametrize("content,message", [
    ("def output_error(p:\n", "line 1"),
    ("def helper():\n    pass\n", "defines no stage function"),
])
def test_a_file_that_cannot_be_used_says_so_in_one_line_and_changes_nothing(view, tmp_path, content, message):
    before = view.code()
    bad = tmp_path / "bad.py"
    bad.write_text(content)
    assert view.open_path(bad) == []
    assert message in view.status.text() and "\n" not in view.status.toolTip()
    assert view.code() == before
    assert view.open_path(tmp_path / "missing.py") == [] and "no such file" in view.status.text()


def test_pygments_highlights_keywords_strings_and_a_docstring_over_several_lines(view):
    from pygments.token import Keyword, String

    hl = view.editor.highlighter
    view.set_code('def f(x):\n    """one\n    two"""\n    return x\n')
    kinds = lambda block: {str(t) for _s, _n, t in hl.spans(block)}  # noqa: E731
    assert any(t.startswith(str(Keyword)) for t in kinds(0))
    assert any(t.startswith(str(String)) for t in kinds(1)) and any(t.startswith(str(String)) for t in kinds(2))
    assert any(t.startswith(str(Keyword)) for t in kinds(3))
    # The highlighter formats what it lexed: the 'def' of line 1 is coloured in the document's layout.
    block = view.editor.document().findBlockByNumber(0)
    formats = block.layout().formats()
    assert any(f.start == 0 and f.length == 3 for f in formats)
    # Closing the docstring's opening line makes the next lines code again.
    view.set_code('def f(x):\n    """one"""\n    return x\n')
    assert any(t.startswith(str(Keyword)) for t in kinds(2))


# ---- running the learner's code ------------------------------------------------------------------------

CORRECT_EMBEDDING_GRADIENT = """import numpy as np


def embedding_gradient(x, de, V, d):
    dW_emb = np.zeros((V, d))
    np.add.at(dW_emb, x.reshape(-1), de.reshape(-1, d))  # every (example, position) adds its slice
    return dW_emb
"""

OVERWRITE = """import numpy as np


def embedding_gradient(x, de, V, d):
    dW_emb = np.zeros((V, d))
    dW_emb[x.reshape(-1)] = de.reshape(-1, d)  # a repeated row keeps only one of its slices
    return dW_emb
"""

ENDLESS = """def embedding_gradient(x, de, V, d):
    while True:
        pass
"""

MISSING_DERIVATIVE = """def through_activation(dh, h):
    return dh  # the factor h ⊙ (1 − h) is missing
"""


def _run(view, qtbot, code, stage="embedding_gradient"):
    view.set_stage(stage)
    view.set_code(code)
    with qtbot.waitSignal(view.verdict_shown, timeout=60_000) as blocker:
        assert view.run()
    return blocker.args[0]


def test_the_correct_embedding_gradient_is_exact(view, qtbot):
    verdict = _run(view, qtbot, CORRECT_EMBEDDING_GRADIENT)
    assert verdict.kind == "exact"
    assert "exact" in view.verdict_label.text()
    assert view.marked_entries() is not None and not view.marked_entries().any()  # nothing differs
    assert "every entry agrees" in view.map_title.text()
    assert view.run_button.isEnabled()
    view.set_stage("output_error")  # another stage: the verdict was embedding_gradient's
    assert "Write the function" in view.verdict_label.text() and view.heatmap.isHidden()
    assert not view.answer_button.isEnabled()


def test_the_overwrite_is_wrong_with_exactly_the_repeated_rows_marked(view, window, qtbot):
    from core.trainer import Trainer

    verdict = _run(view, qtbot, OVERWRITE)
    assert verdict.kind == "wrong" and "keep only one contribution" in view.verdict_label.text()
    # The rows fed more than once in the minibatch the verdict is about: those, and only those, are marked.
    x = Trainer(window.session.corpus, window.session.config).batch_at(verdict.minibatch)[0]
    words, counts = np.unique(x, return_counts=True)
    repeated = set(words[counts > 1].tolist())
    assert repeated and view.marked_rows() == repeated
    diff = view.heatmap.data
    assert diff.shape == verdict.expected.shape
    assert set(np.flatnonzero(np.abs(diff).sum(axis=1)).tolist()) == repeated  # the map shows the difference
    # The answer on request: the true array, and the reference function.
    view.answer_button.click()
    np.testing.assert_array_equal(view.heatmap.data, verdict.expected)
    assert view.marked_entries() is None and "The true dW_emb" in view.map_title.text()
    assert "np.add.at" in view.answer_code.code() and not view.answer_code.isHidden()
    view.answer_button.click()
    assert view.marked_rows() == repeated and view.answer_code.isHidden()


def test_an_endless_loop_leaves_the_window_answering_and_times_out(view, window, qtbot):
    from PySide6.QtCore import QTimer

    view.timeout = 1.0
    ticks = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    try:
        view.set_code(ENDLESS)
        with qtbot.waitSignal(view.verdict_shown, timeout=30_000) as blocker:
            assert view.run()
            assert not view.run_button.isEnabled() and not view.run()  # running: one at a time
        # While the learner's code looped for a second, the event loop went on: the 10 ms timer kept firing.
        assert len(ticks) >= 30
    finally:
        timer.stop()
    verdict = blocker.args[0]
    assert verdict.kind == "timed out" and "timed out" in view.verdict_label.text()
    assert view.run_button.isEnabled()


def test_code_that_cannot_run_says_so_in_one_line(view, qtbot):
    verdict = _run(view, qtbot, "def embedding_gradient(x, de, V, d):\n    return (\n")
    assert verdict is None
    assert "cannot run" in view.verdict_label.text() and "line 2" in view.verdict_label.text()
    assert "\n" not in view.verdict_label.toolTip()


def test_train_with_my_code_draws_a_second_curve_that_differs(view, window, qtbot):
    view.set_stage("through_activation")
    view.set_code(MISSING_DERIVATIVE)
    view.batches_spin.setValue(40)
    with qtbot.waitSignal(view.curves_shown, timeout=120_000) as blocker:
        assert view.train()
    curves = blocker.args[0]
    assert curves is not None and curves.stopped == "" and curves.trained == 40
    xs_c, ys_c = view.correct_curve.getData()
    xs_m, ys_m = view.mine_curve.getData()
    assert len(xs_c) == len(xs_m) == 40
    assert np.max(np.abs(ys_m - ys_c)) > 1e-4  # the two curves part
    assert view.tabs.currentIndex() == 1 and "part" in view.train_label.text()
    assert window.session.trainer.step == 0  # the window's own network did not train


def test_train_with_the_correct_code_draws_the_same_curve(view, qtbot):
    view.set_code(CORRECT_EMBEDDING_GRADIENT)
    view.batches_spin.setValue(10)
    with qtbot.waitSignal(view.curves_shown, timeout=120_000) as blocker:
        view.train()
    curves = blocker.args[0]
    assert curves.trained == 10 and curves.max_gap() < 1e-9
    assert "agree" in view.train_label.text()


def test_the_gallery_loads_each_bug_into_its_stage_and_links_the_naive_update(view, window, qtbot):
    combo = view.gallery_combo
    assert combo.count() == len(view.gallery) + 2 and "Show the naive update" in combo.itemText(1)
    assert {b.stage for b in view.gallery} >= {"embedding_gradient", "through_activation", "update"}
    view.set_stage("through_activation")
    before = view.code()
    view.load_bug(next(i for i, b in enumerate(view.gallery) if b.stage == "through_activation"))
    assert view.code() != before
    view.editor.undo()  # the learner's code (here the template) comes back
    assert view.code() == before
    for k, bug in enumerate(view.gallery):
        combo.activated.emit(k + 2)
        assert view.stage == bug.stage and view.code() == bug.text
        assert combo.currentIndex() == 0
    # The first entry is the embedding gradient panel's naive update, shown there.
    combo.activated.emit(1)
    qtbot.waitUntil(lambda: "embedding_grad_view" in dict(window.panels))
    assert window.embedding_grad_view.naive_check.isChecked()
    qtbot.waitUntil(lambda: not window.docks["embedding_grad_view"].visibleRegion().isEmpty())  # in front


def test_a_gallery_bug_gets_the_verdict_the_gallery_says(view, qtbot):
    k = next(i for i, b in enumerate(view.gallery) if b.stage == "back_to_hidden")  # W instead of Wᵀ
    view.load_bug(k)
    with qtbot.waitSignal(view.verdict_shown, timeout=60_000) as blocker:
        view.run()
    verdict = blocker.args[0]
    assert verdict.kind == view.gallery[k].verdict == "shape"
    assert view.answer_button.isEnabled()
    assert "The true dh" in view.map_title.text()  # nothing to subtract: the true array instead
    view.answer_button.click()
    assert view.answer_code.code().startswith("def back_to_hidden(")


def test_stop_ends_an_endless_loop_at_once_and_training_reports_its_progress(view, qtbot):
    view.timeout = 60.0  # the limit is far away: Stop, not the limit, ends it
    view.set_code(ENDLESS)
    with qtbot.waitSignal(view.verdict_shown, timeout=30_000) as blocker:
        assert view.run() and view.stop_button.isEnabled()
        view.stop_button.click()
    assert blocker.args[0] is None and "stopped" in view.verdict_label.text()
    assert view.run_button.isEnabled() and not view.stop_button.isEnabled()
    view.set_code(CORRECT_EMBEDDING_GRADIENT)
    view.batches_spin.setValue(20)
    seen = []
    with qtbot.waitSignal(view.curves_shown, timeout=120_000):
        assert view.train()
        view._progress.changed.connect(lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (20, 20) and [d for d, _t in seen] == sorted(d for d, _t in seen)


def test_a_wrong_verdict_shows_what_goes_wrong_downstream_under_it(view, qtbot):
    verdict = _run(view, qtbot, MISSING_DERIVATIVE, stage="through_activation")
    assert verdict.kind == "wrong"
    shown = view.downstream_label.text()
    assert not view.downstream_label.isHidden()
    assert "Downstream: dW_h, db_h, de, dW_emb and the update of W_emb, W_h, b_h go wrong" in shown
    assert "dW_h " in shown and "largest relative difference" in shown
    assert "downstream:" not in view.verdict_label.text()  # said once, on its own line
    assert "derivative is missing" in view.verdict_label.text()
    # A right answer has nothing downstream: the line goes.
    _run(view, qtbot, CORRECT_EMBEDDING_GRADIENT)
    assert view.downstream_label.isHidden() and view.downstream_label.text() == ""
