"""The embedding gradient as a sum: where every row of dW_emb comes from.

The embedding layer looks up one row of W_emb (V×d) for each of the three
context words of every example, so its gradient ``de`` (N×3d) holds one
d-vector per (example n, position k): the block k of ``de[n]``. Backprop
sends each of those vectors back to the row it was read from, and a word
that occurs several times in the minibatch (in several examples, or twice in
one context) receives the *sum* of all of them -- a scatter-add,
``np.add.at(dW, x, de)``.

At the embedding-gradient stage (and through the update that follows, while
the minibatch's arrays are still current) this panel shows:

* dW_emb as a heatmap, with a marker strip beside the rows: grey for a word
  that occurs once, amber for a word that occurs two or more times (its row
  is a sum);
* the touched words: row, how many times, and where (example n, position k);
* for a selected row, every contribution with its numbers, their sum, the
  row of dW_emb and the computed difference between the two;
* on request, the gradient the overwrite bug would have produced
  (``dW[x] = de``, the stage's ``naive`` array) next to the correct one, with
  the rows that differ marked and the size of the error.

The panel only displays the core's arrays; it never trains anything except
through the session's stepping methods ("Step to the embedding gradient",
"Teaching batch").

Numbering: examples are counted from 0, like the rows of ``x`` and ``de`` in
the matrix view; positions are 1, 2, 3 (the context words x₁ x₂ x₃), like the
column labels of ``e`` and ``de``.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFrame,
    QGraphicsRectItem,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.errors import ExplorerError
from core.model import CONTEXT
from core.repeats import LOOKAHEAD, has_repeat, naive_error, naive_kept, next_repeat, repeated_rows
from core.text import plural

from ..guard import qt_override
from ..widgets.heatmap import DIVERGING, Heatmap, format_value
from ..widgets import on_screen

__all__ = ["EmbeddingGradView"]

STAGE_NAME = "embedding_gradient"  # the stage this panel shows, at every depth (core/stages.py)
TEACHING_BATCH_SIZE = 2
MIN_HEATMAP_HEIGHT = 200  # pixels of the plot, at any window size
MAX_TABLE_CONTRIBUTIONS = 200  # contributions listed in the detail table (all of them are summed)
MAX_VISIBLE_CONTRIBUTIONS = 5  # rows of the contribution table shown before it scrolls

# Marker colours (chosen away from the blue–white–red of the gradient itself).
ONCE_RGB = (150, 150, 150)  # grey: the word occurs once
REPEATED_RGB = (240, 160, 0)  # amber: the word occurs 2+ times, its row is a sum
DIFFERS_RGB = (230, 30, 30)  # red: the naive row differs from the correct one
REPEATED_BG = QColor(255, 236, 190)  # list rows of words that occur 2+ times
SELECTED_RGB = (0, 0, 0)

_SUP = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _x_k(k: int) -> str:
    """'x₁' for position k = 1."""
    return f"x{k}".translate(_SUB)


def _swatch(rgb, text: str) -> str:
    r, g, b = rgb
    return (
        f"<span style='background-color: rgb({r},{g},{b}); color: rgb({r},{g},{b});'>&#9608;&#9608;</span>"
        f"&nbsp;{html.escape(text)}"
    )


def _scale_exponent(values: np.ndarray) -> int:
    """k such that the largest |value| / 10^k lies in [1, 10) (0 for all zeros)."""
    m = float(np.abs(values).max()) if values.size else 0.0
    return math.floor(math.log10(m)) if m > 0 and math.isfinite(m) else 0


def _scaled(v: float, k: int) -> str:
    return f"{v / 10.0**k:+.4f}".replace("-", "−")


class _WrapLabel(QLabel):
    """A word-wrapped label that asks for the height its text needs at its current width.

    A plain QLabel under a splitter can be squeezed to one line, cutting off
    the rest; this one's minimum height follows its text, so the panel keeps
    every sentence visible (the matrices give up the room instead).
    """

    def __init__(self, text: str = "", parent=None, *, rich: bool = True):
        super().__init__(text, parent)
        self.setWordWrap(True)
        if rich:
            self.setTextFormat(Qt.TextFormat.RichText)

    @qt_override
    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        hint = super().minimumSizeHint()
        if self.width() > 0:
            hint.setHeight(max(hint.height(), self.heightForWidth(self.width())))
        return hint

    @qt_override
    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            self.updateGeometry()

    @qt_override
    def setText(self, text: str) -> None:  # noqa: N802 (Qt name)
        super().setText(text)
        self.updateGeometry()


class _MarkerStrip:
    """A narrow column of coloured cells beside a heatmap's rows, one per row, zooming with them.

    It lives in the heatmap's own plot layout (between the image and the colour
    bar), so it always has exactly the image's height, and its vertical range is
    linked to the image's.
    """

    def __init__(self, heatmap: Heatmap, width: int = 14):
        self.view_box = pg.ViewBox(enableMouse=False, enableMenu=False)
        self.view_box.invertY(True)
        self.view_box.setMouseEnabled(False, False)
        self.view_box.setYLink(heatmap.view_box)
        self.view_box.setXRange(0, 1, padding=0)
        layout = heatmap.plot_item.layout
        layout.addItem(self.view_box, 2, 3)
        layout.setColumnFixedWidth(3, width)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view_box.addItem(self.image)
        self.colours = np.zeros((0, 4), dtype=np.uint8)  # (rows, RGBA)

    def set_colours(self, rgba: np.ndarray) -> None:
        """One RGBA colour per row of the heatmap (alpha 0: no mark)."""
        self.colours = np.asarray(rgba, dtype=np.uint8)
        if not len(self.colours):
            self.image.clear()
            return
        self.image.setImage(self.colours.reshape(-1, 1, 4), autoLevels=False)
        self.image.setRect(QRectF(0, 0, 1, len(self.colours)))


def _row_outline(heatmap: Heatmap) -> QGraphicsRectItem:
    """A rectangle around one whole row of ``heatmap`` (the selected word)."""
    item = QGraphicsRectItem(QRectF(0, 0, 1, 1))
    pen = QPen(QColor(*SELECTED_RGB))
    pen.setCosmetic(True)
    pen.setWidth(2)
    item.setPen(pen)
    item.setZValue(12)
    heatmap.plot_item.addItem(item)
    item.hide()
    return item


class _NumberTable(QTableWidget):
    """Rows of d numbers (one per embedding component), shown × 10^k and tinted by value."""

    COLUMN_WIDTH = 74

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setWordWrap(False)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.verticalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.horizontalHeader().setDefaultSectionSize(self.COLUMN_WIDTH)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.setFont(mono)

    def fill(self, rows: list[tuple[str, np.ndarray, dict]], k: int, level: float, header_width: int) -> None:
        """``rows``: (header, vector, style) with style keys "bold", "background", "tint" (bool)."""
        d = len(rows[0][1]) if rows else 0
        self.clear()
        self.setRowCount(len(rows))
        self.setColumnCount(d)
        self.setHorizontalHeaderLabels([f"i={i}" for i in range(d)])
        self.setVerticalHeaderLabels([r[0] for r in rows])
        self.verticalHeader().setFixedWidth(header_width)
        for r, (_head, vec, style) in enumerate(rows):
            colours = None
            if style.get("tint", True) and level > 0:
                pos = np.clip((np.asarray(vec) / level + 1.0) / 2.0, 0.0, 1.0)
                colours = DIVERGING.map(pos, mode="byte")  # (d, 4)
            for i, value in enumerate(vec):
                item = QTableWidgetItem(_scaled(float(value), k))
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                item.setToolTip(format_value(float(value), 12))
                if colours is not None:
                    c = colours[i]
                    # Faded towards white so the numbers stay legible on the darkest colours.
                    item.setBackground(QBrush(QColor(*(int(255 - 0.55 * (255 - ch)) for ch in c[:3]))))
                elif style.get("background") is not None:
                    item.setBackground(QBrush(style["background"]))
                if style.get("bold"):
                    f = item.font()
                    f.setBold(True)
                    item.setFont(f)
                self.setItem(r, i, item)


class EmbeddingGradView(QWidget):
    """See the module docstring. Construct as ``EmbeddingGradView(session)``.

    Signals for the main window:

    * ``row_selected(int)``: the vocabulary row (word index) now explained in
      the detail table (-1 when nothing is).
    * ``entry_clicked(str, object)``: ``("dW_emb", (v, i))`` for a clicked
      entry of the gradient, like the matrix view's, e.g. for the gradient check.

    ``confirm(doing) -> bool`` is asked before the teaching batch discards
    unsaved training (the main window may replace it with its own).
    """

    row_selected = Signal(int)
    entry_clicked = Signal(str, object)

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.confirm = self._confirm_default
        self._stage = None  # the embedding-gradient stage on screen
        self._contrib: dict[int, list[tuple[int, int]]] = {}
        self._rows = np.zeros(0, dtype=int)  # vocabulary row of each heatmap row
        self._selected: int | None = None
        self._shown: list[tuple[str, np.ndarray]] = []
        self._shown_sum: np.ndarray | None = None
        self._shown_row: np.ndarray | None = None
        self._error: dict | None = None
        self._rows_choice = "auto"  # "auto", "all" or "touched"
        self._syncing = False

        # ---- top: what this is, and the actions
        self.header = _WrapLabel()
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.step_button = QPushButton("Step to the embedding gradient")
        self.step_button.setToolTip(
            "Compute the stages of the minibatch up to its embedding gradient (the stage before the update); "
            "from there, the next minibatch's"
        )
        self.step_button.clicked.connect(self.step_to_embedding_gradient)
        self.teach_button = QPushButton(f"Teaching batch (size {TEACHING_BATCH_SIZE}, a repeated word)")
        self.teach_button.setToolTip(
            f"Use minibatches of {TEACHING_BATCH_SIZE} examples (a new network, if the size is different), "
            "train on until a minibatch contains some word twice, and step to its embedding gradient"
        )
        self.teach_button.clicked.connect(self.teaching_batch)
        self.naive_check = QCheckBox("Show the naive update (dW[x] = de)")
        self.naive_check.setToolTip("Show next to the correct gradient what fancy-index assignment would give")
        self.naive_check.toggled.connect(self._on_naive_toggled)
        self.rows_combo = QComboBox()
        self.rows_combo.setToolTip("Show every row of dW_emb, or only the rows of the words in this minibatch")
        self.rows_combo.addItem("all", "all")
        self.rows_combo.addItem("touched only", "touched")
        self.rows_combo.activated.connect(self._on_rows_combo)
        actions = QHBoxLayout()
        actions.addWidget(self.step_button)
        actions.addWidget(self.teach_button)
        actions.addStretch(1)
        options = QHBoxLayout()
        options.addWidget(self.naive_check)
        options.addStretch(1)
        options.addWidget(QLabel("Rows:"))
        options.addWidget(self.rows_combo)
        self.message_label = _WrapLabel(rich=False)
        self.message_label.setStyleSheet("color: #555;")
        self.message_label.hide()

        # ---- page 0: before the stage
        self.intro = QLabel()
        self.intro.setTextFormat(Qt.TextFormat.RichText)
        self.intro.setWordWrap(True)
        self.intro.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.intro.setText(self._intro_text())
        intro_page = QWidget()
        intro_lay = QVBoxLayout(intro_page)
        intro_lay.addWidget(self.intro)
        intro_lay.addStretch(1)

        # ---- page 1: the gradient, the list, the detail
        self.heatmap = Heatmap()
        self.naive_heatmap = Heatmap()
        for hm in (self.heatmap, self.naive_heatmap):
            hm.readout.hide()  # the panel's own readout names the vocabulary row
            hm.hovered.connect(lambda r, c, hm=hm: self._on_hover(hm, r, c))
            hm.entry_clicked.connect(self._on_heatmap_clicked)
            # The colour scale is set here for both matrices together, and 50 columns need no slicing:
            # only the row controls and Fit stay (they move both matrices, which are linked).
            hm.cols_control.hide()
            hm.rescale_button.hide()
            hm.plot_widget.setMinimumHeight(MIN_HEATMAP_HEIGHT)  # the panel scrolls rather than squash it
        # The naive matrix follows the correct one's zoom (they are linked): its own controls stay empty,
        # at the same height, so that the rows of the two matrices line up.
        self.naive_heatmap.rows_control.hide()
        self.naive_heatmap.fit_button.hide()
        self.naive_heatmap.controls.setFixedHeight(self.heatmap.controls.sizeHint().height())
        self.naive_heatmap.view_box.setXLink(self.heatmap.view_box)
        self.naive_heatmap.view_box.setYLink(self.heatmap.view_box)
        self.strip = _MarkerStrip(self.heatmap)
        self.naive_strip = _MarkerStrip(self.naive_heatmap)
        self._outlines = [_row_outline(self.heatmap), _row_outline(self.naive_heatmap)]
        self.correct_title = QLabel("<b>Correct: scatter-add</b> &nbsp;<code>np.add.at(dW, x, de)</code>")
        self.naive_title = QLabel("<b style='color:#a00'>Naive: overwrite</b> &nbsp;<code>dW[x] = de</code>")
        correct_box = QWidget()
        cl = QVBoxLayout(correct_box)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.correct_title)
        cl.addWidget(self.heatmap, 1)
        self.naive_box = QWidget()
        nl = QVBoxLayout(self.naive_box)
        nl.setContentsMargins(0, 0, 0, 0)
        nl.addWidget(self.naive_title)
        nl.addWidget(self.naive_heatmap, 1)
        self.naive_box.hide()
        maps = QHBoxLayout()
        maps.setContentsMargins(0, 0, 0, 0)
        maps.addWidget(correct_box, 1)
        maps.addWidget(self.naive_box, 1)
        self.legend = _WrapLabel()
        self.hover_label = _WrapLabel(rich=False)
        self.hover_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.naive_label = _WrapLabel()
        self.naive_label.setFrameShape(QFrame.Shape.StyledPanel)
        self.naive_label.setStyleSheet("QLabel { background: #fff0f0; color: #222; padding: 4px; }")
        self.naive_label.hide()
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.setSpacing(3)
        ll.addLayout(maps, 1)
        ll.addWidget(self.legend)
        ll.addWidget(self.hover_label)
        ll.addWidget(self.naive_label)

        self.list_title = _WrapLabel()
        self.word_table = QTableWidget()
        self.word_table.setColumnCount(4)
        self.word_table.setHorizontalHeaderLabels(["word", "row v", "times", "where"])
        self.word_table.horizontalHeaderItem(3).setToolTip("Where the word was looked up: example n, position k")
        self.word_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.word_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.word_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.word_table.verticalHeader().hide()
        # The short columns as wide as their contents; the places take the rest and end in "…" when
        # there are more than fit (every place is in the cell's tooltip).
        header = self.word_table.horizontalHeader()
        for c in (0, 1, 2):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        header.setMinimumSectionSize(24)
        self.word_table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.word_table.setWordWrap(False)
        self.word_table.setSortingEnabled(True)
        self.word_table.itemSelectionChanged.connect(self._on_list_selection)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.list_title)
        rl.addWidget(self.word_table, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self._list_box = right
        self._size_columns(False)

        self.detail_title = _WrapLabel()
        self.detail_title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.contrib_table = _NumberTable()
        self.sum_table = _NumberTable()
        self.sum_table.horizontalHeader().hide()
        self.contrib_table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # One horizontal position for both tables: every column stays one component.
        self.sum_table.horizontalScrollBar().valueChanged.connect(self.contrib_table.horizontalScrollBar().setValue)
        self.contrib_table.horizontalScrollBar().valueChanged.connect(self.sum_table.horizontalScrollBar().setValue)
        self.check_label = _WrapLabel()
        detail = QWidget()
        dl = QVBoxLayout(detail)
        dl.setContentsMargins(0, 0, 0, 0)
        dl.setSpacing(0)
        dl.addWidget(self.detail_title)
        dl.addWidget(self.contrib_table)
        dl.addWidget(self.sum_table)
        dl.addSpacing(3)
        dl.addWidget(self.check_label)
        dl.addStretch(1)

        self.vsplit = QSplitter(Qt.Orientation.Vertical)
        self.vsplit.addWidget(self.splitter)
        self.vsplit.addWidget(detail)
        self.vsplit.setStretchFactor(0, 5)
        self.vsplit.setStretchFactor(1, 4)

        self.pages = QStackedWidget()
        self.pages.addWidget(intro_page)
        self.pages.addWidget(self.vsplit)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        lay.addWidget(self.header)
        lay.addLayout(actions)
        lay.addLayout(options)
        lay.addWidget(self.message_label)
        lay.addWidget(self.pages, 1)

        self._behind = False  # the session moved on while the panel was out of sight: catch up when shown
        self._said_at = None  # (stage on screen, its embedding-gradient stage) when the message was said
        session.stage_changed.connect(self._on_stage_changed)
        session.network_changed.connect(self._on_network_changed)
        self._clear()
        self._sync()

    # ---- what is shown (for tests, scripts and the main window) -------------------------------
    @property
    def showing(self) -> bool:
        """True while an embedding gradient is on screen."""
        return self._stage is not None

    @property
    def stage(self):
        """The embedding-gradient stage on screen, or None."""
        return self._stage

    def listed_rows(self) -> dict[int, tuple[int, list[tuple[int, int]]]]:
        """What the list of touched words shows: {row: (times, [(example, position 1..3), ...])}."""
        out = {}
        for r in range(self.word_table.rowCount()):
            item = self.word_table.item(r, 0)
            if item is None:
                continue
            row = int(item.data(Qt.ItemDataRole.UserRole))
            times = int(self.word_table.item(r, 2).data(Qt.ItemDataRole.DisplayRole))
            where = self.word_table.item(r, 3).data(Qt.ItemDataRole.UserRole)
            out[row] = (times, [tuple(p) for p in where])
        return out

    def list_order(self) -> list[int]:
        """The rows of the list, top to bottom."""
        return [int(self.word_table.item(r, 0).data(Qt.ItemDataRole.UserRole)) for r in range(self.word_table.rowCount())]

    def heatmap_rows(self) -> list[int]:
        """The vocabulary row shown in each row of the heatmap."""
        return [int(r) for r in self._rows]

    def marked_rows(self) -> tuple[set[int], set[int]]:
        """(rows marked "touched once", rows marked "touched 2+ times"), read from the marker strip."""
        once, many = set(), set()
        for i, c in enumerate(self.strip.colours):
            if c[3] == 0:
                continue
            if tuple(c[:3]) == ONCE_RGB:
                once.add(int(self._rows[i]))
            elif tuple(c[:3]) == REPEATED_RGB:
                many.add(int(self._rows[i]))
        return once, many

    def shown_gradient(self) -> np.ndarray | None:
        """The matrix in the correct heatmap (the rows of ``heatmap_rows()``)."""
        return self.heatmap.data if self.showing else None

    def naive_shown(self) -> bool:
        return self.naive_check.isChecked() and self.showing

    def shown_naive(self) -> np.ndarray | None:
        """The matrix in the naive heatmap (None while it is hidden)."""
        return self.naive_heatmap.data if self.naive_shown() else None

    def differing_rows(self) -> set[int]:
        """The rows marked as different in the naive heatmap's strip."""
        if not self.naive_shown():
            return set()
        return {int(self._rows[i]) for i, c in enumerate(self.naive_strip.colours) if c[3]}

    def error_summary(self) -> dict | None:
        """The numbers the naive-update text states: {"rows", "max_abs", "relative"} (None if hidden)."""
        return dict(self._error) if (self.naive_shown() and self._error is not None) else None

    def selected_row(self) -> int | None:
        return self._selected

    def shown_contributions(self) -> list[tuple[str, np.ndarray]]:
        """The contributions in the detail table: ("example n, position k", the d-vector), in order."""
        return [(label, vec.copy()) for label, vec in self._shown]

    def shown_sum(self) -> np.ndarray | None:
        """The sum row of the detail table."""
        return None if self._shown_sum is None else self._shown_sum.copy()

    def shown_row(self) -> np.ndarray | None:
        """The row of dW_emb in the detail table."""
        return None if self._shown_row is None else self._shown_row.copy()

    def check_difference(self) -> float | None:
        """The max |sum of contributions − dW_emb row| the check line states."""
        if self._shown_sum is None or self._shown_row is None:
            return None
        return float(np.abs(self._shown_sum - self._shown_row).max()) if self._shown_row.size else 0.0

    # ---- actions --------------------------------------------------------------------------------
    def select_row(self, row: int, *, zoom: bool = True) -> None:
        """Explain vocabulary row ``row`` in the detail table (and mark it in the list and heatmaps).

        With ``zoom``, a heatmap of many rows zooms to the selected one so that its word can be read.
        """
        if not self.showing or not 0 <= row < self._stage.arrays["dW_emb"].shape[0]:
            return
        self._selected = int(row)
        self._syncing = True
        try:
            self.word_table.clearSelection()
            for r in range(self.word_table.rowCount()):
                if int(self.word_table.item(r, 0).data(Qt.ItemDataRole.UserRole)) == row:
                    self.word_table.selectRow(r)
                    self.word_table.scrollToItem(self.word_table.item(r, 0))
                    break
        finally:
            self._syncing = False
        self._mark_selected_row(zoom=zoom)
        self._fill_detail()
        if self.naive_shown():
            self._update_naive_text()
        self.row_selected.emit(self._selected)

    def set_naive_visible(self, on: bool) -> None:
        self.naive_check.setChecked(bool(on))

    def set_rows_mode(self, mode: str) -> None:
        """"all" rows of dW_emb, only the "touched" ones, or "auto" (touched only when there are few)."""
        self._rows_choice = mode
        if mode in ("all", "touched"):
            self.rows_combo.setCurrentIndex(self.rows_combo.findData(mode))
        if self.showing:
            self._draw_matrices()
            self._mark_selected_row()

    def step_to_embedding_gradient(self):
        """Step stages until the embedding gradient has been computed; the stage, or None if it diverged.

        When the embedding gradient is on screen already, this goes to the next minibatch's. The stages on
        the way are computed as one step: the views redraw once.
        """
        self.message_label.hide()
        try:
            return self.session.step_to(STAGE_NAME)  # None if it diverged: the session explains it
        except ExplorerError as err:
            self._say(str(err))
            return None

    def teaching_batch(self) -> bool:
        """Batch size 2 and the next minibatch in which some word occurs twice, at its embedding gradient.

        Asks first (``confirm``) when a new network would discard unsaved
        training. The minibatches passed over on the way are trained (on the
        fast path), exactly as if the learner had stepped through them; the
        message says how many. They are the application's own training
        (``Session.incidental``): they alone never make anyone asked to save.
        Returns True when a minibatch with a repeated word is on screen.
        """
        with self.session.incidental():
            return self._teaching_batch()

    def _teaching_batch(self) -> bool:
        s = self.session
        try:
            if s.config.batch_size != TEACHING_BATCH_SIZE:
                if s.dirty and not self.confirm(f"switching to batch size {TEACHING_BATCH_SIZE} (a new network)"):
                    self._say("Nothing changed.")
                    return False
                s.rebuild(s.config.replace(batch_size=TEACHING_BATCH_SIZE))
                notes = [f"New network with batch size {TEACHING_BATCH_SIZE}."]
            else:
                notes = []
            trainer = s.trainer
            if trainer.in_batch:
                x = s.tensors.get("x")
                if trainer.stage_index < self._stage_number()[0] - 1 and x is not None and has_repeat(x):
                    self.step_to_embedding_gradient()
                    self._say(" ".join(notes + ["This minibatch repeats a word."]))
                    return self.showing
                if s.step_batch() is None:  # finish the minibatch in progress
                    return False
                notes.append("Finished the minibatch in progress.")
            skip, kind = next_repeat(trainer)
            what = "a word at two different positions" if kind == 2 else "a repeated word"
            if skip is None:
                skip = 0
                notes.append(f"No minibatch among the next {LOOKAHEAD} repeats a word; showing the next one.")
            elif skip:
                if s.run_batches(skip) != skip:
                    return False
                notes.append(
                    f"Trained {skip} minibatch{'es' if skip > 1 else ''} on the way to minibatch "
                    f"{trainer.step + 1}, the first with {what}."
                )
            else:
                notes.append(f"Minibatch {trainer.step + 1} has {what}.")
            stage = self.step_to_embedding_gradient()
            note = self.session.loss_note() if stage is not None else None
            if note:
                notes.append(f"This minibatch's {note}")
            if notes:
                self._say(" ".join(notes))
            return stage is not None and bool(repeated_rows(self._contrib))
        except ExplorerError as err:
            self._say(str(err))
            return False
        except MemoryError:
            self._say("Out of memory.")
            return False

    # ---- session announcements ----------------------------------------------------------------
    def _on_stage_changed(self, _stage=None) -> None:
        if on_screen(self):
            self._sync()
        else:  # behind another tab: catch up once it comes forward
            self._behind = True
            if self.session.stage_named(STAGE_NAME) is None:
                self._clear()  # cheap, and nothing old is left to show

    @qt_override
    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        if self._behind:
            self._sync()

    def _sync(self) -> None:
        """Show what the session holds now: the embedding gradient of the minibatch on screen once it is
        computed (through the rest of that minibatch), else the introduction."""
        self._behind = False
        s = self.session
        if self._said_at is not None and self.message_label.isVisible():
            stage, gradient = self._said_at
            if s.stage is not stage and (gradient is None or s.stage_named(STAGE_NAME) is not gradient):
                self._say("")  # said about something no longer on screen
        gradient = s.stage_named(STAGE_NAME)
        if gradient is None:
            self._clear()
        elif gradient is not self._stage:
            self._show_stage(gradient)
        else:
            self._set_header()

    def _on_network_changed(self) -> None:
        self._behind = False
        self._say("")
        for hm in (self.heatmap, self.naive_heatmap):
            hm.forget_levels()
        self._clear()

    # ---- drawing --------------------------------------------------------------------------------
    def _clear(self) -> None:
        if self._stage is None and self.pages.currentIndex() == 0:
            self.header.setText(self._waiting_header())
            return
        self._stage = None
        self._contrib = {}
        self._selected = None
        self._shown, self._shown_sum, self._shown_row, self._error = [], None, None, None
        self._rows = np.zeros(0, dtype=int)
        self.strip.set_colours(np.zeros((0, 4)))
        self.naive_strip.set_colours(np.zeros((0, 4)))
        self.word_table.setSortingEnabled(False)
        self.word_table.setRowCount(0)
        self.word_table.setSortingEnabled(True)
        self.contrib_table.setRowCount(0)
        self.sum_table.setRowCount(0)
        self.header.setText(self._waiting_header())
        self.pages.setCurrentIndex(0)
        self.row_selected.emit(-1)

    def _stage_number(self) -> tuple[int, int]:
        """(number of the embedding-gradient stage, counted from 1; number of stages) in this network."""
        model = self.session.model
        return model.stage_spec(STAGE_NAME).index + 1, len(model.stage_specs)

    def _waiting_header(self) -> str:
        stage = self.session.stage
        k, total = self._stage_number()
        where = "between minibatches" if stage is None else f"at stage {stage.index + 1}/{total} ({stage.title})"
        return (
            f"<b>Embedding gradient</b> — appears at stage {k}/{total}; "
            f"the stepper is {html.escape(where)}."
        )

    def _intro_text(self) -> str:
        k, total = self._stage_number()
        return (
            "<p><b>How does backprop go through an embedding layer?</b></p>"
            "<p>Forward, each example reads three rows of W_emb, one per context word: "
            "e[n] = [W_emb[x₁] | W_emb[x₂] | W_emb[x₃]]. Backward, the error de[n] (3d numbers) is cut into "
            "the same three blocks of d, and each block goes back to the row it was read from.</p>"
            "<p>A word that occurs twice in the minibatch — in two examples, or twice in one context — "
            "receives <b>both</b> blocks, added: dW_emb[v] = Σ de[n, block k] over every place (n, k) "
            "where x[n, k] = v. Nothing is overwritten.</p>"
            f"<p>At stage {k} of {total} this panel shows dW_emb with the touched rows marked, the "
            "list of words with where each occurred, and for any word its contributions, their sum and the "
            "row of dW_emb side by side — and, on request, the wrong gradient that <code>dW[x] = de</code> "
            "would give.</p>"
            "<p><b>Step to the embedding gradient</b> computes the stages up to there. "
            f"<b>Teaching batch</b> switches to minibatches of {TEACHING_BATCH_SIZE} examples and finds one in "
            "which a word occurs twice: small enough to check the sum by eye.</p>"
        )

    def _say(self, text: str) -> None:
        """A message about what is on screen now: it goes once the session shows something else."""
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))
        self._said_at = (self.session.stage, self.session.stage_named(STAGE_NAME)) if text else None

    def _set_header(self) -> None:
        st = self._stage
        now = self.session.stage
        after_update = now is not None and now.batch == st.batch and now.index > st.index
        dW = st.arrays["dW_emb"]
        V, d = dW.shape
        n = st.arrays["de"].shape[0]
        many = repeated_rows(self._contrib)
        k, total = self._stage_number()
        when = (
            f"The update (stage {total}) has been applied with these gradients; they stay here until the next "
            "minibatch starts."
            if after_update
            else f"Stage {k}/{total}."
        )
        text = (
            f"<b>Embedding gradient of minibatch {st.batch + 1}</b> ({n} example{'s' if n != 1 else ''}): "
            f"<code>{html.escape(st.formula)}</code> &nbsp; dW_emb: {V}×{d}. {html.escape(when)}<br>"
            f"{len(self._contrib)} of {V} rows touched; <b>{len(many)}</b> of them by a word that occurs "
            f"2+ times (their rows are sums). Untouched rows are exactly 0."
        )
        batch = self._batch_words()
        if batch:
            text += "<br>" + batch
        self.header.setText(text)

    def _batch_words(self) -> str:
        """For a small minibatch: its contexts as words, repeated words in amber (else '')."""
        x = self.session.tensors.get("x")
        t = self.session.tensors.get("t")
        if x is None or x.shape[0] > 4:
            return ""
        vocab = self.session.vocab
        many = repeated_rows(self._contrib)
        parts = []
        for n in range(x.shape[0]):
            words = []
            for k in range(x.shape[1]):
                v = int(x[n, k])
                w = html.escape(vocab[v])
                if v in many:
                    w = f"<b style='background-color: rgb{REPEATED_RGB};'>&nbsp;{w}&nbsp;</b>"
                words.append(f"{_x_k(k + 1)}={w}")
            target = f" → {html.escape(vocab[int(t[n])])}" if t is not None else ""
            parts.append(f"example {n}: {' '.join(words)}{target}")
        return " &nbsp;·&nbsp; ".join(parts)

    def _show_stage(self, stage) -> None:
        self._stage = stage
        self._contrib = {int(v): [tuple(p) for p in pairs] for v, pairs in (stage.contributions or {}).items()}
        self.pages.setCurrentIndex(1)
        self._set_header()
        self._fill_list()
        self._draw_matrices()
        # Start with the most repeated word: its row is a sum.
        order = self.list_order()
        self._selected = None
        if order:
            self.select_row(order[0], zoom=False)
        else:
            self._fill_detail()

    def _rows_mode(self) -> str:
        if self._rows_choice in ("all", "touched"):
            return self._rows_choice
        return "touched" if len(self._contrib) <= 40 else "all"

    def _on_rows_combo(self, _index: int) -> None:
        self.set_rows_mode(self.rows_combo.currentData())

    def _draw_matrices(self) -> None:
        st = self._stage
        dW = st.arrays["dW_emb"]  # (V, d)
        naive = st.naive if st.naive is not None else dW
        V = dW.shape[0]
        vocab = self.session.vocab
        mode = self._rows_mode()
        self.rows_combo.setCurrentIndex(self.rows_combo.findData(mode))
        self.rows_combo.setItemText(0, f"all {V}")
        self.rows_combo.setItemText(1, f"touched only ({len(self._contrib)})")
        rows = np.array(sorted(self._contrib), dtype=int) if mode == "touched" else np.arange(V)
        if not rows.size:
            rows = np.arange(V)
        self._rows = rows
        names = [vocab[v] if v < len(vocab) else f"#{v}" for v in rows]
        # One colour scale for both matrices, so the same colour means the same number.
        m = float(max(np.abs(dW).max(), np.abs(naive).max())) or 1.0
        self.heatmap.set_data(
            dW[rows], row_axis="word", col_axis="embed", kind="signed", labels={"word": names},
            name=None, levels=(-m, m),
        )
        many = repeated_rows(self._contrib)
        marks = np.zeros((len(rows), 4), dtype=np.uint8)
        for i, v in enumerate(rows):
            if v in many:
                marks[i] = (*REPEATED_RGB, 255)
            elif v in self._contrib:
                marks[i] = (*ONCE_RGB, 255)
        self.strip.set_colours(marks)
        self.legend.setText(
            "Strip beside the rows: &nbsp;"
            + _swatch(ONCE_RGB, "touched once")
            + " &nbsp; "
            + _swatch(REPEATED_RGB, "touched 2+ times — a sum")
            + " &nbsp; (no mark: not in this minibatch, row = 0)"
            + (" &nbsp; " + _swatch(DIFFERS_RGB, "naive row differs") if self.naive_check.isChecked() else "")
            + ". Click a row to see how it is made."
        )
        self._draw_naive()

    def _draw_naive(self) -> None:
        on = self.naive_check.isChecked() and self.showing
        self.naive_box.setVisible(on)
        self.naive_label.setVisible(on)
        if not on:
            self._error = None
            return
        st = self._stage
        dW = st.arrays["dW_emb"]
        naive = st.naive if st.naive is not None else dW
        rows = self._rows
        m = float(max(np.abs(dW).max(), np.abs(naive).max())) or 1.0
        names = self.heatmap.row_labeller.names
        self.naive_heatmap.set_data(
            naive[rows], row_axis="word", col_axis="embed", kind="signed", labels={"word": names},
            name=None, levels=(-m, m),
        )
        err = naive_error(dW, naive)
        self._error = err
        differ = set(err["rows"])
        marks = np.zeros((len(rows), 4), dtype=np.uint8)
        for i, v in enumerate(rows):
            if v in differ:
                marks[i] = (*DIFFERS_RGB, 255)
        self.naive_strip.set_colours(marks)
        self._update_naive_text()

    def _update_naive_text(self) -> None:
        """The size of the error and why, for the naive matrix on screen."""
        if self._error is None:
            return
        err = self._error
        differ = set(err["rows"])
        many = repeated_rows(self._contrib)
        if differ == many:
            which = "exactly the rows fed more than once" if many else "no word occurs twice in this minibatch"
        else:
            agree = sorted(many - differ)
            which = (
                f"{plural(len(many), 'row')} {'is' if len(many) == 1 else 'are'} fed more than once; "
                f"{len(agree)} of them {'happens' if len(agree) == 1 else 'happen'} to come out equal"
                if agree
                else "rows fed more than once and others"
            )
        vocab = self.session.vocab
        head = f"<b>{len(differ)} row{' differs' if len(differ) == 1 else 's differ'}</b> — {html.escape(which)}"
        if differ:
            head += (
                f" (red marks). Largest |Δ| = {format_value(err['max_abs'], 4)}; "
                f"‖naive − correct‖ / ‖correct‖ = {format_value(err['relative'], 3)}."
            )
        lines = [head]
        if self._selected is not None and self._selected in many:
            kept = self._naive_kept(self._selected)
            if kept is not None:
                lost = len(self._contrib[self._selected]) - 1
                lines.append(
                    f"'{html.escape(vocab[self._selected])}': the naive row keeps only {kept}; "
                    f"{lost} contribution{'s' if lost != 1 else ''} lost."
                )
        lines.append(
            "Why: <code>dW[x] = de</code> (fancy-index assignment) writes a repeated row once per occurrence, "
            "each write replacing the last (<code>dW[x] += de</code> too); <code>np.add.at(dW, x, de)</code> adds "
            "them up — and only it trains the network."
        )
        self.naive_label.setText("<br>".join(lines))

    def _naive_kept(self, row: int) -> str | None:
        """Which contribution the naive row holds ('example n, position k', the last write), or None.

        When earlier places sent back exactly the same numbers (identical
        examples), they are named after it: the row equals them too.
        """
        st = self._stage
        if st.naive is None:
            return None
        kept, same = naive_kept(st.naive, st.arrays["de"], row, self._contrib.get(row, []))
        if kept is None:
            return None
        text = f"{_place(*kept)} (the last write"
        if same:
            text += f"; {', '.join(_place(n, k) for n, k in same)} sent back exactly the same numbers"
            x, t = self.session.tensors.get("x"), self.session.tensors.get("t")
            if x is not None and t is not None and all(
                np.array_equal(x[n], x[kept[0]]) and t[n] == t[kept[0]] for n, _k in same
            ):
                text += ": the same context and target"
        text += ")"
        return text

    def _contributions_of(self, row: int) -> list[tuple[str, np.ndarray]]:
        """(label, d-vector) of every place ``row`` was looked up, in order: block k of de[n]."""
        de = self._stage.arrays["de"]  # (N, 3d)
        d = de.shape[1] // CONTEXT
        out = []
        for n, k in self._contrib.get(row, []):
            out.append((_place(n, k), np.asarray(de[n, k * d : (k + 1) * d], dtype=np.float64)))
        return out

    def _fill_list(self) -> None:
        vocab = self.session.vocab
        table = self.word_table
        table.setSortingEnabled(False)
        table.clearSelection()
        table.setRowCount(len(self._contrib))
        items = sorted(self._contrib.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        for r, (v, pairs) in enumerate(items):
            many = len(pairs) >= 2
            word = QTableWidgetItem(vocab[v] if v < len(vocab) else f"#{v}")
            word.setData(Qt.ItemDataRole.UserRole, v)
            row = QTableWidgetItem()
            row.setData(Qt.ItemDataRole.DisplayRole, v)
            times = QTableWidgetItem()
            times.setData(Qt.ItemDataRole.DisplayRole, len(pairs))
            shown_pairs = [(n, k + 1) for n, k in pairs]
            where = QTableWidgetItem(_places_text(shown_pairs, 12))
            where.setData(Qt.ItemDataRole.UserRole, shown_pairs)
            where.setToolTip(
                f"'{vocab[v]}' was looked up at: {_places_text(shown_pairs, 300)}.\n"
                "(Examples count from 0; positions 1–3 are x₁ x₂ x₃.)"
            )
            for c, item in enumerate((word, row, times, where)):
                if c in (1, 2):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if many:
                    item.setBackground(QBrush(REPEATED_BG))
                table.setItem(r, c, item)
        table.setSortingEnabled(True)
        table.sortItems(2, Qt.SortOrder.DescendingOrder)
        # Ties keep the row order given above (Qt's sort is stable), so the list reads times ↓, row ↑.
        table.resizeColumnsToContents()
        table.horizontalHeader().setStretchLastSection(True)
        table.setColumnWidth(3, max(table.columnWidth(3), 120))
        n_many = len(repeated_rows(self._contrib))
        self.list_title.setText(
            f"<b>Touched words</b> ({len(self._contrib)}; {n_many} occur 2+ times, "
            f"highlighted). Examples count from 0, positions 1–3 are x₁ x₂ x₃. Click a word:"
        )

    def _mark_selected_row(self, zoom: bool = False) -> None:
        d = self._stage.arrays["dW_emb"].shape[1] if self.showing else 0
        hits = np.flatnonzero(self._rows == self._selected) if self._selected is not None else []
        for item in self._outlines:
            if len(hits):
                item.setRect(QRectF(0, float(hits[0]), d, 1))
                item.show()
            else:
                item.hide()
        if zoom and len(hits) and len(self._rows) > 60:  # many rows: bring the selected one into view, legibly
            i = int(hits[0])
            vb = self.heatmap.view_box
            (y0, y1) = vb.viewRange()[1]
            if not (y0 <= i and i + 1 <= y1) or (y1 - y0) > 60:
                self.heatmap.show_rows(i - 15, 31)

    def _fill_detail(self) -> None:
        row = self._selected
        if not self.showing or row is None:
            self._shown, self._shown_sum, self._shown_row = [], None, None
            self.detail_title.setText("Select a word (in the list, or a row of the matrix) to see how its row is made.")
            self.contrib_table.setRowCount(0)
            self.sum_table.setRowCount(0)
            self.check_label.setText("")
            return
        st = self._stage
        dW = st.arrays["dW_emb"]
        d = dW.shape[1]
        word = self.session.vocab[row]
        contributions = self._contributions_of(row)
        total = np.zeros(d)
        for _label, vec in contributions:  # in order, like the scatter-add
            total = total + vec
        dw_row = np.asarray(dW[row], dtype=np.float64)
        listed = contributions[:MAX_TABLE_CONTRIBUTIONS]  # a huge minibatch: the table lists the first ones
        self._shown = listed
        self._shown_sum = total
        self._shown_row = dw_row
        diff = total - dw_row
        blocks = [f"de[{n}, {k * d}:{(k + 1) * d}]" for n, k in self._contrib.get(row, [])]
        m = len(contributions)
        values = [v for _l, v in contributions] + [total, dw_row]
        k = _scale_exponent(np.concatenate(values))
        if m == 0:
            self.detail_title.setText(
                f"<b>'{html.escape(word)}'</b> (row {row}) does not occur in this minibatch: nothing is added to "
                f"its row, so dW_emb[{row}] is all zeros."
            )
        else:
            self.detail_title.setText(
                f"<b>'{html.escape(word)}'</b> (row {row}) occurs {m} time{'s' if m != 1 else ''}, so "
                f"<b>dW_emb[{row}] = {_sum_text(blocks)}</b>"
                + (" &nbsp;(a sum)" if m > 1 else "")
                + f". Numbers × 10{str(k).translate(_SUP)}, rounded to 4 decimals (hover one for all its digits)."
                + (
                    f" The table lists the first {len(listed)}; the sum uses all {m}."
                    if len(listed) < m
                    else ""
                )
            )
        level = float(np.abs(np.concatenate(values)).max())
        fm = self.contrib_table.fontMetrics()
        heads = []
        for i, ((label, _vec), block) in enumerate(zip(listed, blocks)):
            _n, kk = self._contrib[row][i]
            heads.append(f"{'+' if i else ' '} {label} ({_x_k(kk + 1)})   {block}")
        sum_head = f"= sum of the {m} contribution{'s' if m != 1 else ''}"
        row_head = f"  dW_emb[{row}]  ('{word}')"
        diff_head = "  sum − dW_emb row"
        extra = []
        show_naive = self.naive_check.isChecked() and st.naive is not None
        if show_naive:
            extra.append(("✗ naive dW[x] = de gives", np.asarray(st.naive[row], dtype=np.float64),
                          {"tint": False, "background": QColor(255, 220, 220)}))
        every_head = heads + [sum_head, row_head, diff_head] + [e[0] for e in extra]
        width = max(fm.horizontalAdvance(h) for h in every_head) + 24
        self.contrib_table.fill([(h, v, {}) for h, (_l, v) in zip(heads, listed)], k, level, width)
        self.sum_table.fill(
            [
                (sum_head, total, {"bold": True}),
                (row_head, dw_row, {"bold": True}),
                (diff_head, diff, {"tint": False, "background": QColor(235, 250, 235)}),
            ]
            + extra,
            k,
            level,
            width,
        )
        rows_h = self.sum_table.verticalHeader().defaultSectionSize() * self.sum_table.rowCount()
        self.sum_table.setFixedHeight(rows_h + self.sum_table.horizontalScrollBar().sizeHint().height() + 4)
        # The contributions sit right above their sum: the table is as tall as its rows (up to
        # MAX_VISIBLE of them; more scroll), never padded with empty space.
        shown = min(max(m, 1), MAX_VISIBLE_CONTRIBUTIONS)
        self.contrib_table.setFixedHeight(
            self.contrib_table.horizontalHeader().sizeHint().height()
            + self.contrib_table.verticalHeader().defaultSectionSize() * shown + 4
        )
        biggest = float(np.abs(diff).max()) if diff.size else 0.0
        verdict = "0 — exactly equal" if biggest == 0 else f"{format_value(biggest, 3)} (float rounding)"
        good = biggest <= 1e-12 * max(1.0, float(np.abs(dw_row).max()))
        colour = "#0a7a0a" if good else "#b00000"
        self.check_label.setText(
            f"<span style='color:{colour}'><b>Check</b> (computed now): sum of contributions − dW_emb[{row}]: "
            f"max |difference| = {verdict}.</span>"
            + (
                f" &nbsp;The naive update would keep only {html.escape(self._naive_kept(row) or 'one of them')}."
                if show_naive and m > 1
                else ""
            )
        )

    # ---- interaction ------------------------------------------------------------------------------
    def _on_list_selection(self) -> None:
        if self._syncing:
            return
        items = self.word_table.selectedItems()
        if not items:
            return
        r = items[0].row()
        self.select_row(int(self.word_table.item(r, 0).data(Qt.ItemDataRole.UserRole)))

    def _on_heatmap_clicked(self, r: int, c: int) -> None:
        if not self.showing or not 0 <= r < len(self._rows):
            return
        v = int(self._rows[r])
        self.select_row(v)
        self.entry_clicked.emit("dW_emb", (v, int(c)))

    def _on_hover(self, hm: Heatmap, r: int, c: int) -> None:
        if r < 0 or not self.showing or r >= len(self._rows):
            self.hover_label.setText("Point at a cell to read it. Wheel: zoom · drag: pan · click: explain the row.")
            return
        v = int(self._rows[r])
        st = self._stage
        naive = hm is self.naive_heatmap
        value = (st.naive if naive and st.naive is not None else st.arrays["dW_emb"])[v, c]
        times = len(self._contrib.get(v, []))
        occ = "not in this minibatch" if times == 0 else f"occurs {times}×" + (" — a sum" if times > 1 else "")
        name = "naive dW" if naive else "dW_emb"
        self.hover_label.setText(
            f"{name}[{v}, {c}] · word '{self.session.vocab[v]}' · component {c} · value {format_value(value)} · {occ}"
        )

    def _on_naive_toggled(self, on: bool) -> None:
        self._size_columns(on)
        if self.showing:
            self._draw_matrices()
            self._mark_selected_row()
            self._fill_detail()

    def _word_table_width(self) -> int:
        """The least width of the list of touched words: its short columns whole, and in the last one the
        first place whole before the "…" (``WHERE_SAMPLE``)."""
        table = self.word_table
        header = table.horizontalHeader()
        short = sum(header.sectionSizeFromContents(c).width() for c in (0, 1, 2))
        where = table.fontMetrics().horizontalAdvance(WHERE_SAMPLE) + 16
        return short + where + table.verticalScrollBar().sizeHint().width() + 2 * table.frameWidth()

    def _size_columns(self, naive: bool) -> None:
        """Share the width between the matrices and the list (two matrices need more of it).

        Beside one matrix the list is never narrower than its columns with a word's first place whole;
        beside two it may be (its places end in "…" sooner; each cell's tooltip has them all)."""
        self._list_box.setMinimumWidth(NAIVE_LIST_WIDTH if naive else self._word_table_width())
        total = max(self.splitter.width(), 900)
        list_width = int(total * (0.28 if naive else 0.40))
        self.splitter.setSizes([total - list_width, list_width])

    def _confirm_default(self, doing: str) -> bool:
        from ..dialogs import confirm_discard

        return confirm_discard(self, doing)


NAIVE_LIST_WIDTH = 220  # pixels: the least width of the list of touched words beside two matrices
WHERE_SAMPLE = "example 99 pos 3, …"  # the first place of a word, as the list of touched words shows it


def _place(n: int, k: int) -> str:
    """'example n, position k + 1' for the 0-based place (n, k) in x."""
    return f"example {n}, position {k + 1}"


def _places_text(pairs: list[tuple[int, int]], most: int) -> str:
    """'example 3 pos 1, example 17 pos 3, …' for at most ``most`` places (1-based positions given)."""
    text = ", ".join(f"example {n} pos {k}" for n, k in pairs[:most])
    return text + (f", … ({len(pairs)} in all)" if len(pairs) > most else "")


def _sum_text(blocks: list[str], most: int = 6) -> str:
    """'a + b + c', or the first and last terms around '…' when there are more than ``most``."""
    if len(blocks) <= most:
        return " + ".join(blocks)
    return " + ".join(blocks[: most - 1]) + f" + … + {blocks[-1]}  ({len(blocks)} terms)"
