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

from explorer import guard
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
def window(caught, laptop_window):  # caught first: it watches the window from its creation
    laptop_window.ask_vocab_size = lambda parent, path, offered: offered
    return laptop_window


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


# ---- the other panels -------------------------------------------------------------------------


def pick_output_weight(view, qtbot, unit: int, word: str) -> None:
    """The gradient check's pickers on ∂L/∂W_o[unit, word], as a user sets them (the word typed, with Enter)."""
    view.name_combo.setCurrentIndex(view.name_combo.findData("W_o"))
    view.index_spins[0].setValue(unit)
    view.word_combos[1].lineEdit().setText(word)
    qtbot.keyClick(view.word_combos[1].lineEdit(), Qt.Key_Return)


def test_the_gradient_check_keeps_the_word_picked_not_its_row(window, qtbot, caught, tmp_path):
    view = window.panel("gradcheck_view")
    window.docks["gradcheck_view"].raise_()
    pick_output_weight(view, qtbot, 5, "he")
    assert view.index_spins[1].value() == window.session.model.index["he"] == 27
    open_text(window, qtbot, write_corpus(tmp_path / "forty.txt", FORTY, rare=["he"]))
    model = window.session.model
    assert view.name_combo.currentData() == "W_o"
    assert view.index_spins[0].value() == 5  # a hidden unit is still that unit
    assert view.index_spins[1].value() == model.index["he"] != 27
    assert view.word_combos[1].currentText() == "he"
    with qtbot.waitSignal(view.checked):
        view.check_button.click()
    assert view.result is not None and tuple(view.result.index) == (5, model.index["he"])
    open_text(window, qtbot, write_corpus(tmp_path / "other.txt", [f"u{i}" for i in range(30)]))
    assert view.index_spins[1].value() == 0 and view.word_combos[1].currentText() == "u0"
    assert "'he' is not in this vocabulary." in view.message_label.text()
    assert caught == []


def test_the_embedding_gradient_panel_drops_its_row_with_the_old_network(window, qtbot, caught, tmp_path):
    window.docks["embedding_grad_view"].raise_()
    view = window.panel("embedding_grad_view")
    qtbot.waitUntil(lambda: not view.visibleRegion().isEmpty())
    assert view.step_to_embedding_gradient() is not None and view.showing
    row = window.session.model.index["he"] if window.session.model.index["he"] in view.list_order() \
        else view.list_order()[-1]
    view.select_row(row)
    assert view.selected_row() == row and view.shown_contributions()
    open_text(window, qtbot, write_corpus(tmp_path / "forty.txt", FORTY))
    window.grab()
    assert caught == []
    assert not view.showing and view.selected_row() is None and view.list_order() == []
    assert view.shown_contributions() == [] and view.pages.currentIndex() == 0
    assert view.step_to_embedding_gradient() is not None  # and the new network's gradient shows
    vocab = window.session.vocab
    assert [view.word_table.item(i, 0).text() for i in range(view.word_table.rowCount())] == [
        vocab[r] for r in view.list_order()
    ]


def test_the_matrix_view_keeps_its_tab_by_name_and_draws_the_new_shapes(window, qtbot, caught, tmp_path):
    view = window.matrix_view
    names = view.array_names()
    view.tabs.setCurrentIndex(names.index("W_o"))
    view.heatmap.select_cell(3, 200)  # an entry of a word far down the old vocabulary
    view.heatmap.show_columns(190, 40)
    open_text(window, qtbot, write_corpus(tmp_path / "forty.txt", FORTY))
    window.grab()
    assert caught == []
    assert view.current_name() == "W_o"
    W_o = window.session.model.params["W_o"]
    assert view.displayed_array().shape == W_o.shape == (W_o.shape[0], 40)
    assert view.heatmap.col_labeller.names == window.session.vocab
    assert not view.heatmap._marker.isVisible()
    (x0, x1), _ = view.heatmap.view_box.viewRange()
    assert x0 < 40 and x1 > 0  # the columns on screen are columns of the new matrix
    # a stage's array on screen: the new network starts between minibatches, on the parameters
    for _ in range(4):
        window.action_step_stage.trigger()
    assert view.current_name() == "z_o" and view.mode == "stage"
    open_text(window, qtbot, write_corpus(tmp_path / "again.txt", FORTY[:30]))
    assert view.mode == "params" and view.current_name() == "W_emb"
    assert view.displayed_array().shape == window.session.model.params["W_emb"].shape


def test_predictions_read_the_typed_words_in_the_new_vocabulary(window, qtbot, caught, tmp_path):
    view = window.predictions_view
    view.set_text("he is in")
    assert view.context_words() == ("he", "is", "in")
    open_text(window, qtbot, write_corpus(tmp_path / "forty.txt", FORTY, rare=["he", "is", "in"]))
    assert view.prompt.text() == "he is in"  # the user's words stay, read in the new vocabulary
    assert view.context_words() == ("he", "is", "in")
    vocab = set(window.session.vocab)
    assert {w for w, _ in view.shown_predictions()} <= vocab
    assert {w for w, *_ in view.evidence()} <= vocab
    open_text(window, qtbot, write_corpus(tmp_path / "other.txt", FORTY))
    assert view.context_words() is None and view.shown_predictions() == []
    assert "“he” is not in the vocabulary" in view.status_text()
    window.grab()
    assert caught == []


# ---- back to the demo corpus, and a new network of other sizes ---------------------------------


def test_find_then_the_demo_corpus_reads_nearest_to_the_word_found_not_to_its_old_row(window, qtbot, caught,
                                                                                   tmp_path):
    # As reported: "he" found in another corpus, then File > Open corpus > Built-in demo corpus; the map read
    # "Nearest to drinks", the demo word at the old row of "he".
    big = write_corpus(tmp_path / "big.txt", [f"v{i}" for i in range(80)], lines=300, rare=["he"])
    open_text(window, qtbot, big)
    view = show_map(window, qtbot)
    find(view, qtbot, "he")
    old_row = window.session.model.index["he"]
    assert view.selected_word == "he" and view.selected == old_row
    with qtbot.waitSignal(window.corpus_loaded, timeout=20_000):
        window.action_open_demo.trigger()
    window.grab()
    model = window.session.model
    assert window.session.corpus.kind == "demo" and model.index["he"] != old_row
    assert caught == []
    assert_map_is_of_the_current_vocabulary(window, view)
    assert view.selected_word == "he" and view.selected == model.index["he"]
    assert plain(view.nearest_title) == "Nearest to he"
    assert [view.nearest_table.item(r, 0).text() for r in range(view.nearest_table.rowCount())] == [
        w for w, _ in model.nearest("he", view.k_spin.value())
    ]


def test_a_new_network_of_other_sizes_keeps_the_picked_word_and_brings_indices_into_range(window, qtbot, caught):
    # Hyperparameters > Apply with a hidden layer of 20 units instead of 200: an entry of unit 150 or a cell of
    # column 150 no longer exists; the word picked does.
    matrix = window.matrix_view
    matrix.tabs.setCurrentIndex(matrix.array_names().index("W_h"))
    matrix.heatmap.select_cell(140, 150)  # (a click on an entry also checks its gradient: so, first)
    check = window.panel("gradcheck_view")
    window.docks["gradcheck_view"].raise_()
    pick_output_weight(check, qtbot, 150, "he")
    window.docks["hyperparams_view"].raise_()
    hyper = window.hyperparams_view
    hyper.inputs["hidden_width_1"].setText("20")
    with qtbot.waitSignal(window.session.network_changed, timeout=10_000):
        hyper.apply_button.click()
    window.grab()
    assert caught == []
    model = window.session.model
    assert model.params["W_o"].shape == (20, len(window.session.vocab))
    assert check.name_combo.currentData() == "W_o"
    assert 0 <= check.index_spins[0].value() < 20 and check.index_spins[0].maximum() == 19
    assert check.word_combos[1].currentText() == "he" and check.index_spins[1].value() == model.index["he"]
    with qtbot.waitSignal(check.checked):
        check.check_button.click()
    assert check.result is not None and check.result.index[1] == model.index["he"] and check.result.index[0] < 20
    assert matrix.current_name() == "W_h" and matrix.displayed_array().shape == model.params["W_h"].shape
    assert not matrix.heatmap._marker.isVisible()
