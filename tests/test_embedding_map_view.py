"""The embedding map panel, driven through its widgets and the session (pytest-qt, offscreen)."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from core import projection
from core.projection import pca
from explorer.panels import embedding_map_view
from explorer.panels.embedding_map_view import EmbeddingMapView
from explorer.session import Session


@pytest.fixture
def session(demo_corpus):
    s = Session(demo_corpus)
    s.run_batches(30)
    yield s
    s.shutdown()


@pytest.fixture
def view(qtbot, session):
    v = EmbeddingMapView(session)
    qtbot.addWidget(v)
    v.resize(900, 650)
    v.show()
    qtbot.waitExposed(v)
    return v


def plain(label) -> str:
    """The text a label shows, without its HTML markup."""
    return html.unescape(re.sub(r"<[^>]+>", "", label.text()))


def scatter_positions(view) -> np.ndarray:
    x, y = view.scatter.getData()
    return np.column_stack([x, y])


def test_one_labelled_point_per_word_at_the_pca_positions(view, session):
    W = session.model.params["W_emb"]
    assert view.labels.words == session.vocab
    expected = pca(W).coords  # the first map has no previous one to align with
    np.testing.assert_allclose(scatter_positions(view), expected, atol=1e-12)
    np.testing.assert_allclose(view.labels.positions, expected, atol=1e-12)
    assert [int(d) for d in view.scatter.data["data"]] == list(range(len(session.vocab)))
    x_title = view.plot.getPlotItem().getAxis("bottom").labelText
    y_title = view.plot.getPlotItem().getAxis("left").labelText
    frac = pca(W).explained * 100
    assert x_title == f"PC 1 ({frac[0]:.1f}% of variance)"
    assert y_title == f"PC 2 ({frac[1]:.1f}%)"


def test_labels_do_not_overlap_and_all_labels_draws_every_word(view, session, qtbot):
    session.run_batches(300)  # words start to cluster: crowded spots appear
    view.refresh()
    view.plot.grab()  # paint once
    some = view.labels.drawn
    assert 0 < len(some) <= len(session.vocab) and len(set(some)) == len(some)
    rects = view.labels.placed
    for a in range(len(rects)):
        for b in range(a + 1, len(rects)):
            assert not rects[a].intersects(rects[b]), (session.vocab[some[a]], session.vocab[some[b]])
    qtbot.mouseClick(view.all_labels_box, Qt.LeftButton)
    view.fit()
    view.plot.grab()
    assert sorted(view.labels.drawn) == list(range(len(session.vocab)))


def test_training_refreshes_the_map_without_flipping_it(view, session, qtbot):
    before = view.projection.components.copy()
    with qtbot.waitSignal(view.refreshed, timeout=10_000):
        session.run_batches(20)  # weights_changed: a throttled refresh follows
    W = session.model.params["W_emb"]
    expected = pca(W, reference=before)
    np.testing.assert_allclose(scatter_positions(view), expected.coords, atol=1e-12)
    assert ((view.projection.components * before).sum(axis=1) > 0).all()


def test_no_refresh_while_hidden_then_one_when_shown(view, session, qtbot):
    view.hide()
    calls = []
    view.refreshed.connect(lambda: calls.append(1))
    session.run_batches(2)
    assert calls == [] and view._stale
    with qtbot.waitSignal(view.refreshed, timeout=10_000):
        view.show()
    np.testing.assert_allclose(
        scatter_positions(view), pca(session.model.params["W_emb"], reference=view._reference).coords, atol=1e-12
    )


def test_search_highlights_centres_and_lists_the_nearest_words(view, session, qtbot):
    qtbot.keyClicks(view.search_edit, "He")
    qtbot.keyClick(view.search_edit, Qt.Key_Return)
    i = session.model.index["he"]
    assert view.selected_word == "he"
    assert i in view.labels.emphasis
    marks_x, marks_y = view.marks.getData()
    assert any(np.isclose(marks_x, view.coords[i, 0]) & np.isclose(marks_y, view.coords[i, 1]))
    (x0, x1), (y0, y1) = view.plot.getViewBox().viewRange()
    assert np.isclose((x0 + x1) / 2, view.coords[i, 0]) and np.isclose((y0 + y1) / 2, view.coords[i, 1])
    nearest = session.model.nearest("he", view.k_spin.value())
    rows = [(view.nearest_table.item(r, 0).text(), view.nearest_table.item(r, 1).text())
            for r in range(view.nearest_table.rowCount())]
    assert rows == [(w, f"{d:.3f}") for w, d in nearest]
    view.k_spin.setValue(3)
    assert view.nearest_table.rowCount() == 3


def test_clicking_a_point_chooses_its_word(view, session, qtbot):
    view.plot.grab()
    target = session.model.index["day"]
    scene = view.scatter.mapToScene(QPointF(*view.coords[target]))
    pos = view.plot.mapFromScene(scene)
    with qtbot.waitSignal(view.word_selected) as blocker:
        qtbot.mouseClick(view.plot.viewport(), Qt.LeftButton, pos=pos)
    # a neighbouring point can sit under the same pixel; whichever was hit is the chosen word
    chosen = blocker.args[0]
    assert view.selected_word == chosen
    assert np.linalg.norm(view.coords[session.model.index[chosen]] - view.coords[target]) < 1e-9 or chosen == "day"
    assert view.nearest_table.item(0, 0).text() == session.model.nearest(chosen, 1)[0][0]


def test_clicking_a_nearest_word_chooses_it(view, session):
    view.select_word("the")
    first = view.nearest_table.item(0, 0).text()
    view.nearest_table.cellClicked.emit(0, 0)
    assert view.selected_word == first


def test_distance_between_two_words(view, session, qtbot):
    qtbot.keyClicks(view.distance_edits[0], "he")
    qtbot.keyClicks(view.distance_edits[1], "she")
    d = session.model.distance("he", "she")
    assert f"distance(he, she) = {d:.3f}" in plain(view.distance_label)
    assert "median" in plain(view.distance_label)
    a, b = session.model.index["he"], session.model.index["she"]
    assert view.labels.emphasis[a] == embedding_map_view.PAIR_COLOUR
    x, y = view.pair_line.getData()
    np.testing.assert_allclose(x, view.coords[[a, b], 0])


def test_unknown_words_get_a_message_with_suggestions(view, session, qtbot):
    view.select_word("the")
    assert view.search_edit.text() == "the"
    view.search_edit.clear()
    qtbot.keyClicks(view.search_edit, "dya")
    qtbot.keyClick(view.search_edit, Qt.Key_Return)
    assert view.search_message.isVisibleTo(view)
    text = view.search_message.text()
    assert "'dya' is not in the vocabulary" in text
    for s in session.model.suggest("dya"):
        assert f">{s}<" in text
    assert view.selected_word == "the"  # nothing else changed
    view.search_message.linkActivated.emit(session.model.suggest("dya")[0])  # click a suggestion
    assert view.selected_word == session.model.suggest("dya")[0]
    assert not view.search_message.isVisibleTo(view)
    view.distance_edits[0].setText("he")
    view.distance_edits[1].setText("zzqx")
    view.distance_edits[1].editingFinished.emit()
    assert view.distance_message.isVisibleTo(view)
    assert "'zzqx' is not in the vocabulary" in view.distance_message.text()
    assert view.distance_label.text() == "—"


def test_tsne_is_disabled_with_install_hint_when_scikit_learn_is_missing(qtbot, session, monkeypatch):
    monkeypatch.setattr(projection, "tsne_available", lambda: False)
    v = EmbeddingMapView(session)
    qtbot.addWidget(v)
    item = v.method_combo.model().item(1)
    assert item.text() == "t-SNE" and not item.isEnabled()
    assert "uv sync --extra tsne" in item.toolTip()
    assert "pip install 'backprop-explorer[tsne]'" in item.toolTip()


def test_tsne_option_runs_in_the_background(qtbot, session, monkeypatch):
    def fake_tsne(X, *, seed=0, init=None, perplexity=30.0):
        return projection.Projection(coords=np.asarray(X)[:, :2] * 10.0, method="tsne")

    monkeypatch.setattr(projection, "tsne_available", lambda: True)
    monkeypatch.setattr(projection, "tsne", fake_tsne)
    v = EmbeddingMapView(session)
    qtbot.addWidget(v)
    v.show()
    with qtbot.waitSignal(v.refreshed, timeout=10_000):
        v.method_combo.setCurrentIndex(1)
    np.testing.assert_allclose(scatter_positions(v), session.model.params["W_emb"][:, :2] * 10.0)
    assert v.plot.getPlotItem().getAxis("bottom").labelText == "t-SNE 1"
    v._wait_for_worker()


def test_a_new_network_rebuilds_the_map(view, session, qtbot):
    view.select_word("he")
    session.rebuild(session.config.replace(embed_dim=5, seed=3))
    assert view.labels.words == session.vocab
    assert view.selected_word == "he"
    np.testing.assert_allclose(scatter_positions(view), pca(session.model.params["W_emb"]).coords, atol=1e-12)


def test_refresh_cost_is_recorded(view):
    view.refresh()
    assert 0 < view.last_refresh_seconds


@pytest.mark.parametrize("width", [800, 1600, 2400])
def test_the_exported_map_is_drawn_for_its_size_with_labels_clear_of_the_markers(view, qtbot, tmp_path, width):
    from PySide6.QtGui import QImage

    from explorer.widgets.export import save_plot_png

    view.resize(420, 320)  # a small panel, as in a crowded window: the picture must not be it blown up
    view.select_word("day")
    path = view.export_png(tmp_path / "map.png", width)
    image = QImage(str(path))
    height = round(width * 10 / 16)
    assert (image.width(), image.height()) == (width, height)

    figure = view.export_figure(width)
    qtbot.addWidget(figure)
    save_plot_png(figure.getPlotItem(), tmp_path / "again.png", width)  # paints the figure's labels
    pi = figure.getPlotItem()
    tick = pi.getAxis("bottom").style["tickFont"].pixelSize()
    title = int(pi.getAxis("bottom").labelStyle["font-size"].removesuffix("px"))
    word = figure.labels.font.pixelSize()
    for size in (tick, title, word):  # text about 2-3 % of the picture's height: readable on a slide, not huge
        assert 0.017 * height <= size <= 0.03 * height, (size, height)
    marker = embedding_map_view.EXPORT_STYLE["marker"] * width / 1600
    drawn, placed = figure.labels.drawn, figure.labels.placed
    assert len(drawn) >= 25 and view.selected in drawn
    for i, rect in zip(drawn, placed):
        centre = pi.getViewBox().mapViewToScene(QPointF(*view.coords[i]))  # the figure's scene: its pixels
        nearest_x = min(max(centre.x(), rect.left()), rect.right())
        nearest_y = min(max(centre.y(), rect.top()), rect.bottom())
        assert np.hypot(centre.x() - nearest_x, centre.y() - nearest_y) > marker / 2, view.labels.words[i]
