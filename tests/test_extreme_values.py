"""Every view draws any finite numbers without raising: weights and losses from 1e-300 to 1e308, all equal, all 0.

A checkpoint can hold such numbers (its reader accepts any finite value), and
so can training that is about to diverge. The window loads them and every
panel is drawn, hovered and stepped through; nothing may reach the error
handler (an exception inside a method Qt calls included: the guard reports
those), and no label may spell out a number in hundreds of digits.
"""

from __future__ import annotations

import math
import re
import sys

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QLabel

from explorer import guard
from explorer.main_window import PANELS
from explorer.panels.embedding_map_view import WordLabels
from explorer.panels.predictions_view import BarChart

LONG_NUMBER = re.compile(r"\d{25,}")  # a float written out in full: 1e308 as "1000000…"


@pytest.fixture
def caught(monkeypatch):
    seen = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: seen.append(exc))
    monkeypatch.setattr(guard, "_reported", set())
    return seen


@pytest.fixture
def window(caught, laptop_window):  # caught first: it watches the window from its creation
    return laptop_window


def extreme(a: np.ndarray, how: str) -> np.ndarray:
    pattern = np.arange(a.size).reshape(a.shape)
    if how == "huge":
        return np.where(pattern % 2, 1e308, -3e307)
    if how == "tiny":
        return np.where(pattern % 2, 1e-300, -3e-301) * (1 + pattern % 7)
    if how == "equal":
        return np.full(a.shape, 0.5)
    if how == "zero":
        return np.zeros(a.shape)
    raise ValueError(how)


def extreme_checkpoint(window, tmp_path, how: str, history: bool):
    """The window's network saved, then rewritten with extreme weights (and a huge loss history)."""
    path = tmp_path / f"{how}.npz"
    window.session.run_batches(3)
    window.session.save_checkpoint(path)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    for k, a in arrays.items():
        if a.dtype.kind != "f" or not a.size:
            continue
        if k.startswith("history_"):
            if history:
                arrays[k] = np.where(np.arange(a.size).reshape(a.shape) % 2, 1e308, 2.5).astype(a.dtype)
        else:
            arrays[k] = extreme(a, how).astype(a.dtype)
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)
    return path


def visible_texts(window) -> list[str]:
    return [label.text() for label in window.findChildren(QLabel) if label.isVisibleTo(window)]


def draw_every_panel(window) -> None:
    for attr, _cls, _title in PANELS:
        window.docks[attr].raise_()
        window.panel(attr)
        window.grab()


@pytest.mark.parametrize("how", ["huge", "tiny", "equal", "zero"])
def test_every_panel_draws_extreme_weights(window, qtbot, caught, tmp_path, how):
    path = extreme_checkpoint(window, tmp_path, how, history=(how == "huge"))
    assert window.load_checkpoint_from(path)
    draw_every_panel(window)
    # the map: a word chosen, its neighbours and a distance
    m = window.embedding_map_view
    m.select_word("he", centre=True)
    m.distance_edits[0].setText("he")
    m.distance_edits[1].setText("she")
    m.refresh()
    m.all_labels_box.setChecked(True)
    window.docks["embedding_map_view"].raise_()
    window.grab()
    m.fit()
    window.grab()
    # the predictions: probabilities of weights that overflow the logits
    window.predictions_view.set_text("the dog is")
    window.docks["predictions_view"].raise_()
    window.grab()
    # the matrices: every parameter, hovered
    mv = window.matrix_view
    window.docks["matrix_view"].raise_()
    for i in range(mv.tabs.count()):
        mv.tabs.setCurrentIndex(i)
        mv.heatmap.hover_cell(0, 0)
        window.grab()
    # a minibatch stage by stage (it may diverge: the window explains that), then the gradient check
    for _ in range(len(window.session.model.stage_specs)):
        window.action_step_stage.trigger()
        window.grab()
    window.gradcheck_view.check("W_o", (0, 0))
    window.docks["gradcheck_view"].raise_()
    window.grab()
    window.action_step_batch.trigger()
    draw_every_panel(window)
    assert caught == []
    for text in visible_texts(window):
        assert not LONG_NUMBER.search(text), text[:200]


def test_word_labels_draw_coordinates_of_any_size_and_a_degenerate_map(qtbot, caught):
    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    plot.resize(400, 300)
    words = [f"w{i}" for i in range(6)]
    labels = WordLabels(words)
    labels.show_all = True
    plot.addItem(labels)
    cases = {
        "all at one point": np.zeros((6, 2)),
        "huge": np.array([[1e308, -1e308], [-1e308, 1e308], [0, 0], [1e300, 1e300], [5e307, 0], [0, -5e307]]),
        "tiny": np.arange(12.0).reshape(6, 2) * 1e-310,
        "mixed": np.array([[1e308, 0], [1e-300, 0], [0, 0], [1, 1], [-1, -1], [2, 3]]),
    }
    for name, positions in cases.items():
        labels.set_positions(positions)
        for xr, yr in (((-1, 1), (-1, 1)), ((-1e308, 1e308), (-1e308, 1e308)), ((0, 1e-300), (0, 1e-300))):
            plot.getViewBox().setRange(xRange=xr, yRange=yr, padding=0)
            image = QImage(400, 300, QImage.Format.Format_ARGB32)
            painter = QPainter(image)
            plot.render(painter)
            painter.end()
            assert caught == [], (name, xr)
        plot.getViewBox().autoRange()
        plot.grab()
        assert caught == [], name


def test_the_bar_chart_draws_probabilities_that_are_not_numbers(qtbot, caught):
    chart = BarChart()
    qtbot.addWidget(chart)
    chart.resize(320, 240)
    chart.set_rows([("a", math.nan), ("b", 1.0), ("c", 0.0), ("d", 5e-324)], seen={"a"})
    chart.grab()
    chart.set_rows([("a", math.nan), ("b", math.nan)])
    chart.grab()
    chart.set_rows([("a", math.inf), ("b", 1e308)])
    chart.grab()
    assert caught == []
    chart.set_rows([("a", 0.5)])  # and an ordinary one still draws its bar
    picture = chart.grab().toImage()
    assert caught == [] and picture.width() == 320


def test_a_two_word_corpus_at_the_smallest_init_std_trains_and_draws(window, qtbot, caught, tmp_path):
    from core.model import MIN_INIT_STD

    path = tmp_path / "two.txt"
    path.write_text("\n".join(["yes no yes no yes", "no yes no no yes"] * 20) + "\n", encoding="utf-8")
    window.session.rebuild(window.session.config.replace(batch_size=8))  # 64 training examples in all
    window.ask_open_path = lambda parent, title, filters: str(path)
    window.ask_vocab_size = lambda parent, p, offered: offered
    with qtbot.waitSignal(window.corpus_loaded, timeout=20_000):
        window.action_open_corpus_file.trigger()
    assert sorted(window.session.vocab) == ["no", "yes"]
    hp = window.hyperparams_view
    hp.inputs["init_std"].setText("1e-300")
    hp.apply_new_network()
    assert "init std must be at least 1e-30" in hp.errors["init_std"].text() + hp.message_label.text()
    hp.inputs["init_std"].setText(f"{MIN_INIT_STD:g}")
    assert hp.apply_new_network()
    assert window.session.config.init_std == MIN_INIT_STD
    window.session.run_batches(20)
    draw_every_panel(window)
    window.embedding_map_view.refresh()
    window.grab()
    assert caught == []
    assert len(window.embedding_map_view.coords) == 2 and np.isfinite(window.embedding_map_view.coords).all()
