"""A heatmap of one array, with axes that say what the rows and columns are.

``Heatmap`` shows a 1-D or 2-D NumPy array as coloured cells on a pyqtgraph
plot (one ``ImageItem``, created once; every update is a ``setImage`` with
fixed levels) with a colour bar, and word-index arrays (the contexts ``x``
and targets ``t``) as a small table of words instead.

* **Axes** are named after the arrays' specs (``model.specs[name].axes``):
  "example n", "hidden unit j", "word" (tick labels are the words themselves, thinned to what fits and all
  of them once zoomed in), "embedding component i", and the columns of ``e``
  as "x₂·7" (position 2, component 7) with lines between the three blocks.
* **Colours keep their meaning** from step to step: signed arrays use a
  diverging map with symmetric levels ±m (white is 0), activations and
  probabilities a sequential one. The levels of each array name are set the
  first time it is shown and afterwards only grow, until ``rescale()`` fits
  them to the array on screen.
* **Hover** shows the row, the column (with the word where there is one) and
  the value to 6 significant digits; a click emits ``entry_clicked(row, col)``.
* NaN and ±inf are never drawn as numbers: they are painted magenta on top
  of the image, left out of the colour scale and named in the hover text.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGraphicsItem,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

import explorer.widgets  # noqa: F401  (configures pyqtgraph once)
from core.model import CONTEXT
from core.specs import axis_title, column_text, format_value
from core.text import plural

from ..guard import qt_override

__all__ = ["Heatmap", "AxisLabeller", "IndexAxis", "format_value"]

# Diverging: dark blue (−m) – pure white (0) – dark red (+m), the ColorBrewer RdBu colours.
DIVERGING = pg.ColorMap(
    pos=[0.0, 0.25, 0.5, 0.75, 1.0],
    color=[(5, 48, 97), (67, 147, 195), (255, 255, 255), (214, 96, 77), (103, 0, 31)],
    name="diverging",
)
SEQUENTIAL = pg.colormap.get("viridis")  # dark violet (low) – yellow (high)
NONFINITE_RGBA = (255, 0, 255, 255)  # magenta: a NaN or ±inf entry

_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_NUMBER_STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000)
_WORD_STEPS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 75, 100, 150, 200, 250, 500, 1000)

# Colour levels the colour bar can draw: its ticks are computed from the levels' width, which overflows
# beyond about ±9e307 and underflows to a zero tick spacing below about 1e-290. Values past the limit
# take the end colours (the hover still tells their value).
LEVEL_LIMIT = 1e300
LEVEL_MIN_WIDTH = 1e-300


def _drawable(levels: tuple[float, float]) -> tuple[float, float]:
    """``levels`` (low < high) within ±LEVEL_LIMIT and at least LEVEL_MIN_WIDTH wide; symmetric ones stay so."""
    lo, hi = max(levels[0], -LEVEL_LIMIT), min(levels[1], LEVEL_LIMIT)
    if hi - lo < LEVEL_MIN_WIDTH:
        if lo == -hi:
            lo, hi = -LEVEL_MIN_WIDTH / 2, LEVEL_MIN_WIDTH / 2
        else:
            hi = lo + LEVEL_MIN_WIDTH
    return (float(lo), float(hi))


class AxisLabeller:
    """How one axis of an array names its indices (short tick text, long hover text, title).

    ``axis`` is one of the axis names of ``core.specs`` (a spec's ``axes``), ``"strip"`` (the
    single row of a 1-D array, labelled ``names[0]``) or None (plain numbers).
    """

    def __init__(self, axis: str | None, count: int, names: list[str] | None = None):
        self.axis = axis
        self.count = int(count)
        self.names = list(names) if names is not None and len(names) >= self.count else None
        # The columns of e (and rows of W_h) are three blocks of d, one per context position.
        self.block = self.count // CONTEXT if axis == "concat" and self.count % CONTEXT == 0 and self.count else None

    def title(self) -> str:
        return "" if self.axis in (None, "strip") else axis_title(self.axis)

    def word(self, i: int) -> str | None:
        """The word at index i of a word axis (None elsewhere)."""
        if self.axis == "word" and self.names is not None and 0 <= i < len(self.names):
            return self.names[i]
        return None

    def short(self, i: int) -> str:
        if self.axis == "strip":
            return self.names[0] if self.names else ""
        if self.axis == "word" and self.names is not None:
            return self.names[i]
        if self.axis == "position":
            return f"x{i + 1}".translate(_SUB)
        if self.axis == "concat" and self.block:
            k, c = divmod(i, self.block)
            return f"x{k + 1}".translate(_SUB) + f"·{c}"
        return str(i)

    def long(self, i: int) -> str:
        a = self.axis
        if a == "strip":
            return ""
        if a == "example":
            return f"example {i}"
        if a == "unit":
            return f"unit {i}"
        if a == "embed":
            return f"component {i}"
        if a == "position":
            return f"position {i + 1} (" + f"x{i + 1}".translate(_SUB) + ")"
        if a == "word":
            w = self.word(i)
            return f"word '{w}' (#{i})" if w is not None else f"word #{i}"
        if a == "concat" and self.block:
            return f"{column_text(i, self.block)} (column {i})"
        return f"index {i}"

    def steps(self) -> tuple[int, ...]:
        """Tick spacings allowed on this axis, smallest first."""
        if self.block:
            divisors = tuple(s for s in range(1, self.block + 1) if self.block % s == 0)
            return divisors + (self.block * CONTEXT,)
        return _WORD_STEPS if self.axis == "word" else _NUMBER_STEPS


_WIDTHS: dict[tuple, np.ndarray] = {}  # label widths by labels and font (see label_widths)
_WIDTHS_KEPT = 32


def label_widths(labeller: AxisLabeller, font: QFont) -> np.ndarray:
    """(count,) pixel widths of the labeller's tick labels in ``font``.

    Measuring a label is a call into Qt: thousands of them (a 5,000-word
    vocabulary) take tens of milliseconds, and every stage shows another
    array along the same axes. The widths are kept by what determines them:
    the axis kind, the count, the block size, the words (for a word axis)
    and the font.
    """
    words = tuple(labeller.names[: labeller.count]) if labeller.axis in ("word", "strip") and labeller.names else None
    key = (labeller.axis, labeller.count, labeller.block, words, font.key())
    widths = _WIDTHS.get(key)
    if widths is None:
        fm = QFontMetrics(font)
        n = labeller.count
        widths = np.fromiter((fm.horizontalAdvance(labeller.short(i)) for i in range(n)), dtype=np.int64, count=n)
        if len(_WIDTHS) >= _WIDTHS_KEPT:
            _WIDTHS.clear()
        _WIDTHS[key] = widths
    return widths


class IndexAxis(pg.AxisItem):
    """An axis with one tick per cell (at its centre), labelled by an ``AxisLabeller``.

    Every k-th cell is labelled, with k the smallest allowed step at which the
    labels do not overlap at the current zoom; zoomed in far enough, every
    cell is (so a word axis shows every word).
    """

    def __init__(self, orientation: str):
        super().__init__(orientation)
        self.labeller = AxisLabeller(None, 0)
        self._widths: np.ndarray | None = None
        self.setStyle(textFillLimits=[(0, 1.01)], autoExpandTextSpace=False, autoReduceTextSpace=False)

    def set_labeller(self, labeller: AxisLabeller) -> None:
        """New labels; the axis makes room for its longest label now, not after a first paint."""
        self.labeller = labeller
        self._widths = None
        title = labeller.title()
        if title:
            self.setLabel(title)
        else:
            self.showLabel(False)
        fm = self._metrics()
        if self.orientation in ("left", "right"):
            widest = self._label_widths().max(initial=0)
            self.setStyle(tickTextWidth=int(widest) + 2)
        else:
            self.setStyle(tickTextHeight=int(fm.height()))
        self.picture = None
        self.update()

    def _metrics(self) -> QFontMetrics:
        return QFontMetrics(self.style["tickFont"] or QFont())

    def _label_extent(self, lo: int, hi: int) -> float:
        """Pixels one label needs along the axis (height for a vertical axis, width for a horizontal one)."""
        if self.orientation in ("left", "right"):
            return self._metrics().height() + 1
        return float(self._label_widths()[lo : hi + 1].max(initial=0)) + 10

    def _label_widths(self) -> np.ndarray:
        """(count,) the pixel width of every tick label (measured once per labels and font, see ``label_widths``)."""
        if self._widths is None:
            self._widths = label_widths(self.labeller, self.style["tickFont"] or QFont())
        return self._widths

    def tick_step(self, minVal: float, maxVal: float, size: float) -> int:
        """The label step (1 = every cell) used for this view range and axis length in pixels."""
        minVal, maxVal = sorted((minVal, maxVal))
        lo, hi = self._visible(minVal, maxVal)
        if hi < lo or size <= 0 or maxVal <= minVal:
            return 1
        per_cell = size / (maxVal - minVal)
        need = self._label_extent(lo, hi)
        for step in self.labeller.steps():
            if step * per_cell >= need:
                return step
        return self.labeller.steps()[-1]

    def _visible(self, minVal: float, maxVal: float) -> tuple[int, int]:
        lo = max(0, math.floor(minVal))
        hi = min(self.labeller.count - 1, math.ceil(maxVal) - 1)
        return lo, hi

    @qt_override
    def tickValues(self, minVal, maxVal, size):
        minVal, maxVal = sorted((minVal, maxVal))
        if self.labeller.count == 0:
            return []
        lo, hi = self._visible(minVal, maxVal)
        if hi < lo:
            return []
        step = self.tick_step(minVal, maxVal, size)
        first = math.ceil(lo / step) * step
        values = [i + 0.5 for i in range(first, hi + 1, step) if minVal <= i + 0.5 <= maxVal]
        return [(float(step), values)]

    @qt_override
    def tickStrings(self, values, scale, spacing):
        return [self.labeller.short(int(math.floor(v))) for v in values]

    def visible_labels(self) -> list[str]:
        """The tick labels this axis draws at its current range and size (for tests and scripts)."""
        size = self.geometry().height() if self.orientation in ("left", "right") else self.geometry().width()
        levels = self.tickValues(self.range[0], self.range[1], size)
        return [s for spacing, vals in levels for s in self.tickStrings(vals, 1.0, spacing)]


class _ZoomControl(QWidget):
    """'Rows: [all ▾] [from 0]': how many rows (or columns) to show and the first one."""

    def __init__(self, what: str, on_change, parent=None):
        super().__init__(parent)
        self.what = what
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(3)
        self.count = QComboBox()
        self.count.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.count.setToolTip(f"How many {what} to show at once")
        self.start = QSpinBox()
        self.start.setToolTip(f"The first {what[:-1]} shown")
        self.start.setKeyboardTracking(False)
        self.start.setPrefix("from ")
        lay.addWidget(QLabel(what.capitalize() + ":"))
        lay.addWidget(self.count)
        lay.addWidget(self.start)
        self.count.activated.connect(lambda _i: on_change())
        self.start.valueChanged.connect(lambda _v: on_change())

    def configure(self, total: int) -> None:
        self.count.blockSignals(True)
        self.start.blockSignals(True)
        self.count.clear()
        self.count.addItem(f"all {total}", total)
        for k in (10, 20, 50, 100):
            if k < total:
                self.count.addItem(str(k), k)
        self.start.setRange(0, max(0, total - 1))
        self.start.setValue(0)
        self.setEnabled(total > 1)
        self.count.blockSignals(False)
        self.start.blockSignals(False)

    def shown_range(self) -> tuple[int, int]:
        """(first index, how many) chosen in the two boxes."""
        return int(self.start.value()), int(self.count.currentData() or 1)

    def follow(self, first: int, shown: float, total: int) -> None:
        """Reflect a zoom or pan done with the mouse without moving the view again."""
        self.start.blockSignals(True)
        self.start.setValue(max(0, min(first, total - 1)))
        self.start.blockSignals(False)
        if shown >= total - 0.5:
            self.count.setCurrentIndex(0)


class Heatmap(QWidget):
    """One array as a heatmap (or, for word indices, a table of words); see the module docstring."""

    # (row, column) of a clicked cell of the image (or the table).
    entry_clicked = Signal(int, int)
    # (row, column) under the pointer; (-1, -1) when it leaves the array.
    hovered = Signal(int, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._source: np.ndarray | None = None  # the array as given to set_data
        self._image: np.ndarray | None = None  # the 2-D float array given to the ImageItem
        self._nonfinite: np.ndarray | None = None  # boolean mask, or None when all entries are finite
        self._name: str | None = None
        self._kind = "signed"
        self._strip = False  # a 1-D array drawn as one row
        self._table_1d = False
        self._levels: tuple[float, float] = (-1.0, 1.0)
        self._memory: dict[str, tuple[float, float]] = {}
        self._natural: tuple[float, float] | None = None
        self._geometry = None
        self._hover: tuple[int, int] | None = None
        self._index_words: list[str] | None = None  # names of the word indices in a table
        self.row_labeller = AxisLabeller(None, 0)
        self.col_labeller = AxisLabeller(None, 0)

        # -- controls: slice of rows / columns, fit, rescale
        self.rows_control = _ZoomControl("rows", self._apply_rows)
        self.cols_control = _ZoomControl("columns", self._apply_cols)
        self.fit_button = QPushButton("Fit")
        self.fit_button.setToolTip("Show the whole array")
        self.fit_button.clicked.connect(self.fit)
        self.rescale_button = QPushButton("Rescale colours")
        self.rescale_button.setToolTip(
            "Fit the colour scale to the array shown now. Otherwise the scale of each array is kept from "
            "step to step (it only grows), so that a colour always means the same number."
        )
        self.rescale_button.clicked.connect(self.rescale)
        self.controls = QWidget()  # hidden while a table of words is shown
        controls = QHBoxLayout(self.controls)
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(self.rows_control)
        controls.addSpacing(8)
        controls.addWidget(self.cols_control)
        controls.addStretch(1)
        controls.addWidget(self.fit_button)
        controls.addWidget(self.rescale_button)

        # -- the plot: one ImageItem, a mask for non-finite entries, a colour bar
        self.left_axis = IndexAxis("left")
        self.bottom_axis = IndexAxis("bottom")
        self.plot_widget = pg.PlotWidget(axisItems={"left": self.left_axis, "bottom": self.bottom_axis})
        self.plot_widget.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.plot_item = self.plot_widget.getPlotItem()
        self.plot_item.hideButtons()
        self.view_box = self.plot_item.getViewBox()
        self.view_box.invertY(True)
        self.view_box.setMenuEnabled(False)
        self.view_box.setDefaultPadding(0.0)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.plot_item.addItem(self.image_item)
        self._mask_item = pg.ImageItem(axisOrder="row-major")
        self._mask_item.setZValue(5)
        self.plot_item.addItem(self._mask_item)
        self._mask_item.hide()
        self.color_bar = pg.ColorBarItem(
            values=(-1.0, 1.0), colorMap=DIVERGING, interactive=False, width=14, colorMapMenu=False
        )
        self.color_bar.setImageItem(self.image_item, insert_in=self.plot_item)
        # Axes are drawn into pixmaps, redrawn only when their range, labels or size change:
        # a new image under unchanged axes then costs a blit instead of laying out text again.
        bar_axes = [a["item"] for a in self.color_bar.axes.values()]
        for axis in [self.left_axis, self.bottom_axis, *bar_axes]:
            axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.color_bar.axis.setWidth(62)
        self._cmap = DIVERGING
        self._marker = QGraphicsRectItem(QRectF(0, 0, 1, 1))
        pen = QPen(QColor(255, 220, 0))
        pen.setCosmetic(True)
        pen.setWidth(2)
        self._marker.setPen(pen)
        self._marker.setZValue(10)
        self.plot_item.addItem(self._marker)
        self._marker.hide()
        self._separators: list[pg.InfiniteLine] = []
        for _ in range(2 * (CONTEXT - 1)):
            line = pg.InfiniteLine(angle=90, pen=pg.mkPen((0, 0, 0), width=2))
            line.setZValue(6)
            line.hide()
            self.plot_item.addItem(line)
            self._separators.append(line)

        # -- the table, for word indices
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setMouseTracking(True)
        self.table.cellEntered.connect(lambda r, c: self._set_hover((r, c)))
        self.table.cellClicked.connect(self._table_clicked)

        self.stack = QStackedWidget()
        self.stack.addWidget(self.plot_widget)
        self.stack.addWidget(self.table)

        self.readout = QLabel()
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.readout.setWordWrap(True)
        self.note = QLabel()
        self.note.setStyleSheet("color: #b00060;")
        self.note.setWordWrap(True)
        self.note.hide()

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(3)
        lay.addWidget(self.controls)
        lay.addWidget(self.stack, 1)
        lay.addWidget(self.note)
        lay.addWidget(self.readout)
        self._hint()

        scene = self.plot_widget.scene()
        scene.sigMouseMoved.connect(self._on_mouse_moved)
        scene.sigMouseClicked.connect(self._on_mouse_clicked)
        self.view_box.sigRangeChanged.connect(self._on_range_changed)

    # ---- what is shown ---------------------------------------------------------------------
    @property
    def name(self) -> str | None:
        return self._name

    @property
    def data(self) -> np.ndarray | None:
        """The array last given to ``set_data``, unchanged."""
        return self._source

    @property
    def image_data(self) -> np.ndarray | None:
        """The 2-D array given to the ImageItem (None while a table of words is shown)."""
        return self._image

    @property
    def showing_table(self) -> bool:
        return self.stack.currentWidget() is self.table

    def levels(self) -> tuple[float, float]:
        """The colour levels (low, high) in use."""
        return self._levels

    def scale_fraction(self) -> float:
        """How much of the colour scale the finite values on screen reach (1.0: all of it)."""
        if self._image is None:
            return 1.0
        values = self._image if self._nonfinite is None else self._image[~self._nonfinite]
        lo, hi = self._levels
        if not values.size or hi <= lo:
            return 1.0
        if self._kind == "signed":
            return float(max(-values.min(), values.max()) / hi)  # the largest |value|, without an |array| copy
        return float((values.max() - lo) / (hi - lo))

    def remembered_levels(self, name: str) -> tuple[float, float] | None:
        return self._memory.get(name)

    def forget_levels(self) -> None:
        """Drop every remembered scale (a new network: the numbers mean something else)."""
        self._memory.clear()

    def set_data(
        self,
        array,
        *,
        row_axis: str | None = None,
        col_axis: str | None = None,
        kind: str = "signed",
        labels: dict[str, list[str]] | None = None,
        name: str | None = None,
        levels: tuple[float, float] | None = None,
    ) -> None:
        """Show ``array`` (0-, 1- or 2-D).

        ``row_axis``/``col_axis`` name the axes (a spec's ``axes``, core/specs.py); a 1-D
        array is drawn as one row along its only axis (give it as either).
        ``kind`` is "signed" (diverging colours, levels ±m), "activation" or
        "probability" (sequential colours from 0) or "index" (word indices,
        shown as a table of words). ``labels`` maps axis names to names for
        the indices (``{"word": vocabulary}``). ``name`` keys the remembered
        colour levels; ``levels`` is the natural range to start from (e.g.
        (0, 1) for a probability), widened if the data goes beyond it.
        """
        a = np.asarray(array)
        if a.ndim > 2:
            raise ValueError(f"a heatmap shows 1-D or 2-D arrays, got shape {a.shape}")
        labels = labels or {}
        self._source = a
        self._name = name
        self._kind = kind
        self._natural = levels
        self._index_words = labels.get("word")
        self._strip = a.ndim < 2
        if a.ndim < 2:
            along = col_axis if col_axis is not None else row_axis
            n = a.size
            self.row_labeller = AxisLabeller("strip", 1, [name or ""])
            self.col_labeller = AxisLabeller(along, n, labels.get(along))
        else:
            self.row_labeller = AxisLabeller(row_axis, a.shape[0], labels.get(row_axis))
            self.col_labeller = AxisLabeller(col_axis, a.shape[1], labels.get(col_axis))
        self._marker.hide()
        if a.size == 0:  # nothing to draw
            self.stack.setCurrentWidget(self.table)
            self.controls.hide()
            self.table.clear()
            self.table.setRowCount(0)
            self.table.setColumnCount(0)
            self._image = None
            self._hover = None
            self.readout.setText(f"{name or 'This array'} is empty (shape {a.shape}).")
            return
        if kind == "index":
            self._show_table(a, labels)
        else:
            self._show_image(a)
        self._refresh_hover()

    def _show_image(self, a: np.ndarray) -> None:
        self.stack.setCurrentWidget(self.plot_widget)
        self.controls.show()
        grid = a.reshape(1, -1) if a.ndim < 2 else a  # (rows, cols)
        if grid.dtype.kind not in "f":
            grid = grid.astype(np.float64)
        finite = np.isfinite(grid)
        if finite.all():
            image, self._nonfinite = grid, None
            finite_values = grid
        else:
            self._nonfinite = ~finite
            finite_values = grid[finite]
            image = np.where(finite, grid, 0.0)
        self._image = image
        self._levels = self._choose_levels(finite_values, rescale=False)
        cmap = DIVERGING if self._kind == "signed" else SEQUENTIAL
        if cmap is not self._cmap:
            self.color_bar.setColorMap(cmap)
            self._cmap = cmap
        self.image_item.setImage(image, autoLevels=False, levels=self._levels)
        if tuple(self.color_bar.levels()) != self._levels:  # redrawing the bar's axis costs: only on a change
            self.color_bar.setLevels(self._levels)
        self._show_nonfinite(image.shape)
        rows, cols = image.shape
        geometry = (
            rows, cols, self.row_labeller.axis, self.col_labeller.axis,
            self.row_labeller.names, self.col_labeller.names,  # a new vocabulary of the same size
        )
        if geometry != self._geometry:
            self._geometry = geometry
            self._set_axes(rows, cols)

    def _set_axes(self, rows: int, cols: int) -> None:
        """New shape or axes: labels, limits, separators, zoom controls, and fit the whole array."""
        self.left_axis.set_labeller(self.row_labeller)
        self.bottom_axis.set_labeller(self.col_labeller)
        self.view_box.setLimits(
            xMin=0, xMax=cols, yMin=0, yMax=rows,
            minXRange=min(cols, 2), minYRange=min(rows, 1), maxXRange=cols, maxYRange=rows,
        )
        # Lines between the three blocks of e's columns (or W_h's rows).
        for line in self._separators:
            line.hide()
        i = 0
        for labeller, angle in ((self.col_labeller, 90), (self.row_labeller, 0)):
            if labeller.block:
                for k in range(1, CONTEXT):
                    line = self._separators[i]
                    line.setAngle(angle)
                    line.setPos(k * labeller.block)
                    line.show()
                    i += 1
        self.rows_control.configure(1 if self._strip else rows)
        self.cols_control.configure(cols)
        self.fit()

    def _show_nonfinite(self, shape) -> None:
        if self._nonfinite is None:
            self._mask_item.hide()
            self.note.hide()
            return
        rgba = np.zeros(shape + (4,), dtype=np.uint8)
        rgba[self._nonfinite] = NONFINITE_RGBA
        self._mask_item.setImage(rgba, autoLevels=False)
        self._mask_item.show()
        count = int(self._nonfinite.sum())
        self.note.setText(
            f"{count:,} of {plural(self._nonfinite.size, 'entry')} "
            + ("is not a finite number (NaN or ±inf): it is painted magenta and left out of the colour scale."
               if count == 1 else
               "are not finite numbers (NaN or ±inf): they are painted magenta and left out of the colour scale.")
        )
        self.note.show()

    def _show_table(self, a: np.ndarray, labels: dict) -> None:
        """Word indices as words: one row per example, one column per position (or one for a 1-D array)."""
        self.stack.setCurrentWidget(self.table)
        self.controls.hide()
        self._image = None
        self._nonfinite = None
        self.note.hide()
        words = labels.get("word")
        grid = a.reshape(-1, 1) if a.ndim < 2 else a  # (rows, cols)
        self._table_1d = a.ndim < 2
        row_lab = self.col_labeller if self._table_1d else self.row_labeller
        col_lab = self.row_labeller if self._table_1d else self.col_labeller
        self.table.clear()
        self.table.setRowCount(grid.shape[0])
        self.table.setColumnCount(grid.shape[1])
        self.table.setVerticalHeaderLabels([row_lab.short(i) for i in range(grid.shape[0])])
        if self._table_1d:
            heads = [self._name or ""]
        else:
            heads = [col_lab.short(j) for j in range(grid.shape[1])]
        self.table.setHorizontalHeaderLabels(heads)
        for r in range(grid.shape[0]):
            for c in range(grid.shape[1]):
                idx = int(grid[r, c])
                word = words[idx] if words is not None and 0 <= idx < len(words) else f"#{idx}"
                item = QTableWidgetItem(word)
                item.setToolTip(self.describe(r, c))
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        self.rows_control.configure(1)
        self.cols_control.configure(1)
        self._geometry = None

    # ---- colour levels ---------------------------------------------------------------------------
    # (levels are kept within ±LEVEL_LIMIT and at least LEVEL_MIN_WIDTH wide: _drawable)
    def _need(self, values: np.ndarray) -> tuple[float, float]:
        """The levels this data alone asks for."""
        if values.size:
            lo, hi = float(values.min()), float(values.max())
        else:
            lo = hi = 0.0
        if self._kind == "signed":
            m = max(abs(lo), abs(hi))
            return (-m, m)
        return (min(lo, 0.0), hi)

    def _choose_levels(self, values: np.ndarray, *, rescale: bool) -> tuple[float, float]:
        need = self._need(values)
        old = None if (rescale or self._name is None) else self._memory.get(self._name)
        if old is not None:
            base = (min(old[0], need[0]), max(old[1], need[1]))
        elif self._natural is not None and not rescale:
            base = (min(self._natural[0], need[0]), max(self._natural[1], need[1]))
        else:
            base = need
        if not base[1] > base[0]:  # all zero (e.g. biases at the start): nothing to remember yet
            return (-1.0, 1.0) if self._kind == "signed" else (0.0, 1.0)
        base = _drawable(base)
        if self._name is not None:
            self._memory[self._name] = base
        return base

    def rescale(self) -> None:
        """Fit the colour levels of the array on screen to its current values (and remember them)."""
        if self._image is None:
            return
        values = self._image if self._nonfinite is None else self._image[~self._nonfinite]
        self._levels = self._choose_levels(values, rescale=True)
        self.image_item.setLevels(self._levels)
        self.color_bar.setLevels(self._levels)

    # ---- zoom --------------------------------------------------------------------------------
    def _shape(self) -> tuple[int, int]:
        return (0, 0) if self._image is None else self._image.shape

    def fit(self) -> None:
        """Show the whole array."""
        rows, cols = self._shape()
        if rows and cols:
            self.view_box.setRange(xRange=(0, cols), yRange=(0, rows), padding=0)
            self.rows_control.configure(1 if self._strip else rows)
            self.cols_control.configure(cols)

    def show_rows(self, start: int, count: int) -> None:
        """Zoom to rows start .. start+count-1 (clamped to the array)."""
        rows, _ = self._shape()
        if rows:
            count = max(1, min(count, rows))
            start = max(0, min(start, rows - count))
            self.view_box.setYRange(start, start + count, padding=0)

    def show_columns(self, start: int, count: int) -> None:
        """Zoom to columns start .. start+count-1 (clamped to the array)."""
        _, cols = self._shape()
        if cols:
            count = max(1, min(count, cols))
            start = max(0, min(start, cols - count))
            self.view_box.setXRange(start, start + count, padding=0)

    def _apply_rows(self) -> None:
        self.show_rows(*self.rows_control.shown_range())

    def _apply_cols(self) -> None:
        self.show_columns(*self.cols_control.shown_range())

    def _on_range_changed(self, _vb, ranges, *_changed) -> None:
        rows, cols = self._shape()
        if not rows:
            return
        (x0, x1), (y0, y1) = ranges
        if not self._strip:
            self.rows_control.follow(int(math.floor(y0 + 1e-9)), y1 - y0, rows)
        self.cols_control.follow(int(math.floor(x0 + 1e-9)), x1 - x0, cols)

    # ---- hover and click -------------------------------------------------------------------------
    def index_of(self, row: int, col: int) -> tuple[int, ...]:
        """The index into the array given to ``set_data`` of the cell at (row, col)."""
        if self._source is not None and self._source.ndim == 0:
            return ()
        if self._source is not None and self._source.ndim < 2:
            return (row,) if self.showing_table else (col,)
        return (row, col)

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        """The (row, col) of the image cell at view coordinates (x, y), or None outside the array."""
        rows, cols = self._shape()
        c, r = int(math.floor(x)), int(math.floor(y))
        if 0 <= r < rows and 0 <= c < cols:
            return (r, c)
        return None

    def cell_center_in_widget(self, row: int, col: int):
        """Where the centre of cell (row, col) is in the plot widget's viewport (for tests and scripts)."""
        scene_pt = self.view_box.mapViewToScene(pg.Point(col + 0.5, row + 0.5))
        return self.plot_widget.mapFromScene(scene_pt)

    def value_at(self, row: int, col: int) -> float:
        return float(self._source[self.index_of(row, col)])

    def describe(self, row: int, col: int) -> str:
        """What the hover line says about a cell: where it is (with the word) and its value."""
        if self._source is None:
            return ""
        index = self.index_of(row, col)
        if self.showing_table:
            row_lab = self.col_labeller if self._table_1d else self.row_labeller
            col_lab = None if self._table_1d else self.col_labeller
        else:
            row_lab = None if self._strip else self.row_labeller
            col_lab = self.col_labeller
        where = [lab.long(i) for lab, i in ((row_lab, row), (col_lab, col)) if lab is not None]
        head = f"{self._name}[{', '.join(str(i) for i in index)}]" if self._name else str(index)
        raw = self._source[index]
        if self._kind == "index":
            idx = int(raw)
            words = self._index_words
            word = words[idx] if words is not None and 0 <= idx < len(words) else None
            value = f"word '{word}' (#{idx})" if word is not None else f"#{idx}"
        else:
            v = float(raw)
            value = format_value(v)
            if not math.isfinite(v):
                value += " — not a finite number: painted magenta, not part of the colour scale"
        return f"{head}  ·  {'  ·  '.join(where)}  ·  value {value}" if where else f"{head}  ·  value {value}"

    def hover_cell(self, row: int | None, col: int | None = None) -> str:
        """Act as if the pointer were over (row, col) (None: off the array); returns the hover text."""
        self._set_hover(None if row is None else (row, col))
        return self.readout.text()

    def _hint(self) -> None:
        if self._source is None:
            self.readout.setText("")
        elif self.showing_table:
            self.readout.setText("Point at a cell to read it; click it to select it.")
        else:
            self.readout.setText(
                "Point at a cell to read its value. Wheel: zoom · drag: pan · click: select an entry."
            )

    def _set_hover(self, cell: tuple[int, int] | None) -> None:
        if cell == self._hover and cell is not None:
            return
        self._hover = cell
        if cell is None:
            self._hint()
            self.hovered.emit(-1, -1)
        else:
            self.readout.setText(self.describe(*cell))
            self.hovered.emit(*cell)

    def _refresh_hover(self) -> None:
        """New data under a resting pointer: say the new value (or the hint)."""
        cell = self._hover
        rows, cols = self._shape() if not self.showing_table else (self.table.rowCount(), self.table.columnCount())
        self._hover = None
        self._set_hover(cell if cell is not None and cell[0] < rows and cell[1] < cols else None)

    def _on_mouse_moved(self, scene_pos) -> None:
        if self._image is None or not self.view_box.sceneBoundingRect().contains(scene_pos):
            self._set_hover(None)
            return
        p = self.view_box.mapSceneToView(scene_pos)
        self._set_hover(self.cell_at(p.x(), p.y()))

    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._image is None:
            return
        pos = event.scenePos()
        if not self.view_box.sceneBoundingRect().contains(pos):
            return
        p = self.view_box.mapSceneToView(pos)
        cell = self.cell_at(p.x(), p.y())
        if cell is not None:
            self.select_cell(*cell)

    def _table_clicked(self, row: int, col: int) -> None:
        self.entry_clicked.emit(row, col)

    def select_cell(self, row: int, col: int) -> None:
        """Mark cell (row, col) and announce it with ``entry_clicked``."""
        if self.showing_table:
            self.table.setCurrentCell(row, col)
        else:
            self._marker.setRect(QRectF(col, row, 1, 1))
            self._marker.show()
        self.entry_clicked.emit(row, col)

    @qt_override
    def leaveEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self._set_hover(None)
        super().leaveEvent(event)
