"""The window on a laptop screen (pytest-qt, the real window, offscreen).

At 1280×720, 1366×768 and 1920×1080 the default layout shows every panel
without a horizontal scroll bar, every heatmap on screen at least 200 pixels
tall, the loss plot's area and the predictions' bars at least 150 pixels tall
(every bar of the top 10 drawn), no axis title of a plot cut off, the columns
of the embedding gradient's word list readable and no label cut off; panels
that share a place in tabs are brought forward one by one and checked the same way. At 1024×700 nothing is cut off
either (panels may share more tabs there).
"""

from __future__ import annotations

import html

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import Qt as QtGuiQt, QTextDocument
from PySide6.QtWidgets import QDockWidget, QLabel, QScrollArea, QWidget

from explorer.app import create_window
from explorer.widgets.heatmap import Heatmap

MIN_HEATMAP = 200  # pixels: the height of a heatmap's plot (the coloured matrix with its axes)
WHERE_SAMPLE = "example 99 pos 3, …"  # a word's first place in the word list, whole before the "…"
MIN_PLOT = 150  # pixels: the loss plot's area between its axes, the predictions' room for their bars
LAPTOPS = [(1280, 720), (1366, 768), (1920, 1080)]


@pytest.fixture
def make_window(qtbot, demo_corpus):
    made = []

    def make(width: int, height: int):
        w = create_window(corpus=demo_corpus)
        w.confirm_on_close = False
        qtbot.addWidget(w)
        made.append(w)
        w.resize(width, height)
        w.show()
        qtbot.waitExposed(w)
        qtbot.waitUntil(lambda: w.size().width() == width and w.size().height() == height)
        settle(qtbot, w)
        return w

    yield make
    for w in made:
        w.shutdown()


def settle(qtbot, window) -> None:
    """Until the dock layout has stopped moving (the same geometry twice in a row)."""
    last = []

    def still() -> bool:
        now = [d.geometry().getRect() for d in window.docks.values()]
        same = now == last
        last[:] = now
        return same

    qtbot.waitUntil(still, timeout=5000)


def on_screen(widget) -> bool:
    """Shown, in the dock at the front of its tabs (what is scrolled out of sight included)."""
    if not widget.isVisible():
        return False
    dock = widget
    while dock is not None and not isinstance(dock, QDockWidget):
        dock = dock.parentWidget()
    return dock is None or not dock.visibleRegion().isEmpty()


def needed_width(label: QLabel) -> float:
    text = QLabel.text(label)  # what is drawn (an ElidedLabel draws its text shortened)
    if label.textFormat() == Qt.TextFormat.RichText or (
        label.textFormat() == Qt.TextFormat.AutoText and QtGuiQt.mightBeRichText(text)
    ):
        doc = QTextDocument()
        doc.setDefaultFont(label.font())
        doc.setDocumentMargin(0)
        doc.setHtml(text)
        return doc.idealWidth()
    return max(label.fontMetrics().horizontalAdvance(line) for line in text.split("\n"))


def clipped_labels(window) -> list[str]:
    """Labels on screen whose one-line text is wider than the label (text that wraps is never cut)."""
    out = []
    for label in window.findChildren(QLabel):
        if not on_screen(label) or label.wordWrap() or not QLabel.text(label) or not label.pixmap().isNull():
            continue
        room = label.contentsRect().width() - 2 * label.margin() - max(0, label.indent())
        need = needed_width(label)
        if need > room + 1:
            out.append(f"{label.objectName() or type(label.parent()).__name__}: {QLabel.text(label)[:60]!r} "
                       f"needs {need:.0f} px, has {room}")
    return out


def overlapping_labels(window) -> list[str]:
    """Labels on screen drawn over another widget of the same layout (a dock too short for wrapped text)."""
    out = []
    for label in window.findChildren(QLabel):
        parent = label.parentWidget()
        if not on_screen(label) or parent is None or parent.layout() is None or parent.layout().indexOf(label) < 0:
            continue
        for other in parent.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly):
            if other is label or not other.isVisible() or parent.layout().indexOf(other) < 0:
                continue
            if label.geometry().intersects(other.geometry()):
                out.append(f"{QLabel.text(label)[:50]!r} overlaps a {type(other).__name__}")
    return out


def clipped_axis_titles(window) -> list[str]:
    """Axis titles of plots on screen that do not lie whole inside their plot widget ("ross-entropy")."""
    out = []
    for plot in window.findChildren(pg.PlotWidget):
        if not on_screen(plot):
            continue
        shown = QRectF(plot.viewport().rect()).adjusted(-1, -1, 1, 1)
        for name in ("left", "bottom", "right", "top"):
            axis = plot.getPlotItem().getAxis(name)
            if not axis.isVisible() or not axis.label.isVisible() or not axis.labelText:
                continue
            margin = axis.label.document().documentMargin()  # around the text, blank
            text = axis.label.boundingRect().adjusted(margin, margin, -margin, -margin)
            title = plot.mapFromScene(axis.label.mapToScene(text)).boundingRect()
            if not shown.contains(QRectF(title)):
                out.append(f"{plot.objectName() or 'a plot'}: the {name} axis title {axis.labelText!r} is cut off "
                           f"({title.height()} px tall in a {plot.height()} px plot)")
    return out


def short_plots(window) -> list[str]:
    """The loss plot's area and the predictions' bars, when on screen, under ``MIN_PLOT`` pixels tall or
    with bars cut off."""
    out = []
    loss = window.panels.get("loss_view")
    if loss is not None and on_screen(loss.plot_widget) and loss.plot_item.vb.height() < MIN_PLOT:
        out.append(f"the loss plot's area is {loss.plot_item.vb.height():.0f} px tall")
    predictions = window.panels.get("predictions_view")
    if predictions is not None and on_screen(predictions.chart):
        chart = predictions.chart
        rows = chart.rows()
        room = chart.height() - chart.row_rect(0).top()
        if room < MIN_PLOT:
            out.append(f"the predictions' bars have {room} px")
        drawn = sum(chart.row_rect(i).bottom() < chart.height() for i in range(len(rows)))
        if drawn < min(len(rows), 10):
            out.append(f"the predictions chart draws {drawn} of its {len(rows)} bars")
    return out


def cut_columns(window) -> list[str]:
    """The embedding gradient's list of touched words, on screen: a header cut, or no first place whole."""
    view = window.panels.get("embedding_grad_view")
    if view is None or not on_screen(view.word_table) or view.naive_check.isChecked():
        return []  # beside the naive update's second matrix the list is narrower (its places end in "…" sooner)
    table = view.word_table
    header = table.horizontalHeader()
    out = []
    for c in range(table.columnCount()):
        need = header.sectionSizeFromContents(c).width()
        if header.sectionSize(c) < need:
            out.append(f"the word list's column {table.horizontalHeaderItem(c).text()!r} is {header.sectionSize(c)} "
                       f"px wide, its header needs {need}")
    need = table.fontMetrics().horizontalAdvance(WHERE_SAMPLE)
    visible = table.viewport().width() - header.sectionViewportPosition(3)
    if min(header.sectionSize(3), visible) < need:
        out.append(f"the word list shows {min(header.sectionSize(3), visible)} px of its places, "
                   f"{WHERE_SAMPLE!r} needs {need}")
    return out


def problems(window, where: str) -> list[str]:
    found = overlapping_labels(window)
    for name, dock in window.docks.items():
        scroll = dock.widget()
        if on_screen(dock) and isinstance(scroll, QScrollArea) and scroll.horizontalScrollBar().isVisible():
            panel = scroll.widget()
            found.append(f"{name}: a horizontal scroll bar (panel needs {panel.minimumSizeHint().width()} px, "
                         f"dock gives {scroll.viewport().width()})")
    for heatmap in window.findChildren(Heatmap):
        if on_screen(heatmap.plot_widget) and heatmap.plot_widget.height() < MIN_HEATMAP:
            owner = heatmap
            while owner is not None and owner not in window.panels.values():
                owner = owner.parentWidget()
            owner = type(owner).__name__
            found.append(f"a heatmap of {owner} is {heatmap.plot_widget.height()} px tall")
    found += clipped_labels(window)
    found += clipped_axis_titles(window) + short_plots(window) + cut_columns(window)
    label = window.stage_label  # the toolbar's stage: shortened with "…" if need be, never hidden
    if not label.isVisible():
        found.append(f"the stage label is hidden behind the toolbar's extension button: {label.text()!r}")
    elif label.shown_text() != label.text() and not (
        label.shown_text().endswith("…") and label.toolTip() == label.text()
    ):
        found.append(f"the stage label shows {label.shown_text()!r} of {label.text()!r}")
    return [f"{where}: {p}" for p in found]


def every_panel(window, qtbot, where: str) -> list[str]:
    """``problems`` with the layout as it is, then with each dock brought to the front of its tabs."""
    found = problems(window, where)
    for name, dock in window.docks.items():
        if not on_screen(dock):
            dock.raise_()
            qtbot.waitUntil(lambda d=dock: on_screen(d))
            window.panel(name)
            settle(qtbot, window)
            found += problems(window, f"{where}, {name} in front")
    return found


def to_stage(window, name: str) -> None:
    while window.session.stage is None or window.session.stage.name != name:
        window.action_step_stage.trigger()


@pytest.mark.parametrize("size", LAPTOPS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_default_layout_fits_a_laptop_screen(make_window, qtbot, size):
    window = make_window(*size)
    found = every_panel(window, qtbot, "between minibatches")
    # The panels with most on screen: a stage's arrays, the embedding gradient with its list of words.
    to_stage(window, "embedding_gradient")
    window.docks["embedding_grad_view"].raise_()
    view = window.embedding_grad_view
    qtbot.waitUntil(lambda: view.showing and on_screen(view.heatmap.plot_widget))
    settle(qtbot, window)
    found += problems(window, "stage 13, embedding gradient")
    window.docks["matrix_view"].raise_()
    qtbot.waitUntil(lambda: on_screen(window.matrix_view.heatmap.plot_widget))
    settle(qtbot, window)
    found += problems(window, "stage 13, matrices")
    assert found == [], "\n".join(found)


def test_the_naive_update_beside_the_correct_one_fits_a_full_hd_screen(make_window, qtbot):
    window = make_window(1920, 1080)
    to_stage(window, "embedding_gradient")
    window.docks["embedding_grad_view"].raise_()
    view = window.embedding_grad_view
    view.naive_check.setChecked(True)
    qtbot.waitUntil(lambda: on_screen(view.naive_heatmap.plot_widget) and on_screen(view.heatmap.plot_widget))
    settle(qtbot, window)
    found = problems(window, "naive update")
    assert found == [], "\n".join(found)
    # both heatmaps, side by side, the same height: their rows line up
    assert view.heatmap.plot_widget.height() == view.naive_heatmap.plot_widget.height() >= MIN_HEATMAP


def test_a_small_screen_cuts_nothing_off(make_window, qtbot):
    window = make_window(1024, 700)
    found = [p for p in every_panel(window, qtbot, "1024×700") if "scroll bar" not in p and "heatmap" not in p]
    assert found == [], "\n".join(found)


def test_the_checks_see_a_cut_label_a_scroll_bar_and_a_short_heatmap(make_window, qtbot):
    window = make_window(1366, 768)
    panel = window.predictions_view
    window.docks["predictions_view"].raise_()  # (it shares its place with the loss plot there)
    label = QLabel("a label far too long for the few pixels it is given")
    label.setFixedWidth(80)
    panel.layout().addWidget(label)
    qtbot.waitUntil(lambda: on_screen(label))
    assert any("far too long" in p and "needs" in p for p in problems(window, "cut"))
    panel.setMinimumWidth(2000)
    qtbot.waitUntil(lambda: window.docks["predictions_view"].widget().horizontalScrollBar().isVisible())
    assert any(p.startswith("wide: predictions_view: a horizontal scroll bar") for p in problems(window, "wide"))
    loss = window.loss_view
    loss.plot_widget.setMinimumHeight(0)
    loss.plot_widget.setMaximumHeight(60)
    window.docks["loss_view"].raise_()
    qtbot.waitUntil(lambda: on_screen(loss.plot_widget) and loss.plot_widget.height() <= 60)
    found = problems(window, "squashed")
    assert any("loss plot's area" in p for p in found)
    assert any("'cross-entropy (nats)' is cut off" in p for p in found)
    window.matrix_view.heatmap.plot_widget.setMinimumHeight(0)
    window.matrix_view.heatmap.plot_widget.setMaximumHeight(150)
    qtbot.waitUntil(lambda: window.matrix_view.heatmap.plot_widget.height() <= 150)
    assert any("heatmap" in p and "150 px tall" in p for p in problems(window, "short"))


def test_four_hidden_layers_at_1280_wide_cut_no_text_without_a_tooltip_that_has_it(qtbot, demo_corpus):
    """The diagram's boxes and the toolbar's stage shorten their text with "…" on a laptop; the tooltip
    (what pointing at the box or the label shows) then holds every text in full."""
    from core.model import Config

    window = create_window(corpus=demo_corpus, config=Config(hidden_dims=(64, 64, 64, 64),
                                                             activations=("sigmoid", "relu", "tanh", "sigmoid")))
    window.confirm_on_close = False
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    qtbot.waitExposed(window)
    try:
        settle(qtbot, window)
        diagram = window.network_view
        assert len(diagram.layers) == 8
        for stage in ("hidden_2", None):  # a stage's box carries its title too
            if stage:
                while window.session.stage is None or not window.session.stage.box == "hidden_2":
                    window.action_step_stage.trigger()
            cut = {key: diagram.cut_text(key) for key in diagram.layers}
            assert any(cut.values()), "the test needs boxes too narrow for their text"
            for key, texts in cut.items():
                tip = diagram.tooltip_for(key)
                missing = [t for t in texts if html.escape(t, quote=False) not in tip]
                assert missing == [], f"{key}: {missing} cut and not in the tooltip {tip!r}"
        label = window.stage_label
        to_stage(window, "embedding_gradient")
        qtbot.waitUntil(lambda: label.shown_text() != label.text())  # a long stage title, shortened
        assert label.shown_text().endswith("…") and label.toolTip() == label.text()
    finally:
        window.shutdown()
