"""The embedding map: every word's learned vector (a row of W_emb, V×d) as a labelled point in 2-D.

The projection is PCA (``core.projection.pca``): the two directions along
which the word vectors vary most. Its components keep their signs from one
refresh to the next, so the map moves smoothly during training instead of
flipping. With scikit-learn installed, t-SNE is offered too (computed in a
background thread: it takes a second or more).

Beside the map: the k nearest words to a chosen word (search for it or click
its point) with their distances, measured in all d dimensions like the
exercise's ``display_nearest_words``, and the distance between two words
(``word_distance``).

Labels are drawn by one item (``WordLabels``) in screen pixels; where two
would overlap, the more frequent word wins and the other waits until you zoom
in (or tick "all labels"). The map refreshes on ``weights_changed`` (which run
mode announces ``Session.weights_hz`` times a second), once per event-loop
turn at most, and not at all while the panel is hidden.
"""

from __future__ import annotations

import html
import math
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QColor, QFont, QFontMetricsF, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QCompleter,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core import projection
from core.errors import ExplorerError, UnknownWordError
from core.text import decimals, plural

from .. import widgets  # noqa: F401  (configures pyqtgraph once)
from ..guard import qt_override
from ..widgets import on_screen
from ..widgets.elided import ElidedLabel
from ..widgets.export import ask_and_save_png, ask_save_path, save_plot_png

NEAREST_PROMPT = "Click a point or find a word."
EXPORT_SIZE = (1600, 1000)  # pixels of the exported map (16:10, a slide's proportions)
# Sizes in pixels of the exported map's text, markers and lines at 1600 pixels wide; they scale with the width.
EXPORT_STYLE = {
    "tick_font": 22,
    "label_font": 26,
    "word_font": 20,
    "marker": 12,
    "line": 2,
    "tick": 8,
    "left_axis": 120,
    "bottom_axis": 90,
}
POINT_COLOUR = (70, 110, 160, 170)
LABEL_COLOUR = QColor(40, 40, 40)
SELECTED_COLOUR = QColor(200, 30, 30)
NEIGHBOUR_COLOUR = QColor(220, 120, 0)
PAIR_COLOUR = QColor(110, 50, 160)
NEIGHBOUR_BRUSH = pg.mkBrush(NEIGHBOUR_COLOUR)
SELECTED_BRUSH = pg.mkBrush(SELECTED_COLOUR)
SELECTED_PEN = pg.mkPen("w", width=1.5)


class WordLabels(pg.GraphicsObject):
    """All the words of the map in one item, drawn in screen pixels just right of their points.

    ``positions`` (V, 2) are in data coordinates. Labels are placed in
    priority order (emphasised words first, then ``order``) and a label that
    would overlap one already placed is skipped, unless ``show_all``.
    ``drawn`` lists the word indices placed by the last paint and ``placed``
    their rectangles in device pixels. ``pixel_size`` (instead of
    ``point_size``) sizes the font in device pixels, for a picture of a given
    size; ``gap`` is the distance in pixels from a point to its label (more
    than the marker's radius, so that no label hides under its marker);
    ``backdrop`` draws every label on a pale box, to read over dense points.
    """

    def __init__(self, words, order=None, point_size: float = 7.0, *, pixel_size: int | None = None,
                 gap: float = 5.0, backdrop: bool = False):
        super().__init__()
        self.backdrop = backdrop
        self.font = QFont()
        if pixel_size is not None:
            self.font.setPixelSize(max(1, int(pixel_size)))
        else:
            self.font.setPointSizeF(point_size)
        self.gap = float(gap)
        self.bold = QFont(self.font)
        self.bold.setBold(True)
        self.show_all = False
        self.emphasis: dict[int, QColor] = {}  # word index → colour, drawn bold and always
        self.drawn: list[int] = []
        self.placed: list[QRectF] = []
        self.set_words(words, order)

    def set_words(self, words, order=None) -> None:
        self.words = list(words)
        n = len(self.words)
        self.positions = np.zeros((n, 2))
        self.order = np.arange(n) if order is None else np.asarray(order)
        fm, fmb = QFontMetricsF(self.font), QFontMetricsF(self.bold)
        self.widths = np.array([fm.horizontalAdvance(w) for w in self.words])
        self.bold_widths = np.array([fmb.horizontalAdvance(w) for w in self.words])
        self.height = fm.height()
        self.ascent = fm.ascent()
        self.update()

    def set_positions(self, positions: np.ndarray) -> None:
        self.positions = np.asarray(positions, dtype=np.float64)
        self.prepareGeometryChange()
        self.update()

    def set_emphasis(self, emphasis: dict[int, QColor]) -> None:
        self.emphasis = dict(emphasis)
        self.update()

    # -- QGraphicsItem
    @qt_override(fallback=QRectF)
    def boundingRect(self) -> QRectF:
        vb = self.getViewBox()
        if vb is None:
            return QRectF()
        return vb.viewRect()

    @qt_override
    def viewRangeChanged(self) -> None:
        self.prepareGeometryChange()
        self.update()

    @qt_override(fallback=None)
    def dataBounds(self, ax, frac=1.0, orthoRange=None):
        return None  # the points give the bounds, not the text

    @qt_override(fallback=None)
    def paint(self, p, *args) -> None:
        self.drawn = []
        self.placed = []
        n = len(self.words)
        if not n or len(self.positions) != n or len(self.order) != n:
            return  # words and positions from different networks (between a new vocabulary and its map)
        tr = p.transform()  # data coordinates → device pixels
        area = tr.mapRect(self.boundingRect())
        device = p.device()
        if device is not None:  # the part of the view the picture holds (a view range can be huge)
            area = area.intersected(QRectF(0, 0, device.width(), device.height()))
        if not (area.width() >= 2 and area.height() >= 2):
            return
        x, y = self.positions[:, 0], self.positions[:, 1]
        with np.errstate(all="ignore"):  # any finite coordinates: those off the picture are skipped below
            px = tr.m11() * x + tr.m21() * y + tr.dx()  # (V,)
            py = tr.m12() * x + tr.m22() * y + tr.dy()  # (V,)
        on_map = (np.isfinite(px) & np.isfinite(py) & (px >= area.left()) & (px <= area.right())
                  & (py >= area.top()) & (py <= area.bottom()))  # (V,)
        cell = 2.0
        occupied = np.zeros((int(area.height() / cell) + 2, int(area.width() / cell) + 2), dtype=bool)
        emph = [i for i in self.emphasis if 0 <= i < n]
        rest = [i for i in self.order.tolist() if i not in self.emphasis]
        p.save()
        try:
            p.resetTransform()
            p.setClipRect(area)
            self._place(p, area, px, py, on_map, emph + rest, occupied, cell)
        finally:
            p.restore()

    def _place(self, p, area: QRectF, px, py, on_map, order, occupied, cell: float) -> None:
        """Draw the labels of ``order`` (word indices) whose points are ``on_map``, skipping overlaps."""
        h = self.height

        def cells(x0, y0, w):
            c0 = max(0, int((x0 - area.left()) / cell))
            r0 = max(0, int((y0 - area.top()) / cell))
            return slice(r0, max(r0, int((y0 + h - area.top()) / cell) + 1)), slice(
                c0, max(c0, int((x0 + w - area.left()) / cell) + 1)
            )

        for i in order:
            bold = i in self.emphasis
            w = self.bold_widths[i] if bold else self.widths[i]
            if not on_map[i]:
                continue  # the point is off the map: no orphan label at the edge
            # where the label may go: right of the point, left of it, above, below
            # (emphasised words also a line further up or down, joined by a leader line)
            g = self.gap
            spots = [(px[i] + g, py[i] - h / 2), (px[i] - g - w, py[i] - h / 2),
                     (px[i] - w / 2, py[i] - h - g + 2.0), (px[i] - w / 2, py[i] + g - 2.0)]
            if bold:
                spots += [(px[i] + g + 3, py[i] - 1.5 * h - 2), (px[i] + g + 3, py[i] + h / 2 + 2),
                          (px[i] - g - 3 - w, py[i] - 1.5 * h - 2), (px[i] - g - 3 - w, py[i] + h / 2 + 2)]
            place = None
            for k, (x0, y0) in enumerate(spots if not self.show_all else spots[:1]):
                if self.show_all or not occupied[cells(x0, y0, w)].any():
                    place = (k, x0, y0)
                    break
            if place is None:
                if not bold:
                    continue
                place = (0, *spots[0])  # an emphasised word is always named
            k, x0, y0 = place
            occupied[cells(x0, y0, w)] = True
            if bold:
                if k >= 4:
                    p.setPen(QPen(self.emphasis[i], 1))
                    p.drawLine(QPointF(px[i], py[i]), QPointF(x0 + w / 2, y0 + h / 2))
                p.setPen(Qt.NoPen)
                p.setBrush(QColor(255, 255, 255, 220))
                p.drawRect(QRectF(x0 - 1, y0, w + 2, h))
                p.setFont(self.bold)
                p.setPen(self.emphasis[i])
            else:
                if self.backdrop:
                    p.setPen(Qt.NoPen)
                    p.setBrush(QColor(255, 255, 255, 170))
                    p.drawRect(QRectF(x0 - 1, y0, w + 2, h))
                p.setFont(self.font)
                p.setPen(LABEL_COLOUR)
            p.drawText(QPointF(x0, y0 + self.ascent), self.words[i])
            self.drawn.append(i)
            self.placed.append(QRectF(x0, y0, w, h))


class _TsneWorker(QThread):
    """Runs core.projection.tsne off the window's thread."""

    done = Signal(object, str, int)  # Projection or None, error text, token

    def __init__(self, W: np.ndarray, init, token: int):
        super().__init__()
        self.W, self.init, self.token = W, init, token

    @qt_override(fallback=None)
    def run(self) -> None:
        try:
            result, error = projection.tsne(self.W, seed=0, init=self.init), ""
        except ExplorerError as err:
            result, error = None, str(err)
        except Exception as err:  # scikit-learn's own failures: reported, never raised into Qt
            result, error = None, f"t-SNE failed: {err}"
        self.done.emit(result, error, self.token)


def _completer(words, parent) -> QCompleter:
    c = QCompleter(list(words), parent)
    c.setCaseSensitivity(Qt.CaseInsensitive)
    c.setFilterMode(Qt.MatchStartsWith)
    c.setCompletionMode(QCompleter.PopupCompletion)
    c.setMaxVisibleItems(12)
    return c


def unknown_word_html(err: UnknownWordError) -> str:
    """"'dya' is not in the vocabulary. Did you mean day, say?" with the suggestions as links."""
    links = ", ".join(f"<a href='{html.escape(s)}'>{html.escape(s)}</a>" for s in err.suggestions)
    text = f"'{html.escape(err.word)}' is not in the vocabulary."
    return text + (f" Did you mean {links}?" if links else "")


class EmbeddingMapView(QWidget):
    """Word vectors projected to 2-D with labels, search, nearest words and word distances."""

    # The map was redrawn from the current weights.
    refreshed = Signal()
    # A word was chosen (searched, clicked, or picked from the nearest list).
    word_selected = Signal(str)

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.projection: projection.Projection | None = None
        self.coords = np.zeros((0, 2))  # (V, 2) the positions on the map
        # The chosen word, kept as a word: its row is looked up in the current network whenever it is needed,
        # so a new network or corpus keeps the word if its vocabulary has it and drops it otherwise.
        self._chosen: str | None = None
        self.neighbours: list[tuple[str, float]] = []
        self.last_refresh_seconds = 0.0
        self._stale = True
        self._follow = False  # keep the chosen word centred while training moves it
        self._pair: tuple[str, str] | None = None  # the two words of the distance shown
        self._axis_titles = ("", "")
        self._median_cache: tuple | None = None  # (model id, version, median distance)
        self._token = 0
        self._worker: _TsneWorker | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._refresh_if_stale)
        self._build()
        self._install_vocab()
        session.weights_changed.connect(self._on_weights_changed)
        session.network_changed.connect(self._on_network_changed)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._wait_for_worker)
        self.refresh()

    # ---- construction ---------------------------------------------------------------------
    def _build(self) -> None:
        root = QHBoxLayout(self)
        root.setContentsMargins(4, 4, 4, 4)
        self.splitter = QSplitter(Qt.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        root.addWidget(self.splitter)
        left_widget = QWidget()
        left = QVBoxLayout(left_widget)
        left.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Find"))
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("a word, e.g. day")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setToolTip("Highlight a word, centre the map on it and list its nearest words")
        self.search_edit.returnPressed.connect(self._on_search)
        bar.addWidget(self.search_edit, 1)
        self.method_combo = QComboBox()
        self.method_combo.addItem("PCA", "pca")
        self.method_combo.addItem("t-SNE", "tsne")
        self.method_combo.setToolTip("How the d-dimensional vectors are flattened to 2-D")
        if not projection.tsne_available():
            item = self.method_combo.model().item(1)
            item.setEnabled(False)
            item.setToolTip(projection.TSNE_INSTALL_HINT)
            self.method_combo.setToolTip("PCA (t-SNE: " + projection.TSNE_INSTALL_HINT + ")")
        else:
            self.method_combo.setItemData(1, "t-SNE (scikit-learn): a second or more per map", Qt.ToolTipRole)
        self.method_combo.currentIndexChanged.connect(self._on_method)
        bar.addWidget(self.method_combo)
        self.all_labels_box = QCheckBox("all labels")
        self.all_labels_box.setToolTip("Draw every label even where they overlap (otherwise zoom in to see more)")
        self.all_labels_box.toggled.connect(self._on_all_labels)
        bar.addWidget(self.all_labels_box)
        self.fit_button = QPushButton("Fit")
        self.fit_button.setMaximumWidth(50)
        self.fit_button.setToolTip("Show all words (and follow the map as it grows)")
        self.fit_button.clicked.connect(self.fit)
        bar.addWidget(self.fit_button)
        left.addLayout(bar)
        self.search_message = QLabel()
        self.search_message.setWordWrap(True)
        self.search_message.setStyleSheet("color:#b71c1c")
        self.search_message.linkActivated.connect(lambda w: self.select_word(w, centre=True))
        self.search_message.hide()
        left.addWidget(self.search_message)

        self.ask_save_path = ask_save_path  # the save dialog (tests replace it)
        self.export_action = QAction("Save the embedding map as PNG…", self)
        self.export_action.triggered.connect(self._ask_export)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setMinimumSize(220, 160)
        self.plot.setMenuEnabled(False)
        pi = self.plot.getPlotItem()
        pi.showGrid(x=True, y=True, alpha=0.15)
        pi.hideButtons()
        for ax in ("left", "bottom"):
            pi.getAxis(ax).setPen(pg.mkPen(90, 90, 90))
            pi.getAxis(ax).setTextPen(pg.mkPen(50, 50, 50))
            pi.getAxis(ax).enableAutoSIPrefix(False)  # "(x0.001)" after the title would only confuse
        self.plot.setLabel("bottom", "PC 1")
        self.plot.setLabel("left", "PC 2")
        self.scatter = pg.ScatterPlotItem(
            size=6,
            pen=None,
            brush=pg.mkBrush(*POINT_COLOUR),
            hoverable=True,
            hoverSize=9,
            hoverBrush=pg.mkBrush(200, 30, 30),
            tip=self._tip,
        )
        self.scatter.sigClicked.connect(self._on_point_clicked)
        self.plot.addItem(self.scatter)
        self.marks = pg.ScatterPlotItem(size=11, pxMode=True)  # the chosen word and its neighbours
        self.marks.setZValue(5)
        self.plot.addItem(self.marks)
        self.pair_line = pg.PlotDataItem(pen=pg.mkPen(PAIR_COLOUR, width=1.5, style=Qt.DashLine))
        self.plot.addItem(self.pair_line)
        self.labels = WordLabels([])
        self.labels.setZValue(10)
        self.plot.addItem(self.labels, ignoreBounds=True)
        self.plot.getViewBox().sigRangeChangedManually.connect(self._on_manual_range)
        left.addWidget(self.plot, 1)
        self.status_label = QLabel()
        self.status_label.setStyleSheet("color:#555")
        self.status_label.setWordWrap(True)
        left.addWidget(self.status_label)
        self.splitter.addWidget(left_widget)

        side_widget = QWidget()
        side = QVBoxLayout(side_widget)
        side.setContentsMargins(0, 0, 0, 0)
        near = QGroupBox("Nearest words")
        nl = QVBoxLayout(near)
        r = QHBoxLayout()
        self.nearest_title = QLabel(NEAREST_PROMPT)
        self.nearest_title.setWordWrap(True)
        r.addWidget(self.nearest_title, 1)
        r.addWidget(QLabel("k"))
        self.k_spin = QSpinBox()
        self.k_spin.setRange(1, 50)
        self.k_spin.setValue(10)
        self.k_spin.valueChanged.connect(lambda _k: self._update_nearest())
        r.addWidget(self.k_spin)
        nl.addLayout(r)
        self.nearest_table = QTableWidget(0, 2)
        self.nearest_table.setHorizontalHeaderLabels(["word", "distance"])
        self.nearest_table.verticalHeader().setDefaultSectionSize(20)
        self.nearest_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.nearest_table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.nearest_table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.nearest_table.cellClicked.connect(self._on_nearest_clicked)
        self.nearest_table.setMinimumHeight(90)
        nl.addWidget(self.nearest_table, 1)
        # One line (a wrapped one would overlap the table in a short dock); the whole sentence in its tooltip.
        why = "Euclidean distance in all d dimensions: the 2-D map can put true neighbours apart."
        note = ElidedLabel("Distances in all d dimensions", minimum=60, tip=why)
        note.setStyleSheet("color:#555")
        self.nearest_table.setToolTip(f"Click a word to choose it. {why}")
        nl.addWidget(note)
        side.addWidget(near, 1)

        dist = QGroupBox("Distance between two words")
        dl = QGridLayout(dist)
        self.distance_edits = (QLineEdit(), QLineEdit())
        for col, edit in enumerate(self.distance_edits):
            edit.setPlaceholderText(("first word", "second word")[col])
            edit.textChanged.connect(lambda _t: self._update_distance(report_errors=False))
            edit.returnPressed.connect(lambda: self._update_distance(report_errors=True))
            edit.editingFinished.connect(lambda: self._update_distance(report_errors=True))
        dl.addWidget(self.distance_edits[0], 0, 0)
        dl.addWidget(QLabel("↔"), 0, 1)
        dl.addWidget(self.distance_edits[1], 0, 2)
        self.distance_label = QLabel("Type two words.")
        self.distance_label.setWordWrap(True)
        self.distance_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        dl.addWidget(self.distance_label, 1, 0, 1, 3)
        self.distance_message = QLabel()
        self.distance_message.setWordWrap(True)
        self.distance_message.setStyleSheet("color:#b71c1c")
        self.distance_message.linkActivated.connect(self._on_distance_suggestion)
        self.distance_message.hide()
        dl.addWidget(self.distance_message, 2, 0, 1, 3)
        side.addWidget(dist)
        # (no smaller than its layout asks: squeezed, the wrapped title pushes the table over the note)
        self.splitter.addWidget(side_widget)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setSizes([700, 240])

    def _install_vocab(self) -> None:
        """Words, label item, completers and label priorities for the current network."""
        vocab = self.session.vocab
        counts = np.zeros(len(vocab))
        try:
            train = self.session.corpus.train
            counts = np.bincount(np.asarray(train).ravel(), minlength=len(vocab))[: len(vocab)]
        except (AttributeError, ValueError):
            pass
        order = np.argsort(-counts, kind="stable")  # frequent words get their labels first
        self.labels.set_words(vocab, order)
        self.search_edit.setCompleter(_completer(vocab, self.search_edit))
        self.search_edit.completer().activated.connect(lambda w: self.select_word(w, centre=True))
        for edit in self.distance_edits:
            edit.setCompleter(_completer(vocab, edit))
        self._reference = None  # components of the previous map (sign stability)
        self._tsne_init = None

    # ---- refreshing -------------------------------------------------------------------------
    @property
    def method(self) -> str:
        return self.method_combo.currentData()

    def _on_weights_changed(self) -> None:
        self._stale = True
        self._schedule()

    def _schedule(self) -> None:
        """Refresh when the event loop comes back, and only while the panel is visible."""
        if not self._stale or not on_screen(self) or self._timer.isActive():
            return
        self._timer.start(0)

    def _refresh_if_stale(self) -> None:
        if self._stale and on_screen(self):
            self.refresh()

    @qt_override
    def showEvent(self, event) -> None:
        """Coming into view (the dock shown or its tab raised): bring the map up to date."""
        super().showEvent(event)
        if self._stale and not self._timer.isActive():
            self.refresh()

    # ---- export ---------------------------------------------------------------------------------
    def export_actions(self) -> list[QAction]:
        """For the window's File > Export menu."""
        return [self.export_action]

    def export_png(self, path, width: int | None = None):
        """Write the map to ``path`` (PNG), ``width`` pixels wide (default 1600) at 16:10, to read on a slide.

        The picture is a figure of its own (``export_figure``), not the panel's
        pixels blown up: fonts, markers and labels are sized for the picture.
        """
        figure = self.export_figure(width or EXPORT_SIZE[0])
        try:
            return save_plot_png(figure.getPlotItem(), path, figure.width())
        finally:
            figure.deleteLater()

    def export_figure(self, width: int = EXPORT_SIZE[0]) -> pg.PlotWidget:
        """The map as on screen (same points, view range, labels shown, chosen words), drawn for a picture
        ``width`` pixels wide at 16:10: text and markers scale with the width, the sizes ``EXPORT_STYLE``
        gives at 1600 pixels. Not shown; its ``labels`` is the figure's ``WordLabels``."""
        width = max(200, int(width))
        height = round(width * EXPORT_SIZE[1] / EXPORT_SIZE[0])
        k = width / EXPORT_SIZE[0]
        px = {name: max(1, round(v * k)) for name, v in EXPORT_STYLE.items()}
        figure = pg.PlotWidget(background="w")
        figure.setAttribute(Qt.WA_DontShowOnScreen)
        figure.setMenuEnabled(False)
        figure.resize(width, height)
        pi = figure.getPlotItem()
        pi.hideButtons()
        pi.showGrid(x=True, y=True, alpha=0.15)
        tick_font = QFont()
        tick_font.setPixelSize(px["tick_font"])
        for name in ("bottom", "left"):
            title = self.plot.getPlotItem().getAxis(name).labelText  # as on screen
            axis = pi.getAxis(name)
            axis.setPen(pg.mkPen(90, 90, 90, width=px["line"]))
            axis.setTextPen(pg.mkPen(50, 50, 50))
            axis.enableAutoSIPrefix(False)
            axis.setStyle(tickFont=tick_font, tickLength=-px["tick"], tickTextOffset=px["tick"])
            axis.setLabel(title, **{"font-size": f"{px['label_font']}px", "color": "#323232"})
        pi.getAxis("left").setWidth(px["left_axis"])
        pi.getAxis("bottom").setHeight(px["bottom_axis"])
        coords = self.coords if len(self.coords) == len(self.labels.words) else np.zeros((0, 2))
        marker = px["marker"]
        pi.addItem(pg.ScatterPlotItem(pos=coords, size=marker, pen=None, brush=pg.mkBrush(*POINT_COLOUR)))
        emphasis = {i: c for i, c in self.labels.emphasis.items() if 0 <= i < len(coords)}
        marks = pg.ScatterPlotItem(pxMode=True)
        marks.setData([
            {"pos": coords[i], "brush": pg.mkBrush(c), "pen": pg.mkPen("w", width=px["line"]),
             "size": round(marker * (1.6 if c == SELECTED_COLOUR else 1.3))}
            for i, c in reversed(list(emphasis.items()))  # the chosen word on top
        ])
        marks.setZValue(5)
        pi.addItem(marks)
        x, y = self.pair_line.getData()
        if x is not None and len(x):
            pi.addItem(pg.PlotDataItem(x=x, y=y, pen=pg.mkPen(PAIR_COLOUR, width=px["line"] * 2, style=Qt.DashLine)))
        labels = WordLabels(self.labels.words, self.labels.order, pixel_size=px["word_font"],
                            gap=0.8 * marker + px["tick"] / 2, backdrop=True)
        labels.show_all = self.labels.show_all
        labels.set_positions(coords if len(coords) else np.zeros((len(self.labels.words), 2)))
        labels.set_emphasis(emphasis)
        labels.setZValue(10)
        pi.addItem(labels, ignoreBounds=True)
        figure.labels = labels
        # Lay the figure out at its size now (it is never shown), then give it the panel's view range.
        pi.setGeometry(QRectF(0, 0, width, height))
        pi.layout.activate()
        (x0, x1), (y0, y1) = self.plot.getViewBox().viewRange()
        pi.getViewBox().setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        return figure

    def _ask_export(self) -> None:
        ask_and_save_png(self, "Save the embedding map", "embedding_map.png", self.export_png, self.status_label.setText)

    @Slot()
    def refresh(self) -> None:
        """Project the current word vectors and redraw the map, the nearest list and the distance now."""
        start = time.perf_counter()
        self._stale = False
        W = self.session.model.params["W_emb"]  # (V, d)
        if self.method == "tsne":
            self._start_tsne(W)
        else:
            try:
                proj = projection.pca(W, reference=self._reference)
            except ExplorerError as err:
                self.status_label.setText(str(err))
                return
            self._reference = proj.components
            self._apply(proj)
        self._update_nearest()
        self._update_distance(report_errors=False)
        self.last_refresh_seconds = time.perf_counter() - start

    def _apply(self, proj: projection.Projection) -> None:
        """Move the points and labels to ``proj.coords``."""
        self.projection = proj
        self.coords = proj.coords[:, :2]
        self.scatter.setData(pos=self.coords, data=np.arange(len(self.coords)))
        self.labels.set_positions(self.coords)
        titles = proj.axis_titles()
        if titles != self._axis_titles:  # setting a label re-lays out the axis: only when it changes
            self._axis_titles = titles
            self.plot.setLabel("bottom", titles[0])
            self.plot.setLabel("left", titles[1])
        self._update_marks()
        if self._follow and self.selected is not None:
            self._centre_on(self.selected, keep_span=True)
        W = self.session.model.params["W_emb"]
        where = "t-SNE" if proj.method == "tsne" else "PCA"
        self.status_label.setText(
            f"{len(self.coords)} words · {where} of W_emb ({W.shape[0]}×{W.shape[1]}) after "
            f"{plural(self.session.trainer.step, 'minibatch')} · click a point for its nearest words"
        )
        self.refreshed.emit()

    # -- t-SNE
    def _start_tsne(self, W: np.ndarray) -> None:
        if self._worker is not None:  # one at a time; the newest weights are taken when it ends
            self._stale = True
            return
        self._worker = _TsneWorker(np.array(W, copy=True), self._tsne_init, self._token)
        self._worker.done.connect(self._on_tsne_done)
        self._worker.finished.connect(self._worker.deleteLater)
        self.status_label.setText("Computing t-SNE (a second or more)…")
        self._worker.start()

    def _on_tsne_done(self, proj, error: str, token: int) -> None:
        self._worker = None
        if token != self._token or self.method != "tsne":
            return
        if proj is None:
            self.status_label.setText(error)
            return
        self._tsne_init = proj.coords
        self._apply(proj)
        self._schedule()

    def _wait_for_worker(self) -> None:
        if self._worker is not None:
            self._worker.wait()

    def _on_method(self, _i: int) -> None:
        self._token += 1
        self._follow = False
        self.refresh()
        self.fit()

    # ---- view ----------------------------------------------------------------------------
    @Slot()
    def fit(self) -> None:
        """Show every word, and follow the map as training spreads it out."""
        self._follow = False
        self.plot.getViewBox().enableAutoRange()

    def _on_manual_range(self, *_args) -> None:
        self._follow = False

    def _on_all_labels(self, on: bool) -> None:
        self.labels.show_all = bool(on)
        self.labels.update()

    def _centre_on(self, i: int, keep_span: bool = False) -> None:
        """Centre the map on word ``i``; zoom to a quarter of the whole map unless ``keep_span``."""
        if not 0 <= i < len(self.coords):
            return
        x, y = self.coords[i]
        vb = self.plot.getViewBox()
        if keep_span:
            (x0, x1), (y0, y1) = vb.viewRange()
            sx, sy = x1 - x0, y1 - y0
        else:
            ext = self.coords.max(axis=0) - self.coords.min(axis=0)
            sx, sy = (max(e * 0.3, 1e-9) for e in ext)
        vb.setRange(xRange=(x - sx / 2, x + sx / 2), yRange=(y - sy / 2, y + sy / 2), padding=0)

    @qt_override(fallback=str)
    def _tip(self, x, y, data) -> str:
        vocab = self.session.vocab
        i = int(data) if data is not None else -1
        word = vocab[i] if 0 <= i < len(vocab) else "?"
        return f"{word}   ({x:.3g}, {y:.3g})"

    # ---- choosing a word -------------------------------------------------------------------
    @property
    def selected_word(self) -> str | None:
        """The chosen word, if the current vocabulary has it."""
        return self._chosen if self.selected is not None else None

    @property
    def selected(self) -> int | None:
        """Row of the chosen word in the current network's W_emb (None: no word chosen, or not in this vocabulary)."""
        return None if self._chosen is None else self.session.model.index.get(self._chosen)

    def _on_search(self) -> None:
        text = self.search_edit.text().strip()
        if text:
            self.select_word(text, centre=True)

    @Slot(str)
    def select_word(self, word: str, centre: bool = False) -> bool:
        """Choose ``word``: highlight it, list its nearest words; ``centre`` zooms the map on it.

        An unknown word leaves everything as it was and shows a message with suggestions.
        """
        try:
            i = self.session.model.word_index(word.strip())
        except UnknownWordError as err:
            self.search_message.setText(unknown_word_html(err))
            self.search_message.show()
            return False
        self.search_message.hide()
        self._chosen = self.session.vocab[i]
        if self.search_edit.text().strip().lower() != self.session.vocab[i]:
            self.search_edit.blockSignals(True)
            self.search_edit.setText(self.session.vocab[i])
            self.search_edit.blockSignals(False)
        self._update_nearest()
        if centre:
            self._centre_on(i)
            self._follow = True
        self.word_selected.emit(self.session.vocab[i])
        return True

    def _on_point_clicked(self, _item, points, _ev) -> None:
        if len(points):
            self.select_word(self.session.vocab[int(points[0].data())])

    def _on_nearest_clicked(self, row: int, _col: int) -> None:
        if 0 <= row < len(self.neighbours):
            self.select_word(self.neighbours[row][0], centre=True)

    def _update_nearest(self) -> None:
        """The k nearest words to the chosen one (core's ``nearest``), in the table and on the map."""
        model = self.session.model
        if self.selected is None:
            self.neighbours = []
            self.nearest_table.setRowCount(0)
            if self._chosen is None:
                self.nearest_title.setText(NEAREST_PROMPT)
            else:  # chosen in another vocabulary
                self.nearest_title.setText(
                    f"'{html.escape(self._chosen)}' is not in this vocabulary. {NEAREST_PROMPT}"
                )
            self._update_marks()
            return
        word = self._chosen
        self.neighbours = model.nearest(word, self.k_spin.value())
        self.nearest_title.setText(f"Nearest to <b style='color:{SELECTED_COLOUR.name()}'>{html.escape(word)}</b>")
        self.nearest_table.setRowCount(len(self.neighbours))
        for r, (w, dist) in enumerate(self.neighbours):
            a = QTableWidgetItem(w)
            a.setForeground(NEIGHBOUR_COLOUR.darker(120))
            b = QTableWidgetItem(decimals(dist))
            b.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            self.nearest_table.setItem(r, 0, a)
            self.nearest_table.setItem(r, 1, b)
        self._update_marks()

    def _update_marks(self) -> None:
        """Rings on the chosen word and its neighbours; bold labels for them and for the distance pair."""
        emphasis: dict[int, QColor] = {}  # in order of label priority
        spots = []
        index = self.session.model.index
        pair = [index.get(w) for w in self._pair or ()]
        pair = pair if len(pair) == 2 and None not in pair else []
        if len(self.coords) == self.session.model.vocab_size:
            chosen = self.selected
            if chosen is not None:
                emphasis[chosen] = SELECTED_COLOUR
            for i in pair:
                emphasis.setdefault(i, PAIR_COLOUR)
            for w, _ in self.neighbours:
                i = index.get(w)
                if i is None:  # listed for another network's vocabulary: the list is redone with the map
                    continue
                emphasis.setdefault(i, NEIGHBOUR_COLOUR)
                spots.append({"pos": self.coords[i], "brush": NEIGHBOUR_BRUSH, "pen": None, "size": 8})
            if chosen is not None:
                spots.append({"pos": self.coords[chosen], "brush": SELECTED_BRUSH, "pen": SELECTED_PEN, "size": 12})
        if pair and len(self.coords) == self.session.model.vocab_size:
            self.pair_line.setData(x=self.coords[pair, 0], y=self.coords[pair, 1])
        else:
            self.pair_line.setData([], [])
        self.marks.setData(spots)
        self.labels.set_emphasis(emphasis)

    # ---- distance --------------------------------------------------------------------------
    def _on_distance_suggestion(self, word: str) -> None:
        """A suggested word was clicked: put it in the box that held the unknown word."""
        model = self.session.model
        for edit in self.distance_edits:
            if edit.text().strip() and edit.text().strip().lower() not in model.index:
                edit.setText(word)
                break
        self._update_distance(report_errors=True)

    def _update_distance(self, report_errors: bool) -> None:
        model = self.session.model
        words = [e.text().strip() for e in self.distance_edits]
        self._pair = None
        if not all(words):
            self.distance_message.hide()
            self.distance_label.setText("Type two words.")
            self._update_marks()
            return
        if not report_errors and not all(w.lower() in model.index for w in words):
            self.distance_label.setText("—")  # still typing, or an unknown word already reported
            self._update_marks()
            return
        try:
            d = model.distance(words[0], words[1])
        except UnknownWordError as err:
            if report_errors:
                self.distance_message.setText(unknown_word_html(err))
                self.distance_message.show()
            self.distance_label.setText("—")
            self._update_marks()
            return
        self.distance_message.hide()
        a, b = model.word_index(words[0]), model.word_index(words[1])
        self._pair = (model.vocab[a], model.vocab[b])
        self.distance_label.setText(
            f"distance(<b>{html.escape(model.vocab[a])}</b>, <b>{html.escape(model.vocab[b])}</b>) = "
            f"<b style='color:{PAIR_COLOUR.name()}'>{decimals(d)}</b><br>"
            f"<span style='color:#555'>typical distance between two words: {decimals(self.median_distance())} "
            f"(median over all pairs)</span>"
        )
        self._update_marks()

    def median_distance(self) -> float:
        """Median Euclidean distance over all pairs of word vectors (a scale for the distances shown)."""
        model = self.session.model
        key = (id(model), model.version)
        if self._median_cache is not None and self._median_cache[:2] == key:
            return self._median_cache[2]
        W = np.asarray(model.params["W_emb"], dtype=np.float64)  # (V, d)
        # Measured on W / 2**e with entries below 2 in size, then scaled back: vectors of any finite size
        # (a checkpoint can hold 1e300) give their distance, not an overflow.
        top = float(np.abs(W).max()) if W.size else 0.0
        e = math.frexp(top)[1] if 0.0 < top < math.inf else 0
        W = np.ldexp(W, -e)
        sq = (W * W).sum(axis=1)
        d2 = sq[:, None] + sq[None, :] - 2.0 * (W @ W.T)  # (V, V)
        iu = np.triu_indices(len(W), k=1)
        median = float(np.median(np.sqrt(np.maximum(d2[iu], 0.0)))) if len(iu[0]) else 0.0
        with np.errstate(over="ignore"):
            median = float(np.ldexp(median, e))  # inf when the distance itself is beyond float range
        self._median_cache = (*key, median)
        return median

    # ---- a new network ---------------------------------------------------------------------
    def _on_network_changed(self) -> None:
        """New words, new vectors: the chosen word stays if the new vocabulary has it, the map is redrawn."""
        self._token += 1
        self.neighbours = []
        self._pair = None
        self.coords = np.zeros((0, 2))
        self.scatter.setData(pos=self.coords)
        self._install_vocab()  # a chosen word the new vocabulary lacks is named so beside the empty list
        self.search_message.hide()
        self.distance_message.hide()
        self.refresh()
        self.fit()


__all__ = ["EmbeddingMapView", "WordLabels", "unknown_word_html"]
