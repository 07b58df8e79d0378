"""The "Write it yourself" panel: a highlighted editor per stage, pre-filled from the registries, kept between runs."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor

from core import solutions
from explorer import create_window


@pytest.fixture
def window(qtbot, demo_corpus):
    w = create_window(corpus=demo_corpus)
    qtbot.addWidget(w)
    w.confirm_on_close = False
    w.resize(1366, 768)
    yield w
    w.shutdown()


@pytest.fixture
def view(window):
    window.docks["write_view"].raise_()
    return window.write_view


def test_the_panel_is_a_dock_of_the_window_and_starts_on_the_embedding_gradient(window, qtbot):
    window.show()
    qtbot.waitExposed(window)
    assert "write_view" not in dict(window.panels)  # behind a tab: built when first shown
    window.docks["write_view"].raise_()
    qtbot.waitUntil(lambda: "write_view" in dict(window.panels))
    view = window.write_view
    assert window.docks["write_view"].windowTitle() == "Write it yourself"
    assert view.stage == "embedding_gradient"
    assert view.stage_names() == [s.name for s in window.session.model.stage_specs[:-1]]  # all but the update
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
    assert view.open_path(tmp_path / "missing.py") == [] and "does not exist" in view.status.text()


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
