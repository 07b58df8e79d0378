"""A new network or corpus under panels that hold a chosen word, row or entry (pytest-qt, the real window).

Each panel keeps what the user chose as a word (or drops it), never as a row
number of the old vocabulary: after a corpus switch, a row number points at
another word, or past the end of the new vocabulary.
"""

from __future__ import annotations

import html
import re
import sys

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainter

from explorer import dialogs, guard
from explorer.app import create_window
from explorer.panels.embedding_map_view import WordLabels


def write_corpus(path, words, lines=120, seed=0, rare=()):
    """A text corpus using every word of ``words`` (the first ones most often), ``rare`` words once or twice."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, len(words) + 1)
    weights /= weights.sum()
    text = []
    for i in range(lines):
        line = list(rng.choice(words, size=10, p=weights))
        line.insert(3, words[i % len(words)])  # every word occurs at least a few times
        text.append(" ".join(line))
    for r, word in enumerate(rare):
        text[r] += f" {word} {words[0]}"
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


FORTY = [f"w{i}" for i in range(40)]  # 40 words, none of them in the demo corpus


@pytest.fixture
def caught(monkeypatch):
    """Every exception that reaches sys.excepthook (a guarded Qt method that failed included)."""
    seen = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: seen.append(exc))
    monkeypatch.setattr(guard, "_reported", set())
    return seen


@pytest.fixture
def window(qtbot, demo_corpus, caught):
    w = create_window(corpus=demo_corpus)
    w.ask_unsaved = lambda parent, doing: dialogs.DISCARD
    w.ask_vocab_size = lambda parent, path, offered: offered
    qtbot.addWidget(w)
    w.resize(1366, 768)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.shutdown()


def open_text(window, qtbot, path):
    window.ask_open_path = lambda parent, title, filters: str(path)
    with qtbot.waitSignal(window.corpus_loaded, timeout=20_000):
        window.action_open_corpus_file.trigger()
    assert window.session.corpus.source == str(path)


def plain(label) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", label.text()))


def show_map(window, qtbot):
    window.docks["embedding_map_view"].raise_()
    view = window.embedding_map_view
    qtbot.waitUntil(lambda: view.isVisible() and not view.visibleRegion().isEmpty())
    return view


def find(view, qtbot, word):
    view.search_edit.clear()
    qtbot.keyClicks(view.search_edit, word)
    qtbot.keyClick(view.search_edit, Qt.Key_Return)


def assert_map_is_of_the_current_vocabulary(window, view):
    vocab = window.session.vocab
    assert view.labels.words == vocab
    assert len(view.labels.positions) == len(vocab) == len(view.coords)
    assert all(w in window.session.model.index for w, _ in view.neighbours)
    assert all(0 <= i < len(vocab) for i in view.labels.emphasis)


# ---- the embedding map ------------------------------------------------------------------------


def test_find_then_a_smaller_corpus_without_the_word_draws_the_new_map_and_drops_the_word(window, qtbot, caught,
                                                                                       tmp_path):
    # The reported sequence: "he" found far down a vocabulary, then a corpus of 40 other words.
    big = write_corpus(tmp_path / "big.txt", [f"v{i}" for i in range(80)], lines=300, rare=["he"])
    open_text(window, qtbot, big)
    view = show_map(window, qtbot)
    find(view, qtbot, "he")
    assert view.selected_word == "he" and window.session.model.index["he"] >= 40
    open_text(window, qtbot, write_corpus(tmp_path / "forty.txt", FORTY))
    window.grab()  # paints every panel, the map's labels included
    assert caught == []
    assert_map_is_of_the_current_vocabulary(window, view)
    assert view.selected is None and view.selected_word is None and view.neighbours == []
    assert view.nearest_table.rowCount() == 0
    assert plain(view.nearest_title).startswith("'he' is not in this vocabulary.")
    assert len(view.labels.drawn) > 0  # the new words are labelled
    assert all(view.labels.words[i].startswith("w") for i in view.labels.drawn)


def test_after_a_corpus_switch_the_map_keeps_the_word_chosen_not_its_old_row(window, qtbot, caught, tmp_path):
    view = show_map(window, qtbot)
    find(view, qtbot, "he")
    old_row = window.session.model.index["he"]
    # "he" comes last in the new vocabulary; the old row of "he" is another word there.
    open_text(window, qtbot, write_corpus(tmp_path / "forty.txt", FORTY, rare=["he"]))
    window.grab()
    model = window.session.model
    assert model.index["he"] != old_row
    assert caught == []
    assert_map_is_of_the_current_vocabulary(window, view)
    assert view.selected_word == "he" and view.selected == model.index["he"]
    assert plain(view.nearest_title) == "Nearest to he"
    k = view.k_spin.value()
    assert [view.nearest_table.item(r, 0).text() for r in range(view.nearest_table.rowCount())] == [
        w for w, _ in model.nearest("he", k)
    ]
    assert view.labels.emphasis.get(model.index["he"]) == view.labels.emphasis.get(view.selected)


def test_after_a_corpus_switch_without_the_word_no_other_word_is_chosen_in_its_place(window, qtbot, caught, tmp_path):
    view = show_map(window, qtbot)
    find(view, qtbot, "he")  # row 27 of the demo vocabulary
    view.distance_edits[0].setText("he")
    view.distance_edits[1].setText("she")
    assert "distance(he, she)" in plain(view.distance_label)
    open_text(window, qtbot, write_corpus(tmp_path / "forty.txt", FORTY))
    window.grab()
    assert caught == []
    assert view.selected is None and view.selected_word is None
    assert "Nearest to" not in plain(view.nearest_title)
    assert view.marks.getData()[0].size == 0  # no ring on any point
    assert plain(view.distance_label) == "—"  # the two words are not in this vocabulary
    x, _y = view.pair_line.getData()
    assert x is None or len(x) == 0


def test_word_labels_draw_nothing_while_their_positions_belong_to_another_vocabulary(qtbot, caught):
    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    plot.resize(300, 200)
    labels = WordLabels([f"w{i}" for i in range(40)])
    plot.addItem(labels)
    labels.set_positions(np.zeros((5, 2)))  # 5 positions for 40 words
    image = QImage(300, 200, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    plot.render(painter)
    painter.end()
    assert caught == [] and labels.drawn == []
    labels.set_positions(np.random.default_rng(0).normal(size=(40, 2)))
    plot.getViewBox().autoRange()
    plot.grab()
    assert caught == [] and len(labels.drawn) > 0
