"""A text corpus opened in the window keeps as many words as asked: `--vocab-size N` and File ▸ Open corpus text file."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog, QLabel

from core.corpus import MAX_VOCAB_SIZE
from explorer import app as app_module
from explorer import dialogs
from explorer.app import create_window
from explorer.cli import main


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    """A text corpus of 60 different words (w0 most frequent ... w59 least) in 300 lines."""
    path = tmp_path_factory.mktemp("vocab") / "sixty.txt"
    lines = []
    for i in range(300):
        lines.append(" ".join(f"w{(i * 7 + j * j) % (1 + j * 6 if j < 10 else 60)}" for j in range(12)))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def distinct_words(path) -> int:
    return len(set(path.read_text(encoding="utf-8").split()))


def test_command_line_vocab_size_reaches_the_window(text_file, monkeypatch, tmp_path):
    assert distinct_words(text_file) == 60
    seen = {}

    def screenshot(window, path, **_):  # instead of rendering: look at the window the command built
        seen["vocab"] = window.session.model.vocab_size
        seen["offered"] = window.text_vocab_size
        window.shutdown()
        window.close()
        return 0

    monkeypatch.setattr(app_module, "_screenshot", screenshot)
    out = str(tmp_path / "x.png")
    assert main(["--data", str(text_file), "--vocab-size", "25", "--screenshot", out]) == 0
    assert seen == {"vocab": 25, "offered": 25}
    assert main(["--data", str(text_file), "--screenshot", out]) == 0
    assert seen["vocab"] == 60  # the default asks for 250: every one of the 60 words


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--vocab-size", "25"], "--vocab-size is for a text corpus"),
        (["--data", "FILE", "--vocab-size", "1"], "from 2 to 100,000"),
        (["--data", "FILE", "--vocab-size", "many"], "expected a whole number"),
        (["--data", "FILE", "--vocab-size", str(MAX_VOCAB_SIZE + 1)], "from 2 to 100,000"),
    ],
)
def test_a_vocab_size_that_cannot_work_is_refused_in_one_line(text_file, tmp_path, capsys, argv, message):
    argv = [str(text_file) if a == "FILE" else a for a in argv]
    assert main(argv + ["--screenshot", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "x.png").exists()


@pytest.fixture
def window(qtbot, demo_corpus):
    w = create_window(corpus=demo_corpus)
    w.ask_unsaved = lambda parent, doing: dialogs.DISCARD
    qtbot.addWidget(w)
    yield w
    w.shutdown()


def test_open_corpus_text_file_asks_for_the_vocabulary_size(window, qtbot, text_file, monkeypatch):
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(text_file), "")))
    asked = []
    answers = iter([12, None, 40])

    def ask(parent, path, offered):
        asked.append((path, offered))
        return next(answers)

    window.ask_vocab_size = ask
    with qtbot.waitSignal(window.corpus_loaded, timeout=10_000):
        window.action_open_corpus_file.trigger()
    assert asked == [(str(text_file), 250)]  # the demo corpus was in use: the exercise's size is offered
    s = window.session
    assert s.corpus.source == str(text_file) and s.corpus.vocab_size == 12 and s.model.vocab_size == 12
    assert "12 words" in window.status_corpus.text()

    window.action_open_corpus_file.trigger()  # cancelled: nothing is loaded
    assert asked[-1] == (str(text_file), 12) and not window.loading
    assert s.model.vocab_size == 12

    with qtbot.waitSignal(window.corpus_loaded, timeout=10_000):
        window.action_open_corpus_file.trigger()
    assert asked[-1] == (str(text_file), 12) and s.model.vocab_size == 40


def test_the_vocabulary_size_dialog_takes_a_typed_number(qtbot, text_file):
    box = dialogs.VocabSizeDialog(text_file, 250)
    qtbot.addWidget(box)
    assert (box.spin.minimum(), box.spin.maximum()) == (2, MAX_VOCAB_SIZE) and box.value() == 250
    assert any(text_file.name in label.text() for label in box.findChildren(QLabel))  # says which file
    box.spin.lineEdit().selectAll()
    QTest.keyClicks(box.spin, "5000")
    assert box.value() == 5000
    assert dialogs.VocabSizeDialog(text_file, 10**9).value() == MAX_VOCAB_SIZE  # an offered size is kept in range


@pytest.mark.parametrize("accept, expected", [(True, 77), (False, None)])
def test_ask_vocab_size_returns_the_answer_or_none(qtbot, text_file, accept, expected):
    def answer():
        box = QApplication.activeModalWidget()
        assert isinstance(box, dialogs.VocabSizeDialog)
        box.spin.setValue(77)
        QTest.keyClick(box, Qt.Key.Key_Return if accept else Qt.Key.Key_Escape)

    QTimer.singleShot(0, answer)
    assert dialogs.ask_vocab_size(None, text_file, 250) == expected
